//! An account's standing: freeze, unfreeze, close (scope `admin`). Each is a
//! command of the ledger, decided under the account's lock.

use actix_web::{post, web, HttpRequest, HttpResponse};
use service_kit::auth::Caller;
use service_kit::http::{parse_optional_post, NoFields};
use shared_types::accounts::{Account, StatusRequest};
use shared_types::ErrorBody;

use super::{account_id, parse_post, respond};
use crate::context::Context;
use crate::domain::commands::{Command, SetStatus, Standing};
use crate::domain::{CallerText, RuleViolation};
use crate::error::ApiError;
use crate::operations::Idempotency;

/// The reason a freeze or a close must give: 1-500 characters.
fn reason(request: &StatusRequest) -> Result<CallerText, RuleViolation> {
    let invalid = |message: String| RuleViolation::new("invalid_reason", message);
    CallerText::parse("reason", request.reason.as_deref())
        .map_err(|e| invalid(e.message))?
        .ok_or_else(|| invalid("reason is required: say why (1-500 characters)".into()))
}

async fn restate(
    state: &Context,
    req: &HttpRequest,
    path: &str,
    standing: Standing,
    idempotency: Option<Idempotency>,
) -> Result<HttpResponse, ApiError> {
    let account = account_id(path)?;
    let caller = Caller::of(req).name;
    let what = match &standing {
        Standing::Freeze(_) => "freeze",
        Standing::Unfreeze => "unfreeze",
        Standing::Close(_) => "close",
    };
    let why = match &standing {
        Standing::Freeze(reason) | Standing::Close(reason) => Some(reason.as_str().to_owned()),
        Standing::Unfreeze => None,
    };
    let command = Command::SetStatus(SetStatus { account, standing });
    let reply = state
        .ledger
        .submit(command, idempotency, caller.clone())
        .await?;
    tracing::info!(%account, key = %caller, action = what, reason = why, status = reply.status, "account standing asked to change");
    Ok(respond(state, reply))
}

/// Freeze an account: money still comes in, none leaves its balance (holds
/// placed before can still be captured or released).
#[utoipa::path(
    tag = "accounts",
    params(("account_id" = uuid::Uuid, Path, description = "The account's UUID")),
    request_body = StatusRequest,
    responses(
        (status = 200, description = "Frozen", body = Account),
        (status = 400, description = "Malformed JSON, wrong types, or the id is not a UUID", body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, description = "No such account", body = ErrorBody),
        (status = 409, description = "Frozen already (account_frozen) or closed (account_closed)", body = ErrorBody),
        (status = 422, description = "No reason, or a bad one (invalid_reason)", body = ErrorBody),
        (status = 503, body = ErrorBody),
    ),
    security(("bearer" = ["admin"]))
)]
#[post("/accounts/{account_id}/freeze")]
pub async fn freeze(
    state: web::Data<Context>,
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let (request, idempotency) = parse_post::<StatusRequest>(&req, &body)?;
    let standing = Standing::Freeze(reason(&request)?);
    restate(&state, &req, &path, standing, idempotency).await
}

/// Unfreeze a frozen account.
#[utoipa::path(
    tag = "accounts",
    params(("account_id" = uuid::Uuid, Path, description = "The account's UUID")),
    request_body(content = Option<NoFields>, description = "No fields: an empty body or `{}`", content_type = "application/json"),
    responses(
        (status = 200, description = "Active again", body = Account),
        (status = 400, description = "Malformed JSON, any field, or the id is not a UUID", body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, description = "No such account", body = ErrorBody),
        (status = 409, description = "Not frozen (account_not_frozen) or closed (account_closed)", body = ErrorBody),
        (status = 422, body = ErrorBody),
        (status = 503, body = ErrorBody),
    ),
    security(("bearer" = ["admin"]))
)]
#[post("/accounts/{account_id}/unfreeze")]
pub async fn unfreeze(
    state: web::Data<Context>,
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let (NoFields {}, idempotency) = parse_optional_post(&req, &body)?;
    restate(&state, &req, &path, Standing::Unfreeze, idempotency).await
}

/// Close an empty account, for good: every later movement naming it is
/// recorded as failed (`account_closed`), and a deposit by user skips it.
#[utoipa::path(
    tag = "accounts",
    params(("account_id" = uuid::Uuid, Path, description = "The account's UUID")),
    request_body = StatusRequest,
    responses(
        (status = 200, description = "Closed", body = Account),
        (status = 400, description = "Malformed JSON, wrong types, or the id is not a UUID", body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, description = "No such account", body = ErrorBody),
        (status = 409, description = "Money or holds left (account_not_empty), or closed already (account_closed)", body = ErrorBody),
        (status = 422, description = "No reason, or a bad one (invalid_reason)", body = ErrorBody),
        (status = 503, body = ErrorBody),
    ),
    security(("bearer" = ["admin"]))
)]
#[post("/accounts/{account_id}/close")]
pub async fn close(
    state: web::Data<Context>,
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let (request, idempotency) = parse_post::<StatusRequest>(&req, &body)?;
    let standing = Standing::Close(reason(&request)?);
    restate(&state, &req, &path, standing, idempotency).await
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the document's pattern lets through, the route takes (the
    /// pattern may be stricter: it refuses a tab at either end, which the
    /// route would trim).
    #[test]
    fn the_documented_reason_pattern_takes_only_reasons_the_route_takes() {
        let pattern = regex::Regex::new(shared_types::openapi::REASON_PATTERN).unwrap();
        for text in [
            "x",
            " x ",
            "under investigation",
            "é",
            "\u{3000}x",
            "a\u{7}b",
            "",
            " ",
            "\u{3000}",
            "\t",
            "x\n",
            "\u{85}",
        ] {
            let taken = reason(&StatusRequest {
                reason: Some(text.to_owned()),
            })
            .is_ok();
            if pattern.is_match(text) {
                assert!(taken, "{text:?} is documented but refused");
            }
        }
        assert!(pattern.is_match("under investigation"));
        assert!(!pattern.is_match("  "));
    }
}

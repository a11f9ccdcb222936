//! Advances: create, get, list, pay off, reschedule.

use actix_web::{get, post, web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use service_kit::amount::Amount;
use service_kit::auth::Caller;
use service_kit::error::ApiError;
use service_kit::http::{parse_optional_post, parse_post, uuid, NoFields};
use service_kit::listing::{Listing, PageParams};
use service_kit::rule::RuleViolation;
use service_kit::telemetry::RequestId;
use service_kit::trace::TraceParent;
use shared_types::accounts::{AccountId, Page};
use shared_types::advances::{Advance, AdvanceId, AdvanceRequest, RescheduleRequest};
use shared_types::ErrorBody;

use crate::clients::accounts::Origin;
use crate::context::Context;
use crate::domain::Installments;
use crate::operations::advances::{self, Created, Filters, NewAdvance, Reaging};

/// Lend money to an account: it is paid in at once (a deposit whose
/// `reference` is `advance:<advance_id>`) and collected back in `installments`
/// payments, one every installment interval.
#[utoipa::path(
    tag = "advances",
    request_body = AdvanceRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "1-255 printable ASCII; a repeat gets the status and body the first request answered")),
    responses(
        (status = 201, description = "Recorded and paid into the account", body = Advance),
        (status = 202, description = "Recorded; accounts-manager did not answer, so the advance is `disbursing` and will be paid out exactly once when it does", body = Advance),
        (status = 400, description = "Malformed JSON or wrong types", body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 409, description = "The account has an advance still being repaid (advance_in_progress), or the key is in flight", body = ErrorBody),
        (status = 422, description = "unknown_account, invalid_amount, invalid_installments, amount_too_small, idempotency_key_reused", body = ErrorBody),
        (status = 503, body = ErrorBody),
    ),
    security(("bearer" = ["advances:write"]))
)]
#[post("/advances")]
pub async fn create_advance(
    ctx: web::Data<Context>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let (request, idempotency) = parse_post::<AdvanceRequest>(&req, &body)?;
    let new = NewAdvance {
        account: request.account_id,
        amount: Amount::parse(&request.amount)?,
        installments: Installments::parse(request.installments)?,
        created_by: Caller::of(&req).name,
    };
    let (request_id, trace) = (RequestId::of(&req), TraceParent::of(&req));
    let origin = Origin {
        request_id: request_id.as_deref(),
        trace: trace.as_ref(),
    };
    match advances::create(&ctx, idempotency, new, origin).await? {
        Created::Stored(reply) => Ok(reply.into_response()),
        Created::New {
            status: 201,
            advance,
        } => Ok(HttpResponse::Created().json(advance)),
        Created::New { advance, .. } => Ok(HttpResponse::Accepted().json(advance)),
    }
}

/// Repay an advance early: every `scheduled` payment becomes `cancelled`
/// and one payment of their sum, due at once, is collected like any other
/// (if it fails for funds, the usual carry rule applies).
///
/// Example (with `T='Authorization: Bearer dev-token'`):
/// ```sh
/// curl -H "$T" -X POST http://127.0.0.1:8081/api/v1/advances/$ADVANCE_ID/payoff
/// ```
#[utoipa::path(
    tag = "advances",
    request_body(content = Option<NoFields>, description = "No fields: an empty body or `{}`", content_type = "application/json"),
    params(
        ("advance_id" = uuid::Uuid, Path, description = "The advance's UUID"),
    ),
    responses(
        (status = 202, description = "Accepted: the payoff payment is due and will be collected", body = Advance),
        (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "A payment is being collected (payment_in_progress), the advance is not active (advance_not_active), or the key is in flight", body = ErrorBody),
        (status = 422, description = "idempotency_key_reused", body = ErrorBody),
        (status = 503, body = ErrorBody),
    ),
    security(("bearer" = ["advances:write"]))
)]
#[post("/advances/{advance_id}/payoff")]
pub async fn pay_off(
    ctx: web::Data<Context>,
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let id = AdvanceId(uuid(&path, "an advance id")?);
    let (NoFields {}, idempotency) = parse_optional_post(&req, &body)?;
    let reply = advances::pay_off(&ctx, idempotency, id).await?;
    Ok(reply.into_response())
}

/// Get an advance with its payments.
#[utoipa::path(
    tag = "advances",
    params(("advance_id" = uuid::Uuid, Path, description = "The advance's UUID")),
    responses(
        (status = 200, body = Advance),
        (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody),
    ),
    security(("bearer" = ["advances:read"]))
)]
#[get("/advances/{advance_id}")]
pub async fn get_advance(
    ctx: web::Data<Context>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = AdvanceId(uuid(&path, "an advance id")?);
    Ok(HttpResponse::Ok().json(advances::get(&ctx, id).await?))
}

/// Re-age an advance: every `scheduled` payment becomes `cancelled`, and
/// the `outstanding` amount is split into `installments` new payments by
/// the usual rounding rule, numbered on from the highest `seq` so far, the
/// first due at `first_due_at` (default one interval from now), the others
/// one interval apart. The missed chain ends; `installments` of the advance
/// keeps the plan it was made with. Publishes `advance.rescheduled`, and
/// `payment.cancelled` for each payment it cancels.
///
/// Example (with `T='Authorization: Bearer dev-token'`):
/// ```sh
/// curl -H "$T" -H 'Content-Type: application/json' -d '{"installments": 8}' \
///   http://127.0.0.1:8081/api/v1/advances/$ADVANCE_ID/reschedule
/// ```
#[utoipa::path(
    tag = "advances",
    request_body = RescheduleRequest,
    params(
        ("advance_id" = uuid::Uuid, Path, description = "The advance's UUID"),
        ("Idempotency-Key" = Option<String>, Header, description = "1-255 printable ASCII; a repeat gets the status and body the first request answered"),
    ),
    responses(
        (status = 200, description = "Rescheduled: the advance with its new plan", body = Advance),
        (status = 400, description = "Malformed JSON or wrong types", body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "A payment is being collected (payment_in_progress), the advance is not active (advance_not_active), or the key is in flight", body = ErrorBody),
        (status = 422, description = "invalid_installments, invalid_due_date (not RFC 3339, or before the request), amount_too_small (too little left for so many payments), idempotency_key_reused", body = ErrorBody),
        (status = 503, body = ErrorBody),
    ),
    security(("bearer" = ["advances:write"]))
)]
#[post("/advances/{advance_id}/reschedule")]
pub async fn reschedule(
    ctx: web::Data<Context>,
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let arrived = Utc::now();
    let id = AdvanceId(uuid(&path, "an advance id")?);
    let (request, idempotency) = parse_post::<RescheduleRequest>(&req, &body)?;
    let reaging = Reaging {
        installments: Installments::parse(Some(request.installments))?,
        first_due_at: request
            .first_due_at
            .as_deref()
            .map(|at| first_due_at(at, arrived))
            .transpose()?,
    };
    let reply = advances::reschedule(&ctx, idempotency, id, reaging).await?;
    Ok(reply.into_response())
}

/// A reschedule's `first_due_at`: RFC 3339, not before the request arrived.
fn first_due_at(asked: &str, arrived: DateTime<Utc>) -> Result<DateTime<Utc>, RuleViolation> {
    let invalid =
        |why: &str| RuleViolation::new("invalid_due_date", format!("first_due_at {asked:?} {why}"));
    let at = DateTime::parse_from_rfc3339(asked)
        .map_err(|_| invalid("is not an RFC 3339 timestamp"))?
        .with_timezone(&Utc);
    if at < arrived {
        return Err(invalid("is before the request"));
    }
    Ok(at)
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListFilters {
    /// Only this account's advances.
    #[param(value_type = Option<uuid::Uuid>)]
    account_id: Option<String>,
    /// `true`: only advances with `missed_installments > 0`; `false`: only
    /// those with `0`.
    overdue: Option<bool>,
}

/// Advances, oldest first; every filter is optional.
#[utoipa::path(
    tag = "advances",
    params(ListFilters, PageParams),
    responses(
        (status = 200, body = Page<Advance>),
        (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 422, body = ErrorBody),
    ),
    security(("bearer" = ["advances:read"]))
)]
#[get("/advances")]
pub async fn list_advances(
    ctx: web::Data<Context>,
    listing: Listing<ListFilters>,
) -> Result<HttpResponse, ApiError> {
    let account = listing
        .filters
        .account_id
        .as_deref()
        .map(|id| uuid(id, "an account id").map(AccountId))
        .transpose()?;
    let filters = Filters {
        account,
        overdue: listing.filters.overdue,
    };
    let position = listing.position(
        None,
        format!("advances:{:?}:{:?}", filters.account, filters.overdue),
    )?;
    Ok(HttpResponse::Ok().json(advances::list(&ctx, filters, position).await?))
}

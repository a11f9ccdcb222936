//! Accounts: open, get, list a user's.

use actix_web::{get, patch, post, web, HttpRequest, HttpResponse};
use service_kit::auth::Caller;
use service_kit::listing::{Labelled, PageParams};
use shared_types::accounts::{
    Account, AccountId, AccountList, AccountPatch, AccountStatus, BalanceAt, OpenAccountRequest,
    Page,
};
use shared_types::ErrorBody;
use shared_types::Named;
use uuid::Uuid;

use super::{account_id, parse_post, respond};
use crate::context::Context;
use crate::domain::commands::{Command, Open};
use crate::domain::{Currency, Metadata, RuleViolation, UserId};
use crate::error::ApiError;
use crate::operations;
use crate::store::accounts::AccountFilter;

/// Open an account for a user.
#[utoipa::path(
    tag = "accounts",
    request_body = OpenAccountRequest,
    responses(
        (status = 201, description = "The account was opened", body = Account),
        (status = 400, description = "Malformed JSON or wrong types", body = ErrorBody),
        (status = 401, description = "Missing or wrong bearer token", body = ErrorBody),
        (status = 409, description = "The Idempotency-Key is in flight", body = ErrorBody),
        (status = 422, description = "A rule is broken (user_id, currency, idempotency key reuse)", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody),
    ),
    security(("bearer" = ["accounts:write"]))
)]
#[post("/accounts")]
pub async fn open_account(
    state: web::Data<Context>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let (request, idempotency) = parse_post::<OpenAccountRequest>(&req, &body)?;
    let command = Command::Open(Open {
        user: UserId::parse(request.user_id)?,
        currency: Currency::parse_or_default(request.currency.as_deref())?,
        id: AccountId(Uuid::now_v7()),
        metadata: Metadata::parse(request.metadata.as_ref())?,
    });
    let reply = state
        .ledger
        .submit(command, idempotency, Caller::of(&req).name)
        .await?;
    Ok(respond(&state, reply))
}

/// Get an account.
#[utoipa::path(
    tag = "accounts",
    params(("account_id" = uuid::Uuid, Path, description = "The account's UUID")),
    responses(
        (status = 200, body = Account),
        (status = 400, description = "The id is not a UUID", body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 404, description = "No such account", body = ErrorBody),
    ),
    security(("bearer" = ["accounts:read"]))
)]
#[get("/accounts/{account_id}")]
pub async fn get_account(
    state: web::Data<Context>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = account_id(&path)?;
    let account = operations::accounts::get(&state.pool, id).await?;
    Ok(HttpResponse::Ok().json(account))
}

/// Merge into an account's labels: a string sets a key, `null` removes it,
/// keys not named stay; the result must still fit the limits.
#[utoipa::path(
    tag = "accounts",
    params(("account_id" = uuid::Uuid, Path, description = "The account's UUID")),
    request_body = AccountPatch,
    responses(
        (status = 200, body = Account),
        (status = 400, description = "Malformed JSON, wrong types, or the id is not a UUID", body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 404, description = "No such account", body = ErrorBody),
        (status = 422, description = "The labels would break the limits (invalid_metadata)", body = ErrorBody),
        (status = 503, body = ErrorBody),
    ),
    security(("bearer" = ["accounts:write"]))
)]
#[patch("/accounts/{account_id}")]
pub async fn patch_account(
    state: web::Data<Context>,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let id = account_id(&path)?;
    let patch: AccountPatch = service_kit::http::parse_json(&body)?;
    let account = operations::accounts::merge_metadata(&state.pool, id, patch.metadata).await?;
    Ok(HttpResponse::Ok().json(account))
}

#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AccountFilters {
    /// Only this user's accounts.
    #[param(minimum = 1)]
    user_id: Option<i64>,
    /// Only accounts of this status.
    #[param(value_type = Option<AccountStatus>)]
    status: Option<String>,
}

/// Accounts matching every filter given, oldest first. Besides the
/// parameters below, `metadata.<key>=<value>` (any number of them) keeps the
/// accounts labelled so.
#[utoipa::path(
    tag = "accounts",
    params(AccountFilters, PageParams),
    responses(
        (status = 200, body = Page<Account>),
        (status = 400, description = "An unknown parameter or a wrong type", body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 422, description = "A bad user_id, label key, limit, page, snapshot or cursor", body = ErrorBody),
        (status = 503, body = ErrorBody),
    ),
    security(("bearer" = ["accounts:read"]))
)]
#[get("/accounts")]
pub async fn list_accounts(
    state: web::Data<Context>,
    query: Labelled<AccountFilters>,
) -> Result<HttpResponse, ApiError> {
    let Labelled { listing, labels } = query;
    let user_id = listing
        .filters
        .user_id
        .map(UserId::parse)
        .transpose()?
        .map(UserId::value);
    let labels = super::label_filter(labels)?;
    let status = listing
        .filters
        .status
        .as_deref()
        .map(|status| {
            AccountStatus::from_name(status)
                .map(AccountStatus::name)
                .ok_or_else(|| {
                    RuleViolation::new(
                        "invalid_status",
                        format!("status must be active, frozen or closed, not {status:?}"),
                    )
                })
        })
        .transpose()?;
    let position = listing.position(
        Some(&state.seal),
        format!("accounts:{user_id:?}:{status:?}:{labels:?}"),
    )?;
    let filter = AccountFilter {
        labels,
        user_id,
        status,
    };
    let page = operations::accounts::list(&state.pool, filter, position).await?;
    Ok(HttpResponse::Ok().json(page))
}

/// List a user's accounts, oldest first, with their balances and reserved parts.
#[utoipa::path(
    tag = "accounts",
    params(("user_id" = i64, Path, minimum = 1, description = "A positive 64-bit integer")),
    responses(
        (status = 200, body = AccountList),
        (status = 400, description = "The id is not an integer", body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 422, description = "The id is not positive", body = ErrorBody),
    ),
    security(("bearer" = ["accounts:read"]))
)]
#[get("/users/{user_id}/accounts")]
pub async fn list_user_accounts(
    state: web::Data<Context>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let raw: i64 = path.parse().map_err(|_| {
        ApiError::InvalidRequest(format!("{:?} is not a user id (an integer)", path.as_str()))
    })?;
    let user_id = UserId::parse(raw)?;
    let accounts = operations::accounts::list_for_user(&state.pool, user_id).await?;
    Ok(HttpResponse::Ok().json(accounts))
}

#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct BalanceParams {
    /// RFC 3339; now when absent; not in the future.
    #[param(value_type = Option<String>, format = DateTime)]
    at: Option<String>,
}

/// An account's balance and reserved part as they stood once every
/// transaction with `created_at <= at` had been applied (`0.00` before its
/// first). One index probe per side, however long the account's history.
///
/// Example (with `T='Authorization: Bearer dev-token'`):
/// ```sh
/// curl -H "$T" -G http://127.0.0.1:8080/api/v1/accounts/$ACCOUNT_ID/balance --data-urlencode 'at=2026-12-01T12:00:00Z'
/// ```
#[utoipa::path(
    tag = "accounts",
    params(("account_id" = uuid::Uuid, Path, description = "The account's UUID"), BalanceParams),
    responses(
        (status = 200, body = BalanceAt),
        (status = 400, description = "The id is not a UUID", body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 404, description = "No such account", body = ErrorBody),
        (status = 422, description = "at is not an RFC 3339 time, or in the future (invalid_at)", body = ErrorBody),
    ),
    security(("bearer" = ["accounts:read"]))
)]
#[get("/accounts/{account_id}/balance")]
pub async fn balance_at(
    state: web::Data<Context>,
    path: web::Path<String>,
    params: web::Query<BalanceParams>,
) -> Result<HttpResponse, ApiError> {
    let id = account_id(&path)?;
    let at = params
        .at
        .as_deref()
        .map(|at| {
            chrono::DateTime::parse_from_rfc3339(at)
                .map(|at| at.with_timezone(&chrono::Utc))
                .map_err(|_| {
                    crate::domain::RuleViolation::new(
                        "invalid_at",
                        format!("at {at:?} is not an RFC 3339 time"),
                    )
                })
        })
        .transpose()?;
    Ok(HttpResponse::Ok().json(operations::accounts::balance_at(&state.pool, id, at).await?))
}

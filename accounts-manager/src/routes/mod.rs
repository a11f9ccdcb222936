//! HTTP only: parse the request, call the use case, map the answer.

pub mod accounts;
pub mod admin;
pub mod health;
pub mod movements;
pub mod reports;
pub mod reservations;

use actix_web::{web, HttpRequest, HttpResponse};
use serde::de::DeserializeOwned;
use serde::Serialize;
use shared_types::accounts::AccountId;
use uuid::Uuid;

use crate::error::ApiError;
use crate::operations::{Idempotency, Reply};
use crate::startup::AppState;

/// The `/api/v1` routes (the caller wraps them in authentication).
pub fn api_v1(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/accounts").route(web::post().to(accounts::open_account)))
        .service(
            web::resource("/accounts/{account_id}").route(web::get().to(accounts::get_account)),
        )
        .service(
            web::resource("/users/{user_id}/accounts")
                .route(web::get().to(accounts::list_user_accounts)),
        )
        .service(web::resource("/deposits").route(web::post().to(movements::create_deposit)))
        .service(web::resource("/withdrawals").route(web::post().to(movements::create_withdrawal)))
        .service(web::resource("/transfers").route(web::post().to(movements::create_transfer)))
        .service(web::resource("/reservations").route(web::post().to(reservations::reserve)))
        .service(
            web::resource("/reservations/{order_id}")
                .route(web::get().to(reservations::get_reservation)),
        )
        .service(
            web::resource("/reservations/{order_id}/capture")
                .route(web::post().to(reservations::capture)),
        )
        .service(
            web::resource("/reservations/{order_id}/release")
                .route(web::post().to(reservations::release)),
        )
        .service(
            web::resource("/accounts/{account_id}/transactions")
                .route(web::get().to(reports::account_history)),
        )
        .service(web::resource("/transactions").route(web::get().to(reports::report)))
        .service(web::resource("/reports/revenue").route(web::get().to(reports::revenue)))
        .service(web::resource("/admin/audit").route(web::get().to(admin::audit)));
}

/// Parses a POST's JSON body and its `Idempotency-Key`. The fingerprint is
/// taken of the parsed body, so `"5"` and `5`, or reordered fields, are the
/// same request.
pub fn parse_post<T>(req: &HttpRequest, body: &[u8]) -> Result<(T, Option<Idempotency>), ApiError>
where
    T: DeserializeOwned + Serialize,
{
    let parsed: T = serde_json::from_slice(body).map_err(json_error)?;
    // serde also reads a struct from a JSON array of its fields; the contract wants objects.
    if body.trim_ascii_start().first() != Some(&b'{') {
        return Err(ApiError::InvalidRequest(
            "the request body must be a JSON object".into(),
        ));
    }
    let idempotency = Idempotency::from_request(req, &parsed)?;
    Ok((parsed, idempotency))
}

fn json_error(error: serde_json::Error) -> ApiError {
    use serde_json::error::Category;
    match error.classify() {
        Category::Data => {
            ApiError::InvalidRequest(format!("the request body does not fit this route: {error}"))
        }
        Category::Syntax | Category::Eof | Category::Io => {
            ApiError::MalformedJson(error.to_string())
        }
    }
}

/// A path segment that must be an account id.
pub fn account_id(raw: &str) -> Result<AccountId, ApiError> {
    Uuid::parse_str(raw)
        .map(AccountId)
        .map_err(|_| ApiError::InvalidRequest(format!("{raw:?} is not an account id (a UUID)")))
}

/// The HTTP answer for a use case's reply; counts what it recorded.
pub fn respond(state: &AppState, reply: Reply) -> HttpResponse {
    if let (Some((kind, status)), false) = (reply.recorded, reply.replayed) {
        state.transactions.with_label_values(&[kind, status]).inc();
    }
    reply.into_response()
}

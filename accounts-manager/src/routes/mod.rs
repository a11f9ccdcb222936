//! HTTP only: parse the request, call the use case, map the answer.

pub mod accounts;
pub mod admin;
pub mod events;
pub mod movements;
pub mod reports;
pub mod reservations;

use actix_web::http::Method;
use actix_web::{web, HttpResponse};
use service_kit::access::{Policy, ADMIN};
use shared_types::accounts::{AccountId, TransactionId};

use crate::context::Context;
use crate::error::ApiError;
use crate::operations::Reply;

/// The scopes a key of accounts-manager may have.
pub const SCOPES: &[&str] = &[
    "accounts:read",
    "accounts:write",
    "money:write",
    "orders:read",
    "orders:write",
    "reports:read",
    "events:read",
    ADMIN,
];

/// Access control of accounts-manager: its scopes and what each route needs.
pub const POLICY: Policy = Policy {
    scopes: SCOPES,
    route_scope: scope_of,
    own_names: &[crate::jobs::sweeper::SERVICE],
};

/// The scope a route needs, by method and route pattern (as registered
/// under `/api/v1`). The guard asks this for every request and the OpenAPI
/// document is written from it. A route not listed here needs `admin`: a
/// new route gets its scope by an arm here (its test: the scope matrix in
/// `tests/api/access.rs`).
pub fn scope_of(method: &Method, route: &str) -> &'static str {
    let route = route.strip_prefix("/api/v1").unwrap_or(route);
    match (method.as_str(), route) {
        ("GET", "/accounts/{account_id}" | "/users/{user_id}/accounts") => "accounts:read",
        ("GET", "/accounts/{account_id}/balance") => "accounts:read",
        ("POST", "/accounts") => "accounts:write",
        ("POST", "/deposits" | "/withdrawals" | "/transfers" | "/transfers/batch") => "money:write",
        ("POST", "/transactions/{transaction_id}/reversals") => "money:write",
        ("GET", "/reservations/{order_id}") => "orders:read",
        (
            "POST",
            "/reservations"
            | "/reservations/{order_id}/capture"
            | "/reservations/{order_id}/release",
        ) => "orders:write",
        (
            "GET",
            "/accounts/{account_id}/transactions"
            | "/transactions"
            | "/transactions/{transaction_id}"
            | "/reports/revenue",
        ) => "reports:read",
        ("GET", "/events") => "events:read",
        // The audit, the api keys, and anything not listed above.
        _ => ADMIN,
    }
}

/// The `/api/v1` routes (the caller wraps them in the access guard).
pub fn api_v1(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/accounts").route(web::post().to(accounts::open_account)))
        .service(
            web::resource("/accounts/{account_id}").route(web::get().to(accounts::get_account)),
        )
        .service(
            web::resource("/accounts/{account_id}/balance")
                .route(web::get().to(accounts::balance_at)),
        )
        .service(
            web::resource("/users/{user_id}/accounts")
                .route(web::get().to(accounts::list_user_accounts)),
        )
        .service(web::resource("/deposits").route(web::post().to(movements::create_deposit)))
        .service(web::resource("/withdrawals").route(web::post().to(movements::create_withdrawal)))
        .service(web::resource("/transfers").route(web::post().to(movements::create_transfer)))
        .service(
            web::resource("/transfers/batch")
                // A thousand transfers are more than the other routes' 64 KiB:
                // room for all of them with every text at its longest (500
                // characters), however escaped (up to 12 bytes a character).
                .app_data(web::PayloadConfig::new(16 * 1024 * 1024))
                .route(web::post().to(movements::create_transfer_batch)),
        )
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
        .service(
            web::resource("/transactions/{transaction_id}")
                .route(web::get().to(reports::get_transaction)),
        )
        .service(
            web::resource("/transactions/{transaction_id}/reversals")
                .route(web::post().to(movements::create_reversal)),
        )
        .service(web::resource("/reports/revenue").route(web::get().to(reports::revenue)))
        .service(web::resource("/events").route(web::get().to(events::feed)))
        .service(web::resource("/admin/audit").route(web::get().to(admin::audit)))
        .configure(service_kit::access::admin::routes);
}

pub use service_kit::http::parse_post;

/// A path segment that must be a transaction id.
pub fn transaction_id(raw: &str) -> Result<TransactionId, ApiError> {
    service_kit::http::uuid(raw, "a transaction id").map(TransactionId)
}

/// A path segment that must be an account id.
pub fn account_id(raw: &str) -> Result<AccountId, ApiError> {
    service_kit::http::uuid(raw, "an account id").map(AccountId)
}

/// The HTTP answer for a use case's reply; counts what it recorded.
pub fn respond(state: &Context, reply: Reply) -> HttpResponse {
    if let (Some((kind, status)), false) = (reply.recorded, reply.replayed) {
        state
            .metrics
            .transactions
            .with_label_values(&[kind, status])
            .inc();
    }
    reply.into_response()
}

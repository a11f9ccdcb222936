//! HTTP only: parse the request, call the use case, map the answer.

pub mod accounts;
pub mod admin;
pub mod events;
pub mod exchanges;
pub mod movements;
pub mod reports;
pub mod reservations;
pub mod statements;
pub mod status;

use actix_web::HttpResponse;
use service_kit::access::{Policy, ADMIN};
use service_kit::route::Routes;
use shared_types::accounts::{AccountId, TransactionId};
use utoipa::OpenApi;

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

/// Access control of accounts-manager: its scopes, and the document in
/// which each route declares the one it needs.
pub const POLICY: Policy = Policy {
    scopes: SCOPES,
    document: crate::openapi::ApiDoc::openapi,
    own_names: &[crate::jobs::sweeper::SERVICE],
};

/// Every `/api/v1` route, each named once. A handler's actix attribute gives
/// its method and path, its `#[utoipa::path]` its OpenAPI and its scope
/// (`security(("bearer" = ["<scope>"]))`); this list serves them
/// ([`api_v1`]) and writes them into the document (`crate::openapi`), from
/// which the access guard reads the scopes.
pub fn declare(routes: &mut Routes) {
    routes
        .service(accounts::open_account)
        .service(accounts::list_accounts)
        .service(accounts::get_account)
        .service(accounts::patch_account)
        .service(status::freeze)
        .service(status::unfreeze)
        .service(status::close)
        .service(accounts::balance_at)
        .service(accounts::list_user_accounts)
        .service(movements::create_deposit)
        .service(movements::create_withdrawal)
        .service(movements::create_transfer)
        .service(movements::create_transfer_batch)
        .service(movements::create_reversal)
        .service(exchanges::create_exchange)
        .service(reservations::reserve)
        .service(reservations::get_reservation)
        .service(reservations::capture)
        .service(reservations::release)
        .service(reports::account_history)
        .service(statements::statement)
        .service(reports::report)
        .service(reports::get_transaction)
        .service(reports::search)
        .service(reports::revenue)
        .service(events::feed)
        .service(admin::audit)
        .configure(service_kit::access::admin::routes);
}

/// The `/api/v1` routes (the caller wraps them in the access guard).
pub fn api_v1(cfg: &mut actix_web::web::ServiceConfig) {
    service_kit::route::mount(cfg, declare);
}

pub use service_kit::http::parse_post;

/// A listing's `metadata.<key>=<value>` filters as the labels a row must
/// have (`None` for none); a key that no label may have is
/// `422 invalid_metadata`.
pub fn label_filter(labels: Vec<(String, String)>) -> Result<Option<serde_json::Value>, ApiError> {
    if labels.is_empty() {
        return Ok(None);
    }
    let object = labels
        .into_iter()
        .map(|(key, value)| (key, serde_json::Value::String(value)))
        .collect();
    let labels = crate::domain::Metadata::parse(Some(&serde_json::Value::Object(object)))?;
    Ok(labels.to_stored())
}

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

#[cfg(test)]
mod tests {
    use service_kit::access::{RouteScopes, API_PREFIX};

    #[test]
    fn every_route_declares_one_scope_of_the_service() {
        let document = (super::POLICY.document)();
        if let Err(faults) = RouteScopes::from_openapi(&document, API_PREFIX, super::SCOPES) {
            panic!("{faults}");
        }
    }
}

//! HTTP only: parse the request, call the use case, map the answer.

pub mod admin;
pub mod advances;
pub mod reports;

use service_kit::access::{Policy, ADMIN};
use service_kit::route::Routes;
use utoipa::OpenApi;

/// The scopes a key of advances-service may have.
pub const SCOPES: &[&str] = &["advances:read", "advances:write", ADMIN];

/// Access control of advances-service: its scopes, and the document in
/// which each route declares the one it needs.
pub const POLICY: Policy = Policy {
    scopes: SCOPES,
    document: crate::openapi::ApiDoc::openapi,
    // It records no work of its own under a name.
    own_names: &[],
};

/// Every `/api/v1` route, each named once. A handler's actix attribute gives
/// its method and path, its `#[utoipa::path]` its OpenAPI and its scope
/// (`security(("bearer" = ["<scope>"]))`); this list serves them
/// ([`api_v1`]) and writes them into the document (`crate::openapi`), from
/// which the access guard reads the scopes.
pub fn declare(routes: &mut Routes) {
    routes
        .service(advances::create_advance)
        .service(advances::list_advances)
        .service(advances::get_advance)
        .service(advances::pay_off)
        .service(advances::reschedule)
        .service(reports::portfolio_report)
        .service(admin::dead_letters)
        .service(admin::replay_dead_letter)
        .service(admin::latest_reconciliation)
        .service(admin::run_reconciliation)
        .configure(service_kit::access::admin::routes);
}

/// The `/api/v1` routes (the caller wraps them in the access guard).
pub fn api_v1(cfg: &mut actix_web::web::ServiceConfig) {
    service_kit::route::mount(cfg, declare);
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

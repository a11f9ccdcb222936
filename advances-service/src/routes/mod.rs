//! HTTP only: parse the request, call the use case, map the answer.

pub mod admin;
pub mod advances;

use actix_web::http::Method;
use actix_web::web;
use service_kit::access::{Policy, ADMIN};

/// The scopes a key of advances-service may have.
pub const SCOPES: &[&str] = &["advances:read", "advances:write", ADMIN];

/// Access control of advances-service: its scopes and what each route needs.
pub const POLICY: Policy = Policy {
    scopes: SCOPES,
    route_scope: scope_of,
    // It records no work of its own under a name.
    own_names: &[],
};

/// The scope a route needs, by method and route pattern (as registered
/// under `/api/v1`). The guard asks this for every request and the OpenAPI
/// document is written from it. A route not listed here needs `admin`
/// (reconciliation, dead letters, api keys); a new route gets its scope by
/// an arm here.
pub fn scope_of(method: &Method, route: &str) -> &'static str {
    let route = route.strip_prefix("/api/v1").unwrap_or(route);
    match (method.as_str(), route) {
        ("GET", "/advances" | "/advances/{advance_id}") => "advances:read",
        ("POST", "/advances" | "/advances/{advance_id}/payoff") => "advances:write",
        _ => ADMIN,
    }
}

/// The `/api/v1` routes (the caller wraps them in the access guard).
pub fn api_v1(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/advances")
            .route(web::post().to(advances::create_advance))
            .route(web::get().to(advances::list_advances)),
    )
    .service(web::resource("/advances/{advance_id}").route(web::get().to(advances::get_advance)))
    .service(
        web::resource("/advances/{advance_id}/payoff").route(web::post().to(advances::pay_off)),
    )
    .service(web::resource("/admin/dead-letters").route(web::get().to(admin::dead_letters)))
    .service(
        web::resource("/admin/dead-letters/{id}/replay")
            .route(web::post().to(admin::replay_dead_letter)),
    )
    .service(
        web::resource("/admin/reconciliation")
            .route(web::get().to(admin::latest_reconciliation))
            .route(web::post().to(admin::run_reconciliation)),
    )
    .configure(service_kit::access::admin::routes);
}

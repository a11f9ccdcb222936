//! HTTP only: parse the request, call the use case, map the answer.

pub mod admin;
pub mod advances;
pub mod health;

use actix_web::web;

/// The `/api/v1` routes (the caller wraps them in authentication).
pub fn api_v1(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/advances")
            .route(web::post().to(advances::create_advance))
            .route(web::get().to(advances::list_advances)),
    )
    .service(web::resource("/advances/{advance_id}").route(web::get().to(advances::get_advance)))
    .service(
        web::resource("/admin/reconciliation")
            .route(web::get().to(admin::latest_reconciliation))
            .route(web::post().to(admin::run_reconciliation)),
    );
}

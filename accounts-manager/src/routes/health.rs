//! Liveness, readiness and metrics: no token needed.

use actix_web::{web, HttpResponse};
use serde_json::json;

use crate::operations;
use crate::startup::AppState;

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, description = "Alive")))]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

/// The service can reach its database.
#[utoipa::path(
    get, path = "/readyz", tag = "operations",
    responses((status = 200, description = "Ready"), (status = 503, description = "The database is unavailable"))
)]
pub async fn readyz(
    state: web::Data<AppState>,
    metrics: web::Data<service_kit::metrics::HttpMetrics>,
) -> HttpResponse {
    let ready = operations::run(&state.pool, |conn| Ok(crate::store::ping(conn)?)).await;
    metrics.ready.set(i64::from(ready.is_ok()));
    match ready {
        Ok(()) => HttpResponse::Ok().json(json!({"status": "ready", "database": "up"})),
        Err(error) => {
            tracing::warn!(error = %service_kit::error::error_chain(&error), "not ready");
            HttpResponse::ServiceUnavailable()
                .json(json!({"status": "not_ready", "database": "down"}))
        }
    }
}

/// Prometheus metrics in the text exposition format.
#[utoipa::path(get, path = "/metrics", tag = "operations", responses((status = 200, description = "Prometheus text format")))]
pub async fn metrics(metrics: web::Data<service_kit::metrics::HttpMetrics>) -> HttpResponse {
    service_kit::metrics::metrics_route(metrics).await
}

//! Liveness, readiness and metrics: no token needed.

use actix_web::{web, HttpResponse};
use service_kit::health::{Alive, Readiness};

use crate::context::Context;
use crate::operations;

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, description = "Alive", body = Alive)))]
pub async fn healthz() -> HttpResponse {
    Alive::response()
}

/// The service can reach its database.
#[utoipa::path(
    get, path = "/readyz", tag = "operations",
    responses(
        (status = 200, description = "Ready", body = Readiness),
        (status = 503, description = "The database is unavailable", body = Readiness)
    )
)]
pub async fn readyz(
    state: web::Data<Context>,
    metrics: web::Data<service_kit::metrics::HttpMetrics>,
) -> HttpResponse {
    let ready = operations::run(&state.pool, |conn| Ok(crate::store::ping(conn)?)).await;
    metrics.ready.set(i64::from(ready.is_ok()));
    if let Err(error) = &ready {
        tracing::warn!(error = %service_kit::error::error_chain(error), "not ready");
    }
    Readiness::of(ready.is_ok(), None).response()
}

/// Prometheus metrics in the text exposition format.
#[utoipa::path(get, path = "/metrics", tag = "operations", responses((status = 200, description = "Prometheus text format")))]
pub async fn metrics(metrics: web::Data<service_kit::metrics::HttpMetrics>) -> HttpResponse {
    service_kit::metrics::metrics_route(metrics).await
}

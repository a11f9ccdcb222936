//! Liveness, readiness and metrics: no token needed.

use actix_web::{web, HttpResponse};
use service_kit::health::{Alive, Readiness};

use crate::context::Context;
use crate::operations::run;

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, description = "Alive", body = Alive)))]
pub async fn healthz() -> HttpResponse {
    Alive::response()
}

/// The service can reach its database and RabbitMQ.
#[utoipa::path(
    get, path = "/readyz", tag = "operations",
    responses(
        (status = 200, description = "Ready", body = Readiness),
        (status = 503, description = "The database or RabbitMQ is unavailable", body = Readiness)
    )
)]
pub async fn readyz(
    ctx: web::Data<Context>,
    metrics: web::Data<service_kit::metrics::HttpMetrics>,
) -> HttpResponse {
    let database = run(&ctx.pool, |conn| Ok(crate::store::ping(conn)?))
        .await
        .is_ok();
    let broker = ctx.broker.is_ready().await;
    metrics.ready.set(i64::from(database && broker));
    Readiness::of(database, Some(broker)).response()
}

/// Prometheus metrics in the text exposition format.
#[utoipa::path(get, path = "/metrics", tag = "operations", responses((status = 200, description = "Prometheus text format")))]
pub async fn metrics(metrics: web::Data<service_kit::metrics::HttpMetrics>) -> HttpResponse {
    service_kit::metrics::metrics_route(metrics).await
}

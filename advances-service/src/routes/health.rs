//! Liveness, readiness and metrics: no token needed.

use actix_web::{web, HttpResponse};
use serde_json::json;

use crate::context::Context;
use crate::operations::run;

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, description = "Alive")))]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

/// The service can reach its database and RabbitMQ.
#[utoipa::path(
    get, path = "/readyz", tag = "operations",
    responses((status = 200, description = "Ready"), (status = 503, description = "The database or RabbitMQ is unavailable"))
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
    let up = |ok: bool| if ok { "up" } else { "down" };
    let body = json!({
        "status": if database && broker { "ready" } else { "not_ready" },
        "database": up(database),
        "rabbitmq": up(broker),
    });
    if database && broker {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}

/// Prometheus metrics in the text exposition format.
#[utoipa::path(get, path = "/metrics", tag = "operations", responses((status = 200, description = "Prometheus text format")))]
pub async fn metrics(metrics: web::Data<service_kit::metrics::HttpMetrics>) -> HttpResponse {
    service_kit::metrics::metrics_route(metrics).await
}

//! `/healthz`, `/readyz` and `/metrics`, the same in both services (no token
//! needed), with their OpenAPI document.

use std::sync::Arc;

use actix_web::{web, HttpResponse};
use futures::future::BoxFuture;
use serde::Serialize;
use utoipa::{OpenApi, ToSchema};

use crate::db::{self, PgPool};
use crate::metrics::HttpMetrics;

/// The operations routes, merged into each service's document.
#[derive(OpenApi)]
#[openapi(paths(healthz, readyz, metrics))]
pub struct HealthDoc;

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, description = "Alive", body = Alive)))]
pub async fn healthz() -> HttpResponse {
    Alive::response()
}

/// The service can reach what it needs: its database, and RabbitMQ for
/// advances-service.
#[utoipa::path(
    get, path = "/readyz", tag = "operations",
    responses(
        (status = 200, description = "Ready", body = Readiness),
        (status = 503, description = "The database (or, for advances-service, RabbitMQ) is unavailable", body = Readiness)
    )
)]
pub async fn readyz(probes: web::Data<Probes>, metrics: web::Data<HttpMetrics>) -> HttpResponse {
    let database = db::run(&probes.pool, |conn| Ok(db::ping(conn)?)).await;
    if let Err(error) = &database {
        tracing::warn!(error = %crate::error::error_chain(error), "not ready: the database is unavailable");
    }
    let broker = match &probes.broker {
        Some(broker) => Some(broker.is_up().await),
        None => None,
    };
    let readiness = Readiness::of(database.is_ok(), broker);
    metrics.ready.set(i64::from(readiness.is_ready()));
    readiness.response()
}

/// Prometheus metrics in the text exposition format.
#[utoipa::path(get, path = "/metrics", tag = "operations", responses((status = 200, description = "Prometheus text format")))]
pub async fn metrics(metrics: web::Data<HttpMetrics>) -> HttpResponse {
    crate::metrics::metrics_route(metrics).await
}

/// A dependency besides the database that `/readyz` asks about.
pub trait Dependency: Send + Sync + 'static {
    fn is_up(&self) -> BoxFuture<'_, bool>;
}

/// What `/readyz` checks.
pub struct Probes {
    pub pool: PgPool,
    /// RabbitMQ, for a service that needs it.
    pub broker: Option<Arc<dyn Dependency>>,
}

/// The process is up: `{"status": "ok"}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Alive {
    #[schema(example = "ok")]
    pub status: &'static str,
}

impl Alive {
    pub fn response() -> HttpResponse {
        HttpResponse::Ok().json(Alive { status: "ok" })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReadyStatus {
    Ready,
    NotReady,
}

/// Whether a dependency answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Reachable {
    Up,
    Down,
}

impl From<bool> for Reachable {
    fn from(up: bool) -> Self {
        if up {
            Self::Up
        } else {
            Self::Down
        }
    }
}

/// Whether the instance can serve: `ready` (200) when every dependency it
/// needs is `up`, else `not_ready` (503).
#[derive(Debug, Serialize, ToSchema)]
pub struct Readiness {
    pub status: ReadyStatus,
    pub database: Reachable,
    /// advances-service only (accounts-manager moves money without the broker).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rabbitmq: Option<Reachable>,
}

impl Readiness {
    /// `rabbitmq`: `None` for a service that does not need the broker.
    pub fn of(database: bool, rabbitmq: Option<bool>) -> Self {
        let ready = database && rabbitmq.unwrap_or(true);
        Self {
            status: if ready {
                ReadyStatus::Ready
            } else {
                ReadyStatus::NotReady
            },
            database: database.into(),
            rabbitmq: rabbitmq.map(Reachable::from),
        }
    }

    pub fn is_ready(&self) -> bool {
        self.status == ReadyStatus::Ready
    }

    pub fn response(&self) -> HttpResponse {
        if self.is_ready() {
            HttpResponse::Ok().json(self)
        } else {
            HttpResponse::ServiceUnavailable().json(self)
        }
    }
}

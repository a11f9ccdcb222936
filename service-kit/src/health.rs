//! The bodies of `/healthz` and `/readyz`, the same in both services.

use actix_web::HttpResponse;
use serde::Serialize;
use utoipa::ToSchema;

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

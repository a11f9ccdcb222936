//! The use cases. Each runs as one database transaction on a connection taken
//! from the pool inside a blocking task, and POSTs run at most once per
//! idempotency key: the stored answer is written in the same transaction as
//! the effect.

pub mod accounts;
pub mod audit;
pub mod listings;
pub mod movements;
pub mod reservations;

use actix_web::web;
use diesel::pg::PgConnection;
use diesel::Connection;
use serde::Serialize;

use crate::domain::{Fingerprint, IdempotencyKey};
use crate::error::ApiError;
use crate::store::{self, PgPool};

/// The answer to a POST, as it is stored for replays.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub body: String,
    /// True when this is the stored answer of an earlier request.
    pub replayed: bool,
    /// The transaction the request recorded, for the metrics: (type, status).
    pub recorded: Option<(&'static str, &'static str)>,
}

impl Reply {
    pub fn new(status: u16, body: &impl Serialize) -> Result<Self, ApiError> {
        Ok(Self {
            status,
            body: serde_json::to_string(body).map_err(ApiError::internal)?,
            replayed: false,
            recorded: None,
        })
    }

    pub fn recording(mut self, kind: &'static str, status: &'static str) -> Self {
        self.recorded = Some((kind, status));
        self
    }
}

/// An `Idempotency-Key` and what the request that carries it asked for.
#[derive(Debug, Clone)]
pub struct Idempotency {
    pub key: IdempotencyKey,
    pub fingerprint: Fingerprint,
}

/// Runs `work` on a pooled connection in a blocking task.
pub async fn run<T, F>(pool: &PgPool, work: F) -> Result<T, ApiError>
where
    F: FnOnce(&mut PgConnection) -> Result<T, ApiError> + Send + 'static,
    T: Send + 'static,
{
    let pool = pool.clone();
    web::block(move || {
        let mut conn = pool.get()?;
        work(&mut conn)
    })
    .await?
}

/// Runs a POST's `work` in one transaction, once per idempotency key.
///
/// The key's advisory lock is held for the whole transaction, so a second
/// request with the same key either finds the lock taken (`409`, in flight) or
/// takes it after the first committed and finds the stored answer. Work that
/// fails with an error rolls back and stores nothing, so the key stays free.
pub async fn idempotent<F>(
    pool: &PgPool,
    idempotency: Option<Idempotency>,
    work: F,
) -> Result<Reply, ApiError>
where
    F: FnOnce(&mut PgConnection) -> Result<Reply, ApiError> + Send + 'static,
{
    run(pool, move |conn| {
        conn.transaction(|conn| {
            let Some(idem) = idempotency else {
                return work(conn);
            };
            if !store::idempotency::try_lock(conn, &idem.key)? {
                return Err(ApiError::IdempotencyKeyInFlight);
            }
            if let Some(stored) = store::idempotency::find(conn, &idem.key)? {
                if stored.request_hash != idem.fingerprint.as_bytes() {
                    return Err(ApiError::IdempotencyKeyReused);
                }
                return Ok(Reply {
                    status: u16::try_from(stored.response_status).map_err(ApiError::internal)?,
                    body: stored.response_body,
                    replayed: true,
                    recorded: None,
                });
            }
            let reply = work(conn)?;
            store::idempotency::save(
                conn,
                &idem.key,
                &idem.fingerprint,
                reply.status,
                &reply.body,
            )?;
            Ok(reply)
        })
    })
    .await
}

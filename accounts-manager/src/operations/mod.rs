//! The use cases. Each runs as one database transaction on a connection taken
//! from the pool inside a blocking task; POSTs run at most once per
//! idempotency key (see `service_kit::idempotency`).

pub mod accounts;
pub mod audit;
pub mod group_commit;
pub mod listings;
pub mod movements;
pub mod reservations;

use diesel::pg::PgConnection;
pub use service_kit::db::run;
pub use service_kit::idempotency::{Idempotency, Reply};

use crate::error::ApiError;
use crate::store::PgPool;

/// Runs a POST's `work` in one transaction, once per idempotency key.
pub async fn idempotent<F>(
    pool: &PgPool,
    idempotency: Option<Idempotency>,
    work: F,
) -> Result<Reply, ApiError>
where
    F: FnOnce(&mut PgConnection) -> Result<Reply, ApiError> + Send + 'static,
{
    run(pool, move |conn| {
        service_kit::idempotency::run_once(conn, idempotency, work)
    })
    .await
}

/// A reply with a JSON body; serializing our own wire types does not fail,
/// but if it did the request fails rather than answering garbage.
pub fn reply(status: u16, body: &impl serde::Serialize) -> Result<Reply, ApiError> {
    Reply::new(status, body).map_err(ApiError::internal)
}

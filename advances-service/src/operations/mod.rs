//! The use cases: what the API, the scheduler and the worker do, each step a
//! database transaction, with calls to accounts-manager and RabbitMQ only
//! after the step that records the intent has committed.

pub mod advances;
pub mod collection;
pub mod dead_letters;
pub mod portfolio;
pub mod reconciliation;

use diesel::pg::PgConnection;
pub use service_kit::db::run;
use service_kit::db::PgPool;

use crate::error::JobError;

/// [`run`] for background work: `work` on a pooled connection in a blocking
/// task, failing with a [`JobError`].
pub async fn run_job<T, F>(pool: &PgPool, work: F) -> Result<T, JobError>
where
    F: FnOnce(&mut PgConnection) -> Result<T, JobError> + Send + 'static,
    T: Send + 'static,
{
    service_kit::db::blocking(pool, work).await
}

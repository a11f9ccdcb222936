//! The use cases: what the API, the scheduler and the worker do, each step a
//! database transaction, with calls to accounts-manager and RabbitMQ only
//! after the step that records the intent has committed.

pub mod advances;
pub mod collection;
pub mod dead_letters;
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
    let pool = pool.clone();
    tokio::task::spawn_blocking(move || {
        let mut conn = pool.get()?;
        let result = work(&mut conn);
        if result
            .as_ref()
            .is_err_and(JobError::is_database_unavailable)
        {
            service_kit::db::discard(&mut conn);
        }
        result
    })
    .await
    .map_err(JobError::Task)?
}

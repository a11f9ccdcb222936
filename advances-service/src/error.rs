//! Why background work (a scheduler tick, a batch of payment jobs, a
//! reconciliation, a disbursement) did not finish. The HTTP answers have
//! `ApiError`; a route that runs such work turns this into one, here.

use diesel::result::Error as DieselError;
use service_kit::error::{classify, ApiError, DbFailure};

use crate::clients::accounts::AccountsError;
use crate::clients::broker::BrokerError;

type Cause = Box<dyn std::error::Error + Send + Sync>;

#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// The database cannot be reached, the pool has no connection to give, or
    /// the transaction must be retried: the next round tries again.
    #[error("the database is unavailable")]
    DatabaseUnavailable(#[source] Cause),
    /// A statement failed for another reason.
    #[error("a database statement failed")]
    Database(#[source] DieselError),
    #[error(transparent)]
    Accounts(#[from] AccountsError),
    #[error(transparent)]
    Broker(#[from] BrokerError),
    /// The blocking task that ran the database work panicked or was cancelled.
    #[error("a blocking task did not finish")]
    Task(#[source] tokio::task::JoinError),
}

impl service_kit::db::WorkError for JobError {
    fn database_unavailable(&self) -> bool {
        matches!(self, Self::DatabaseUnavailable(_))
    }

    fn task_failed(error: tokio::task::JoinError) -> Self {
        Self::Task(error)
    }
}

/// The one place database errors become job errors.
impl From<DieselError> for JobError {
    fn from(error: DieselError) -> Self {
        match classify(&error) {
            DbFailure::Unavailable => Self::DatabaseUnavailable(error.into()),
            DbFailure::NotFound
            | DbFailure::UniqueViolation
            | DbFailure::CheckViolation(_)
            | DbFailure::OutOfRange
            | DbFailure::Other => Self::Database(error),
        }
    }
}

impl From<diesel::r2d2::PoolError> for JobError {
    fn from(error: diesel::r2d2::PoolError) -> Self {
        Self::DatabaseUnavailable(error.into())
    }
}

/// For the routes that run background work on request (reconciliation) or
/// start it (the first disbursement of an advance).
impl From<JobError> for ApiError {
    fn from(error: JobError) -> Self {
        match error {
            JobError::Database(error) => Self::from(error),
            JobError::Accounts(error) => Self::from(error),
            JobError::DatabaseUnavailable(_) | JobError::Broker(_) => {
                Self::Unavailable(error.into())
            }
            JobError::Task(_) => Self::internal(error),
        }
    }
}

/// The one place accounts-manager's failures become an HTTP status: either
/// way the dependency failed, not the request, so `503`.
impl From<AccountsError> for ApiError {
    fn from(error: AccountsError) -> Self {
        match error {
            AccountsError::Unavailable(_) | AccountsError::Unexpected { .. } => {
                Self::Unavailable(error.into())
            }
        }
    }
}

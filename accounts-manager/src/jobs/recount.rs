//! The audit's full recount: every `AUDIT_INTERVAL` it sums every entry of
//! the ledger per account and compares the sums with every account's balance
//! and reserved part, and stores what it found, which `GET /admin/audit`
//! then reports. It reads the whole `entries` table (seconds at ten million
//! transactions), which is why it is not done on every call. Any number of
//! instances may run it: one recounts, the others skip a recount that
//! another has just done.

use std::time::Duration;

use prometheus::IntGauge;
use service_kit::shutdown::Shutdown;

use crate::store::{self, PgPool};

/// Why a recount did not happen.
#[derive(Debug, thiserror::Error)]
pub enum RecountError {
    #[error("no database connection")]
    Pool(#[from] diesel::r2d2::PoolError),
    #[error("the recount failed")]
    Database(#[from] diesel::result::Error),
    #[error("the recount task did not finish")]
    Task(#[source] tokio::task::JoinError),
}

impl service_kit::db::WorkError for RecountError {
    fn database_unavailable(&self) -> bool {
        match self {
            Self::Pool(_) => true,
            Self::Database(error) => {
                service_kit::error::classify(error) == service_kit::error::DbFailure::Unavailable
            }
            Self::Task(_) => false,
        }
    }

    fn task_failed(error: tokio::task::JoinError) -> Self {
        Self::Task(error)
    }
}

pub struct Recounter {
    pub pool: PgPool,
    pub interval: Duration,
    /// `audit_recount_mismatches`: what the latest recount of this instance found.
    pub mismatches: IntGauge,
}

impl Recounter {
    /// Recounts at start and then every interval, until a stop is asked
    /// for; a recount under way is finished.
    pub async fn run(self, mut shutdown: Shutdown) {
        let mut tick = tokio::time::interval(self.interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        while shutdown.unless_stopped(tick.tick()).await.is_some() {
            match self.once().await {
                Ok(Some(found)) if found > 0 => {
                    tracing::error!(
                        entry_mismatches = found,
                        "audit recount: accounts differ from the sum of their entries"
                    );
                }
                Ok(_) => {}
                Err(error) => tracing::warn!(
                    error = %service_kit::error::error_chain(&error),
                    "the audit recount could not run"
                ),
            }
        }
    }

    /// One recount, unless another instance did one within half an
    /// interval: how many accounts it found off.
    pub async fn once(&self) -> Result<Option<i64>, RecountError> {
        let fresh = self.interval / 2;
        let recount = service_kit::db::blocking(&self.pool, move |conn| {
            Ok::<_, RecountError>(store::audit::recount(conn, fresh)?)
        })
        .await?;
        let found = recount.map(|r| r.mismatched);
        if let Some(found) = found {
            self.mismatches.set(found);
        }
        Ok(found)
    }
}

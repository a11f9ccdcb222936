//! Releases holds that ran out. Every `SWEEP_INTERVAL` it looks for
//! `reserved` holds past their `expires_at` and submits an `Expire` command
//! for each to the ledger engine, in the service's own name. Any number of
//! instances may sweep at once: the engine takes each order's lock and
//! releases a hold only while it is still `reserved`, so each is released
//! exactly once; the others are refused and ignored.

use std::time::Duration;

use prometheus::IntCounter;
use service_kit::shutdown::Shutdown;

use crate::domain::commands::{Command, Expire};
use crate::group_commit::Ledger;
use crate::operations::run;
use crate::store::{self, PgPool};

/// The name the service records as `created_by` for what it does itself.
pub const SERVICE: &str = "accounts-manager";

/// How many holds one round releases at most.
const ROUND: i64 = 500;

pub struct Sweeper {
    pub pool: PgPool,
    pub ledger: Ledger,
    pub interval: Duration,
    /// `ledger_holds_expired_total`.
    pub expired: IntCounter,
}

impl Sweeper {
    /// Sweeps until a stop is asked for; a round under way is finished.
    pub async fn run(self, mut shutdown: Shutdown) {
        let mut tick = tokio::time::interval(self.interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        while shutdown.unless_stopped(tick.tick()).await.is_some() {
            // A full round means more may be waiting: go on at once.
            while !shutdown.requested() && self.round().await == Ok(ROUND) {}
        }
    }

    /// One round: how many expired holds it found.
    async fn round(&self) -> Result<i64, ()> {
        let due = run(&self.pool, |conn| Ok(store::reservations::expired(conn, ROUND)?))
            .await
            .map_err(|error| {
                tracing::warn!(error = %service_kit::error::error_chain(&error), "the sweeper could not look for expired holds");
            })?;
        let found = i64::try_from(due.len()).unwrap_or(ROUND);
        let releases = due.into_iter().map(|order| async move {
            let answer = self
                .ledger
                .submit(Command::Expire(Expire { order }), None, SERVICE.to_owned())
                .await;
            match answer {
                Ok(reply) if reply.status < 300 => {
                    self.expired.inc();
                    tracing::info!(order_id = %order, "an expired hold was released");
                }
                // Another instance released it first, or it ended meanwhile.
                Ok(_) | Err(crate::error::ApiError::Conflict { .. }) => {}
                Err(error) => tracing::warn!(order_id = %order,
                    error = %service_kit::error::error_chain(&error), "an expired hold could not be released yet"),
            }
        });
        futures::future::join_all(releases).await;
        Ok(found)
    }
}

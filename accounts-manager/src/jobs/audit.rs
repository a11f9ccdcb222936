//! The periodic audit: every `AUDIT_INTERVAL` it runs the fast checks (and
//! reads the latest recount), so that `ledger_audit_problems`, the gauge an
//! alert watches, is never older than that.

use std::time::Duration;

use prometheus::IntGauge;
use service_kit::shutdown::Shutdown;

use crate::operations::audit::audit;
use crate::store::PgPool;

pub struct Auditor {
    pub pool: PgPool,
    pub interval: Duration,
    /// `ledger_audit_problems`.
    pub problems: IntGauge,
}

impl Auditor {
    /// Audits at start and then every interval, until a stop is asked for.
    pub async fn run(self, mut shutdown: Shutdown) {
        loop {
            match audit(&self.pool, &self.problems).await {
                Ok(report) => tracing::info!(
                    problems = self.problems.get(),
                    currencies = report.currencies.len(),
                    "audit finished"
                ),
                Err(error) => tracing::warn!(error = %error, "audit failed"),
            }
            if shutdown.sleep(self.interval).await {
                return;
            }
        }
    }
}

//! The double-entry self-check.

use std::time::Duration;

use chrono::Utc;
use prometheus::IntGauge;
use rust_decimal::Decimal;
use shared_types::accounts::{AuditReport, CurrencyAudit};

use super::run;
use crate::error::ApiError;
use crate::store::{self, PgPool};

/// Runs the audit and sets `problems` (`ledger_audit_problems`, the alert
/// gauge) to what it found: currencies that do not sum to zero, user
/// accounts below zero and balances that differ from their entries.
pub async fn audit(pool: &PgPool, problems: &IntGauge) -> Result<AuditReport, ApiError> {
    let report = run(pool, |conn| {
        let currencies = store::audit::audit(conn)?
            .into_iter()
            .map(|row| CurrencyAudit {
                currency: row.currency,
                total: row.total,
                negative_accounts: row.negative_accounts,
                entry_mismatches: row.entry_mismatches,
            })
            .collect();
        Ok(AuditReport {
            currencies,
            checked_at: Utc::now(),
        })
    })
    .await?;
    let found: i64 = report
        .currencies
        .iter()
        .map(|c| i64::from(c.total != Decimal::ZERO) + c.negative_accounts + c.entry_mismatches)
        .sum();
    problems.set(found);
    Ok(report)
}

/// Audits every `interval` (`AUDIT_INTERVAL`), so that the gauge an alert
/// watches is never older than that.
pub async fn audit_periodically(pool: PgPool, problems: IntGauge, interval: Duration) {
    loop {
        match audit(&pool, &problems).await {
            Ok(report) => tracing::info!(
                problems = problems.get(),
                currencies = report.currencies.len(),
                "audit finished"
            ),
            Err(error) => tracing::warn!(error = %error, "audit failed"),
        }
        tokio::time::sleep(interval).await;
    }
}

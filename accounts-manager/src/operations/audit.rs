//! The double-entry self-check.

use chrono::Utc;
use prometheus::IntGauge;
use rust_decimal::Decimal;
use shared_types::accounts::{AuditReport, CurrencyAudit, RecountReport};

use super::run;
use crate::error::ApiError;
use crate::store::{self, PgPool};

/// The fast checks as of now, with what the latest full recount found; sets
/// `problems` (`ledger_audit_problems`, the gauge an alert watches) to the
/// sum of what either found: currencies that do not sum to zero, user
/// accounts below zero, balances that differ from their entries.
pub async fn audit(pool: &PgPool, problems: &IntGauge) -> Result<AuditReport, ApiError> {
    let report = run(pool, |conn| {
        let (rows, recount) = store::audit::audit(conn)?;
        let currencies = rows
            .into_iter()
            .map(|row| CurrencyAudit {
                currency: row.currency,
                total: row.total,
                negative_accounts: row.negative_accounts,
                entry_mismatches: row.entry_mismatches,
                latest_posting_mismatches: row.latest_posting_mismatches,
                recount_mismatches: row.recount_mismatches,
            })
            .collect();
        Ok(AuditReport {
            currencies,
            checked_at: Utc::now(),
            recount: recount.map(|r| RecountReport {
                checked_at: r.checked_at,
                finished_at: r.finished_at,
                entry_mismatches: r.mismatched,
            }),
        })
    })
    .await?;
    let found: i64 = report
        .currencies
        .iter()
        .map(|c| {
            i64::from(c.total != Decimal::ZERO)
                + c.negative_accounts
                + c.entry_mismatches
                + c.latest_posting_mismatches
                + c.recount_mismatches
        })
        .sum();
    problems.set(found);
    Ok(report)
}

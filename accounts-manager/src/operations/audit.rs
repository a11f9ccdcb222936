//! The double-entry self-check.

use chrono::Utc;
use shared_types::accounts::{AuditReport, CurrencyAudit, RecountReport};

use super::run;
use crate::error::ApiError;
use crate::store::{self, PgPool};

/// The fast checks as of now, with what the latest full recount found.
pub async fn audit(pool: &PgPool) -> Result<AuditReport, ApiError> {
    run(pool, |conn| {
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
    .await
}

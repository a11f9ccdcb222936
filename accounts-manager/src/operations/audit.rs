//! The double-entry self-check.

use chrono::Utc;
use shared_types::accounts::{AuditReport, CurrencyAudit};

use super::run;
use crate::error::ApiError;
use crate::store::{self, PgPool};

pub async fn audit(pool: &PgPool) -> Result<AuditReport, ApiError> {
    run(pool, |conn| {
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
    .await
}

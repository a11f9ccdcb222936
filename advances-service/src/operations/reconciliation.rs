//! Reconciliation: do the payments add up to each advance, and does what
//! accounts-manager collected match what this service marked paid? A mismatch
//! is an alert: an ERROR log line naming the advance, a counter, a report entry.

use std::collections::BTreeMap;

use chrono::Utc;
use rust_decimal::Decimal;
use service_kit::error::ApiError;
use shared_types::accounts::AccountId;
use shared_types::advances::{
    AdvanceId, AdvanceStatus, Mismatch, ReconciliationCheck, ReconciliationReport,
};

use super::{run, run_job};
use crate::clients::accounts::Origin;
use crate::context::Context;
use crate::domain::{self, LedgerCheck};
use crate::error::JobError;
use crate::store::reconciliation as store;

/// Runs a reconciliation now, stores its report and returns it; its reads
/// of accounts-manager carry `origin`.
pub async fn reconcile(
    ctx: &Context,
    origin: Origin<'_>,
) -> Result<ReconciliationReport, JobError> {
    let advances = run_job(&ctx.pool, |conn| Ok(store::advance_sums(conn, None)?)).await?;
    let mut mismatches = Vec::new();
    for advance in &advances {
        if advance.owed != advance.amount {
            mismatches.push(Mismatch {
                advance_id: AdvanceId(advance.id),
                check: ReconciliationCheck::ScheduleSum,
                expected: advance.amount,
                actual: advance.owed,
            });
        }
    }
    // One read of each account's withdrawals serves all its advances.
    let mut by_account: BTreeMap<uuid::Uuid, Vec<&store::AdvanceSums>> = BTreeMap::new();
    for advance in advances
        .iter()
        .filter(|a| a.status.0 != AdvanceStatus::Disbursing)
    {
        by_account
            .entry(advance.account_id)
            .or_default()
            .push(advance);
    }
    // Advances whose ledger only their payments read again can settle (one
    // may have been collected since they were read), with what was collected.
    let mut unsettled: Vec<(&store::AdvanceSums, Decimal)> = Vec::new();
    for (account, advances) in by_account {
        let withdrawals = ctx.accounts.withdrawals(AccountId(account), origin).await?;
        for advance in advances {
            let prefix = domain::payment_reference_prefix(AdvanceId(advance.id));
            let collected: Decimal = withdrawals
                .iter()
                .filter(|(reference, _)| {
                    reference.as_deref().is_some_and(|r| r.starts_with(&prefix))
                })
                .map(|(_, amount)| *amount)
                .sum();
            match domain::check_ledger(collected, advance.collection(), None) {
                LedgerCheck::Agrees => {}
                LedgerCheck::Disagrees => {
                    mismatches.push(ledger_mismatch(advance, advance.paid, collected))
                }
                LedgerCheck::ReadPaymentsAgain => unsettled.push((advance, collected)),
            }
        }
    }
    if !unsettled.is_empty() {
        let ids: Vec<uuid::Uuid> = unsettled.iter().map(|(advance, _)| advance.id).collect();
        let again = run_job(&ctx.pool, move |conn| {
            Ok(store::advance_sums(conn, Some(&ids))?)
        })
        .await?;
        for (advance, collected) in unsettled {
            let after = again
                .iter()
                .find(|a| a.id == advance.id)
                .map(|a| a.collection());
            if domain::check_ledger(collected, advance.collection(), after) != LedgerCheck::Agrees {
                let paid = after.map_or(advance.paid, |after| after.paid);
                mismatches.push(ledger_mismatch(advance, paid, collected));
            }
        }
    }
    for mismatch in &mismatches {
        let check = match mismatch.check {
            ReconciliationCheck::ScheduleSum => "schedule_sum",
            ReconciliationCheck::LedgerPaid => "ledger_paid",
        };
        tracing::error!(
            advance_id = %mismatch.advance_id,
            check,
            expected = %mismatch.expected,
            actual = %mismatch.actual,
            "reconciliation mismatch"
        );
        ctx.metrics.mismatches.with_label_values(&[check]).inc();
    }
    let report = ReconciliationReport {
        checked_at: Utc::now(),
        advances_checked: i64::try_from(advances.len()).unwrap_or(i64::MAX),
        mismatches,
    };
    let stored = report.clone();
    run_job(&ctx.pool, move |conn| Ok(store::save(conn, &stored)?)).await?;
    Ok(report)
}

/// The latest report, or an empty one if none has run yet.
pub async fn latest(ctx: &Context) -> Result<Option<ReconciliationReport>, ApiError> {
    run(&ctx.pool, |conn| Ok(store::latest(conn)?)).await
}

fn ledger_mismatch(advance: &store::AdvanceSums, paid: Decimal, collected: Decimal) -> Mismatch {
    Mismatch {
        advance_id: AdvanceId(advance.id),
        check: ReconciliationCheck::LedgerPaid,
        expected: paid,
        actual: collected,
    }
}

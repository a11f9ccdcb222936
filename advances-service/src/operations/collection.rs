//! Collecting payments: claim them, withdraw each through accounts-manager
//! with a key derived from the payment, store the outcomes. A job is
//! acknowledged only after this returns. Jobs that arrive together are
//! collected together, with a fixed number of database statements per batch.

use std::collections::{BTreeMap, HashSet};

use diesel::Connection;
use rust_decimal::Decimal;
use service_kit::trace::TraceParent;
use shared_types::accounts::TransactionId;
use shared_types::advances::{AdvanceEventType, AdvanceId, PaymentId, PaymentJob, PaymentStatus};
use tracing::Instrument;
use uuid::Uuid;

use super::run_job;
use crate::clients::accounts::{Movement, Origin, Withdrawal};
use crate::context::Context;
use crate::domain;
use crate::domain::overdue;
use crate::error::JobError;
use crate::store::advances::{self as advances_store, AdvanceRow, Figures};
use crate::store::events;
use crate::store::payments::{self as payments_store, PaymentRow};

/// What became of a job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The money was withdrawn (now, or by an earlier attempt whose answer
    /// accounts-manager replayed) and the payment is paid.
    Collected,
    /// The account could not cover it: failed, rolled into a later payment.
    Refused,
    /// accounts-manager did not answer: the payment is scheduled again with a backoff.
    Deferred,
    /// Nothing to do: paid already, not due yet, or another worker holds it.
    Skipped(&'static str),
    /// Not a job this service can act on: to the dead-letter queue.
    Invalid(String),
}

/// A job as the worker took it off the queue, with the request id its
/// withdrawal carries and the trace it continues (its advance's).
#[derive(Debug, Clone)]
pub struct Job {
    pub job: PaymentJob,
    pub request_id: String,
    pub trace: Option<TraceParent>,
}

/// Collects the jobs that arrived together, as one batch: one statement claims
/// them all, the withdrawals go to accounts-manager concurrently (where group
/// commit applies them together), and one transaction stores every outcome.
/// The answer is in the order of `jobs`; an error means no outcome was stored
/// and every job should be given back.
pub async fn collect_all(ctx: &Context, jobs: &[Job]) -> Result<Vec<Outcome>, JobError> {
    let mut outcomes: Vec<Option<Outcome>> = jobs.iter().map(|_| None).collect();
    // A payment named twice in one batch (a redelivery next to a republish)
    // is collected by its first job only.
    let mut seen = HashSet::new();
    for (i, job) in jobs.iter().enumerate() {
        if !seen.insert(job.job.payment_id) {
            outcomes[i] = Some(Outcome::Skipped("named twice in one batch"));
        }
    }
    let wanted: Vec<PaymentJob> = jobs
        .iter()
        .zip(&outcomes)
        .filter(|(_, outcome)| outcome.is_none())
        .map(|(job, _)| job.job.clone())
        .collect();
    let lease = ctx.settings.payment_lease;
    let (claimed, others, advances) = run_job(&ctx.pool, move |conn| {
        let claimed = payments_store::claim_all(conn, &wanted, lease)?;
        let unclaimed: Vec<PaymentId> = wanted
            .iter()
            .map(|job| job.payment_id)
            .filter(|id| !claimed.iter().any(|p| p.id() == *id))
            .collect();
        let others = payments_store::find_all(conn, &unclaimed)?;
        let advance_ids: Vec<AdvanceId> = claimed.iter().map(PaymentRow::advance).collect();
        let advances = advances_store::find_all(conn, &advance_ids)?;
        Ok((claimed, others, advances))
    })
    .await?;

    let mut collecting = Vec::new();
    for (i, job) in jobs.iter().enumerate() {
        if outcomes[i].is_some() {
            continue;
        }
        let PaymentJob {
            payment_id,
            advance_id,
        } = job.job;
        let payment = claimed.iter().find(|p| p.id == payment_id.0);
        let advance = advances.iter().find(|a| a.id == advance_id.0);
        outcomes[i] = match (payment, advance) {
            (Some(payment), Some(advance)) => {
                collecting.push((i, payment, advance));
                None
            }
            (Some(_), None) => Some(Outcome::Invalid(format!("no advance {advance_id}"))),
            (None, _) => Some(match others.iter().find(|p| p.id == payment_id.0) {
                None => Outcome::Invalid(format!("no payment {payment_id}")),
                Some(found) if found.advance() != advance_id => Outcome::Invalid(format!(
                    "payment {payment_id} belongs to advance {}, not {advance_id}",
                    found.advance()
                )),
                Some(found) => Outcome::Skipped(skip_reason(found)),
            }),
        };
    }

    let withdrawals = collecting.iter().map(|(i, payment, advance)| {
        let job = &jobs[*i];
        let (span, trace) = service_kit::continued_span!(job.trace.as_ref(), "collect payment",
            request_id = %job.request_id, payment_id = %payment.id, advance_id = %advance.id);
        async move {
            let origin = Origin {
                request_id: Some(&job.request_id),
                trace: trace.as_ref(),
            };
            withdraw(ctx, payment, advance, origin).await
        }
        .instrument(span)
    });
    let answers = futures::future::join_all(withdrawals).await;

    let mut record = Outcomes::default();
    for ((i, payment, advance), answer) in collecting.into_iter().zip(answers) {
        outcomes[i] = Some(match answer {
            Ok(Withdrawal::Collected(transaction)) => {
                record.paid.push(Paid {
                    payment: payment.id(),
                    transaction: transaction.transaction_id,
                    advance: payment.advance(),
                });
                Outcome::Collected
            }
            Ok(Withdrawal::Refused(transaction)) => {
                let reason = transaction.reason.unwrap_or_else(|| "refused".to_owned());
                record
                    .refused
                    .push((payment.clone(), reason, advance.interval()));
                Outcome::Refused
            }
            Err(error) => {
                let wait = domain::retry_backoff(payment.attempts);
                tracing::warn!(payment_id = %payment.id, error = %error, retry_in_s = wait.as_secs(), "payment deferred");
                record.deferred.push((payment.id(), wait));
                Outcome::Deferred
            }
        });
    }
    if !record.is_empty() {
        run_job(&ctx.pool, move |conn| {
            conn.transaction(|conn| record.store(conn))
        })
        .await?;
    }
    Ok(outcomes
        .into_iter()
        .map(|outcome| outcome.unwrap_or(Outcome::Skipped("not looked at")))
        .collect())
}

/// Withdraws one claimed payment with the key derived from it.
async fn withdraw(
    ctx: &Context,
    payment: &PaymentRow,
    advance: &AdvanceRow,
    origin: Origin<'_>,
) -> Result<Withdrawal, crate::clients::accounts::AccountsError> {
    let advance_id = advance.id();
    let key = domain::payment_key(advance_id, payment.id());
    let reference = domain::payment_reference(advance_id, payment.id());
    let description = format!(
        "payment {} of {} of advance {advance_id}",
        payment.seq, advance.installments
    );
    let movement = Movement {
        account: advance.account(),
        amount: payment.amount,
        idempotency_key: &key,
        reference: &reference,
        description: &description,
        origin,
    };
    ctx.accounts.withdraw(&movement).await
}

/// A payment collected by an accounts-manager transaction.
struct Paid {
    payment: PaymentId,
    transaction: TransactionId,
    advance: AdvanceId,
}

/// What a batch's withdrawals came to, stored in one transaction.
#[derive(Default)]
struct Outcomes {
    paid: Vec<Paid>,
    /// `(payment, reason, the advance's interval)`.
    refused: Vec<(PaymentRow, String, std::time::Duration)>,
    /// `(payment, wait before it is published again)`.
    deferred: Vec<(shared_types::advances::PaymentId, std::time::Duration)>,
}

impl Outcomes {
    fn is_empty(&self) -> bool {
        self.paid.is_empty() && self.refused.is_empty() && self.deferred.is_empty()
    }

    /// Locks the advances involved (in id order, as every writer of an
    /// advance's payments does), then stores every outcome, what they did to
    /// each advance's figures (outstanding amount, missed chain) and marks
    /// the advances whose last payment this was as repaid.
    fn store(&self, conn: &mut diesel::PgConnection) -> Result<(), JobError> {
        let mut advances: Vec<AdvanceId> =
            self.refused.iter().map(|(p, _, _)| p.advance()).collect();
        advances.extend(self.paid.iter().map(|paid| paid.advance));
        advances.sort_unstable_by_key(|id| id.0);
        advances.dedup();
        let locked = advances_store::lock_all(conn, &advances)?;
        let paid: Vec<(PaymentId, TransactionId)> = self
            .paid
            .iter()
            .map(|paid| (paid.payment, paid.transaction))
            .collect();
        // Each advance's outcomes, by payment number: the order its missed
        // chain takes them in.
        let mut outcomes: BTreeMap<Uuid, Vec<(i32, overdue::Outcome)>> = BTreeMap::new();
        let mut collected: BTreeMap<Uuid, Decimal> = BTreeMap::new();
        let mut changes: Vec<(AdvanceId, AdvanceEventType)> = Vec::new();
        for marked in payments_store::mark_all_paid(conn, &paid)? {
            outcomes
                .entry(marked.advance_id)
                .or_default()
                .push((marked.seq, overdue::Outcome::Collected));
            *collected.entry(marked.advance_id).or_default() += marked.amount;
            changes.push((AdvanceId(marked.advance_id), AdvanceEventType::PaymentPaid));
        }
        for (payment, reason, interval) in &self.refused {
            if payments_store::mark_failed_and_roll_over(conn, payment, reason, *interval)? {
                outcomes.entry(payment.advance_id).or_default().push((
                    payment.seq,
                    overdue::Outcome::Failed {
                        amount: payment.amount,
                        due_at: payment.due_at,
                    },
                ));
                changes.push((payment.advance(), AdvanceEventType::PaymentFailed));
            }
        }
        for (payment, wait) in &self.deferred {
            payments_store::release(conn, *payment, *wait)?;
        }
        let figures: Vec<Figures> = locked
            .iter()
            .filter_map(|advance| {
                let mut own = outcomes.remove(&advance.id)?;
                own.sort_by_key(|(seq, _)| *seq);
                Some(Figures {
                    advance: advance.id(),
                    collected: collected.get(&advance.id).copied().unwrap_or_default(),
                    overdue: own.iter().fold(advance.overdue(), |chain, (_, outcome)| {
                        chain.after(*outcome)
                    }),
                })
            })
            .collect();
        advances_store::record_figures(conn, &figures)?;
        // The payments' events carry their advances before any is repaid.
        events::record(conn, &changes)?;
        let repaid = advances_store::mark_repaid_if_complete_all(conn, &advances)?;
        for advance in &repaid {
            tracing::info!(advance_id = %advance, "advance repaid");
        }
        let repaid: Vec<(AdvanceId, AdvanceEventType)> = repaid
            .into_iter()
            .map(|advance| (advance, AdvanceEventType::AdvanceRepaid))
            .collect();
        events::record(conn, &repaid)?;
        Ok(())
    }
}

fn skip_reason(payment: &PaymentRow) -> &'static str {
    match payment.status() {
        PaymentStatus::Paid => "already paid",
        PaymentStatus::Failed => "already failed",
        PaymentStatus::Cancelled => "cancelled by an early payoff",
        PaymentStatus::Processing => "held by another worker",
        PaymentStatus::Scheduled => {
            "not due yet, waiting for a retry, or its advance is not active"
        }
    }
}

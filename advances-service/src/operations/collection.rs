//! Collecting one payment: claim it, withdraw it through accounts-manager with
//! a key derived from the payment, store the outcome. The job is acknowledged
//! only after this returns.

use diesel::Connection;
use service_kit::error::ApiError;
use shared_types::advances::{AdvanceId, PaymentJob, PaymentStatus};

use super::run;
use crate::clients::accounts::{Movement, Withdrawal};
use crate::context::Context;
use crate::domain;
use crate::store::advances as advances_store;
use crate::store::payments as payments_store;

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

pub async fn collect(
    ctx: &Context,
    job: PaymentJob,
    request_id: Option<&str>,
) -> Result<Outcome, ApiError> {
    let lease = ctx.settings.payment_lease;
    let claimed = run(&ctx.pool, move |conn| {
        let claimed = payments_store::claim(conn, job.payment_id, job.advance_id, lease)?;
        let found = match claimed {
            Some(_) => None,
            None => payments_store::find(conn, job.payment_id)?,
        };
        let advance = advances_store::find(conn, job.advance_id)?;
        Ok((claimed, found, advance))
    })
    .await?;
    let (payment, advance) = match claimed {
        (Some(payment), _, Some(advance)) => (payment, advance),
        (None, None, _) => return Ok(Outcome::Invalid(format!("no payment {}", job.payment_id))),
        (None, Some(found), _) if found.advance() != job.advance_id => {
            return Ok(Outcome::Invalid(format!(
                "payment {} belongs to advance {}, not {}",
                job.payment_id,
                found.advance(),
                job.advance_id
            )))
        }
        (None, Some(found), _) => return Ok(Outcome::Skipped(skip_reason(&found))),
        (Some(_), _, None) => {
            return Ok(Outcome::Invalid(format!("no advance {}", job.advance_id)))
        }
    };

    let key = domain::payment_key(job.advance_id, job.payment_id);
    let reference = domain::payment_reference(job.advance_id, job.payment_id);
    let description = format!(
        "payment {} of {} of advance {}",
        payment.seq, advance.installments, job.advance_id
    );
    let movement = Movement {
        account: advance.account(),
        amount: payment.amount,
        idempotency_key: &key,
        reference: &reference,
        description: &description,
        request_id,
    };
    let advance_id: AdvanceId = job.advance_id;
    match ctx.accounts.withdraw(&movement).await {
        Ok(Withdrawal::Collected(transaction)) => {
            run(&ctx.pool, move |conn| {
                conn.transaction(|conn| {
                    advances_store::lock(conn, advance_id)?;
                    payments_store::mark_paid(conn, job.payment_id, transaction.transaction_id.0)?;
                    if advances_store::mark_repaid_if_complete(conn, advance_id)? {
                        tracing::info!(advance_id = %advance_id, "advance repaid");
                    }
                    Ok::<_, ApiError>(())
                })
            })
            .await?;
            Ok(Outcome::Collected)
        }
        Ok(Withdrawal::Refused(transaction)) => {
            let reason = transaction.reason.unwrap_or_else(|| "refused".to_owned());
            let interval = advance.interval();
            run(&ctx.pool, move |conn| {
                conn.transaction(|conn| {
                    advances_store::lock(conn, advance_id)?;
                    payments_store::mark_failed_and_roll_over(conn, &payment, &reason, interval)?;
                    Ok::<_, ApiError>(())
                })
            })
            .await?;
            Ok(Outcome::Refused)
        }
        Err(error) => {
            let wait = domain::retry_backoff(payment.attempts);
            tracing::warn!(payment_id = %job.payment_id, error = %error, retry_in_s = wait.as_secs(), "payment deferred");
            run(&ctx.pool, move |conn| {
                Ok(payments_store::release(conn, job.payment_id, wait)?)
            })
            .await?;
            Ok(Outcome::Deferred)
        }
    }
}

fn skip_reason(payment: &payments_store::PaymentRow) -> &'static str {
    match payment.status() {
        PaymentStatus::Paid => "already paid",
        PaymentStatus::Failed => "already failed",
        PaymentStatus::Processing => "held by another worker",
        PaymentStatus::Scheduled => {
            "not due yet, waiting for a retry, or its advance is not active"
        }
    }
}

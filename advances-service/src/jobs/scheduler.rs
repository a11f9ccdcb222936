//! The scheduler: every `SCHEDULER_INTERVAL` it publishes a job for each due
//! payment and retries disbursements; every `RECONCILE_INTERVAL` it reconciles.
//!
//! Publishing is an outbox: the due payments are locked (`FOR UPDATE SKIP
//! LOCKED`, so several schedulers share the work instead of repeating it), the
//! jobs published and confirmed by the broker, and only then is each payment
//! marked published, in the same transaction. A crash before that commit
//! leaves the payments unmarked, and the next tick publishes them again; a
//! duplicate job is harmless, a lost one is not.

use futures::future::join_all;
use service_kit::shutdown::Shutdown;
use service_kit::trace::TraceParent;
use shared_types::advances::{AdvanceId, PaymentId, PaymentJob};
use tracing::Instrument;

use crate::clients::accounts::Origin;
use crate::clients::broker::{self, BrokerError};
use crate::context::Context;
use crate::error::JobError;
use crate::operations::{advances, portfolio, reconciliation, run_job};
use crate::store::payments;

/// Jobs published per transaction.
const BATCH: i64 = 500;

pub async fn run(ctx: Context, mut shutdown: Shutdown) {
    tracing::info!("scheduler started");
    // One channel for every tick, made again when it breaks: a channel
    // opened and closed on every tick cost two round trips each time, and
    // the idle scheduler's memory grew by a few bytes a tick.
    let mut publisher = None;
    loop {
        if let Err(error) = tick(&ctx, &mut publisher).await {
            tracing::warn!(error = %service_kit::error::error_chain(&error), "scheduler tick failed");
        }
        if shutdown.sleep(ctx.settings.scheduler_interval).await {
            break;
        }
    }
    tracing::info!("scheduler stopped");
}

pub async fn reconcile_periodically(ctx: Context, mut shutdown: Shutdown) {
    loop {
        if shutdown.sleep(ctx.settings.reconcile_interval).await {
            break;
        }
        let (span, trace) = service_kit::continued_span!(None, "reconciliation");
        let origin = Origin {
            request_id: None,
            trace: trace.as_ref(),
        };
        match reconciliation::reconcile(&ctx, origin)
            .instrument(span)
            .await
        {
            Ok(report) => tracing::info!(
                advances_checked = report.advances_checked,
                mismatches = report.mismatches.len(),
                "reconciliation finished"
            ),
            Err(error) => {
                tracing::warn!(error = %service_kit::error::error_chain(&error), "reconciliation failed")
            }
        }
    }
}

/// One round: how overdue payments are, disbursements to retry, then every
/// due payment's job.
pub async fn tick(
    ctx: &Context,
    publisher: &mut Option<lapin::Channel>,
) -> Result<usize, JobError> {
    let overdue = run_job(&ctx.pool, |conn| Ok(payments::oldest_due_age(conn)?)).await?;
    ctx.metrics.overdue.set(overdue);
    portfolio::refresh_gauge(ctx).await?;
    advances::retry_disbursements(ctx).await?;
    let mut published = 0;
    loop {
        let (found, confirmed) = publish_batch(ctx, publisher).await?;
        published += confirmed;
        if found < BATCH as usize || confirmed < found {
            return Ok(published);
        }
    }
}

/// Locks a batch of due payments, publishes their jobs, marks the confirmed
/// ones; returns (found, confirmed).
async fn publish_batch(
    ctx: &Context,
    publisher: &mut Option<lapin::Channel>,
) -> Result<(usize, usize), JobError> {
    let channel = match publisher.take().filter(|c| c.status().connected()) {
        Some(channel) => channel,
        None => ctx.broker.publisher().await?,
    };
    let republish_after = ctx.settings.republish_after;
    let metrics = ctx.metrics.clone();
    let handle = tokio::runtime::Handle::current();
    let publishing = channel.clone();
    let result = run_job(&ctx.pool, move |conn| {
        use diesel::Connection;
        conn.transaction(|conn| {
            let due = payments::lock_due_for_publishing(conn, republish_after, BATCH)?;
            if due.is_empty() {
                return Ok((0, 0));
            }
            // The rows stay locked while the broker confirms: another
            // scheduler skips them instead of publishing them too.
            let confirmed: Vec<PaymentId> = handle.block_on(publish_all(&publishing, &due));
            metrics
                .published
                .with_label_values(&["confirmed"])
                .inc_by(confirmed.len() as u64);
            metrics
                .published
                .with_label_values(&["failed"])
                .inc_by((due.len() - confirmed.len()) as u64);
            payments::mark_published(conn, &confirmed)?;
            Ok((due.len(), confirmed.len()))
        })
    })
    .await;
    // Kept for the next batch while every job on it was confirmed; after a
    // failure (a nack, a confirm that did not come, a broken channel) the
    // next batch gets a new one.
    match &result {
        Ok((found, confirmed)) if confirmed == found && channel.status().connected() => {
            *publisher = Some(channel);
        }
        _ => {
            let closing = channel.close(200, "publishing failed".into());
            let _ = tokio::time::timeout(std::time::Duration::from_secs(5), closing).await;
        }
    }
    result
}

/// Publishes every job at once, then waits for all the confirms; returns the
/// payments whose job the broker confirmed.
async fn publish_all(channel: &lapin::Channel, due: &[payments::DueJob]) -> Vec<PaymentId> {
    let sends = due.iter().map(|job| async move {
        let message = PaymentJob {
            payment_id: PaymentId(job.id),
            advance_id: AdvanceId(job.advance_id),
        };
        // The job continues the trace of the request that made its advance.
        let advance_trace = job.traceparent.as_deref().and_then(TraceParent::parse);
        let (span, trace) = service_kit::continued_span!(advance_trace.as_ref(), "publish payment job",
            payment_id = %job.id, advance_id = %job.advance_id, otel.kind = "producer");
        match broker::publish(channel, &message, trace.as_ref()).instrument(span).await {
            Ok(()) => Some(message.payment_id),
            Err(error @ (BrokerError::Unavailable(_) | BrokerError::NotConfirmed(_) | BrokerError::Timeout)) => {
                tracing::warn!(payment_id = %job.id, error = %error, "job not published; the next tick retries");
                None
            }
        }
    });
    join_all(sends).await.into_iter().flatten().collect()
}

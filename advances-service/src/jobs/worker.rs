//! The worker: consumes payment jobs with manual acks and a bounded prefetch,
//! collects the payments (the jobs that have arrived together as one batch),
//! and acknowledges each only after its outcome is stored.
//! A body that is not a job is rejected without requeue, so RabbitMQ
//! dead-letters it to `advances.payments.dead`, and the worker carries on. A
//! broken connection is made again with a backoff; unacknowledged jobs are
//! redelivered by the broker meanwhile.

use std::sync::Arc;
use std::time::Duration;

use futures::{FutureExt, StreamExt};
use lapin::message::Delivery;
use lapin::options::{
    BasicAckOptions, BasicCancelOptions, BasicConsumeOptions, BasicNackOptions, BasicQosOptions,
    BasicRejectOptions,
};
use lapin::types::FieldTable;
use service_kit::shutdown::Shutdown;
use shared_types::advances::PaymentJob;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tracing::Instrument;

use crate::clients::broker::{self, BrokerError, QUEUE};
use crate::context::Context;
use crate::operations::collection::{collect_all, Job, Outcome};
use crate::operations::run_job;

/// How many batches one worker collects at once. With all of them busy, the
/// jobs that arrive meanwhile wait and then go together in the next batch.
const BATCHES_IN_FLIGHT: usize = 4;

pub async fn run(ctx: Context, mut shutdown: Shutdown) {
    tracing::info!("worker started");
    let mut failures: u32 = 0;
    loop {
        match consume(&ctx, &mut shutdown).await {
            Ok(()) => break,
            Err(error) => {
                failures = failures.saturating_add(1);
                let wait = Duration::from_millis(250u64 << failures.min(5));
                tracing::warn!(error = %error, retry_in_ms = wait.as_millis() as u64, "worker lost RabbitMQ; reconnecting");
                if shutdown.sleep(wait).await {
                    break;
                }
            }
        }
    }
    tracing::info!("worker stopped");
}

/// Consumes until a stop is asked for (`Ok`) or the connection breaks (`Err`).
async fn consume(ctx: &Context, shutdown: &mut Shutdown) -> Result<(), BrokerError> {
    let connection = ctx.broker.connection().await?;
    let channel = connection.create_channel().await?;
    let concurrency = ctx.settings.worker_concurrency;
    channel
        .basic_qos(concurrency, BasicQosOptions::default())
        .await?;
    let mut consumer = channel
        .basic_consume(
            QUEUE.into(),
            "".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await?;
    let tag = consumer.tag();
    let batches = Arc::new(Semaphore::new(BATCHES_IN_FLIGHT));
    let mut in_hand = JoinSet::new();
    let stopped = loop {
        tokio::select! {
            _ = shutdown.wait() => break Ok(()),
            next = consumer.next() => match next {
                Some(Ok(delivery)) => {
                    // While every batch slot is busy, deliveries pile up (up to
                    // the prefetch); the next batch takes all that have arrived.
                    let Ok(permit) = batches.clone().acquire_owned().await else {
                        break Ok(());
                    };
                    let mut batch = vec![delivery];
                    let mut broken = None;
                    while batch.len() < usize::from(concurrency) {
                        match consumer.next().now_or_never() {
                            Some(Some(Ok(delivery))) => batch.push(delivery),
                            Some(Some(Err(error))) => {
                                broken = Some(BrokerError::from(error));
                                break;
                            }
                            Some(None) | None => break,
                        }
                    }
                    let ctx = ctx.clone();
                    in_hand.spawn(async move {
                        handle(&ctx, batch).await;
                        drop(permit);
                    });
                    if let Some(error) = broken {
                        break Err(error);
                    }
                }
                Some(Err(error)) => break Err(BrokerError::from(error)),
                None => break Err(BrokerError::NotConfirmed("the consumer was cancelled")),
            },
        }
        while in_hand.try_join_next().is_some() {}
    };
    // Finish the jobs in hand (each is acked when its outcome is stored); the
    // ones prefetched but not started go back to the queue with the channel.
    let _ = channel
        .basic_cancel(tag, BasicCancelOptions::default())
        .await;
    while in_hand.join_next().await.is_some() {}
    let _ = channel.close(200, "worker stopping".into()).await;
    stopped
}

/// Collects a batch of deliveries and acknowledges each as its outcome says.
async fn handle(ctx: &Context, deliveries: Vec<Delivery>) {
    let count = |outcome: &str| ctx.metrics.jobs.with_label_values(&[outcome]).inc();
    let mut jobs = Vec::with_capacity(deliveries.len());
    let mut taken = Vec::with_capacity(deliveries.len());
    for delivery in deliveries {
        match serde_json::from_slice::<PaymentJob>(&delivery.data) {
            Ok(job) => {
                let request_id = uuid::Uuid::new_v4().to_string();
                let trace = broker::trace_of(&delivery.properties);
                jobs.push(Job {
                    job,
                    request_id,
                    trace,
                });
                taken.push(delivery);
            }
            Err(error) => {
                tracing::warn!(error = %error, body = %String::from_utf8_lossy(&delivery.data), "malformed job dead-lettered");
                dead_letter(
                    ctx,
                    delivery,
                    &format!("not a payment job: {error}"),
                    &count,
                )
                .await;
            }
        }
    }
    if jobs.is_empty() {
        return;
    }
    match collect_all(ctx, &jobs).await {
        Ok(outcomes) => {
            // Settled together: lapin writes the acks of the batch in one go
            // instead of a write and two wake-ups per ack.
            let settling =
                jobs.iter()
                    .zip(taken)
                    .zip(outcomes)
                    .map(|((job, delivery), outcome)| {
                        let (span, _) = service_kit::continued_span!(job.trace.as_ref(), "job",
                    request_id = %job.request_id, payment_id = %job.job.payment_id,
                    advance_id = %job.job.advance_id);
                        settle(ctx, outcome, delivery, &count).instrument(span)
                    });
            futures::future::join_all(settling).await;
        }
        Err(error) => {
            // The database did not take the outcomes: give the jobs back.
            tracing::warn!(error = %service_kit::error::error_chain(&error), jobs = jobs.len(), "jobs failed; requeued");
            tokio::time::sleep(Duration::from_secs(1)).await;
            for delivery in taken {
                let _ = delivery
                    .acker
                    .nack(BasicNackOptions {
                        requeue: true,
                        multiple: false,
                    })
                    .await;
            }
        }
    }
}

/// Acknowledges a job whose outcome is stored, or dead-letters one that is
/// not a job this service can act on.
async fn settle(ctx: &Context, outcome: Outcome, delivery: Delivery, count: &impl Fn(&str)) {
    if let Outcome::Invalid(why) = outcome {
        tracing::warn!(why, "job dead-lettered");
        dead_letter(ctx, delivery, &why, count).await;
        return;
    }
    let label = match outcome {
        Outcome::Collected => "collected",
        Outcome::Refused => "refused",
        Outcome::Deferred => "deferred",
        Outcome::Skipped(_) | Outcome::Invalid(_) => "skipped",
    };
    tracing::info!(outcome = label, "job done");
    count(label);
    if let Err(error) = delivery.acker.ack(BasicAckOptions::default()).await {
        // The outcome is stored; a redelivery will find nothing to do.
        tracing::warn!(error = %error, "ack failed");
    }
}

/// Keeps a job the worker cannot act on in the database, then rejects it so
/// that RabbitMQ dead-letters it to `advances.payments.dead`. If the database
/// does not take it, the job goes back to the queue instead: every dead
/// letter is kept.
async fn dead_letter(ctx: &Context, delivery: Delivery, reason: &str, count: &impl Fn(&str)) {
    let (body, reason) = (delivery.data.clone(), reason.to_owned());
    let kept = run_job(&ctx.pool, move |conn| {
        Ok(crate::store::dead_letters::insert(conn, &body, &reason)?)
    })
    .await;
    match kept {
        Ok(()) => {
            count("dead_lettered");
            let _ = delivery
                .acker
                .reject(BasicRejectOptions { requeue: false })
                .await;
        }
        Err(error) => {
            tracing::warn!(error = %service_kit::error::error_chain(&error), "a dead letter could not be kept; requeued");
            tokio::time::sleep(Duration::from_secs(1)).await;
            let _ = delivery
                .acker
                .nack(BasicNackOptions {
                    requeue: true,
                    multiple: false,
                })
                .await;
        }
    }
}

//! The ledger engine: the one way anything is written to the ledger. Every
//! command (open an account, deposit, withdraw, transfer, reserve, capture,
//! release) is submitted here; commands that arrive together are applied
//! together, many to one database transaction, each with its own outcome, as
//! TigerBeetle applies a batch.
//!
//! Commands queue on a channel. A few lanes each take whatever is queued (up
//! to the batch size; there is no waiting for a batch to fill, so a lone
//! command goes at once) and apply it (`batch`): this pays one commit (one
//! WAL flush) and a handful of round trips per batch instead of per request,
//! and a hot account's row lock is taken once per batch.
//!
//! A batch that fails as a whole before its commit (a constraint the code did
//! not foresee, a deadlock with another writer) is rolled back and its
//! commands are applied again as batches of one, so that one command's
//! failure is only its own. A batch whose commit fails without an answer may
//! or may not have committed: its requests get `503`, and an
//! `Idempotency-Key` retry answers with what happened.

mod batch;
mod keys;

use std::sync::Arc;

use prometheus::{Histogram, HistogramOpts, IntCounterVec, IntGauge};
use service_kit::error::error_chain;
use service_kit::metrics::HttpMetrics;
use tokio::sync::{mpsc, oneshot, Mutex};
use tokio::task::JoinHandle;

use crate::domain::commands::{Command, SYSTEM_SHARDS};
use crate::error::ApiError;
use crate::operations::{Idempotency, Reply};
use crate::store::PgPool;
use batch::{BatchFailure, KnownCurrencies};

type Answer = Result<Reply, ApiError>;

/// A command as a caller sent it, with its idempotency key.
#[derive(Debug, Clone)]
pub struct Request {
    pub command: Command,
    pub idempotency: Option<Idempotency>,
    /// The name of the key that asked (recorded as `created_by`).
    pub created_by: String,
}

struct Job {
    request: Request,
    answer: oneshot::Sender<Answer>,
}

/// What the engine tells operators.
#[derive(Clone)]
pub struct Metrics {
    /// `ledger_movements_queued`: submitted, not yet taken into a batch.
    pub queued: IntGauge,
    /// `ledger_batch_size`: commands per batch.
    pub batch_size: Histogram,
    /// `ledger_batches_total{outcome}`: committed, rolled_back (then applied
    /// one by one), commit_unknown.
    pub batches: IntCounterVec,
}

impl Metrics {
    pub fn register(registry: &HttpMetrics) -> Result<Self, prometheus::Error> {
        Ok(Self {
            queued: registry.register(IntGauge::new(
                "ledger_movements_queued",
                "Commands waiting for a batch",
            )?)?,
            batch_size: registry.register(Histogram::with_opts(
                HistogramOpts::new("ledger_batch_size", "Commands per group-commit batch").buckets(
                    vec![1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0],
                ),
            )?)?,
            batches: registry.counter(
                "ledger_batches_total",
                "Group-commit batches by outcome",
                &["outcome"],
            )?,
        })
    }
}

/// Where commands are submitted. Cloning it is cheap; the lanes stop when the
/// last clone is dropped.
#[derive(Clone)]
pub struct Ledger {
    queue: mpsc::Sender<Job>,
    metrics: Metrics,
}

impl Ledger {
    /// Starts `lanes` lanes taking batches of up to `batch_size` commands,
    /// and answers their handles: a lane ends once every clone of the
    /// `Ledger` is dropped and what was queued is applied (a stopping service
    /// drains its requests, then joins the lanes). Must be called inside a
    /// tokio runtime.
    pub fn start(
        pool: PgPool,
        lanes: usize,
        batch_size: usize,
        metrics: Metrics,
    ) -> (Self, Vec<JoinHandle<()>>) {
        let (queue, receiver) = mpsc::channel(lanes * batch_size * 2);
        let receiver = Arc::new(Mutex::new(receiver));
        let currencies = KnownCurrencies::default();
        // Each lane books money from and to the outside, and revenue, on a
        // system-account shard of its own, so lanes never wait on each other
        // for a system account. Where the shards start is random, so that
        // several instances spread over them too.
        let first_shard = i16::from(uuid::Uuid::new_v4().as_bytes()[0]) % SYSTEM_SHARDS;
        let mut handles = Vec::with_capacity(lanes);
        for lane in 0..lanes {
            let lane = Lane {
                receiver: receiver.clone(),
                pool: pool.clone(),
                currencies: currencies.clone(),
                shard: (first_shard + i16::try_from(lane % 64).unwrap_or(0)) % SYSTEM_SHARDS,
                batch_size,
                metrics: metrics.clone(),
            };
            handles.push(tokio::spawn(lane.run()));
        }
        (Self { queue, metrics }, handles)
    }

    /// Applies the command with the next batch and answers with its outcome.
    pub async fn submit(
        &self,
        command: Command,
        idempotency: Option<Idempotency>,
        created_by: String,
    ) -> Answer {
        let (answer, answered) = oneshot::channel();
        let request = Request {
            command,
            idempotency,
            created_by,
        };
        self.metrics.queued.inc();
        if self.queue.send(Job { request, answer }).await.is_err() {
            self.metrics.queued.dec();
            return Err(ApiError::Unavailable("the ledger is shutting down".into()));
        }
        answered
            .await
            .map_err(|_| ApiError::internal("a batch ended without answering"))?
    }
}

struct Lane {
    receiver: Arc<Mutex<mpsc::Receiver<Job>>>,
    pool: PgPool,
    currencies: KnownCurrencies,
    /// The system-account shard of this lane's batches.
    shard: i16,
    batch_size: usize,
    metrics: Metrics,
}

impl Lane {
    async fn run(self) {
        loop {
            let mut jobs = Vec::with_capacity(self.batch_size);
            let taken = self
                .receiver
                .lock()
                .await
                .recv_many(&mut jobs, self.batch_size)
                .await;
            if taken == 0 {
                return; // every sender is gone
            }
            self.metrics.queued.sub(taken as i64);
            self.metrics.batch_size.observe(taken as f64);
            let outcome = self.run_batch(jobs).await;
            self.metrics.batches.with_label_values(&[outcome]).inc();
        }
    }

    /// Applies a batch and answers its requests; returns the batch's outcome label.
    async fn run_batch(&self, jobs: Vec<Job>) -> &'static str {
        let (requests, answers): (Vec<_>, Vec<_>) = jobs
            .into_iter()
            .map(|job| (job.request, job.answer))
            .unzip();
        let requests: Arc<[Request]> = requests.into();
        let outcome = self.apply(requests.clone()).await;
        match outcome {
            Ok(outcomes) => {
                for (answer, outcome) in answers.into_iter().zip(outcomes) {
                    // A caller that went away no longer waits for its answer.
                    let _ = answer.send(outcome);
                }
                "committed"
            }
            Err(BatchFailure::RolledBack(error)) if requests.len() > 1 => {
                tracing::warn!(error = %error_chain(&error), commands = requests.len(),
                    "a batch was rolled back; applying its commands as batches of one");
                let one_by_one = requests
                    .iter()
                    .zip(answers)
                    .map(|(request, answer)| async move {
                        let outcome = self.apply(Arc::new([request.clone()])).await;
                        let _ = answer.send(match outcome {
                            Ok(mut answers) => answers
                                .pop()
                                .unwrap_or_else(|| Err(ApiError::internal("no answer"))),
                            Err(BatchFailure::RolledBack(e) | BatchFailure::CommitUnknown(e)) => {
                                Err(e)
                            }
                        });
                    });
                futures::future::join_all(one_by_one).await;
                "rolled_back"
            }
            Err(BatchFailure::RolledBack(error)) => {
                // A batch of one answers with its own error; more answers are
                // left only when the batch's task itself failed.
                let why = error_chain(&error);
                let mut error = Some(error);
                for answer in answers {
                    let error = error
                        .take()
                        .unwrap_or_else(|| ApiError::internal(why.clone()));
                    let _ = answer.send(Err(error));
                }
                "rolled_back"
            }
            Err(BatchFailure::CommitUnknown(error)) => {
                tracing::error!(error = %error_chain(&error), commands = answers.len(),
                    "a batch's commit failed without an answer");
                let why = error_chain(&error);
                for answer in answers {
                    let _ = answer.send(Err(ApiError::Unavailable(why.clone().into())));
                }
                "commit_unknown"
            }
        }
    }

    /// Applies requests as one batch on a pooled connection, in a blocking task.
    async fn apply(&self, requests: Arc<[Request]>) -> Result<Vec<Answer>, BatchFailure> {
        let currencies = self.currencies.clone();
        let shard = self.shard;
        service_kit::db::blocking(&self.pool, move |conn| {
            batch::apply(conn, &currencies, shard, &requests)
        })
        .await
    }
}

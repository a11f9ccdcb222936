//! Group commit: deposits, withdrawals and transfers that arrive together are
//! applied together, many to one database transaction, each with its own
//! outcome, as TigerBeetle applies a batch.
//!
//! Requests queue on a channel. A few lanes each take whatever is queued (up
//! to the batch size; there is no waiting for a batch to fill, so a lone
//! request goes at once) and apply it in one transaction of a fixed number of
//! statements: take the idempotency keys, lock every account the batch
//! touches in id order, decide each movement in order against the balances
//! the earlier ones left, then write every balance, transaction, entry and
//! stored answer in one statement, and commit once. Only then does any
//! request get its answer, so every acknowledged movement is committed.
//!
//! This pays one commit (one WAL flush) and a handful of round trips per
//! batch instead of per request, and a hot account's row lock is taken once
//! per batch instead of once per transfer.
//!
//! A batch that fails as a whole before its commit (a constraint the code did
//! not foresee, a deadlock with another writer) is rolled back and its
//! requests are applied again one by one, so that one request's failure is
//! only its own. A batch whose commit fails without an answer may or may not
//! have committed: its requests get `503`, and an `Idempotency-Key` retry
//! answers with what happened.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use actix_web::web;
use chrono::{DateTime, Utc};
use diesel::pg::PgConnection;
use diesel::Connection;
use prometheus::{Histogram, HistogramOpts, IntCounterVec, IntGauge};
use rust_decimal::Decimal;
use service_kit::error::error_chain;
use service_kit::idempotency::IdempotencyKey;
use service_kit::idempotency_store;
use service_kit::metrics::HttpMetrics;
use shared_types::accounts::{AccountId, TransactionId};
use tokio::sync::{mpsc, oneshot, Mutex};
use uuid::Uuid;

use super::accounts::not_found;
use super::movements::{self, missing_system_account, MovementRequest, Outcome, Side};
use super::Reply;
use crate::domain::ledger::{self, AccountKind, AccountState, Bucket, Decision};
use crate::domain::{CallerText, Currency};
use crate::error::ApiError;
use crate::store::batch::{LockedAccount, NewKey, NewRow, Writes};
use crate::store::transactions::{kind_str, TransactionRow};
use crate::store::{self, PgPool};

type Answer = Result<Reply, ApiError>;

struct Job {
    request: MovementRequest,
    answer: oneshot::Sender<Answer>,
}

/// What group commit tells operators.
#[derive(Clone)]
pub struct Metrics {
    /// `ledger_movements_queued`: submitted, not yet taken into a batch.
    pub queued: IntGauge,
    /// `ledger_batch_size`: movements per batch.
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
                "Movements waiting for a batch",
            )?)?,
            batch_size: registry.register(Histogram::with_opts(
                HistogramOpts::new("ledger_batch_size", "Movements per group-commit batch")
                    .buckets(vec![
                        1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0,
                    ]),
            )?)?,
            batches: registry.counter(
                "ledger_batches_total",
                "Group-commit batches by outcome",
                &["outcome"],
            )?,
        })
    }
}

/// Where movements are submitted. Cloning it is cheap; the lanes stop when the
/// last clone is dropped.
#[derive(Clone)]
pub struct GroupCommit {
    queue: mpsc::Sender<Job>,
    metrics: Metrics,
}

impl GroupCommit {
    /// Starts `lanes` lanes taking batches of up to `batch_size` movements.
    /// Must be called inside a tokio runtime.
    pub fn start(pool: PgPool, lanes: usize, batch_size: usize, metrics: Metrics) -> Self {
        let (queue, receiver) = mpsc::channel(lanes * batch_size * 2);
        let receiver = Arc::new(Mutex::new(receiver));
        for _ in 0..lanes {
            let lane = Lane {
                receiver: receiver.clone(),
                pool: pool.clone(),
                batch_size,
                metrics: metrics.clone(),
            };
            tokio::spawn(lane.run());
        }
        Self { queue, metrics }
    }

    /// Applies the movement with the next batch and answers with its outcome.
    pub async fn submit(&self, request: MovementRequest) -> Answer {
        let (answer, answered) = oneshot::channel();
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
            let outcome = run_batch(&self.pool, jobs).await;
            self.metrics.batches.with_label_values(&[outcome]).inc();
        }
    }
}

/// How a batch failed as a whole.
enum BatchFailure {
    /// Rolled back: nothing of it is written.
    RolledBack(ApiError),
    /// The commit failed without saying whether it happened.
    CommitUnknown(ApiError),
}

/// Applies a batch and answers its requests; returns the batch's outcome label.
async fn run_batch(pool: &PgPool, jobs: Vec<Job>) -> &'static str {
    let (requests, answers): (Vec<_>, Vec<_>) = jobs
        .into_iter()
        .map(|job| (job.request, job.answer))
        .unzip();
    let batch_pool = pool.clone();
    let applied = web::block(move || {
        let outcome = match batch_pool.get() {
            Ok(mut conn) => {
                let outcome = apply(&mut conn, &requests);
                if let Err(BatchFailure::RolledBack(e) | BatchFailure::CommitUnknown(e)) = &outcome
                {
                    service_kit::db::discard_if_unavailable(&mut conn, e);
                }
                outcome
            }
            Err(e) => Err(BatchFailure::RolledBack(e.into())),
        };
        (requests, outcome)
    })
    .await;
    match applied {
        Ok((_, Ok(outcomes))) => {
            for (answer, outcome) in answers.into_iter().zip(outcomes) {
                // A caller that went away no longer waits for its answer.
                let _ = answer.send(outcome);
            }
            "committed"
        }
        Ok((requests, Err(BatchFailure::RolledBack(error)))) => {
            tracing::warn!(error = %error_chain(&error), movements = requests.len(),
                "a batch was rolled back; applying its movements one by one");
            let one_by_one = requests.into_iter().zip(answers).map(|(request, answer)| {
                let pool = pool.clone();
                async move {
                    let _ = answer.send(movements::one_by_one(&pool, request).await);
                }
            });
            futures::future::join_all(one_by_one).await;
            "rolled_back"
        }
        Ok((_, Err(BatchFailure::CommitUnknown(error)))) => {
            tracing::error!(error = %error_chain(&error), movements = answers.len(),
                "a batch's commit failed without an answer");
            let why = error_chain(&error);
            for answer in answers {
                let _ = answer.send(Err(ApiError::Unavailable(why.clone().into())));
            }
            "commit_unknown"
        }
        Err(error) => {
            let why = error.to_string();
            for answer in answers {
                let _ = answer.send(Err(ApiError::internal(why.clone())));
            }
            "failed"
        }
    }
}

/// The whole batch in one database transaction: each request's answer, or
/// why the batch failed as a whole.
fn apply(
    conn: &mut PgConnection,
    requests: &[MovementRequest],
) -> Result<Vec<Answer>, BatchFailure> {
    let mut answers: Vec<Option<Answer>> = requests.iter().map(|_| None).collect();
    let mut committing = false;
    let written = conn.transaction(|conn| {
        take_keys(conn, requests, &mut answers)?;
        let writes = decide_all(conn, requests, &mut answers)?;
        store::batch::write(conn, writes)?;
        committing = true;
        Ok::<_, ApiError>(())
    });
    match written {
        Ok(()) => Ok(answers
            .into_iter()
            .map(|answer| {
                answer.unwrap_or_else(|| Err(ApiError::internal("a movement got no answer")))
            })
            .collect()),
        Err(error) if committing => Err(BatchFailure::CommitUnknown(error)),
        Err(error) => Err(BatchFailure::RolledBack(error)),
    }
}

/// Takes the batch's idempotency keys. A key in flight elsewhere (or twice in
/// this batch) answers `409`; a key with a stored answer replays it (or `422`
/// for a different request). The keys taken stay locked until the commit.
fn take_keys(
    conn: &mut PgConnection,
    requests: &[MovementRequest],
    answers: &mut [Option<Answer>],
) -> Result<(), ApiError> {
    let mut seen = HashSet::new();
    let mut keyed: Vec<(usize, &IdempotencyKey)> = Vec::new();
    for (i, request) in requests.iter().enumerate() {
        if let Some(idem) = &request.idempotency {
            if seen.insert(idem.key.as_str()) {
                keyed.push((i, &idem.key));
            } else {
                answers[i] = Some(Err(ApiError::IdempotencyKeyInFlight));
            }
        }
    }
    if keyed.is_empty() {
        return Ok(());
    }
    let keys: Vec<&IdempotencyKey> = keyed.iter().map(|(_, key)| *key).collect();
    let locked = idempotency_store::try_lock_all(conn, &keys)?;
    let mut held = Vec::with_capacity(keyed.len());
    for ((i, key), locked) in keyed.into_iter().zip(locked) {
        if locked {
            held.push((i, key));
        } else {
            answers[i] = Some(Err(ApiError::IdempotencyKeyInFlight));
        }
    }
    // A statement of its own, after the locks: one that took the locks and
    // read in the same snapshot could miss an answer committed in between.
    let keys: Vec<&IdempotencyKey> = held.iter().map(|(_, key)| *key).collect();
    let mut stored: HashMap<String, _> = idempotency_store::find_all(conn, &keys)?
        .into_iter()
        .collect();
    for (i, key) in held {
        if let (Some(stored), Some(idem)) = (stored.remove(key.as_str()), &requests[i].idempotency)
        {
            answers[i] = Some(idem.replay(stored).map_err(ApiError::from));
        }
    }
    Ok(())
}

/// Locks every account the unanswered requests touch, decides each in order
/// against the balances the earlier ones left, and returns what to write.
fn decide_all(
    conn: &mut PgConnection,
    requests: &[MovementRequest],
    answers: &mut [Option<Answer>],
) -> Result<Writes, ApiError> {
    let pending: Vec<usize> = (0..requests.len())
        .filter(|&i| answers[i].is_none())
        .collect();
    let mut named = Vec::new();
    let mut systems = Vec::new();
    for &i in &pending {
        let (source, destination) = requests[i].movement.sides();
        for side in [source, destination] {
            match side {
                Side::User(id) => named.push(id),
                Side::SystemOf(kind, owner) => systems.push((owner, kind)),
            }
        }
    }
    let locked = store::batch::lock(conn, &named, &systems)?;
    let mut books = Books::new(&locked);
    for i in pending {
        answers[i] = Some(books.post(&requests[i])?);
    }
    Ok(books.into_writes())
}

/// The locked accounts as the batch has left them so far, and its writes.
struct Books<'a> {
    locked: &'a [LockedAccount],
    accounts: HashMap<Uuid, AccountState>,
    now: DateTime<Utc>,
    deltas: HashMap<Uuid, (Decimal, Decimal)>,
    writes: Writes,
}

impl<'a> Books<'a> {
    fn new(locked: &'a [LockedAccount]) -> Self {
        let accounts = locked
            .iter()
            .map(|a| {
                let state = AccountState {
                    id: AccountId(a.id),
                    // The column's CHECK admits only the three kinds.
                    kind: AccountKind::parse(&a.kind).unwrap_or(AccountKind::User),
                    currency: a.currency.clone(),
                    balance: a.balance,
                    reserved: a.reserved,
                };
                (a.id, state)
            })
            .collect();
        Self {
            locked,
            accounts,
            now: locked.first().map_or_else(Utc::now, |a| a.now),
            deltas: HashMap::new(),
            writes: Writes::default(),
        }
    }

    fn user_account(&self, id: AccountId) -> Result<&AccountState, ApiError> {
        self.accounts
            .get(&id.0)
            .filter(|a| a.kind == AccountKind::User)
            .ok_or_else(|| not_found(id))
    }

    fn resolve(&self, side: Side) -> Result<AccountId, ApiError> {
        match side {
            Side::User(id) => self.user_account(id).map(|a| a.id),
            Side::SystemOf(kind, owner) => {
                let owner = self.user_account(owner)?;
                let shard = store::accounts::shard_of(owner.id);
                self.locked
                    .iter()
                    .find(|a| {
                        a.kind == kind.as_str() && a.currency == owner.currency && a.shard == shard
                    })
                    .map(|a| AccountId(a.id))
                    .ok_or_else(|| missing_system_account(kind, &owner.currency))
            }
        }
    }

    fn state(&self, id: AccountId) -> Result<&AccountState, ApiError> {
        self.accounts.get(&id.0).ok_or_else(|| not_found(id))
    }

    /// Decides one movement against the books and records what it writes:
    /// its answer, or (the outer error) why the whole batch cannot go on.
    /// Nothing is written for a request whose answer is an error.
    fn post(&mut self, request: &MovementRequest) -> Result<Answer, ApiError> {
        let movement = request.movement;
        let (source, destination) = movement.sides();
        let resolved = self.resolve(source).and_then(|source| {
            let destination = self.resolve(destination)?;
            let currency = Currency::parse(&self.state(source)?.currency)?;
            Ok((source, destination, currency))
        });
        let (source, destination, currency) = match resolved {
            Ok(resolved) => resolved,
            Err(error) => return Ok(Err(error)),
        };
        let (from, to) = (self.state(source)?, self.state(destination)?);
        let decision = ledger::decide(from, Bucket::Balance, to, Bucket::Balance, request.amount);
        let failure = match &decision {
            Decision::Post(_) => None,
            Decision::Refuse(reason) => Some(*reason),
        };
        let (shown_from, shown_to) = movement.shown();
        let description = ledger::describe(
            &ledger::Movement {
                kind: movement.kind(),
                amount: request.amount,
                currency: &currency,
                from: shown_from,
                to: shown_to,
                order: None,
                caller_description: request.notes.description.as_ref().map(CallerText::as_str),
            },
            failure,
        );
        let id = TransactionId(Uuid::now_v7());
        if let Decision::Post(postings) = decision {
            for posting in postings {
                let delta = self.deltas.entry(posting.account.0).or_default();
                let account = self
                    .accounts
                    .get_mut(&posting.account.0)
                    .ok_or_else(|| not_found(posting.account))?;
                match posting.bucket {
                    Bucket::Balance => {
                        account.balance += posting.amount;
                        delta.0 += posting.amount;
                    }
                    Bucket::Reserved => {
                        account.reserved += posting.amount;
                        delta.1 += posting.amount;
                    }
                }
                self.writes.entries.push((
                    id.0,
                    posting.account.0,
                    posting.bucket.as_str(),
                    posting.amount,
                ));
            }
        }
        let reference = request
            .notes
            .reference
            .as_ref()
            .map(|r| r.as_str().to_owned());
        self.writes.transactions.push(NewRow {
            id: id.0,
            kind: kind_str(movement.kind()),
            reason: failure.map(ledger::FailureReason::code),
            amount: request.amount.value(),
            currency: currency.as_str().to_owned(),
            from: shown_from.map(|a| a.0),
            to: shown_to.map(|a| a.0),
            reference: reference.clone(),
            description: description.clone(),
        });
        let outcome = Outcome {
            transaction: TransactionRow {
                id: id.0,
                kind: kind_str(movement.kind()).to_owned(),
                status: if failure.is_some() {
                    "failed"
                } else {
                    "success"
                }
                .to_owned(),
                reason: failure.map(|r| r.code().to_owned()),
                amount: request.amount.value(),
                currency: currency.as_str().to_owned(),
                from_account_id: shown_from.map(|a| a.0),
                to_account_id: shown_to.map(|a| a.0),
                order_id: None,
                service_id: None,
                reference,
                description,
                created_at: self.now,
            },
            from_balance: self.state(source)?.balance,
            to_balance: self.state(destination)?.balance,
        };
        let reply = outcome.reply(movement.shows_balances())?;
        if let Some(idem) = &request.idempotency {
            self.writes.keys.push(NewKey {
                key: idem.key.as_str().to_owned(),
                request_hash: idem.fingerprint.as_bytes().to_vec(),
                // HTTP statuses are three digits.
                status: i16::try_from(reply.status).unwrap_or(i16::MAX),
                body: reply.body.clone(),
            });
        }
        Ok(Ok(reply))
    }

    fn into_writes(mut self) -> Writes {
        self.writes.balances = self
            .deltas
            .into_iter()
            .map(|(id, (balance, reserved))| (id, balance, reserved))
            .collect();
        self.writes
    }
}

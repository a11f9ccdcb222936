//! Applying one batch of commands in one database transaction, in a fixed
//! number of statements: take the idempotency keys; lock the orders and
//! users the commands name and read them; lock every account the books plan
//! for, in id order; decide each command in order (`domain::commands`); write
//! everything in one statement; commit once. Only then does any request get
//! its answer, so every acknowledged command is committed.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use diesel::pg::PgConnection;
use diesel::Connection;
use uuid::Uuid;

use super::{keys, Answer, Request};
use crate::domain::books::{Books, Lock, Maker};
use crate::domain::commands::Names;
use crate::domain::Currency;
use crate::error::ApiError;
use crate::operations::answers;
use crate::store;
use crate::store::books::AccountLocks;

/// How a batch failed as a whole.
pub enum BatchFailure {
    /// Rolled back: nothing of it is written.
    RolledBack(ApiError),
    /// The commit failed without saying whether it happened.
    CommitUnknown(ApiError),
}

impl BatchFailure {
    fn error(&self) -> &ApiError {
        match self {
            Self::RolledBack(error) | Self::CommitUnknown(error) => error,
        }
    }
}

impl From<diesel::r2d2::PoolError> for BatchFailure {
    fn from(error: diesel::r2d2::PoolError) -> Self {
        Self::RolledBack(error.into())
    }
}

impl service_kit::db::WorkError for BatchFailure {
    fn database_unavailable(&self) -> bool {
        self.error().database_unavailable()
    }

    fn task_failed(error: tokio::task::JoinError) -> Self {
        tracing::error!(error = %error, "a batch's task failed");
        Self::RolledBack(ApiError::task_failed(error))
    }
}

/// The currencies known to have their system accounts; a command that opens
/// an account of another currency creates them first.
#[derive(Clone, Default)]
pub struct KnownCurrencies(Arc<Mutex<HashSet<Currency>>>);

impl KnownCurrencies {
    /// Creates the system accounts of the batch's new currencies, each in a
    /// statement of its own outside the batch's transaction (so two batches
    /// creating them never wait on each other while holding account locks).
    fn ensure(&self, conn: &mut PgConnection, requests: &[Request]) -> Result<(), ApiError> {
        let mut names = Names::default();
        for request in requests {
            request.command.name(&mut names);
        }
        for currency in &names.currencies {
            if self.known(currency) {
                continue;
            }
            store::accounts::ensure_system_accounts(conn, currency.as_str())?;
            if let Ok(mut known) = self.0.lock() {
                known.insert(currency.clone());
            }
        }
        Ok(())
    }

    fn known(&self, currency: &Currency) -> bool {
        self.0.lock().is_ok_and(|known| known.contains(currency))
    }
}

/// The whole batch in one database transaction, its money from and to the
/// outside and its revenue on the system accounts of `shard`: each request's
/// answer, or why the batch failed as a whole.
pub fn apply(
    conn: &mut PgConnection,
    currencies: &KnownCurrencies,
    shard: i16,
    requests: &[Request],
) -> Result<Vec<Answer>, BatchFailure> {
    currencies
        .ensure(conn, requests)
        .map_err(BatchFailure::RolledBack)?;
    let mut answers: Vec<Option<Answer>> = requests.iter().map(|_| None).collect();
    let mut committing = false;
    let written = conn.transaction(|conn| {
        keys::take(conn, requests, &mut answers)?;
        decide_and_write(conn, shard, requests, &mut answers)?;
        committing = true;
        Ok::<_, ApiError>(())
    });
    match written {
        Ok(()) => Ok(answers
            .into_iter()
            .map(|answer| {
                answer.unwrap_or_else(|| Err(ApiError::internal("a command got no answer")))
            })
            .collect()),
        Err(error) if committing => Err(BatchFailure::CommitUnknown(error)),
        Err(error) => Err(BatchFailure::RolledBack(error)),
    }
}

/// Locks and reads what the unanswered requests touch, decides each in order
/// and writes the outcome.
fn decide_and_write(
    conn: &mut PgConnection,
    shard: i16,
    requests: &[Request],
    answers: &mut [Option<Answer>],
) -> Result<(), ApiError> {
    let pending: Vec<&Request> = requests
        .iter()
        .zip(answers.iter())
        .filter(|(_, answer)| answer.is_none())
        .map(|(request, _)| request)
        .collect();
    let mut names = Names::default();
    for request in &pending {
        request.command.name(&mut names);
    }
    let Names {
        orders,
        users,
        originals,
        ..
    } = names.sorted();
    if !orders.is_empty() || !users.is_empty() || !originals.is_empty() {
        store::books::lock_names(conn, &orders, &users, &originals)?;
    }
    let orders = if orders.is_empty() {
        Default::default()
    } else {
        store::reservations::find_all(conn, &orders)?
    };
    let mut oldest: HashMap<_, _> = users.iter().map(|key| (key.clone(), None)).collect();
    if !users.is_empty() {
        for (key, account) in store::books::oldest_accounts(conn, &users)? {
            oldest.insert(key, Some(account));
        }
    }
    let originals = if originals.is_empty() {
        Default::default()
    } else {
        store::transactions::originals(conn, &originals)?
    };
    let mut books = Books::new(orders, oldest, originals);
    let mut locks = AccountLocks {
        shard,
        ..AccountLocks::default()
    };
    let mut seen = HashSet::new();
    for request in &pending {
        for lock in books.plan(&request.command) {
            if !seen.insert(lock.clone()) {
                continue;
            }
            match lock {
                Lock::Account(id) => locks.named.push(id),
                Lock::SystemOf(kind, owner) => locks.systems_of.push((kind, owner)),
                Lock::System(kind, currency) => locks.systems.push((kind, currency)),
            }
        }
    }
    let locked = store::books::lock_accounts(conn, locks)?;
    let now = match locked.now {
        Some(now) => now,
        None => store::books::now(conn)?,
    };
    books.lock(now, locked.accounts);
    let mut stored = Vec::new();
    // Ids in the order the batch records transactions, so that of two with
    // the batch's one time, the later also has the larger id (an account's
    // parts at a time are those after its latest transaction).
    let mut last = Uuid::nil();
    let mut new_id = move || {
        let mut id = Uuid::now_v7();
        if id <= last {
            id = Uuid::from_u128(last.as_u128() + 1);
        }
        last = id;
        id
    };
    for (request, answer) in requests.iter().zip(answers.iter_mut()) {
        if answer.is_some() {
            continue;
        }
        // A reply that cannot be made fails the batch: its changes are in the books.
        let mut maker = Maker {
            created_by: &request.created_by,
            new_id: &mut new_id,
        };
        let reply = match books.apply(&request.command, &mut maker) {
            Ok(outcome) => Ok(answers::reply_to(outcome)?),
            Err(refusal) => Err(answers::error(refusal)),
        };
        if let (Ok(reply), Some(idempotency)) = (&reply, &request.idempotency) {
            stored.push(keys::to_store(idempotency, reply));
        }
        *answer = Some(reply);
    }
    let changes = books.into_changes();
    let events = changes
        .statuses
        .iter()
        .map(answers::account_event(changes.at))
        .collect::<Result<_, _>>()?;
    store::books::write(conn, shard, changes, stored, events)?;
    Ok(())
}

//! Deposits, withdrawals and transfers: money moved between two accounts'
//! buckets in one database transaction, or a refusal recorded as a failed
//! transaction.

use diesel::pg::PgConnection;
use rust_decimal::Decimal;
use shared_types::accounts::{AccountId, TransactionType};

use super::accounts::not_found;
use super::{idempotent, reply, Idempotency, Reply};
use crate::domain::ledger::{self, AccountKind, Bucket, Decision};
use crate::domain::{Amount, CallerText, Currency, OrderRef, UserId};
use crate::error::ApiError;
use crate::store::{self, transactions::NewTransaction, PgPool};

/// What the caller attached to a movement.
#[derive(Debug, Clone, Default)]
pub struct Notes {
    pub description: Option<CallerText>,
    pub reference: Option<CallerText>,
}

/// A deposit into, a withdrawal from, or a transfer between user accounts
/// named by id: the movements that go through group commit.
#[derive(Debug, Clone, Copy)]
pub enum Movement {
    Deposit {
        to: AccountId,
    },
    Withdrawal {
        from: AccountId,
    },
    /// `from` is where the money leaves (a `credit` direction already turned around).
    Transfer {
        from: AccountId,
        to: AccountId,
    },
}

/// One side of a movement.
#[derive(Debug, Clone, Copy)]
pub enum Side {
    User(AccountId),
    /// The system account of this kind that the user account's movements use.
    SystemOf(AccountKind, AccountId),
}

impl Movement {
    pub fn kind(self) -> TransactionType {
        match self {
            Self::Deposit { .. } => TransactionType::Deposit,
            Self::Withdrawal { .. } => TransactionType::Withdrawal,
            Self::Transfer { .. } => TransactionType::Transfer,
        }
    }

    /// Where the money leaves and where it arrives.
    pub fn sides(self) -> (Side, Side) {
        match self {
            Self::Deposit { to } => (Side::SystemOf(AccountKind::External, to), Side::User(to)),
            Self::Withdrawal { from } => (
                Side::User(from),
                Side::SystemOf(AccountKind::External, from),
            ),
            Self::Transfer { from, to } => (Side::User(from), Side::User(to)),
        }
    }

    /// The user accounts the answer names as `from_account_id` / `to_account_id`.
    pub fn shown(self) -> (Option<AccountId>, Option<AccountId>) {
        match self {
            Self::Deposit { to } => (None, Some(to)),
            Self::Withdrawal { from } => (Some(from), None),
            Self::Transfer { from, to } => (Some(from), Some(to)),
        }
    }

    /// Transfers answer with both accounts' balances after the move.
    pub fn shows_balances(self) -> bool {
        matches!(self, Self::Transfer { .. })
    }
}

/// A movement as a caller asked for it.
#[derive(Debug, Clone)]
pub struct MovementRequest {
    pub movement: Movement,
    pub amount: Amount,
    pub notes: Notes,
    pub idempotency: Option<Idempotency>,
}

/// Applies one movement in a database transaction of its own: the path of a
/// batch that failed as a whole (see `group_commit`), so that one request's
/// failure is its own.
pub async fn one_by_one(pool: &PgPool, request: MovementRequest) -> Result<Reply, ApiError> {
    let MovementRequest {
        movement,
        amount,
        notes,
        idempotency,
    } = request;
    idempotent(pool, idempotency, move |conn| {
        apply(conn, movement, amount, &notes)
    })
    .await
}

/// A deposit into the user's oldest account of the currency, opened if there
/// is none.
pub async fn deposit_to_user(
    pool: &PgPool,
    idempotency: Option<Idempotency>,
    user: UserId,
    currency: Currency,
    amount: Amount,
    notes: Notes,
) -> Result<Reply, ApiError> {
    idempotent(pool, idempotency, move |conn| {
        let to = AccountId(user_account_for_deposit(conn, user, &currency)?.id);
        apply(conn, Movement::Deposit { to }, amount, &notes)
    })
    .await
}

/// One movement, inside the caller's database transaction.
fn apply(
    conn: &mut PgConnection,
    movement: Movement,
    amount: Amount,
    notes: &Notes,
) -> Result<Reply, ApiError> {
    let mut resolve = |side: Side| match side {
        Side::User(id) => Ok(id),
        Side::SystemOf(kind, owner) => user_and_system_account(conn, owner, kind),
    };
    let (source, destination) = movement.sides();
    let (source, destination) = (resolve(source)?, resolve(destination)?);
    let outcome = execute(
        conn,
        Transfer {
            kind: movement.kind(),
            source: (source, Bucket::Balance),
            destination: (destination, Bucket::Balance),
            shown: movement.shown(),
            amount,
            notes,
            order: None,
        },
    )?;
    outcome.reply(movement.shows_balances())
}

/// One movement between two accounts' buckets.
pub(super) struct Transfer<'a> {
    pub kind: TransactionType,
    pub source: (AccountId, Bucket),
    pub destination: (AccountId, Bucket),
    /// The user accounts the answer names as `from_account_id` / `to_account_id`.
    pub shown: (Option<AccountId>, Option<AccountId>),
    pub amount: Amount,
    pub notes: &'a Notes,
    pub order: Option<&'a OrderRef>,
}

pub(super) struct Outcome {
    pub transaction: store::transactions::TransactionRow,
    pub from_balance: Decimal,
    pub to_balance: Decimal,
}

impl Outcome {
    pub fn failed(&self) -> bool {
        self.transaction.reason.is_some()
    }

    /// `201` with the transaction, or `422` with it when the ledger refused.
    pub fn reply(self, with_balances: bool) -> Result<Reply, ApiError> {
        let mut wire = self.transaction.to_wire();
        if with_balances {
            wire.from_balance_after = Some(self.from_balance);
            wire.to_balance_after = Some(self.to_balance);
        }
        let failed = self.transaction.reason.is_some();
        let status = if failed { 422 } else { 201 };
        let kind = store::transactions::kind_str(wire.kind);
        Ok(reply(status, &wire)?.recording(kind, if failed { "failed" } else { "success" }))
    }
}

pub(super) fn execute(conn: &mut PgConnection, t: Transfer<'_>) -> Result<Outcome, ApiError> {
    let (from_id, from_bucket) = t.source;
    let (to_id, to_bucket) = t.destination;
    let locked = store::accounts::lock(conn, &[from_id, to_id])?;
    let find = |id: AccountId| {
        locked
            .iter()
            .find(|row| row.id == id.0)
            .map(|row| row.state())
            .ok_or_else(|| not_found(id))
    };
    let (from, to) = (find(from_id)?, find(to_id)?);
    // The accounts a caller names are user accounts; system ones are not theirs to move.
    for shown in [t.shown.0, t.shown.1].into_iter().flatten() {
        if find(shown)?.kind != AccountKind::User {
            return Err(not_found(shown));
        }
    }
    let decision = ledger::decide(&from, from_bucket, &to, to_bucket, t.amount);
    let currency = Currency::parse(&from.currency)?;
    let failure = match &decision {
        Decision::Post(_) => None,
        Decision::Refuse(reason) => Some(*reason),
    };
    let description = ledger::describe(
        &ledger::Movement {
            kind: t.kind,
            amount: t.amount,
            currency: &currency,
            from: t.shown.0,
            to: t.shown.1,
            order: t.order,
            caller_description: t.notes.description.as_ref().map(CallerText::as_str),
        },
        failure,
    );
    let postings = match decision {
        Decision::Post(postings) => postings,
        Decision::Refuse(_) => Vec::new(),
    };
    let balances = store::accounts::apply(conn, &postings)?;
    let balance_of = |id: AccountId, fallback: Decimal| {
        balances
            .iter()
            .find(|(a, _)| *a == id)
            .map_or(fallback, |(_, b)| *b)
    };
    let transaction = store::transactions::record(
        conn,
        &NewTransaction {
            kind: t.kind,
            failure,
            amount: t.amount.value(),
            currency: currency.as_str(),
            from: t.shown.0,
            to: t.shown.1,
            order_id: t.order.map(|o| o.order_id.value()),
            service_id: t.order.map(|o| o.service_id.value()),
            service_name: t.order.and_then(|o| o.service_name.as_deref()),
            reference: t.notes.reference.as_ref().map(CallerText::as_str),
            description: &description,
        },
        &postings,
    )?;
    Ok(Outcome {
        transaction,
        from_balance: balance_of(from_id, from.balance),
        to_balance: balance_of(to_id, to.balance),
    })
}

/// Checks that `user_account` exists and returns the system account of `kind`
/// its movements use, in one read.
fn user_and_system_account(
    conn: &mut PgConnection,
    user_account: AccountId,
    kind: AccountKind,
) -> Result<AccountId, ApiError> {
    let (account, system) = store::accounts::user_account_with_system(conn, user_account, kind)?
        .ok_or_else(|| not_found(user_account))?;
    system.ok_or_else(|| missing_system_account(kind, &account.currency))
}

pub(super) fn missing_system_account(kind: AccountKind, currency: &str) -> ApiError {
    ApiError::internal(format!(
        "the {} account of {currency} is missing",
        kind.as_str()
    ))
}

/// The system account of `kind` that movements of `user_account` use.
pub(super) fn system_account(
    conn: &mut PgConnection,
    kind: AccountKind,
    currency: &str,
    user_account: AccountId,
) -> Result<AccountId, ApiError> {
    store::accounts::system_account_id(conn, kind, currency, user_account)?
        .ok_or_else(|| missing_system_account(kind, currency))
}

/// The user's oldest account of the currency, opened if there is none. Two
/// first deposits racing for the same user and currency take turns on an
/// advisory lock, so only one account is opened.
fn user_account_for_deposit(
    conn: &mut PgConnection,
    user: UserId,
    currency: &Currency,
) -> Result<store::accounts::AccountRow, ApiError> {
    store::accounts::lock_user_currency(conn, user.value(), currency.as_str())?;
    match store::accounts::oldest_for_user(conn, user.value(), currency.as_str())? {
        Some(account) => Ok(account),
        None => Ok(store::accounts::insert_user_account(
            conn,
            user.value(),
            currency.as_str(),
        )?),
    }
}

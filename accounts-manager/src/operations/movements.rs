//! Deposits, withdrawals and transfers: money moved between two accounts'
//! buckets in one database transaction, or a refusal recorded as a failed
//! transaction.

use diesel::pg::PgConnection;
use rust_decimal::Decimal;
use shared_types::accounts::{AccountId, TransactionType};

use super::accounts::not_found;
use super::{idempotent, reply, Idempotency, Reply};
use crate::domain::ledger::{self, AccountKind, Bucket, Decision, Movement};
use crate::domain::{Amount, CallerText, Currency, OrderRef, UserId};
use crate::error::ApiError;
use crate::store::{self, transactions::NewTransaction, PgPool};

/// Where a deposit goes.
#[derive(Debug, Clone)]
pub enum DepositTarget {
    Account(AccountId),
    /// The user's oldest account of the currency, opened if there is none.
    User(UserId, Currency),
}

/// What the caller attached to a movement.
#[derive(Debug, Clone, Default)]
pub struct Notes {
    pub description: Option<CallerText>,
    pub reference: Option<CallerText>,
}

pub async fn deposit(
    pool: &PgPool,
    idempotency: Option<Idempotency>,
    target: DepositTarget,
    amount: Amount,
    notes: Notes,
) -> Result<Reply, ApiError> {
    idempotent(pool, idempotency, move |conn| {
        let (to, external) = match target {
            DepositTarget::Account(id) => (
                id,
                user_and_system_account(conn, id, AccountKind::External)?,
            ),
            DepositTarget::User(user, currency) => {
                let to = AccountId(user_account_for_deposit(conn, user, &currency)?.id);
                (
                    to,
                    system_account(conn, AccountKind::External, currency.as_str(), to)?,
                )
            }
        };
        let outcome = execute(
            conn,
            Transfer {
                kind: TransactionType::Deposit,
                source: (external, Bucket::Balance),
                destination: (to, Bucket::Balance),
                shown: (None, Some(to)),
                amount,
                notes: &notes,
                order: None,
            },
        )?;
        outcome.reply(false)
    })
    .await
}

pub async fn withdraw(
    pool: &PgPool,
    idempotency: Option<Idempotency>,
    from: AccountId,
    amount: Amount,
    notes: Notes,
) -> Result<Reply, ApiError> {
    idempotent(pool, idempotency, move |conn| {
        let external = user_and_system_account(conn, from, AccountKind::External)?;
        let outcome = execute(
            conn,
            Transfer {
                kind: TransactionType::Withdrawal,
                source: (from, Bucket::Balance),
                destination: (external, Bucket::Balance),
                shown: (Some(from), None),
                amount,
                notes: &notes,
                order: None,
            },
        )?;
        outcome.reply(false)
    })
    .await
}

/// Moves `amount` from `from` to `to` (the caller has already turned a
/// `credit` direction around).
pub async fn transfer(
    pool: &PgPool,
    idempotency: Option<Idempotency>,
    from: AccountId,
    to: AccountId,
    amount: Amount,
    notes: Notes,
) -> Result<Reply, ApiError> {
    idempotent(pool, idempotency, move |conn| {
        let outcome = execute(
            conn,
            Transfer {
                kind: TransactionType::Transfer,
                source: (from, Bucket::Balance),
                destination: (to, Bucket::Balance),
                shown: (Some(from), Some(to)),
                amount,
                notes: &notes,
                order: None,
            },
        )?;
        outcome.reply(true)
    })
    .await
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
    let decision = ledger::decide(&from, from_bucket, &to, to_bucket, t.amount);
    let currency = Currency::parse(&from.currency)?;
    let failure = match &decision {
        Decision::Post(_) => None,
        Decision::Refuse(reason) => Some(*reason),
    };
    let description = ledger::describe(
        &Movement {
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

fn missing_system_account(kind: AccountKind, currency: &str) -> ApiError {
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

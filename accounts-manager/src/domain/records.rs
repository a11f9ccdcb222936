//! What the ledger keeps, as its rules see it: transactions recorded, holds
//! of orders, accounts opened, and a transaction a reversal finds. The wire
//! forms of these are `operations::answers`'.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use shared_types::accounts::{
    AccountId, ReservationStatus, TransactionId, TransactionStatus, TransactionType,
};

use super::posting::FailureReason;
use super::{Amount, Currency, Metadata, OrderRef, Rate, UserId};

/// A transaction as it is recorded, successful or failed.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub id: TransactionId,
    pub kind: TransactionType,
    pub failure: Option<FailureReason>,
    pub amount: Amount,
    pub currency: Currency,
    /// The user accounts the money left and reached; `None` stands for a
    /// system account (the outside world or revenue).
    pub from: Option<AccountId>,
    pub to: Option<AccountId>,
    pub order: Option<OrderRef>,
    /// The transaction a reversal reverses.
    pub reverses: Option<TransactionId>,
    pub reference: Option<String>,
    pub description: String,
    pub metadata: Metadata,
    /// The name of the key that asked for it.
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    /// The `from` and `to` accounts' balance and reserved parts right after it.
    pub from_after: Option<(Decimal, Decimal)>,
    pub to_after: Option<(Decimal, Decimal)>,
    /// An exchange's (or its reversal's) other currency: set exactly for them.
    pub exchange: Option<Exchanged>,
}

/// What an exchange converts `amount` into: at `rate`, `amount` of `currency`
/// (for its reversal, the part of that it takes back).
#[derive(Debug, Clone, PartialEq)]
pub struct Exchanged {
    pub rate: Rate,
    pub amount: Amount,
    pub currency: Currency,
}

impl Record {
    pub fn status(&self) -> TransactionStatus {
        status_of(self.failure)
    }
}

/// A transaction's status: failed exactly when the ledger gave a reason.
pub fn status_of(failure: Option<FailureReason>) -> TransactionStatus {
    match failure {
        None => TransactionStatus::Success,
        Some(_) => TransactionStatus::Failed,
    }
}

/// An order's hold, as the `reservations` table keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct Order {
    pub order: OrderRef,
    pub account: AccountId,
    pub amount: Amount,
    /// What the capture took; `None` until captured.
    pub captured: Option<Amount>,
    pub currency: Currency,
    pub status: ReservationStatus,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// From then on only the service may end the hold (as `expired`).
    pub expires_at: DateTime<Utc>,
}

/// A user account a command opened.
#[derive(Debug, Clone, PartialEq)]
pub struct Opened {
    pub id: AccountId,
    pub user: UserId,
    pub currency: Currency,
    pub metadata: Metadata,
    pub created_at: DateTime<Utc>,
}

/// A transaction as a reversal finds it, locked.
#[derive(Debug, Clone, PartialEq)]
pub struct Original {
    pub id: TransactionId,
    pub kind: TransactionType,
    pub status: TransactionStatus,
    pub amount: Amount,
    pub currency: Currency,
    pub from: Option<AccountId>,
    pub to: Option<AccountId>,
    pub order: Option<OrderRef>,
    /// The sum of its successful reversals so far.
    pub reversed: Decimal,
    /// An exchange's rate and what it converted into.
    pub exchange: Option<Exchanged>,
}

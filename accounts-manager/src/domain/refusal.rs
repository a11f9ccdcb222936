//! Why a command was not carried out at all. A refusal records nothing; a
//! movement the ledger turns down for funds or currency is not a refusal but
//! a failed transaction (`posting::FailureReason`).

use rust_decimal::Decimal;
use shared_types::accounts::{AccountId, TransactionId};

use super::{Amount, Currency, OrderId, UserId};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("account {0} does not exist")]
    NoAccount(AccountId),
    #[error("user {0} has no {1} account")]
    NoUserAccount(UserId, Currency),
    /// A transfer whose two sides are one account.
    #[error("a transfer needs two different accounts")]
    SameAccount,
    /// An exchange between accounts of one currency (a transfer's job).
    #[error(
        "an exchange needs accounts of two different currencies, not both {0}; use a transfer"
    )]
    SameCurrency(Currency),
    /// An exchange (or its reversal) whose converted amount is not an
    /// amount: `0.00`, or more than one request may move.
    #[error("{amount} at {rate} converts to {converted}")]
    InvalidConversion {
        amount: Amount,
        rate: super::Rate,
        converted: String,
    },
    #[error("order {0} already has a reservation")]
    OrderTaken(OrderId),
    #[error("order {0} has no reservation")]
    NoOrder(OrderId),
    #[error("the capture of {asked} exceeds the {reserved} held for order {order}")]
    CaptureExceedsReserved {
        order: OrderId,
        asked: Amount,
        reserved: Amount,
    },
    #[error("transaction {0} does not exist")]
    NoTransaction(TransactionId),
    /// A refusal of one transfer of a batch, which refuses the whole batch;
    /// `party`, the side of the transfer it is about, when it is one.
    #[error("transfer {index}: {refusal}")]
    InBatch {
        index: usize,
        party: Option<Party>,
        refusal: Box<Refusal>,
    },
    #[error("transaction {id} cannot be reversed: {why}")]
    NotReversible {
        id: TransactionId,
        why: &'static str,
    },
    #[error("transaction {id} of {amount} has {reversed} reversed already; {asked} more would exceed it")]
    ReversalExceedsOriginal {
        id: TransactionId,
        amount: Amount,
        reversed: Decimal,
        asked: Decimal,
    },
    #[error("account {account} {}", why.words())]
    Standing {
        account: AccountId,
        why: super::commands::StandingRefusal,
    },
    #[error("the hold of order {0} has expired")]
    ReservationExpired(OrderId),
    #[error("the hold of order {0} has not expired")]
    NotExpired(OrderId),
    #[error("order {order} is already {status}")]
    NotReserved {
        order: OrderId,
        status: &'static str,
    },
    /// The books contradict themselves (a reserved order its account's
    /// reserved part does not cover, a missing system account): nobody may be
    /// told "done".
    #[error("the books are inconsistent: {0}")]
    Inconsistent(String),
}

/// A side of a transfer, as the caller named it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Party {
    FromAccount,
    FromUser,
    ToAccount,
    ToUser,
}

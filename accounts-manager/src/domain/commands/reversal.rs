//! Reversals and refunds: money moved back the way a successful deposit,
//! withdrawal, transfer, capture or exchange moved it.

use rust_decimal::Decimal;
use shared_types::accounts::{AccountId, TransactionId, TransactionStatus, TransactionType};

use super::{exchange, moved, Names, Notes, Outcome, Rule};
use crate::domain::books::{Books, Lock, Maker};
use crate::domain::movement::Movement;
use crate::domain::posting::{AccountKind, Bucket};
use crate::domain::records::{Original, Record};
use crate::domain::refusal::Refusal;
use crate::domain::Amount;

/// Moves money back the way `original` moved it: all that is not reversed
/// yet, or `amount`. A capture's reversal is a refund.
#[derive(Debug, Clone)]
pub struct Reverse {
    pub original: TransactionId,
    pub amount: Option<Amount>,
    pub notes: Notes,
}

impl Rule for Reverse {
    fn names(&self, names: &mut Names) {
        names.originals.push(self.original);
    }

    fn plan(&self, books: &mut Books) -> Vec<Lock> {
        let Some(original) = books.originals.get(&self.original).cloned().flatten() else {
            return Vec::new();
        };
        let Ok(way) = Way::of(&original) else {
            return Vec::new();
        };
        let mut locks: Vec<Lock> = [way.source, way.destination]
            .into_iter()
            .filter_map(Side::user)
            .map(Lock::Account)
            .collect();
        if let Some(kind) = way.system() {
            locks.extend(way.user().map(|owner| Lock::SystemOf(kind, owner)));
        }
        if let (TransactionType::Exchange, Some(from), Some(to)) =
            (original.kind, original.from, original.to)
        {
            locks.extend(exchange::locks(from, to));
        }
        locks
    }

    /// Refused for funds like any movement (recorded as failed).
    fn apply(&self, books: &mut Books, maker: &mut Maker<'_>) -> Result<Outcome, Refusal> {
        let id = self.original;
        let original = books
            .originals
            .get(&id)
            .cloned()
            .flatten()
            .ok_or(Refusal::NoTransaction(id))?;
        let way = Way::of(&original)?;
        let reversed = original.reversed + books.reversed.get(&id).copied().unwrap_or_default();
        let left = original.amount.value() - reversed;
        let amount = match self.amount {
            Some(asked) if asked.value() <= left => asked,
            None if left > Decimal::ZERO => Amount::try_from(left).map_err(|e| {
                Refusal::Inconsistent(format!("transaction {id} has {left} left: {e}"))
            })?,
            asked => {
                return Err(Refusal::ReversalExceedsOriginal {
                    id,
                    amount: original.amount,
                    reversed,
                    asked: asked.map_or(Decimal::ZERO, Amount::value),
                })
            }
        };
        if original.kind == TransactionType::Exchange {
            let rate = original
                .exchange
                .as_ref()
                .map(|e| e.rate)
                .ok_or_else(|| Refusal::Inconsistent(format!("exchange {id} has no rate")))?;
            let movement = exchange::back(books, &original, rate, amount, &self.notes)?;
            return Ok(moved(self.post(books, &movement, amount, maker)?, None));
        }
        let owner = way.user().ok_or_else(|| {
            Refusal::Inconsistent(format!("transaction {id} names no user account"))
        })?;
        let side = |books: &Books, side: Side| -> Result<(AccountId, Bucket), Refusal> {
            match side {
                Side::User(account) => Ok((books.user_account(account)?.id, Bucket::Balance)),
                Side::System(kind) => Ok((books.system_of(kind, owner)?, Bucket::Balance)),
            }
        };
        let movement = Movement {
            kind: TransactionType::Reversal,
            source: side(books, way.source)?,
            destination: side(books, way.destination)?,
            shown: (way.source.user(), way.destination.user()),
            amount,
            notes: Some(&self.notes),
            order: original.order.as_ref(),
            reverses: Some(id),
            conversion: None,
        };
        Ok(moved(self.post(books, &movement, amount, maker)?, None))
    }
}

impl Reverse {
    /// Records the reversal of `amount`, and adds it to what the batch has
    /// reversed of the original when it was made.
    fn post(
        &self,
        books: &mut Books,
        movement: &Movement<'_>,
        amount: Amount,
        maker: &mut Maker<'_>,
    ) -> Result<Record, Refusal> {
        let record = books.post(movement, maker)?;
        if record.failure.is_none() {
            *books.reversed.entry(self.original).or_default() += amount.value();
        }
        Ok(record)
    }
}

/// One side of a reversal: a user account, or the system account of a kind
/// in the user account's currency.
#[derive(Debug, Clone, Copy)]
enum Side {
    User(AccountId),
    System(AccountKind),
}

impl Side {
    fn user(self) -> Option<AccountId> {
        match self {
            Self::User(id) => Some(id),
            Self::System(_) => None,
        }
    }
}

/// Which way a reversal moves money: back the way the original came.
#[derive(Debug, Clone, Copy)]
struct Way {
    source: Side,
    destination: Side,
}

impl Way {
    fn of(original: &Original) -> Result<Self, Refusal> {
        let not = |why| Refusal::NotReversible {
            id: original.id,
            why,
        };
        if original.status != TransactionStatus::Success {
            return Err(not("only successful transactions can be reversed"));
        }
        let user = |id: Option<AccountId>| {
            id.map(Side::User).ok_or_else(|| {
                Refusal::Inconsistent(format!("transaction {} names no account", original.id))
            })
        };
        let (source, destination) = match original.kind {
            TransactionType::Deposit => (user(original.to)?, Side::System(AccountKind::External)),
            TransactionType::Withdrawal => {
                (Side::System(AccountKind::External), user(original.from)?)
            }
            // An exchange's `fx` legs are its own (`exchange::back`).
            TransactionType::Transfer | TransactionType::Exchange => {
                (user(original.to)?, user(original.from)?)
            }
            // A refund: from revenue back into the account's balance.
            TransactionType::Capture => (Side::System(AccountKind::Revenue), user(original.from)?),
            TransactionType::Reservation | TransactionType::Release | TransactionType::Reversal => {
                return Err(not(
                    "only deposits, withdrawals, transfers, captures and exchanges can be reversed",
                ))
            }
        };
        Ok(Self {
            source,
            destination,
        })
    }

    /// The user account whose currency and shard the system side uses.
    fn user(self) -> Option<AccountId> {
        self.source.user().or(self.destination.user())
    }

    fn system(self) -> Option<AccountKind> {
        match (self.source, self.destination) {
            (Side::System(kind), _) | (_, Side::System(kind)) => Some(kind),
            (Side::User(_), Side::User(_)) => None,
        }
    }
}

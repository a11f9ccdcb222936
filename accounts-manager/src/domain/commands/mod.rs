//! The ledger's commands. [`Command`] is the closed set of them, each a
//! struct in the file of its family, which says everything about it: what it
//! names and locks ([`Rule::names`], [`Rule::plan`]), how it applies and what
//! it refuses ([`Rule::apply`]). Every command is decided against the
//! locked [`Books`] of its batch, with no I/O.

mod batch;
mod exchange;
mod hold;
mod movement;
mod open;
mod reversal;
mod status;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_exchange;

use rust_decimal::Decimal;
use shared_types::accounts::TransactionId;

pub use batch::TransferBatch;
pub use exchange::Exchange;
pub use hold::{Capture, Expire, Release, Reserve};
pub use movement::{Deposit, Transfer, Withdrawal};
pub use open::Open;
pub use reversal::Reverse;
pub use status::{SetStatus, Standing, StandingRefusal};

use super::books::{Books, Lock, Maker};
use super::posting::AccountState;
use super::records::{Opened, Order, Record};
use super::refusal::Refusal;
use super::{CallerText, Currency, Metadata, OrderId, UserId};

/// How many external and revenue accounts each currency has. Each batch
/// uses one shard of them (its lane's), so that batches running side by side
/// do not queue on one system account's row lock.
pub const SYSTEM_SHARDS: i16 = 16;

/// One request to the ledger.
#[derive(Debug, Clone)]
pub enum Command {
    Open(Open),
    Deposit(Deposit),
    Withdrawal(Withdrawal),
    Transfer(Transfer),
    Reserve(Reserve),
    Capture(Capture),
    Release(Release),
    Expire(Expire),
    TransferBatch(TransferBatch),
    Reverse(Reverse),
    SetStatus(SetStatus),
    Exchange(Exchange),
}

impl Command {
    /// The command's rules: the one place a command is told apart.
    pub(super) fn rule(&self) -> &dyn Rule {
        match self {
            Self::Open(c) => c,
            Self::Deposit(c) => c,
            Self::Withdrawal(c) => c,
            Self::Transfer(c) => c,
            Self::Reserve(c) => c,
            Self::Capture(c) => c,
            Self::Release(c) => c,
            Self::Expire(c) => c,
            Self::TransferBatch(c) => c,
            Self::Reverse(c) => c,
            Self::SetStatus(c) => c,
            Self::Exchange(c) => c,
        }
    }

    /// Adds what the command names to `names`.
    pub fn name(&self, names: &mut Names) {
        self.rule().names(names);
    }
}

/// What every command says about itself.
pub(super) trait Rule {
    /// The orders, users' oldest accounts and transactions it names, to be
    /// locked and read before planning, and the currency of an account it
    /// may open. Every command answers: none is silently left unlocked.
    fn names(&self, names: &mut Names);

    /// What it needs locked, given what the commands planned before it will
    /// have done (see [`Books::plan`]).
    fn plan(&self, books: &mut Books) -> Vec<Lock>;

    /// Decides it against the books as the earlier commands left them, and
    /// records what it changes. A refusal changes nothing.
    fn apply(&self, books: &mut Books, maker: &mut Maker<'_>) -> Result<Outcome, Refusal>;
}

/// What a batch's commands name, to be locked and read before planning.
#[derive(Debug, Default)]
pub struct Names {
    pub orders: Vec<OrderId>,
    pub users: Vec<(UserId, Currency)>,
    pub originals: Vec<TransactionId>,
    /// The currencies of accounts the commands may open: their system
    /// accounts must exist first.
    pub currencies: Vec<Currency>,
}

impl Names {
    /// The user a target names by user, if it does.
    fn target(&mut self, target: &Target) {
        if let Target::User(user, currency) = target {
            self.users.push((*user, currency.clone()));
        }
    }

    /// Each name once, in the order they are locked in.
    pub fn sorted(mut self) -> Self {
        self.orders.sort_unstable_by_key(|o| o.value());
        self.orders.dedup();
        self.users
            .sort_unstable_by(|a, b| (a.0.value(), a.1.as_str()).cmp(&(b.0.value(), b.1.as_str())));
        self.users.dedup();
        self.originals.sort_unstable_by_key(|t| t.0);
        self.originals.dedup();
        self
    }
}

/// What the caller attached to a movement.
#[derive(Debug, Clone, Default)]
pub struct Notes {
    pub description: Option<CallerText>,
    pub reference: Option<CallerText>,
    pub metadata: Metadata,
}

/// An account a request names: by id, or as the user's oldest account of a
/// currency (only a deposit opens one when the user has none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Account(shared_types::accounts::AccountId),
    User(UserId, Currency),
}

/// What a command did, for its answer.
#[derive(Debug, Clone)]
pub enum Outcome {
    Opened(Opened),
    /// An account's standing changed: the account as it stands.
    Account(Box<AccountState>),
    /// A movement, recorded; refused by the ledger when `record.failure` is set.
    /// Transfers also tell both balances after the move.
    Moved {
        record: Box<Record>,
        balances_after: Option<(Decimal, Decimal)>,
    },
    /// A reservation made (`created`), captured or released.
    Order {
        order: Order,
        created: bool,
    },
    /// A transfer batch: each transfer, in order, with both balances after
    /// it when it was made.
    Batch {
        atomic: bool,
        items: Vec<(Record, Option<(Decimal, Decimal)>)>,
    },
}

fn moved(record: Record, balances_after: Option<(Decimal, Decimal)>) -> Outcome {
    Outcome::Moved {
        record: Box::new(record),
        balances_after,
    }
}

//! The ledger's one rule book. Every command (open an account, deposit,
//! withdraw, transfer, reserve, capture, release) is decided here, against
//! the locked state of the accounts and orders it touches, with no I/O: the
//! engine (`operations::ledger`) reads and locks what [`Books::plan`] asks
//! for, lets [`Books::apply`] decide each command in order, and writes what
//! [`Books::into_changes`] hands back, all in one database transaction.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use shared_types::accounts::{
    Account, AccountId, Reservation, ReservationStatus, Transaction, TransactionId,
    TransactionStatus, TransactionType,
};
use shared_types::Named;
use uuid::Uuid;

use super::ledger::{self, AccountKind, AccountState, Bucket, Decision, FailureReason, Posting};
use super::{Amount, CallerText, Currency, Month, OrderId, OrderRef, ServiceId, UserId};

/// How many external and revenue accounts each currency has. Each batch
/// uses one shard of them (its lane's), so that batches running side by side
/// do not queue on one system account's row lock.
pub const SYSTEM_SHARDS: i16 = 16;

/// What the caller attached to a movement.
#[derive(Debug, Clone, Default)]
pub struct Notes {
    pub description: Option<CallerText>,
    pub reference: Option<CallerText>,
}

/// An account a request names: by id, or as the user's oldest account of a
/// currency (only a deposit opens one when the user has none).
#[derive(Debug, Clone)]
pub enum Target {
    Account(AccountId),
    User(UserId, Currency),
}

/// One request to the ledger.
#[derive(Debug, Clone)]
pub enum Command {
    Open {
        user: UserId,
        currency: Currency,
        id: AccountId,
    },
    /// `opens` is the id of the account opened for a user who has none.
    Deposit {
        to: Target,
        opens: AccountId,
        amount: Amount,
        notes: Notes,
    },
    Withdrawal {
        from: Target,
        amount: Amount,
        notes: Notes,
    },
    /// `from` is where the money leaves (a `credit` direction already turned around).
    Transfer {
        from: Target,
        to: Target,
        amount: Amount,
        notes: Notes,
    },
    Reserve {
        account: Target,
        order: OrderRef,
        amount: Amount,
        expires_at: DateTime<Utc>,
    },
    /// All of the hold, or `amount` of it (the rest is released).
    Capture {
        order: OrderId,
        amount: Option<Amount>,
    },
    Release {
        order: OrderId,
    },
    /// The service's own release of a hold that ran out (status `expired`);
    /// refused for a hold that has not, or is no longer `reserved`.
    Expire {
        order: OrderId,
    },
    /// Transfers in order (a later one may spend what an earlier one
    /// brought in): all or nothing when `atomic`, each on its own otherwise.
    TransferBatch {
        atomic: bool,
        legs: Vec<Leg>,
    },
    /// Moves money back the way `original` moved it: all that is not
    /// reversed yet, or `amount`.
    Reverse {
        original: TransactionId,
        amount: Option<Amount>,
        notes: Notes,
    },
}

/// One transfer of a batch; `from` is where the money leaves.
#[derive(Debug, Clone)]
pub struct Leg {
    pub from: Target,
    pub to: Target,
    pub amount: Amount,
    pub notes: Notes,
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

impl Order {
    pub fn to_wire(&self) -> Reservation {
        Reservation {
            order_id: self.order.order_id.value(),
            account_id: self.account,
            service_id: self.order.service_id.value(),
            amount: self.amount.value(),
            captured_amount: self.captured.map(Amount::value),
            currency: self.currency.as_str().to_owned(),
            status: self.status,
            expires_at: self.expires_at,
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

/// A user account a command opened.
#[derive(Debug, Clone, PartialEq)]
pub struct Opened {
    pub id: AccountId,
    pub user: UserId,
    pub currency: Currency,
    pub created_at: DateTime<Utc>,
}

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
    /// The name of the key that asked for it.
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    /// The `from` and `to` accounts' balance and reserved parts right after it.
    pub from_after: Option<(Decimal, Decimal)>,
    pub to_after: Option<(Decimal, Decimal)>,
}

impl Record {
    pub fn status(&self) -> TransactionStatus {
        status_of(self.failure)
    }

    pub fn to_wire(&self) -> Transaction {
        Transaction {
            transaction_id: self.id,
            kind: self.kind,
            status: self.status(),
            reason: self.failure.map(|r| r.code().to_owned()),
            amount: self.amount.value(),
            currency: self.currency.as_str().to_owned(),
            from_account_id: self.from,
            to_account_id: self.to,
            order_id: self.order.as_ref().map(|o| o.order_id.value()),
            service_id: self.order.as_ref().map(|o| o.service_id.value()),
            reference: self.reference.clone(),
            description: self.description.clone(),
            reverses: self.reverses,
            // Nothing reverses a transaction in the batch that makes it.
            reversed_amount: Decimal::ZERO,
            created_by: self.created_by.clone(),
            created_at: self.created_at,
            from_balance_after: None,
            to_balance_after: None,
        }
    }
}

/// A transaction's status: failed exactly when the ledger gave a reason.
pub fn status_of(failure: Option<FailureReason>) -> TransactionStatus {
    match failure {
        None => TransactionStatus::Success,
        Some(_) => TransactionStatus::Failed,
    }
}

/// What a command did, for its answer.
#[derive(Debug, Clone)]
pub enum Outcome {
    Opened(Account),
    /// A movement, recorded; refused by the ledger when `record.failure` is set.
    /// Transfers also tell both balances after the move.
    Moved {
        record: Record,
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

/// Why a command was not carried out at all: nothing of it is recorded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("account {0} does not exist")]
    NoAccount(AccountId),
    #[error("user {0} has no {1} account")]
    NoUserAccount(UserId, Currency),
    /// A transfer whose two sides are one account.
    #[error("a transfer needs two different accounts")]
    SameAccount,
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
    /// `field`, the side it is about (`to_account_id`), when it is one.
    #[error("transfers[{index}]{}: {refusal}", field.map(|f| format!(".{f}")).unwrap_or_default())]
    InBatch {
        index: usize,
        field: Option<&'static str>,
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

/// What must be locked before a command can be decided.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Lock {
    /// A user account, by id.
    Account(AccountId),
    /// The batch's system account of this kind in a user account's currency.
    SystemOf(AccountKind, AccountId),
    /// The batch's system account of this kind and currency (for an account
    /// that does not exist yet).
    System(AccountKind, Currency),
}

/// Who asks for a command, and where the ids of what it records come from.
pub struct Maker<'a> {
    /// The name of the API key of the request (`accounts-manager` for what
    /// the service does by itself).
    pub created_by: &'a str,
    pub new_id: &'a mut dyn FnMut() -> Uuid,
}

/// Everything a batch writes, decided.
#[derive(Debug, Default)]
pub struct Changes {
    /// The change to each existing account's balance and reserved parts.
    pub balances: Vec<(AccountId, Decimal, Decimal)>,
    /// Accounts opened, with their parts after the batch.
    pub opened: Vec<(Opened, Decimal, Decimal)>,
    pub records: Vec<Record>,
    /// Each posting, with the transaction that made it.
    pub postings: Vec<(TransactionId, Posting)>,
    /// Each order the batch reserved or moved, as it ends.
    pub orders: Vec<Order>,
    /// What the batch's reversals add to each original's reversed amount.
    pub reversed: Vec<(TransactionId, Decimal)>,
    /// What the batch's captures and refunds add to each service's revenue
    /// of a month, one per (currency, month, service), in that order: the
    /// order the store takes the rollup's rows in, so that two batches never
    /// wait on each other's rows in opposite orders.
    pub revenue: Vec<RevenueChange>,
    /// Each user account's latest transaction of the batch and the account's
    /// balance and reserved parts right after it, by account id: what the
    /// audit's fast check compares every account with.
    pub heads: Vec<(AccountId, TransactionId, Decimal, Decimal)>,
}

/// What a batch adds to one service's revenue in one currency and month:
/// its successful captures less its successful refunds (reversals of
/// captures), each in the month of its own time.
#[derive(Debug, Clone, PartialEq)]
pub struct RevenueChange {
    pub currency: Currency,
    pub month: Month,
    pub service: ServiceId,
    pub amount: Decimal,
    /// The service name the batch's latest capture naming one gave, and that
    /// capture's time: the rollup keeps the latest name by capture time.
    pub named: Option<(String, DateTime<Utc>)>,
}

/// Each user account's latest record and its parts after it, by account id.
fn heads(records: &[Record]) -> Vec<(AccountId, TransactionId, Decimal, Decimal)> {
    let mut heads = BTreeMap::new();
    // Records come in the order they were applied: the later one wins.
    for record in records {
        for (account, after) in [
            (record.from, record.from_after),
            (record.to, record.to_after),
        ] {
            if let (Some(account), Some((balance, reserved))) = (account, after) {
                heads.insert(account.0, (account, record.id, balance, reserved));
            }
        }
    }
    heads.into_values().collect()
}

/// The revenue changes of the records, in arrival order, summed per
/// (currency, month, service) and sorted so.
fn revenue_changes(records: &[Record]) -> Vec<RevenueChange> {
    let mut changes: BTreeMap<(String, Month, i64), RevenueChange> = BTreeMap::new();
    for record in records {
        let Some(order) = record.order.as_ref() else {
            continue;
        };
        // A reversal names an order only when it reverses a capture: a refund.
        let sign = match (record.kind, record.failure) {
            (TransactionType::Capture, None) => Decimal::ONE,
            (TransactionType::Reversal, None) => Decimal::NEGATIVE_ONE,
            _ => continue,
        };
        let month = Month::of(record.created_at);
        let key = (
            record.currency.as_str().to_owned(),
            month,
            order.service_id.value(),
        );
        let change = changes.entry(key).or_insert_with(|| RevenueChange {
            currency: record.currency.clone(),
            month,
            service: order.service_id,
            amount: Decimal::ZERO,
            named: None,
        });
        change.amount += sign * record.amount.value();
        // Records come in the order they were applied: the later name wins.
        if let Some(name) = &order.service_name {
            change.named = Some((name.clone(), record.created_at));
        }
    }
    changes.into_values().collect()
}

/// The locked state of everything a batch touches, as its commands leave it.
#[derive(Debug)]
pub struct Books {
    now: DateTime<Utc>,
    accounts: HashMap<AccountId, AccountState>,
    /// The batch's system account of each kind and currency.
    systems: HashMap<(AccountKind, String), AccountId>,
    /// Each `(user, currency)` asked for, and the user's oldest account of it.
    users: HashMap<(UserId, Currency), Option<AccountId>>,
    /// Each order asked for, as it stands (`None`: no reservation).
    orders: HashMap<OrderId, Option<Order>>,
    /// Each transaction a reversal names, as it stands (`None`: no such one).
    originals: HashMap<TransactionId, Option<Original>>,
    reversed: HashMap<TransactionId, Decimal>,
    /// The same two as `plan` foresees them, before anything is applied.
    planned_users: HashMap<(UserId, Currency), Option<AccountId>>,
    planned_orders: HashMap<OrderId, Option<AccountId>>,
    /// Accounts `plan` foresees opened: they cannot be found by id yet.
    planned_new: HashSet<AccountId>,
    opened: Vec<Opened>,
    deltas: HashMap<AccountId, (Decimal, Decimal)>,
    records: Vec<Record>,
    postings: Vec<(TransactionId, Posting)>,
    touched_orders: Vec<OrderId>,
}

impl Books {
    /// Books over the orders, users' accounts and transactions the batch's
    /// commands name ([`Command::order`], [`Command::users`],
    /// [`Command::original`]), read under their locks.
    pub fn new(
        orders: HashMap<OrderId, Option<Order>>,
        users: HashMap<(UserId, Currency), Option<AccountId>>,
        originals: HashMap<TransactionId, Option<Original>>,
    ) -> Self {
        let planned_orders = orders
            .iter()
            .map(|(id, order)| (*id, order.as_ref().map(|o| o.account)))
            .collect();
        Self {
            now: DateTime::<Utc>::MIN_UTC,
            accounts: HashMap::new(),
            systems: HashMap::new(),
            planned_users: users.clone(),
            users,
            orders,
            originals,
            reversed: HashMap::new(),
            planned_orders,
            planned_new: HashSet::new(),
            opened: Vec::new(),
            deltas: HashMap::new(),
            records: Vec::new(),
            postings: Vec::new(),
            touched_orders: Vec::new(),
        }
    }

    /// What `command` needs locked, given what the commands planned before it
    /// will have done (an account a deposit opens, an order a reserve makes).
    /// Asking for more than [`Books::apply`] then uses is harmless; less is not.
    pub fn plan(&mut self, command: &Command) -> Vec<Lock> {
        match command {
            Command::Open { user, currency, id } => {
                plan_open(&mut self.planned_users, *user, currency, *id);
                self.planned_new.insert(*id);
                Vec::new()
            }
            Command::Deposit { to, opens, .. } => {
                self.plan_target(to, Some(AccountKind::External), Some(*opens))
                    .1
            }
            Command::Withdrawal { from, .. } => {
                self.plan_target(from, Some(AccountKind::External), None).1
            }
            Command::Transfer { from, to, .. } => {
                let mut locks = self.plan_target(from, None, None).1;
                locks.extend(self.plan_target(to, None, None).1);
                locks
            }
            Command::Reserve { account, order, .. } => {
                let (planned_account, locks) = self.plan_target(account, None, None);
                let planned = self.planned_orders.entry(order.order_id).or_insert(None);
                if planned.is_none() {
                    *planned = planned_account;
                }
                locks
            }
            Command::Capture { order, .. } => {
                match self.planned_orders.get(order).copied().flatten() {
                    Some(account) => account_locks(account, Some(AccountKind::Revenue)),
                    None => Vec::new(),
                }
            }
            Command::Release { order } | Command::Expire { order } => {
                match self.planned_orders.get(order).copied().flatten() {
                    Some(account) => account_locks(account, None),
                    None => Vec::new(),
                }
            }
            Command::TransferBatch { legs, .. } => {
                let mut locks = Vec::new();
                for leg in legs {
                    locks.extend(self.plan_target(&leg.from, None, None).1);
                    locks.extend(self.plan_target(&leg.to, None, None).1);
                }
                locks
            }
            Command::Reverse { original, .. } => {
                let Some(original) = self.originals.get(original).cloned().flatten() else {
                    return Vec::new();
                };
                let Ok(way) = Reversal::of(&original) else {
                    return Vec::new();
                };
                let mut locks: Vec<Lock> = [way.source, way.destination]
                    .into_iter()
                    .filter_map(|side| match side {
                        Side::User(id) => Some(Lock::Account(id)),
                        Side::System(_) => None,
                    })
                    .collect();
                if let Some(kind) = way.system() {
                    locks.extend(way.user().map(|owner| Lock::SystemOf(kind, owner)));
                }
                locks
            }
        }
    }

    /// The account a target will name, if any, and what to lock for it and
    /// for its system account of `system`. `opens` is the account a deposit
    /// opens for a user who has none.
    fn plan_target(
        &mut self,
        target: &Target,
        system: Option<AccountKind>,
        opens: Option<AccountId>,
    ) -> (Option<AccountId>, Vec<Lock>) {
        let existing = |account: AccountId| (Some(account), account_locks(account, system));
        let (user, currency) = match target {
            Target::Account(id) => return existing(*id),
            Target::User(user, currency) => (*user, currency),
        };
        let key = (user, currency.clone());
        let account = match self.planned_users.get(&key).copied().flatten() {
            Some(id) if !self.planned_new.contains(&id) => return existing(id),
            Some(id) => id,
            None => match opens {
                Some(opens) => {
                    self.planned_users.insert(key, Some(opens));
                    self.planned_new.insert(opens);
                    opens
                }
                // Refused when applied: the user has no such account.
                None => return (None, Vec::new()),
            },
        };
        // An account opened in this batch is not in the table yet: its
        // system account is found by currency.
        let locks = system
            .map(|kind| Lock::System(kind, currency.clone()))
            .into_iter()
            .collect();
        (Some(account), locks)
    }

    /// Takes the accounts locked for the batch (system accounts of the
    /// batch's one shard), at the batch's time.
    pub fn lock(&mut self, now: DateTime<Utc>, locked: Vec<AccountState>) {
        self.now = now;
        for account in locked {
            if account.kind != AccountKind::User {
                self.systems
                    .insert((account.kind, account.currency.clone()), account.id);
            }
            self.accounts.insert(account.id, account);
        }
    }

    /// Decides one command against the books as the earlier ones left them,
    /// and records what it changes. A refusal changes nothing.
    pub fn apply(&mut self, command: &Command, maker: &mut Maker<'_>) -> Result<Outcome, Refusal> {
        match command {
            Command::Open { user, currency, id } => Ok(Outcome::Opened(
                self.open(*user, currency, *id).to_wire_account(),
            )),
            Command::Deposit {
                to,
                opens,
                amount,
                notes,
            } => {
                let to = self.resolve(to, Some(*opens))?;
                let external = self.system_of(AccountKind::External, to)?;
                let movement = Movement {
                    kind: TransactionType::Deposit,
                    source: (external, Bucket::Balance),
                    destination: (to, Bucket::Balance),
                    shown: (None, Some(to)),
                    amount: *amount,
                    notes: Some(notes),
                    order: None,
                    reverses: None,
                };
                let record = self.decide(&movement)?.post(self, maker);
                Ok(moved(record, None))
            }
            Command::Withdrawal {
                from,
                amount,
                notes,
            } => {
                let from = self.resolve(from, None)?;
                let external = self.system_of(AccountKind::External, from)?;
                let movement = Movement {
                    kind: TransactionType::Withdrawal,
                    source: (from, Bucket::Balance),
                    destination: (external, Bucket::Balance),
                    shown: (Some(from), None),
                    amount: *amount,
                    notes: Some(notes),
                    order: None,
                    reverses: None,
                };
                let record = self.decide(&movement)?.post(self, maker);
                Ok(moved(record, None))
            }
            Command::Transfer {
                from,
                to,
                amount,
                notes,
            } => {
                let (from, to) = (self.resolve(from, None)?, self.resolve(to, None)?);
                if from == to {
                    return Err(Refusal::SameAccount);
                }
                let movement = Movement {
                    kind: TransactionType::Transfer,
                    source: (from, Bucket::Balance),
                    destination: (to, Bucket::Balance),
                    shown: (Some(from), Some(to)),
                    amount: *amount,
                    notes: Some(notes),
                    order: None,
                    reverses: None,
                };
                let record = self.decide(&movement)?.post(self, maker);
                let balances = (self.balance(from)?, self.balance(to)?);
                Ok(moved(record, Some(balances)))
            }
            Command::Reserve {
                account,
                order,
                amount,
                expires_at,
            } => {
                let account = self.resolve(account, None)?;
                self.reserve(account, order, *amount, *expires_at, maker)
            }
            Command::Capture { order, amount } => {
                self.finish(*order, Finish::Capture(*amount), maker)
            }
            Command::Release { order } => self.finish(*order, Finish::Release, maker),
            Command::Expire { order } => self.finish(*order, Finish::Expire, maker),
            Command::TransferBatch { atomic, legs } => self.transfer_batch(*atomic, legs, maker),
            Command::Reverse {
                original,
                amount,
                notes,
            } => self.reverse(*original, *amount, notes, maker),
        }
    }

    /// Transfers in order. An atomic batch is first decided on a copy of its
    /// accounts: if any transfer is refused, none is made and each is
    /// recorded as failed (with its own reason, or `linked_transfer_failed`).
    fn transfer_batch(
        &mut self,
        atomic: bool,
        legs: &[Leg],
        maker: &mut Maker<'_>,
    ) -> Result<Outcome, Refusal> {
        let in_batch = |index: usize, field: Option<&'static str>| {
            move |refusal: Refusal| Refusal::InBatch {
                index,
                field,
                refusal: Box::new(refusal),
            }
        };
        let field = |target: &Target, account: &'static str, user: &'static str| match target {
            Target::Account(_) => Some(account),
            Target::User(..) => Some(user),
        };
        let mut sides = Vec::with_capacity(legs.len());
        for (index, leg) in legs.iter().enumerate() {
            let from = self.resolve(&leg.from, None).map_err(in_batch(
                index,
                field(&leg.from, "from_account_id", "from_user_id"),
            ))?;
            let to = self.resolve(&leg.to, None).map_err(in_batch(
                index,
                field(&leg.to, "to_account_id", "to_user_id"),
            ))?;
            if from == to {
                return Err(in_batch(index, None)(Refusal::SameAccount));
            }
            sides.push((from, to));
        }
        let faults = if atomic {
            self.rehearse(&sides, legs)?
        } else {
            Vec::new()
        };
        // Nothing of an atomic batch moves once one transfer is refused.
        let broken = faults.iter().any(Option::is_some);
        let mut items = Vec::with_capacity(legs.len());
        for (index, (leg, (from, to))) in legs.iter().zip(sides.iter().copied()).enumerate() {
            let imposed =
                broken.then(|| faults[index].unwrap_or(FailureReason::LinkedTransferFailed));
            let record = self
                .decide_or_refuse(&leg_movement((from, to), leg), imposed)?
                .post(self, maker);
            let balances = match record.failure {
                None => Some((self.balance(from)?, self.balance(to)?)),
                Some(_) => None,
            };
            items.push((record, balances));
        }
        Ok(Outcome::Batch { atomic, items })
    }

    /// Decides an atomic batch's transfers in order on a copy of their
    /// accounts: each one's own refusal, if it has one.
    fn rehearse(
        &self,
        sides: &[(AccountId, AccountId)],
        legs: &[Leg],
    ) -> Result<Vec<Option<FailureReason>>, Refusal> {
        let mut copies: HashMap<AccountId, AccountState> = HashMap::new();
        for (from, to) in sides {
            for id in [from, to] {
                let state = self.accounts.get(id).cloned().ok_or_else(|| {
                    Refusal::Inconsistent(format!("account {id} was not locked for the batch"))
                })?;
                copies.insert(*id, state);
            }
        }
        let mut faults = Vec::with_capacity(legs.len());
        for ((from, to), leg) in sides.iter().zip(legs) {
            let (source, destination) = (&copies[from], &copies[to]);
            match ledger::decide(
                source,
                Bucket::Balance,
                destination,
                Bucket::Balance,
                leg.amount,
            ) {
                Decision::Refuse(reason) => faults.push(Some(reason)),
                Decision::Post(postings) => {
                    for posting in postings {
                        if let Some(account) = copies.get_mut(&posting.account) {
                            account.balance += posting.amount;
                        }
                    }
                    faults.push(None);
                }
            }
        }
        Ok(faults)
    }

    /// Moves money back the way a successful deposit, withdrawal, transfer
    /// or capture moved it; refused for funds like any movement.
    fn reverse(
        &mut self,
        id: TransactionId,
        asked: Option<Amount>,
        notes: &Notes,
        maker: &mut Maker<'_>,
    ) -> Result<Outcome, Refusal> {
        let original = self
            .originals
            .get(&id)
            .cloned()
            .flatten()
            .ok_or(Refusal::NoTransaction(id))?;
        let way = Reversal::of(&original)?;
        let reversed = original.reversed + self.reversed.get(&id).copied().unwrap_or_default();
        let left = original.amount.value() - reversed;
        let amount = match asked {
            Some(asked) if asked.value() <= left => asked,
            None if left > Decimal::ZERO => Amount::try_from(left).map_err(|e| {
                Refusal::Inconsistent(format!("transaction {id} has {left} left: {e}"))
            })?,
            _ => {
                return Err(Refusal::ReversalExceedsOriginal {
                    id,
                    amount: original.amount,
                    reversed,
                    asked: asked.map_or(Decimal::ZERO, Amount::value),
                })
            }
        };
        let owner = way.user().ok_or_else(|| {
            Refusal::Inconsistent(format!("transaction {id} names no user account"))
        })?;
        let side = |books: &Self, side: Side| -> Result<(AccountId, Bucket), Refusal> {
            match side {
                Side::User(account) => Ok((books.user_account(account)?.id, Bucket::Balance)),
                Side::System(kind) => Ok((books.system_of(kind, owner)?, Bucket::Balance)),
            }
        };
        let movement = Movement {
            kind: TransactionType::Reversal,
            source: side(self, way.source)?,
            destination: side(self, way.destination)?,
            shown: (way.source.user(), way.destination.user()),
            amount,
            notes: Some(notes),
            order: original.order.as_ref(),
            reverses: Some(id),
        };
        let record = self.decide(&movement)?.post(self, maker);
        if record.failure.is_none() {
            *self.reversed.entry(id).or_default() += amount.value();
        }
        Ok(moved(record, None))
    }

    /// Everything the applied commands change, for the store to write.
    pub fn into_changes(mut self) -> Changes {
        let opened_ids: HashSet<AccountId> = self.opened.iter().map(|o| o.id).collect();
        let opened: Vec<_> = std::mem::take(&mut self.opened)
            .into_iter()
            .map(|account| {
                let parts = self.deltas.get(&account.id).copied().unwrap_or_default();
                (account, parts.0, parts.1)
            })
            .collect();
        let orders = self
            .touched_orders
            .iter()
            .filter_map(|id| self.orders.get(id).cloned().flatten())
            .collect();
        let revenue = revenue_changes(&self.records);
        let heads = heads(&self.records);
        Changes {
            balances: self
                .deltas
                .into_iter()
                .filter(|(id, _)| !opened_ids.contains(id))
                .map(|(id, (balance, reserved))| (id, balance, reserved))
                .collect(),
            opened,
            records: self.records,
            postings: self.postings,
            orders,
            reversed: self.reversed.into_iter().collect(),
            revenue,
            heads,
        }
    }

    /// The account a target names: the user's oldest of the currency, or
    /// the one `opens` opens for a user who has none (a deposit).
    fn resolve(&mut self, target: &Target, opens: Option<AccountId>) -> Result<AccountId, Refusal> {
        match target {
            Target::Account(id) => Ok(self.user_account(*id)?.id),
            Target::User(user, currency) => {
                match self
                    .users
                    .get(&(*user, currency.clone()))
                    .copied()
                    .flatten()
                {
                    Some(id) => Ok(self.user_account(id)?.id),
                    None => match opens {
                        Some(opens) => Ok(self.open(*user, currency, opens).id),
                        None => Err(Refusal::NoUserAccount(*user, currency.clone())),
                    },
                }
            }
        }
    }

    fn user_account(&self, id: AccountId) -> Result<&AccountState, Refusal> {
        self.accounts
            .get(&id)
            .filter(|a| a.kind == AccountKind::User)
            .ok_or(Refusal::NoAccount(id))
    }

    fn balance(&self, id: AccountId) -> Result<Decimal, Refusal> {
        Ok(self.user_account(id)?.balance)
    }

    fn system_of(&self, kind: AccountKind, owner: AccountId) -> Result<AccountId, Refusal> {
        let owner = self.user_account(owner)?;
        self.systems
            .get(&(kind, owner.currency.clone()))
            .copied()
            .ok_or_else(|| {
                Refusal::Inconsistent(format!(
                    "the {} account of {} is missing",
                    kind.name(),
                    owner.currency
                ))
            })
    }

    fn open(&mut self, user: UserId, currency: &Currency, id: AccountId) -> Opened {
        let opened = Opened {
            id,
            user,
            currency: currency.clone(),
            created_at: self.now,
        };
        self.accounts.insert(
            id,
            AccountState {
                id,
                kind: AccountKind::User,
                currency: currency.as_str().to_owned(),
                balance: Decimal::ZERO,
                reserved: Decimal::ZERO,
            },
        );
        plan_open(&mut self.users, user, currency, id);
        self.deltas.entry(id).or_default();
        self.opened.push(opened.clone());
        opened
    }

    fn reserve(
        &mut self,
        account: AccountId,
        order: &OrderRef,
        amount: Amount,
        expires_at: DateTime<Utc>,
        maker: &mut Maker<'_>,
    ) -> Result<Outcome, Refusal> {
        if self
            .orders
            .get(&order.order_id)
            .is_some_and(Option::is_some)
        {
            return Err(Refusal::OrderTaken(order.order_id));
        }
        let account = self.user_account(account)?;
        let (id, currency) = (account.id, account.currency.clone());
        let movement = Movement {
            kind: TransactionType::Reservation,
            source: (id, Bucket::Balance),
            destination: (id, Bucket::Reserved),
            shown: (Some(id), None),
            amount,
            notes: None,
            order: Some(order),
            reverses: None,
        };
        let record = self.decide(&movement)?.post(self, maker);
        if record.failure.is_some() {
            // Recorded as failed; the order id stays free for a later attempt.
            return Ok(moved(record, None));
        }
        let made = Order {
            order: order.clone(),
            account: id,
            amount,
            captured: None,
            currency: parse_currency(&currency)?,
            status: ReservationStatus::Reserved,
            created_at: self.now,
            updated_at: self.now,
            expires_at,
        };
        self.orders.insert(order.order_id, Some(made.clone()));
        self.touched_orders.push(order.order_id);
        Ok(Outcome::Order {
            order: made,
            created: true,
        })
    }

    /// Captures (all or part of it, the rest released) or releases a
    /// `reserved` order.
    fn finish(
        &mut self,
        order_id: OrderId,
        how: Finish,
        maker: &mut Maker<'_>,
    ) -> Result<Outcome, Refusal> {
        let order = self
            .orders
            .get(&order_id)
            .cloned()
            .flatten()
            .ok_or(Refusal::NoOrder(order_id))?;
        // From expires_at on a caller is told so, also once the sweeper has
        // released the hold.
        let swept = order.status == ReservationStatus::Expired;
        if swept && !matches!(how, Finish::Expire) {
            return Err(Refusal::ReservationExpired(order_id));
        }
        if order.status != ReservationStatus::Reserved {
            return Err(Refusal::NotReserved {
                order: order_id,
                status: order.status.name(),
            });
        }
        let expired = self.now >= order.expires_at;
        match (how, expired) {
            (Finish::Expire, false) => return Err(Refusal::NotExpired(order_id)),
            (Finish::Capture(_) | Finish::Release, true) => {
                return Err(Refusal::ReservationExpired(order_id))
            }
            _ => {}
        }
        let account = order.account;
        let held = self
            .accounts
            .get(&account)
            .map_or(Decimal::ZERO, |a| a.reserved);
        if held < order.amount.value() {
            return Err(Refusal::Inconsistent(format!(
                "order {order_id}: the reserved part of account {account} does not cover {}",
                order.amount
            )));
        }
        let expiry = Notes {
            description: CallerText::parse("description", Some("the hold expired"))
                .ok()
                .flatten(),
            reference: None,
        };
        let release = |amount: Amount, expired: bool| Movement {
            kind: TransactionType::Release,
            source: (account, Bucket::Reserved),
            destination: (account, Bucket::Balance),
            shown: (None, Some(account)),
            amount,
            notes: expired.then_some(&expiry),
            order: Some(&order.order),
            reverses: None,
        };
        let finished = match how {
            Finish::Release => {
                self.decide(&release(order.amount, false))?
                    .post(self, maker);
                Order {
                    status: ReservationStatus::Released,
                    updated_at: self.now,
                    ..order.clone()
                }
            }
            Finish::Expire => {
                self.decide(&release(order.amount, true))?.post(self, maker);
                Order {
                    status: ReservationStatus::Expired,
                    updated_at: self.now,
                    ..order.clone()
                }
            }
            Finish::Capture(asked) => {
                let captured = asked.unwrap_or(order.amount);
                if captured > order.amount {
                    return Err(Refusal::CaptureExceedsReserved {
                        order: order_id,
                        asked: captured,
                        reserved: order.amount,
                    });
                }
                let revenue = self.system_of(AccountKind::Revenue, account)?;
                let capture = Movement {
                    kind: TransactionType::Capture,
                    source: (account, Bucket::Reserved),
                    destination: (revenue, Bucket::Balance),
                    shown: (Some(account), None),
                    amount: captured,
                    notes: None,
                    order: Some(&order.order),
                    reverses: None,
                };
                self.decide(&capture)?.post(self, maker);
                // The rest of the hold goes back, in the same transaction.
                if let Ok(rest) = Amount::try_from(order.amount.value() - captured.value()) {
                    self.decide(&release(rest, false))?.post(self, maker);
                }
                Order {
                    status: ReservationStatus::Captured,
                    captured: Some(captured),
                    updated_at: self.now,
                    ..order.clone()
                }
            }
        };
        self.orders.insert(order_id, Some(finished.clone()));
        if !self.touched_orders.contains(&order_id) {
            self.touched_orders.push(order_id);
        }
        Ok(Outcome::Order {
            order: finished,
            created: false,
        })
    }

    /// Decides a movement without changing anything yet.
    fn decide(&self, m: &Movement<'_>) -> Result<Decided, Refusal> {
        self.decide_or_refuse(m, None)
    }

    /// Decides a movement, or records it as refused for `imposed` whatever
    /// the books say (a transfer of an atomic batch another one broke).
    fn decide_or_refuse(
        &self,
        m: &Movement<'_>,
        imposed: Option<FailureReason>,
    ) -> Result<Decided, Refusal> {
        let state = |id: AccountId| {
            self.accounts.get(&id).ok_or_else(|| {
                Refusal::Inconsistent(format!("account {id} was not locked for the batch"))
            })
        };
        let (from, to) = (state(m.source.0)?, state(m.destination.0)?);
        let decision = match imposed {
            Some(reason) => Decision::Refuse(reason),
            None => ledger::decide(from, m.source.1, to, m.destination.1, m.amount),
        };
        let failure = match &decision {
            Decision::Post(_) => None,
            Decision::Refuse(reason) => Some(*reason),
        };
        let currency = parse_currency(&from.currency)?;
        let description = ledger::describe(
            &ledger::Movement {
                kind: m.kind,
                amount: m.amount,
                currency: &currency,
                from: m.shown.0,
                to: m.shown.1,
                order: m.order,
                reverses: m.reverses,
                caller_description: m
                    .notes
                    .and_then(|n| n.description.as_ref())
                    .map(CallerText::as_str),
            },
            failure,
        );
        Ok(Decided {
            postings: match decision {
                Decision::Post(postings) => postings,
                Decision::Refuse(_) => Vec::new(),
            },
            record: Record {
                id: TransactionId(Uuid::nil()),
                kind: m.kind,
                failure,
                amount: m.amount,
                currency,
                from: m.shown.0,
                to: m.shown.1,
                order: m.order.cloned(),
                reverses: m.reverses,
                reference: m
                    .notes
                    .and_then(|n| n.reference.as_ref())
                    .map(|r| r.as_str().to_owned()),
                description,
                created_by: String::new(),
                created_at: self.now,
                from_after: None,
                to_after: None,
            },
        })
    }
}

/// How a `reserved` order ends.
#[derive(Debug, Clone, Copy)]
enum Finish {
    /// All of the hold, or this much of it.
    Capture(Option<Amount>),
    Release,
    /// The service's release of a hold that ran out.
    Expire,
}

/// One movement between two accounts' buckets.
struct Movement<'a> {
    kind: TransactionType,
    source: (AccountId, Bucket),
    destination: (AccountId, Bucket),
    /// The user accounts the transaction names as `from` / `to`.
    shown: (Option<AccountId>, Option<AccountId>),
    amount: Amount,
    notes: Option<&'a Notes>,
    order: Option<&'a OrderRef>,
    reverses: Option<TransactionId>,
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
struct Reversal {
    source: Side,
    destination: Side,
}

impl Reversal {
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
            TransactionType::Transfer => (user(original.to)?, user(original.from)?),
            // A refund: from revenue back into the account's balance.
            TransactionType::Capture => (Side::System(AccountKind::Revenue), user(original.from)?),
            TransactionType::Reservation | TransactionType::Release | TransactionType::Reversal => {
                return Err(not(
                    "only deposits, withdrawals, transfers and captures can be reversed",
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
            _ => None,
        }
    }
}

/// What to lock for an existing user account and, if `system` is given, its
/// system account of that kind.
fn account_locks(account: AccountId, system: Option<AccountKind>) -> Vec<Lock> {
    let mut locks = vec![Lock::Account(account)];
    locks.extend(system.map(|kind| Lock::SystemOf(kind, account)));
    locks
}

/// The movement of one transfer of a batch.
fn leg_movement((from, to): (AccountId, AccountId), leg: &Leg) -> Movement<'_> {
    Movement {
        kind: TransactionType::Transfer,
        source: (from, Bucket::Balance),
        destination: (to, Bucket::Balance),
        shown: (Some(from), Some(to)),
        amount: leg.amount,
        notes: Some(&leg.notes),
        order: None,
        reverses: None,
    }
}

/// A movement decided and not yet posted.
struct Decided {
    postings: Vec<Posting>,
    record: Record,
}

impl Decided {
    /// Applies the postings to the books and records the transaction.
    fn post(self, books: &mut Books, maker: &mut Maker<'_>) -> Record {
        let id = TransactionId((maker.new_id)());
        for posting in self.postings {
            let delta = books.deltas.entry(posting.account).or_default();
            if let Some(account) = books.accounts.get_mut(&posting.account) {
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
            }
            books.postings.push((id, posting));
        }
        let parts = |account: Option<AccountId>| {
            account
                .and_then(|id| books.accounts.get(&id))
                .map(|a| (a.balance, a.reserved))
        };
        let record = Record {
            id,
            created_by: maker.created_by.to_owned(),
            from_after: parts(self.record.from),
            to_after: parts(self.record.to),
            ..self.record
        };
        books.records.push(record.clone());
        record
    }
}

fn moved(record: Record, balances_after: Option<(Decimal, Decimal)>) -> Outcome {
    Outcome::Moved {
        record,
        balances_after,
    }
}

/// Notes an account opened for a user: it becomes the user's oldest of its
/// currency unless the user already had one (one that exists is older; of
/// two opened at the same time, the smaller id comes first, as in the table).
fn plan_open(
    users: &mut HashMap<(UserId, Currency), Option<AccountId>>,
    user: UserId,
    currency: &Currency,
    id: AccountId,
) {
    let oldest = users.entry((user, currency.clone())).or_insert(None);
    if oldest.is_none() {
        *oldest = Some(id);
    }
}

fn parse_currency(code: &str) -> Result<Currency, Refusal> {
    Currency::parse(code).map_err(|e| Refusal::Inconsistent(e.message))
}

impl Opened {
    fn to_wire_account(&self) -> Account {
        Account {
            account_id: self.id,
            user_id: self.user.value(),
            currency: self.currency.as_str().to_owned(),
            balance: Decimal::ZERO,
            reserved: Decimal::ZERO,
            created_at: self.created_at,
        }
    }
}

impl Command {
    /// The orders the command names, to be locked and read before planning.
    pub fn order(&self) -> Option<OrderId> {
        match self {
            Self::Reserve { order, .. } => Some(order.order_id),
            Self::Capture { order, .. } | Self::Release { order } | Self::Expire { order } => {
                Some(*order)
            }
            _ => None,
        }
    }

    /// The currency of an account the command may open (only opening an
    /// account, or a first deposit by user, can bring a new currency).
    pub fn may_open(&self) -> Option<&Currency> {
        match self {
            Self::Open { currency, .. }
            | Self::Deposit {
                to: Target::User(_, currency),
                ..
            } => Some(currency),
            _ => None,
        }
    }

    /// The transaction the command reverses, to be locked and read before
    /// planning.
    pub fn original(&self) -> Option<TransactionId> {
        match self {
            Self::Reverse { original, .. } => Some(*original),
            _ => None,
        }
    }

    /// The users and currencies whose oldest accounts the command looks
    /// for, to be locked and read before planning.
    pub fn users(&self) -> Vec<(UserId, Currency)> {
        let user = |target: &Target| match target {
            Target::User(user, currency) => Some((*user, currency.clone())),
            Target::Account(_) => None,
        };
        match self {
            Self::Open { user, currency, .. } => vec![(*user, currency.clone())],
            Self::Deposit { to, .. } => user(to).into_iter().collect(),
            Self::Withdrawal { from, .. } => user(from).into_iter().collect(),
            Self::Transfer { from, to, .. } => user(from).into_iter().chain(user(to)).collect(),
            Self::Reserve { account, .. } => user(account).into_iter().collect(),
            Self::TransferBatch { legs, .. } => legs
                .iter()
                .flat_map(|leg| user(&leg.from).into_iter().chain(user(&leg.to)))
                .collect(),
            Self::Capture { .. }
            | Self::Release { .. }
            | Self::Expire { .. }
            | Self::Reverse { .. } => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared_types::AmountInput;

    fn test_maker() -> Maker<'static> {
        Maker {
            created_by: "test",
            new_id: Box::leak(Box::new(Uuid::now_v7)),
        }
    }

    fn amount(s: &str) -> Amount {
        Amount::parse(&AmountInput::from(s)).unwrap()
    }

    fn later() -> DateTime<Utc> {
        Utc::now() + chrono::Duration::days(1)
    }

    fn usd() -> Currency {
        Currency::parse("USD").unwrap()
    }

    fn account(kind: AccountKind, balance: i64) -> AccountState {
        AccountState {
            id: AccountId(Uuid::now_v7()),
            kind,
            currency: "USD".into(),
            balance: Decimal::from(balance),
            reserved: Decimal::ZERO,
        }
    }

    /// Books over one user account with `balance` and every system account
    /// of USD, as the engine would lock them.
    fn books_with(user: &AccountState, orders: HashMap<OrderId, Option<Order>>) -> Books {
        let mut books = Books::new(orders, HashMap::new(), HashMap::new());
        let mut locked = vec![user.clone()];
        for kind in [AccountKind::External, AccountKind::Revenue] {
            locked.push(account(kind, 0));
        }
        books.lock(Utc::now(), locked);
        books
    }

    fn order_ref(id: i64) -> OrderRef {
        OrderRef {
            order_id: OrderId::parse(id).unwrap(),
            service_id: crate::domain::ServiceId::parse(3).unwrap(),
            service_name: None,
        }
    }

    #[test]
    fn two_first_deposits_of_a_user_open_one_account() {
        let mut books = Books::new(
            HashMap::new(),
            HashMap::from([((UserId::parse(7).unwrap(), usd()), None)]),
            HashMap::new(),
        );
        let deposit = |opens: AccountId| Command::Deposit {
            to: Target::User(UserId::parse(7).unwrap(), usd()),
            opens,
            amount: amount("5"),
            notes: Notes::default(),
        };
        let (a, b) = (AccountId(Uuid::now_v7()), AccountId(Uuid::now_v7()));
        let plans = [books.plan(&deposit(a)), books.plan(&deposit(b))];
        assert_eq!(
            plans[0], plans[1],
            "the second deposit plans for the first's account"
        );
        books.lock(Utc::now(), vec![account(AccountKind::External, 0)]);
        for opens in [a, b] {
            let Outcome::Moved { record, .. } =
                books.apply(&deposit(opens), &mut test_maker()).unwrap()
            else {
                panic!("a deposit moves money");
            };
            assert_eq!(record.to, Some(a));
        }
        let changes = books.into_changes();
        assert_eq!(changes.opened.len(), 1);
        assert_eq!(changes.opened[0].1, Decimal::from(10));
        assert_eq!(changes.records.len(), 2);
        assert_eq!(
            changes
                .postings
                .iter()
                .map(|(_, p)| p.amount)
                .sum::<Decimal>(),
            Decimal::ZERO
        );
    }

    fn books_time(changes: &Changes) -> DateTime<Utc> {
        changes.records[0].created_at
    }

    #[test]
    fn a_batchs_captures_and_refunds_are_one_revenue_change_per_service_and_month() {
        let payer = account(AccountKind::User, 1000);
        let ids: Vec<OrderId> = (21..=23).map(|i| OrderId::parse(i).unwrap()).collect();
        let mut books = books_with(&payer, ids.iter().map(|id| (*id, None)).collect());
        let named = |id: i64, service: i64, name: Option<&str>| OrderRef {
            order_id: OrderId::parse(id).unwrap(),
            service_id: crate::domain::ServiceId::parse(service).unwrap(),
            service_name: name.map(str::to_owned),
        };
        for (order, held) in [
            (named(21, 3, Some("first")), "10"),
            (named(22, 3, Some("second")), "20"),
            (named(23, 4, None), "5"),
        ] {
            let id = order.order_id;
            let reserve = Command::Reserve {
                account: Target::Account(payer.id),
                order,
                amount: amount(held),
                expires_at: later(),
            };
            books.apply(&reserve, &mut test_maker()).unwrap();
            let capture = Command::Capture {
                order: id,
                amount: None,
            };
            books.apply(&capture, &mut test_maker()).unwrap();
        }
        let capture_of_23 = books
            .records
            .iter()
            .find(|r| r.kind == TransactionType::Capture && r.amount == amount("5"))
            .unwrap()
            .clone();
        books.originals.insert(
            capture_of_23.id,
            Some(Original {
                id: capture_of_23.id,
                kind: TransactionType::Capture,
                status: TransactionStatus::Success,
                amount: capture_of_23.amount,
                currency: usd(),
                from: Some(payer.id),
                to: None,
                order: capture_of_23.order.clone(),
                reversed: Decimal::ZERO,
            }),
        );
        let refund = Command::Reverse {
            original: capture_of_23.id,
            amount: Some(amount("2")),
            notes: Notes::default(),
        };
        books.apply(&refund, &mut test_maker()).unwrap();

        let changes = books.into_changes();
        let revenue: Vec<_> = changes
            .revenue
            .iter()
            .map(|c| {
                (
                    c.service.value(),
                    c.amount,
                    c.named.as_ref().map(|n| n.0.as_str()),
                )
            })
            .collect();
        assert_eq!(
            revenue,
            vec![
                (3, Decimal::from(30), Some("second")),
                (4, Decimal::from(3), None),
            ],
            "summed per service, the later name kept, the refund subtracted"
        );
        assert!(changes
            .revenue
            .iter()
            .all(|c| c.month == Month::of(books_time(&changes))));
        let head = changes
            .heads
            .iter()
            .find(|(account, ..)| *account == payer.id)
            .unwrap();
        assert_eq!(
            (head.1, head.2, head.3),
            (
                changes.records.last().unwrap().id,
                Decimal::from(967),
                Decimal::ZERO
            ),
            "the payer's head is its last transaction, 35 captured and 2 refunded"
        );
    }

    #[test]
    fn an_order_reserved_and_captured_in_one_batch_ends_captured() {
        let payer = account(AccountKind::User, 100);
        let id = OrderId::parse(7).unwrap();
        let mut books = books_with(&payer, HashMap::from([(id, None)]));
        let reserve = Command::Reserve {
            account: Target::Account(payer.id),
            order: order_ref(7),
            amount: amount("40"),
            expires_at: later(),
        };
        let capture = Command::Capture {
            order: id,
            amount: None,
        };
        assert!(books.plan(&reserve).contains(&Lock::Account(payer.id)));
        assert!(books
            .plan(&capture)
            .contains(&Lock::SystemOf(AccountKind::Revenue, payer.id)));

        assert!(matches!(
            books.apply(&reserve, &mut test_maker()),
            Ok(Outcome::Order { created: true, .. })
        ));
        assert_eq!(
            books.apply(&reserve, &mut test_maker()).unwrap_err(),
            Refusal::OrderTaken(id)
        );
        assert!(matches!(
            books.apply(&capture, &mut test_maker()),
            Ok(Outcome::Order { created: false, .. })
        ));
        assert_eq!(
            books
                .apply(&Command::Release { order: id }, &mut test_maker())
                .unwrap_err(),
            Refusal::NotReserved {
                order: id,
                status: "captured"
            }
        );
        let changes = books.into_changes();
        assert_eq!(changes.orders.len(), 1, "one row per order, as it ends");
        assert_eq!(changes.orders[0].status, ReservationStatus::Captured);
        assert_eq!(changes.records.len(), 2);
        let payer_change = changes
            .balances
            .iter()
            .find(|(a, _, _)| *a == payer.id)
            .unwrap();
        assert_eq!(
            (payer_change.1, payer_change.2),
            (Decimal::from(-40), Decimal::ZERO)
        );
    }

    #[test]
    fn a_refused_reservation_is_recorded_and_leaves_the_order_free() {
        let payer = account(AccountKind::User, 10);
        let id = OrderId::parse(8).unwrap();
        let mut books = books_with(&payer, HashMap::from([(id, None)]));
        let reserve = |amount_text: &str| Command::Reserve {
            account: Target::Account(payer.id),
            order: order_ref(8),
            amount: amount(amount_text),
            expires_at: later(),
        };
        let Ok(Outcome::Moved { record, .. }) = books.apply(&reserve("11"), &mut test_maker())
        else {
            panic!("a refusal for funds is recorded");
        };
        assert_eq!(record.failure, Some(FailureReason::InsufficientFunds));
        assert!(matches!(
            books.apply(&reserve("10"), &mut test_maker()),
            Ok(Outcome::Order { created: true, .. })
        ));
    }

    #[test]
    fn what_is_refused_changes_nothing() {
        let payer = account(AccountKind::User, 10);
        let mut books = books_with(&payer, HashMap::new());
        let missing = AccountId(Uuid::now_v7());
        let transfer = Command::Transfer {
            from: Target::Account(payer.id),
            to: Target::Account(missing),
            amount: amount("1"),
            notes: Notes::default(),
        };
        assert_eq!(
            books.apply(&transfer, &mut test_maker()).unwrap_err(),
            Refusal::NoAccount(missing)
        );
        let changes = books.into_changes();
        assert!(changes.records.is_empty() && changes.postings.is_empty());
        assert!(changes
            .balances
            .iter()
            .all(|(_, b, r)| b.is_zero() && r.is_zero()));
    }

    #[test]
    fn a_hold_its_account_does_not_cover_is_inconsistent_not_captured() {
        let payer = account(AccountKind::User, 0);
        let id = OrderId::parse(9).unwrap();
        let order = Order {
            order: order_ref(9),
            account: payer.id,
            amount: amount("5"),
            captured: None,
            currency: usd(),
            status: ReservationStatus::Reserved,
            created_at: Utc::now(),
            updated_at: Utc::now(),
            expires_at: later(),
        };
        let mut books = books_with(&payer, HashMap::from([(id, Some(order))]));
        assert!(matches!(
            books.apply(
                &Command::Capture {
                    order: id,
                    amount: None
                },
                &mut test_maker()
            ),
            Err(Refusal::Inconsistent(_))
        ));
        assert!(books.into_changes().records.is_empty());
    }

    #[test]
    fn an_expired_hold_is_ended_only_by_expire_and_only_once() {
        let payer = account(AccountKind::User, 0);
        let id = OrderId::parse(11).unwrap();
        let order = Order {
            order: order_ref(11),
            account: payer.id,
            amount: amount("5"),
            captured: None,
            currency: usd(),
            status: ReservationStatus::Reserved,
            created_at: Utc::now(),
            updated_at: Utc::now(),
            expires_at: Utc::now() - chrono::Duration::seconds(1),
        };
        let mut held = payer.clone();
        held.reserved = Decimal::from(5);
        let mut books = books_with(&held, HashMap::from([(id, Some(order))]));
        let capture = Command::Capture {
            order: id,
            amount: None,
        };
        assert_eq!(
            books.apply(&capture, &mut test_maker()).unwrap_err(),
            Refusal::ReservationExpired(id)
        );
        let expire = Command::Expire { order: id };
        let Ok(Outcome::Order { order, .. }) = books.apply(&expire, &mut test_maker()) else {
            panic!("an expired hold is released");
        };
        assert_eq!(order.status, ReservationStatus::Expired);
        assert!(matches!(
            books.apply(&expire, &mut test_maker()),
            Err(Refusal::NotReserved { .. })
        ));
        let changes = books.into_changes();
        assert_eq!(changes.records.len(), 1);
        assert!(changes.records[0].description.contains("the hold expired"));
    }
}

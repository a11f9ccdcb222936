//! The books of one batch: the locked state of everything its commands
//! touch, as the commands applied so far leave it. The group-commit engine
//! reads and locks what [`Books::plan`] asks for, lets [`Books::apply`]
//! decide each command in order, and writes what [`Books::into_changes`]
//! hands back, all in one database transaction. What each command does is
//! its own file's, under `commands/`.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use shared_types::accounts::{AccountId, AccountStatus, TransactionId};
use shared_types::Named;
use uuid::Uuid;

use super::commands::{Command, Outcome, Target};
use super::movement::{self, Movement};
use super::posting::{self, AccountKind, AccountState, Bucket, Decision, FailureReason, Posting};
use super::records::{Exchanged, Opened, Order, Original, Record};
use super::refusal::Refusal;
use super::Metadata;
use super::{Currency, OrderId, UserId};

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

/// The locked state of everything a batch touches, as its commands leave it.
#[derive(Debug)]
pub struct Books {
    pub(super) now: DateTime<Utc>,
    pub(super) accounts: HashMap<AccountId, AccountState>,
    /// The batch's system account of each kind and currency.
    systems: HashMap<(AccountKind, String), AccountId>,
    /// Each `(user, currency)` asked for, and the user's oldest account of it.
    users: HashMap<(UserId, Currency), Option<AccountId>>,
    /// Each order asked for, as it stands (`None`: no reservation).
    pub(super) orders: HashMap<OrderId, Option<Order>>,
    /// Each transaction a reversal names, as it stands (`None`: no such one).
    pub(super) originals: HashMap<TransactionId, Option<Original>>,
    /// What the batch's reversals add to each original's reversed amount.
    pub(super) reversed: HashMap<TransactionId, Decimal>,
    /// The same two as `plan` foresees them, before anything is applied.
    planned_users: HashMap<(UserId, Currency), Option<AccountId>>,
    pub(super) planned_orders: HashMap<OrderId, Option<AccountId>>,
    /// Accounts `plan` foresees opened: they cannot be found by id yet.
    planned_new: HashSet<AccountId>,
    pub(super) opened: Vec<Opened>,
    pub(super) deltas: HashMap<AccountId, (Decimal, Decimal)>,
    pub(super) records: Vec<Record>,
    pub(super) postings: Vec<(TransactionId, Posting)>,
    pub(super) touched_orders: Vec<OrderId>,
    /// The accounts whose standing the batch changed.
    pub(super) restated: Vec<AccountId>,
}

/// How far the books had come: what [`Books::undo`] goes back to.
#[derive(Debug, Clone, Copy)]
pub struct Mark {
    records: usize,
    postings: usize,
}

impl Books {
    /// Books over the orders, users' accounts and transactions the batch's
    /// commands name ([`Command::names`]), read under their locks.
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
            restated: Vec::new(),
        }
    }

    /// What `command` needs locked, given what the commands planned before it
    /// will have done (an account a deposit opens, an order a reserve makes).
    /// Asking for more than [`Books::apply`] then uses is harmless; less is not.
    pub fn plan(&mut self, command: &Command) -> Vec<Lock> {
        command.rule().plan(self)
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
        command.rule().apply(self, maker)
    }

    /// The account a target will name, if any, and what to lock for it and
    /// for its system account of `system`. `opens` is the account a deposit
    /// opens for a user who has none.
    pub(super) fn plan_target(
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

    /// Plans an account opened for a user: nothing to lock.
    pub(super) fn plan_open(&mut self, user: UserId, currency: &Currency, id: AccountId) {
        oldest(&mut self.planned_users, user, currency, id);
        self.planned_new.insert(id);
    }

    /// The account a target names: the user's oldest of the currency, or
    /// the one `opens` opens for a user who has none (a deposit).
    pub(super) fn resolve(
        &mut self,
        target: &Target,
        opens: Option<AccountId>,
    ) -> Result<AccountId, Refusal> {
        match target {
            Target::Account(id) => Ok(self.user_account(*id)?.id),
            Target::User(user, currency) => {
                match self
                    .users
                    .get(&(*user, currency.clone()))
                    .copied()
                    .flatten()
                {
                    // Closed in this batch: a deposit opens another.
                    Some(id) if self.user_account(id)?.status == AccountStatus::Closed => {
                        match opens {
                            Some(opens) => {
                                self.users.insert((*user, currency.clone()), None);
                                Ok(self.open(*user, currency, opens, Metadata::default()).id)
                            }
                            None => Ok(id),
                        }
                    }
                    Some(id) => Ok(self.user_account(id)?.id),
                    None => match opens {
                        Some(opens) => {
                            Ok(self.open(*user, currency, opens, Metadata::default()).id)
                        }
                        None => Err(Refusal::NoUserAccount(*user, currency.clone())),
                    },
                }
            }
        }
    }

    pub(super) fn user_account(&self, id: AccountId) -> Result<&AccountState, Refusal> {
        self.accounts
            .get(&id)
            .filter(|a| a.kind == AccountKind::User)
            .ok_or(Refusal::NoAccount(id))
    }

    pub(super) fn balance(&self, id: AccountId) -> Result<Decimal, Refusal> {
        Ok(self.user_account(id)?.balance)
    }

    /// Both balances of a transfer's accounts, after it.
    pub(super) fn balances(
        &self,
        (from, to): (AccountId, AccountId),
    ) -> Result<(Decimal, Decimal), Refusal> {
        Ok((self.balance(from)?, self.balance(to)?))
    }

    /// The batch's system account of `kind` in `owner`'s currency.
    pub(super) fn system_of(
        &self,
        kind: AccountKind,
        owner: AccountId,
    ) -> Result<AccountId, Refusal> {
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

    /// Opens a user account: it becomes the user's oldest of its currency
    /// unless the user already had one.
    pub(super) fn open(
        &mut self,
        user: UserId,
        currency: &Currency,
        id: AccountId,
        metadata: Metadata,
    ) -> Opened {
        let opened = Opened {
            id,
            user,
            currency: currency.clone(),
            metadata,
            created_at: self.now,
        };
        let state = AccountState {
            user_id: Some(user.value()),
            created_at: self.now,
            metadata: opened.metadata.clone(),
            ..AccountState::new(id, AccountKind::User, currency.as_str(), Default::default())
        };
        self.accounts.insert(id, state);
        oldest(&mut self.users, user, currency, id);
        self.deltas.entry(id).or_default();
        self.opened.push(opened.clone());
        opened
    }

    /// Decides a movement (with an exchange's leg in the other currency)
    /// and records it as one transaction: its postings when the ledger
    /// allows it, a failed transaction when it does not.
    pub(super) fn post(
        &mut self,
        movement: &Movement<'_>,
        maker: &mut Maker<'_>,
    ) -> Result<Record, Refusal> {
        self.post_or_refuse(movement, None, maker)
    }

    /// Records a movement, or records it as refused for `imposed` whatever
    /// the books say (a transfer of an atomic batch another one broke).
    pub(super) fn post_or_refuse(
        &mut self,
        m: &Movement<'_>,
        imposed: Option<FailureReason>,
        maker: &mut Maker<'_>,
    ) -> Result<Record, Refusal> {
        let state = |id: AccountId| {
            self.accounts.get(&id).ok_or_else(|| {
                Refusal::Inconsistent(format!("account {id} was not locked for the batch"))
            })
        };
        let (from, to) = (state(m.source.0)?, state(m.destination.0)?);
        let decision = match imposed {
            Some(reason) => Decision::Refuse(reason),
            None => {
                let first = posting::decide(from, m.source.1, to, m.destination.1, m.amount);
                match &m.conversion {
                    None => first,
                    // An exchange's two legs are one transaction: both are
                    // posted, or it is refused as a whole.
                    Some(c) => {
                        let (source, destination) = (state(c.source.0)?, state(c.destination.0)?);
                        let second = posting::decide(
                            source,
                            c.source.1,
                            destination,
                            c.destination.1,
                            c.converted,
                        );
                        posting::both(first, second)
                    }
                }
            }
        };
        let currency =
            Currency::parse(&from.currency).map_err(|e| Refusal::Inconsistent(e.message))?;
        let (failure, postings) = match decision {
            Decision::Post(postings) => (None, postings),
            Decision::Refuse(reason) => (Some(reason), Vec::new()),
        };
        let id = TransactionId((maker.new_id)());
        for posting in postings {
            self.add(&posting, posting.amount);
            self.postings.push((id, posting));
        }
        let parts = |account: Option<AccountId>| {
            account
                .and_then(|id| self.accounts.get(&id))
                .map(|a| (a.balance, a.reserved))
        };
        let record = Record {
            id,
            kind: m.kind,
            failure,
            amount: m.amount,
            description: movement::describe(m, &currency, failure),
            currency,
            from: m.shown.0,
            to: m.shown.1,
            order: m.order.cloned(),
            reverses: m.reverses,
            reference: m
                .notes
                .and_then(|n| n.reference.as_ref())
                .map(|r| r.as_str().to_owned()),
            metadata: m.notes.map(|n| n.metadata.clone()).unwrap_or_default(),
            created_by: maker.created_by.to_owned(),
            created_at: self.now,
            from_after: parts(m.shown.0),
            to_after: parts(m.shown.1),
            exchange: m.conversion.as_ref().map(|c| Exchanged {
                rate: c.rate,
                amount: c.converted,
                currency: c.currency.clone(),
            }),
        };
        self.records.push(record.clone());
        Ok(record)
    }

    /// Sets a user account's standing; the account as it then stands.
    pub(super) fn set_status(
        &mut self,
        id: AccountId,
        status: AccountStatus,
        reason: Option<String>,
    ) -> Result<Box<AccountState>, Refusal> {
        let account = self
            .accounts
            .get_mut(&id)
            .filter(|a| a.kind == AccountKind::User)
            .ok_or(Refusal::NoAccount(id))?;
        account.status = status;
        account.status_reason = reason;
        if !self.restated.contains(&id) {
            self.restated.push(id);
        }
        Ok(Box::new(account.clone()))
    }

    /// Where the books stand now.
    pub(super) fn mark(&self) -> Mark {
        Mark {
            records: self.records.len(),
            postings: self.postings.len(),
        }
    }

    /// Takes back every movement recorded since `mark`, the latest first
    /// (as TigerBeetle rolls back a linked chain).
    pub(super) fn undo(&mut self, mark: Mark) {
        while self.postings.len() > mark.postings {
            let Some((_, posting)) = self.postings.pop() else {
                break;
            };
            self.add(&posting, -posting.amount);
        }
        self.records.truncate(mark.records);
    }

    /// Adds `amount` to the posting's bucket of its account, and to what the
    /// batch changes of it.
    fn add(&mut self, posting: &Posting, amount: Decimal) {
        let delta = self.deltas.entry(posting.account).or_default();
        if let Some(account) = self.accounts.get_mut(&posting.account) {
            match posting.bucket {
                Bucket::Balance => {
                    account.balance += amount;
                    delta.0 += amount;
                }
                Bucket::Reserved => {
                    account.reserved += amount;
                    delta.1 += amount;
                }
            }
        }
    }
}

/// What to lock for an existing user account and, if `system` is given, its
/// system account of that kind.
pub(super) fn account_locks(account: AccountId, system: Option<AccountKind>) -> Vec<Lock> {
    let mut locks = vec![Lock::Account(account)];
    locks.extend(system.map(|kind| Lock::SystemOf(kind, account)));
    locks
}

/// Notes an account opened for a user: it becomes the user's oldest of its
/// currency unless the user already had one (one that exists is older; of
/// two opened at the same time, the smaller id comes first, as in the table).
fn oldest(
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

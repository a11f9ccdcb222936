//! Holds for orders: reserve part of an account's balance for an order,
//! then capture it as a service's revenue, release it, or (the service
//! itself, once it ran out) expire it.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use shared_types::accounts::{AccountId, ReservationStatus, TransactionType};
use shared_types::Named;

use super::{moved, Names, Notes, Outcome, Rule, Target};
use crate::domain::books::{account_locks, Books, Lock, Maker};
use crate::domain::movement::Movement;
use crate::domain::posting::{AccountKind, Bucket};
use crate::domain::records::Order;
use crate::domain::refusal::Refusal;
use crate::domain::Metadata;
use crate::domain::{Amount, CallerText, Currency, OrderId, OrderRef};

/// Holds `amount` of an account's balance for an order until `expires_at`.
#[derive(Debug, Clone)]
pub struct Reserve {
    pub account: Target,
    pub order: OrderRef,
    pub amount: Amount,
    pub expires_at: DateTime<Utc>,
    /// Its metadata, kept on its `reservation` transaction.
    pub notes: Notes,
}

impl Rule for Reserve {
    fn names(&self, names: &mut Names) {
        names.orders.push(self.order.order_id);
        names.target(&self.account);
    }

    fn plan(&self, books: &mut Books) -> Vec<Lock> {
        let (account, locks) = books.plan_target(&self.account, None, None);
        let planned = books
            .planned_orders
            .entry(self.order.order_id)
            .or_insert(None);
        if planned.is_none() {
            *planned = account;
        }
        locks
    }

    /// Refused when the order has a hold; recorded as failed (the order id
    /// staying free for a later attempt) when the balance does not cover it.
    fn apply(&self, books: &mut Books, maker: &mut Maker<'_>) -> Result<Outcome, Refusal> {
        let order_id = self.order.order_id;
        if books.orders.get(&order_id).is_some_and(Option::is_some) {
            return Err(Refusal::OrderTaken(order_id));
        }
        let account = books.resolve(&self.account, None)?;
        let currency = Currency::parse(&books.user_account(account)?.currency)
            .map_err(|e| Refusal::Inconsistent(e.message))?;
        let movement = Movement {
            kind: TransactionType::Reservation,
            source: (account, Bucket::Balance),
            destination: (account, Bucket::Reserved),
            shown: (Some(account), None),
            amount: self.amount,
            notes: Some(&self.notes),
            order: Some(&self.order),
            reverses: None,
            conversion: None,
        };
        let record = books.post(&movement, maker)?;
        if record.failure.is_some() {
            return Ok(moved(record, None));
        }
        let made = Order {
            order: self.order.clone(),
            account,
            amount: self.amount,
            captured: None,
            currency,
            status: ReservationStatus::Reserved,
            created_at: books.now,
            updated_at: books.now,
            expires_at: self.expires_at,
        };
        books.orders.insert(order_id, Some(made.clone()));
        books.touched_orders.push(order_id);
        Ok(Outcome::Order {
            order: made,
            created: true,
        })
    }
}

/// Takes all of a hold, or `amount` of it (the rest is released), as the
/// order's service's revenue.
#[derive(Debug, Clone)]
pub struct Capture {
    pub order: OrderId,
    pub amount: Option<Amount>,
}

/// Gives a hold back to its account's balance.
#[derive(Debug, Clone)]
pub struct Release {
    pub order: OrderId,
}

/// The service's own release of a hold that ran out (status `expired`);
/// refused for a hold that has not, or is no longer `reserved`.
#[derive(Debug, Clone)]
pub struct Expire {
    pub order: OrderId,
}

impl Rule for Capture {
    fn names(&self, names: &mut Names) {
        names.orders.push(self.order);
    }

    fn plan(&self, books: &mut Books) -> Vec<Lock> {
        plan_end(books, self.order, Some(AccountKind::Revenue))
    }

    fn apply(&self, books: &mut Books, maker: &mut Maker<'_>) -> Result<Outcome, Refusal> {
        let order = reserved(books, self.order, End::Capture)?;
        let captured = self.amount.unwrap_or(order.amount);
        if captured > order.amount {
            return Err(Refusal::CaptureExceedsReserved {
                order: self.order,
                asked: captured,
                reserved: order.amount,
            });
        }
        let revenue = books.system_of(AccountKind::Revenue, order.account)?;
        let capture = Movement {
            kind: TransactionType::Capture,
            source: (order.account, Bucket::Reserved),
            destination: (revenue, Bucket::Balance),
            shown: (Some(order.account), None),
            amount: captured,
            notes: None,
            order: Some(&order.order),
            reverses: None,
            conversion: None,
        };
        books.post(&capture, maker)?;
        // The rest of the hold goes back, in the same transaction.
        if let Ok(rest) = Amount::try_from(order.amount.value() - captured.value()) {
            books.post(&release(&order, rest, None), maker)?;
        }
        let captured = Order {
            status: ReservationStatus::Captured,
            captured: Some(captured),
            updated_at: books.now,
            ..order
        };
        Ok(ended(books, captured))
    }
}

impl Rule for Release {
    fn names(&self, names: &mut Names) {
        names.orders.push(self.order);
    }

    fn plan(&self, books: &mut Books) -> Vec<Lock> {
        plan_end(books, self.order, None)
    }

    fn apply(&self, books: &mut Books, maker: &mut Maker<'_>) -> Result<Outcome, Refusal> {
        let order = reserved(books, self.order, End::Release)?;
        books.post(&release(&order, order.amount, None), maker)?;
        let released = Order {
            status: ReservationStatus::Released,
            updated_at: books.now,
            ..order
        };
        Ok(ended(books, released))
    }
}

impl Rule for Expire {
    fn names(&self, names: &mut Names) {
        names.orders.push(self.order);
    }

    fn plan(&self, books: &mut Books) -> Vec<Lock> {
        plan_end(books, self.order, None)
    }

    fn apply(&self, books: &mut Books, maker: &mut Maker<'_>) -> Result<Outcome, Refusal> {
        let order = reserved(books, self.order, End::Expire)?;
        let expiry = Notes {
            description: CallerText::parse("description", Some("the hold expired"))
                .ok()
                .flatten(),
            reference: None,
            metadata: Metadata::default(),
        };
        books.post(&release(&order, order.amount, Some(&expiry)), maker)?;
        let expired = Order {
            status: ReservationStatus::Expired,
            updated_at: books.now,
            ..order
        };
        Ok(ended(books, expired))
    }
}

/// How a `reserved` hold ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    Capture,
    Release,
    Expire,
}

/// What ending an order's hold locks: its account and, for a capture, the
/// revenue account of its currency.
fn plan_end(books: &Books, order: OrderId, system: Option<AccountKind>) -> Vec<Lock> {
    match books.planned_orders.get(&order).copied().flatten() {
        Some(account) => account_locks(account, system),
        None => Vec::new(),
    }
}

/// The order's hold, if it may end `how` now: it is `reserved`, and it has
/// run out exactly when it is expired by the service.
fn reserved(books: &Books, order_id: OrderId, how: End) -> Result<Order, Refusal> {
    let order = books
        .orders
        .get(&order_id)
        .cloned()
        .flatten()
        .ok_or(Refusal::NoOrder(order_id))?;
    // From expires_at on a caller is told so, also once the sweeper has
    // released the hold.
    if order.status == ReservationStatus::Expired && how != End::Expire {
        return Err(Refusal::ReservationExpired(order_id));
    }
    if order.status != ReservationStatus::Reserved {
        return Err(Refusal::NotReserved {
            order: order_id,
            status: order.status.name(),
        });
    }
    let expired = books.now >= order.expires_at;
    match (how, expired) {
        (End::Expire, false) => return Err(Refusal::NotExpired(order_id)),
        (End::Capture | End::Release, true) => return Err(Refusal::ReservationExpired(order_id)),
        (End::Expire, true) | (End::Capture | End::Release, false) => {}
    }
    let held = books
        .accounts
        .get(&order.account)
        .map_or(Decimal::ZERO, |a| a.reserved);
    if held < order.amount.value() {
        return Err(Refusal::Inconsistent(format!(
            "order {order_id}: the reserved part of account {} does not cover {}",
            order.account, order.amount
        )));
    }
    Ok(order)
}

/// `amount` of the order's hold back to its account's balance.
fn release<'a>(order: &'a Order, amount: Amount, notes: Option<&'a Notes>) -> Movement<'a> {
    let account: AccountId = order.account;
    Movement {
        kind: TransactionType::Release,
        source: (account, Bucket::Reserved),
        destination: (account, Bucket::Balance),
        shown: (None, Some(account)),
        amount,
        notes,
        order: Some(&order.order),
        reverses: None,
        conversion: None,
    }
}

/// Keeps the order as its hold ended.
fn ended(books: &mut Books, order: Order) -> Outcome {
    let id = order.order.order_id;
    books.orders.insert(id, Some(order.clone()));
    if !books.touched_orders.contains(&id) {
        books.touched_orders.push(id);
    }
    Outcome::Order {
        order,
        created: false,
    }
}

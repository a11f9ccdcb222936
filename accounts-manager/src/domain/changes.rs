//! Everything a batch writes, as its books hand it to the store: balance
//! changes, accounts opened, records and postings, orders, reversed amounts,
//! the revenue rollup's changes and each account's latest record.

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use shared_types::accounts::{AccountId, TransactionId, TransactionType};

use super::books::Books;
use super::posting::{AccountState, Posting};
use super::records::{Opened, Order, Record};
use super::{Currency, Month, ServiceId};

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
    /// Each account whose standing changed, as it ends.
    pub statuses: Vec<AccountState>,
    /// The batch's time.
    pub at: DateTime<Utc>,
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

impl Books {
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
        let statuses = self
            .restated
            .iter()
            .filter_map(|id| self.accounts.get(id))
            .cloned()
            .collect();
        let heads = heads(&self.records);
        Changes {
            balances: self
                .deltas
                .into_iter()
                // An account whose movements were all undone is not written.
                .filter(|(id, parts)| {
                    !opened_ids.contains(id) && *parts != (Decimal::ZERO, Decimal::ZERO)
                })
                .map(|(id, (balance, reserved))| (id, balance, reserved))
                .collect(),
            opened,
            records: self.records,
            postings: self.postings,
            orders,
            reversed: self.reversed.into_iter().collect(),
            revenue,
            heads,
            statuses,
            at: self.now,
        }
    }
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
            (
                TransactionType::Capture
                | TransactionType::Reversal
                | TransactionType::Deposit
                | TransactionType::Withdrawal
                | TransactionType::Transfer
                | TransactionType::Reservation
                | TransactionType::Release
                | TransactionType::Exchange,
                _,
            ) => continue,
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

//! What the ledger engine reads, locks and writes for a batch of commands, in
//! a fixed number of statements whatever the batch's size. The statements are
//! the `.sql` files beside this module, prepared once per connection
//! (`service_kit::prepared_statement!`).

use chrono::{DateTime, NaiveDate, Utc};
use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::sql_types::{
    Array, BigInt, Bytea, Date, Jsonb, Nullable, Numeric, SmallInt, Text, Timestamptz,
    Uuid as SqlUuid,
};
use rust_decimal::Decimal;
use uuid::Uuid;

use crate::domain::changes::Changes;
use std::collections::HashMap;

use crate::domain::posting::{AccountKind, AccountState};
use crate::domain::Metadata;
use crate::domain::{Currency, OrderId, UserId};
use service_kit::stored::Stored;
use shared_types::accounts::{AccountId, AccountStatus, TransactionId};
use shared_types::Named;

/// Takes the advisory locks of the orders and `(user, currency)` pairs a
/// batch names (see `lock_names.sql`).
pub fn lock_names(
    conn: &mut PgConnection,
    orders: &[OrderId],
    users: &[(UserId, Currency)],
    transactions: &[TransactionId],
) -> QueryResult<()> {
    LockNames {
        orders: orders.iter().map(|o| o.value()).collect(),
        users: users.iter().map(|(u, _)| u.value()).collect(),
        currencies: users.iter().map(|(_, c)| c.as_str().to_owned()).collect(),
        transactions: transactions.iter().map(|t| t.0).collect(),
    }
    .execute(conn)
    .map(|_| ())
}

service_kit::prepared_statement!(LockNames {
    orders: Array<BigInt> => Vec<i64>,
    users: Array<BigInt> => Vec<i64>,
    currencies: Array<Text> => Vec<String>,
    transactions: Array<SqlUuid> => Vec<Uuid>,
} = include_str!("books/lock_names.sql"));

#[derive(QueryableByName)]
struct OldestAccount {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
    #[diesel(sql_type = BigInt)]
    user_id: i64,
    #[diesel(sql_type = Text)]
    currency: String,
}

/// Each `(user, currency)` pair's oldest user account, for those that have one.
pub fn oldest_accounts(
    conn: &mut PgConnection,
    users: &[(UserId, Currency)],
) -> QueryResult<Vec<((UserId, Currency), AccountId)>> {
    let rows: Vec<OldestAccount> = OldestAccounts {
        users: users.iter().map(|(u, _)| u.value()).collect(),
        currencies: users.iter().map(|(_, c)| c.as_str().to_owned()).collect(),
    }
    .load(conn)?;
    rows.into_iter()
        .map(|row| {
            let user = UserId::parse(row.user_id).map_err(super::corrupt)?;
            let currency = Currency::parse(&row.currency).map_err(super::corrupt)?;
            Ok(((user, currency), AccountId(row.id)))
        })
        .collect()
}

service_kit::prepared_statement!(OldestAccounts {
    users: Array<BigInt> => Vec<i64>,
    currencies: Array<Text> => Vec<String>,
} = include_str!("books/oldest_accounts.sql"));

/// A locked account, at the batch's time.
#[derive(Debug, Clone, QueryableByName)]
struct LockedAccount {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
    #[diesel(sql_type = Text)]
    kind: Stored<AccountKind>,
    #[diesel(sql_type = Text)]
    currency: String,
    #[diesel(sql_type = Numeric)]
    balance: Decimal,
    #[diesel(sql_type = Numeric)]
    reserved: Decimal,
    #[diesel(sql_type = Text)]
    status: Stored<AccountStatus>,
    #[diesel(sql_type = Nullable<Text>)]
    status_reason: Option<String>,
    #[diesel(sql_type = Nullable<BigInt>)]
    user_id: Option<i64>,
    #[diesel(sql_type = Timestamptz)]
    created_at: DateTime<Utc>,
    #[diesel(sql_type = Nullable<Jsonb>)]
    metadata: Option<serde_json::Value>,
    /// When it was locked: the latest is the time of every transaction the
    /// batch records.
    #[diesel(sql_type = Timestamptz)]
    now: DateTime<Utc>,
}

/// What a batch locks: user accounts by id, and of the system accounts of
/// its shard, those of a kind in a user account's currency and those of a
/// kind and currency.
#[derive(Debug, Default)]
pub struct AccountLocks {
    pub shard: i16,
    pub named: Vec<AccountId>,
    pub systems_of: Vec<(AccountKind, AccountId)>,
    pub systems: Vec<(AccountKind, Currency)>,
}

/// The accounts a batch locked, and the batch's time (`None` when nothing
/// was locked).
pub struct Locked {
    pub accounts: Vec<AccountState>,
    pub now: Option<DateTime<Utc>>,
}

/// Locks the accounts, in id order.
pub fn lock_accounts(conn: &mut PgConnection, locks: AccountLocks) -> QueryResult<Locked> {
    let rows: Vec<LockedAccount> = LockAccounts {
        shard: locks.shard,
        named: locks.named.iter().map(|id| id.0).collect(),
        owners: locks.systems_of.iter().map(|(_, id)| id.0).collect(),
        owner_kinds: locks.systems_of.iter().map(|(k, _)| k.name()).collect(),
        kinds: locks.systems.iter().map(|(k, _)| k.name()).collect(),
        currencies: locks
            .systems
            .iter()
            .map(|(_, c)| c.as_str().to_owned())
            .collect(),
    }
    .load(conn)?;
    let now = rows.iter().map(|row| row.now).max();
    let accounts = rows
        .into_iter()
        .map(|row| AccountState {
            id: AccountId(row.id),
            kind: row.kind.0,
            currency: row.currency,
            balance: row.balance,
            reserved: row.reserved,
            status: row.status.0,
            status_reason: row.status_reason,
            user_id: row.user_id,
            created_at: row.created_at,
            metadata: Metadata::stored(row.metadata),
        })
        .collect();
    Ok(Locked { accounts, now })
}

service_kit::prepared_statement!(LockAccounts {
    shard: SmallInt => i16,
    named: Array<SqlUuid> => Vec<Uuid>,
    owners: Array<SqlUuid> => Vec<Uuid>,
    owner_kinds: Array<Text> => Vec<&'static str>,
    kinds: Array<Text> => Vec<&'static str>,
    currencies: Array<Text> => Vec<String>,
} = include_str!("books/lock_accounts.sql"));

#[derive(QueryableByName)]
struct Now {
    #[diesel(sql_type = Timestamptz)]
    now: DateTime<Utc>,
}

/// The database's time, for a batch that locked no account.
pub fn now(conn: &mut PgConnection) -> QueryResult<DateTime<Utc>> {
    diesel::sql_query("SELECT clock_timestamp() AS now")
        .get_result::<Now>(conn)
        .map(|n| n.now)
}

/// A stored answer for an idempotency key.
pub struct NewKey {
    pub key: String,
    pub request_hash: Vec<u8>,
    pub status: i16,
    pub body: String,
}

/// An event of an account's standing, as the feed will carry it.
pub struct NewAccountEvent {
    pub event_id: Uuid,
    pub kind: &'static str,
    pub occurred_at: DateTime<Utc>,
    /// The Account, as the API answers it.
    pub account: serde_json::Value,
}

/// Writes everything a batch changes, its stored answers and its account
/// events, in one statement; its revenue on the rollup rows of `shard` (the
/// batch's).
pub fn write(
    conn: &mut PgConnection,
    shard: i16,
    changes: Changes,
    keys: Vec<NewKey>,
    events: Vec<NewAccountEvent>,
) -> QueryResult<()> {
    let mut w = WriteBatch {
        revenue_shard: shard,
        ..WriteBatch::default()
    };
    let mut statuses: HashMap<AccountId, (AccountStatus, Option<String>)> = changes
        .statuses
        .into_iter()
        .map(|account| (account.id, (account.status, account.status_reason)))
        .collect();
    let restated_only: Vec<_> = statuses
        .keys()
        .filter(|id| !changes.balances.iter().any(|(changed, ..)| changed == *id))
        .map(|id| (*id, Decimal::ZERO, Decimal::ZERO))
        .collect();
    for (id, balance, reserved) in changes.balances.into_iter().chain(restated_only) {
        let standing = statuses.remove(&id);
        w.ids.push(id.0);
        w.balances.push(balance);
        w.reserved.push(reserved);
        w.statuses_set
            .push(standing.as_ref().map(|(status, _)| status.name()));
        w.status_reasons
            .push(standing.and_then(|(_, reason)| reason));
    }
    for (account, balance, reserved) in changes.opened {
        w.opened_ids.push(account.id.0);
        w.opened_users.push(account.user.value());
        w.opened_currencies
            .push(account.currency.as_str().to_owned());
        w.opened_balances.push(balance);
        w.opened_reserved.push(reserved);
        w.opened_at.push(account.created_at);
        w.opened_metadata.push(account.metadata.to_stored());
    }
    for record in changes.records {
        let status = record.status();
        w.transaction_ids.push(record.id.0);
        w.kinds.push(record.kind.name());
        w.statuses.push(status.name());
        w.reasons.push(record.failure.map(|r| r.code()));
        w.amounts.push(record.amount.value());
        w.currencies.push(record.currency.as_str().to_owned());
        w.froms.push(record.from.map(|a| a.0));
        w.tos.push(record.to.map(|a| a.0));
        w.order_ids
            .push(record.order.as_ref().map(|o| o.order_id.value()));
        w.service_ids
            .push(record.order.as_ref().map(|o| o.service_id.value()));
        w.service_names
            .push(record.order.and_then(|o| o.service_name));
        w.references.push(record.reference);
        w.descriptions.push(record.description);
        w.created_at.push(record.created_at);
        w.created_by.push(record.created_by);
        w.reverses.push(record.reverses.map(|t| t.0));
        w.from_balance_after.push(record.from_after.map(|p| p.0));
        w.from_reserved_after.push(record.from_after.map(|p| p.1));
        w.to_balance_after.push(record.to_after.map(|p| p.0));
        w.to_reserved_after.push(record.to_after.map(|p| p.1));
        w.metadata.push(record.metadata.to_stored());
        let exchange = record.exchange.as_ref();
        w.rates.push(exchange.map(|e| e.rate.value()));
        w.converted_amounts.push(exchange.map(|e| e.amount.value()));
        w.converted_currencies
            .push(exchange.map(|e| e.currency.as_str().to_owned()));
    }
    for (transaction, posting) in changes.postings {
        w.entry_transactions.push(transaction.0);
        w.entry_accounts.push(posting.account.0);
        w.entry_buckets.push(posting.bucket.name());
        w.entry_amounts.push(posting.amount);
    }
    for order in changes.orders {
        w.order_order_ids.push(order.order.order_id.value());
        w.order_accounts.push(order.account.0);
        w.order_services.push(order.order.service_id.value());
        w.order_service_names.push(order.order.service_name);
        w.order_amounts.push(order.amount.value());
        w.order_currencies.push(order.currency.as_str().to_owned());
        w.order_statuses.push(order.status.name());
        w.order_created.push(order.created_at);
        w.order_updated.push(order.updated_at);
        w.order_captured.push(order.captured.map(|a| a.value()));
        w.order_expires.push(order.expires_at);
    }
    for (original, amount) in changes.reversed {
        w.reversed_ids.push(original.0);
        w.reversed_amounts.push(amount);
    }
    for change in changes.revenue {
        w.revenue_currencies
            .push(change.currency.as_str().to_owned());
        w.revenue_months.push(change.month.first_day());
        w.revenue_services.push(change.service.value());
        w.revenue_amounts.push(change.amount);
        let (name, named_at) = change.named.unzip();
        w.revenue_names.push(name);
        w.revenue_named_at.push(named_at);
    }
    for (account, transaction, balance, reserved) in changes.heads {
        w.head_accounts.push(account.0);
        w.head_transactions.push(transaction.0);
        w.head_balances.push(balance);
        w.head_reserved.push(reserved);
    }
    for event in events {
        w.event_ids.push(event.event_id);
        w.event_kinds.push(event.kind);
        w.event_times.push(event.occurred_at);
        w.event_accounts.push(event.account);
    }
    for key in keys {
        w.keys.push(key.key);
        w.request_hashes.push(key.request_hash);
        w.stored_statuses.push(key.status);
        w.bodies.push(key.body);
    }
    w.execute(conn).map(|_| ())
}

service_kit::prepared_statement!(
    #[derive(Default)]
    WriteBatch {
        ids: Array<SqlUuid> => Vec<Uuid>,
        balances: Array<Numeric> => Vec<Decimal>,
        reserved: Array<Numeric> => Vec<Decimal>,
        statuses_set: Array<Nullable<Text>> => Vec<Option<&'static str>>,
        status_reasons: Array<Nullable<Text>> => Vec<Option<String>>,
        opened_ids: Array<SqlUuid> => Vec<Uuid>,
        opened_users: Array<BigInt> => Vec<i64>,
        opened_currencies: Array<Text> => Vec<String>,
        opened_balances: Array<Numeric> => Vec<Decimal>,
        opened_reserved: Array<Numeric> => Vec<Decimal>,
        opened_at: Array<Timestamptz> => Vec<DateTime<Utc>>,
        opened_metadata: Array<Nullable<Jsonb>> => Vec<Option<serde_json::Value>>,
        transaction_ids: Array<SqlUuid> => Vec<Uuid>,
        kinds: Array<Text> => Vec<&'static str>,
        statuses: Array<Text> => Vec<&'static str>,
        reasons: Array<Nullable<Text>> => Vec<Option<&'static str>>,
        amounts: Array<Numeric> => Vec<Decimal>,
        currencies: Array<Text> => Vec<String>,
        froms: Array<Nullable<SqlUuid>> => Vec<Option<Uuid>>,
        tos: Array<Nullable<SqlUuid>> => Vec<Option<Uuid>>,
        order_ids: Array<Nullable<BigInt>> => Vec<Option<i64>>,
        service_ids: Array<Nullable<BigInt>> => Vec<Option<i64>>,
        service_names: Array<Nullable<Text>> => Vec<Option<String>>,
        references: Array<Nullable<Text>> => Vec<Option<String>>,
        descriptions: Array<Text> => Vec<String>,
        created_at: Array<Timestamptz> => Vec<DateTime<Utc>>,
        created_by: Array<Text> => Vec<String>,
        reverses: Array<Nullable<SqlUuid>> => Vec<Option<Uuid>>,
        from_balance_after: Array<Nullable<Numeric>> => Vec<Option<Decimal>>,
        from_reserved_after: Array<Nullable<Numeric>> => Vec<Option<Decimal>>,
        to_balance_after: Array<Nullable<Numeric>> => Vec<Option<Decimal>>,
        to_reserved_after: Array<Nullable<Numeric>> => Vec<Option<Decimal>>,
        metadata: Array<Nullable<Jsonb>> => Vec<Option<serde_json::Value>>,
        rates: Array<Nullable<Numeric>> => Vec<Option<Decimal>>,
        converted_amounts: Array<Nullable<Numeric>> => Vec<Option<Decimal>>,
        converted_currencies: Array<Nullable<Text>> => Vec<Option<String>>,
        entry_transactions: Array<SqlUuid> => Vec<Uuid>,
        entry_accounts: Array<SqlUuid> => Vec<Uuid>,
        entry_buckets: Array<Text> => Vec<&'static str>,
        entry_amounts: Array<Numeric> => Vec<Decimal>,
        order_order_ids: Array<BigInt> => Vec<i64>,
        order_accounts: Array<SqlUuid> => Vec<Uuid>,
        order_services: Array<BigInt> => Vec<i64>,
        order_service_names: Array<Nullable<Text>> => Vec<Option<String>>,
        order_amounts: Array<Numeric> => Vec<Decimal>,
        order_currencies: Array<Text> => Vec<String>,
        order_statuses: Array<Text> => Vec<&'static str>,
        order_created: Array<Timestamptz> => Vec<DateTime<Utc>>,
        order_updated: Array<Timestamptz> => Vec<DateTime<Utc>>,
        order_captured: Array<Nullable<Numeric>> => Vec<Option<Decimal>>,
        order_expires: Array<Timestamptz> => Vec<DateTime<Utc>>,
        reversed_ids: Array<SqlUuid> => Vec<Uuid>,
        reversed_amounts: Array<Numeric> => Vec<Decimal>,
        keys: Array<Text> => Vec<String>,
        request_hashes: Array<Bytea> => Vec<Vec<u8>>,
        stored_statuses: Array<SmallInt> => Vec<i16>,
        bodies: Array<Text> => Vec<String>,
        revenue_shard: SmallInt => i16,
        revenue_currencies: Array<Text> => Vec<String>,
        revenue_months: Array<Date> => Vec<NaiveDate>,
        revenue_services: Array<BigInt> => Vec<i64>,
        revenue_amounts: Array<Numeric> => Vec<Decimal>,
        revenue_names: Array<Nullable<Text>> => Vec<Option<String>>,
        revenue_named_at: Array<Nullable<Timestamptz>> => Vec<Option<DateTime<Utc>>>,
        head_accounts: Array<SqlUuid> => Vec<Uuid>,
        head_transactions: Array<SqlUuid> => Vec<Uuid>,
        head_balances: Array<Numeric> => Vec<Decimal>,
        head_reserved: Array<Numeric> => Vec<Decimal>,
        event_ids: Array<SqlUuid> => Vec<Uuid>,
        event_kinds: Array<Text> => Vec<&'static str>,
        event_times: Array<Timestamptz> => Vec<DateTime<Utc>>,
        event_accounts: Array<Jsonb> => Vec<serde_json::Value>,
    } = include_str!("books/write.sql")
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_bind_has_its_place() {
        let lock = diesel::debug_query::<diesel::pg::Pg, _>(&LockAccounts {
            shard: 0,
            named: vec![],
            owners: vec![],
            owner_kinds: vec![],
            kinds: vec![],
            currencies: vec![],
        })
        .to_string();
        assert!(lock.contains("unnest($5::text[], $6::text[])"), "{lock}");
        let write = diesel::debug_query::<diesel::pg::Pg, _>(&WriteBatch::default()).to_string();
        assert!(
            write.contains("$33::jsonb[], $34::numeric[],")
                && write.contains("$35::numeric[], $36::text[])")
                && write.contains("unnest($54::text[], $55::bytea[], $56::int2[], $57::text[])"),
            "{write}"
        );
        assert!(
            write.contains("$58::int2, d.revenue")
                && write.contains("unnest($59::text[], $60::date[], $61::bigint[], $62::numeric[], $63::text[], $64::timestamptz[])")
                && write.contains("unnest($65::uuid[], $66::uuid[], $67::numeric[], $68::numeric[])"),
            "{write}"
        );
        let names = diesel::debug_query::<diesel::pg::Pg, _>(&LockNames {
            orders: vec![],
            users: vec![],
            currencies: vec![],
            transactions: vec![],
        })
        .to_string();
        assert!(
            names.contains("unnest($2::bigint[], $3::text[])"),
            "{names}"
        );
    }
}

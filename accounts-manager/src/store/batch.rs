//! A batch of movements in a fixed number of statements, whatever its size:
//! one to lock every account it touches, one to write every balance,
//! transaction, entry and idempotency key. Both are prepared once per
//! connection (`service_kit::prepared_statement!`).

use chrono::{DateTime, Utc};
use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::sql_types::{
    Array, Bytea, Nullable, Numeric, SmallInt, Text, Timestamptz, Uuid as SqlUuid,
};
use rust_decimal::Decimal;
use uuid::Uuid;

use super::accounts::shard_of;
use crate::domain::ledger::AccountKind;
use shared_types::accounts::AccountId;

/// A locked account, with the batch's transaction time.
#[derive(Debug, Clone, QueryableByName)]
pub struct LockedAccount {
    #[diesel(sql_type = SqlUuid)]
    pub id: Uuid,
    #[diesel(sql_type = Text)]
    pub kind: String,
    #[diesel(sql_type = Text)]
    pub currency: String,
    #[diesel(sql_type = Numeric)]
    pub balance: Decimal,
    #[diesel(sql_type = Numeric)]
    pub reserved: Decimal,
    #[diesel(sql_type = SmallInt)]
    pub shard: i16,
    /// `now()`: the `created_at` of every transaction the batch records.
    #[diesel(sql_type = Timestamptz)]
    pub now: DateTime<Utc>,
}

/// Locks, in id order (as every other writer does), the named accounts and
/// the system account of each `(user account, kind)` in `systems`: the one of
/// the user account's currency and shard. Accounts that do not exist are
/// simply not in the answer.
pub fn lock(
    conn: &mut PgConnection,
    named: &[AccountId],
    systems: &[(AccountId, AccountKind)],
) -> QueryResult<Vec<LockedAccount>> {
    let named: Vec<Uuid> = named.iter().map(|id| id.0).collect();
    let owners: Vec<Uuid> = systems.iter().map(|(id, _)| id.0).collect();
    let kinds: Vec<&'static str> = systems.iter().map(|(_, kind)| kind.as_str()).collect();
    let shards: Vec<i16> = systems.iter().map(|(id, _)| shard_of(*id)).collect();
    LockAccounts {
        named,
        owners,
        kinds,
        shards,
    }
    .load(conn)
}

service_kit::prepared_statement!(LockAccounts {
    named: Array<SqlUuid> => Vec<Uuid>,
    owners: Array<SqlUuid> => Vec<Uuid>,
    kinds: Array<Text> => Vec<&'static str>,
    shards: Array<SmallInt> => Vec<i16>,
} = "SELECT a.id, a.kind, a.currency, a.balance, a.reserved, a.shard, now() AS now \
     FROM accounts a \
     WHERE a.id IN ( \
         SELECT unnest(?::uuid[]) \
         UNION \
         SELECT s.id FROM unnest(?::uuid[], ?::text[], ?::int2[]) AS r(owner, kind, shard) \
         JOIN accounts u ON u.id = r.owner \
         JOIN accounts s ON s.kind = r.kind AND s.kind <> 'user' AND s.currency = u.currency AND s.shard = r.shard) \
     ORDER BY a.id \
     FOR UPDATE OF a");

/// One transaction of the batch, as the `transactions` table stores it.
pub struct NewRow {
    pub id: Uuid,
    pub kind: &'static str,
    pub reason: Option<&'static str>,
    pub amount: Decimal,
    pub currency: String,
    pub from: Option<Uuid>,
    pub to: Option<Uuid>,
    pub reference: Option<String>,
    pub description: String,
}

/// A stored answer for an idempotency key.
pub struct NewKey {
    pub key: String,
    pub request_hash: Vec<u8>,
    pub status: i16,
    pub body: String,
}

/// Everything a batch writes.
#[derive(Default)]
pub struct Writes {
    /// The change to each touched account's balance and reserved buckets.
    pub balances: Vec<(Uuid, Decimal, Decimal)>,
    pub transactions: Vec<NewRow>,
    /// `(transaction, account, bucket, signed amount)`.
    pub entries: Vec<(Uuid, Uuid, &'static str, Decimal)>,
    pub keys: Vec<NewKey>,
}

/// Writes the batch in one statement. The schema's CHECKs still have the last
/// word on every balance.
pub fn write(conn: &mut PgConnection, w: Writes) -> QueryResult<()> {
    let mut b = (Vec::new(), Vec::new(), Vec::new());
    for (id, balance, reserved) in w.balances {
        b.0.push(id);
        b.1.push(balance);
        b.2.push(reserved);
    }
    let mut t = TransactionColumns::default();
    for row in w.transactions {
        t.id.push(row.id);
        t.kind.push(row.kind);
        t.status.push(if row.reason.is_some() {
            "failed"
        } else {
            "success"
        });
        t.reason.push(row.reason);
        t.amount.push(row.amount);
        t.currency.push(row.currency);
        t.from.push(row.from);
        t.to.push(row.to);
        t.reference.push(row.reference);
        t.description.push(row.description);
    }
    let mut e = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (transaction, account, bucket, amount) in w.entries {
        e.0.push(transaction);
        e.1.push(account);
        e.2.push(bucket);
        e.3.push(amount);
    }
    let mut k = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for key in w.keys {
        k.0.push(key.key);
        k.1.push(key.request_hash);
        k.2.push(key.status);
        k.3.push(key.body);
    }
    WriteBatch {
        ids: b.0,
        balances: b.1,
        reserved: b.2,
        transaction_ids: t.id,
        kinds: t.kind,
        statuses: t.status,
        reasons: t.reason,
        amounts: t.amount,
        currencies: t.currency,
        froms: t.from,
        tos: t.to,
        references: t.reference,
        descriptions: t.description,
        entry_transactions: e.0,
        entry_accounts: e.1,
        entry_buckets: e.2,
        entry_amounts: e.3,
        keys: k.0,
        request_hashes: k.1,
        statuses_stored: k.2,
        bodies: k.3,
    }
    .execute(conn)
    .map(|_| ())
}

service_kit::prepared_statement!(WriteBatch {
    ids: Array<SqlUuid> => Vec<Uuid>,
    balances: Array<Numeric> => Vec<Decimal>,
    reserved: Array<Numeric> => Vec<Decimal>,
    transaction_ids: Array<SqlUuid> => Vec<Uuid>,
    kinds: Array<Text> => Vec<&'static str>,
    statuses: Array<Text> => Vec<&'static str>,
    reasons: Array<Nullable<Text>> => Vec<Option<&'static str>>,
    amounts: Array<Numeric> => Vec<Decimal>,
    currencies: Array<Text> => Vec<String>,
    froms: Array<Nullable<SqlUuid>> => Vec<Option<Uuid>>,
    tos: Array<Nullable<SqlUuid>> => Vec<Option<Uuid>>,
    references: Array<Nullable<Text>> => Vec<Option<String>>,
    descriptions: Array<Text> => Vec<String>,
    entry_transactions: Array<SqlUuid> => Vec<Uuid>,
    entry_accounts: Array<SqlUuid> => Vec<Uuid>,
    entry_buckets: Array<Text> => Vec<&'static str>,
    entry_amounts: Array<Numeric> => Vec<Decimal>,
    keys: Array<Text> => Vec<String>,
    request_hashes: Array<Bytea> => Vec<Vec<u8>>,
    statuses_stored: Array<SmallInt> => Vec<i16>,
    bodies: Array<Text> => Vec<String>,
} = "WITH balances AS ( \
         UPDATE accounts AS a SET balance = a.balance + d.balance, reserved = a.reserved + d.reserved \
         FROM unnest(?::uuid[], ?::numeric[], ?::numeric[]) AS d(id, balance, reserved) WHERE a.id = d.id), \
     transactions_written AS ( \
         INSERT INTO transactions (id, kind, status, reason, amount, currency, \
                                   from_account_id, to_account_id, reference, description) \
         SELECT * FROM unnest(?::uuid[], ?::text[], ?::text[], ?::text[], ?::numeric[], \
                              ?::text[], ?::uuid[], ?::uuid[], ?::text[], ?::text[])), \
     entries_written AS ( \
         INSERT INTO entries (transaction_id, account_id, bucket, amount) \
         SELECT * FROM unnest(?::uuid[], ?::uuid[], ?::text[], ?::numeric[])), \
     keys_written AS ( \
         INSERT INTO idempotency_keys (key, request_hash, response_status, response_body) \
         SELECT * FROM unnest(?::text[], ?::bytea[], ?::int2[], ?::text[])) \
     SELECT 1");

#[derive(Default)]
struct TransactionColumns {
    id: Vec<Uuid>,
    kind: Vec<&'static str>,
    status: Vec<&'static str>,
    reason: Vec<Option<&'static str>>,
    amount: Vec<Decimal>,
    currency: Vec<String>,
    from: Vec<Option<Uuid>>,
    to: Vec<Option<Uuid>>,
    reference: Vec<Option<String>>,
    description: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_bind_has_its_place() {
        let lock = diesel::debug_query::<diesel::pg::Pg, _>(&LockAccounts {
            named: vec![],
            owners: vec![],
            kinds: vec![],
            shards: vec![],
        })
        .to_string();
        assert!(
            lock.contains("unnest($2::uuid[], $3::text[], $4::int2[])"),
            "{lock}"
        );
        let write = diesel::debug_query::<diesel::pg::Pg, _>(&WriteBatch {
            ids: vec![],
            balances: vec![],
            reserved: vec![],
            transaction_ids: vec![],
            kinds: vec![],
            statuses: vec![],
            reasons: vec![],
            amounts: vec![],
            currencies: vec![],
            froms: vec![],
            tos: vec![],
            references: vec![],
            descriptions: vec![],
            entry_transactions: vec![],
            entry_accounts: vec![],
            entry_buckets: vec![],
            entry_amounts: vec![],
            keys: vec![],
            request_hashes: vec![],
            statuses_stored: vec![],
            bodies: vec![],
        })
        .to_string();
        assert!(
            write.contains("unnest($18::text[], $19::bytea[], $20::int2[], $21::text[])"),
            "{write}"
        );
    }
}

//! The `transactions` and `entries` tables: what moved, and the postings it made.

use chrono::{DateTime, Utc};
use diesel::pg::{Pg, PgConnection};
use diesel::prelude::*;
use diesel::query_builder::{BoxedSqlQuery, SqlQuery};
use diesel::sql_types::{BigInt, Jsonb, Nullable, Numeric, Text, Timestamptz, Uuid as SqlUuid};
use rust_decimal::Decimal;
use service_kit::stored::Stored;
use uuid::Uuid;

use std::collections::HashMap;

use super::corrupt;
use crate::domain::records::{Exchanged, Original};
use crate::domain::{Amount, Currency, Metadata, OrderId, OrderRef, Rate, ServiceId};
use crate::domain::{SortKey, SortOrder};
use shared_types::accounts::{
    AccountId, Transaction, TransactionId, TransactionStatus, TransactionType,
};

/// A transaction as the listings read it (`COLUMNS`). Read by name with
/// its own types: `metadata` and an exchange's columns are not in
/// `schema::transactions` (see there).
#[derive(Debug, Clone, QueryableByName)]
pub struct TransactionRow {
    #[diesel(sql_type = SqlUuid)]
    pub id: Uuid,
    #[diesel(sql_type = Text)]
    pub kind: Stored<TransactionType>,
    #[diesel(sql_type = Text)]
    pub status: Stored<TransactionStatus>,
    #[diesel(sql_type = Nullable<Text>)]
    pub reason: Option<String>,
    #[diesel(sql_type = Numeric)]
    pub amount: Decimal,
    #[diesel(sql_type = Text)]
    pub currency: String,
    #[diesel(sql_type = Nullable<SqlUuid>)]
    pub from_account_id: Option<Uuid>,
    #[diesel(sql_type = Nullable<SqlUuid>)]
    pub to_account_id: Option<Uuid>,
    #[diesel(sql_type = Nullable<BigInt>)]
    pub order_id: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    pub service_id: Option<i64>,
    #[diesel(sql_type = Nullable<Text>)]
    pub reference: Option<String>,
    #[diesel(sql_type = Text)]
    pub description: String,
    #[diesel(sql_type = Timestamptz)]
    pub created_at: DateTime<Utc>,
    #[diesel(sql_type = Text)]
    pub created_by: String,
    #[diesel(sql_type = Nullable<SqlUuid>)]
    pub reverses: Option<Uuid>,
    #[diesel(sql_type = Numeric)]
    pub reversed_amount: Decimal,
    #[diesel(sql_type = Nullable<Jsonb>)]
    pub metadata: Option<serde_json::Value>,
    /// An exchange's (or its reversal's) rate and conversion; all three or none.
    #[diesel(sql_type = Nullable<Numeric>)]
    pub rate: Option<Decimal>,
    #[diesel(sql_type = Nullable<Numeric>)]
    pub converted_amount: Option<Decimal>,
    #[diesel(sql_type = Nullable<Text>)]
    pub converted_currency: Option<String>,
}

impl TransactionRow {
    pub fn to_wire(&self) -> Transaction {
        Transaction {
            transaction_id: TransactionId(self.id),
            kind: self.kind.0,
            status: self.status.0,
            reason: self.reason.clone(),
            amount: self.amount,
            currency: self.currency.clone(),
            from_account_id: self.from_account_id.map(AccountId),
            to_account_id: self.to_account_id.map(AccountId),
            order_id: self.order_id,
            service_id: self.service_id,
            reference: self.reference.clone(),
            description: self.description.clone(),
            reverses: self.reverses.map(TransactionId),
            reversed_amount: self.reversed_amount,
            created_by: self.created_by.clone(),
            metadata: Metadata::stored(self.metadata.clone()).into_map(),
            created_at: self.created_at,
            from_balance_after: None,
            to_balance_after: None,
            rate: self.rate,
            converted_amount: self.converted_amount,
            converted_currency: self.converted_currency.clone(),
        }
    }
}

/// One transaction, as it stands.
pub fn find(conn: &mut PgConnection, id: TransactionId) -> QueryResult<Option<TransactionRow>> {
    diesel::sql_query(format!("SELECT {COLUMNS} FROM transactions WHERE id = $1"))
        .bind::<SqlUuid, _>(id.0)
        .get_result(conn)
        .optional()
}

/// The transactions reversals name, as they stand: `None` for an unknown id.
pub fn originals(
    conn: &mut PgConnection,
    ids: &[TransactionId],
) -> QueryResult<HashMap<TransactionId, Option<Original>>> {
    let mut found: HashMap<TransactionId, Option<Original>> =
        ids.iter().map(|id| (*id, None)).collect();
    let rows: Vec<TransactionRow> = FindTransactions {
        ids: ids.iter().map(|id| id.0).collect(),
    }
    .load(conn)?;
    for row in rows {
        let order = match (row.order_id, row.service_id) {
            (Some(order_id), Some(service_id)) => Some(OrderRef {
                order_id: OrderId::parse(order_id).map_err(corrupt)?,
                service_id: ServiceId::parse(service_id).map_err(corrupt)?,
                service_name: None,
            }),
            _ => None,
        };
        let original = Original {
            id: TransactionId(row.id),
            kind: row.kind.0,
            status: row.status.0,
            amount: Amount::try_from(row.amount).map_err(corrupt)?,
            currency: Currency::parse(&row.currency).map_err(corrupt)?,
            from: row.from_account_id.map(AccountId),
            to: row.to_account_id.map(AccountId),
            order,
            reversed: row.reversed_amount,
            exchange: exchanged(&row)?,
        };
        found.insert(original.id, Some(original));
    }
    Ok(found)
}

/// A row's rate and conversion, as the rules read them: all three, or none.
fn exchanged(row: &TransactionRow) -> QueryResult<Option<Exchanged>> {
    match (row.rate, row.converted_amount, &row.converted_currency) {
        (Some(rate), Some(amount), Some(currency)) => Ok(Some(Exchanged {
            rate: Rate::try_from(rate).map_err(corrupt)?,
            amount: Amount::try_from(amount).map_err(corrupt)?,
            currency: Currency::parse(currency).map_err(corrupt)?,
        })),
        (None, None, None) => Ok(None),
        _ => Err(corrupt(format!(
            "transaction {} has part of an exchange's rate and conversion",
            row.id
        ))),
    }
}

service_kit::prepared_statement!(FindTransactions {
    ids: diesel::sql_types::Array<SqlUuid> => Vec<Uuid>,
} = include_str!("transactions/find_transactions.sql"));

/// The columns of `TransactionRow`, for the hand-written listing queries.
/// History and the report are assembled from these fragments (four sort
/// orders, with or without a status) rather than kept as a `.sql` file per
/// variant; every other hand-written statement is a `.sql` file beside its
/// store module.
pub(super) const COLUMNS: &str =
    "id, kind, status, reason, amount, currency, from_account_id, to_account_id, \
                       order_id, service_id, reference, description, created_at, created_by, \
                       reverses, reversed_amount, metadata, rate, converted_amount, \
                       converted_currency";

/// True for rows whose writer had committed when the snapshot `$2` was taken.
/// Unlike "id <= max id at the first page", this is right when writers commit
/// out of the order in which their rows were created.
/// The first test gives the same answer (a writer below the snapshot's xmin
/// had finished when it was taken; had it aborted, its rows are dead) and
/// lets Postgres estimate how many rows pass: it has no estimate for the
/// function and assumes a third, which makes a deep page look cheaper
/// sorted than read in order (see docs/benchmarks.md).
pub(super) const VISIBLE: &str = "(xid < pg_snapshot_xmin($2::pg_snapshot)::text::bigint \
                       OR pg_visible_in_snapshot(xid::text::xid8, $2::pg_snapshot))";

/// Runs a page read in index order: a listing's page is read from the index
/// that gives its order, up to its offset, and never by sorting its whole
/// filter. Postgres's estimate of a filter can be far off (no statistics yet
/// after a bulk load, the snapshot test), and once `offset + limit` passes
/// the estimate it reads and sorts every matching row instead: a deep page
/// then costs the table, not the offset. `enable_sort = off` only makes a
/// sort the last resort, for this one transaction.
pub(super) fn in_index_order<T>(
    conn: &mut PgConnection,
    read: impl FnOnce(&mut PgConnection) -> QueryResult<T>,
) -> QueryResult<T> {
    conn.transaction(|conn| {
        diesel::sql_query("SET LOCAL enable_sort = off").execute(conn)?;
        read(conn)
    })
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

fn order_by(sort: SortKey, order: SortOrder) -> &'static str {
    match (sort, order) {
        (SortKey::Date, SortOrder::Desc) => "created_at DESC, id DESC",
        (SortKey::Date, SortOrder::Asc) => "created_at ASC, id ASC",
        (SortKey::Amount, SortOrder::Desc) => "amount DESC, created_at DESC, id DESC",
        (SortKey::Amount, SortOrder::Asc) => "amount ASC, created_at ASC, id ASC",
    }
}

/// Rows after a key in the sort order, with the key's time, id and amount
/// bound at `$at`, `$at + 1`, `$at + 2` (an index range, not a filter).
fn after(sort: SortKey, order: SortOrder, at: usize) -> String {
    let (id, amount) = (at + 1, at + 2);
    let past = match order {
        SortOrder::Desc => "<",
        SortOrder::Asc => ">",
    };
    match sort {
        SortKey::Date => format!("AND (created_at, id) {past} (${at}, ${id})"),
        SortKey::Amount => {
            format!("AND (amount, created_at, id) {past} (${amount}, ${at}, ${id})")
        }
    }
}

/// The sort key of a transaction in every listing of transactions: its
/// time and id, and its amount for the listings sorted by amount.
#[derive(Debug, Clone, Copy)]
pub struct RowKey {
    pub created_at: DateTime<Utc>,
    pub id: Uuid,
    pub amount: Decimal,
}

/// Where a page of transactions starts.
pub type Start = service_kit::listing::Start<RowKey>;

/// One page of the transactions that touched an account, as of a snapshot.
/// Each side (money out, money in) is read in order from its own index and the
/// two are merged, so a page costs `offset + limit` index entries per side
/// (`limit` after a key).
pub fn account_history(
    conn: &mut PgConnection,
    account: AccountId,
    snapshot: &str,
    (sort, order): (SortKey, SortOrder),
    start: Start,
    limit: i64,
) -> QueryResult<Vec<TransactionRow>> {
    let by = order_by(sort, order);
    let keyset = match start {
        Start::Offset(_) => String::new(),
        Start::After(_) => after(sort, order, 6),
    };
    let side = |column: &str| {
        format!("(SELECT {COLUMNS} FROM transactions WHERE {column} = $1 AND {VISIBLE} {keyset} ORDER BY {by} LIMIT $3)")
    };
    let key = start.key();
    let query = diesel::sql_query(format!(
        "SELECT {COLUMNS} FROM ({} UNION ALL {}) t ORDER BY {by} LIMIT $4 OFFSET $5",
        side("from_account_id"),
        side("to_account_id"),
    ))
    .bind::<SqlUuid, _>(account.0)
    .bind::<Text, _>(snapshot)
    .bind::<BigInt, _>(start.offset().saturating_add(limit))
    .bind::<BigInt, _>(limit)
    .bind::<BigInt, _>(start.offset())
    .bind::<Nullable<Timestamptz>, _>(key.map(|k| k.created_at))
    .bind::<Nullable<SqlUuid>, _>(key.map(|k| k.id))
    .bind::<Nullable<Numeric>, _>(key.map(|k| k.amount));
    in_index_order(conn, |conn| query.load::<TransactionRow>(conn))
}

/// How many transactions touched an account, as of a snapshot.
pub fn account_history_count(
    conn: &mut PgConnection,
    account: AccountId,
    snapshot: &str,
) -> QueryResult<i64> {
    diesel::sql_query(format!(
        "SELECT (SELECT count(*) FROM transactions WHERE from_account_id = $1 AND {VISIBLE}) \
              + (SELECT count(*) FROM transactions WHERE to_account_id = $1 AND {VISIBLE}) AS n"
    ))
    .bind::<SqlUuid, _>(account.0)
    .bind::<Text, _>(snapshot)
    .get_result::<Count>(conn)
    .map(|c| c.n)
}

/// What the report lists: a window (inclusive), optionally one status.
#[derive(Debug, Clone, Copy)]
pub struct ReportFilter<'a> {
    pub window: (DateTime<Utc>, DateTime<Utc>),
    pub status: Option<&'a str>,
}

impl ReportFilter<'_> {
    fn condition(&self) -> String {
        match self.status {
            Some(_) => {
                format!("status = $4 AND created_at >= $1 AND created_at <= $3 AND {VISIBLE}")
            }
            None => format!(
                "created_at >= $1 AND created_at <= $3 AND ($4::text IS NULL) AND {VISIBLE}"
            ),
        }
    }
}

/// One page of the whole ledger in the filter's window, oldest first, as of
/// a snapshot.
pub fn report(
    conn: &mut PgConnection,
    filter: ReportFilter<'_>,
    snapshot: &str,
    start: Start,
    limit: i64,
) -> QueryResult<Vec<TransactionRow>> {
    let keyset = match start {
        Start::Offset(_) => String::new(),
        Start::After(_) => after(SortKey::Date, SortOrder::Asc, 7),
    };
    let key = start.key();
    let query = diesel::sql_query(format!(
        "SELECT {COLUMNS} FROM transactions WHERE {} {keyset} ORDER BY created_at, id LIMIT $5 OFFSET $6",
        filter.condition()
    ))
    .bind::<Timestamptz, _>(filter.window.0)
    .bind::<Text, _>(snapshot)
    .bind::<Timestamptz, _>(filter.window.1)
    .bind::<Nullable<Text>, _>(filter.status)
    .bind::<BigInt, _>(limit)
    .bind::<BigInt, _>(start.offset())
    .bind::<Nullable<Timestamptz>, _>(key.map(|k| k.created_at))
    .bind::<Nullable<SqlUuid>, _>(key.map(|k| k.id))
    .bind::<Nullable<Numeric>, _>(key.map(|k| k.amount))
    ;
    in_index_order(conn, |conn| query.load::<TransactionRow>(conn))
}

/// How many transactions the report lists, as of a snapshot: every row of
/// the window, so this is the report's expensive part (a scan of the window).
pub fn report_count(
    conn: &mut PgConnection,
    filter: ReportFilter<'_>,
    snapshot: &str,
) -> QueryResult<i64> {
    diesel::sql_query(format!(
        "SELECT count(*) AS n FROM transactions WHERE {}",
        filter.condition()
    ))
    .bind::<Timestamptz, _>(filter.window.0)
    .bind::<Text, _>(snapshot)
    .bind::<Timestamptz, _>(filter.window.1)
    .bind::<Nullable<Text>, _>(filter.status)
    .get_result::<Count>(conn)
    .map(|c| c.n)
}

/// What a search filters by: every filter given must match.
#[derive(Debug, Clone, Default)]
pub struct Search {
    pub reference: Option<String>,
    /// `metadata @>` these labels.
    pub labels: Option<serde_json::Value>,
    /// Either side.
    pub account: Option<Uuid>,
    pub kind: Option<&'static str>,
    pub status: Option<&'static str>,
    /// Inclusive.
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

/// A search's rows as of snapshot `$8`. The plan is made for the values
/// given, so an absent filter folds away and a given reference or labels
/// reach their index (`transactions_by_reference`, `transactions_by_metadata`).
const SEARCHED: &str = "($1::text IS NULL OR (reference IS NOT NULL AND reference = $1)) \
    AND ($2::jsonb IS NULL OR (metadata IS NOT NULL AND metadata @> $2)) \
    AND ($3::uuid IS NULL OR from_account_id = $3 OR to_account_id = $3) \
    AND ($4::text IS NULL OR kind = $4) \
    AND ($5::text IS NULL OR status = $5) \
    AND ($6::timestamptz IS NULL OR created_at >= $6) \
    AND ($7::timestamptz IS NULL OR created_at <= $7) \
    AND (xid < pg_snapshot_xmin($8::pg_snapshot)::text::bigint \
         OR pg_visible_in_snapshot(xid::text::xid8, $8::pg_snapshot))";

fn searched(sql: String, search: &Search, snapshot: &str) -> BoxedSqlQuery<'static, Pg, SqlQuery> {
    diesel::sql_query(sql)
        .into_boxed()
        .bind::<Nullable<Text>, _>(search.reference.clone())
        .bind::<Nullable<Jsonb>, _>(search.labels.clone())
        .bind::<Nullable<SqlUuid>, _>(search.account)
        .bind::<Nullable<Text>, _>(search.kind)
        .bind::<Nullable<Text>, _>(search.status)
        .bind::<Nullable<Timestamptz>, _>(search.from)
        .bind::<Nullable<Timestamptz>, _>(search.to)
        .bind::<Text, _>(snapshot.to_owned())
}

/// One page of a search, newest first. A search by labels reads the
/// labelled rows from their GIN index and sorts what it found: walking the
/// time index newest first and testing every row, which Postgres prefers
/// when it overestimates how many rows match (no statistics yet), reads the
/// whole ledger for a label few rows have.
pub fn search(
    conn: &mut PgConnection,
    search: &Search,
    snapshot: &str,
    start: Start,
    limit: i64,
) -> QueryResult<Vec<TransactionRow>> {
    let key = start.key();
    let query = searched(
        format!(
            "SELECT {COLUMNS} FROM transactions WHERE {SEARCHED} {} \
             ORDER BY created_at DESC, id DESC LIMIT $12 OFFSET $13",
            match start {
                Start::Offset(_) => String::new(),
                Start::After(_) => after(SortKey::Date, SortOrder::Desc, 9),
            }
        ),
        search,
        snapshot,
    )
    .bind::<Nullable<Timestamptz>, _>(key.map(|k| k.created_at))
    .bind::<Nullable<SqlUuid>, _>(key.map(|k| k.id))
    .bind::<Nullable<Numeric>, _>(key.map(|k| k.amount))
    .bind::<BigInt, _>(limit)
    .bind::<BigInt, _>(start.offset());
    if search.labels.is_none() {
        return query.load(conn);
    }
    conn.transaction(|conn| {
        diesel::sql_query("SET LOCAL enable_indexscan = off").execute(conn)?;
        query.load(conn)
    })
}

/// How many transactions a search finds, as of the snapshot.
pub fn search_count(conn: &mut PgConnection, search: &Search, snapshot: &str) -> QueryResult<i64> {
    searched(
        format!("SELECT count(*) AS n FROM transactions WHERE {SEARCHED}"),
        search,
        snapshot,
    )
    .get_result::<Count>(conn)
    .map(|c| c.n)
}

//! An account's statement: the lines of a period and its sums, read from
//! each side's (account, created_at, id) index, so a period costs its own
//! lines, not the account's whole history.

use chrono::{DateTime, Utc};
use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Numeric, Text, Timestamptz, Uuid as SqlUuid};
use rust_decimal::Decimal;
use shared_types::accounts::AccountId;

use super::transactions::{in_index_order, TransactionRow, COLUMNS, VISIBLE};
use service_kit::listing::Start;

/// A line: a transaction, with the account's parts right after it.
#[derive(Debug, QueryableByName)]
pub struct LineRow {
    #[diesel(embed)]
    pub transaction: TransactionRow,
    #[diesel(sql_type = Nullable<Numeric>)]
    pub balance_after: Option<Decimal>,
    #[diesel(sql_type = Nullable<Numeric>)]
    pub reserved_after: Option<Decimal>,
}

/// The transactions that touched `$1` with `$3 < created_at <= $4`, seen by
/// snapshot `$2`, each side from its index (a reservation names its account
/// as `from`, its release as `to`; no transaction names one account twice).
fn lines(columns: &str, keyset: &str) -> String {
    let side = |column: &str, other: &str| {
        format!(
            "(SELECT {columns} FROM transactions \
              WHERE {column} = $1 AND {other} IS DISTINCT FROM $1 \
                AND created_at > $3 AND created_at <= $4 AND {VISIBLE} {keyset} \
              ORDER BY created_at, id LIMIT $7)"
        )
    };
    format!(
        "{} UNION ALL {}",
        side("from_account_id", "to_account_id"),
        side("to_account_id", "from_account_id")
    )
}

/// One page of the period's lines, oldest first: after the key of a cursor,
/// or `offset` lines in.
pub fn page(
    conn: &mut PgConnection,
    account: AccountId,
    snapshot: &str,
    (from, to): (DateTime<Utc>, DateTime<Utc>),
    start: Start<(DateTime<Utc>, uuid::Uuid)>,
    limit: i64,
) -> QueryResult<Vec<LineRow>> {
    let keyset = match start {
        Start::Offset(_) => "",
        Start::After(_) => "AND (created_at, id) > ($5, $6)",
    };
    let columns = format!(
        "{COLUMNS}, \
         CASE WHEN from_account_id = $1 THEN from_balance_after ELSE to_balance_after END AS balance_after, \
         CASE WHEN from_account_id = $1 THEN from_reserved_after ELSE to_reserved_after END AS reserved_after"
    );
    let query = diesel::sql_query(format!(
        "SELECT * FROM ({}) lines ORDER BY created_at, id LIMIT $7 OFFSET $8",
        lines(&columns, keyset).replace("LIMIT $7)", "LIMIT $7 + $8)")
    ))
    .bind::<SqlUuid, _>(account.0)
    .bind::<Text, _>(snapshot)
    .bind::<Timestamptz, _>(from)
    .bind::<Timestamptz, _>(to)
    .bind::<Nullable<Timestamptz>, _>(start.key().map(|k| k.0))
    .bind::<Nullable<SqlUuid>, _>(start.key().map(|k| k.1))
    .bind::<BigInt, _>(limit)
    .bind::<BigInt, _>(start.offset());
    in_index_order(conn, |conn| query.load(conn))
}

/// The period's totals: its lines, and what they brought into and took out
/// of the account's balance. Each line's effect is its balance after less
/// the one after the line before (the opening balance before the first):
/// every transaction stores the account's parts right after it, failed
/// ones unchanged, and for one account (created_at, id) is the order the
/// engine applied them in. No entry is read: `entries` has no index by
/// transaction (writes are cheaper without it).
#[derive(Debug, QueryableByName)]
pub struct Totals {
    #[diesel(sql_type = BigInt)]
    pub count: i64,
    #[diesel(sql_type = Numeric)]
    pub money_in: Decimal,
    #[diesel(sql_type = Numeric)]
    pub money_out: Decimal,
}

pub fn totals(
    conn: &mut PgConnection,
    account: AccountId,
    snapshot: &str,
    (from, to): (DateTime<Utc>, DateTime<Utc>),
    opening_balance: Decimal,
) -> QueryResult<Totals> {
    let columns = "created_at, id, \
         CASE WHEN from_account_id = $1 THEN from_balance_after ELSE to_balance_after END AS after";
    diesel::sql_query(format!(
        "SELECT count(*) AS count, \
                COALESCE(sum(net) FILTER (WHERE net > 0), 0) AS money_in, \
                COALESCE(-sum(net) FILTER (WHERE net < 0), 0) AS money_out \
         FROM (SELECT after - lag(after, 1, $5) OVER (ORDER BY created_at, id) AS net \
               FROM ({}) lines) effects",
        lines(columns, "").replace(" ORDER BY created_at, id LIMIT $7", "")
    ))
    .bind::<SqlUuid, _>(account.0)
    .bind::<Text, _>(snapshot)
    .bind::<Timestamptz, _>(from)
    .bind::<Timestamptz, _>(to)
    .bind::<Numeric, _>(opening_balance)
    .get_result(conn)
}

//! The double-entry self-check: the fast checks computed on every call, and
//! the full recount of the entries that runs in the background and is
//! stored in `audit_recounts`.

use chrono::{DateTime, Utc};
use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Bool, Numeric, Text, Timestamptz, Uuid as SqlUuid};
use rust_decimal::Decimal;
use uuid::Uuid;

#[derive(Debug, QueryableByName)]
pub struct CurrencyAuditRow {
    #[diesel(sql_type = Text)]
    pub currency: String,
    #[diesel(sql_type = Numeric)]
    pub total: Decimal,
    #[diesel(sql_type = BigInt)]
    pub negative_accounts: i64,
    #[diesel(sql_type = BigInt)]
    pub entry_mismatches: i64,
    #[diesel(sql_type = BigInt)]
    pub latest_posting_mismatches: i64,
    #[diesel(sql_type = BigInt)]
    pub recount_mismatches: i64,
}

/// A stored recount.
#[derive(Debug, QueryableByName)]
pub struct Recount {
    #[diesel(sql_type = Timestamptz)]
    pub checked_at: DateTime<Utc>,
    #[diesel(sql_type = Timestamptz)]
    pub finished_at: DateTime<Utc>,
    #[diesel(sql_type = BigInt)]
    pub mismatched: i64,
}

const LATEST_RECOUNT: &str =
    "SELECT checked_at, finished_at, cardinality(mismatched)::bigint AS mismatched \
                              FROM audit_recounts ORDER BY id DESC LIMIT 1";

/// The fast checks of every currency, and the latest recount, as of one
/// consistent snapshot (balances, transactions and the recount of the same
/// moment).
pub fn audit(conn: &mut PgConnection) -> QueryResult<(Vec<CurrencyAuditRow>, Option<Recount>)> {
    conn.build_transaction()
        .read_only()
        .repeatable_read()
        .run(|conn| {
            let currencies = diesel::sql_query(include_str!("audit/audit.sql")).load(conn)?;
            let recount = diesel::sql_query(LATEST_RECOUNT)
                .get_result(conn)
                .optional()?;
            Ok((currencies, recount))
        })
}

#[derive(QueryableByName)]
struct Taken {
    #[diesel(sql_type = Bool)]
    taken: bool,
}

#[derive(QueryableByName)]
struct Mismatched {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
}

#[derive(QueryableByName)]
struct Now {
    #[diesel(sql_type = Timestamptz)]
    now: DateTime<Utc>,
}

/// How many recounts are kept.
const KEPT: i64 = 100;

/// Sums every entry of the ledger per account as of one snapshot, compares
/// the sums with every account, and stores what it found. Does nothing
/// (`None`) while another instance recounts, or when a recount finished
/// less than `fresh` ago: any number of instances share one recount per
/// interval.
pub fn recount(
    conn: &mut PgConnection,
    fresh: std::time::Duration,
) -> QueryResult<Option<Recount>> {
    let fresh = chrono::Duration::from_std(fresh).unwrap_or(chrono::Duration::MAX);
    conn.build_transaction().repeatable_read().run(|conn| {
        let taken = diesel::sql_query(
            "SELECT pg_try_advisory_xact_lock(hashtextextended('accounts-manager:audit-recount', 0)) AS taken",
        )
        .get_result::<Taken>(conn)?
        .taken;
        if !taken {
            return Ok(None);
        }
        let latest: Option<Recount> = diesel::sql_query(LATEST_RECOUNT)
            .get_result(conn)
            .optional()?;
        let now = diesel::sql_query("SELECT now() AS now")
            .get_result::<Now>(conn)?
            .now;
        if latest.is_some_and(|r| now - r.finished_at < fresh) {
            return Ok(None);
        }
        // The per-account sums of ten million transactions' entries spill to
        // disk at the default 4 MB (16 s); in memory they take 11 s.
        diesel::sql_query("SET LOCAL work_mem = '64MB'").execute(conn)?;
        let mismatched: Vec<Uuid> = diesel::sql_query(include_str!("audit/recount.sql"))
            .load::<Mismatched>(conn)?
            .into_iter()
            .map(|m| m.id)
            .collect();
        let stored = diesel::sql_query(
            "INSERT INTO audit_recounts (checked_at, finished_at, mismatched) \
             VALUES (now(), clock_timestamp(), $1) \
             RETURNING checked_at, finished_at, cardinality(mismatched)::bigint AS mismatched",
        )
        .bind::<Array<SqlUuid>, _>(mismatched)
        .get_result::<Recount>(conn)?;
        diesel::sql_query("DELETE FROM audit_recounts WHERE id <= (SELECT max(id) FROM audit_recounts) - $1")
            .bind::<BigInt, _>(KEPT)
            .execute(conn)?;
        Ok(Some(stored))
    })
}

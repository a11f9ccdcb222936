//! The portfolio report's reads: the rollups the triggers on `advances` keep
//! (see the migration `overdue_and_portfolio`), a few rows whatever the
//! size of the book.

use chrono::{DateTime, Utc};
use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Numeric, SmallInt, Text, Timestamptz};
use rust_decimal::Decimal;

/// The active advances of one bucket (`portfolio_rollup.bucket`).
#[derive(Debug, Clone, QueryableByName)]
pub struct BucketSums {
    #[diesel(sql_type = SmallInt)]
    pub bucket: i16,
    #[diesel(sql_type = BigInt)]
    pub advances: i64,
    #[diesel(sql_type = Numeric)]
    pub outstanding: Decimal,
    #[diesel(sql_type = Numeric)]
    pub overdue_amount: Decimal,
}

/// The active advances of `currency` by bucket (only buckets with a row).
pub fn buckets(conn: &mut PgConnection, currency: &str) -> QueryResult<Vec<BucketSums>> {
    diesel::sql_query(include_str!("portfolio/buckets.sql"))
        .bind::<Text, _>(currency)
        .load(conn)
}

/// What the payments of `currency` collected from `since` on.
pub fn collected_since(
    conn: &mut PgConnection,
    currency: &str,
    since: DateTime<Utc>,
) -> QueryResult<Decimal> {
    #[derive(QueryableByName)]
    struct Sum {
        #[diesel(sql_type = Numeric)]
        amount: Decimal,
    }
    diesel::sql_query(include_str!("portfolio/collected.sql"))
        .bind::<Text, _>(currency)
        .bind::<Timestamptz, _>(since)
        .get_result::<Sum>(conn)
        .map(|sum| sum.amount)
}

/// The overdue amount of the active advances per currency and bucket, every
/// currency's (the metrics' gauge).
#[derive(Debug, Clone, QueryableByName)]
pub struct OverdueSums {
    #[diesel(sql_type = Text)]
    pub currency: String,
    #[diesel(sql_type = SmallInt)]
    pub bucket: i16,
    #[diesel(sql_type = Numeric)]
    pub overdue_amount: Decimal,
}

pub fn overdue_by_bucket(conn: &mut PgConnection) -> QueryResult<Vec<OverdueSums>> {
    diesel::sql_query(
        "SELECT currency, bucket, sum(overdue_amount) AS overdue_amount \
         FROM portfolio_rollup GROUP BY currency, bucket",
    )
    .load(conn)
}

/// The database's time (its transaction's), which the report is read as of.
pub fn now(conn: &mut PgConnection) -> QueryResult<DateTime<Utc>> {
    #[derive(QueryableByName)]
    struct Now {
        #[diesel(sql_type = Timestamptz)]
        at: DateTime<Utc>,
    }
    diesel::sql_query("SELECT now() AS at")
        .get_result::<Now>(conn)
        .map(|now| now.at)
}

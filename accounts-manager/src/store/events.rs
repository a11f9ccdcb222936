//! The event feed: committed transactions and account events in the order
//! of their positions (the `position` columns, see the migrations
//! `event_feed` and `account_status`).

use chrono::{DateTime, Utc};
use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Jsonb, Text, Timestamptz};

use super::transactions::TransactionRow;

/// A transaction at its place in the feed.
#[derive(QueryableByName)]
struct TransactionEvent {
    #[diesel(sql_type = BigInt)]
    position: i64,
    #[diesel(embed)]
    transaction: TransactionRow,
}

/// An account event at its place in the feed.
#[derive(QueryableByName)]
pub struct AccountEventRow {
    #[diesel(sql_type = BigInt)]
    pub position: i64,
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    pub event_id: uuid::Uuid,
    #[diesel(sql_type = Text)]
    pub kind: String,
    #[diesel(sql_type = Timestamptz)]
    pub occurred_at: DateTime<Utc>,
    #[diesel(sql_type = Jsonb)]
    pub account: serde_json::Value,
}

/// What stands at a place in the feed.
pub enum FeedRow {
    Transaction {
        position: i64,
        row: Box<TransactionRow>,
    },
    Account(AccountEventRow),
}

impl FeedRow {
    pub fn position(&self) -> i64 {
        match self {
            Self::Transaction { position, .. } => *position,
            Self::Account(row) => row.position,
        }
    }
}

#[derive(QueryableByName)]
struct Horizon {
    #[diesel(sql_type = BigInt)]
    bound: i64,
}

/// At most `limit` committed events after `after`, in feed order: the
/// transactions and the account events, below one horizon read first.
pub fn after(conn: &mut PgConnection, after: i64, limit: i64) -> QueryResult<Vec<FeedRow>> {
    let bound = diesel::sql_query("SELECT event_horizon() << 24 AS bound")
        .get_result::<Horizon>(conn)?
        .bound;
    let transactions: Vec<TransactionEvent> = Feed {
        after,
        bound,
        limit,
    }
    .load(conn)?;
    let accounts: Vec<AccountEventRow> = AccountFeed {
        after,
        bound,
        limit,
    }
    .load(conn)?;
    let mut rows: Vec<FeedRow> = transactions
        .into_iter()
        .map(|t| FeedRow::Transaction {
            position: t.position,
            row: Box::new(t.transaction),
        })
        .chain(accounts.into_iter().map(FeedRow::Account))
        .collect();
    rows.sort_unstable_by_key(FeedRow::position);
    rows.truncate(usize::try_from(limit).unwrap_or(0));
    Ok(rows)
}

service_kit::prepared_statement!(Feed {
    after: BigInt => i64,
    bound: BigInt => i64,
    limit: BigInt => i64,
} = include_str!("events/feed.sql"));

service_kit::prepared_statement!(AccountFeed {
    after: BigInt => i64,
    bound: BigInt => i64,
    limit: BigInt => i64,
} = include_str!("events/account_feed.sql"));

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// How many events wait after `after`, counting at most `cap`.
pub fn count_after(conn: &mut PgConnection, after: i64, cap: i64) -> QueryResult<i64> {
    CountAfter {
        after,
        cap,
        accounts_after: after,
        accounts_cap: cap,
    }
    .get_result::<Count>(conn)
    .map(|c| c.n.min(cap))
}

service_kit::prepared_statement!(CountAfter {
    after: BigInt => i64,
    cap: BigInt => i64,
    accounts_after: BigInt => i64,
    accounts_cap: BigInt => i64,
} = include_str!("events/count.sql"));

//! The event feed: committed transactions in the order of their positions
//! (the `position` column, see the migration `event_feed`).

use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::sql_types::BigInt;

use super::transactions::TransactionRow;

/// A transaction at its place in the feed.
#[derive(QueryableByName)]
pub struct FeedRow {
    #[diesel(sql_type = BigInt)]
    pub position: i64,
    #[diesel(embed)]
    pub transaction: TransactionRow,
}

/// At most `limit` committed transactions after `after`, in feed order.
pub fn after(conn: &mut PgConnection, after: i64, limit: i64) -> QueryResult<Vec<FeedRow>> {
    Feed { after, limit }.load(conn)
}

service_kit::prepared_statement!(Feed {
    after: BigInt => i64,
    limit: BigInt => i64,
} = include_str!("events/feed.sql"));

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// How many events wait after `after`, counting at most `cap`.
pub fn count_after(conn: &mut PgConnection, after: i64, cap: i64) -> QueryResult<i64> {
    CountAfter { after, cap }
        .get_result::<Count>(conn)
        .map(|c| c.n)
}

service_kit::prepared_statement!(CountAfter {
    after: BigInt => i64,
    cap: BigInt => i64,
} = include_str!("events/count.sql"));

//! The `dead_letters` table: the jobs the worker dead-lettered, as received.

use chrono::{DateTime, Utc};
use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text, Timestamptz};
use service_kit::listing::Start;
use uuid::Uuid;

use super::schema::dead_letters;
use shared_types::advances::DeadLetter;

#[derive(Debug, Clone, Queryable, Selectable, QueryableByName)]
#[diesel(table_name = dead_letters)]
#[diesel(check_for_backend(diesel::pg::Pg))]
pub struct DeadLetterRow {
    pub id: Uuid,
    pub body: Vec<u8>,
    pub reason: String,
    pub received_at: DateTime<Utc>,
    pub replayed_at: Option<DateTime<Utc>>,
}

impl DeadLetterRow {
    pub fn to_wire(&self) -> DeadLetter {
        DeadLetter {
            id: self.id,
            body: String::from_utf8_lossy(&self.body).into_owned(),
            reason: self.reason.clone(),
            received_at: self.received_at,
            replayed_at: self.replayed_at,
        }
    }
}

/// Keeps a dead-lettered job.
pub fn insert(conn: &mut PgConnection, body: &[u8], reason: &str) -> QueryResult<()> {
    diesel::insert_into(dead_letters::table)
        .values((
            dead_letters::id.eq(Uuid::now_v7()),
            dead_letters::body.eq(body),
            dead_letters::reason.eq(reason),
        ))
        .execute(conn)
        .map(|_| ())
}

/// A dead letter, locked for the rest of the transaction.
pub fn lock(conn: &mut PgConnection, id: Uuid) -> QueryResult<Option<DeadLetterRow>> {
    dead_letters::table
        .find(id)
        .for_update()
        .select(DeadLetterRow::as_select())
        .first(conn)
        .optional()
}

pub fn mark_replayed(conn: &mut PgConnection, id: Uuid) -> QueryResult<DeadLetterRow> {
    diesel::update(dead_letters::table.find(id))
        .set(dead_letters::replayed_at.eq(diesel::dsl::now))
        .returning(DeadLetterRow::as_returning())
        .get_result(conn)
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// One page of the dead letters, oldest first, as of a snapshot.
pub fn list(
    conn: &mut PgConnection,
    snapshot: &str,
    start: Start<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> QueryResult<(Vec<DeadLetterRow>, i64)> {
    let rows = diesel::sql_query(include_str!("dead_letters/page.sql"))
        .bind::<Text, _>(snapshot)
        .bind::<BigInt, _>(limit)
        .bind::<BigInt, _>(start.offset())
        .bind::<Nullable<Timestamptz>, _>(start.key().map(|k| k.0))
        .bind::<Nullable<diesel::sql_types::Uuid>, _>(start.key().map(|k| k.1))
        .load(conn)?;
    let total = diesel::sql_query(include_str!("dead_letters/count.sql"))
        .bind::<Text, _>(snapshot)
        .get_result::<Count>(conn)?
        .n;
    Ok((rows, total))
}

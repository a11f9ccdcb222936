//! The outbox of advances events (see the migration `events`), written in
//! the transaction of each change and published to `advances.events` by the
//! relay.

use chrono::{DateTime, Utc};
use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Text, Timestamptz, Uuid as SqlUuid};
use service_kit::events::{Outbox, Outgoing};
use shared_types::advances::{AdvanceEvent, AdvanceEventType, AdvanceId};
use shared_types::Named;
use uuid::Uuid;

use super::{advances, payments};

/// Records one event per `(advance, type)`, in this order, each carrying the
/// advance as it stands in the caller's transaction: call it right after the
/// change it describes.
pub fn record(
    conn: &mut PgConnection,
    changes: &[(AdvanceId, AdvanceEventType)],
) -> QueryResult<()> {
    if changes.is_empty() {
        return Ok(());
    }
    let mut ids: Vec<AdvanceId> = changes.iter().map(|(id, _)| *id).collect();
    ids.sort_unstable_by_key(|id| id.0);
    ids.dedup();
    let rows = advances::find_all(conn, &ids)?;
    let all_payments = payments::of_advances(conn, &ids)?;
    let occurred_at = Utc::now();
    let mut insert = Insert::default();
    for (id, kind) in changes {
        let Some(row) = rows.iter().find(|row| row.id == id.0) else {
            continue;
        };
        let own: Vec<payments::PaymentRow> = all_payments
            .iter()
            .filter(|p| p.advance_id == id.0)
            .cloned()
            .collect();
        let event = AdvanceEvent {
            event_id: Uuid::now_v7(),
            kind: *kind,
            occurred_at,
            data: row.to_wire(&own),
        };
        insert.event_ids.push(event.event_id);
        insert.types.push(kind.name().to_owned());
        insert.occurred_at.push(occurred_at);
        insert.bodies.push(
            serde_json::to_string(&event)
                .map_err(|e| diesel::result::Error::SerializationError(e.into()))?,
        );
    }
    insert.execute(conn).map(|_| ())
}

service_kit::prepared_statement!(#[derive(Default)] Insert {
    event_ids: Array<SqlUuid> => Vec<Uuid>,
    types: Array<Text> => Vec<String>,
    occurred_at: Array<Timestamptz> => Vec<DateTime<Utc>>,
    bodies: Array<Text> => Vec<String>,
} = include_str!("events/insert.sql"));

#[derive(QueryableByName)]
struct OutboxRow {
    #[diesel(sql_type = BigInt)]
    position: i64,
    #[diesel(sql_type = SqlUuid)]
    event_id: Uuid,
    #[diesel(sql_type = Text)]
    r#type: String,
    #[diesel(sql_type = Timestamptz)]
    occurred_at: DateTime<Utc>,
    #[diesel(sql_type = Text)]
    body: String,
}

service_kit::prepared_statement!(After {
    after: BigInt => i64,
    limit: BigInt => i64,
} = include_str!("events/after.sql"));

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

service_kit::prepared_statement!(CountAfter {
    after: BigInt => i64,
    cap: BigInt => i64,
} = include_str!("events/count.sql"));

/// The outbox, as the relay reads it; published rows are deleted.
pub struct AdvancesOutbox;

impl Outbox for AdvancesOutbox {
    fn after(&self, conn: &mut PgConnection, after: i64, limit: i64) -> QueryResult<Vec<Outgoing>> {
        let rows: Vec<OutboxRow> = After { after, limit }.load(conn)?;
        Ok(rows
            .into_iter()
            .map(|row| Outgoing {
                position: row.position,
                event_id: row.event_id,
                routing_key: row.r#type,
                body: row.body.into_bytes(),
                occurred_at: row.occurred_at,
            })
            .collect())
    }

    fn pending(&self, conn: &mut PgConnection, after: i64, cap: i64) -> QueryResult<i64> {
        CountAfter { after, cap }
            .get_result::<Count>(conn)
            .map(|c| c.n)
    }

    fn published(&self, conn: &mut PgConnection, through: i64) -> QueryResult<()> {
        diesel::sql_query("DELETE FROM events WHERE position <= $1")
            .bind::<BigInt, _>(through)
            .execute(conn)
            .map(|_| ())
    }
}

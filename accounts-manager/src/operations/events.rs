//! The event feed: every committed transaction and change of an account's
//! standing, in an order no later commit can break, and the outbox the relay publishes to `ledger.events`.

use diesel::pg::PgConnection;
use diesel::QueryResult;
use service_kit::events::{Outbox, Outgoing};
use shared_types::accounts::{Event, EventData, EventPage, EventPosition, TRANSACTION_CREATED};
use shared_types::Named;
use uuid::{uuid, Uuid};

use super::run;
use crate::error::ApiError;
use crate::store::events::FeedRow;
use crate::store::{self, PgPool};

/// The exchange ledger events are published to (durable, topic).
pub const EXCHANGE: &str = "ledger.events";

/// The namespace of event ids: an event's id is the UUIDv5 of its
/// transaction's id in it, so every read and every delivery of one event
/// carries the same id.
const EVENT_IDS: Uuid = uuid!("5d1c2b0e-7f6a-4c1e-9a57-2f0d8c3e6b41");

/// The feed after `after`, at most `limit` events.
pub async fn page(pool: &PgPool, after: EventPosition, limit: i64) -> Result<EventPage, ApiError> {
    run(pool, move |conn| {
        let items: Vec<Event> = store::events::after(conn, after.0, limit)?
            .into_iter()
            .map(event_of)
            .collect::<Result<_, _>>()?;
        let next = items.last().map_or(after, |event| event.position);
        Ok(EventPage { items, next })
    })
    .await
}

/// What stands at a place in the feed, as an event.
fn event_of(row: store::events::FeedRow) -> Result<Event, diesel::result::Error> {
    Ok(match row {
        FeedRow::Transaction { position, row } => {
            let mut data = row.to_wire();
            // As committed: what later reversals take of it are events of their own.
            data.reversed_amount = rust_decimal::Decimal::ZERO;
            Event {
                event_id: Uuid::new_v5(&EVENT_IDS, data.transaction_id.0.as_bytes()),
                position: EventPosition(position),
                kind: TRANSACTION_CREATED.to_owned(),
                occurred_at: data.created_at,
                data: EventData::Transaction(Box::new(data)),
            }
        }
        FeedRow::Account(row) => Event {
            event_id: row.event_id,
            position: EventPosition(row.position),
            kind: row.kind,
            occurred_at: row.occurred_at,
            data: EventData::Account(Box::new(
                serde_json::from_value(row.account).map_err(store::corrupt)?,
            )),
        },
    })
}

/// The routing key of an event on `ledger.events`:
/// `transaction.<type>.<status>`, or an account event's type.
pub fn routing_key(event: &Event) -> String {
    match &event.data {
        EventData::Transaction(t) => {
            format!("transaction.{}.{}", t.kind.name(), t.status.name())
        }
        EventData::Account(_) => event.kind.clone(),
    }
}

/// The feed, as the relay reads it.
pub struct LedgerOutbox;

impl Outbox for LedgerOutbox {
    fn after(&self, conn: &mut PgConnection, after: i64, limit: i64) -> QueryResult<Vec<Outgoing>> {
        store::events::after(conn, after, limit)?
            .into_iter()
            .map(|row| {
                let event = event_of(row)?;
                let body = serde_json::to_vec(&event).map_err(store::corrupt)?;
                Ok(Outgoing {
                    position: event.position.0,
                    event_id: event.event_id,
                    routing_key: routing_key(&event),
                    body,
                    occurred_at: event.occurred_at,
                })
            })
            .collect()
    }

    fn pending(&self, conn: &mut PgConnection, after: i64, cap: i64) -> QueryResult<i64> {
        store::events::count_after(conn, after, cap)
    }
}

//! The event feed: every committed transaction, in an order no later commit
//! can break, and the outbox the relay publishes to `ledger.events`.

use diesel::pg::PgConnection;
use diesel::QueryResult;
use service_kit::events::{Outbox, Outgoing};
use shared_types::accounts::{Event, EventPage, EventPosition, TRANSACTION_CREATED};
use shared_types::Named;
use uuid::{uuid, Uuid};

use super::run;
use crate::error::ApiError;
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
            .collect();
        let next = items.last().map_or(after, |event| event.position);
        Ok(EventPage { items, next })
    })
    .await
}

/// A transaction at its place in the feed, as an event.
fn event_of(row: store::events::FeedRow) -> Event {
    let mut data = row.transaction.to_wire();
    // As committed: what later reversals take of it are events of their own.
    data.reversed_amount = rust_decimal::Decimal::ZERO;
    Event {
        event_id: Uuid::new_v5(&EVENT_IDS, data.transaction_id.0.as_bytes()),
        position: EventPosition(row.position),
        kind: TRANSACTION_CREATED.to_owned(),
        occurred_at: data.created_at,
        data,
    }
}

/// The routing key of an event on `ledger.events`: `transaction.<type>.<status>`.
pub fn routing_key(event: &Event) -> String {
    format!(
        "transaction.{}.{}",
        event.data.kind.name(),
        event.data.status.name()
    )
}

/// The feed, as the relay reads it.
pub struct LedgerOutbox;

impl Outbox for LedgerOutbox {
    fn after(&self, conn: &mut PgConnection, after: i64, limit: i64) -> QueryResult<Vec<Outgoing>> {
        store::events::after(conn, after, limit)?
            .into_iter()
            .map(|row| {
                let event = event_of(row);
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

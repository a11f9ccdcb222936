//! Publishing an outbox to RabbitMQ. A relay reads the events after the
//! position it last had confirmed, publishes them in order (persistent, with
//! publisher confirms) to a durable topic exchange, and moves its mark only
//! past what the broker confirmed: at least once, never for work that rolled
//! back (the outbox is written in the transaction of the change), and a broker
//! that is away only delays events.
//!
//! Any number of instances may run a relay: one at a time holds it, by a
//! session advisory lock on a database connection of its own (released by
//! Postgres when that connection ends, so a killed instance hands over); the
//! others stand by. The `event_relay` table keeps the mark and
//! `event_horizon()` says how far is final (`migrations/service-kit`).

use std::future::Future;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Text};
use diesel::Connection as _;
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions, ExchangeDeclareOptions};
use lapin::types::FieldTable;
use lapin::{
    BasicProperties, Channel, Confirmation, Connection, ConnectionProperties, ExchangeKind,
};
use prometheus::{Histogram, HistogramOpts, IntCounter, IntGauge};
use uuid::Uuid;

use crate::metrics::HttpMetrics;
use crate::shutdown::Shutdown;

/// An event ready to publish.
#[derive(Debug, Clone)]
pub struct Outgoing {
    /// Its place in the outbox: strictly increasing in publishing order.
    pub position: i64,
    pub event_id: Uuid,
    pub routing_key: String,
    /// The message body, the same bytes on every delivery.
    pub body: Vec<u8>,
    pub occurred_at: DateTime<Utc>,
}

/// Where a relay reads: a service's outbox.
pub trait Outbox: Send + Sync + 'static {
    /// At most `limit` events after `after`, in order, only those no later
    /// commit can place before them.
    fn after(&self, conn: &mut PgConnection, after: i64, limit: i64) -> QueryResult<Vec<Outgoing>>;

    /// How many events wait after `after`, counting at most `cap`.
    fn pending(&self, conn: &mut PgConnection, after: i64, cap: i64) -> QueryResult<i64>;

    /// Called once every event up to `through` is confirmed (and the mark
    /// moved): an outbox that is not also a feed deletes them here.
    fn published(&self, _conn: &mut PgConnection, _through: i64) -> QueryResult<()> {
        Ok(())
    }
}

/// `events_pending`, `events_published_total`, `events_publish_lag_seconds`.
#[derive(Clone)]
pub struct RelayMetrics {
    pending: IntGauge,
    published: IntCounter,
    lag: Histogram,
}

impl RelayMetrics {
    pub fn register(metrics: &HttpMetrics) -> Result<Self, prometheus::Error> {
        Ok(Self {
            pending: metrics.register(IntGauge::new(
                "events_pending",
                "Events in the outbox not yet confirmed by RabbitMQ (counted by the instance holding the relay, up to 1,000,000)",
            )?)?,
            published: metrics.register(IntCounter::new(
                "events_published_total",
                "Events published to RabbitMQ and confirmed by it",
            )?)?,
            lag: metrics.register(Histogram::with_opts(
                HistogramOpts::new(
                    "events_publish_lag_seconds",
                    "From an event's commit to the broker's confirm of its message",
                )
                .buckets(vec![
                    0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0,
                ]),
            )?)?,
        })
    }
}

/// A relay from one outbox to one exchange.
pub struct Relay<O> {
    pub outbox: O,
    /// Its row in `event_relay`, and the name of its lock.
    pub name: &'static str,
    pub database_url: String,
    pub amqp_url: String,
    /// The durable topic exchange events go to (declared by the relay).
    pub exchange: &'static str,
    pub metrics: RelayMetrics,
    /// How often an idle relay looks for new events.
    pub poll: Duration,
}

/// How many events one round publishes before waiting for their confirms.
/// A full round is followed at once by the next (no poll wait), so under
/// load the relay keeps publishing; rounds of 5,000 measured the same
/// throughput with publish lags of 1-2.5 s instead of 0.25-0.5 s.
const ROUND: i64 = 500;
/// How many waiting events `events_pending` counts at most.
const PENDING_CAP: i64 = 1_000_000;
/// How long to wait after a failure, and how often a standby instance asks
/// for the lock.
const RETRY: Duration = Duration::from_secs(1);
/// How often `events_pending` is recounted.
const RECOUNT: Duration = Duration::from_secs(2);

/// What went wrong in one round; the relay retries after [`RETRY`].
#[derive(Debug, thiserror::Error)]
enum RelayError {
    #[error("database: {0}")]
    Database(#[from] diesel::result::Error),
    #[error("cannot connect to the database: {0}")]
    Connect(#[from] diesel::ConnectionError),
    #[error("RabbitMQ: {0}")]
    Broker(#[from] lapin::Error),
    #[error("RabbitMQ did not confirm an event ({0})")]
    NotConfirmed(&'static str),
    #[error("RabbitMQ did not answer in time")]
    Timeout,
    #[error("a blocking task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

/// The relay's database connection, holding the lock, and its mark.
struct Lease {
    conn: PgConnection,
    mark: i64,
}

impl<O: Outbox> Relay<O> {
    /// Relays until a stop is asked for; a round under way is finished (its
    /// mark moved), so that a stopping instance publishes nothing twice.
    pub async fn run(self, mut shutdown: Shutdown) {
        let mut lease: Option<Lease> = None;
        // A standby instance keeps its connection and asks for the lock on
        // it again, rather than connecting anew every second.
        let mut standby: Option<PgConnection> = None;
        let mut channel: Option<(Connection, Channel)> = None;
        let mut recounted = Instant::now() - RECOUNT;
        let relay = std::sync::Arc::new(self);
        while !shutdown.requested() {
            let current = match lease.take() {
                Some(held) => held,
                None => match relay.clone().take_lease(standby.take()).await {
                    Ok(Ok(held)) => {
                        tracing::info!(
                            relay = relay.name,
                            mark = held.mark,
                            "this instance relays the events"
                        );
                        held
                    }
                    Ok(Err(conn)) => {
                        standby = Some(conn);
                        shutdown.sleep(RETRY).await;
                        continue;
                    }
                    Err(error) => {
                        tracing::warn!(relay = relay.name, error = %error, "cannot take the event relay");
                        shutdown.sleep(RETRY).await;
                        continue;
                    }
                },
            };
            let recount = recounted.elapsed() >= RECOUNT;
            match relay.clone().round(current, &mut channel, recount).await {
                Ok((held, published)) => {
                    lease = Some(held);
                    if recount {
                        recounted = Instant::now();
                    }
                    if published < ROUND as usize {
                        shutdown.sleep(relay.poll).await;
                    }
                }
                Err((held, error)) => {
                    // A database failure drops the connection, and with it the
                    // lock; a broker failure keeps the lease and the mark.
                    lease = held;
                    channel = None;
                    tracing::warn!(relay = relay.name, error = %error, "events wait: publishing failed");
                    shutdown.sleep(RETRY).await;
                }
            }
        }
        if let Some((connection, _)) = channel {
            let closing = connection.close(200, "the relay is stopping".into());
            let _ = tokio::time::timeout(Duration::from_secs(5), closing).await;
        }
        // The lease's connection goes with it, and Postgres releases the lock.
        tracing::info!(relay = relay.name, "event relay stopped");
    }

    /// Takes the lock if no other instance holds it, on `standby` or on a
    /// new connection; without it, answers the connection for the next try.
    async fn take_lease(
        self: std::sync::Arc<Self>,
        standby: Option<PgConnection>,
    ) -> Result<Result<Lease, PgConnection>, RelayError> {
        tokio::task::spawn_blocking(move || {
            let mut conn = match standby {
                Some(conn) => conn,
                None => {
                    let mut conn = PgConnection::establish(&self.database_url)?;
                    // The mark is written after every round: waiting for its
                    // WAL flush would cost a disk flush per round for nothing,
                    // since a mark lost in a crash only means publishing those
                    // events again (consumers deduplicate). This connection
                    // writes nothing else that matters.
                    diesel::sql_query("SET synchronous_commit = off").execute(&mut conn)?;
                    conn
                }
            };
            let held = diesel::sql_query(
                "SELECT pg_try_advisory_lock(hashtextextended('event relay ' || $1, 0)) AS held",
            )
            .bind::<Text, _>(self.name)
            .get_result::<Held>(&mut conn)?
            .held;
            if !held {
                return Ok(Err(conn));
            }
            let mark = diesel::sql_query(
                "INSERT INTO event_relay (name) VALUES ($1) \
                 ON CONFLICT (name) DO UPDATE SET name = EXCLUDED.name \
                 RETURNING published_through",
            )
            .bind::<Text, _>(self.name)
            .get_result::<Mark>(&mut conn)?
            .published_through;
            Ok(Ok(Lease { conn, mark }))
        })
        .await?
    }

    /// Publishes what waits after the mark (one round), and moves the mark.
    /// Answers how many events it published.
    async fn round(
        self: std::sync::Arc<Self>,
        lease: Lease,
        channel: &mut Option<(Connection, Channel)>,
        recount: bool,
    ) -> Result<(Lease, usize), (Option<Lease>, RelayError)> {
        let relay = self.clone();
        let (lease, events) = tokio::task::spawn_blocking(move || {
            let mut lease = lease;
            let events = relay.outbox.after(&mut lease.conn, lease.mark, ROUND);
            let pending = match (&events, recount) {
                (Ok(_), true) => Some(relay.outbox.pending(
                    &mut lease.conn,
                    lease.mark,
                    PENDING_CAP,
                )),
                _ => None,
            };
            match (events, pending.transpose()) {
                (Ok(events), Ok(pending)) => {
                    if let Some(pending) = pending {
                        relay.metrics.pending.set(pending);
                    }
                    Ok((lease, events))
                }
                (Err(error), _) | (_, Err(error)) => Err(RelayError::Database(error)),
            }
        })
        .await
        .map_err(|e| (None, RelayError::Task(e)))?
        .map_err(|e| (None, e))?;
        let Some(last) = events.last().map(|e| e.position) else {
            self.metrics.pending.set(0);
            return Ok((lease, 0));
        };
        if let Err(error) = self.publish(channel, &events).await {
            return Err((Some(lease), error));
        }
        let relay = self.clone();
        let lease = tokio::task::spawn_blocking(move || {
            let mut lease = lease;
            diesel::sql_query(
                "UPDATE event_relay SET published_through = $2, updated_at = now() WHERE name = $1",
            )
            .bind::<Text, _>(relay.name)
            .bind::<BigInt, _>(last)
            .execute(&mut lease.conn)?;
            relay.outbox.published(&mut lease.conn, last)?;
            Ok::<_, diesel::result::Error>(Lease {
                mark: last,
                ..lease
            })
        })
        .await
        .map_err(|e| (None, RelayError::Task(e)))?
        .map_err(|e| (None, RelayError::Database(e)))?;
        let confirmed = Utc::now();
        for event in &events {
            let lag = (confirmed - event.occurred_at).to_std().unwrap_or_default();
            self.metrics.lag.observe(lag.as_secs_f64());
        }
        self.metrics.published.inc_by(events.len() as u64);
        let pending = self.metrics.pending.get() - events.len() as i64;
        self.metrics.pending.set(pending.max(0));
        Ok((lease, events.len()))
    }

    /// Publishes events in order and waits for every confirm.
    async fn publish(
        &self,
        channel: &mut Option<(Connection, Channel)>,
        events: &[Outgoing],
    ) -> Result<(), RelayError> {
        if channel
            .as_ref()
            .is_none_or(|(c, _)| !c.status().connected())
        {
            *channel = Some(self.connect().await?);
        }
        let Some((_, publisher)) = channel.as_ref() else {
            return Err(RelayError::Timeout);
        };
        // lapin queues a message's frames when its publish is first polled,
        // then waits until they are written. Awaiting one publish after the
        // other wrote each message on its own (a write, and a wake-up of the
        // I/O thread and of the broker, per message); polling every publish
        // in order queues the round's frames first, in feed order, and lets
        // the I/O thread write them together.
        let mut sends: Vec<_> = events
            .iter()
            .map(|event| {
                let properties = BasicProperties::default()
                    .with_delivery_mode(2)
                    .with_content_type("application/json".into())
                    .with_message_id(event.event_id.to_string().into())
                    .with_timestamp(event.occurred_at.timestamp().max(0) as u64);
                Box::pin(futures::future::maybe_done(publisher.basic_publish(
                    self.exchange.into(),
                    event.routing_key.as_str().into(),
                    BasicPublishOptions::default(),
                    &event.body,
                    properties,
                )))
            })
            .collect();
        // The first poll of each, in order, queues its frames.
        futures::future::poll_fn(|cx| {
            for send in &mut sends {
                let _ = send.as_mut().poll(cx);
            }
            std::task::Poll::Ready(())
        })
        .await;
        // Then wait until all are written (polling only those woken).
        futures::future::join_all(sends.iter_mut().map(|send| send.as_mut())).await;
        let mut confirms = Vec::with_capacity(events.len());
        for send in &mut sends {
            match send.as_mut().take_output() {
                Some(confirm) => confirms.push(confirm?),
                None => return Err(RelayError::NotConfirmed("a publish did not finish")),
            }
        }
        let all = futures::future::join_all(confirms);
        let confirmations = tokio::time::timeout(Duration::from_secs(30), all)
            .await
            .map_err(|_| RelayError::Timeout)?;
        for confirmation in confirmations {
            match confirmation? {
                Confirmation::Ack(_) => {}
                Confirmation::Nack(_) => return Err(RelayError::NotConfirmed("nack")),
                Confirmation::NotRequested => {
                    return Err(RelayError::NotConfirmed("confirms are off"))
                }
            }
        }
        Ok(())
    }

    /// A connection and a channel in confirm mode, the exchange declared.
    async fn connect(&self) -> Result<(Connection, Channel), RelayError> {
        let properties = ConnectionProperties::default()
            .with_connection_name(format!("{} event relay", self.name).into());
        let connection = tokio::time::timeout(
            Duration::from_secs(5),
            Connection::connect(&self.amqp_url, properties),
        )
        .await
        .map_err(|_| RelayError::Timeout)??;
        let channel = connection.create_channel().await?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await?;
        channel
            .exchange_declare(
                self.exchange.into(),
                ExchangeKind::Topic,
                ExchangeDeclareOptions {
                    durable: true,
                    ..ExchangeDeclareOptions::default()
                },
                FieldTable::default(),
            )
            .await?;
        tracing::info!(
            relay = self.name,
            exchange = self.exchange,
            "connected to RabbitMQ"
        );
        Ok((connection, channel))
    }
}

#[derive(QueryableByName)]
struct Held {
    #[diesel(sql_type = Bool)]
    held: bool,
}

#[derive(QueryableByName)]
struct Mark {
    #[diesel(sql_type = BigInt)]
    published_through: i64,
}

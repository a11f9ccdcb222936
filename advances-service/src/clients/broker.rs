//! RabbitMQ: the connection (re-established when it breaks), the topology,
//! and publishing payment jobs with publisher confirms.

use std::sync::Arc;
use std::time::Duration;

use lapin::options::{
    BasicPublishOptions, ConfirmSelectOptions, ExchangeDeclareOptions, QueueBindOptions,
    QueueDeclareOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{
    BasicProperties, Channel, Confirmation, Connection, ConnectionProperties, ExchangeKind,
};
use service_kit::trace::{TraceParent, TRACEPARENT};
use shared_types::advances::PaymentJob;
use tokio::sync::Mutex;

/// The exchange jobs are published to (direct, durable).
pub const EXCHANGE: &str = "advances";
/// The routing key that binds the payments queue to it.
pub const ROUTING_KEY: &str = "payments";
/// The durable quorum queue of payment jobs.
pub const QUEUE: &str = "advances.payments";
/// Where rejected (malformed) jobs go (fanout, durable).
pub const DEAD_EXCHANGE: &str = "advances.dead";
/// Where advances events go (topic, durable; the relay declares it).
pub const EVENTS_EXCHANGE: &str = "advances.events";
/// The dead-letter queue.
pub const DEAD_QUEUE: &str = "advances.payments.dead";

#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    #[error("RabbitMQ is unavailable: {0}")]
    Unavailable(#[from] lapin::Error),
    #[error("RabbitMQ did not take the message ({0})")]
    NotConfirmed(&'static str),
    #[error("RabbitMQ did not answer in time")]
    Timeout,
}

/// One connection per process, made on first use and again after it breaks.
pub struct Broker {
    url: String,
    name: String,
    connection: Mutex<Option<Arc<Connection>>>,
}

impl Broker {
    pub fn new(url: &str, name: &str) -> Self {
        Self {
            url: url.to_owned(),
            name: name.to_owned(),
            connection: Mutex::new(None),
        }
    }

    /// The live connection, connecting (and declaring the topology) if there is none.
    pub async fn connection(&self) -> Result<Arc<Connection>, BrokerError> {
        let mut slot = self.connection.lock().await;
        if let Some(connection) = slot.as_ref().filter(|c| c.status().connected()) {
            return Ok(connection.clone());
        }
        let properties =
            ConnectionProperties::default().with_connection_name(self.name.clone().into());
        let connection = tokio::time::timeout(
            Duration::from_secs(5),
            Connection::connect(&self.url, properties),
        )
        .await
        .map_err(|_| BrokerError::Timeout)??;
        let channel = connection.create_channel().await?;
        declare_topology(&channel).await?;
        let _ = channel.close(200, "topology declared".into()).await;
        let connection = Arc::new(connection);
        *slot = Some(connection.clone());
        tracing::info!("connected to RabbitMQ");
        Ok(connection)
    }

    /// Whether RabbitMQ can be reached now.
    pub async fn is_ready(&self) -> bool {
        matches!(
            tokio::time::timeout(Duration::from_secs(2), self.connection()).await,
            Ok(Ok(_))
        )
    }

    /// A channel in confirm mode, for publishing.
    pub async fn publisher(&self) -> Result<Channel, BrokerError> {
        let channel = self.connection().await?.create_channel().await?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await?;
        Ok(channel)
    }
}

fn quorum(arguments: &mut FieldTable) {
    arguments.insert(
        "x-queue-type".into(),
        AMQPValue::LongString("quorum".into()),
    );
}

/// Declares the exchanges and queues (idempotent). The payments queue is a
/// quorum queue so that it keeps working, replicated, on a cluster; rejected
/// messages are dead-lettered to `advances.payments.dead`.
pub async fn declare_topology(channel: &Channel) -> Result<(), lapin::Error> {
    let durable = ExchangeDeclareOptions {
        durable: true,
        ..ExchangeDeclareOptions::default()
    };
    channel
        .exchange_declare(
            EXCHANGE.into(),
            ExchangeKind::Direct,
            durable,
            FieldTable::default(),
        )
        .await?;
    channel
        .exchange_declare(
            DEAD_EXCHANGE.into(),
            ExchangeKind::Fanout,
            durable,
            FieldTable::default(),
        )
        .await?;
    let mut dead_arguments = FieldTable::default();
    quorum(&mut dead_arguments);
    channel
        .queue_declare(
            DEAD_QUEUE.into(),
            QueueDeclareOptions::durable(),
            dead_arguments,
        )
        .await?;
    channel
        .queue_bind(
            DEAD_QUEUE.into(),
            DEAD_EXCHANGE.into(),
            "".into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await?;
    let mut arguments = FieldTable::default();
    quorum(&mut arguments);
    arguments.insert(
        "x-dead-letter-exchange".into(),
        AMQPValue::LongString(DEAD_EXCHANGE.into()),
    );
    channel
        .queue_declare(QUEUE.into(), QueueDeclareOptions::durable(), arguments)
        .await?;
    channel
        .queue_bind(
            QUEUE.into(),
            EXCHANGE.into(),
            ROUTING_KEY.into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await?;
    Ok(())
}

/// Publishes a persistent job, with its trace context as the AMQP header
/// `traceparent` when there is one, and waits for the broker's confirm.
pub async fn publish(
    channel: &Channel,
    job: &PaymentJob,
    trace: Option<&TraceParent>,
) -> Result<(), BrokerError> {
    let payload = serde_json::to_vec(job).unwrap_or_default();
    send(channel, &payload, trace).await
}

/// Publishes a body as it is (a dead letter replayed) to the payments queue,
/// persistent, and waits for the broker's confirm.
pub async fn publish_raw(channel: &Channel, payload: &[u8]) -> Result<(), BrokerError> {
    send(channel, payload, None).await
}

/// The trace context a job carries, if it carries a valid one.
pub fn trace_of(properties: &BasicProperties) -> Option<TraceParent> {
    match properties.headers().as_ref()?.inner().get(TRACEPARENT)? {
        AMQPValue::LongString(value) => std::str::from_utf8(value.as_bytes())
            .ok()
            .and_then(TraceParent::parse),
        AMQPValue::ShortString(value) => TraceParent::parse(value.as_str()),
        _ => None,
    }
}

async fn send(
    channel: &Channel,
    payload: &[u8],
    trace: Option<&TraceParent>,
) -> Result<(), BrokerError> {
    let mut properties = BasicProperties::default()
        .with_delivery_mode(2)
        .with_content_type("application/json".into());
    if let Some(trace) = trace {
        let mut headers = FieldTable::default();
        headers.insert(
            TRACEPARENT.into(),
            AMQPValue::LongString(trace.as_str().into()),
        );
        properties = properties.with_headers(headers);
    }
    let confirm = channel
        .basic_publish(
            EXCHANGE.into(),
            ROUTING_KEY.into(),
            BasicPublishOptions::default(),
            payload,
            properties,
        )
        .await?;
    match tokio::time::timeout(Duration::from_secs(10), confirm).await {
        Err(_) => Err(BrokerError::Timeout),
        Ok(confirmation) => match confirmation? {
            Confirmation::Ack(_) => Ok(()),
            Confirmation::Nack(_) => Err(BrokerError::NotConfirmed("nack")),
            Confirmation::NotRequested => Err(BrokerError::NotConfirmed("confirms are off")),
        },
    }
}

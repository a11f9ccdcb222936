//! Fresh, throw-away resources for tests on the machine's real Postgres and
//! RabbitMQ: each test gets its own database and vhost, so tests run in
//! parallel and in any order, and everything is dropped afterwards. And the
//! helpers the tests of every crate share: reading answers, querying a test
//! database, the audit assertion, settings for a service under test.
#![allow(clippy::expect_used)] // a test resource that cannot be made should stop the test

use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};

use diesel::pg::PgConnection;
use diesel::sql_types::{BigInt, Numeric, Text};
use diesel::{Connection, QueryableByName, RunQueryDsl};
use lapin::options::{
    BasicGetOptions, BasicPublishOptions, ConfirmSelectOptions, ExchangeDeclareOptions,
    QueueBindOptions, QueueDeclareOptions,
};
use lapin::types::FieldTable;
use lapin::{BasicProperties, ConnectionProperties};
use reqwest::StatusCode;
use rust_decimal::Decimal;
use serde_json::Value;
use shared_types::accounts::AuditReport;
use shared_types::advances::{AdvanceId, PaymentId, PaymentJob};

/// An HTTP client for tests. reqwest is built here without a default TLS
/// crypto provider (advances-service installs ring), so one is installed first.
pub fn http_client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .build()
        .expect("an HTTP client")
}

/// Polls `check` every 100 ms until it holds; fails the test naming `what`
/// once `deadline` has passed. Tests wait for work this way, never by sleeping.
pub async fn eventually<F, Fut>(what: &str, deadline: std::time::Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = std::time::Instant::now();
    while !check().await {
        assert!(
            started.elapsed() < deadline,
            "timed out waiting for: {what}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// A loopback port nothing listens on (yet).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free loopback port")
        .port()
}

/// An answer's status and JSON body; a body that is not JSON fails the test.
pub async fn read(response: reqwest::Response) -> (StatusCode, Value) {
    let status = response.status();
    let text = response.text().await.expect("the answer's body");
    let body = serde_json::from_str(&text)
        .unwrap_or_else(|_| panic!("a JSON body, got {status} {text:?}"));
    (status, body)
}

/// Asserts accounts-manager's double-entry audit is clean: every currency
/// sums to zero, no user account is below zero, no balance differs from its
/// entries.
pub fn assert_audit_clean(report: &AuditReport) {
    for currency in &report.currencies {
        assert_eq!(currency.total, Decimal::ZERO, "{report:?}");
        assert_eq!(currency.negative_accounts, 0, "{report:?}");
        assert_eq!(currency.entry_mismatches, 0, "{report:?}");
    }
    if let Some(recount) = &report.recount {
        assert_eq!(recount.entry_mismatches, 0, "{report:?}");
    }
}

/// The body of a payment job, as a producer publishes it (ids that are not
/// UUIDs fail the test; malformed bodies are written by hand).
pub fn payment_job(payment_id: &str, advance_id: &str) -> Vec<u8> {
    let id = |text: &str| uuid::Uuid::parse_str(text).expect("a UUID");
    serde_json::to_vec(&PaymentJob {
        payment_id: PaymentId(id(payment_id)),
        advance_id: AdvanceId(id(advance_id)),
    })
    .expect("a job serializes")
}

/// The settings of a service under test, as the environment variables it
/// reads: `Settings::from_lookup(|name| env.get(name))`, or a process's
/// environment.
#[derive(Debug, Clone, Default)]
pub struct Env(Vec<(String, String)>);

impl Env {
    /// Sets `name`, replacing an earlier value.
    pub fn set(mut self, name: &str, value: impl Into<String>) -> Self {
        self.0.retain(|(n, _)| n != name);
        self.0.push((name.to_owned(), value.into()));
        self
    }

    pub fn get(&self, name: &str) -> Option<String> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, value)| value.clone())
    }

    pub fn vars(&self) -> &[(String, String)] {
        &self.0
    }
}

/// accounts-manager on `db`, any port, accepting `api_tokens`.
pub fn accounts_manager_env(db: &TestDb, api_tokens: &str) -> Env {
    Env::default()
        .set("DATABASE_URL", db.url())
        .set("BIND_ADDR", "127.0.0.1:0")
        .set("API_TOKENS", api_tokens)
        .set("DATABASE_POOL_SIZE", "4")
        .set("HTTP_WORKERS", "2")
}

#[derive(QueryableByName)]
struct Number {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[derive(QueryableByName)]
struct Sum {
    #[diesel(sql_type = Numeric)]
    s: Decimal,
}

#[derive(QueryableByName)]
struct Word {
    #[diesel(sql_type = Text)]
    t: String,
}

/// The Postgres server the tests create their databases on
/// (`TEST_DATABASE_ADMIN_URL`, default the local one, without TLS).
///
/// Why without TLS by default: libpq's TLS is OpenSSL, whose clean-up at
/// process exit runs while the threads of the servers a test left running
/// may still use a connection, and crashed a test binary after all its tests
/// had passed (SIGSEGV in libcrypto.so.3, seen in CI). A test over the
/// loopback gains nothing from TLS.
pub fn admin_url() -> String {
    std::env::var("TEST_DATABASE_ADMIN_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable".into())
}

fn unique(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    format!(
        "{prefix}_{}_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed),
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    )
}

/// A database that exists for one test and is dropped after it.
pub struct TestDb {
    pub name: String,
}

impl TestDb {
    pub fn create(prefix: &str) -> Self {
        let name = unique(prefix);
        let mut admin =
            PgConnection::establish(&admin_url()).expect("the test Postgres server is reachable");
        diesel::sql_query(format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .expect("create the test database");
        Self { name }
    }

    /// The database's URL: the admin URL's server and parameters, this
    /// database.
    pub fn url(&self) -> String {
        let admin = admin_url();
        let (address, parameters) = admin
            .split_once('?')
            .map_or((admin.as_str(), None), |(address, query)| {
                (address, Some(query))
            });
        let base = address.rsplit_once('/').map_or(address, |(base, _)| base);
        match parameters {
            Some(parameters) => format!("{base}/{}?{parameters}", self.name),
            None => format!("{base}/{}", self.name),
        }
    }

    pub fn connect(&self) -> PgConnection {
        PgConnection::establish(&self.url()).expect("connect to the test database")
    }

    /// Runs `work` on a connection of its own in a blocking task.
    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut PgConnection) -> T + Send + 'static,
    ) -> T {
        let url = self.url();
        tokio::task::spawn_blocking(move || {
            let mut conn = PgConnection::establish(&url).expect("connect to the test database");
            work(&mut conn)
        })
        .await
        .expect("the query task finishes")
    }

    /// The number a `SELECT <bigint> AS n ...` returns.
    pub async fn number(&self, sql: &str) -> i64 {
        let sql = sql.to_owned();
        self.blocking(move |conn| {
            diesel::sql_query(&sql)
                .get_result::<Number>(conn)
                .unwrap_or_else(|e| panic!("{sql}: {e}"))
                .n
        })
        .await
    }

    /// The amount a `SELECT <numeric> AS s ...` returns.
    pub async fn decimal(&self, sql: &str) -> Decimal {
        let sql = sql.to_owned();
        self.blocking(move |conn| {
            diesel::sql_query(&sql)
                .get_result::<Sum>(conn)
                .unwrap_or_else(|e| panic!("{sql}: {e}"))
                .s
        })
        .await
    }

    /// The text a `SELECT <text> AS t ...` returns.
    pub async fn text(&self, sql: &str) -> String {
        let sql = sql.to_owned();
        self.blocking(move |conn| {
            diesel::sql_query(&sql)
                .get_result::<Word>(conn)
                .unwrap_or_else(|e| panic!("{sql}: {e}"))
                .t
        })
        .await
    }

    /// Runs a statement; the number of rows it touched.
    pub async fn execute(&self, sql: &str) -> usize {
        let sql = sql.to_owned();
        self.blocking(move |conn| {
            diesel::sql_query(&sql)
                .execute(conn)
                .unwrap_or_else(|e| panic!("{sql}: {e}"))
        })
        .await
    }

    /// Drops the database now, cutting off every connection to it.
    pub fn drop_now(&self) {
        if let Ok(mut admin) = PgConnection::establish(&admin_url()) {
            let _ = diesel::sql_query(format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .execute(&mut admin);
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        self.drop_now();
    }
}

/// A message taken from a queue.
#[derive(Debug, Clone)]
pub struct Message {
    pub routing_key: String,
    pub message_id: Option<String>,
    /// Delivery mode 2.
    pub persistent: bool,
    pub body: Value,
}

/// A RabbitMQ vhost for one test (made with `rabbitmqctl`), deleted after it.
pub struct TestVhost {
    pub name: String,
}

fn rabbitmqctl(args: &[&str]) -> bool {
    Command::new("rabbitmqctl")
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

impl TestVhost {
    pub fn create() -> Self {
        let name = unique("adv_test");
        assert!(
            rabbitmqctl(&["add_vhost", &name]),
            "rabbitmqctl add_vhost {name} failed"
        );
        assert!(
            rabbitmqctl(&["set_permissions", "-p", &name, "guest", ".*", ".*", ".*"]),
            "rabbitmqctl set_permissions on {name} failed"
        );
        Self { name }
    }

    /// Takes away the client user's access: a broker that is away, for
    /// anyone connecting from now on (queues and bindings stay).
    pub fn lock_out(&self) {
        assert!(
            rabbitmqctl(&["clear_permissions", "-p", &self.name, "guest"]),
            "rabbitmqctl clear_permissions on {} failed",
            self.name
        );
    }

    /// Gives the access back: the broker is back.
    pub fn let_in(&self) {
        assert!(
            rabbitmqctl(&[
                "set_permissions",
                "-p",
                &self.name,
                "guest",
                ".*",
                ".*",
                ".*"
            ]),
            "rabbitmqctl set_permissions on {} failed",
            self.name
        );
    }

    /// Closes every client connection to the vhost, as a broker restart would.
    pub async fn close_connections(&self) {
        let name = self.name.clone();
        let closed = tokio::task::spawn_blocking(move || {
            rabbitmqctl(&["close_all_connections", "--vhost", &name, "test fault"])
        })
        .await
        .expect("rabbitmqctl ran");
        assert!(
            closed,
            "rabbitmqctl close_all_connections on {} failed",
            self.name
        );
    }

    pub fn amqp_url(&self) -> String {
        format!("amqp://guest:guest@127.0.0.1:5672/{}", self.name)
    }

    async fn channel(&self) -> (lapin::Connection, lapin::Channel) {
        let connection =
            lapin::Connection::connect(&self.amqp_url(), ConnectionProperties::default())
                .await
                .expect("connect to the test vhost");
        let channel = connection
            .create_channel()
            .await
            .expect("a channel on the test vhost");
        (connection, channel)
    }

    /// Publishes persistent messages with these bodies, each confirmed by
    /// the broker, as an outside producer would (`""` is the default exchange,
    /// whose routing keys are queue names).
    pub async fn publish(&self, exchange: &str, routing_key: &str, bodies: &[Vec<u8>]) {
        let (connection, channel) = self.channel().await;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await
            .expect("confirms");
        for body in bodies {
            channel
                .basic_publish(
                    exchange.into(),
                    routing_key.into(),
                    BasicPublishOptions::default(),
                    body,
                    BasicProperties::default().with_delivery_mode(2),
                )
                .await
                .expect("publish")
                .await
                .expect("the broker confirms");
        }
        let _ = connection.close(200, "published".into()).await;
    }

    /// Declares a durable topic exchange (as its publisher does) and a
    /// durable queue bound to it with `#`, which keeps every message
    /// published from then on.
    pub async fn bind_all(&self, exchange: &str, queue: &str) {
        let (connection, channel) = self.channel().await;
        channel
            .exchange_declare(
                exchange.into(),
                lapin::ExchangeKind::Topic,
                ExchangeDeclareOptions {
                    durable: true,
                    ..ExchangeDeclareOptions::default()
                },
                FieldTable::default(),
            )
            .await
            .expect("declare the exchange");
        channel
            .queue_declare(
                queue.into(),
                QueueDeclareOptions::durable(),
                FieldTable::default(),
            )
            .await
            .expect("declare the queue");
        channel
            .queue_bind(
                queue.into(),
                exchange.into(),
                "#".into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await
            .expect("bind the queue");
        let _ = connection.close(200, "bound".into()).await;
    }

    /// Takes every message waiting in a queue (acknowledged), in order.
    pub async fn drain(&self, queue: &str) -> Vec<Message> {
        let (connection, channel) = self.channel().await;
        let mut messages = Vec::new();
        while let Some(message) = channel
            .basic_get(queue.into(), BasicGetOptions { no_ack: true })
            .await
            .expect("basic.get")
        {
            let delivery = message.delivery;
            messages.push(Message {
                routing_key: delivery.routing_key.to_string(),
                message_id: delivery
                    .properties
                    .message_id()
                    .as_ref()
                    .map(|id| id.to_string()),
                persistent: delivery.properties.delivery_mode() == &Some(2),
                body: serde_json::from_slice(&delivery.data).expect("a JSON message"),
            });
        }
        let _ = connection.close(200, "drained".into()).await;
        messages
    }

    /// `(messages ready, consumers)` of a queue that exists.
    pub async fn queue(&self, queue: &str) -> (u32, u32) {
        let (connection, channel) = self.channel().await;
        let passive = QueueDeclareOptions {
            passive: true,
            ..QueueDeclareOptions::default()
        };
        let state = channel
            .queue_declare(queue.into(), passive, FieldTable::default())
            .await
            .unwrap_or_else(|e| panic!("queue {queue}: {e}"));
        let _ = connection.close(200, "looked".into()).await;
        (state.message_count(), state.consumer_count())
    }

    /// Messages waiting in a queue that exists.
    pub async fn queue_depth(&self, queue: &str) -> u32 {
        self.queue(queue).await.0
    }
}

impl Drop for TestVhost {
    fn drop(&mut self) {
        // Deleting takes a second; nothing waits for it.
        let _ = Command::new("rabbitmqctl")
            .args(["delete_vhost", &self.name])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
    }
}

/// `text` as one value of a query string: unreserved characters as they are,
/// every other byte percent-encoded.
pub fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'0'..=b'9' | b'a'..=b'z' | b'A'..=b'Z' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

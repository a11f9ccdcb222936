//! Fresh, throw-away resources for tests on the machine's real Postgres and
//! RabbitMQ: each test gets its own database and vhost, so tests run in
//! parallel and in any order, and everything is dropped afterwards.
#![allow(clippy::expect_used)] // a test resource that cannot be made should stop the test

use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};

use diesel::pg::PgConnection;
use diesel::{Connection, RunQueryDsl};

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

/// The Postgres server the tests create their databases on
/// (`TEST_DATABASE_ADMIN_URL`, default the local one).
pub fn admin_url() -> String {
    std::env::var("TEST_DATABASE_ADMIN_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
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

    pub fn url(&self) -> String {
        let admin = admin_url();
        let base = admin
            .rsplit_once('/')
            .map_or(admin.as_str(), |(base, _)| base);
        format!("{base}/{}", self.name)
    }

    pub fn connect(&self) -> PgConnection {
        PgConnection::establish(&self.url()).expect("connect to the test database")
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

    pub fn amqp_url(&self) -> String {
        format!("amqp://guest:guest@127.0.0.1:5672/{}", self.name)
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

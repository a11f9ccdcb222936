//! Runs the real binaries as processes against fresh databases and a fresh
//! RabbitMQ vhost, and lets tests kill, stop and restart them.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a harness that cannot do its job should stop the test

use std::cell::RefCell;
use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Once};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::Value;
pub use test_support::{eventually, read, TestDb, TestVhost};
use tokio::sync::RwLock;

pub const TOKEN: &str = "e2e-token";

/// Tests that restart the machine's Postgres or RabbitMQ take this for
/// writing; every other test holds it for reading, so none sees the restart.
pub static MACHINE: RwLock<()> = RwLock::const_new(());

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| workspace().join("target"), PathBuf::from)
}

/// The path of a service binary, built first if it is not there.
pub fn binary(name: &str) -> PathBuf {
    static BUILD: Once = Once::new();
    let path = target_dir().join("debug").join(name);
    BUILD.call_once(|| {
        let status = Command::new(env!("CARGO"))
            .args([
                "build",
                "--bin",
                "accounts-manager",
                "--bin",
                "advances-service",
            ])
            .current_dir(workspace())
            .status()
            .expect("cargo runs");
        assert!(status.success(), "building the service binaries failed");
    });
    path
}

/// One service process, with what it takes to start it again.
pub struct Process {
    pub name: String,
    binary: PathBuf,
    env: Vec<(String, String)>,
    pub port: u16,
    child: Option<Child>,
    log: PathBuf,
    starts: u32,
}

impl Process {
    pub fn start(name: &str, binary_name: &str, env: &[(&str, String)]) -> Self {
        let port = test_support::free_port();
        let mut env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect();
        env.push(("BIND_ADDR".into(), format!("127.0.0.1:{port}")));
        env.push(("HTTP_WORKERS".into(), "2".into()));
        env.push(("RUST_LOG".into(), "info".into()));
        let logs = target_dir().join("e2e-logs");
        std::fs::create_dir_all(&logs).unwrap();
        let mut process = Self {
            name: name.to_owned(),
            binary: binary(binary_name),
            env,
            port,
            child: None,
            log: logs.join(format!("{name}-{}.log", uuid::Uuid::new_v4().simple())),
            starts: 0,
        };
        process.spawn();
        process
    }

    fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let child = Command::new(&self.binary)
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env_remove("DATABASE_POOL_SIZE")
            .env("DATABASE_POOL_SIZE", "6")
            .stdout(Stdio::from(log.try_clone().unwrap()))
            .stderr(Stdio::from(log))
            .spawn()
            .expect("the service starts");
        self.child = Some(child);
        self.starts += 1;
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Waits until `/readyz` answers 200.
    pub async fn ready(&self) {
        let client = test_support::http_client();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(response) = client.get(format!("{}/readyz", self.url())).send().await {
                if response.status() == StatusCode::OK {
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "{} did not become ready; its log:\n{}",
                self.name,
                self.log_tail()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// How often `needle` occurs in the process's log (JSON lines), over
    /// all its starts: a test waits for it to grow to know work happened.
    pub fn logged(&self, needle: &str) -> usize {
        self.log().matches(needle).count()
    }

    /// SIGKILL: no chance to finish anything.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM, then waits for the process to exit.
    pub fn terminate(&mut self) -> Option<ExitStatus> {
        let mut child = self.child.take()?;
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return Some(status);
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                return child.wait().ok();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGTERM, as [`Process::terminate`], waited for off the async runtime:
    /// asserts that the process exits 0 and that its log has each of
    /// `logged`, and gives it back (for its log, or a restart).
    pub async fn stop_cleanly(mut self, logged: &[&str]) -> Self {
        let (status, process) = tokio::task::spawn_blocking(move || (self.terminate(), self))
            .await
            .unwrap();
        assert!(
            status.is_some_and(|s| s.success()),
            "{} exits 0 on SIGTERM: {status:?}\n{}",
            process.name,
            process.log_tail()
        );
        let log = process.log();
        for line in logged {
            assert!(
                log.contains(line),
                "{} did not log {line}:\n{}",
                process.name,
                process.log_tail()
            );
        }
        process
    }

    /// Starts it again with the same settings and port.
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The databases and the vhost of one test, and the settings that point the
/// services at them.
const LEDGER_EVENTS: &str = "ledger.events";
const ADVANCES_EVENTS: &str = "advances.events";
const LEDGER_EVENTS_QUEUE: &str = "e2e-ledger-events";
const ADVANCES_EVENTS_QUEUE: &str = "e2e-advances-events";

pub struct Environment {
    pub am_db: Arc<TestDb>,
    pub adv_db: Arc<TestDb>,
    pub vhost: Arc<TestVhost>,
    pub client: reqwest::Client,
}

impl Environment {
    pub async fn new() -> Self {
        let (am_db, adv_db, vhost) = tokio::task::spawn_blocking(|| {
            (
                TestDb::create("e2e_am"),
                TestDb::create("e2e_adv"),
                TestVhost::create(),
            )
        })
        .await
        .unwrap();
        Self {
            am_db: Arc::new(am_db),
            adv_db: Arc::new(adv_db),
            vhost: Arc::new(vhost),
            client: test_support::http_client(),
        }
    }

    /// Queues that keep every event both services publish; bind them
    /// before the services start.
    pub async fn bind_event_queues(&self) {
        self.vhost
            .bind_all(LEDGER_EVENTS, LEDGER_EVENTS_QUEUE)
            .await;
        self.vhost
            .bind_all(ADVANCES_EVENTS, ADVANCES_EVENTS_QUEUE)
            .await;
    }

    /// Every committed ledger transaction's event reached `ledger.events`, and
    /// every change of every advance `advances.events`, whatever was killed and
    /// cut off on the way: counted by event id, duplicates allowed.
    pub async fn assert_every_event_published(&self) {
        let env = self;
        let ledger: BTreeSet<String> = env
            .am_db
            .text("SELECT coalesce(string_agg(id::text, ','), '') AS t FROM transactions")
            .await
            .split(',')
            .map(str::to_owned)
            .collect();
        let received: RefCell<HashMap<String, String>> = RefCell::default();
        eventually(
            "every ledger event is published",
            Duration::from_secs(60),
            || async {
                let messages = env.vhost.drain(LEDGER_EVENTS_QUEUE).await;
                let mut received = received.borrow_mut();
                for message in messages {
                    let transaction = message.body["data"]["transaction_id"].as_str().unwrap();
                    received.insert(
                        message.body["event_id"].as_str().unwrap().to_owned(),
                        transaction.to_owned(),
                    );
                }
                received.values().cloned().collect::<BTreeSet<_>>() == ledger
            },
        )
        .await;
        assert_eq!(
            received.borrow().len(),
            ledger.len(),
            "one event id per transaction"
        );

        // advances: one event per change, each a row of the outbox until confirmed.
        let expected = |sql: &'static str| env.adv_db.number(sql);
        let paid = expected("SELECT count(*) AS n FROM payments WHERE status = 'paid'").await;
        let failed = expected("SELECT count(*) AS n FROM payments WHERE status = 'failed'").await;
        let advances = expected("SELECT count(*) AS n FROM advances").await;
        let by_type: RefCell<HashMap<String, BTreeSet<String>>> = RefCell::default();
        eventually(
            "every advances event is published",
            Duration::from_secs(60),
            || async {
                let messages = env.vhost.drain(ADVANCES_EVENTS_QUEUE).await;
                let mut by_type = by_type.borrow_mut();
                for message in messages {
                    by_type
                        .entry(message.routing_key.clone())
                        .or_default()
                        .insert(message.body["event_id"].as_str().unwrap().to_owned());
                }
                let count = |t: &str| by_type.get(t).map_or(0, BTreeSet::len) as i64;
                count("advance.created") == advances
                    && count("advance.active") == advances
                    && count("advance.repaid") == advances
                    && count("payment.paid") == paid
                    && count("payment.failed") == failed
            },
        )
        .await;
        assert_eq!(
            env.adv_db.number("SELECT count(*) AS n FROM events").await,
            0,
            "the outbox holds nothing once confirmed"
        );
    }

    pub fn accounts_manager(&self, name: &str) -> Process {
        self.accounts_manager_with(name, &[])
    }

    /// accounts-manager with some settings added.
    pub fn accounts_manager_with(&self, name: &str, extra: &[(&str, &str)]) -> Process {
        let mut env = test_support::accounts_manager_env(&self.am_db, TOKEN);
        for (key, value) in extra {
            env = env.set(key, *value);
        }
        let env: Vec<(&str, String)> = env
            .vars()
            .iter()
            .map(|(name, value)| (name.as_str(), value.clone()))
            .collect();
        Process::start(name, "accounts-manager", &env)
    }

    /// advances-service with `roles`, talking to accounts-manager at `accounts_url`.
    pub fn advances(
        &self,
        name: &str,
        roles: &str,
        accounts_url: &str,
        extra: &[(&str, &str)],
    ) -> Process {
        let mut env = vec![
            ("DATABASE_URL", self.adv_db.url()),
            ("API_TOKENS", TOKEN.to_owned()),
            ("AMQP_URL", self.vhost.amqp_url()),
            ("ACCOUNTS_URL", accounts_url.to_owned()),
            ("ACCOUNTS_TOKEN", TOKEN.to_owned()),
            ("ROLES", roles.to_owned()),
            ("INSTALLMENT_INTERVAL", "1s".to_owned()),
            ("SCHEDULER_INTERVAL", "200ms".to_owned()),
            ("PAYMENT_LEASE", "3s".to_owned()),
            ("REPUBLISH_AFTER", "5s".to_owned()),
            ("ACCOUNTS_TIMEOUT", "2s".to_owned()),
            ("RECONCILE_INTERVAL", "1h".to_owned()),
        ];
        for (k, v) in extra {
            env.retain(|(key, _)| key != k);
            env.push((k, (*v).to_owned()));
        }
        Process::start(name, "advances-service", &env)
    }

    pub async fn post(&self, url: &str, body: Value) -> (StatusCode, Value) {
        read(
            self.client
                .post(url)
                .bearer_auth(TOKEN)
                .json(&body)
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    pub async fn get(&self, url: &str) -> (StatusCode, Value) {
        read(
            self.client
                .get(url)
                .bearer_auth(TOKEN)
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    /// accounts-manager at `am`, through its typed client.
    pub fn accounts(&self, am: &Process) -> accounts_client::Client {
        accounts_client::Client::new(&am.url(), TOKEN).unwrap()
    }

    /// Asserts accounts-manager's double-entry audit is clean.
    pub async fn assert_audit_clean(&self, am: &Process) {
        test_support::assert_audit_clean(&self.accounts(am).audit().await.unwrap());
    }
}

/// Runs `rabbitmqctl` with these arguments.
pub fn rabbitmqctl(args: &[&str]) -> bool {
    Command::new("rabbitmqctl")
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

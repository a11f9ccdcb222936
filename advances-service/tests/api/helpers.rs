//! Starts accounts-manager and advances-service in-process on fresh databases
//! and a fresh vhost, and talks to both over HTTP and to RabbitMQ with lapin.

use std::sync::Arc;
use std::time::{Duration, Instant};

use accounts_client::HistoryQuery;
use advances_service::clients::broker;
use lapin::{Connection, ConnectionProperties};
use reqwest::StatusCode;
use rust_decimal::Decimal;
use serde_json::{json, Value};
use shared_types::accounts::{
    AccountId, DepositRequest, OpenAccountRequest, Transaction, WithdrawalRequest,
};
pub use test_support::{free_port, read};
use test_support::{TestDb, TestVhost};

pub const TOKEN: &str = "adv-token";
pub const AM_TOKEN: &str = "am-token";

/// How a test wants the advances-service processes set up.
#[derive(Clone)]
pub struct Options {
    pub roles: &'static str,
    pub installment_interval: &'static str,
    pub scheduler_interval: &'static str,
    pub payment_lease: &'static str,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            roles: "api,scheduler,worker",
            installment_interval: "1s",
            scheduler_interval: "100ms",
            payment_lease: "2s",
        }
    }
}

pub struct AccountsManager {
    pub address: String,
    pub db: Arc<TestDb>,
    pub handle: actix_web::dev::ServerHandle,
}

/// Starts accounts-manager on `addr` (`127.0.0.1:0` for any port) on `db`.
pub async fn start_accounts_manager(db: Arc<TestDb>, addr: &str) -> AccountsManager {
    let env = test_support::accounts_manager_env(&db, AM_TOKEN).set("BIND_ADDR", addr);
    let settings = accounts_manager::Settings::from_lookup(|name| env.get(name)).unwrap();
    let app = accounts_manager::Application::build(settings)
        .await
        .expect("accounts-manager starts");
    let address = format!("http://127.0.0.1:{}", app.port());
    let handle = app.handle();
    tokio::spawn(app.run_until_stopped());
    AccountsManager {
        address,
        db,
        handle,
    }
}

pub struct Advances {
    pub address: String,
}

pub struct TestSystem {
    pub am: AccountsManager,
    pub db: Arc<TestDb>,
    pub vhost: Arc<TestVhost>,
    pub client: reqwest::Client,
    /// accounts-manager, through its typed client.
    pub accounts: accounts_client::Client,
    /// Where advances-service finds accounts-manager.
    pub accounts_url: String,
    pub advances: Advances,
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f).await.unwrap()
}

/// accounts-manager and one advances-service process with `options`.
pub async fn spawn_system(options: Options) -> TestSystem {
    let am_db = Arc::new(blocking(|| TestDb::create("am_test")).await);
    let am = start_accounts_manager(am_db, "127.0.0.1:0").await;
    let accounts_url = am.address.clone();
    spawn_system_with(am, accounts_url, options).await
}

/// As `spawn_system`, but advances-service calls accounts-manager at `accounts_url`.
pub async fn spawn_system_with(
    am: AccountsManager,
    accounts_url: String,
    options: Options,
) -> TestSystem {
    let db = Arc::new(blocking(|| TestDb::create("adv_test")).await);
    let vhost = Arc::new(blocking(TestVhost::create).await);
    let advances = start_advances(&db, &vhost, &accounts_url, options).await;
    let accounts = accounts_client::Client::new(&am.address, AM_TOKEN).unwrap();
    TestSystem {
        accounts,
        am,
        db,
        vhost,
        client: test_support::http_client(),
        accounts_url,
        advances,
    }
}

/// One more advances-service process on the same database and vhost.
pub async fn start_advances(
    db: &TestDb,
    vhost: &TestVhost,
    accounts_url: &str,
    options: Options,
) -> Advances {
    let (url, amqp, accounts) = (db.url(), vhost.amqp_url(), accounts_url.to_owned());
    let settings = advances_service::Settings::from_lookup(|name| match name {
        "DATABASE_URL" => Some(url.clone()),
        "BIND_ADDR" => Some("127.0.0.1:0".into()),
        "API_TOKENS" => Some(TOKEN.into()),
        "AMQP_URL" => Some(amqp.clone()),
        "ACCOUNTS_URL" => Some(accounts.clone()),
        "ACCOUNTS_TOKEN" => Some(AM_TOKEN.into()),
        "INSTALLMENT_INTERVAL" => Some(options.installment_interval.into()),
        "SCHEDULER_INTERVAL" => Some(options.scheduler_interval.into()),
        "RECONCILE_INTERVAL" => Some("1h".into()),
        "ROLES" => Some(options.roles.into()),
        "PAYMENT_LEASE" => Some(options.payment_lease.into()),
        "REPUBLISH_AFTER" => Some("3s".into()),
        "DATABASE_POOL_SIZE" => Some("5".into()),
        "HTTP_WORKERS" => Some("1".into()),
        "ACCOUNTS_TIMEOUT" => Some("2s".into()),
        _ => None,
    })
    .unwrap();
    let app = advances_service::Application::build(settings)
        .await
        .expect("advances-service starts");
    let address = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    Advances { address }
}

impl TestSystem {
    pub fn post(&self, path: &str) -> reqwest::RequestBuilder {
        self.client
            .post(format!("{}{path}", self.advances.address))
            .bearer_auth(TOKEN)
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        read(
            self.client
                .get(format!("{}{path}", self.advances.address))
                .bearer_auth(TOKEN)
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    pub async fn create_advance(
        &self,
        account: &AccountId,
        amount: &str,
        installments: i64,
    ) -> (StatusCode, Value) {
        let body = json!({"account_id": account, "amount": amount, "installments": installments});
        read(
            self.post("/api/v1/advances")
                .json(&body)
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    pub async fn advance(&self, id: &str) -> Value {
        let (status, body) = self.get(&format!("/api/v1/advances/{id}")).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }

    /// Polls the advance until `done` holds, or fails after `deadline`.
    pub async fn wait_for(
        &self,
        id: &str,
        deadline: Duration,
        done: impl Fn(&Value) -> bool,
    ) -> Value {
        let started = Instant::now();
        loop {
            let advance = self.advance(id).await;
            if done(&advance) {
                return advance;
            }
            assert!(
                started.elapsed() < deadline,
                "gave up waiting; the advance is {advance:#}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn open_account(&self, user: i64) -> AccountId {
        self.accounts
            .open_account(&OpenAccountRequest::new(user), None)
            .await
            .unwrap()
            .account_id
    }

    pub async fn deposit(&self, account: &AccountId, amount: &str) {
        self.accounts
            .deposit(&DepositRequest::to_account(*account, amount), None)
            .await
            .unwrap();
    }

    pub async fn withdraw(&self, account: &AccountId, amount: &str) {
        self.accounts
            .withdraw(&WithdrawalRequest::new(*account, amount), None)
            .await
            .unwrap();
    }

    pub async fn balance(&self, account: &AccountId) -> Decimal {
        self.accounts.account(*account).await.unwrap().balance
    }

    /// The account's history in accounts-manager, newest first.
    pub async fn history(&self, account: &AccountId) -> Vec<Transaction> {
        let query = HistoryQuery {
            limit: Some(1000),
            ..HistoryQuery::default()
        };
        self.accounts.history(*account, &query).await.unwrap().items
    }

    /// accounts-manager's successful withdrawals whose reference starts with `prefix`: (count, sum).
    pub async fn collected(&self, prefix: &str) -> (i64, Decimal) {
        let filter = format!(
            "FROM transactions WHERE kind = 'withdrawal' AND status = 'success' AND reference LIKE '{prefix}%'"
        );
        let db = &self.am.db;
        (
            db.number(&format!("SELECT count(*) AS n {filter}")).await,
            db.decimal(&format!("SELECT COALESCE(sum(amount), 0) AS s {filter}"))
                .await,
        )
    }

    pub async fn assert_ledger_audit_clean(&self) {
        test_support::assert_audit_clean(&self.accounts.audit().await.unwrap());
    }

    /// Runs SQL on advances-service's database.
    pub async fn sql(&self, statement: &str) -> usize {
        self.db.execute(statement).await
    }

    pub async fn count(&self, query: &str) -> i64 {
        self.db.number(query).await
    }

    pub async fn reconcile(&self) -> Value {
        let (status, body) = read(
            self.post("/api/v1/admin/reconciliation")
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }

    /// Publishes raw bodies to the payments exchange, as an outside producer
    /// would (declaring the topology first, as the service does).
    pub async fn publish_raw(&self, bodies: &[Vec<u8>]) {
        let connection =
            Connection::connect(&self.vhost.amqp_url(), ConnectionProperties::default())
                .await
                .unwrap();
        let channel = connection.create_channel().await.unwrap();
        broker::declare_topology(&channel).await.unwrap();
        let _ = connection.close(200, "declared".into()).await;
        self.vhost
            .publish(broker::EXCHANGE, broker::ROUTING_KEY, bodies)
            .await;
    }

    /// Messages waiting in a queue of the test's vhost.
    pub async fn queue_depth(&self, queue: &str) -> u32 {
        self.vhost.queue_depth(queue).await
    }
}

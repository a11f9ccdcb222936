//! Starts the real application on port 0 against a fresh database of its own.

use accounts_manager::{Application, Settings};
use reqwest::{RequestBuilder, StatusCode};
use rust_decimal::Decimal;
use serde_json::{json, Value};
use shared_types::accounts::AuditReport;
pub use test_support::urlencode;

pub const TOKEN: &str = "test-token";

pub use test_support::{read, TestDb};

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub db: std::sync::Arc<TestDb>,
}

/// The test settings with some of them replaced.
pub fn settings_with(db: &TestDb, overrides: &[(&str, &str)]) -> Settings {
    let env = overrides.iter().fold(
        test_support::accounts_manager_env(db, &format!("{TOKEN},second-token"))
            .set("DATABASE_POOL_SIZE", "6"),
        |env, (name, value)| env.set(name, *value),
    );
    Settings::from_lookup(|name| env.get(name)).expect("test settings are valid")
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(&[]).await
}

/// An application with some settings replaced, on a fresh database.
pub async fn spawn_app_with(overrides: &[(&str, &str)]) -> TestApp {
    let db = std::sync::Arc::new(
        tokio::task::spawn_blocking(|| TestDb::create("am_test"))
            .await
            .expect("create db"),
    );
    start(settings_with(&db, overrides), db).await
}

/// Another application instance on the same database.
pub async fn spawn_app_on(db: std::sync::Arc<TestDb>) -> TestApp {
    spawn_app_on_with(db, &[]).await
}

/// Another application instance on the same database, with some settings replaced.
pub async fn spawn_app_on_with(db: std::sync::Arc<TestDb>, overrides: &[(&str, &str)]) -> TestApp {
    start(settings_with(&db, overrides), db).await
}

async fn start(settings: Settings, db: std::sync::Arc<TestDb>) -> TestApp {
    let app = Application::build(settings)
        .await
        .expect("the application starts");
    let address = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    TestApp {
        address,
        client: test_support::http_client(),
        db,
    }
}

impl TestApp {
    pub fn get(&self, path: &str) -> RequestBuilder {
        self.client
            .get(format!("{}{path}", self.address))
            .bearer_auth(TOKEN)
    }

    pub fn post(&self, path: &str) -> RequestBuilder {
        self.client
            .post(format!("{}{path}", self.address))
            .bearer_auth(TOKEN)
    }

    pub async fn patch_json(&self, path: &str, body: Value) -> (StatusCode, Value) {
        read(
            self.client
                .patch(format!("{}{path}", self.address))
                .bearer_auth(TOKEN)
                .json(&body)
                .send()
                .await
                .expect("request sent"),
        )
        .await
    }

    pub async fn post_json(&self, path: &str, body: Value) -> (StatusCode, Value) {
        read(
            self.post(path)
                .json(&body)
                .send()
                .await
                .expect("request sent"),
        )
        .await
    }

    pub async fn get_json(&self, path: &str) -> (StatusCode, Value) {
        read(self.get(path).send().await.expect("request sent")).await
    }

    pub async fn open_account(&self, user_id: i64, currency: &str) -> String {
        let (status, body) = self
            .post_json(
                "/api/v1/accounts",
                json!({"user_id": user_id, "currency": currency}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["account_id"].as_str().expect("account_id").to_owned()
    }

    pub async fn deposit(&self, account_id: &str, amount: &str) {
        let (status, body) = self
            .post_json(
                "/api/v1/deposits",
                json!({"account_id": account_id, "amount": amount}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }

    pub async fn funded_account(&self, user_id: i64, amount: &str) -> String {
        let id = self.open_account(user_id, "USD").await;
        self.deposit(&id, amount).await;
        id
    }

    pub async fn balance(&self, account_id: &str) -> String {
        let (status, body) = self
            .get_json(&format!("/api/v1/accounts/{account_id}"))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["balance"].as_str().expect("balance").to_owned()
    }

    /// The instance's `/metrics` text.
    pub async fn metrics(&self) -> String {
        self.client
            .get(format!("{}/metrics", self.address))
            .send()
            .await
            .expect("metrics answer")
            .text()
            .await
            .expect("metrics text")
    }

    /// Asserts the double-entry self-check is clean for every currency.
    pub async fn assert_audit_clean(&self) {
        let (status, body) = self.get_json("/api/v1/admin/audit").await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let report: AuditReport = serde_json::from_value(body).expect("an audit report");
        test_support::assert_audit_clean(&report);
    }

    /// Recomputes the revenue rollup from the transactions, as the
    /// migration's backfill does: for tests that move transactions in time
    /// behind the engine's back (the engine dates everything now).
    pub async fn rebuild_revenue_rollup(&self) {
        self.count("SELECT count(*) AS n FROM (SELECT rebuild_revenue_rollup()) AS rebuilt")
            .await;
    }

    /// Runs a `SELECT count(*) AS n ...` on the test database.
    pub async fn count(&self, sql: &str) -> i64 {
        self.db.number(sql).await
    }

    /// Runs a `SELECT <numeric> AS s ...` on the test database.
    pub async fn sum(&self, sql: &str) -> Decimal {
        self.db.decimal(sql).await
    }

    /// Runs a `SELECT <text> AS t ...` on the test database.
    pub async fn text(&self, sql: &str) -> String {
        self.db.text(sql).await
    }
}

/// Asserts an error body of the contract's shape with this code.
pub fn assert_error(status: StatusCode, body: &Value, expected_status: StatusCode, code: &str) {
    assert_eq!(status, expected_status, "{body}");
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{body}"
    );
}

/// Every page of a listing, following its snapshot; asserts `total_count` never moves.
pub async fn all_pages(app: &TestApp, base: &str, limit: usize) -> (Vec<Value>, i64) {
    let sep = if base.contains('?') { '&' } else { '?' };
    let (status, first) = app.get_json(&format!("{base}{sep}limit={limit}")).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    let total = first["total_count"].as_i64().unwrap();
    let snapshot = first["snapshot"].as_str().unwrap().to_owned();
    let mut items: Vec<Value> = first["items"].as_array().unwrap().clone();
    let pages = first["total_pages"].as_i64().unwrap();
    for page in 2..=pages {
        let url = format!(
            "{base}{sep}limit={limit}&page={page}&snapshot={}",
            urlencode(&snapshot)
        );
        let (status, body) = app.get_json(&url).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(
            body["total_count"], total,
            "total_count moved on page {page}"
        );
        assert_eq!(body["snapshot"], snapshot.as_str());
        items.extend(body["items"].as_array().unwrap().iter().cloned());
    }
    (items, total)
}

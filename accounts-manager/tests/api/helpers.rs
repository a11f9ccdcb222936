//! Starts the real application on port 0 against a fresh database of its own.

use accounts_manager::{Application, Settings};
use diesel::sql_types::{BigInt, Numeric, Text};
use diesel::{QueryableByName, RunQueryDsl};
use reqwest::{RequestBuilder, Response, StatusCode};
use rust_decimal::Decimal;
use serde_json::{json, Value};

pub const TOKEN: &str = "test-token";

pub use test_support::TestDb;

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub db: std::sync::Arc<TestDb>,
}

/// The test settings with some of them replaced.
pub fn settings_with(db: &TestDb, overrides: &[(&str, &str)]) -> Settings {
    let url = db.url();
    Settings::from_lookup(|name| {
        if let Some((_, value)) = overrides.iter().find(|(n, _)| *n == name) {
            return Some((*value).to_owned());
        }
        match name {
            "DATABASE_URL" => Some(url.clone()),
            "BIND_ADDR" => Some("127.0.0.1:0".into()),
            "API_TOKENS" => Some(format!("{TOKEN},second-token")),
            "DATABASE_POOL_SIZE" => Some("6".into()),
            "HTTP_WORKERS" => Some("2".into()),
            _ => None,
        }
    })
    .expect("test settings are valid")
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
    start(settings_with(&db, &[]), db).await
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

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[derive(QueryableByName)]
struct Sum {
    #[diesel(sql_type = Numeric)]
    s: Decimal,
}

#[derive(QueryableByName)]
struct One {
    #[diesel(sql_type = Text)]
    t: String,
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

    /// Asserts the double-entry self-check is clean for every currency.
    pub async fn assert_audit_clean(&self) {
        let (status, body) = self.get_json("/api/v1/admin/audit").await;
        assert_eq!(status, StatusCode::OK, "{body}");
        for currency in body["currencies"].as_array().expect("currencies") {
            assert_eq!(currency["total"], "0.00", "{body}");
            assert_eq!(currency["negative_accounts"], 0, "{body}");
            assert_eq!(currency["entry_mismatches"], 0, "{body}");
        }
    }

    /// Runs a `SELECT count(*) ...` on the test database.
    pub async fn count(&self, sql: &str) -> i64 {
        let (db, sql) = (self.db.clone(), sql.to_owned());
        tokio::task::spawn_blocking(move || {
            diesel::sql_query(sql)
                .get_result::<Count>(&mut db.connect())
                .expect("count query")
                .n
        })
        .await
        .expect("count")
    }

    /// Runs a `SELECT <numeric> AS s ...` on the test database.
    pub async fn sum(&self, sql: &str) -> Decimal {
        let (db, sql) = (self.db.clone(), sql.to_owned());
        tokio::task::spawn_blocking(move || {
            diesel::sql_query(sql)
                .get_result::<Sum>(&mut db.connect())
                .expect("sum query")
                .s
        })
        .await
        .expect("sum")
    }

    /// Runs a `SELECT <text> AS t ...` on the test database.
    pub async fn text(&self, sql: &str) -> String {
        let (db, sql) = (self.db.clone(), sql.to_owned());
        tokio::task::spawn_blocking(move || {
            diesel::sql_query(sql)
                .get_result::<One>(&mut db.connect())
                .expect("text query")
                .t
        })
        .await
        .expect("text")
    }
}

pub async fn read(response: Response) -> (StatusCode, Value) {
    let status = response.status();
    let text = response.text().await.expect("body");
    let body = serde_json::from_str(&text)
        .unwrap_or_else(|_| panic!("a JSON body, got {status} {text:?}"));
    (status, body)
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

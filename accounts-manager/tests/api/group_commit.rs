//! Group commit: movements that arrive together are applied in one database
//! transaction, each with its own answer. These tests make a batch happen for
//! sure: with one lane, a first transfer is held on a row lock the test takes,
//! the others queue behind it, and when the lock goes they form one batch.

use std::sync::mpsc;
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::sql_types::Text;
use diesel::{Connection, RunQueryDsl};
use futures::future::join_all;
use reqwest::StatusCode;
use rust_decimal::Decimal;
use serde_json::{json, Value};
use test_support::eventually;

use crate::helpers::{assert_error, read, spawn_app_with, TestApp, TestDb};

const ONE_LANE: &[(&str, &str)] = &[("LEDGER_LANES", "1")];

/// A row lock held by the test until `release`.
struct HeldRow {
    release: mpsc::Sender<()>,
    holder: std::thread::JoinHandle<()>,
}

impl HeldRow {
    fn take(db: &TestDb, account: &str) -> Self {
        let (release, released) = mpsc::channel::<()>();
        let (locked, is_locked) = mpsc::channel();
        let (url, account) = (db.url(), account.to_owned());
        let holder = std::thread::spawn(move || {
            let mut conn = diesel::PgConnection::establish(&url).expect("connect");
            conn.transaction(|conn| {
                diesel::sql_query("SELECT 1 FROM accounts WHERE id = $1::uuid FOR UPDATE")
                    .bind::<Text, _>(&account)
                    .execute(conn)?;
                locked.send(()).expect("the test waits");
                let _ = released.recv();
                Ok::<_, diesel::result::Error>(())
            })
            .expect("the lock is held and released");
        });
        is_locked.recv().expect("the row is locked");
        Self { release, holder }
    }

    fn release(self) {
        self.release.send(()).expect("the holder waits");
        self.holder.join().expect("the holder ends");
    }
}

async fn metric(app: &TestApp, name: &str) -> f64 {
    let text = app
        .client
        .get(format!("{}/metrics", app.address))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("metrics text");
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or(0.0)
}

/// Sends a first transfer into `hot` and waits until it is stuck on the held
/// lock, so that whatever is submitted next queues for the following batch.
async fn block_the_lane(app: &TestApp, hot: &str) -> tokio::task::JoinHandle<(StatusCode, Value)> {
    let from = app.funded_account(999, "100.00").await;
    let request = app
        .post("/api/v1/transfers")
        .json(&json!({"from_account_id": from, "to_account_id": hot, "amount": "0.50"}));
    let first = tokio::spawn(async move { read(request.send().await.expect("sent")).await });
    eventually(
        "the first batch waits on the lock",
        Duration::from_secs(10),
        || async {
            app.count(
                "SELECT count(*) AS n FROM pg_stat_activity \
             WHERE datname = current_database() AND wait_event_type = 'Lock'",
            )
            .await
                == 1
        },
    )
    .await;
    first
}

async fn wait_until_queued(app: &TestApp, n: usize) {
    eventually("the movements queue", Duration::from_secs(10), || async {
        metric(app, "ledger_movements_queued").await == n as f64
    })
    .await;
}

#[tokio::test]
async fn a_batch_into_one_hot_account_gives_each_transfer_its_own_balances() {
    let app = spawn_app_with(ONE_LANE).await;
    let hot = app.open_account(1, "USD").await;
    let mut senders = Vec::new();
    for user in 0..30 {
        senders.push(app.funded_account(100 + user, "100.00").await);
    }
    let held = HeldRow::take(&app.db, &hot);
    let first = block_the_lane(&app, &hot).await;
    let transfers = senders.iter().enumerate().map(|(i, from)| {
        let request = app.post("/api/v1/transfers").json(&json!({
            "from_account_id": from, "to_account_id": hot, "amount": format!("{}.00", i + 1)
        }));
        async move { read(request.send().await.expect("sent")).await }
    });
    let transfers = tokio::spawn(join_all(transfers));
    wait_until_queued(&app, 30).await;
    held.release();

    let (status, body) = first.await.expect("first");
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["to_balance_after"], "0.50");
    let mut answers = transfers.await.expect("transfers");
    for (status, body) in &answers {
        assert_eq!(*status, StatusCode::CREATED, "{body}");
    }
    // Each answer shows the hot balance right after its own transfer: in the
    // batch's order they step up by exactly each one's amount.
    let decimal = |v: &Value| {
        v.as_str()
            .expect("a decimal")
            .parse::<Decimal>()
            .expect("decimal")
    };
    answers.sort_by_key(|(_, body)| decimal(&body["to_balance_after"]));
    let mut hot_balance = Decimal::new(50, 2);
    for (_, body) in &answers {
        hot_balance += decimal(&body["amount"]);
        assert_eq!(decimal(&body["to_balance_after"]), hot_balance, "{body}");
        assert_eq!(
            decimal(&body["from_balance_after"]),
            Decimal::from(100) - decimal(&body["amount"]),
            "{body}"
        );
    }
    assert_eq!(app.balance(&hot).await, "465.50");
    assert_eq!(
        app.count("SELECT count(DISTINCT xid) AS n FROM transactions WHERE kind = 'transfer'")
            .await,
        2,
        "the first transfer alone, then the thirty queued ones in one database transaction"
    );
    app.assert_audit_clean().await;
}

#[tokio::test]
async fn a_batch_that_fails_as_a_whole_is_applied_one_by_one() {
    let app = spawn_app_with(ONE_LANE).await;
    let hot = app.open_account(1, "USD").await;
    let from = app.funded_account(2, "1000.00").await;
    // A rule the ledger's code does not know: the database refuses one amount.
    let db = app.db.clone();
    tokio::task::spawn_blocking(move || {
        db.connect()
            .batch_execute(
                "CREATE FUNCTION refuse_13_37() RETURNS trigger LANGUAGE plpgsql AS $$ \
                 BEGIN IF NEW.amount = 13.37 THEN RAISE EXCEPTION 'the test refuses 13.37'; END IF; \
                 RETURN NEW; END $$; \
                 CREATE TRIGGER refuse_13_37 BEFORE INSERT ON transactions \
                 FOR EACH ROW EXECUTE FUNCTION refuse_13_37()",
            )
            .expect("trigger")
    })
    .await
    .expect("trigger");
    let held = HeldRow::take(&app.db, &hot);
    let first = block_the_lane(&app, &hot).await;
    let missing = uuid::Uuid::now_v7().to_string();
    let bodies = [
        json!({"from_account_id": from, "to_account_id": hot, "amount": "1.00"}),
        json!({"from_account_id": from, "to_account_id": hot, "amount": "13.37"}),
        json!({"from_account_id": from, "to_account_id": hot, "amount": "2.00"}),
        json!({"from_account_id": from, "to_account_id": missing, "amount": "4.00"}),
        json!({"account_id": from, "amount": "8.00"}),
    ];
    let paths = [
        "transfers",
        "transfers",
        "transfers",
        "transfers",
        "withdrawals",
    ];
    let requests = paths.iter().zip(&bodies).map(|(path, body)| {
        let request = app.post(&format!("/api/v1/{path}")).json(body);
        async move { read(request.send().await.expect("sent")).await }
    });
    let answers = tokio::spawn(join_all(requests));
    wait_until_queued(&app, bodies.len()).await;
    held.release();

    assert_eq!(first.await.expect("first").0, StatusCode::CREATED);
    let answers = answers.await.expect("answers");
    assert_eq!(answers[0].0, StatusCode::CREATED, "{}", answers[0].1);
    assert_error(
        answers[1].0,
        &answers[1].1,
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal_error",
    );
    assert_eq!(answers[2].0, StatusCode::CREATED, "{}", answers[2].1);
    assert_error(
        answers[3].0,
        &answers[3].1,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    assert_eq!(answers[4].0, StatusCode::CREATED, "{}", answers[4].1);
    assert_eq!(
        metric(&app, "ledger_batches_total{outcome=\"rolled_back\"}").await,
        1.0
    );
    assert_eq!(app.balance(&hot).await, "3.50");
    // 1000 less the 1.00 and 2.00 transferred and the 8.00 withdrawn.
    assert_eq!(app.balance(&from).await, "989.00");
    assert_eq!(
        app.count("SELECT count(*) AS n FROM transactions WHERE amount = 13.37")
            .await,
        0
    );
    app.assert_audit_clean().await;
}

#[tokio::test]
async fn idempotency_keys_in_one_batch_are_taken_once_replayed_or_refused() {
    let app = spawn_app_with(ONE_LANE).await;
    let hot = app.open_account(1, "USD").await;
    let from = app.funded_account(2, "1000.00").await;
    let transfer =
        |amount: &str| json!({"from_account_id": from, "to_account_id": hot, "amount": amount});
    let send = |key: &'static str, body: Value| {
        let request = app
            .post("/api/v1/transfers")
            .header("Idempotency-Key", key)
            .json(&body);
        async move {
            let response = request.send().await.expect("sent");
            let replayed = response.headers().contains_key("Idempotent-Replayed");
            let (status, body) = read(response).await;
            (status, body, replayed)
        }
    };
    let (status, stored_a, _) = send("stored-a", transfer("3.00")).await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _, _) = send("stored-b", transfer("5.00")).await;
    assert_eq!(status, StatusCode::CREATED);

    let held = HeldRow::take(&app.db, &hot);
    let first = block_the_lane(&app, &hot).await;
    let batch = tokio::spawn(join_all([
        send("twin", transfer("10.00")),
        send("twin", transfer("10.00")),
        send("stored-a", transfer("3.00")),
        send("stored-b", transfer("6.00")),
    ]));
    wait_until_queued(&app, 4).await;
    held.release();

    assert_eq!(first.await.expect("first").0, StatusCode::CREATED);
    let answers = batch.await.expect("batch");
    let mut twins: Vec<StatusCode> = answers[..2].iter().map(|(status, _, _)| *status).collect();
    twins.sort();
    assert_eq!(
        twins,
        [StatusCode::CREATED, StatusCode::CONFLICT],
        "{answers:?}"
    );
    let (status, body, replayed) = &answers[2];
    assert_eq!(*status, StatusCode::CREATED);
    assert!(replayed, "a stored answer is marked as replayed");
    assert_eq!(*body, stored_a, "the stored answer, byte for byte");
    assert_error(
        answers[3].0,
        &answers[3].1,
        StatusCode::UNPROCESSABLE_ENTITY,
        "idempotency_key_reused",
    );
    // 0.50 from the lane's first transfer, 3 + 5 before, 10 once.
    assert_eq!(app.balance(&hot).await, "18.50");
    app.assert_audit_clean().await;
}

#[tokio::test]
async fn system_accounts_cannot_be_named_in_a_movement() {
    let app = spawn_app_with(&[]).await;
    let user = app.funded_account(1, "50.00").await;
    let external = app
        .text("SELECT id::text AS t FROM accounts WHERE kind = 'external' ORDER BY id LIMIT 1")
        .await;
    for (path, body) in [
        (
            "transfers",
            json!({"from_account_id": external, "to_account_id": user, "amount": "1.00"}),
        ),
        (
            "transfers",
            json!({"from_account_id": user, "to_account_id": external, "amount": "1.00"}),
        ),
        (
            "deposits",
            json!({"account_id": external, "amount": "1.00"}),
        ),
        (
            "withdrawals",
            json!({"account_id": external, "amount": "1.00"}),
        ),
    ] {
        let (status, answer) = app.post_json(&format!("/api/v1/{path}"), body).await;
        assert_error(status, &answer, StatusCode::NOT_FOUND, "not_found");
    }
    assert_eq!(app.balance(&user).await, "50.00");
    app.assert_audit_clean().await;
}

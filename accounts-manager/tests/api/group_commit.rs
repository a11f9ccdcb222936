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
    let text = app.metrics().await;
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

/// Sends each request in turn and waits until it is queued, so that the
/// batch after the blocked one takes them in exactly this order.
async fn queue_in_order(
    app: &TestApp,
    requests: &[(&str, Value)],
) -> Vec<tokio::task::JoinHandle<(StatusCode, Value)>> {
    let mut sent = Vec::new();
    for (n, (path, body)) in requests.iter().enumerate() {
        let request = app.post(path).json(body);
        sent.push(tokio::spawn(async move {
            read(request.send().await.expect("sent")).await
        }));
        wait_until_queued(app, n + 1).await;
    }
    sent
}

async fn answers_of(
    sent: Vec<tokio::task::JoinHandle<(StatusCode, Value)>>,
) -> Vec<(StatusCode, Value)> {
    let mut answers = Vec::new();
    for one in sent {
        answers.push(one.await.expect("answer"));
    }
    answers
}

async fn reserve(app: &TestApp, account: &str, order_id: i64, amount: &str) {
    let (status, body) = app
        .post_json(
            "/api/v1/reservations",
            json!({"account_id": account, "order_id": order_id, "service_id": 9, "amount": amount}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

#[tokio::test]
async fn one_batch_carries_every_kind_of_command_each_with_its_own_answer() {
    let app = spawn_app_with(ONE_LANE).await;
    let hot = app.open_account(1, "USD").await;
    let payer = app.funded_account(2, "1000.00").await;
    let poor = app.funded_account(3, "5.00").await;
    reserve(&app, &payer, 50, "100.00").await;
    reserve(&app, &payer, 51, "50.00").await;
    let held = HeldRow::take(&app.db, &hot);
    let first = block_the_lane(&app, &hot).await;

    let sent = queue_in_order(
        &app,
        &[
            (
                "/api/v1/deposits",
                json!({"user_id": 77, "amount": "25.00"}),
            ),
            (
                "/api/v1/reservations",
                json!({"account_id": payer, "order_id": 60, "service_id": 9, "amount": "200.00"}),
            ),
            ("/api/v1/reservations/50/capture", json!({})),
            ("/api/v1/reservations/51/release", json!({})),
            (
                "/api/v1/transfers",
                json!({"from_account_id": payer, "to_account_id": hot, "amount": "10.00"}),
            ),
            (
                "/api/v1/withdrawals",
                json!({"account_id": poor, "amount": "10.00"}),
            ),
        ],
    )
    .await;
    held.release();

    assert_eq!(first.await.expect("first").0, StatusCode::CREATED);
    let answers = answers_of(sent).await;
    let [deposit, reserved, captured, released, transfer, withdrawal] =
        <[(StatusCode, Value); 6]>::try_from(answers).expect("six answers");
    assert_eq!(deposit.0, StatusCode::CREATED, "{}", deposit.1);
    let opened = deposit.1["to_account_id"].as_str().expect("an account");
    assert_eq!(reserved.0, StatusCode::CREATED, "{}", reserved.1);
    assert_eq!(reserved.1["status"], "reserved");
    assert_eq!(captured.0, StatusCode::OK, "{}", captured.1);
    assert_eq!(captured.1["status"], "captured");
    assert_eq!(released.0, StatusCode::OK, "{}", released.1);
    assert_eq!(released.1["status"], "released");
    // 1000 - 150 held before; - 200 held, + 50 released, - 10 sent.
    assert_eq!(transfer.0, StatusCode::CREATED, "{}", transfer.1);
    assert_eq!(transfer.1["from_balance_after"], "690.00");
    assert_eq!(transfer.1["to_balance_after"], "10.50");
    assert_eq!(withdrawal.0, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(withdrawal.1["reason"], "insufficient_funds");

    let ids = [&deposit.1, &transfer.1, &withdrawal.1]
        .map(|t| format!("'{}'", t["transaction_id"].as_str().expect("an id")))
        .join(", ");
    let written = format!(
        "FROM transactions WHERE id IN ({ids}) OR (order_id = 50 AND kind = 'capture') \
         OR (order_id = 51 AND kind = 'release') OR (order_id = 60 AND kind = 'reservation')"
    );
    assert_eq!(
        app.count(&format!("SELECT count(*) AS n {written}")).await,
        6
    );
    assert_eq!(
        app.count(&format!("SELECT count(DISTINCT xid) AS n {written}"))
            .await,
        1,
        "the six commands share one database transaction"
    );
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) AS n FROM reservations r, accounts a, transactions t \
             WHERE r.order_id IN (50, 51, 60) AND a.id = '{opened}' AND t.id IN ({ids}) \
               AND r.xmin::text::bigint = t.xid % 4294967296 AND a.xmin::text::bigint = t.xid % 4294967296"
        ))
        .await,
        9,
        "the orders and the opened account were written by that transaction too"
    );
    let (_, payer_now) = app.get_json(&format!("/api/v1/accounts/{payer}")).await;
    assert_eq!(payer_now["balance"], "690.00");
    assert_eq!(payer_now["reserved"], "200.00");
    assert_eq!(app.balance(opened).await, "25.00");
    assert_eq!(app.balance(&poor).await, "5.00");
    assert_eq!(
        app.sum("SELECT sum(balance) AS s FROM accounts WHERE kind = 'revenue'")
            .await,
        Decimal::from(100)
    );
    app.assert_audit_clean().await;
}

#[tokio::test]
async fn an_order_reserved_twice_or_captured_and_released_in_one_batch_has_one_winner() {
    let app = spawn_app_with(ONE_LANE).await;
    let hot = app.open_account(1, "USD").await;
    let payer = app.funded_account(2, "1000.00").await;
    let poor = app.funded_account(3, "5.00").await;
    reserve(&app, &payer, 71, "30.00").await;
    let held = HeldRow::take(&app.db, &hot);
    let first = block_the_lane(&app, &hot).await;
    let order = |account: &str, order_id: i64, amount: &str| json!({"account_id": account, "order_id": order_id, "service_id": 9, "amount": amount});

    let sent = queue_in_order(
        &app,
        &[
            ("/api/v1/reservations", order(&payer, 70, "10.00")),
            ("/api/v1/reservations", order(&payer, 70, "20.00")),
            ("/api/v1/reservations/71/capture", json!({})),
            ("/api/v1/reservations/71/release", json!({})),
            ("/api/v1/reservations", order(&poor, 72, "6.00")),
            ("/api/v1/reservations", order(&payer, 72, "7.00")),
            ("/api/v1/reservations", order(&payer, 73, "4.00")),
            ("/api/v1/reservations/73/capture", json!({})),
        ],
    )
    .await;
    held.release();

    assert_eq!(first.await.expect("first").0, StatusCode::CREATED);
    let answers = answers_of(sent).await;
    assert_eq!(answers[0].0, StatusCode::CREATED, "{}", answers[0].1);
    assert_error(
        answers[1].0,
        &answers[1].1,
        StatusCode::CONFLICT,
        "order_already_reserved",
    );
    assert_eq!(answers[2].0, StatusCode::OK, "{}", answers[2].1);
    assert_error(
        answers[3].0,
        &answers[3].1,
        StatusCode::CONFLICT,
        "reservation_not_reserved",
    );
    assert_eq!(answers[4].0, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(answers[4].1["reason"], "insufficient_funds");
    assert_eq!(
        answers[5].0,
        StatusCode::CREATED,
        "a reservation refused for funds leaves the order id free: {}",
        answers[5].1
    );

    assert_eq!(answers[6].0, StatusCode::CREATED, "{}", answers[6].1);
    assert_eq!(
        answers[7].0,
        StatusCode::OK,
        "an order reserved earlier in the batch can be captured: {}",
        answers[7].1
    );
    assert_eq!(answers[7].1["status"], "captured");
    let kinds = |order_id: i64| {
        format!(
            "SELECT string_agg(kind || ':' || status, ',' ORDER BY created_at, kind) AS t \
             FROM transactions WHERE order_id = {order_id}"
        )
    };
    assert_eq!(app.text(&kinds(70)).await, "reservation:success");
    assert_eq!(
        app.text(&kinds(71)).await,
        "reservation:success,capture:success"
    );
    assert_eq!(
        app.text(&kinds(72)).await,
        "reservation:failed,reservation:success"
    );
    let (_, payer_now) = app.get_json(&format!("/api/v1/accounts/{payer}")).await;
    // 1000 - 30 (71) - 10 (70) - 7 (72) - 4 (73).
    assert_eq!(payer_now["balance"], "949.00");
    assert_eq!(payer_now["reserved"], "17.00");
    let (_, order_70) = app.get_json("/api/v1/reservations/70").await;
    assert_eq!(order_70["amount"], "10.00");
    app.assert_audit_clean().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_reserves_of_one_order_on_two_instances_have_one_winner() {
    let first = std::sync::Arc::new(spawn_app_with(&[]).await);
    let second = std::sync::Arc::new(crate::helpers::spawn_app_on(first.db.clone()).await);
    let mut payers = Vec::new();
    for user in 0..4 {
        payers.push(first.funded_account(10 + user, "100.00").await);
    }
    let apps = [first.clone(), second.clone()];
    let attempts = (100..120).flat_map(|order_id| {
        let apps = apps.clone();
        payers.iter().enumerate().map(move |(i, payer)| {
            let app = apps[i % 2].clone();
            let body = json!({"account_id": payer, "order_id": order_id, "service_id": 1, "amount": "1.00"});
            async move { (order_id, app.post_json("/api/v1/reservations", body).await) }
        })
    });

    let answers = join_all(attempts).await;

    for order_id in 100..120 {
        let mine: Vec<&(StatusCode, Value)> = answers
            .iter()
            .filter(|(id, _)| *id == order_id)
            .map(|(_, answer)| answer)
            .collect();
        let won = mine
            .iter()
            .filter(|(status, _)| *status == StatusCode::CREATED)
            .count();
        assert_eq!(won, 1, "order {order_id}: {mine:?}");
        for (status, body) in mine {
            if *status != StatusCode::CREATED {
                assert_error(
                    *status,
                    body,
                    StatusCode::CONFLICT,
                    "order_already_reserved",
                );
            }
        }
    }
    assert_eq!(
        first
            .count("SELECT count(*) AS n FROM transactions WHERE kind = 'reservation'")
            .await,
        20,
        "a losing reserve leaves nothing behind"
    );
    assert_eq!(
        first
            .sum("SELECT sum(reserved) AS s FROM accounts WHERE kind = 'user'")
            .await,
        Decimal::from(20)
    );
    first.assert_audit_clean().await;
}

use std::sync::Arc;

use reqwest::StatusCode;
use rust_decimal::Decimal;
use serde_json::{json, Value};

use crate::helpers::{assert_error, read, spawn_app, TestApp};

async fn reserve(app: &TestApp, account: &str, order: i64, amount: &str) -> (StatusCode, Value) {
    app.post_json(
        "/api/v1/reservations",
        json!({"account_id": account, "order_id": order, "service_id": 3, "amount": amount, "service_name": "delivery"}),
    )
    .await
}

async fn act(app: &TestApp, order: i64, action: &str) -> (StatusCode, Value) {
    read(
        app.post(&format!("/api/v1/reservations/{order}/{action}"))
            .send()
            .await
            .unwrap(),
    )
    .await
}

async fn parts(app: &TestApp, account: &str) -> (String, String) {
    let (_, body) = app.get_json(&format!("/api/v1/accounts/{account}")).await;
    (
        body["balance"].as_str().unwrap().to_owned(),
        body["reserved"].as_str().unwrap().to_owned(),
    )
}

async fn revenue_balance(app: &TestApp) -> Decimal {
    app.sum("SELECT sum(balance) AS s FROM accounts WHERE kind = 'revenue' AND currency = 'USD'")
        .await
}

#[tokio::test]
async fn a_reservation_moves_money_from_balance_to_reserved() {
    let app = spawn_app().await;
    let account = app.funded_account(1, "200000").await;

    let (status, body) = reserve(&app, &account, 7, "170000").await;

    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["order_id"], 7);
    assert_eq!(body["account_id"], account.as_str());
    assert_eq!(body["service_id"], 3);
    assert_eq!(body["amount"], "170000.00");
    assert_eq!(body["currency"], "USD");
    assert_eq!(body["status"], "reserved");
    assert_eq!(body["created_at"], body["updated_at"]);
    assert_eq!(
        parts(&app, &account).await,
        ("30000.00".into(), "170000.00".into())
    );
    let description = app
        .text("SELECT description AS t FROM transactions WHERE kind = 'reservation'")
        .await;
    assert_eq!(
        description,
        format!("170000.00 USD reserved from account {account} for order 7, service 3 (delivery)")
    );
    let (status, fetched) = app.get_json("/api/v1/reservations/7").await;
    assert_eq!((status, fetched), (StatusCode::OK, body));
    app.assert_audit_clean().await;
}

#[tokio::test]
async fn a_reservation_without_enough_balance_is_recorded_as_failed_and_leaves_the_order_free() {
    let app = spawn_app().await;
    let account = app.funded_account(1, "100").await;

    let (status, body) = reserve(&app, &account, 7, "100.01").await;

    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["type"], "reservation");
    assert_eq!(body["status"], "failed");
    assert_eq!(body["reason"], "insufficient_funds");
    assert_eq!(body["order_id"], 7);
    assert_eq!(body["service_id"], 3);
    assert_eq!(
        parts(&app, &account).await,
        ("100.00".into(), "0.00".into())
    );
    let (status, _) = app.get_json("/api/v1/reservations/7").await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    app.deposit(&account, "1").await;
    let (status, body) = reserve(&app, &account, 7, "100.01").await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    app.assert_audit_clean().await;
}

#[tokio::test]
async fn an_order_that_already_has_a_reservation_is_409() {
    let app = spawn_app().await;
    let account = app.funded_account(1, "100").await;
    let other = app.funded_account(2, "100").await;
    let (status, _) = reserve(&app, &account, 7, "10").await;
    assert_eq!(status, StatusCode::CREATED);

    let (status, body) = reserve(&app, &other, 7, "10").await;

    assert_error(
        status,
        &body,
        StatusCode::CONFLICT,
        "order_already_reserved",
    );
    assert_eq!(parts(&app, &other).await, ("100.00".into(), "0.00".into()));
    assert_eq!(
        app.count("SELECT count(*) AS n FROM transactions WHERE kind = 'reservation'")
            .await,
        1
    );
}

#[tokio::test]
async fn capture_moves_the_held_money_to_revenue_as_the_services_income() {
    let app = spawn_app().await;
    let account = app.funded_account(1, "500").await;
    reserve(&app, &account, 7, "170").await;

    let (status, body) = act(&app, 7, "capture").await;

    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "captured");
    assert_eq!(
        parts(&app, &account).await,
        ("330.00".into(), "0.00".into())
    );
    assert_eq!(revenue_balance(&app).await, Decimal::from(170));
    assert_eq!(
        app.count("SELECT count(*) AS n FROM transactions WHERE kind = 'capture' AND service_id = 3 AND order_id = 7").await,
        1
    );
    let description = app
        .text("SELECT description AS t FROM transactions WHERE kind = 'capture'")
        .await;
    assert_eq!(
        description,
        format!("170.00 USD captured from account {account} as revenue for order 7, service 3 (delivery)")
    );
    app.assert_audit_clean().await;
}

#[tokio::test]
async fn release_gives_the_held_money_back() {
    let app = spawn_app().await;
    let account = app.funded_account(1, "500").await;
    reserve(&app, &account, 7, "170").await;

    let (status, body) = act(&app, 7, "release").await;

    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "released");
    assert_ne!(body["updated_at"], body["created_at"]);
    assert_eq!(
        parts(&app, &account).await,
        ("500.00".into(), "0.00".into())
    );
    assert_eq!(revenue_balance(&app).await, Decimal::ZERO);
    app.assert_audit_clean().await;
}

#[tokio::test]
async fn only_a_reserved_order_can_be_captured_or_released() {
    let app = spawn_app().await;
    let account = app.funded_account(1, "500").await;
    reserve(&app, &account, 1, "100").await;
    reserve(&app, &account, 2, "100").await;
    assert_eq!(act(&app, 1, "capture").await.0, StatusCode::OK);
    assert_eq!(act(&app, 2, "release").await.0, StatusCode::OK);

    for (order, action) in [
        (1, "capture"),
        (1, "release"),
        (2, "capture"),
        (2, "release"),
    ] {
        let (status, body) = act(&app, order, action).await;
        assert_error(
            status,
            &body,
            StatusCode::CONFLICT,
            "reservation_not_reserved",
        );
    }

    assert_eq!(
        parts(&app, &account).await,
        ("400.00".into(), "0.00".into())
    );
    assert_eq!(revenue_balance(&app).await, Decimal::from(100));
    assert_eq!(
        app.count("SELECT count(*) AS n FROM transactions WHERE kind IN ('capture', 'release')")
            .await,
        2
    );
    app.assert_audit_clean().await;
}

#[tokio::test]
async fn unknown_orders_are_404_and_bad_ids_are_refused() {
    let app = spawn_app().await;
    let account = app.funded_account(1, "500").await;
    for action in ["capture", "release"] {
        let (status, body) = act(&app, 99, action).await;
        assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
    }
    let (status, body) = app.get_json("/api/v1/reservations/99").await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
    let (status, body) = app.get_json("/api/v1/reservations/abc").await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "invalid_request");
    let (status, body) = act(&app, 0, "capture").await;
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_id",
    );
    for request in [
        json!({"account_id": account, "order_id": 0, "service_id": 3, "amount": "1"}),
        json!({"account_id": account, "order_id": 1, "service_id": -3, "amount": "1"}),
    ] {
        let (status, body) = app.post_json("/api/v1/reservations", request).await;
        assert_error(
            status,
            &body,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_id",
        );
    }
    let (status, body) = app
        .post_json(
            "/api/v1/reservations",
            json!({"account_id": account, "order_id": 1, "service_id": 3, "amount": "0"}),
        )
        .await;
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_amount",
    );
    let (status, body) = app
        .post_json("/api/v1/reservations", json!({"account_id": uuid::Uuid::new_v4(), "order_id": 1, "service_id": 3, "amount": "1"}))
        .await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
    reserve(&app, &account, 5, "1").await;
    let (status, body) = app
        .post_json("/api/v1/reservations/5/capture", json!({"force": true}))
        .await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "invalid_request");
    let (status, body) = app
        .post_json("/api/v1/reservations/5/capture", json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(app.count("SELECT count(*) AS n FROM reservations").await, 1);
}

#[tokio::test]
async fn a_capture_with_an_idempotency_key_is_replayed() {
    let app = spawn_app().await;
    let account = app.funded_account(1, "50").await;
    reserve(&app, &account, 7, "20").await;
    let send = || {
        app.post("/api/v1/reservations/7/capture")
            .header("Idempotency-Key", "cap-7")
            .send()
    };

    let (status1, body1) = read(send().await.unwrap()).await;
    let (status2, body2) = read(send().await.unwrap()).await;

    assert_eq!(status1, StatusCode::OK);
    assert_eq!((status2, body2), (status1, body1));
    assert_eq!(revenue_balance(&app).await, Decimal::from(20));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn of_a_concurrent_capture_and_release_exactly_one_wins() {
    let app = Arc::new(spawn_app().await);
    let account = app.funded_account(1, "1000").await;
    const ORDERS: i64 = 20;
    for order in 1..=ORDERS {
        reserve(&app, &account, order, "10").await;
    }

    let races = (1..=ORDERS).map(|order| {
        let app = app.clone();
        async move {
            let (capture, release) =
                tokio::join!(act(&app, order, "capture"), act(&app, order, "release"));
            (capture.0, release.0)
        }
    });
    let outcomes = futures::future::join_all(races).await;

    let mut captured = 0;
    for (capture, release) in outcomes {
        match (capture, release) {
            (StatusCode::OK, StatusCode::CONFLICT) => captured += 1,
            (StatusCode::CONFLICT, StatusCode::OK) => {}
            other => panic!("exactly one must win: {other:?}"),
        }
    }
    let released = ORDERS - captured;
    assert_eq!(
        parts(&app, &account).await,
        (format!("{}.00", 1000 - 10 * captured), "0.00".to_owned())
    );
    assert_eq!(revenue_balance(&app).await, Decimal::from(10 * captured));
    assert_eq!(
        app.count("SELECT count(*) AS n FROM reservations WHERE status = 'released'")
            .await,
        released
    );
    app.assert_audit_clean().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_reservations_of_one_order_reserve_it_once() {
    let app = Arc::new(spawn_app().await);
    let mut accounts = Vec::new();
    for user in 1..=10 {
        accounts.push(app.funded_account(user, "100").await);
    }

    let attempts = accounts
        .iter()
        .map(|account| reserve(&app, account, 42, "60"));
    let answers = futures::future::join_all(attempts).await;

    let created = answers
        .iter()
        .filter(|(s, _)| *s == StatusCode::CREATED)
        .count();
    let conflicts = answers
        .iter()
        .filter(|(s, _)| *s == StatusCode::CONFLICT)
        .count();
    assert_eq!((created, conflicts), (1, 9), "{answers:?}");
    assert_eq!(
        app.sum("SELECT sum(reserved) AS s FROM accounts").await,
        Decimal::from(60)
    );
    app.assert_audit_clean().await;
}

async fn capture_part(app: &TestApp, order: i64, amount: Value) -> (StatusCode, Value) {
    app.post_json(
        &format!("/api/v1/reservations/{order}/capture"),
        json!({ "amount": amount }),
    )
    .await
}

#[tokio::test]
async fn a_partial_capture_takes_that_much_as_revenue_and_releases_the_rest_at_once() {
    let app = spawn_app().await;
    let account = app.funded_account(1, "500").await;
    reserve(&app, &account, 7, "100").await;

    let (status, body) = capture_part(&app, 7, json!("60.00")).await;

    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "captured");
    assert_eq!(body["amount"], "100.00");
    assert_eq!(body["captured_amount"], "60.00");
    assert_eq!(
        parts(&app, &account).await,
        ("440.00".into(), "0.00".into())
    );
    assert_eq!(revenue_balance(&app).await, Decimal::from(60));
    assert_eq!(
        app.text(
            "SELECT string_agg(kind || ':' || amount, ',' ORDER BY kind) AS t \
             FROM transactions WHERE order_id = 7 AND kind <> 'reservation'"
        )
        .await,
        "capture:60.00,release:40.00"
    );
    assert_eq!(
        app.count(
            "SELECT count(DISTINCT xid) AS n FROM transactions WHERE order_id = 7 AND kind <> 'reservation'"
        )
        .await,
        1,
        "the capture and the release of the rest are one database transaction"
    );
    let (_, stored) = app.get_json("/api/v1/reservations/7").await;
    assert_eq!(stored["captured_amount"], "60.00");
    // The service's revenue is what was captured.
    let month = chrono::Utc::now().format("%Y-%m");
    let csv = app
        .get(&format!("/api/v1/reports/revenue?month={month}"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(csv, "service_id,service_name,revenue\n3,delivery,60.00\n");
    app.assert_audit_clean().await;
}

#[tokio::test]
async fn a_capture_of_more_than_is_held_or_a_bad_amount_changes_nothing() {
    let app = spawn_app().await;
    let account = app.funded_account(1, "500").await;
    reserve(&app, &account, 7, "100").await;

    let (status, body) = capture_part(&app, 7, json!("100.01")).await;
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "capture_exceeds_reserved",
    );
    let (status, body) = capture_part(&app, 7, json!("0")).await;
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_amount",
    );

    let (_, order) = app.get_json("/api/v1/reservations/7").await;
    assert_eq!(order["status"], "reserved");
    assert_eq!(order["captured_amount"], Value::Null);
    assert_eq!(
        parts(&app, &account).await,
        ("400.00".into(), "100.00".into())
    );
    // All of it, by giving the whole amount: nothing is released.
    let (status, body) = capture_part(&app, 7, json!(100)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["captured_amount"], "100.00");
    assert_eq!(
        app.count("SELECT count(*) AS n FROM transactions WHERE kind = 'release'")
            .await,
        0
    );
    app.assert_audit_clean().await;
}

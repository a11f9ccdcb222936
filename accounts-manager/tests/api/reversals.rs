//! Reversals and refunds: money moved back the way it came.

use std::sync::Arc;

use futures::future::join_all;
use reqwest::StatusCode;
use rust_decimal::Decimal;
use serde_json::{json, Value};

use crate::helpers::{assert_error, spawn_app, spawn_app_on, TestApp};

async fn reverse(app: &TestApp, id: &str, body: Value) -> (StatusCode, Value) {
    app.post_json(&format!("/api/v1/transactions/{id}/reversals"), body)
        .await
}

async fn transaction(app: &TestApp, id: &str) -> Value {
    let (status, body) = app.get_json(&format!("/api/v1/transactions/{id}")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

fn id(t: &Value) -> String {
    t["transaction_id"].as_str().expect("an id").to_owned()
}

async fn external(app: &TestApp) -> Decimal {
    app.sum("SELECT sum(balance) AS s FROM accounts WHERE kind = 'external'")
        .await
}

#[tokio::test]
async fn each_kind_of_transaction_is_moved_back_the_way_it_came() {
    let app = spawn_app().await;
    let a = app.open_account(1, "USD").await;
    let b = app.funded_account(2, "100.00").await;
    let (_, deposit) = app
        .post_json(
            "/api/v1/deposits",
            json!({"account_id": a, "amount": "50.00"}),
        )
        .await;
    let (_, withdrawal) = app
        .post_json(
            "/api/v1/withdrawals",
            json!({"account_id": b, "amount": "20.00"}),
        )
        .await;
    let (_, transfer) = app
        .post_json(
            "/api/v1/transfers",
            json!({"from_account_id": b, "to_account_id": a, "amount": "30.00"}),
        )
        .await;
    // a: 50 + 30 = 80; b: 100 - 20 - 30 = 50.

    let (status, reversal) = reverse(&app, &id(&deposit), json!({"reference": "r-1"})).await;
    assert_eq!(status, StatusCode::CREATED, "{reversal}");
    assert_eq!(reversal["type"], "reversal");
    assert_eq!(reversal["status"], "success");
    assert_eq!(reversal["reverses"], id(&deposit).as_str());
    assert_eq!(reversal["amount"], "50.00");
    assert_eq!(reversal["from_account_id"], a.as_str());
    assert_eq!(reversal["to_account_id"], Value::Null);
    assert_eq!(reversal["reference"], "r-1");
    assert_eq!(reversal["created_by"], "token-1");
    assert_eq!(app.balance(&a).await, "30.00");

    let (status, back) = reverse(&app, &id(&withdrawal), json!({})).await;
    assert_eq!(status, StatusCode::CREATED, "{back}");
    assert_eq!(back["from_account_id"], Value::Null);
    assert_eq!(back["to_account_id"], b.as_str());
    assert_eq!(app.balance(&b).await, "70.00");

    let (status, back) = reverse(&app, &id(&transfer), json!({"amount": "10"})).await;
    assert_eq!(status, StatusCode::CREATED, "{back}");
    assert_eq!(back["from_account_id"], a.as_str());
    assert_eq!(back["to_account_id"], b.as_str());
    assert_eq!(app.balance(&a).await, "20.00");
    assert_eq!(app.balance(&b).await, "80.00");

    assert_eq!(
        transaction(&app, &id(&deposit)).await["reversed_amount"],
        "50.00"
    );
    assert_eq!(
        transaction(&app, &id(&withdrawal)).await["reversed_amount"],
        "20.00"
    );
    assert_eq!(
        transaction(&app, &id(&transfer)).await["reversed_amount"],
        "10.00"
    );
    let shown = transaction(&app, &id(&reversal)).await;
    assert_eq!(shown["reverses"], id(&deposit).as_str());
    assert_eq!(shown["reversed_amount"], "0.00");
    // 100 funded + 50 deposited - 20 withdrawn, less the 50 and plus the 20 moved back.
    assert_eq!(external(&app).await, Decimal::from(-100));
    app.assert_audit_clean().await;
}

#[tokio::test]
async fn a_refund_moves_captured_money_back_and_is_negative_revenue_of_its_month() {
    let app = spawn_app().await;
    let a = app.funded_account(1, "500.00").await;
    app.post_json(
        "/api/v1/reservations",
        json!({"account_id": a, "order_id": 7, "service_id": 3, "amount": "100", "service_name": "delivery"}),
    )
    .await;
    app.post_json("/api/v1/reservations/7/capture", json!({}))
        .await;
    let capture = app
        .text("SELECT id::text AS t FROM transactions WHERE kind = 'capture'")
        .await;

    let (status, refund) = reverse(&app, &capture, json!({"amount": "30.00"})).await;

    assert_eq!(status, StatusCode::CREATED, "{refund}");
    assert_eq!(refund["order_id"], 7);
    assert_eq!(refund["service_id"], 3);
    assert_eq!(refund["to_account_id"], a.as_str());
    assert_eq!(app.balance(&a).await, "430.00");
    assert_eq!(
        app.sum("SELECT sum(balance) AS s FROM accounts WHERE kind = 'revenue'")
            .await,
        Decimal::from(70)
    );
    let month = chrono::Utc::now().format("%Y-%m");
    let csv = app
        .get(&format!("/api/v1/reports/revenue?month={month}"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(csv, "service_id,service_name,revenue\n3,delivery,70.00\n");
    app.assert_audit_clean().await;
}

#[tokio::test]
async fn reversals_never_add_up_to_more_than_the_original() {
    let app = spawn_app().await;
    let a = app.funded_account(1, "100.00").await;
    let (_, withdrawal) = app
        .post_json(
            "/api/v1/withdrawals",
            json!({"account_id": a, "amount": "40.00"}),
        )
        .await;
    let original = id(&withdrawal);

    let (status, _) = reverse(&app, &original, json!({"amount": "15.00"})).await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, body) = reverse(&app, &original, json!({"amount": "25.01"})).await;
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "reversal_exceeds_original",
    );
    // By default, all that is not reversed yet.
    let (status, rest) = reverse(&app, &original, json!({})).await;
    assert_eq!(status, StatusCode::CREATED, "{rest}");
    assert_eq!(rest["amount"], "25.00");
    let (status, body) = reverse(&app, &original, json!({})).await;
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "reversal_exceeds_original",
    );

    assert_eq!(
        transaction(&app, &original).await["reversed_amount"],
        "40.00"
    );
    assert_eq!(
        app.count("SELECT count(*) AS n FROM transactions WHERE kind = 'reversal'")
            .await,
        2,
        "a refused reversal records nothing"
    );
    assert_eq!(app.balance(&a).await, "100.00");
    app.assert_audit_clean().await;
}

#[tokio::test]
async fn what_cannot_be_reversed_is_refused_and_unknown_ids_are_404() {
    let app = spawn_app().await;
    let a = app.funded_account(1, "10.00").await;
    let (_, failed) = app
        .post_json(
            "/api/v1/withdrawals",
            json!({"account_id": a, "amount": "99.00"}),
        )
        .await;
    app.post_json(
        "/api/v1/reservations",
        json!({"account_id": a, "order_id": 1, "service_id": 1, "amount": "1"}),
    )
    .await;
    app.post_json("/api/v1/reservations/1/release", json!({}))
        .await;
    let reservation = app
        .text("SELECT id::text AS t FROM transactions WHERE kind = 'reservation'")
        .await;
    let release = app
        .text("SELECT id::text AS t FROM transactions WHERE kind = 'release'")
        .await;
    let deposit = app
        .text("SELECT id::text AS t FROM transactions WHERE kind = 'deposit'")
        .await;
    let (_, reversal) = reverse(&app, &deposit, json!({"amount": "1"})).await;

    for original in [id(&failed), reservation, release, id(&reversal)] {
        let (status, body) = reverse(&app, &original, json!({})).await;
        assert_error(
            status,
            &body,
            StatusCode::UNPROCESSABLE_ENTITY,
            "not_reversible",
        );
    }
    let unknown = uuid::Uuid::now_v7().to_string();
    let (status, body) = reverse(&app, &unknown, json!({})).await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
    let (status, body) = app
        .get_json(&format!("/api/v1/transactions/{unknown}"))
        .await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
    let (status, body) = app.get_json("/api/v1/transactions/not-a-uuid").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    app.assert_audit_clean().await;
}

#[tokio::test]
async fn a_reversal_the_paying_side_cannot_cover_is_recorded_as_failed() {
    let app = spawn_app().await;
    let a = app.open_account(1, "USD").await;
    let b = app.open_account(2, "USD").await;
    let (_, deposit) = app
        .post_json(
            "/api/v1/deposits",
            json!({"account_id": a, "amount": "50.00"}),
        )
        .await;
    app.post_json(
        "/api/v1/transfers",
        json!({"from_account_id": a, "to_account_id": b, "amount": "45.00"}),
    )
    .await;

    let (status, failed) = reverse(&app, &id(&deposit), json!({})).await;

    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{failed}");
    assert_eq!(failed["type"], "reversal");
    assert_eq!(failed["status"], "failed");
    assert_eq!(failed["reason"], "insufficient_funds");
    assert_eq!(
        transaction(&app, &id(&deposit)).await["reversed_amount"],
        "0.00"
    );
    assert_eq!(app.balance(&a).await, "5.00");
    app.assert_audit_clean().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ten_concurrent_reversals_of_one_transaction_on_two_instances_never_exceed_it() {
    let first = Arc::new(spawn_app().await);
    let second = Arc::new(spawn_app_on(first.db.clone()).await);
    let a = first.funded_account(1, "100.00").await;
    let b = first.open_account(2, "USD").await;
    let (_, transfer) = first
        .post_json(
            "/api/v1/transfers",
            json!({"from_account_id": a, "to_account_id": b, "amount": "50.00"}),
        )
        .await;
    let original = id(&transfer);

    let attempts = (0..10).map(|i| {
        let app = if i % 2 == 0 {
            first.clone()
        } else {
            second.clone()
        };
        let original = original.clone();
        async move { reverse(&app, &original, json!({"amount": "10.00"})).await }
    });
    let answers = join_all(attempts).await;

    let succeeded = answers
        .iter()
        .filter(|(status, _)| *status == StatusCode::CREATED)
        .count();
    assert_eq!(succeeded, 5, "{answers:?}");
    for (status, body) in answers.iter().filter(|(s, _)| *s != StatusCode::CREATED) {
        assert_error(
            *status,
            body,
            StatusCode::UNPROCESSABLE_ENTITY,
            "reversal_exceeds_original",
        );
    }
    assert_eq!(
        transaction(&first, &original).await["reversed_amount"],
        "50.00"
    );
    assert_eq!(first.balance(&a).await, "100.00");
    assert_eq!(first.balance(&b).await, "0.00");
    first.assert_audit_clean().await;
}

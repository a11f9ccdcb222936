//! Transfer batches: many transfers in one request, all or nothing or each
//! on its own.

use std::sync::Arc;

use futures::future::join_all;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{assert_error, spawn_app, TestApp, TOKEN};

fn transfer(from: &str, to: &str, amount: &str) -> Value {
    json!({"from_account_id": from, "to_account_id": to, "amount": amount})
}

async fn batch(app: &TestApp, body: Value) -> (StatusCode, Value) {
    app.post_json("/api/v1/transfers/batch", body).await
}

async fn transfers_recorded(app: &TestApp) -> i64 {
    app.count("SELECT count(*) AS n FROM transactions WHERE kind = 'transfer'")
        .await
}

#[tokio::test]
async fn an_atomic_batch_makes_every_transfer_in_order() {
    let app = spawn_app().await;
    let a = app.funded_account(1, "100.00").await;
    let b = app.funded_account(2, "100.00").await;
    let c = app.open_account(3, "USD").await;

    // b can send 120 only because a's 50 arrives first.
    let (status, body) = batch(
        &app,
        json!({"transfers": [transfer(&a, &b, "50.00"), transfer(&b, &c, "120.00"),
                             {"from_account_id": a, "to_account_id": c, "amount": "5", "direction": "credit"}]}),
    )
    .await;

    assert_eq!(status, StatusCode::CREATED, "{body}");
    let items = body["items"].as_array().expect("items");
    assert_eq!(items.len(), 3);
    assert!(items.iter().all(|t| t["status"] == "success"), "{body}");
    assert_eq!(items[0]["to_balance_after"], "150.00");
    assert_eq!(items[1]["from_balance_after"], "30.00");
    assert_eq!(
        items[2]["from_account_id"],
        c.as_str(),
        "credit turns it around"
    );
    assert_eq!(app.balance(&a).await, "55.00");
    assert_eq!(app.balance(&b).await, "30.00");
    assert_eq!(app.balance(&c).await, "115.00");
    app.assert_audit_clean().await;
}

#[tokio::test]
async fn an_atomic_batch_with_a_refused_transfer_moves_nothing_and_records_every_transfer_as_failed(
) {
    let app = spawn_app().await;
    let a = app.funded_account(1, "100.00").await;
    let b = app.funded_account(2, "10.00").await;
    let eur = app.open_account(3, "EUR").await;

    let (status, body) = batch(
        &app,
        json!({"atomic": true, "transfers": [transfer(&a, &b, "60.00"), transfer(&a, &eur, "1.00"),
                                             transfer(&b, &a, "10.00"), transfer(&a, &b, "50.01")]}),
    )
    .await;

    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let reasons: Vec<&str> = body["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|t| {
            assert_eq!(t["status"], "failed", "{t}");
            t["reason"].as_str().expect("a reason")
        })
        .collect();
    // The second is refused for its currency, the last because only 50.00
    // would be left by then; the others could have been made.
    assert_eq!(
        reasons,
        [
            "linked_transfer_failed",
            "currency_mismatch",
            "linked_transfer_failed",
            "insufficient_funds"
        ]
    );
    assert_eq!(app.balance(&a).await, "100.00");
    assert_eq!(app.balance(&b).await, "10.00");
    assert_eq!(
        app.count(
            "SELECT count(*) AS n FROM transactions WHERE kind = 'transfer' AND status = 'failed'"
        )
        .await,
        4
    );
    assert_eq!(app.count("SELECT count(*) AS n FROM entries WHERE amount <> 0 AND transaction_id IN (SELECT id FROM transactions WHERE kind = 'transfer')").await, 0);
    app.assert_audit_clean().await;
}

#[tokio::test]
async fn a_batch_that_is_not_atomic_makes_what_it_can() {
    let app = spawn_app().await;
    let a = app.funded_account(1, "100.00").await;
    let b = app.open_account(2, "USD").await;

    let (status, body) = batch(
        &app,
        json!({"atomic": false, "transfers": [transfer(&a, &b, "60.00"), transfer(&a, &b, "60.00"),
                                              transfer(&a, &b, "40.00")]}),
    )
    .await;

    assert_eq!(status, StatusCode::OK, "{body}");
    let statuses: Vec<&str> = body["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|t| t["status"].as_str().expect("a status"))
        .collect();
    assert_eq!(statuses, ["success", "failed", "success"]);
    assert_eq!(body["items"][1]["reason"], "insufficient_funds");
    assert_eq!(app.balance(&a).await, "0.00");
    assert_eq!(app.balance(&b).await, "100.00");
    app.assert_audit_clean().await;
}

#[tokio::test]
async fn a_malformed_batch_is_refused_whole_naming_the_transfer() {
    let app = spawn_app().await;
    let a = app.funded_account(1, "100.00").await;
    let b = app.funded_account(2, "100.00").await;
    let ok = transfer(&a, &b, "1.00");
    let unknown = uuid::Uuid::now_v7().to_string();

    let cases = [
        (
            json!({"transfers": []}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_batch",
            "",
        ),
        (
            json!({"transfers": vec![ok.clone(); 1001]}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_batch",
            "",
        ),
        (
            json!({"transfers": [ok.clone(), transfer(&a, &b, "1.001")]}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_amount",
            "transfers[1].amount",
        ),
        (
            json!({"transfers": [ok.clone(), ok.clone(), {"from_account_id": a, "to_account_id": b, "amount": "1", "colour": "red"}]}),
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "transfers[2]",
        ),
        (
            json!({"transfers": [ok.clone(), {"from_account_id": a, "to_account_id": 5, "amount": "1"}]}),
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "transfers[1].to_account_id: invalid type",
        ),
        (
            json!({"transfers": [ok.clone(), transfer(&a, &a, "1.00")]}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "same_account",
            "transfers[1].to_account_id: a transfer",
        ),
        (
            json!({"transfers": [{"from_account_id": a, "from_user_id": 1, "to_account_id": b, "amount": "1"}]}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_target",
            "transfers[0].from_account_id or from_user_id: give",
        ),
        (
            json!({"transfers": [ok.clone(), {"from_user_id": 0, "to_account_id": b, "amount": "1"}]}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_user_id",
            "transfers[1].from_user_id must be a positive integer",
        ),
        (
            json!({"transfers": [ok.clone(), {"from_account_id": a, "to_account_id": b, "amount": "1", "description": "a\u{7}b"}]}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_text",
            "transfers[1].description",
        ),
        (
            json!({"transfers": [transfer(&a, &unknown, "1.00"), ok.clone()]}),
            StatusCode::NOT_FOUND,
            "not_found",
            "transfers[0].to_account_id: account",
        ),
        (
            json!({"transfers": [ok.clone()], "extra": 1}),
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "",
        ),
    ];
    for (body, status, code, names) in cases {
        let (got, answer) = batch(&app, body).await;
        assert_error(got, &answer, status, code);
        let message = answer["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(names), "{message} should name {names}");
    }
    assert_eq!(transfers_recorded(&app).await, 0, "nothing recorded");
    assert_eq!(app.balance(&a).await, "100.00");
}

#[tokio::test]
async fn one_idempotency_key_covers_the_whole_batch() {
    let app = spawn_app().await;
    let a = app.funded_account(1, "100.00").await;
    let b = app.open_account(2, "USD").await;
    let body = json!({"transfers": [transfer(&a, &b, "10.00"), transfer(&a, &b, "20.00")]});
    let send = || {
        app.post("/api/v1/transfers/batch")
            .header("Idempotency-Key", "batch-1")
            .json(&body)
            .send()
    };

    let first = send().await.unwrap();
    assert_eq!(first.status(), StatusCode::CREATED);
    let first = first.text().await.unwrap();
    let again = send().await.unwrap();
    assert_eq!(again.status(), StatusCode::CREATED);
    assert_eq!(
        again
            .headers()
            .get("Idempotent-Replayed")
            .map(|v| v.as_bytes()),
        Some(&b"true"[..])
    );
    assert_eq!(again.text().await.unwrap(), first);
    assert_eq!(app.balance(&b).await, "30.00");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_refused_atomic_batch_leaves_nothing_while_concurrent_single_transfers_succeed() {
    let app = Arc::new(spawn_app().await);
    let a = app.funded_account(1, "1000.00").await;
    let b = app.funded_account(2, "1000.00").await;
    // Its last leg asks for more than a can ever hold.
    let doomed = json!({"transfers": [transfer(&a, &b, "1.00"), transfer(&b, &a, "1.00"),
                                      transfer(&a, &b, "5000.00")]});

    let batches = (0..10).map(|_| {
        let (app, body) = (app.clone(), doomed.clone());
        async move { batch(&app, body).await.0 }
    });
    let singles = (0..40).map(|i| {
        let app = app.clone();
        let body = if i % 2 == 0 {
            transfer(&a, &b, "3.00")
        } else {
            transfer(&b, &a, "1.00")
        };
        async move { app.post_json("/api/v1/transfers", body).await.0 }
    });
    let (batches, singles) = tokio::join!(join_all(batches), join_all(singles));

    assert!(
        batches
            .iter()
            .all(|s| *s == StatusCode::UNPROCESSABLE_ENTITY),
        "{batches:?}"
    );
    assert!(
        singles.iter().all(|s| *s == StatusCode::CREATED),
        "{singles:?}"
    );
    // Only the singles moved money: 20 x 3 one way, 20 x 1 the other.
    assert_eq!(app.balance(&a).await, "960.00");
    assert_eq!(app.balance(&b).await, "1040.00");
    app.assert_audit_clean().await;
}

#[tokio::test]
async fn the_largest_valid_batch_is_accepted_whatever_its_texts() {
    let app = spawn_app().await;
    let a = app.funded_account(1, "100.00").await;
    let b = app.open_account(2, "USD").await;
    // A thousand transfers, each with a description and a reference at
    // their 500-character longest, of a character JSON escapes as a
    // surrogate pair (12 bytes each): a body of about 12 MB.
    let text = "😀".repeat(500);
    let one = json!({"from_account_id": a, "to_account_id": b, "amount": "0.01",
                     "description": text, "reference": text});
    let body = serde_json::to_string(&json!({"transfers": vec![one; 1000]}))
        .unwrap()
        .replace('😀', "\\ud83d\\ude00");
    assert!(body.len() > 12_000_000, "{}", body.len());
    let response = app
        .client
        .post(format!("{}/api/v1/transfers/batch", app.address))
        .bearer_auth(TOKEN)
        .header("Content-Type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(transfers_recorded(&app).await, 1000);
    assert_eq!(app.balance(&b).await, "10.00");
}

#[tokio::test]
async fn a_batch_transfers_amount_given_as_a_json_number_is_kept_exactly() {
    let app = spawn_app().await;
    let a = app.funded_account(1, "100.00").await;
    let b = app.open_account(2, "USD").await;
    // Read as text, so that the numbers reach the service exactly as written.
    let body: Value = serde_json::from_str(&format!(
        r#"{{"transfers": [{{"from_account_id": "{a}", "to_account_id": "{b}", "amount": 45.5}},
                          {{"from_account_id": "{a}", "to_account_id": "{b}", "amount": 0.07}}]}}"#
    ))
    .expect("a batch");

    let (status, answer) = batch(&app, body).await;

    assert_eq!(status, StatusCode::CREATED, "{answer}");
    assert_eq!(answer["items"][0]["amount"], "45.50");
    assert_eq!(answer["items"][1]["amount"], "0.07");
    assert_eq!(app.balance(&b).await, "45.57");
    let (status, answer) = batch(
        &app,
        json!({"transfers": [{"from_account_id": a, "to_account_id": b, "amount": 1.001}]}),
    )
    .await;
    assert_error(
        status,
        &answer,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_amount",
    );
}

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{assert_error, read, spawn_app, spawn_app_on};

#[tokio::test]
async fn the_same_key_and_body_replays_the_stored_answer_without_a_second_effect() {
    let app = spawn_app().await;
    let account = app.open_account(1, "USD").await;
    let body = json!({"account_id": account, "amount": "25.00"});

    let first = app
        .post("/api/v1/deposits")
        .header("Idempotency-Key", "dep-1")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(first.headers().get("idempotent-replayed").is_none());
    let (status1, body1) = read(first).await;
    // The same request, with the amount written as a number and fields reordered.
    let second = app
        .post("/api/v1/deposits")
        .header("Idempotency-Key", "dep-1")
        .header("Content-Type", "application/json")
        .body(format!(
            "{{\"amount\": \"25.00\", \"account_id\": \"{account}\"}}"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(second.headers().get("idempotent-replayed").unwrap(), "true");
    let (status2, body2) = read(second).await;

    assert_eq!(status1, StatusCode::CREATED);
    assert_eq!((status2, &body2), (status1, &body1));
    assert_eq!(app.balance(&account).await, "25.00");
    assert_eq!(app.count("SELECT count(*) AS n FROM transactions").await, 1);
}

#[tokio::test]
async fn a_recorded_failure_is_replayed_too() {
    let app = spawn_app().await;
    let account = app.funded_account(1, "5").await;
    let body = json!({"account_id": account, "amount": "6"});
    let send = || {
        app.post("/api/v1/withdrawals")
            .header("Idempotency-Key", "w-1")
            .json(&body)
            .send()
    };

    let (status1, body1) = read(send().await.unwrap()).await;
    app.deposit(&account, "10").await;
    let (status2, body2) = read(send().await.unwrap()).await;

    assert_eq!(status1, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body1["reason"], "insufficient_funds");
    assert_eq!((status2, body2), (status1, body1));
    assert_eq!(app.balance(&account).await, "15.00");
}

#[tokio::test]
async fn the_same_key_with_another_body_or_route_is_422() {
    let app = spawn_app().await;
    let account = app.funded_account(1, "100").await;
    let send = |path: &str, body: serde_json::Value| {
        app.post(path)
            .header("Idempotency-Key", "k")
            .json(&body)
            .send()
    };

    let (status, _) = read(
        send(
            "/api/v1/withdrawals",
            json!({"account_id": account, "amount": "1"}),
        )
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, body) = read(
        send(
            "/api/v1/withdrawals",
            json!({"account_id": account, "amount": "2"}),
        )
        .await
        .unwrap(),
    )
    .await;
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "idempotency_key_reused",
    );
    let (status, body) = read(
        send(
            "/api/v1/deposits",
            json!({"account_id": account, "amount": "1"}),
        )
        .await
        .unwrap(),
    )
    .await;
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "idempotency_key_reused",
    );
    assert_eq!(app.balance(&account).await, "99.00");
}

#[tokio::test]
async fn a_request_refused_before_it_ran_leaves_the_key_free() {
    let app = spawn_app().await;
    let account = app.open_account(1, "USD").await;
    let send = |amount: &str| {
        app.post("/api/v1/deposits")
            .header("Idempotency-Key", "retry-me")
            .json(&json!({"account_id": account, "amount": amount}))
            .send()
    };
    let (status, _) = read(send("0").await.unwrap()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _) = read(send("3").await.unwrap()).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(app.balance(&account).await, "3.00");
}

#[tokio::test]
async fn bad_idempotency_keys_are_422() {
    let app = spawn_app().await;
    for key in ["".to_owned(), "k".repeat(256), "tab\there".to_owned()] {
        let response = app
            .post("/api/v1/accounts")
            .header("Idempotency-Key", key.as_str())
            .json(&json!({"user_id": 1}))
            .send()
            .await
            .unwrap();
        let (status, body) = read(response).await;
        assert_error(
            status,
            &body,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_idempotency_key",
        );
    }
    assert_eq!(app.count("SELECT count(*) AS n FROM accounts").await, 0);
}

#[tokio::test]
async fn twenty_concurrent_requests_with_one_key_move_money_once() {
    let app = spawn_app().await;
    let from = app.funded_account(1, "100").await;
    let to = app.open_account(2, "USD").await;
    let body = json!({"from_account_id": from, "to_account_id": to, "amount": "7.50"});

    let requests = (0..20).map(|_| {
        let request = app
            .post("/api/v1/transfers")
            .header("Idempotency-Key", "same-key")
            .json(&body);
        async move { read(request.send().await.unwrap()).await }
    });
    let answers = futures::future::join_all(requests).await;

    let created: Vec<_> = answers
        .iter()
        .filter(|(s, _)| *s == StatusCode::CREATED)
        .collect();
    assert!(!created.is_empty());
    for (status, body) in &answers {
        if *status == StatusCode::CONFLICT {
            assert_error(
                *status,
                body,
                StatusCode::CONFLICT,
                "idempotency_key_in_flight",
            );
        } else {
            assert_eq!(*status, StatusCode::CREATED, "{body}");
            assert_eq!(
                body, &created[0].1,
                "every success is the same stored answer"
            );
        }
    }
    assert_eq!(app.balance(&from).await, "92.50");
    assert_eq!(app.balance(&to).await, "7.50");
    assert_eq!(
        app.count("SELECT count(*) AS n FROM transactions WHERE kind = 'transfer'")
            .await,
        1
    );
    app.assert_audit_clean().await;
}

#[tokio::test]
async fn a_stored_answer_is_replayed_by_another_instance_after_a_restart() {
    let first = spawn_app().await;
    let account = first.funded_account(1, "100").await;
    let body = json!({"account_id": account, "amount": "40"});
    let (status1, body1) = read(
        first
            .post("/api/v1/withdrawals")
            .header("Idempotency-Key", "survives")
            .json(&body)
            .send()
            .await
            .unwrap(),
    )
    .await;

    let second = spawn_app_on(first.db.clone()).await;
    let (status2, body2) = read(
        second
            .post("/api/v1/withdrawals")
            .header("Idempotency-Key", "survives")
            .json(&body)
            .send()
            .await
            .unwrap(),
    )
    .await;

    assert_eq!(status1, StatusCode::CREATED);
    assert_eq!((status2, body2), (status1, body1));
    assert_eq!(second.balance(&account).await, "60.00");
}

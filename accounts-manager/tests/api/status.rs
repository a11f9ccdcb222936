//! Frozen and closed accounts: freeze (money in, none out of the balance),
//! unfreeze, close (empty only, for good), decided under the account's lock.

use std::sync::Arc;

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{assert_error, spawn_app, TestApp};

async fn restate(app: &TestApp, account: &str, what: &str, body: Value) -> (StatusCode, Value) {
    app.post_json(&format!("/api/v1/accounts/{account}/{what}"), body)
        .await
}

async fn freeze(app: &TestApp, account: &str) -> (StatusCode, Value) {
    restate(
        app,
        account,
        "freeze",
        json!({"reason": "under investigation"}),
    )
    .await
}

/// The account's history, oldest first.
async fn history(app: &TestApp, account: &str) -> Vec<Value> {
    let (status, page) = app
        .get_json(&format!(
            "/api/v1/accounts/{account}/transactions?order=asc&limit=1000"
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    page["items"].as_array().unwrap().clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_freeze_racing_16_movements_out_ends_in_one_order() {
    let app = Arc::new(spawn_app().await);
    let a = app.funded_account(1, "1000").await;
    let b = app.funded_account(2, "1000").await;
    let movers: Vec<_> = (0..16)
        .map(|i| {
            let (app, a, b) = (app.clone(), a.clone(), b.clone());
            tokio::spawn(async move {
                let mut answers = Vec::new();
                for _ in 0..6 {
                    let (path, body) = match i % 3 {
                        0 => ("/api/v1/withdrawals", json!({"account_id": a, "amount": "1"})),
                        1 => ("/api/v1/transfers", json!({"from_account_id": a, "to_account_id": b, "amount": "1"})),
                        // Out of `a` too: a credit moves from `to` to `from`.
                        _ => ("/api/v1/transfers", json!({"from_account_id": b, "to_account_id": a, "amount": "1", "direction": "credit"})),
                    };
                    answers.push(app.post_json(path, body).await);
                }
                answers
            })
        })
        .collect();
    tokio::time::sleep(std::time::Duration::from_millis(30)).await;
    let (status, frozen) = freeze(&app, &a).await;
    assert_eq!(status, StatusCode::OK, "{frozen}");
    assert_eq!(frozen["status"], "frozen");
    assert_eq!(frozen["status_reason"], "under investigation");
    // Whatever is asked after the freeze answered is refused.
    for (path, body) in [
        (
            "/api/v1/withdrawals",
            json!({"account_id": a, "amount": "1"}),
        ),
        (
            "/api/v1/transfers",
            json!({"from_account_id": a, "to_account_id": b, "amount": "1"}),
        ),
    ] {
        let (status, refused) = app.post_json(path, body).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
        assert_eq!(refused["status"], "failed");
        assert_eq!(refused["reason"], "account_frozen");
    }
    let mut moved_out = rust_decimal::Decimal::ZERO;
    for mover in movers {
        for (status, answer) in mover.await.unwrap() {
            match status {
                StatusCode::CREATED => moved_out += rust_decimal::Decimal::ONE,
                StatusCode::UNPROCESSABLE_ENTITY => assert_eq!(answer["reason"], "account_frozen"),
                other => panic!("{other}: {answer}"),
            }
        }
    }
    // In the order the ledger applied them, no movement out succeeds after
    // the first one the freeze refused.
    let out_of_a = |t: &Value| t["from_account_id"] == a.as_str() && t["type"] != "deposit";
    let mut refused_seen = false;
    for t in history(&app, &a).await.iter().filter(|t| out_of_a(t)) {
        if t["reason"] == "account_frozen" {
            refused_seen = true;
        } else {
            assert!(
                !(refused_seen && t["status"] == "success"),
                "moved out after the freeze: {t}"
            );
        }
    }
    assert!(refused_seen);
    let expected = rust_decimal::Decimal::from(1000) - moved_out;
    assert_eq!(app.balance(&a).await, format!("{expected:.2}"));
    app.assert_audit_clean().await;
}

#[tokio::test]
async fn a_frozen_account_takes_money_in_lets_none_out_and_its_holds_still_end() {
    let app = spawn_app().await;
    let a = app.funded_account(1, "100").await;
    let b = app.funded_account(2, "100").await;
    for order in [1, 2] {
        let (status, held) = app
            .post_json(
                "/api/v1/reservations",
                json!({"account_id": a, "order_id": order, "service_id": 1, "amount": "10"}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{held}");
    }
    let (_, deposit) = app
        .post_json("/api/v1/deposits", json!({"account_id": a, "amount": "5"}))
        .await;
    let (_, incoming) = app
        .post_json(
            "/api/v1/transfers",
            json!({"from_account_id": b, "to_account_id": a, "amount": "5"}),
        )
        .await;
    assert_eq!(freeze(&app, &a).await.0, StatusCode::OK);

    // In: deposits and transfers to it.
    let (status, _) = app
        .post_json("/api/v1/deposits", json!({"account_id": a, "amount": "1"}))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _) = app
        .post_json(
            "/api/v1/transfers",
            json!({"from_account_id": b, "to_account_id": a, "amount": "1"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    // Out, whichever field names it: refused, recorded failed.
    let deposit_id = deposit["transaction_id"].as_str().unwrap();
    let incoming_id = incoming["transaction_id"].as_str().unwrap();
    for (path, body) in [
        (
            "/api/v1/withdrawals".to_owned(),
            json!({"account_id": a, "amount": "1"}),
        ),
        (
            "/api/v1/withdrawals".to_owned(),
            json!({"user_id": 1, "amount": "1"}),
        ),
        (
            "/api/v1/transfers".to_owned(),
            json!({"from_account_id": a, "to_account_id": b, "amount": "1"}),
        ),
        (
            "/api/v1/transfers".to_owned(),
            json!({"from_account_id": b, "to_account_id": a, "amount": "1", "direction": "credit"}),
        ),
        (
            "/api/v1/reservations".to_owned(),
            json!({"account_id": a, "order_id": 3, "service_id": 1, "amount": "1"}),
        ),
        // A reversal that pays back from it: a deposit's goes back out.
        (
            format!("/api/v1/transactions/{deposit_id}/reversals"),
            json!({}),
        ),
        (
            format!("/api/v1/transactions/{incoming_id}/reversals"),
            json!({}),
        ),
    ] {
        let (status, refused) = app.post_json(&path, body).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{path}: {refused}"
        );
        assert_eq!(refused["reason"], "account_frozen", "{path}: {refused}");
    }
    let (status, batch) = app
        .post_json(
            "/api/v1/transfers/batch",
            json!({"transfers": [{"from_account_id": a, "to_account_id": b, "amount": "1"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{batch}");
    assert_eq!(batch["items"][0]["reason"], "account_frozen");
    // Holds placed before end as asked.
    let (status, captured) = app
        .post_json("/api/v1/reservations/1/capture", json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{captured}");
    let (status, released) = app
        .post_json("/api/v1/reservations/2/release", json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{released}");
    // 100 + 5 + 5 + 1 + 1 - 10 captured.
    assert_eq!(app.balance(&a).await, "102.00");

    let (status, answer) = freeze(&app, &a).await;
    assert_error(status, &answer, StatusCode::CONFLICT, "account_frozen");
    // The feed carries the freeze, with the account as data.
    let (status, feed) = app.get_json("/api/v1/events?limit=1000").await;
    assert_eq!(status, StatusCode::OK, "{feed}");
    let frozen_event = feed["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["type"] == "account.frozen")
        .unwrap_or_else(|| panic!("no account.frozen event: {feed}"));
    assert_eq!(frozen_event["data"]["account_id"], a.as_str());
    assert_eq!(frozen_event["data"]["status"], "frozen");
    assert_eq!(frozen_event["data"]["status_reason"], "under investigation");
    let (status, active) = restate(&app, &a, "unfreeze", json!({})).await;
    assert_eq!(status, StatusCode::OK, "{active}");
    assert_eq!(
        (active["status"].as_str(), &active["status_reason"]),
        (Some("active"), &Value::Null)
    );
    let (status, answer) = restate(&app, &a, "unfreeze", json!({})).await;
    assert_error(status, &answer, StatusCode::CONFLICT, "account_not_frozen");
    let (status, _) = app
        .post_json(
            "/api/v1/withdrawals",
            json!({"account_id": a, "amount": "1"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "money out again once active");
    let (_, feed) = app.get_json("/api/v1/events?limit=1000").await;
    let positions: Vec<i64> = feed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["position"].as_str().unwrap().parse().unwrap())
        .collect();
    assert!(
        positions.windows(2).all(|w| w[0] < w[1]),
        "strictly increasing"
    );
    let kinds: Vec<&str> = feed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .filter(|k| k.starts_with("account."))
        .collect();
    assert_eq!(kinds, ["account.frozen", "account.unfrozen"]);
    // The last event is the withdrawal made after the unfreeze.
    assert_eq!(
        feed["items"].as_array().unwrap().last().unwrap()["data"]["type"],
        "withdrawal"
    );
    app.assert_audit_clean().await;
}

#[tokio::test]
async fn a_close_needs_an_empty_account_and_is_for_good() {
    let app = spawn_app().await;
    let a = app.funded_account(1, "10").await;
    let b = app.funded_account(2, "10").await;
    let close = |account: String| {
        let app = &app;
        async move { restate(app, &account, "close", json!({"reason": "customer left"})).await }
    };
    let (status, answer) = close(a.clone()).await;
    assert_error(status, &answer, StatusCode::CONFLICT, "account_not_empty");
    app.post_json(
        "/api/v1/reservations",
        json!({"account_id": a, "order_id": 9, "service_id": 1, "amount": "10"}),
    )
    .await;
    let (status, answer) = close(a.clone()).await;
    assert_error(status, &answer, StatusCode::CONFLICT, "account_not_empty");
    app.post_json("/api/v1/reservations/9/release", json!({}))
        .await;
    app.post_json(
        "/api/v1/withdrawals",
        json!({"account_id": a, "amount": "10"}),
    )
    .await;
    // A frozen empty account closes too.
    assert_eq!(freeze(&app, &a).await.0, StatusCode::OK);
    let (status, closed) = close(a.clone()).await;
    assert_eq!(status, StatusCode::OK, "{closed}");
    assert_eq!(closed["status"], "closed");
    assert_eq!(closed["status_reason"], "customer left");

    for (path, body) in [
        ("/api/v1/deposits", json!({"account_id": a, "amount": "1"})),
        (
            "/api/v1/transfers",
            json!({"from_account_id": b, "to_account_id": a, "amount": "1"}),
        ),
        // Before any funds check.
        (
            "/api/v1/withdrawals",
            json!({"account_id": a, "amount": "1000"}),
        ),
    ] {
        let (status, refused) = app.post_json(path, body).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
        assert_eq!(refused["reason"], "account_closed", "{path}");
    }
    for what in ["freeze", "unfreeze", "close"] {
        let body = if what == "unfreeze" {
            json!({})
        } else {
            json!({"reason": "again"})
        };
        let (status, answer) = restate(&app, &a, what, body).await;
        assert_error(status, &answer, StatusCode::CONFLICT, "account_closed");
    }
    // A deposit by user skips the closed account and opens another.
    let (status, deposit) = app
        .post_json("/api/v1/deposits", json!({"user_id": 1, "amount": "3"}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{deposit}");
    let fresh = deposit["to_account_id"].as_str().unwrap();
    assert_ne!(fresh, a);
    let (_, accounts) = app.get_json("/api/v1/users/1/accounts").await;
    assert_eq!(accounts["items"].as_array().unwrap().len(), 2);
    let (_, listed) = app.get_json("/api/v1/accounts?user_id=1").await;
    assert_eq!(listed["items"][0]["status"], "closed");
    assert_eq!(listed["items"][1]["status"], "active");
    let (_, closed) = app.get_json("/api/v1/accounts?status=closed").await;
    assert_eq!(closed["total_count"], 1);
    assert_eq!(closed["items"][0]["account_id"], a.as_str());
    let (_, active) = app.get_json("/api/v1/accounts?status=active").await;
    assert_eq!(active["total_count"], 2);
    let (status, answer) = app.get_json("/api/v1/accounts?status=gone").await;
    assert_error(
        status,
        &answer,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_status",
    );
    app.assert_audit_clean().await;
}

#[tokio::test]
async fn a_freeze_or_close_needs_a_reason() {
    let app = spawn_app().await;
    let a = app.open_account(1, "USD").await;
    for what in ["freeze", "close"] {
        for body in [
            json!({}),
            json!({"reason": null}),
            json!({"reason": "  "}),
            json!({"reason": "x".repeat(501)}),
            json!({"reason": "a\u{7}b"}),
        ] {
            let (status, answer) = restate(&app, &a, what, body).await;
            assert_error(
                status,
                &answer,
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_reason",
            );
        }
        let (status, answer) = restate(&app, &a, what, json!({"reason": 5})).await;
        assert_error(status, &answer, StatusCode::BAD_REQUEST, "invalid_request");
    }
    let (status, answer) = restate(&app, &a, "unfreeze", json!({"reason": "x"})).await;
    assert_error(status, &answer, StatusCode::BAD_REQUEST, "invalid_request");
    let (status, answer) = freeze(&app, &uuid::Uuid::new_v4().to_string()).await;
    assert_error(status, &answer, StatusCode::NOT_FOUND, "not_found");
    let (_, account) = app.get_json(&format!("/api/v1/accounts/{a}")).await;
    assert_eq!(account["status"], "active", "nothing changed");
}

//! Balances at a point in time, checked against the history replayed.

use std::sync::Arc;

use chrono::{DateTime, SecondsFormat, Utc};
use futures::StreamExt;
use rand::Rng;
use reqwest::StatusCode;
use rust_decimal::Decimal;
use serde_json::{json, Value};

use crate::helpers::{assert_error, spawn_app, TestApp};

async fn at(app: &TestApp, account: &str, time: Option<DateTime<Utc>>) -> (StatusCode, Value) {
    let query = time.map_or_else(String::new, |t| {
        format!(
            "?at={}",
            t.to_rfc3339_opts(SecondsFormat::Micros, true)
                .replace('+', "%2B")
        )
    });
    app.get_json(&format!("/api/v1/accounts/{account}/balance{query}"))
        .await
}

fn decimal(v: &Value) -> Decimal {
    v.as_str().expect("a decimal").parse().expect("decimal")
}

/// The account's parts replayed from its entries up to `time`.
async fn replayed(app: &TestApp, account: &str, time: &str) -> (Decimal, Decimal) {
    let sum = |bucket: &str| {
        format!(
            "SELECT COALESCE(sum(e.amount), 0) AS s FROM entries e JOIN transactions t ON t.id = e.transaction_id \
             WHERE e.account_id = '{account}' AND e.bucket = '{bucket}' AND t.created_at <= '{time}'"
        )
    };
    (
        app.sum(&sum("balance")).await,
        app.sum(&sum("reserved")).await,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_balance_at_any_time_is_the_history_replayed_up_to_it() {
    let app = Arc::new(spawn_app().await);
    let accounts: Vec<String> = futures::future::join_all((1..=3).map(|user| {
        let app = app.clone();
        async move { app.funded_account(user, "500.00").await }
    }))
    .await;
    let before_any = Utc::now() - chrono::Duration::seconds(5);
    // A thousand movements of every kind on three accounts, many at once.
    let plans: Vec<(usize, usize, i64, u8)> = {
        let mut rng = rand::rng();
        (0..1000)
            .map(|_| {
                let from = rng.random_range(0..3);
                let to = (from + rng.random_range(1..3)) % 3;
                (
                    from,
                    to,
                    rng.random_range(1..=9_000),
                    rng.random_range(0..5),
                )
            })
            .collect()
    };
    let accounts = Arc::new(accounts);
    futures::stream::iter(plans.into_iter().enumerate())
        .map(|(i, (from, to, cents, kind))| {
            let (app, accounts) = (app.clone(), accounts.clone());
            async move {
                let amount = Decimal::new(cents, 2).to_string();
                let (a, b) = (&accounts[from], &accounts[to]);
                match kind {
                    0 => {
                        app.post_json("/api/v1/deposits", json!({"account_id": a, "amount": amount}))
                            .await;
                    }
                    1 => {
                        app.post_json("/api/v1/withdrawals", json!({"account_id": a, "amount": amount}))
                            .await;
                    }
                    2 => {
                        let order = i as i64 + 1;
                        let (status, _) = app
                            .post_json(
                                "/api/v1/reservations",
                                json!({"account_id": a, "order_id": order, "service_id": 1, "amount": amount}),
                            )
                            .await;
                        if status == StatusCode::CREATED {
                            let action = if cents % 2 == 0 { "capture" } else { "release" };
                            app.post_json(&format!("/api/v1/reservations/{order}/{action}"), json!({}))
                                .await;
                        }
                    }
                    _ => {
                        app.post_json(
                            "/api/v1/transfers",
                            json!({"from_account_id": a, "to_account_id": b, "amount": amount}),
                        )
                        .await;
                    }
                }
            }
        })
        .buffer_unordered(16)
        .collect::<Vec<()>>()
        .await;

    for account in accounts.iter() {
        let (status, body) = at(&app, account, Some(before_any)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(
            (decimal(&body["balance"]), decimal(&body["reserved"])),
            (Decimal::ZERO, Decimal::ZERO)
        );
        // Every 37th moment the account's history knows, and now.
        let times = app
            .text(&format!(
                "SELECT string_agg(to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), ',' ORDER BY created_at) AS t \
                 FROM (SELECT DISTINCT created_at FROM transactions WHERE from_account_id = '{account}' OR to_account_id = '{account}') c"
            ))
            .await;
        let times: Vec<&str> = times.split(',').collect();
        assert!(times.len() > 100, "{} moments", times.len());
        for time in times.iter().step_by(37).chain(times.last()) {
            let parsed: DateTime<Utc> = time.parse().expect("a time");
            let (status, body) = at(&app, account, Some(parsed)).await;
            assert_eq!(status, StatusCode::OK, "{body}");
            let answered = (decimal(&body["balance"]), decimal(&body["reserved"]));
            assert_eq!(
                answered,
                replayed(&app, account, time).await,
                "{account} at {time}"
            );
        }
        let (_, now) = at(&app, account, None).await;
        let (_, current) = app.get_json(&format!("/api/v1/accounts/{account}")).await;
        assert_eq!(now["balance"], current["balance"]);
        assert_eq!(now["reserved"], current["reserved"]);
        assert_eq!(now["currency"], "USD");
    }
    app.assert_audit_clean().await;
}

#[tokio::test]
async fn a_time_in_the_future_or_not_a_time_is_invalid_at_and_unknown_accounts_are_404() {
    let app = spawn_app().await;
    let a = app.funded_account(1, "10.00").await;

    let (status, body) = at(&app, &a, Some(Utc::now() + chrono::Duration::minutes(5))).await;
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_at",
    );
    let (status, body) = app
        .get_json(&format!("/api/v1/accounts/{a}/balance?at=yesterday"))
        .await;
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_at",
    );
    let unknown = uuid::Uuid::now_v7();
    let (status, body) = at(&app, &unknown.to_string(), None).await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
}

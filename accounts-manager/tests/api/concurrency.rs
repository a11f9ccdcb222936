use std::sync::Arc;

use futures::StreamExt;
use rand::Rng;
use reqwest::StatusCode;
use rust_decimal::Decimal;
use serde_json::json;

use crate::helpers::{read, spawn_app, spawn_app_on, TestApp};

const ACCOUNTS: usize = 30;
const TRANSFERS: usize = 2_000;
const CLIENTS: usize = 32;

struct Tally {
    succeeded: usize,
    failed: usize,
}

/// Sends `TRANSFERS` random transfers (some larger than any balance) from
/// `CLIENTS` concurrent clients spread over `apps`, and counts the answers.
async fn random_transfers(apps: &[Arc<TestApp>], accounts: &[String]) -> Tally {
    let plans: Vec<(usize, usize, usize, String)> = {
        let mut rng = rand::rng();
        (0..TRANSFERS)
            .map(|i| {
                let from = rng.random_range(0..accounts.len());
                let to = (from + rng.random_range(1..accounts.len())) % accounts.len();
                // Cents up to 150.00: the accounts start with 100.00, so some overdraw.
                let cents: i64 = rng.random_range(1..=15_000);
                (i % apps.len(), from, to, Decimal::new(cents, 2).to_string())
            })
            .collect()
    };
    let answers: Vec<(StatusCode, serde_json::Value)> = futures::stream::iter(plans)
        .map(|(app, from, to, amount)| {
            let app = apps[app].clone();
            let body = json!({"from_account_id": accounts[from], "to_account_id": accounts[to], "amount": amount});
            async move { read(app.post("/api/v1/transfers").json(&body).send().await.expect("sent")).await }
        })
        .buffer_unordered(CLIENTS)
        .collect()
        .await;
    let mut tally = Tally {
        succeeded: 0,
        failed: 0,
    };
    for (status, body) in answers {
        match status {
            StatusCode::CREATED => tally.succeeded += 1,
            StatusCode::UNPROCESSABLE_ENTITY => {
                assert_eq!(body["reason"], "insufficient_funds", "{body}");
                tally.failed += 1;
            }
            other => panic!("unexpected answer {other}: {body}"),
        }
    }
    tally
}

async fn assert_ledger_invariants(app: &TestApp, accounts: &[String], tally: &Tally) {
    let mut total = Decimal::ZERO;
    for account in accounts {
        let balance: Decimal = app.balance(account).await.parse().unwrap();
        assert!(
            balance >= Decimal::ZERO,
            "{account} went negative: {balance}"
        );
        total += balance;
    }
    assert_eq!(
        total,
        Decimal::from(100 * ACCOUNTS as i64),
        "money was created or lost"
    );
    assert_eq!(tally.succeeded + tally.failed, TRANSFERS);
    let recorded_ok = app
        .count(
            "SELECT count(*) AS n FROM transactions WHERE kind = 'transfer' AND status = 'success'",
        )
        .await;
    let recorded_failed = app
        .count(
            "SELECT count(*) AS n FROM transactions WHERE kind = 'transfer' AND status = 'failed'",
        )
        .await;
    assert_eq!(recorded_ok as usize, tally.succeeded);
    assert_eq!(recorded_failed as usize, tally.failed);
    assert!(
        tally.failed > 0 && tally.succeeded > 0,
        "the mix exercises both outcomes"
    );
    app.assert_audit_clean().await;
}

async fn funded_accounts(app: &TestApp) -> Vec<String> {
    let mut accounts = Vec::with_capacity(ACCOUNTS);
    for user in 0..ACCOUNTS {
        accounts.push(app.funded_account(user as i64 + 1, "100.00").await);
    }
    accounts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn thousands_of_concurrent_random_transfers_conserve_money() {
    let app = Arc::new(spawn_app().await);
    let accounts = funded_accounts(&app).await;

    let tally = random_transfers(std::slice::from_ref(&app), &accounts).await;

    assert_ledger_invariants(&app, &accounts, &tally).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_on_one_database_keep_every_guarantee() {
    let first = Arc::new(spawn_app().await);
    let second = Arc::new(spawn_app_on(first.db.clone()).await);
    let accounts = funded_accounts(&first).await;

    let tally = random_transfers(&[first.clone(), second.clone()], &accounts).await;

    assert_ledger_invariants(&second, &accounts, &tally).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn opposite_transfers_between_two_accounts_never_deadlock() {
    let app = Arc::new(spawn_app().await);
    let a = app.funded_account(1, "1000").await;
    let b = app.funded_account(2, "1000").await;

    let answers: Vec<StatusCode> = futures::stream::iter(0..400)
        .map(|i| {
            let (from, to) = if i % 2 == 0 { (&a, &b) } else { (&b, &a) };
            let request = app
                .post("/api/v1/transfers")
                .json(&json!({"from_account_id": from, "to_account_id": to, "amount": "3"}));
            async move { request.send().await.expect("sent").status() }
        })
        .buffer_unordered(32)
        .collect()
        .await;

    assert!(
        answers.iter().all(|s| *s == StatusCode::CREATED),
        "{answers:?}"
    );
    assert_eq!(app.balance(&a).await, "1000.00");
    assert_eq!(app.balance(&b).await, "1000.00");
    app.assert_audit_clean().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_withdrawals_never_overdraw() {
    let app = Arc::new(spawn_app().await);
    let account = app.funded_account(1, "100").await;

    let answers: Vec<StatusCode> = futures::stream::iter(0..50)
        .map(|_| {
            let request = app
                .post("/api/v1/withdrawals")
                .json(&json!({"account_id": account, "amount": "3"}));
            async move { request.send().await.expect("sent").status() }
        })
        .buffer_unordered(25)
        .collect()
        .await;

    let succeeded = answers
        .iter()
        .filter(|s| **s == StatusCode::CREATED)
        .count();
    assert_eq!(succeeded, 33, "{answers:?}");
    assert_eq!(
        answers
            .iter()
            .filter(|s| **s == StatusCode::UNPROCESSABLE_ENTITY)
            .count(),
        17
    );
    assert_eq!(app.balance(&account).await, "1.00");
    app.assert_audit_clean().await;
}

use std::sync::Arc;

use futures::StreamExt;
use rand::Rng;
use reqwest::StatusCode;
use rust_decimal::Decimal;
use serde_json::{json, Value};

use crate::helpers::{assert_error, read, spawn_app, spawn_app_on, TestApp};

const ACCOUNTS: usize = 30;
const OPERATIONS: usize = 2_000;
const CLIENTS: usize = 32;

/// How an order made in the mix ends.
#[derive(Clone, Copy)]
enum Finish {
    Capture,
    Release,
    /// A capture and a release sent at once (to different instances when
    /// there are two): exactly one may win.
    Race,
}

enum Operation {
    Transfer {
        app: usize,
        from: usize,
        to: usize,
        amount: String,
    },
    Order {
        apps: (usize, usize),
        account: usize,
        order_id: i64,
        amount: String,
        finish: Finish,
    },
}

#[derive(Default)]
struct Tally {
    transfers_ok: usize,
    transfers_failed: usize,
    reserved: usize,
    reserve_failed: usize,
    captured: usize,
    released: usize,
    captured_amount: Decimal,
}

impl Tally {
    fn add(&mut self, other: Tally) {
        self.transfers_ok += other.transfers_ok;
        self.transfers_failed += other.transfers_failed;
        self.reserved += other.reserved;
        self.reserve_failed += other.reserve_failed;
        self.captured += other.captured;
        self.released += other.released;
        self.captured_amount += other.captured_amount;
    }
}

fn random_operations(apps: usize) -> Vec<Operation> {
    let mut rng = rand::rng();
    (0..OPERATIONS)
        .map(|i| {
            let from = rng.random_range(0..ACCOUNTS);
            // Cents up to 150.00: the accounts start with 100.00, so some overdraw.
            let amount = Decimal::new(rng.random_range(1..=15_000), 2).to_string();
            if i % 3 == 0 {
                let finish = match rng.random_range(0..3) {
                    0 => Finish::Capture,
                    1 => Finish::Release,
                    _ => Finish::Race,
                };
                Operation::Order {
                    apps: (i % apps, (i + 1) % apps),
                    account: from,
                    order_id: i as i64 + 1,
                    amount,
                    finish,
                }
            } else {
                let to = (from + rng.random_range(1..ACCOUNTS)) % ACCOUNTS;
                Operation::Transfer {
                    app: i % apps,
                    from,
                    to,
                    amount,
                }
            }
        })
        .collect()
}

async fn finish_order(app: &TestApp, order_id: i64, action: &str) -> (StatusCode, Value) {
    read(
        app.post(&format!("/api/v1/reservations/{order_id}/{action}"))
            .send()
            .await
            .expect("sent"),
    )
    .await
}

/// Carries out one operation and counts what happened.
async fn carry_out(apps: &[Arc<TestApp>], accounts: &[String], op: Operation) -> Tally {
    let mut tally = Tally::default();
    match op {
        Operation::Transfer {
            app,
            from,
            to,
            amount,
        } => {
            let body = json!({"from_account_id": accounts[from], "to_account_id": accounts[to], "amount": amount});
            let (status, body) = apps[app].post_json("/api/v1/transfers", body).await;
            match status {
                StatusCode::CREATED => tally.transfers_ok += 1,
                StatusCode::UNPROCESSABLE_ENTITY => {
                    assert_eq!(body["reason"], "insufficient_funds", "{body}");
                    tally.transfers_failed += 1;
                }
                other => panic!("unexpected answer {other}: {body}"),
            }
        }
        Operation::Order {
            apps: (first, second),
            account,
            order_id,
            amount,
            finish,
        } => {
            let body = json!({"account_id": accounts[account], "order_id": order_id, "service_id": 1, "amount": amount});
            let (status, body) = apps[first].post_json("/api/v1/reservations", body).await;
            match status {
                StatusCode::CREATED => tally.reserved += 1,
                StatusCode::UNPROCESSABLE_ENTITY => {
                    assert_eq!(body["reason"], "insufficient_funds", "{body}");
                    tally.reserve_failed += 1;
                    return tally;
                }
                other => panic!("unexpected answer {other}: {body}"),
            }
            let answers = match finish {
                Finish::Capture => vec![finish_order(&apps[first], order_id, "capture").await],
                Finish::Release => vec![finish_order(&apps[second], order_id, "release").await],
                Finish::Race => {
                    let (a, b) = tokio::join!(
                        finish_order(&apps[first], order_id, "capture"),
                        finish_order(&apps[second], order_id, "release")
                    );
                    vec![a, b]
                }
            };
            let winners: Vec<&Value> = answers
                .iter()
                .filter(|(status, _)| *status == StatusCode::OK)
                .map(|(_, body)| body)
                .collect();
            assert_eq!(winners.len(), 1, "exactly one wins: {answers:?}");
            for (status, body) in &answers {
                if *status != StatusCode::OK {
                    assert_error(
                        *status,
                        body,
                        StatusCode::CONFLICT,
                        "reservation_not_reserved",
                    );
                }
            }
            match winners[0]["status"].as_str() {
                Some("captured") => {
                    tally.captured += 1;
                    tally.captured_amount += amount.parse::<Decimal>().expect("amount");
                }
                Some("released") => tally.released += 1,
                other => panic!("unexpected status {other:?}"),
            }
        }
    }
    tally
}

/// Runs `OPERATIONS` random transfers and orders (reserve, then capture,
/// release, or both at once) from `CLIENTS` concurrent clients spread over
/// `apps`, and counts the answers.
async fn random_movements(apps: &[Arc<TestApp>], accounts: &[String]) -> Tally {
    let operations = random_operations(apps.len());
    let tallies: Vec<Tally> = futures::stream::iter(operations)
        .map(|op| carry_out(apps, accounts, op))
        .buffer_unordered(CLIENTS)
        .collect()
        .await;
    let mut tally = Tally::default();
    for one in tallies {
        tally.add(one);
    }
    tally
}

async fn assert_ledger_invariants(app: &TestApp, accounts: &[String], tally: &Tally) {
    let mut total = Decimal::ZERO;
    for account in accounts {
        let (_, body) = app.get_json(&format!("/api/v1/accounts/{account}")).await;
        let part =
            |name: &str| -> Decimal { body[name].as_str().expect(name).parse().expect("decimal") };
        let (balance, reserved) = (part("balance"), part("reserved"));
        assert!(balance >= Decimal::ZERO, "{account} went negative: {body}");
        assert_eq!(reserved, Decimal::ZERO, "every order ended: {body}");
        total += balance;
    }
    let revenue = app
        .sum("SELECT COALESCE(sum(balance), 0) AS s FROM accounts WHERE kind = 'revenue'")
        .await;
    assert_eq!(
        revenue, tally.captured_amount,
        "revenue is what was captured"
    );
    assert_eq!(
        total + revenue,
        Decimal::from(100 * ACCOUNTS as i64),
        "money was created or lost"
    );
    assert_eq!(
        recorded(app, "transfer", "success").await,
        tally.transfers_ok
    );
    assert_eq!(
        recorded(app, "transfer", "failed").await,
        tally.transfers_failed
    );
    assert_eq!(
        recorded(app, "reservation", "success").await,
        tally.reserved
    );
    assert_eq!(
        recorded(app, "reservation", "failed").await,
        tally.reserve_failed
    );
    assert_eq!(recorded(app, "capture", "success").await, tally.captured);
    assert_eq!(recorded(app, "release", "success").await, tally.released);
    assert_eq!(tally.reserved, tally.captured + tally.released);
    assert!(
        tally.transfers_failed > 0
            && tally.transfers_ok > 0
            && tally.captured > 0
            && tally.released > 0,
        "the mix exercises every outcome"
    );
    app.assert_audit_clean().await;
}

async fn recorded(app: &TestApp, kind: &str, status: &str) -> usize {
    let sql = format!(
        "SELECT count(*) AS n FROM transactions WHERE kind = '{kind}' AND status = '{status}'"
    );
    app.count(&sql).await as usize
}

async fn funded_accounts(app: &TestApp) -> Vec<String> {
    let mut accounts = Vec::with_capacity(ACCOUNTS);
    for user in 0..ACCOUNTS {
        accounts.push(app.funded_account(user as i64 + 1, "100.00").await);
    }
    accounts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn thousands_of_concurrent_transfers_and_orders_conserve_money() {
    let app = Arc::new(spawn_app().await);
    let accounts = funded_accounts(&app).await;

    let tally = random_movements(std::slice::from_ref(&app), &accounts).await;

    assert_ledger_invariants(&app, &accounts, &tally).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_on_one_database_keep_every_guarantee() {
    let first = Arc::new(spawn_app().await);
    let second = Arc::new(spawn_app_on(first.db.clone()).await);
    let accounts = funded_accounts(&first).await;

    let tally = random_movements(&[first.clone(), second.clone()], &accounts).await;

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

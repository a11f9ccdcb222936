//! The bank test: two accounts-manager processes on one database, many
//! concurrent clients, thousands of transfers, reservations and captures.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use e2e::{Environment, MACHINE};
use futures::StreamExt;
use rand::Rng;
use reqwest::StatusCode;
use serde_json::json;

const ACCOUNTS: usize = 40;
const OPERATIONS: usize = 3_000;
const CLIENTS: usize = 24;

#[derive(Debug, Clone, Copy)]
enum Operation {
    Transfer {
        from: usize,
        to: usize,
        cents: i64,
    },
    Order {
        account: usize,
        order: i64,
        cents: i64,
        capture: bool,
    },
}

#[derive(Debug, Default)]
struct Tally {
    transfers_ok: i64,
    transfers_refused: i64,
    reservations_ok: i64,
    reservations_refused: i64,
    captures: i64,
    releases: i64,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_ledger_processes_under_concurrent_transfers_and_orders_conserve_money() {
    let _machine = MACHINE.read().await;
    let env = Arc::new(Environment::new().await);
    let first = env.accounts_manager("bank-am-1");
    let second = env.accounts_manager("bank-am-2");
    first.ready().await;
    second.ready().await;
    let urls = [first.url(), second.url()];
    let mut accounts = Vec::new();
    for user in 1..=ACCOUNTS {
        let (status, body) = env
            .post(
                &format!("{}/api/v1/deposits", urls[user % 2]),
                json!({"user_id": user, "amount": "1000.00"}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        accounts.push(body["to_account_id"].as_str().unwrap().to_owned());
    }
    let operations: Vec<Operation> = {
        let mut rng = rand::rng();
        (0..OPERATIONS)
            .map(|i| {
                let a = rng.random_range(0..ACCOUNTS);
                if rng.random_bool(0.7) {
                    let to = (a + rng.random_range(1..ACCOUNTS)) % ACCOUNTS;
                    Operation::Transfer {
                        from: a,
                        to,
                        cents: rng.random_range(1..=40_000),
                    }
                } else {
                    Operation::Order {
                        account: a,
                        order: i as i64 + 1,
                        cents: rng.random_range(1..=30_000),
                        capture: rng.random_bool(0.5),
                    }
                }
            })
            .collect()
    };

    let outcomes: Vec<(Operation, StatusCode, Option<StatusCode>)> = futures::stream::iter(operations.into_iter().enumerate())
        .map(|(i, op)| {
            let (env, accounts, url) = (env.clone(), accounts.clone(), urls[i % 2].clone());
            async move {
                match op {
                    Operation::Transfer { from, to, cents } => {
                        let body = json!({"from_account_id": accounts[from], "to_account_id": accounts[to], "amount": format!("{}.{:02}", cents / 100, cents % 100)});
                        let (status, _) = env.post(&format!("{url}/api/v1/transfers"), body).await;
                        (op, status, None)
                    }
                    Operation::Order { account, order, cents, capture } => {
                        let body = json!({"account_id": accounts[account], "order_id": order, "service_id": 1 + order % 5, "amount": format!("{}.{:02}", cents / 100, cents % 100)});
                        let (status, _) = env.post(&format!("{url}/api/v1/reservations"), body).await;
                        if status != StatusCode::CREATED {
                            return (op, status, None);
                        }
                        let action = if capture { "capture" } else { "release" };
                        let (second, _) = env.post(&format!("{url}/api/v1/reservations/{order}/{action}"), json!({})).await;
                        (op, status, Some(second))
                    }
                }
            }
        })
        .buffer_unordered(CLIENTS)
        .collect()
        .await;

    let mut tally = Tally::default();
    for (op, status, second) in &outcomes {
        match (op, *status, second) {
            (Operation::Transfer { .. }, StatusCode::CREATED, _) => tally.transfers_ok += 1,
            (Operation::Transfer { .. }, StatusCode::UNPROCESSABLE_ENTITY, _) => {
                tally.transfers_refused += 1
            }
            (Operation::Order { capture, .. }, StatusCode::CREATED, Some(StatusCode::OK)) => {
                tally.reservations_ok += 1;
                if *capture {
                    tally.captures += 1
                } else {
                    tally.releases += 1
                }
            }
            (Operation::Order { .. }, StatusCode::UNPROCESSABLE_ENTITY, None) => {
                tally.reservations_refused += 1
            }
            other => panic!("unexpected outcome {other:?}"),
        }
    }
    let db = &env.am_db;
    let count = |q: &'static str| Environment::number(db, q);
    assert_eq!(
        tally.transfers_ok
            + tally.transfers_refused
            + tally.reservations_ok
            + tally.reservations_refused,
        OPERATIONS as i64
    );
    assert_eq!(
        count(
            "SELECT count(*) AS n FROM transactions WHERE kind = 'transfer' AND status = 'success'"
        )
        .await,
        tally.transfers_ok
    );
    assert_eq!(
        count(
            "SELECT count(*) AS n FROM transactions WHERE kind = 'transfer' AND status = 'failed'"
        )
        .await,
        tally.transfers_refused
    );
    assert_eq!(count("SELECT count(*) AS n FROM transactions WHERE kind = 'reservation' AND status = 'failed'").await, tally.reservations_refused);
    assert_eq!(
        count("SELECT count(*) AS n FROM reservations WHERE status = 'captured'").await,
        tally.captures
    );
    assert_eq!(
        count("SELECT count(*) AS n FROM reservations WHERE status = 'released'").await,
        tally.releases
    );
    assert!(
        tally.transfers_refused > 0 && tally.captures > 0 && tally.releases > 0,
        "{tally:?}"
    );
    // Money is conserved: what the users hold plus the captured revenue is what was deposited.
    let user_cents = count(
        "SELECT (sum(balance + reserved) * 100)::bigint AS n FROM accounts WHERE kind = 'user'",
    )
    .await;
    let revenue_cents =
        count("SELECT (sum(balance) * 100)::bigint AS n FROM accounts WHERE kind = 'revenue'")
            .await;
    let captured_cents = count("SELECT (COALESCE(sum(amount), 0) * 100)::bigint AS n FROM reservations WHERE status = 'captured'").await;
    assert_eq!(user_cents + revenue_cents, ACCOUNTS as i64 * 100_000);
    assert_eq!(revenue_cents, captured_cents);
    assert_eq!(
        count("SELECT count(*) AS n FROM accounts WHERE reserved <> 0").await,
        0
    );
    env.assert_audit_clean(&first).await;
}

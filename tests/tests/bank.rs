//! The bank test: two accounts-manager processes on one database, many
//! concurrent clients, thousands of transfers, reservations and captures.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use e2e::{Environment, MACHINE};
use futures::StreamExt;
use rand::Rng;
use rust_decimal::Decimal;
use shared_types::accounts::{DepositRequest, ReservationRequest, TransferRequest};

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

/// What a request came to: done, refused by the ledger (and recorded as
/// failed), or anything else (a test failure).
#[derive(Debug, PartialEq)]
enum Answer {
    Done,
    Refused,
    Other(String),
}

fn answer<T>(result: Result<T, accounts_client::Error>) -> Answer {
    match result {
        Ok(_) => Answer::Done,
        Err(accounts_client::Error::Refused(_)) => Answer::Refused,
        Err(other) => Answer::Other(other.to_string()),
    }
}

fn amount(cents: i64) -> Decimal {
    Decimal::new(cents, 2)
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
    let env = Environment::new().await;
    let first = env.accounts_manager("bank-am-1");
    let second = env.accounts_manager("bank-am-2");
    first.ready().await;
    second.ready().await;
    let clients = [env.accounts(&first), env.accounts(&second)];
    let mut accounts = Vec::new();
    for user in 1..=ACCOUNTS {
        let deposit = DepositRequest::to_user(user as i64, "1000.00");
        let transaction = clients[user % 2].deposit(&deposit, None).await.unwrap();
        accounts.push(transaction.to_account_id.unwrap());
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

    let outcomes: Vec<(Operation, Answer, Option<Answer>)> =
        futures::stream::iter(operations.into_iter().enumerate())
            .map(|(i, op)| {
                let (accounts, client) = (&accounts, &clients[i % 2]);
                async move {
                    match op {
                        Operation::Transfer { from, to, cents } => {
                            let transfer =
                                TransferRequest::new(accounts[from], accounts[to], amount(cents));
                            let answer = answer(client.transfer(&transfer, None).await);
                            (op, answer, None)
                        }
                        Operation::Order {
                            account,
                            order,
                            cents,
                            capture,
                        } => {
                            let reservation = ReservationRequest::new(
                                accounts[account],
                                order,
                                1 + order % 5,
                                amount(cents),
                            );
                            let reserved = answer(client.reserve(&reservation, None).await);
                            if reserved != Answer::Done {
                                return (op, reserved, None);
                            }
                            let settled = if capture {
                                client.capture(order, None).await
                            } else {
                                client.release(order, None).await
                            };
                            (op, reserved, Some(answer(settled)))
                        }
                    }
                }
            })
            .buffer_unordered(CLIENTS)
            .collect()
            .await;

    let mut tally = Tally::default();
    for (op, first, second) in &outcomes {
        match (op, first, second) {
            (Operation::Transfer { .. }, Answer::Done, _) => tally.transfers_ok += 1,
            (Operation::Transfer { .. }, Answer::Refused, _) => tally.transfers_refused += 1,
            (Operation::Order { capture, .. }, Answer::Done, Some(Answer::Done)) => {
                tally.reservations_ok += 1;
                if *capture {
                    tally.captures += 1
                } else {
                    tally.releases += 1
                }
            }
            (Operation::Order { .. }, Answer::Refused, None) => tally.reservations_refused += 1,
            other => panic!("unexpected outcome {other:?}"),
        }
    }
    let db = &env.am_db;
    let count = |q: &'static str| db.number(q);
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

//! The bank test: two accounts-manager processes on one database, many
//! concurrent clients, thousands of transfers, transfer batches, reversals,
//! orders captured in full or in part, released or left to expire,
//! exchanges between dollars and euros, and accounts frozen and unfrozen
//! under them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use e2e::{Environment, MACHINE};
use futures::StreamExt;
use rand::Rng;
use rust_decimal::Decimal;
use shared_types::accounts::{
    AccountStatus, CaptureRequest, DepositRequest, ExchangeRequest, ReservationRequest,
    ReversalRequest, TransactionStatus, TransferBatchRequest, TransferRequest,
};

const ACCOUNTS: usize = 40;
/// The first users also hold a euro account.
const EURO_ACCOUNTS: usize = 10;
const OPERATIONS: usize = 3_000;
const CLIENTS: usize = 24;

#[derive(Debug, Clone, Copy)]
enum Finish {
    Capture,
    /// Capture this many cents of the hold; the rest is released.
    CapturePart(i64),
    Release,
    /// Leave the hold to expire: the sweeper releases it.
    Expire,
}

#[derive(Debug, Clone)]
enum Operation {
    /// A transfer, and a reversal of this many cents of it when it was made.
    Transfer {
        from: usize,
        to: usize,
        cents: i64,
        reverse: Option<i64>,
    },
    /// An atomic batch of transfers.
    Batch(Vec<(usize, usize, i64)>),
    Order {
        account: usize,
        order: i64,
        cents: i64,
        finish: Finish,
    },
    /// Freeze an account for a moment, then unfreeze it: what tries to take
    /// money out of it meanwhile is refused and recorded.
    Freeze(usize),
    /// Dollars of a user account into a euro account, or back.
    Exchange {
        dollars: usize,
        euros: usize,
        cents: i64,
        to_euros: bool,
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

fn answer<T>(result: &Result<T, accounts_client::Error>) -> Answer {
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
    reversals_ok: i64,
    reversals_refused: i64,
    reservations_ok: i64,
    reservations_refused: i64,
    captures: i64,
    partial_captures: i64,
    releases: i64,
    expiring: i64,
    freezes: i64,
    exchanges_ok: i64,
    exchanges_refused: i64,
}

fn plan() -> Vec<Operation> {
    let mut rng = rand::rng();
    (0..OPERATIONS)
        .map(|i| {
            let a = rng.random_range(0..ACCOUNTS);
            let other = |rng: &mut rand::rngs::ThreadRng, a: usize| {
                (a + rng.random_range(1..ACCOUNTS)) % ACCOUNTS
            };
            match rng.random_range(0..10) {
                0..=4 => {
                    let cents = rng.random_range(1..=40_000);
                    Operation::Transfer {
                        from: a,
                        to: other(&mut rng, a),
                        cents,
                        reverse: rng.random_bool(0.2).then(|| rng.random_range(1..=cents)),
                    }
                }
                5 if rng.random_bool(0.1) => Operation::Freeze(a),
                5 if rng.random_bool(0.3) => Operation::Exchange {
                    dollars: a,
                    euros: rng.random_range(0..EURO_ACCOUNTS),
                    cents: rng.random_range(1..=20_000),
                    to_euros: rng.random_bool(0.5),
                },
                5 => Operation::Batch(
                    (0..rng.random_range(2..=5))
                        .map(|_| {
                            let from = rng.random_range(0..ACCOUNTS);
                            (from, other(&mut rng, from), rng.random_range(1..=20_000))
                        })
                        .collect(),
                ),
                _ => {
                    let cents = rng.random_range(2..=30_000);
                    Operation::Order {
                        account: a,
                        order: i as i64 + 1,
                        cents,
                        finish: match rng.random_range(0..4) {
                            0 => Finish::Capture,
                            1 => Finish::CapturePart(rng.random_range(1..cents)),
                            2 => Finish::Release,
                            _ => Finish::Expire,
                        },
                    }
                }
            }
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_ledger_processes_under_every_kind_of_concurrent_movement_conserve_money() {
    let _machine = MACHINE.read().await;
    let env = Environment::new().await;
    let fast_sweep = [("SWEEP_INTERVAL", "200ms")];
    let first = env.accounts_manager_with("bank-am-1", &fast_sweep);
    let second = env.accounts_manager_with("bank-am-2", &fast_sweep);
    first.ready().await;
    second.ready().await;
    let clients = [env.accounts(&first), env.accounts(&second)];
    let mut accounts = Vec::new();
    for user in 1..=ACCOUNTS {
        let deposit = DepositRequest::to_user(user as i64, "1000.00");
        let transaction = clients[user % 2].deposit(&deposit, None).await.unwrap();
        accounts.push(transaction.to_account_id.unwrap());
    }
    let mut euros = Vec::new();
    for user in 1..=EURO_ACCOUNTS {
        let deposit = DepositRequest {
            currency: Some("EUR".into()),
            ..DepositRequest::to_user(user as i64, "1000.00")
        };
        let transaction = clients[user % 2].deposit(&deposit, None).await.unwrap();
        euros.push(transaction.to_account_id.unwrap());
    }

    let tallies: Vec<Tally> = futures::stream::iter(plan().into_iter().enumerate())
        .map(|(i, op)| {
            let (accounts, euros, client) = (&accounts, &euros, &clients[i % 2]);
            async move {
                let mut tally = Tally::default();
                match op {
                    Operation::Transfer {
                        from,
                        to,
                        cents,
                        reverse,
                    } => {
                        let transfer =
                            TransferRequest::new(accounts[from], accounts[to], amount(cents));
                        let made = client.transfer(&transfer, None).await;
                        match answer(&made) {
                            Answer::Done => tally.transfers_ok += 1,
                            Answer::Refused => tally.transfers_refused += 1,
                            Answer::Other(other) => panic!("transfer: {other}"),
                        }
                        if let (Ok(made), Some(back)) = (made, reverse) {
                            let reversal = ReversalRequest {
                                amount: Some(amount(back).into()),
                                ..ReversalRequest::default()
                            };
                            let reversed =
                                client.reverse(made.transaction_id, &reversal, None).await;
                            match answer(&reversed) {
                                Answer::Done => tally.reversals_ok += 1,
                                Answer::Refused => tally.reversals_refused += 1,
                                Answer::Other(other) => panic!("reversal: {other}"),
                            }
                        }
                    }
                    Operation::Batch(legs) => {
                        let batch = TransferBatchRequest {
                            atomic: None,
                            transfers: legs
                                .iter()
                                .map(|(from, to, cents)| {
                                    TransferRequest::new(
                                        accounts[*from],
                                        accounts[*to],
                                        amount(*cents),
                                    )
                                })
                                .collect(),
                        };
                        let answer = client.transfer_batch(&batch, None).await.unwrap();
                        let made = answer
                            .items
                            .iter()
                            .filter(|t| t.status == TransactionStatus::Success)
                            .count() as i64;
                        // All or nothing.
                        assert!(made == 0 || made == legs.len() as i64, "{answer:?}");
                        tally.transfers_ok += made;
                        tally.transfers_refused += legs.len() as i64 - made;
                    }
                    Operation::Order {
                        account,
                        order,
                        cents,
                        finish,
                    } => {
                        let mut reservation = ReservationRequest::new(
                            accounts[account],
                            order,
                            1 + order % 5,
                            amount(cents),
                        );
                        if let Finish::Expire = finish {
                            let soon = chrono::Utc::now() + chrono::Duration::milliseconds(500);
                            reservation.expires_at =
                                Some(soon.to_rfc3339_opts(chrono::SecondsFormat::Micros, true));
                        }
                        match answer(&client.reserve(&reservation, None).await) {
                            Answer::Done => tally.reservations_ok += 1,
                            Answer::Refused => {
                                tally.reservations_refused += 1;
                                return tally;
                            }
                            Answer::Other(other) => panic!("reserve: {other}"),
                        }
                        let settled = match finish {
                            Finish::Capture => {
                                tally.captures += 1;
                                client.capture(order, None).await
                            }
                            Finish::CapturePart(part) => {
                                tally.partial_captures += 1;
                                let request = CaptureRequest {
                                    amount: Some(amount(part).into()),
                                };
                                client.capture_part(order, &request, None).await
                            }
                            Finish::Release => {
                                tally.releases += 1;
                                client.release(order, None).await
                            }
                            Finish::Expire => {
                                tally.expiring += 1;
                                return tally;
                            }
                        };
                        assert_eq!(answer(&settled), Answer::Done, "{settled:?}");
                    }
                    Operation::Exchange {
                        dollars,
                        euros: euro,
                        cents,
                        to_euros,
                    } => {
                        let request = if to_euros {
                            ExchangeRequest::new(
                                accounts[dollars],
                                euros[euro],
                                amount(cents),
                                "0.9215",
                            )
                        } else {
                            ExchangeRequest::new(
                                euros[euro],
                                accounts[dollars],
                                amount(cents),
                                "1.0852",
                            )
                        };
                        match answer(&client.exchange(&request, None).await) {
                            Answer::Done => tally.exchanges_ok += 1,
                            Answer::Refused => tally.exchanges_refused += 1,
                            Answer::Other(other) => panic!("exchange: {other}"),
                        }
                    }
                    Operation::Freeze(account) => {
                        // Another freeze of the same account may be under way.
                        match client.freeze(accounts[account], "bank test", None).await {
                            Ok(frozen) => {
                                assert_eq!(frozen.status, AccountStatus::Frozen);
                                tally.freezes += 1;
                                tokio::time::sleep(Duration::from_millis(20)).await;
                                let active =
                                    client.unfreeze(accounts[account], None).await.unwrap();
                                assert_eq!(active.status, AccountStatus::Active);
                            }
                            Err(error) if error.code() == Some("account_frozen") => {}
                            Err(other) => panic!("freeze: {other}"),
                        }
                    }
                }
                tally
            }
        })
        .buffer_unordered(CLIENTS)
        .collect()
        .await;
    let mut tally = Tally::default();
    for one in tallies {
        tally.transfers_ok += one.transfers_ok;
        tally.transfers_refused += one.transfers_refused;
        tally.reversals_ok += one.reversals_ok;
        tally.reversals_refused += one.reversals_refused;
        tally.reservations_ok += one.reservations_ok;
        tally.reservations_refused += one.reservations_refused;
        tally.captures += one.captures;
        tally.partial_captures += one.partial_captures;
        tally.releases += one.releases;
        tally.expiring += one.expiring;
        tally.freezes += one.freezes;
        tally.exchanges_ok += one.exchanges_ok;
        tally.exchanges_refused += one.exchanges_refused;
    }

    let db = &env.am_db;
    let count = |q: &'static str| db.number(q);
    // The holds left to expire are released by the sweepers.
    test_support::eventually("every hold ended", Duration::from_secs(30), || async {
        count("SELECT count(*) AS n FROM reservations WHERE status = 'reserved'").await == 0
    })
    .await;
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
    assert_eq!(
        count(
            "SELECT count(*) AS n FROM transactions WHERE kind = 'reversal' AND status = 'success'"
        )
        .await,
        tally.reversals_ok
    );
    assert_eq!(
        count(
            "SELECT count(*) AS n FROM transactions WHERE kind = 'reversal' AND status = 'failed'"
        )
        .await,
        tally.reversals_refused
    );
    assert_eq!(
        count("SELECT count(*) AS n FROM transactions WHERE kind = 'reservation' AND status = 'failed'")
            .await,
        tally.reservations_refused
    );
    assert_eq!(
        count("SELECT count(*) AS n FROM reservations WHERE status = 'captured'").await,
        tally.captures + tally.partial_captures
    );
    assert_eq!(
        count("SELECT count(*) AS n FROM reservations WHERE status = 'released'").await,
        tally.releases
    );
    assert_eq!(
        count("SELECT count(*) AS n FROM reservations WHERE status = 'expired'").await,
        tally.expiring
    );
    assert!(
        tally.transfers_refused > 0
            && tally.reversals_ok > 0
            && tally.captures > 0
            && tally.partial_captures > 0
            && tally.releases > 0
            && tally.expiring > 0
            && tally.freezes > 0
            && tally.exchanges_ok > 0,
        "{tally:?}"
    );
    // Each freeze and its unfreeze are events, and every account ends active.
    assert_eq!(
        count("SELECT count(*) AS n FROM account_events").await,
        2 * tally.freezes
    );
    assert_eq!(
        count("SELECT count(*) AS n FROM accounts WHERE status <> 'active'").await,
        0
    );
    // No movement out of an account succeeded between its freeze and its
    // unfreeze. The engine decides all three under the account's lock, and a
    // batch's time is taken under its locks, so for one account times follow
    // the order the engine applied them in.
    assert_eq!(
        count(
            "SELECT count(*) AS n FROM transactions t \
             JOIN account_events f ON f.type = 'account.frozen' \
              AND (f.account->>'account_id')::uuid = t.from_account_id \
             JOIN LATERAL (SELECT min(u.occurred_at) AS at FROM account_events u \
                           WHERE u.type = 'account.unfrozen' \
                             AND u.account->>'account_id' = f.account->>'account_id' \
                             AND u.occurred_at > f.occurred_at) u ON true \
             WHERE t.status = 'success' AND t.kind IN ('transfer', 'reservation') \
               AND t.created_at > f.occurred_at AND t.created_at < u.at"
        )
        .await,
        0
    );
    assert!(
        count("SELECT count(*) AS n FROM transactions WHERE reason = 'account_frozen'").await > 0,
        "some movement met a frozen account"
    );
    // No transaction was reversed by more than it moved.
    assert_eq!(
        count("SELECT count(*) AS n FROM transactions WHERE reversed_amount > amount").await,
        0
    );
    assert_eq!(
        count(
            "SELECT count(*) AS n FROM transactions WHERE kind = 'exchange' AND status = 'success'"
        )
        .await,
        tally.exchanges_ok
    );
    assert_eq!(
        count(
            "SELECT count(*) AS n FROM transactions WHERE kind = 'exchange' AND status = 'failed'"
        )
        .await,
        tally.exchanges_refused
    );
    // Money is conserved in each currency: what the users hold, the captured
    // revenue and what the exchanges left in the fx accounts is what was
    // deposited.
    let dollar_cents = count(
        "SELECT (sum(balance + reserved) * 100)::bigint AS n FROM accounts \
         WHERE kind <> 'external' AND currency = 'USD'",
    )
    .await;
    let euro_cents = count(
        "SELECT (sum(balance + reserved) * 100)::bigint AS n FROM accounts \
         WHERE kind <> 'external' AND currency = 'EUR'",
    )
    .await;
    let revenue_cents =
        count("SELECT (sum(balance) * 100)::bigint AS n FROM accounts WHERE kind = 'revenue'")
            .await;
    let captured_cents = count("SELECT (COALESCE(sum(captured_amount), 0) * 100)::bigint AS n FROM reservations WHERE status = 'captured'").await;
    assert_eq!(dollar_cents, ACCOUNTS as i64 * 100_000);
    assert_eq!(euro_cents, EURO_ACCOUNTS as i64 * 100_000);
    assert_eq!(revenue_cents, captured_cents);
    assert_eq!(
        count("SELECT count(*) AS n FROM accounts WHERE reserved <> 0 OR (kind = 'user' AND balance < 0)")
            .await,
        0
    );
    env.assert_audit_clean(&first).await;
}

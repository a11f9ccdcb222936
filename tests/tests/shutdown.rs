//! SIGTERM: a service stops taking connections, answers the requests in
//! flight (the commands queued in the ledger's group commit included), stops
//! its background work and exits 0.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use e2e::{eventually, Environment, MACHINE};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rust_decimal::Decimal;
use shared_types::accounts::{
    AccountId, DepositRequest, Transaction, TransactionStatus, TransferRequest,
};

const ACCOUNTS: usize = 8;
const CLIENTS: u64 = 24;
/// Answers to wait for before the SIGTERM.
const BEFORE_SIGTERM: usize = 400;

#[derive(Debug, Clone)]
enum Movement {
    Deposit(DepositRequest),
    Transfer(TransferRequest),
}

/// One keyed request and what came back.
struct Sent {
    key: String,
    movement: Movement,
    /// The transaction of a `2xx` or `422` answer; none when no answer came.
    answer: Option<Transaction>,
}

fn cents(cents: u32) -> String {
    format!("{}.{:02}", cents / 100, cents % 100)
}

/// A deposit or a transfer (some of them more than the account holds), its
/// key also its reference, so that the database tells which request made
/// which transaction.
fn movement(rng: &mut StdRng, accounts: &[AccountId], key: &str) -> Movement {
    let account = |rng: &mut StdRng| accounts[rng.random_range(0..accounts.len())];
    if rng.random_ratio(1, 3) {
        let mut deposit =
            DepositRequest::to_account(account(rng), cents(rng.random_range(1..2_000)));
        deposit.reference = Some(key.to_owned());
        Movement::Deposit(deposit)
    } else {
        let from = account(rng);
        let to = loop {
            let to = account(rng);
            if to != from {
                break to;
            }
        };
        let mut transfer = TransferRequest::new(from, to, cents(rng.random_range(1..6_000)));
        transfer.reference = Some(key.to_owned());
        Movement::Transfer(transfer)
    }
}

/// Sends a movement with its key: the transaction of a `2xx` or `422`
/// answer, none when no answer came; any other answer fails the test.
async fn send(
    client: &accounts_client::Client,
    key: &str,
    movement: &Movement,
) -> Option<Transaction> {
    let sent = match movement {
        Movement::Deposit(deposit) => client.deposit(deposit, Some(key)).await,
        Movement::Transfer(transfer) => client.transfer(transfer, Some(key)).await,
    };
    match sent {
        Ok(transaction) => Some(transaction),
        Err(accounts_client::Error::Refused(transaction)) => Some(*transaction),
        Err(accounts_client::Error::Transport(_)) => None,
        Err(other) => panic!("{key}: an answer that is neither done, refused nor none: {other}"),
    }
}

/// Every transaction of the ledger by its reference.
async fn transactions_by_reference(env: &Environment) -> HashMap<String, Vec<String>> {
    let rows = env
        .am_db
        .text("SELECT coalesce(string_agg(reference || '=' || id::text, ','), '') AS t FROM transactions WHERE reference IS NOT NULL")
        .await;
    let mut by_reference: HashMap<String, Vec<String>> = HashMap::new();
    for row in rows.split(',').filter(|row| !row.is_empty()) {
        let (reference, id) = row.split_once('=').unwrap();
        by_reference
            .entry(reference.to_owned())
            .or_default()
            .push(id.to_owned());
    }
    by_reference
}

/// Each answered request made exactly the transaction it was answered with.
fn assert_answered_recorded_once(sent: &[Sent], by_reference: &HashMap<String, Vec<String>>) {
    for request in sent {
        if let Some(answer) = &request.answer {
            assert_eq!(
                by_reference.get(&request.key),
                Some(&vec![answer.transaction_id.to_string()]),
                "{}: answered {:?} {}",
                request.key,
                answer.status,
                answer.transaction_id
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_during_keyed_load_loses_no_answered_request_and_leaves_no_key_in_flight() {
    let _machine = MACHINE.read().await;
    let env = Environment::new().await;
    let am = env.accounts_manager("sigterm-am");
    am.ready().await;
    let client = env.accounts(&am);
    let mut accounts = Vec::new();
    for user in 1..=ACCOUNTS as i64 {
        let funded = client
            .deposit(&DepositRequest::to_user(user, "100.00"), None)
            .await
            .unwrap();
        accounts.push(funded.to_account_id.unwrap());
    }
    let accounts = Arc::new(accounts);

    // Keyed load from many clients at once, until the process is gone.
    let stop = Arc::new(AtomicBool::new(false));
    let answered = Arc::new(AtomicUsize::new(0));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let (client, accounts) = (client.clone(), accounts.clone());
            let (stop, answered) = (stop.clone(), answered.clone());
            tokio::spawn(async move {
                let mut rng = StdRng::seed_from_u64(c);
                let mut sent = Vec::new();
                for i in 0.. {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let key = format!("sigterm-{c}-{i}");
                    let movement = movement(&mut rng, &accounts, &key);
                    let answer = send(&client, &key, &movement).await;
                    if answer.is_some() {
                        answered.fetch_add(1, Ordering::Relaxed);
                    } else {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                    sent.push(Sent {
                        key,
                        movement,
                        answer,
                    });
                }
                sent
            })
        })
        .collect();
    eventually("the load is under way", Duration::from_secs(60), || async {
        answered.load(Ordering::Relaxed) >= BEFORE_SIGTERM
    })
    .await;

    // Every peer reports that it stopped, the lanes after the HTTP server.
    let mut am = am
        .stop_cleanly(&[
            r#""task":"sweeper""#,
            r#""task":"audit""#,
            r#""task":"audit recount""#,
            r#""task":"HTTP server""#,
            r#""task":"ledger lane""#,
        ])
        .await;
    let log = am.log();
    assert!(
        log.find(r#""task":"HTTP server""#) < log.find(r#""task":"ledger lane""#),
        "the lanes stop after the HTTP server:\n{}",
        am.log_tail()
    );
    stop.store(true, Ordering::Relaxed);
    let mut sent: Vec<Sent> = Vec::new();
    for client in clients {
        sent.extend(client.await.unwrap());
    }

    let in_flight = env
        .am_db
        .number("SELECT count(*) AS n FROM idempotency_keys WHERE in_flight_until IS NOT NULL")
        .await;
    assert_eq!(in_flight, 0, "no idempotency key is left in flight");
    let stored_keys: BTreeSet<String> = env
        .am_db
        .text("SELECT coalesce(string_agg(key, ','), '') AS t FROM idempotency_keys")
        .await
        .split(',')
        .map(str::to_owned)
        .collect();
    for request in sent.iter().filter(|r| r.answer.is_some()) {
        assert!(
            stored_keys.contains(&request.key),
            "{}: answered, its key not stored",
            request.key
        );
    }
    assert_answered_recorded_once(&sent, &transactions_by_reference(&env).await);
    let unanswered = sent.iter().filter(|r| r.answer.is_none()).count();
    assert!(
        sent.len() > unanswered,
        "requests were answered before the stop"
    );

    // Back again: a retry of each unanswered request with its key is
    // answered, once, whether or not it had been carried out.
    am.restart();
    am.ready().await;
    let client = env.accounts(&am);
    for request in sent.iter_mut().filter(|r| r.answer.is_none()) {
        request.answer = send(&client, &request.key, &request.movement).await;
        assert!(
            request.answer.is_some(),
            "{}: the retry is answered",
            request.key
        );
    }
    let by_reference = transactions_by_reference(&env).await;
    assert_answered_recorded_once(&sent, &by_reference);
    assert_eq!(by_reference.len(), sent.len(), "one transaction per key");

    // Money is conserved: what the accounts hold is what was deposited.
    env.assert_audit_clean(&am).await;
    let mut held = Decimal::ZERO;
    for account in accounts.iter() {
        held += client.account(*account).await.unwrap().balance;
    }
    let deposited: Decimal = sent
        .iter()
        .filter_map(|r| match (&r.movement, &r.answer) {
            (Movement::Deposit(_), Some(t)) if t.status == TransactionStatus::Success => {
                Some(t.amount)
            }
            _ => None,
        })
        .sum();
    assert_eq!(held, Decimal::from(100 * ACCOUNTS as i64) + deposited);

    // An idle instance stops at once, cleanly too.
    am.stop_cleanly(&[]).await;
}

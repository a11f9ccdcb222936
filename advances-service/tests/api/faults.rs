use std::sync::Arc;
use std::time::Duration;

use reqwest::StatusCode;
use rust_decimal::Decimal;
use serde_json::{json, Value};
use shared_types::headers::IDEMPOTENCY_KEY;
use test_support::{read, TestDb};

use shared_types::accounts::{OpenAccountRequest, TransactionType, WithdrawalRequest};

use crate::helpers::{
    free_port, spawn_system_with, start_accounts_manager, start_advances, Options, TestSystem,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_crash_between_withdrawal_and_storing_it_does_not_take_the_money_twice() {
    let system = crate::helpers::spawn_system(Options {
        roles: "api",
        ..Options::default()
    })
    .await;
    let account = system.open_account(1).await;
    let (_, advance) = system.create_advance(&account, "60", 1).await;
    let id = advance["advance_id"].as_str().unwrap().to_owned();
    let payment = advance["payments"][0]["payment_id"]
        .as_str()
        .unwrap()
        .to_owned();
    // What a worker killed right after its withdrawal leaves behind: the money
    // moved under the payment's key, the payment still `processing` under a
    // claim that has run out, the job unacknowledged.
    let key = format!("advance:{id}:payment:{payment}");
    let withdrawal = WithdrawalRequest {
        reference: Some(key.clone()),
        description: Some(format!("payment 1 of 1 of advance {id}")),
        ..WithdrawalRequest::new(account, "60.00")
    };
    let withdrawal = system
        .accounts
        .withdraw(&withdrawal, Some(&key))
        .await
        .unwrap();
    system
        .sql("UPDATE payments SET due_at = now() - interval '2 seconds', status = 'processing', attempts = 1, \
              lease_until = now() - interval '1 second', published_at = now() - interval '3 seconds'")
        .await;

    // A worker and a scheduler come up: the job is published again and collected.
    let _recovery = start_advances(
        &system.db,
        &system.vhost,
        &system.accounts_url,
        Options {
            roles: "scheduler,worker",
            ..Options::default()
        },
    )
    .await;
    let repaid = system
        .wait_for(&id, Duration::from_secs(30), |a| a["status"] == "repaid")
        .await;

    assert_eq!(
        repaid["payments"][0]["transaction_id"],
        json!(withdrawal.transaction_id)
    );
    assert_eq!(
        system.collected(&format!("advance:{id}:payment:")).await,
        (1, Decimal::from(60))
    );
    assert_eq!(system.balance(&account).await, Decimal::ZERO);
    assert_eq!(system.reconcile().await["mismatches"], json!([]));
}

/// advances-service pointed at a port where accounts-manager is not running
/// yet: the system, accounts-manager's database and that port (to start it
/// on later).
async fn system_with_accounts_manager_away(options: Options) -> (TestSystem, Arc<TestDb>, u16) {
    let am_db = Arc::new(
        tokio::task::spawn_blocking(|| TestDb::create("am_test"))
            .await
            .unwrap(),
    );
    let setup = start_accounts_manager(am_db.clone(), "127.0.0.1:0").await;
    let port = free_port();
    let system = spawn_system_with(setup, format!("http://127.0.0.1:{port}"), options).await;
    (system, am_db, port)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn with_accounts_manager_away_nothing_is_lost_and_nothing_doubled_once_it_returns() {
    let (system, am_db, port) = system_with_accounts_manager_away(Options {
        installment_interval: "3s",
        ..Options::default()
    })
    .await;
    // Not the default currency: advances-service cannot know it meanwhile.
    let account = system
        .accounts
        .open_account(
            &OpenAccountRequest {
                user_id: 1,
                currency: Some("EUR".into()),
                metadata: None,
            },
            None,
        )
        .await
        .unwrap()
        .account_id;

    let (status, advance) = system.create_advance(&account, "20", 2).await;

    assert_eq!(status, StatusCode::ACCEPTED, "{advance}");
    assert_eq!(advance["status"], "disbursing");
    assert_eq!(advance["currency"], Value::Null, "not known yet: {advance}");
    let id = advance["advance_id"].as_str().unwrap().to_owned();
    assert_eq!(system.balance(&account).await, Decimal::ZERO);

    // It comes back: the scheduler's retry disburses the advance, once, and
    // the deposit tells its currency.
    let returned = start_accounts_manager(am_db.clone(), &format!("127.0.0.1:{port}")).await;
    let disbursed = system
        .wait_for(&id, Duration::from_secs(30), |a| {
            a["status"] != "disbursing"
        })
        .await;
    assert_eq!(disbursed["currency"], "EUR");
    let (_, collected) = system.collected(&format!("advance:{id}:payment:")).await;
    assert_eq!(
        system.balance(&account).await + collected,
        Decimal::from(20)
    );

    // It goes away while a payment falls due: the payment is deferred, not marked.
    returned.handle.stop(false).await;
    let waiting = system
        .wait_for(&id, Duration::from_secs(30), |a| {
            a["payments"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p["status"] == "scheduled" && p["attempts"].as_i64().unwrap_or(0) >= 1)
        })
        .await;
    assert!(
        waiting["payments"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["status"] != "failed"),
        "{waiting:#}"
    );

    // And back again: every payment is collected once.
    let _back = start_accounts_manager(am_db, &format!("127.0.0.1:{port}")).await;
    system
        .wait_for(&id, Duration::from_secs(60), |a| a["status"] == "repaid")
        .await;
    assert_eq!(
        system.collected(&format!("advance:{id}:payment:")).await,
        (2, Decimal::from(20))
    );
    assert_eq!(system.balance(&account).await, Decimal::ZERO);
    let deposits = system
        .history(&account)
        .await
        .iter()
        .filter(|t| t.kind == TransactionType::Deposit)
        .count();
    assert_eq!(deposits, 1, "disbursed exactly once");
    assert_eq!(system.reconcile().await["mismatches"], json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_advance_accepted_while_accounts_manager_was_away_for_an_unknown_account_is_withdrawn() {
    let (system, am_db, port) = system_with_accounts_manager_away(Options::default()).await;
    let unknown = uuid::Uuid::now_v7();
    let body = json!({"account_id": unknown, "amount": "20", "installments": 2});
    let send = || {
        system
            .post("/api/v1/advances")
            .header(IDEMPOTENCY_KEY, "adv-unknown")
            .json(&body)
            .send()
    };
    let (status, accepted) = read(send().await.unwrap()).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
    let id = accepted["advance_id"].as_str().unwrap().to_owned();

    // Once accounts-manager answers, the payout learns there is no such
    // account: the advance is withdrawn, and the request's answer is the
    // 422 it would have had.
    let _am = start_accounts_manager(am_db, &format!("127.0.0.1:{port}")).await;
    test_support::eventually(
        "the advance is withdrawn",
        Duration::from_secs(30),
        || async { system.get(&format!("/api/v1/advances/{id}")).await.0 == StatusCode::NOT_FOUND },
    )
    .await;
    let repeat = send().await.unwrap();
    assert_eq!(
        repeat.headers()["Idempotent-Replayed"],
        "true",
        "the stored answer"
    );
    let (status, replayed) = read(repeat).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{replayed}");
    assert_eq!(replayed["error"]["code"], "unknown_account");
    assert_eq!(system.count("SELECT count(*) AS n FROM advances").await, 0);
    assert_eq!(system.count("SELECT count(*) AS n FROM payments").await, 0);
}

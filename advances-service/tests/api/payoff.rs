//! Early payoff: the scheduled payments give way to one payment of their sum.

use std::time::Duration;

use reqwest::StatusCode;
use rust_decimal::Decimal;
use serde_json::Value;

use crate::helpers::{spawn_system, Options, TestSystem};

fn payments(advance: &Value) -> &Vec<Value> {
    advance["payments"].as_array().expect("payments")
}

async fn pay_off(system: &TestSystem, id: &str) -> (StatusCode, Value) {
    let response = system
        .post(&format!("/api/v1/advances/{id}/payoff"))
        .send()
        .await
        .expect("sent");
    let status = response.status();
    (status, response.json().await.expect("json"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_payoff_cancels_the_schedule_and_collects_the_rest_at_once() {
    // A week between payments: only the payoff can be due during the test.
    let system = spawn_system(Options {
        installment_interval: "7d",
        ..Options::default()
    })
    .await;
    let account = system.open_account(1).await;
    let (status, advance) = system.create_advance(&account, "100", 4).await;
    assert_eq!(status, StatusCode::CREATED, "{advance}");
    let id = advance["advance_id"].as_str().unwrap().to_owned();

    let (status, paid_off) = pay_off(&system, &id).await;

    assert_eq!(status, StatusCode::ACCEPTED, "{paid_off}");
    let list = payments(&paid_off);
    assert_eq!(list.len(), 5);
    assert!(
        list[..4].iter().all(|p| p["status"] == "cancelled"),
        "{paid_off:#}"
    );
    assert_eq!(list[4]["amount"], "100.00");
    assert_eq!(list[4]["seq"], 5);
    let repaid = system
        .wait_for(&id, Duration::from_secs(30), |a| a["status"] == "repaid")
        .await;
    assert_eq!(repaid["paid"], "100.00");
    assert_eq!(payments(&repaid)[4]["status"], "paid");
    assert_eq!(
        system.collected(&format!("advance:{id}:payment:")).await,
        (1, Decimal::from(100)),
        "one withdrawal of the whole rest"
    );
    assert_eq!(system.balance(&account).await, Decimal::ZERO);
    let report = system.reconcile().await;
    assert_eq!(report["mismatches"], serde_json::json!([]));
    system.assert_ledger_audit_clean().await;
}

/// No worker and a week between payments: an advance whose payments only
/// the test moves.
pub async fn an_advance_and_no_worker(amount: &str, installments: i64) -> (TestSystem, String) {
    let system = spawn_system(Options {
        installment_interval: "7d",
        roles: "api",
        ..Options::default()
    })
    .await;
    let account = system.open_account(1).await;
    let (_, advance) = system.create_advance(&account, amount, installments).await;
    let id = advance["advance_id"].as_str().unwrap().to_owned();
    (system, id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_payoff_is_refused_while_a_payment_is_collected_or_once_the_advance_is_not_active() {
    let (system, id) = an_advance_and_no_worker("100", 4).await;
    system
        .sql(&format!(
            "UPDATE payments SET status = 'processing', lease_until = now() + interval '1 minute' \
             WHERE advance_id = '{id}' AND seq = 1"
        ))
        .await;

    let (status, body) = pay_off(&system, &id).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"]["code"], "payment_in_progress");
    assert_eq!(
        system
            .count(&format!(
                "SELECT count(*) AS n FROM payments WHERE advance_id = '{id}' AND status = 'cancelled'"
            ))
            .await,
        0,
        "a refused payoff changes nothing"
    );

    system
        .sql(&format!(
            "UPDATE advances SET status = 'repaid' WHERE id = '{id}'"
        ))
        .await;
    let (status, body) = pay_off(&system, &id).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"]["code"], "advance_not_active");
    let (status, body) = pay_off(&system, &uuid::Uuid::now_v7().to_string()).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_payoff_racing_the_collection_of_a_due_payment_collects_each_once() {
    // Payments fall due every second while the payoff comes in.
    let system = spawn_system(Options::default()).await;
    let account = system.open_account(1).await;
    system.deposit(&account, "50").await;
    let (_, advance) = system.create_advance(&account, "120", 6).await;
    let id = advance["advance_id"].as_str().unwrap().to_owned();
    system
        .wait_for(&id, Duration::from_secs(30), |a| {
            payments(a).iter().any(|p| p["status"] == "paid")
        })
        .await;

    // Whatever the worker is doing, the payoff either goes in or is told to
    // come back; retry until it goes in or nothing is left to pay.
    let mut paid_off = false;
    for _ in 0..200 {
        let (status, body) = pay_off(&system, &id).await;
        match status {
            StatusCode::ACCEPTED => {
                paid_off = true;
                break;
            }
            StatusCode::CONFLICT if body["error"]["code"] == "payment_in_progress" => {
                tokio::task::yield_now().await;
            }
            StatusCode::CONFLICT if body["error"]["code"] == "advance_not_active" => break,
            other => panic!("{other} {body}"),
        }
    }
    let repaid = system
        .wait_for(&id, Duration::from_secs(30), |a| a["status"] == "repaid")
        .await;

    assert_eq!(repaid["paid"], "120.00");
    let (withdrawals, sum) = system.collected(&format!("advance:{id}:payment:")).await;
    assert_eq!(sum, Decimal::from(120), "collected exactly the advance");
    let paid = payments(&repaid)
        .iter()
        .filter(|p| p["status"] == "paid")
        .count() as i64;
    assert_eq!(withdrawals, paid, "one withdrawal per paid payment");
    if paid_off {
        assert!(payments(&repaid).iter().any(|p| p["status"] == "cancelled"));
    }
    assert_eq!(system.balance(&account).await, Decimal::from(50));
    let report = system.reconcile().await;
    assert_eq!(report["mismatches"], serde_json::json!([]));
    system.assert_ledger_audit_clean().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_payoff_waits_for_a_claim_in_progress_and_leaves_its_payment_to_the_worker() {
    use diesel::connection::SimpleConnection;

    // No worker: the test claims the first payment itself, as a worker's
    // claim does, and holds that transaction open while the payoff comes in.
    let (system, id) = an_advance_and_no_worker("100", 4).await;

    let (claimed_tx, claimed_rx) = tokio::sync::oneshot::channel();
    let (commit_tx, commit_rx) = std::sync::mpsc::channel::<()>();
    let (db, advance_id) = (system.db.clone(), id.clone());
    let claim = tokio::task::spawn_blocking(move || {
        let mut conn = db.connect();
        conn.batch_execute(&format!(
            "BEGIN; UPDATE payments SET status = 'processing', attempts = attempts + 1, \
             lease_until = now() + interval '1 minute' WHERE advance_id = '{advance_id}' AND seq = 1"
        ))
        .unwrap();
        claimed_tx.send(()).unwrap();
        commit_rx.recv().unwrap();
        conn.batch_execute("COMMIT").unwrap();
    });
    claimed_rx.await.unwrap();
    let request = system.post(&format!("/api/v1/advances/{id}/payoff"));
    let payoff =
        tokio::spawn(async move { test_support::read(request.send().await.unwrap()).await });
    // The payoff is waiting on the claimed payment's row...
    test_support::eventually("the payoff waits on the claim", Duration::from_secs(10), || async {
        system
            .count("SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'")
            .await
            == 1
    })
    .await;
    // ...and once the claim commits, sees it in progress.
    commit_tx.send(()).unwrap();
    claim.await.unwrap();
    let (status, body) = payoff.await.unwrap();

    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"]["code"], "payment_in_progress");
    let advance = system.advance(&id).await;
    let statuses: Vec<&str> = payments(&advance)
        .iter()
        .map(|p| p["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses,
        ["processing", "scheduled", "scheduled", "scheduled"],
        "the claimed payment is the worker's, and nothing was cancelled"
    );
}

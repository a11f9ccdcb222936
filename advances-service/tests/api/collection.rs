use std::collections::HashSet;
use std::time::Duration;

use advances_service::clients::broker::{DEAD_QUEUE, QUEUE};
use reqwest::StatusCode;
use rust_decimal::Decimal;
use serde_json::Value;

use test_support::{eventually, payment_job};

use crate::helpers::{spawn_system, start_advances, Options};

fn payments(advance: &Value) -> &Vec<Value> {
    advance["payments"].as_array().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_advance_is_disbursed_once_and_every_payment_collected_once_until_repaid() {
    let system = spawn_system(Options::default()).await;
    let account = system.open_account(1).await;
    system.deposit(&account, "5").await;

    let (status, advance) = system.create_advance(&account, "90", 3).await;
    assert_eq!(status, StatusCode::CREATED, "{advance}");
    let id = advance["advance_id"].as_str().unwrap().to_owned();
    let repaid = system
        .wait_for(&id, Duration::from_secs(30), |a| a["status"] == "repaid")
        .await;

    assert_eq!(repaid["paid"], "90.00");
    assert_eq!(repaid["outstanding"], "0.00");
    let transactions: HashSet<&str> = payments(&repaid)
        .iter()
        .map(|p| {
            assert_eq!(p["status"], "paid", "{p}");
            assert!(p["paid_at"].is_string());
            p["transaction_id"].as_str().unwrap()
        })
        .collect();
    assert_eq!(transactions.len(), 3, "each payment has its own withdrawal");
    assert_eq!(system.balance(&account).await, Decimal::from(5));
    assert_eq!(
        system.collected(&format!("advance:{id}:payment:")).await,
        (3, Decimal::from(90))
    );
    let disbursements = system
        .history(&account)
        .await
        .iter()
        .filter(|t| t.reference == Some(format!("advance:{id}")))
        .count();
    assert_eq!(disbursements, 1);
    let report = system.reconcile().await;
    assert_eq!(report["mismatches"], serde_json::json!([]));
    system.assert_ledger_audit_clean().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_payment_the_account_cannot_cover_rolls_over_until_money_arrives() {
    let system = spawn_system(Options::default()).await;
    let account = system.open_account(1).await;
    let (_, advance) = system.create_advance(&account, "30", 3).await;
    let id = advance["advance_id"].as_str().unwrap().to_owned();
    // Spend the advance: only 5 of it stays in the account.
    system.withdraw(&account, "25").await;

    // Every payment fails and rolls into the next; the last one's failure appends a new payment.
    let stuck = system
        .wait_for(&id, Duration::from_secs(30), |a| {
            payments(a).iter().any(|p| p["seq"] == 5)
        })
        .await;
    let list = payments(&stuck);
    assert!(
        list[..4].iter().all(|p| p["status"] == "failed"),
        "{stuck:#}"
    );
    assert_eq!(
        list[1]["amount"], "20.00",
        "payment 2 carries payment 1's amount"
    );
    assert_eq!(list[2]["amount"], "30.00");
    assert_eq!(
        list[3]["amount"], "30.00",
        "the appended payment carries the last one's"
    );
    assert_eq!(stuck["status"], "active");
    assert_eq!(
        system.reconcile().await["mismatches"],
        serde_json::json!([])
    );

    system.deposit(&account, "25").await;
    let repaid = system
        .wait_for(&id, Duration::from_secs(30), |a| a["status"] == "repaid")
        .await;

    let paid: Vec<&Value> = payments(&repaid)
        .iter()
        .filter(|p| p["status"] == "paid")
        .collect();
    assert_eq!(paid.len(), 1, "{repaid:#}");
    assert_eq!(paid[0]["amount"], "30.00");
    assert_eq!(repaid["paid"], "30.00");
    assert_eq!(system.balance(&account).await, Decimal::ZERO);
    assert_eq!(
        system.collected(&format!("advance:{id}:payment:")).await,
        (1, Decimal::from(30))
    );
    assert_eq!(
        system.reconcile().await["mismatches"],
        serde_json::json!([])
    );
    system.assert_ledger_audit_clean().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn duplicate_jobs_for_one_payment_on_two_workers_collect_it_once() {
    let options = Options {
        roles: "api",
        ..Options::default()
    };
    let system = spawn_system(options.clone()).await;
    let account = system.open_account(1).await;
    let (_, advance) = system.create_advance(&account, "40", 1).await;
    let id = advance["advance_id"].as_str().unwrap().to_owned();
    let payment = payments(&advance)[0]["payment_id"]
        .as_str()
        .unwrap()
        .to_owned();
    system
        .sql("UPDATE payments SET due_at = now() - interval '1 second'")
        .await;
    let workers = Options {
        roles: "worker",
        ..options
    };
    let _first = start_advances(
        &system.db,
        &system.vhost,
        &system.accounts_url,
        workers.clone(),
    )
    .await;
    let _second = start_advances(&system.db, &system.vhost, &system.accounts_url, workers).await;

    system
        .publish_raw(&vec![payment_job(&payment, &id); 20])
        .await;
    system
        .wait_for(&id, Duration::from_secs(30), |a| a["status"] == "repaid")
        .await;
    eventually(
        "the duplicates are all consumed",
        Duration::from_secs(20),
        || async { system.queue_depth(QUEUE).await == 0 },
    )
    .await;

    assert_eq!(
        system.collected(&format!("advance:{id}:payment:")).await,
        (1, Decimal::from(40))
    );
    assert_eq!(system.balance(&account).await, Decimal::ZERO);
    assert_eq!(system.queue_depth(DEAD_QUEUE).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn malformed_jobs_are_dead_lettered_and_the_worker_carries_on() {
    let system = spawn_system(Options {
        roles: "api,worker",
        ..Options::default()
    })
    .await;
    let account = system.open_account(1).await;
    let (_, advance) = system.create_advance(&account, "15", 1).await;
    let id = advance["advance_id"].as_str().unwrap().to_owned();
    let payment = payments(&advance)[0]["payment_id"]
        .as_str()
        .unwrap()
        .to_owned();
    system
        .sql("UPDATE payments SET due_at = now() - interval '1 second'")
        .await;

    system
        .publish_raw(&[
            b"not json at all".to_vec(),
            br#"{"payment_id": "x"}"#.to_vec(),
            payment_job(&uuid::Uuid::new_v4().to_string(), &id),
            payment_job(&payment, &uuid::Uuid::new_v4().to_string()),
            payment_job(&payment, &id),
        ])
        .await;
    system
        .wait_for(&id, Duration::from_secs(30), |a| a["status"] == "repaid")
        .await;
    eventually(
        "the malformed jobs are dead-lettered",
        Duration::from_secs(20),
        || async { system.queue_depth(DEAD_QUEUE).await >= 4 },
    )
    .await;

    assert_eq!(system.queue_depth(DEAD_QUEUE).await, 4);
    assert_eq!(
        system.collected(&format!("advance:{id}:payment:")).await,
        (1, Decimal::from(15))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_job_for_a_payment_not_yet_due_is_acknowledged_with_no_effect() {
    let system = spawn_system(Options {
        roles: "api,worker",
        installment_interval: "7d",
        ..Options::default()
    })
    .await;
    let account = system.open_account(1).await;
    let (_, advance) = system.create_advance(&account, "15", 1).await;
    let id = advance["advance_id"].as_str().unwrap().to_owned();
    let payment = payments(&advance)[0]["payment_id"]
        .as_str()
        .unwrap()
        .to_owned();

    system.publish_raw(&[payment_job(&payment, &id)]).await;
    // The worker counts the job as skipped when it acknowledges it.
    let metrics_url = format!("{}/metrics", system.advances.address);
    eventually(
        "the job is acknowledged",
        Duration::from_secs(20),
        || async {
            let metrics = system
                .client
                .get(&metrics_url)
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            metrics.contains(r#"payment_jobs_total{outcome="skipped"} 1"#)
        },
    )
    .await;
    assert_eq!(system.queue_depth(QUEUE).await, 0);

    let after = system.advance(&id).await;
    assert_eq!(payments(&after)[0]["status"], "scheduled");
    assert_eq!(payments(&after)[0]["attempts"], 0);
    assert_eq!(system.collected(&format!("advance:{id}")).await.0, 0);
    assert_eq!(system.queue_depth(DEAD_QUEUE).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn jobs_that_arrive_together_are_collected_together_each_once() {
    let options = Options {
        roles: "api",
        ..Options::default()
    };
    let system = spawn_system(options.clone()).await;
    let mut advances = Vec::new();
    for user in 1..=30 {
        let account = system.open_account(user).await;
        let (_, advance) = system.create_advance(&account, "12.34", 1).await;
        let id = advance["advance_id"].as_str().unwrap().to_owned();
        let payment = payments(&advance)[0]["payment_id"]
            .as_str()
            .unwrap()
            .to_owned();
        advances.push((account, id, payment));
    }
    system
        .sql("UPDATE payments SET due_at = now() - interval '1 second'")
        .await;
    // Every claim of a payment (its attempts go up) is noted with the id of
    // the database transaction that made it.
    for statement in [
        "CREATE TABLE test_claims (payment_id uuid NOT NULL, claim_xact text NOT NULL)",
        "CREATE FUNCTION test_note_claim() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
           INSERT INTO test_claims VALUES (NEW.id, pg_current_xact_id()::text); RETURN NEW; END $$",
        "CREATE TRIGGER test_note_claim AFTER UPDATE ON payments FOR EACH ROW \
           WHEN (NEW.attempts > OLD.attempts) EXECUTE FUNCTION test_note_claim()",
    ] {
        system.sql(statement).await;
    }
    // Every job twice, all queued before a worker takes the first: the worker's
    // batches hold many payments, and some hold a payment twice.
    let jobs: Vec<_> = advances
        .iter()
        .flat_map(|(_, id, payment)| [payment_job(payment, id), payment_job(payment, id)])
        .collect();
    system.publish_raw(&jobs).await;
    let _worker = start_advances(
        &system.db,
        &system.vhost,
        &system.accounts_url,
        Options {
            roles: "worker",
            ..options
        },
    )
    .await;
    for (account, id, _) in &advances {
        system
            .wait_for(id, Duration::from_secs(30), |a| a["status"] == "repaid")
            .await;
        assert_eq!(
            system.collected(&format!("advance:{id}:payment:")).await,
            (1, "12.34".parse().unwrap())
        );
        assert_eq!(system.balance(account).await, Decimal::ZERO);
    }
    eventually("every job is consumed", Duration::from_secs(20), || async {
        system.queue_depth(QUEUE).await == 0
    })
    .await;
    let claims = system.count("SELECT count(*) AS n FROM test_claims").await;
    let claiming_transactions = system
        .count("SELECT count(DISTINCT claim_xact) AS n FROM test_claims")
        .await;
    assert_eq!(claims, 30, "each payment was claimed once");
    // One worker with four batches in flight at most: the first batches may
    // be small, the next takes every job that arrived meanwhile.
    assert!(
        claiming_transactions * 3 <= claims,
        "the payments were claimed together, not one database transaction each: \
         {claiming_transactions} transactions for {claims} claims"
    );
    assert_eq!(system.queue_depth(DEAD_QUEUE).await, 0);
}

use std::time::Duration;

use serde_json::json;

use crate::helpers::{spawn_system, Options};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn reconciliation_finds_a_tampered_advance_and_passes_healthy_ones() {
    let system = spawn_system(Options::default()).await;
    let healthy_account = system.open_account(1).await;
    let broken_account = system.open_account(2).await;
    let (_, healthy) = system.create_advance(&healthy_account, "20", 2).await;
    let (_, broken) = system.create_advance(&broken_account, "20", 2).await;
    let healthy_id = healthy["advance_id"].as_str().unwrap().to_owned();
    let broken_id = broken["advance_id"].as_str().unwrap().to_owned();
    for id in [&healthy_id, &broken_id] {
        system
            .wait_for(id, Duration::from_secs(30), |a| a["status"] == "repaid")
            .await;
    }
    let clean = system.reconcile().await;
    assert_eq!(clean["advances_checked"], 2);
    assert_eq!(clean["mismatches"], json!([]));

    // Someone edits a paid payment behind the service's back.
    system
        .sql(&format!(
            "UPDATE payments SET amount = amount + 1 WHERE advance_id = '{broken_id}' AND seq = 1"
        ))
        .await;
    let report = system.reconcile().await;

    let mut mismatches = report["mismatches"].as_array().unwrap().clone();
    mismatches.sort_by_key(|m| m["check"].as_str().unwrap().to_owned());
    assert_eq!(
        mismatches,
        vec![
            json!({"advance_id": broken_id, "check": "ledger_paid", "expected": "21.00", "actual": "20.00"}),
            json!({"advance_id": broken_id, "check": "schedule_sum", "expected": "20.00", "actual": "21.00"}),
        ]
    );
    let (_, latest) = system.get("/api/v1/admin/reconciliation").await;
    assert_eq!(latest["mismatches"].as_array().unwrap().len(), 2);
    assert_eq!(latest["checked_at"], report["checked_at"]);
    let metrics = system
        .client
        .get(format!("{}/metrics", system.advances.address))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(r#"reconciliation_mismatches_total{check="schedule_sum"} 1"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"reconciliation_mismatches_total{check="ledger_paid"} 1"#),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_idempotency_key_runs_the_reconciliation_once_however_many_repeats_race() {
    let system = spawn_system(Options::default()).await;
    let account = system.open_account(1).await;
    system.create_advance(&account, "20", 2).await;
    let send = |body: Option<&'static str>| {
        let request = system
            .post("/api/v1/admin/reconciliation")
            .header("Idempotency-Key", "reconcile-1");
        let request = match body {
            Some(body) => request
                .header("Content-Type", "application/json")
                .body(body),
            None => request,
        };
        async move { crate::helpers::read(request.send().await.unwrap()).await }
    };
    let answers = futures::future::join_all((0..8).map(|_| send(None))).await;
    let runs = system
        .count("SELECT count(*) AS n FROM reconciliation_reports")
        .await;
    assert_eq!(runs, 1, "{answers:?}");
    let reports: Vec<&serde_json::Value> = answers
        .iter()
        .filter(|(status, _)| *status == reqwest::StatusCode::OK)
        .map(|(_, body)| body)
        .collect();
    assert!(!reports.is_empty(), "{answers:?}");
    assert!(reports.iter().all(|r| *r == reports[0]), "{answers:?}");
    assert!(
        answers
            .iter()
            .all(|(status, body)| *status == reqwest::StatusCode::OK
                || (*status == reqwest::StatusCode::CONFLICT
                    && body["error"]["code"] == "idempotency_key_in_flight")),
        "{answers:?}"
    );
    // Afterwards a repeat gets the stored report; `{}` is the same request;
    // any field, or what is not JSON, is refused.
    for body in [None, Some("{}")] {
        let (status, again) = send(body).await;
        assert_eq!(status, reqwest::StatusCode::OK, "{again}");
        assert_eq!(&again, reports[0]);
    }
    for (body, code) in [
        (r#"{"foo": "bar"}"#, "invalid_request"),
        ("not json", "invalid_json"),
    ] {
        let (status, refused) = send(Some(body)).await;
        assert_eq!(status, reqwest::StatusCode::BAD_REQUEST, "{refused}");
        assert!(refused["error"]["code"].is_string(), "{refused} ({code})");
    }
    assert_eq!(
        system
            .count("SELECT count(*) AS n FROM reconciliation_reports")
            .await,
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn reconciling_while_payments_are_collected_finds_nothing_wrong() {
    // Payments fall due every second while reconciliations run back to back:
    // a payment collected between a run's read of the payments and its read
    // of the ledger is not a mismatch.
    let system = spawn_system(Options::default()).await;
    let mut ids = Vec::new();
    for user in 1..=20 {
        let account = system.open_account(user).await;
        let (_, advance) = system.create_advance(&account, "12", 4).await;
        ids.push(advance["advance_id"].as_str().unwrap().to_owned());
    }
    let mut runs = 0;
    let all_repaid = "SELECT count(*) AS n FROM advances WHERE status <> 'repaid'";
    while system.count(all_repaid).await > 0 {
        let report = system.reconcile().await;
        assert_eq!(report["mismatches"], json!([]), "run {runs}: {report}");
        runs += 1;
        assert!(runs < 2_000, "the advances were not repaid");
    }
    assert!(
        runs > 1,
        "reconciliations ran while payments were collected"
    );
    let report = system.reconcile().await;
    assert_eq!(report["advances_checked"], 20);
    assert_eq!(report["mismatches"], json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn reconciliation_counts_what_was_given_back_of_a_payment() {
    use shared_types::accounts::{ReversalRequest, TransactionId, WithdrawalRequest};

    let system = spawn_system(Options::default()).await;
    let account = system.open_account(1).await;
    system.deposit(&account, "50").await;
    let (_, advance) = system.create_advance(&account, "20", 2).await;
    let id = advance["advance_id"].as_str().unwrap().to_owned();
    let repaid = system
        .wait_for(&id, Duration::from_secs(30), |a| a["status"] == "repaid")
        .await;
    let ledger_paid = |report: &serde_json::Value| report["mismatches"].clone();
    assert_eq!(ledger_paid(&system.reconcile().await), json!([]));

    // A collected payment given back to the customer: the ledger holds less
    // than the advance says was paid.
    let first: TransactionId =
        serde_json::from_value(repaid["payments"][0]["transaction_id"].clone()).unwrap();
    system
        .accounts
        .reverse(first, &ReversalRequest::default(), None)
        .await
        .unwrap();
    assert_eq!(
        ledger_paid(&system.reconcile().await),
        json!([{"advance_id": id, "check": "ledger_paid", "expected": "20.00", "actual": "10.00"}])
    );
    // Taken again by hand, the books agree once more...
    let mut again = WithdrawalRequest::new(account, "10");
    again.reference = Some(format!("advance:{id}:payment:{}", uuid::Uuid::now_v7()));
    system.accounts.withdraw(&again, None).await.unwrap();
    assert_eq!(ledger_paid(&system.reconcile().await), json!([]));
    // ...and a wrong withdrawal, flagged, is cleared by reversing it.
    let extra = system.accounts.withdraw(&again, None).await.unwrap();
    assert_eq!(
        ledger_paid(&system.reconcile().await),
        json!([{"advance_id": id, "check": "ledger_paid", "expected": "20.00", "actual": "30.00"}])
    );
    system
        .accounts
        .reverse(extra.transaction_id, &ReversalRequest::default(), None)
        .await
        .unwrap();
    assert_eq!(ledger_paid(&system.reconcile().await), json!([]));
}

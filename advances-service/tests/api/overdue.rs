//! How far behind an advance is (the missed chain), re-aging, and the
//! portfolio by aging bucket.

use std::time::Duration;

use reqwest::StatusCode;
use rust_decimal::Decimal;
use serde_json::{json, Value};
use shared_types::accounts::AccountId;

use crate::events;
use crate::helpers::{read, spawn_system, Options, TestSystem};
use crate::payoff::an_advance_and_no_worker;

const PATIENCE: Duration = Duration::from_secs(30);

fn payments(advance: &Value) -> &Vec<Value> {
    advance["payments"].as_array().expect("payments")
}

fn payment(advance: &Value, seq: i64) -> &Value {
    payments(advance)
        .iter()
        .find(|p| p["seq"] == seq)
        .unwrap_or_else(|| panic!("no payment {seq}: {advance:#}"))
}

/// `(missed_installments, overdue_amount, overdue_since)`.
fn figures(advance: &Value) -> (i64, String, Value) {
    (
        advance["missed_installments"].as_i64().unwrap(),
        advance["overdue_amount"].as_str().unwrap().to_owned(),
        advance["overdue_since"].clone(),
    )
}

fn none_missed() -> (i64, String, Value) {
    (0, "0.00".to_owned(), Value::Null)
}

/// A week between payments, so that nothing falls due unless the test says.
async fn a_system_where_the_test_says_what_is_due() -> TestSystem {
    spawn_system(Options {
        installment_interval: "7d",
        ..Options::default()
    })
    .await
}

impl TestSystem {
    /// Makes payment `seq` of the advance due now, and waits until the
    /// worker has its outcome (`paid` or `failed`).
    async fn collect_now(&self, id: &str, seq: i64) -> Value {
        self.sql(&format!(
            "UPDATE payments SET due_at = now() WHERE advance_id = '{id}' AND seq = {seq}"
        ))
        .await;
        self.wait_for(id, PATIENCE, |a| {
            matches!(payment(a, seq)["status"].as_str(), Some("paid" | "failed"))
        })
        .await
    }

    async fn portfolio(&self, currency: &str) -> Value {
        let (status, body) = self
            .get(&format!("/api/v1/reports/portfolio?currency={currency}"))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }

    async fn reschedule(&self, id: &str, body: Value) -> (StatusCode, Value) {
        read(
            self.post(&format!("/api/v1/advances/{id}/reschedule"))
                .json(&body)
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    async fn pay_off(&self, id: &str) -> (StatusCode, Value) {
        read(
            self.post(&format!("/api/v1/advances/{id}/payoff"))
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    /// An advance paid into `account`, whose money the test then takes back
    /// out, so that its payments fail until the account is funded again.
    async fn an_advance_on_an_empty_account(
        &self,
        account: &AccountId,
        amount: &str,
        installments: i64,
    ) -> String {
        let (status, advance) = self.create_advance(account, amount, installments).await;
        assert_eq!(status, StatusCode::CREATED, "{advance}");
        self.withdraw(account, amount).await;
        advance["advance_id"].as_str().unwrap().to_owned()
    }

    /// The bucket `missed` of the portfolio: (advances, outstanding).
    async fn bucket(&self, missed: &str) -> (i64, String) {
        let portfolio = self.portfolio("USD").await;
        let bucket = portfolio["buckets"]
            .as_array()
            .unwrap()
            .iter()
            .find(|b| b["missed"] == missed)
            .unwrap()
            .clone();
        (
            bucket["advances"].as_i64().unwrap(),
            bucket["outstanding"].as_str().unwrap().to_owned(),
        )
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn failures_build_the_missed_chain_and_the_carried_payment_collected_ends_it() {
    let system = a_system_where_the_test_says_what_is_due().await;
    let account = system.open_account(1).await;
    // The contract's example: 90.00 in three payments of 30.00.
    let id = system
        .an_advance_on_an_empty_account(&account, "90", 3)
        .await;
    assert_eq!(figures(&system.advance(&id).await), none_missed());
    assert_eq!(system.bucket("0").await, (1, "90.00".to_owned()));

    let advance = system.collect_now(&id, 1).await;
    assert_eq!(payment(&advance, 1)["status"], "failed");
    let first_due = payment(&advance, 1)["due_at"].clone();
    assert_eq!(
        figures(&advance),
        (1, "30.00".to_owned(), first_due.clone())
    );
    assert_eq!(system.bucket("1").await, (1, "90.00".to_owned()));
    assert_eq!(system.bucket("0").await, (0, "0.00".to_owned()));
    assert_eq!(system.portfolio("USD").await["overdue_amount"], "30.00");

    let advance = system.collect_now(&id, 2).await;
    assert_eq!(payment(&advance, 2)["amount"], "60.00", "the first carried");
    assert_eq!(
        figures(&advance),
        (2, "60.00".to_owned(), first_due.clone()),
        "the latest failed amount, since the first's due time"
    );
    assert_eq!(system.bucket("2-3").await, (1, "90.00".to_owned()));

    let (status, listed) = system.get("/api/v1/advances?overdue=true").await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    assert_eq!(listed["items"][0]["advance_id"], id.as_str());
    let (_, listed) = system.get("/api/v1/advances?overdue=false").await;
    assert_eq!(listed["total_count"], 0, "{listed}");

    system.deposit(&account, "90").await;
    let advance = system.collect_now(&id, 3).await;
    assert_eq!(payment(&advance, 3)["status"], "paid");
    assert_eq!(payment(&advance, 3)["amount"], "90.00");
    assert_eq!(figures(&advance), none_missed());
    let advance = system
        .wait_for(&id, PATIENCE, |a| a["status"] == "repaid")
        .await;
    assert_eq!(advance["outstanding"], "0.00");

    let portfolio = system.portfolio("USD").await;
    assert_eq!(portfolio["advances_active"], 0, "{portfolio:#}");
    assert_eq!(portfolio["outstanding"], "0.00");
    assert_eq!(portfolio["overdue_amount"], "0.00");
    assert_eq!(
        portfolio["collected_last_7_days"], "90.00",
        "a repaid advance's collections count"
    );
    let (_, listed) = system.get("/api/v1/advances?overdue=false").await;
    assert_eq!(listed["total_count"], 1, "{listed}");
    assert_eq!(system.reconcile().await["mismatches"], json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failed_last_payment_is_appended_and_a_payoff_payment_ends_the_chain_once_collected() {
    let system = a_system_where_the_test_says_what_is_due().await;
    let account = system.open_account(1).await;
    let id = system
        .an_advance_on_an_empty_account(&account, "60", 2)
        .await;
    let advance = system.collect_now(&id, 1).await;
    let first_due = payment(&advance, 1)["due_at"].clone();
    let advance = system.collect_now(&id, 2).await;
    assert_eq!(payment(&advance, 2)["status"], "failed");
    // The last payment failed: its 60.00 goes to a payment appended after it.
    assert_eq!(payment(&advance, 3)["amount"], "60.00");
    assert_eq!(payment(&advance, 3)["status"], "scheduled");
    assert_eq!(
        figures(&advance),
        (2, "60.00".to_owned(), first_due.clone())
    );

    // A payoff changes no figure: its payment has to be collected first.
    let (status, paid_off) = system.pay_off(&id).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{paid_off}");
    assert_eq!(
        figures(&paid_off),
        (2, "60.00".to_owned(), first_due.clone())
    );
    // It fails for funds too: a third missed installment, and one more
    // payment appended.
    let advance = system
        .wait_for(&id, PATIENCE, |a| payment(a, 4)["status"] == "failed")
        .await;
    assert_eq!(payment(&advance, 3)["status"], "cancelled");
    assert_eq!(figures(&advance), (3, "60.00".to_owned(), first_due));
    assert_eq!(payment(&advance, 5)["amount"], "60.00");
    assert_eq!(system.bucket("2-3").await, (1, "60.00".to_owned()));

    system.deposit(&account, "60").await;
    let (status, paid_off) = system.pay_off(&id).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{paid_off}");
    let advance = system
        .wait_for(&id, PATIENCE, |a| a["status"] == "repaid")
        .await;
    assert_eq!(payment(&advance, 6)["status"], "paid");
    assert_eq!(figures(&advance), none_missed());
    assert_eq!(system.balance(&account).await, Decimal::ZERO);
    assert_eq!(system.reconcile().await["mismatches"], json!([]));
    system.assert_ledger_audit_clean().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_reschedule_splits_the_outstanding_amount_into_a_new_plan_and_ends_the_chain() {
    let system = a_system_where_the_test_says_what_is_due().await;
    system
        .vhost
        .bind_all(
            advances_service::clients::broker::EVENTS_EXCHANGE,
            events::QUEUE,
        )
        .await;
    let account = system.open_account(1).await;
    let id = system
        .an_advance_on_an_empty_account(&account, "100", 4)
        .await;
    let advance = system.collect_now(&id, 1).await;
    assert_eq!(figures(&advance).0, 1);

    let asked = chrono::Utc::now() + chrono::Duration::days(3);
    let (status, rescheduled) = system
        .reschedule(
            &id,
            json!({"installments": 3, "first_due_at": asked.to_rfc3339()}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{rescheduled}");
    assert_eq!(figures(&rescheduled), none_missed());
    assert_eq!(rescheduled["installments"], 4, "the plan it was made with");
    assert_eq!(rescheduled["outstanding"], "100.00");
    let statuses: Vec<(i64, &str, &str)> = payments(&rescheduled)
        .iter()
        .map(|p| {
            (
                p["seq"].as_i64().unwrap(),
                p["status"].as_str().unwrap(),
                p["amount"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        statuses,
        [
            (1, "failed", "25.00"),
            (2, "cancelled", "50.00"),
            (3, "cancelled", "25.00"),
            (4, "cancelled", "25.00"),
            (5, "scheduled", "33.33"),
            (6, "scheduled", "33.33"),
            (7, "scheduled", "33.34"),
        ]
    );
    let due = |seq| {
        chrono::DateTime::parse_from_rfc3339(payment(&rescheduled, seq)["due_at"].as_str().unwrap())
            .unwrap()
    };
    assert!((due(5).timestamp_micros() - asked.timestamp_micros()).abs() <= 1);
    assert_eq!(due(6) - due(5), chrono::Duration::days(7));
    assert_eq!(due(7) - due(6), chrono::Duration::days(7));
    assert_eq!(system.bucket("0").await, (1, "100.00".to_owned()));
    let received = events::events_until(&system, |received| {
        received
            .iter()
            .any(|m| m.routing_key == "advance.rescheduled")
    })
    .await;
    let own = events::of_advance(&received, &id);
    let last: Vec<&str> = own[own.len() - 4..]
        .iter()
        .map(|m| m.routing_key.as_str())
        .collect();
    assert_eq!(
        last,
        [
            "payment.cancelled",
            "payment.cancelled",
            "payment.cancelled",
            "advance.rescheduled"
        ]
    );
    let data = &own[own.len() - 1].body["data"];
    assert_eq!(figures(data), none_missed(), "the advance right after");
    assert_eq!(payments(data).len(), 7);
    assert_eq!(system.reconcile().await["mismatches"], json!([]));

    // Without `first_due_at`, the first new payment is one interval away.
    let (status, again) = system.reschedule(&id, json!({"installments": 1})).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    let last = payment(&again, 8);
    assert_eq!(last["amount"], "100.00");
    let due = chrono::DateTime::parse_from_rfc3339(last["due_at"].as_str().unwrap()).unwrap();
    let ahead = due.with_timezone(&chrono::Utc) - chrono::Utc::now();
    assert!(
        ahead > chrono::Duration::days(6) && ahead <= chrono::Duration::days(7),
        "{ahead}"
    );

    // The new plan is collected like any other.
    system.deposit(&account, "100").await;
    let advance = system.collect_now(&id, 8).await;
    assert_eq!(payment(&advance, 8)["status"], "paid");
    system
        .wait_for(&id, PATIENCE, |a| a["status"] == "repaid")
        .await;
    assert_eq!(system.reconcile().await["mismatches"], json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_reschedule_is_refused_as_the_contract_says() {
    let (system, id) = an_advance_and_no_worker("100", 4).await;
    let code = |body: &Value| {
        body["error"]["code"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };

    let past = (chrono::Utc::now() - chrono::Duration::seconds(5)).to_rfc3339();
    for (body, status, expected) in [
        (json!({"installments": 0}), 422, "invalid_installments"),
        (json!({"installments": 105}), 422, "invalid_installments"),
        (
            json!({"installments": 2, "first_due_at": past}),
            422,
            "invalid_due_date",
        ),
        (
            json!({"installments": 2, "first_due_at": "tomorrow"}),
            422,
            "invalid_due_date",
        ),
        (
            json!({"installments": 20000, "x": 1}),
            400,
            "invalid_request",
        ),
        (json!({}), 400, "invalid_request"),
        (json!({"installments": "2"}), 400, "invalid_request"),
    ] {
        let (got, answer) = system.reschedule(&id, body.clone()).await;
        assert_eq!(got.as_u16(), status, "{body} -> {answer}");
        assert_eq!(code(&answer), expected, "{body} -> {answer}");
    }
    let (got, answer) = system
        .reschedule(
            &uuid::Uuid::now_v7().to_string(),
            json!({"installments": 2}),
        )
        .await;
    assert_eq!(got, StatusCode::NOT_FOUND, "{answer}");
    system
        .sql(&format!(
            "UPDATE payments SET status = 'processing', lease_until = now() + interval '1 minute' \
             WHERE advance_id = '{id}' AND seq = 1"
        ))
        .await;
    let (got, answer) = system.reschedule(&id, json!({"installments": 2})).await;
    assert_eq!(got, StatusCode::CONFLICT, "{answer}");
    assert_eq!(code(&answer), "payment_in_progress");
    let cancelled = system
        .count(&format!(
            "SELECT count(*) AS n FROM payments WHERE advance_id = '{id}' AND status = 'cancelled'"
        ))
        .await;
    assert_eq!(cancelled, 0, "a refused reschedule changes nothing");

    system
        .sql(&format!(
            "UPDATE advances SET status = 'repaid' WHERE id = '{id}'"
        ))
        .await;
    let (got, answer) = system.reschedule(&id, json!({"installments": 2})).await;
    assert_eq!(got, StatusCode::CONFLICT, "{answer}");
    assert_eq!(code(&answer), "advance_not_active");

    let (got, answer) = system.get("/api/v1/reports/portfolio?currency=usd").await;
    assert_eq!(got, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    assert_eq!(code(&answer), "invalid_currency");
    let (got, answer) = system.get("/api/v1/advances?overdue=maybe").await;
    assert_eq!(got, StatusCode::BAD_REQUEST, "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_reschedule_too_fine_for_what_is_left_is_refused() {
    let (system, id) = an_advance_and_no_worker("0.50", 1).await;
    let (status, answer) = system.reschedule(&id, json!({"installments": 51})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    assert_eq!(answer["error"]["code"], "amount_too_small");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_reschedule_racing_the_collection_of_a_due_payment_collects_each_once() {
    // Payments fall due every second while the reschedules come in.
    let system = spawn_system(Options::default()).await;
    let account = system.open_account(1).await;
    system.deposit(&account, "50").await;
    let (_, advance) = system.create_advance(&account, "120", 6).await;
    let id = advance["advance_id"].as_str().unwrap().to_owned();
    system
        .wait_for(&id, PATIENCE, |a| {
            payments(a).iter().any(|p| p["status"] == "paid")
        })
        .await;

    // Whatever the worker is doing, a reschedule goes in or is told to come
    // back; reschedule a few times, each to payments due a second apart.
    let mut rescheduled = 0;
    for _ in 0..400 {
        let (status, body) = system.reschedule(&id, json!({"installments": 3})).await;
        match status {
            StatusCode::OK => {
                rescheduled += 1;
                assert_eq!(figures(&body), none_missed());
                if rescheduled == 3 {
                    break;
                }
            }
            StatusCode::CONFLICT if body["error"]["code"] == "payment_in_progress" => {
                tokio::task::yield_now().await;
            }
            StatusCode::CONFLICT if body["error"]["code"] == "advance_not_active" => break,
            other => panic!("{other} {body}"),
        }
    }
    let repaid = system
        .wait_for(&id, PATIENCE, |a| a["status"] == "repaid")
        .await;

    assert_eq!(repaid["paid"], "120.00");
    assert_eq!(figures(&repaid), none_missed());
    let (withdrawals, sum) = system.collected(&format!("advance:{id}:payment:")).await;
    assert_eq!(sum, Decimal::from(120), "collected exactly the advance");
    let paid = payments(&repaid)
        .iter()
        .filter(|p| p["status"] == "paid")
        .count() as i64;
    assert_eq!(withdrawals, paid, "one withdrawal per paid payment");
    assert_eq!(system.balance(&account).await, Decimal::from(50));
    let report = system.reconcile().await;
    assert_eq!(report["mismatches"], json!([]));
    let portfolio = system.portfolio("USD").await;
    assert_eq!(portfolio["advances_active"], 0, "{portfolio:#}");
    assert_eq!(portfolio["collected_last_7_days"], "120.00");
    system.assert_ledger_audit_clean().await;
}

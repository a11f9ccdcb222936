//! Advances events on `advances.events`, from the outbox.

use std::cell::RefCell;
use std::time::Duration;

use advances_service::clients::broker::EVENTS_EXCHANGE;
use reqwest::StatusCode;
use serde_json::Value;
use test_support::{eventually, Message};

use crate::helpers::{spawn_system, Options, TestSystem};

pub const QUEUE: &str = "all-advances-events";

/// Every event received until `done` holds of them, in the order received.
pub async fn events_until(system: &TestSystem, done: impl Fn(&[Message]) -> bool) -> Vec<Message> {
    let received: RefCell<Vec<Message>> = RefCell::default();
    eventually("the events arrive", Duration::from_secs(30), || async {
        let messages = system.vhost.drain(QUEUE).await;
        let mut received = received.borrow_mut();
        received.extend(messages);
        done(&received)
    })
    .await;
    received.into_inner()
}

pub fn of_advance<'a>(events: &'a [Message], id: &str) -> Vec<&'a Message> {
    events
        .iter()
        .filter(|m| m.body["data"]["advance_id"] == id)
        .collect()
}

fn types(events: &[&Message]) -> Vec<String> {
    events.iter().map(|m| m.routing_key.clone()).collect()
}

fn payment_statuses(advance: &Value) -> Vec<String> {
    advance["payments"]
        .as_array()
        .expect("payments")
        .iter()
        .map(|p| p["status"].as_str().expect("a status").to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn each_change_of_an_advance_is_published_with_the_advance_as_it_then_stood() {
    // Two seconds between payments: room to spend the money before the first.
    let system = spawn_system(Options {
        installment_interval: "2s",
        ..Options::default()
    })
    .await;
    system.vhost.bind_all(EVENTS_EXCHANGE, QUEUE).await;
    let account = system.open_account(1).await;
    let (status, advance) = system.create_advance(&account, "100", 2).await;
    assert_eq!(status, StatusCode::CREATED, "{advance}");
    let id = advance["advance_id"].as_str().unwrap().to_owned();
    // Spend the advance: the first payment fails for funds and rolls over.
    system.withdraw(&account, "100").await;
    system
        .wait_for(&id, Duration::from_secs(30), |a| {
            a["payments"][0]["status"] == "failed"
        })
        .await;
    system.deposit(&account, "100").await;
    let repaid = system
        .wait_for(&id, Duration::from_secs(30), |a| a["status"] == "repaid")
        .await;

    let events = events_until(&system, |events| {
        events.iter().any(|m| m.routing_key == "advance.repaid")
    })
    .await;
    let mine = of_advance(&events, &id);
    assert_eq!(
        types(&mine),
        [
            "advance.created",
            "advance.active",
            "payment.failed",
            "payment.paid",
            "advance.repaid"
        ]
    );
    for message in &mine {
        assert!(message.persistent);
        assert_eq!(message.body["type"], message.routing_key.as_str());
        assert_eq!(
            message.message_id.as_deref(),
            message.body["event_id"].as_str()
        );
        assert!(message.body["occurred_at"].as_str().unwrap().ends_with('Z'));
    }
    let data = |k: usize| &mine[k].body["data"];
    assert_eq!(data(0)["status"], "disbursing");
    assert_eq!(data(1)["status"], "active");
    assert_eq!(payment_statuses(data(2)), ["failed", "scheduled"]);
    assert_eq!(data(2)["payments"][1]["amount"], "100.00", "rolled over");
    assert_eq!(data(3)["status"], "active", "paid, not yet marked repaid");
    assert_eq!(payment_statuses(data(3)), ["failed", "paid"]);
    assert_eq!(*data(4), repaid);
    // Published once each: the outbox keeps nothing it has had confirmed.
    assert_eq!(system.count("SELECT count(*) AS n FROM events").await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_payoff_publishes_one_cancelled_event_per_cancelled_payment() {
    let system = spawn_system(Options {
        installment_interval: "7d",
        ..Options::default()
    })
    .await;
    system.vhost.bind_all(EVENTS_EXCHANGE, QUEUE).await;
    let account = system.open_account(1).await;
    let (_, advance) = system.create_advance(&account, "90", 3).await;
    let id = advance["advance_id"].as_str().unwrap().to_owned();
    let response = system
        .post(&format!("/api/v1/advances/{id}/payoff"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    system
        .wait_for(&id, Duration::from_secs(30), |a| a["status"] == "repaid")
        .await;

    let events = events_until(&system, |events| {
        events.iter().any(|m| m.routing_key == "advance.repaid")
    })
    .await;
    let mine = of_advance(&events, &id);
    assert_eq!(
        types(&mine),
        [
            "advance.created",
            "advance.active",
            "payment.cancelled",
            "payment.cancelled",
            "payment.cancelled",
            "payment.paid",
            "advance.repaid"
        ]
    );
    assert_eq!(
        payment_statuses(&mine[2].body["data"]),
        ["cancelled", "cancelled", "cancelled", "scheduled"]
    );
    let ids: std::collections::BTreeSet<&str> = mine
        .iter()
        .map(|m| m.body["event_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), mine.len(), "each event has its own id");
}

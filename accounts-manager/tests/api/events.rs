//! The event feed and its relay to `ledger.events`.

use std::cell::RefCell;
use std::collections::{BTreeSet, HashMap};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use diesel::connection::SimpleConnection;
use reqwest::StatusCode;
use serde_json::{json, Value};
use test_support::{eventually, Message, TestVhost};
use tokio::sync::mpsc::UnboundedSender;

use crate::helpers::{assert_error, spawn_app, spawn_app_on_with, spawn_app_with, TestApp};

const EXCHANGE: &str = "ledger.events";

/// Every event after `after`, page by page, checking the feed's promises on
/// the way: positions strictly increase, `next` is the last one given (or
/// `after` when there is nothing new).
async fn read_feed(app: &TestApp, after: &str, limit: u32) -> (Vec<Value>, String) {
    let mut events = Vec::new();
    let mut after = after.to_owned();
    loop {
        let (status, page) = app
            .get_json(&format!("/api/v1/events?after={after}&limit={limit}"))
            .await;
        assert_eq!(status, StatusCode::OK, "{page}");
        let items = page["items"].as_array().expect("items").clone();
        let next = page["next"].as_str().expect("next is a string").to_owned();
        match items.last() {
            None => {
                assert_eq!(next, after, "next stays when nothing is new");
                return (events, after);
            }
            Some(last) => assert_eq!(last["position"].as_str(), Some(next.as_str())),
        }
        for event in items {
            let position = position(&event);
            assert!(
                position > after.parse::<i64>().unwrap(),
                "{position} after {after}"
            );
            after = position.to_string();
            events.push(event);
        }
    }
}

fn position(event: &Value) -> i64 {
    event["position"]
        .as_str()
        .expect("position is a string")
        .parse()
        .expect("position is a decimal integer")
}

fn transaction_id(event: &Value) -> String {
    event["data"]["transaction_id"]
        .as_str()
        .expect("a transaction id")
        .to_owned()
}

/// What an event is of: its transaction's id, or an account event's own id.
fn subject(event: &Value) -> String {
    match event["data"]["transaction_id"].as_str() {
        Some(id) => id.to_owned(),
        None => event["event_id"].as_str().expect("an event id").to_owned(),
    }
}

/// Every transaction id and account event id the database holds (each one
/// committed).
async fn committed(app: &TestApp) -> BTreeSet<String> {
    let ids = app
        .text(
            "SELECT coalesce(string_agg(id, ','), '') AS t FROM \
             (SELECT id::text FROM transactions UNION ALL SELECT event_id::text FROM account_events) e",
        )
        .await;
    ids.split(',')
        .filter(|id| !id.is_empty())
        .map(str::to_owned)
        .collect()
}

/// One transaction of every type and both statuses, through the API.
async fn every_kind_of_transaction(app: &TestApp) {
    let a = app.funded_account(1, "100.00").await;
    let b = app.open_account(2, "USD").await;
    let (_, transfer) = app
        .post_json(
            "/api/v1/transfers",
            json!({"from_account_id": a, "to_account_id": b, "amount": "10.00"}),
        )
        .await;
    let (status, _) = app
        .post_json(
            "/api/v1/withdrawals",
            json!({"account_id": b, "amount": "1000.00"}),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "a failed withdrawal"
    );
    app.post_json(
        "/api/v1/withdrawals",
        json!({"account_id": a, "amount": "5.00"}),
    )
    .await;
    for (order, action) in [(701, "capture"), (702, "release")] {
        let (status, body) = app
            .post_json(
                "/api/v1/reservations",
                json!({"account_id": a, "order_id": order, "service_id": 3, "amount": "7.00"}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let (status, body) = app
            .post_json(&format!("/api/v1/reservations/{order}/{action}"), json!({}))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let id = transfer["transaction_id"].as_str().expect("an id");
    let (status, body) = app
        .post_json(
            &format!("/api/v1/transactions/{id}/reversals"),
            json!({"amount": "4.00"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = app
        .post_json(
            "/api/v1/transfers/batch",
            json!({"transfers": [
                {"from_account_id": a, "to_account_id": b, "amount": "1.00"},
                {"from_account_id": b, "to_account_id": a, "amount": "2.00"},
            ]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

#[tokio::test]
async fn every_committed_transaction_is_in_the_feed_once_with_the_contract_body() {
    let app = spawn_app().await;
    every_kind_of_transaction(&app).await;
    // A replay is no new transaction, so no new event.
    let replayed = || {
        app.post("/api/v1/deposits")
            .header("Idempotency-Key", "feed-replay")
            .json(&json!({"user_id": 9, "amount": "3.00"}))
            .send()
    };
    assert_eq!(replayed().await.unwrap().status(), StatusCode::CREATED);
    assert_eq!(replayed().await.unwrap().status(), StatusCode::CREATED);

    let (events, next) = read_feed(&app, "0", 3).await;
    let ids: Vec<String> = events.iter().map(transaction_id).collect();
    let unique: BTreeSet<String> = ids.iter().cloned().collect();
    assert_eq!(unique.len(), ids.len(), "each transaction once");
    assert_eq!(unique, committed(&app).await);
    let kinds: BTreeSet<String> = events
        .iter()
        .map(|e| format!("{}.{}", e["data"]["type"], e["data"]["status"]))
        .collect();
    assert!(kinds.len() >= 8, "every type and both statuses: {kinds:?}");

    for event in &events {
        assert_eq!(event["type"], "transaction.created", "{event}");
        assert!(uuid::Uuid::parse_str(event["event_id"].as_str().unwrap()).is_ok());
        assert_eq!(event["occurred_at"], event["data"]["created_at"]);
        // The transaction as committed: what GET answers, less later reversals.
        let (status, mut stored) = app
            .get_json(&format!("/api/v1/transactions/{}", transaction_id(event)))
            .await;
        assert_eq!(status, StatusCode::OK);
        stored["reversed_amount"] = json!("0.00");
        assert_eq!(event["data"], stored);
    }
    // The feed is stable: reading it again gives the same events.
    let (again, _) = read_feed(&app, "0", 1000).await;
    assert_eq!(again, events);
    // Omitting after starts from the beginning.
    let (status, first) = app.get_json("/api/v1/events?limit=2").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(first["items"].as_array().unwrap()[..], events[..2]);
    // Nothing new: next is after.
    let (rest, after) = read_feed(&app, &next, 10).await;
    assert_eq!(after, next);
    assert!(rest.is_empty(), "{rest:#?}");
}

#[tokio::test]
async fn a_bad_after_or_limit_is_refused() {
    let app = spawn_app().await;
    let (status, body) = app.get_json("/api/v1/events?after=-1").await;
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_position",
    );
    let (status, body) = app.get_json("/api/v1/events?after=abc").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    for limit in ["0", "1001"] {
        let (status, body) = app.get_json(&format!("/api/v1/events?limit={limit}")).await;
        assert_error(
            status,
            &body,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_limit",
        );
    }
    let (status, body) = app.get_json("/api/v1/events?after=99999999999").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, json!({"items": [], "next": "99999999999"}));
}

/// A writer that inserts a (failed, so entry-less) transaction in a
/// database transaction of its own and commits only when told.
struct HeldWriter {
    commit: mpsc::Sender<()>,
    done: tokio::task::JoinHandle<String>,
}

fn held_writer(app: &TestApp, inserted: UnboundedSender<()>) -> HeldWriter {
    let (commit, wait) = mpsc::channel::<()>();
    let db = app.db.clone();
    let done = tokio::task::spawn_blocking(move || {
        let id = uuid::Uuid::new_v4().to_string();
        let mut conn = db.connect();
        conn.batch_execute(&format!(
            "BEGIN; INSERT INTO transactions (id, kind, status, reason, amount, currency, description, created_by) \
             VALUES ('{id}', 'withdrawal', 'failed', 'insufficient_funds', 1, 'USD', 'held writer', 'test')"
        ))
        .expect("insert in an open transaction");
        inserted.send(()).expect("the test waits");
        wait.recv().expect("told to commit");
        conn.batch_execute("COMMIT").expect("commit");
        id
    });
    HeldWriter { commit, done }
}

#[tokio::test]
async fn a_reader_never_gets_an_event_before_one_it_has_while_writers_commit_out_of_order() {
    let app = spawn_app().await;
    let account = app.funded_account(1, "1000.00").await;
    let (inserted, mut all_inserted) = tokio::sync::mpsc::unbounded_channel();
    let mut writers: Vec<HeldWriter> = Vec::new();
    for _ in 0..8 {
        writers.push(held_writer(&app, inserted.clone()));
        // One after the other, so their transaction ids grow in this order.
        all_inserted.recv().await.expect("a writer inserted");
    }

    let mut given: Vec<Value> = Vec::new();
    let mut after = "0".to_owned();
    // Commit them out of order, reading the feed and moving money through
    // the engine between commits; the newer writes commit at once.
    for (step, writer) in [5, 2, 7, 0, 3, 6, 1, 4].into_iter().enumerate() {
        let (events, next) = read_feed(&app, &after, 2).await;
        given.extend(events);
        after = next;
        app.post_json(
            "/api/v1/withdrawals",
            json!({"account_id": account, "amount": "1.00", "reference": format!("step {step}")}),
        )
        .await;
        writers[writer].commit.send(()).expect("the writer waits");
        let (events, next) = read_feed(&app, &after, 2).await;
        given.extend(events);
        after = next;
    }
    let mut held = Vec::new();
    for writer in writers {
        held.push(writer.done.await.expect("the writer committed"));
    }
    // Once every writer has finished, the feed holds everything.
    let expected = committed(&app).await;
    eventually("the feed catches up", Duration::from_secs(10), || async {
        let (events, _) = read_feed(&app, &after, 100).await;
        let mut ids: BTreeSet<String> = given.iter().map(transaction_id).collect();
        ids.extend(events.iter().map(transaction_id));
        ids == expected
    })
    .await;
    let (events, _) = read_feed(&app, &after, 100).await;
    given.extend(events);
    let positions: Vec<i64> = given.iter().map(position).collect();
    assert!(
        positions.windows(2).all(|w| w[0] < w[1]),
        "never an event before one already given: {positions:?}"
    );
    let ids: BTreeSet<String> = given.iter().map(transaction_id).collect();
    assert_eq!(ids.len(), given.len(), "each event once");
    assert_eq!(ids, expected);
    assert!(held.iter().all(|id| ids.contains(id)));
}

#[tokio::test]
async fn a_write_that_rolls_back_leaves_no_event() {
    let app = spawn_app().await;
    app.funded_account(1, "10.00").await;
    let mut conn = app.db.connect();
    conn.batch_execute(
        "BEGIN; INSERT INTO transactions (id, kind, status, reason, amount, currency, description, created_by) \
         VALUES (gen_random_uuid(), 'withdrawal', 'failed', 'insufficient_funds', 1, 'USD', 'rolled back', 'test'); \
         ROLLBACK",
    )
    .unwrap();
    app.funded_account(2, "10.00").await;
    let (events, _) = read_feed(&app, "0", 100).await;
    assert!(events
        .iter()
        .all(|e| e["data"]["description"] != "rolled back"));
    assert_eq!(
        events.iter().map(transaction_id).collect::<BTreeSet<_>>(),
        committed(&app).await
    );
}

/// Waits until the queue has received an event for every committed
/// transaction; answers the messages, by event id.
async fn published(app: &TestApp, vhost: &TestVhost, queue: &str) -> HashMap<String, Vec<Message>> {
    published_in_order(app, vhost, queue).await.0
}

/// [`published`], and the positions of the messages in the order they
/// arrived.
async fn published_in_order(
    app: &TestApp,
    vhost: &TestVhost,
    queue: &str,
) -> (HashMap<String, Vec<Message>>, Vec<u64>) {
    let received: RefCell<HashMap<String, Vec<Message>>> = RefCell::default();
    let arrival: RefCell<Vec<u64>> = RefCell::default();
    let expected = committed(app).await;
    eventually(
        "every event is published",
        Duration::from_secs(20),
        || async {
            let messages = vhost.drain(queue).await;
            let mut received = received.borrow_mut();
            for message in messages {
                arrival.borrow_mut().push(
                    message.body["position"]
                        .as_str()
                        .and_then(|p| p.parse().ok())
                        .expect("a position"),
                );
                let id = message.message_id.clone().expect("a message id");
                received.entry(id).or_default().push(message);
            }
            let ids: BTreeSet<String> = received.values().map(|m| subject(&m[0].body)).collect();
            ids == expected
        },
    )
    .await;
    (received.into_inner(), arrival.into_inner())
}

#[tokio::test]
async fn every_event_is_published_to_ledger_events_with_its_routing_key() {
    let vhost = TestVhost::create();
    vhost.bind_all(EXCHANGE, "all-events").await;
    let app = spawn_app_with(&[
        ("EVENTS_AMQP_URL", &vhost.amqp_url()),
        ("EVENTS_POLL_INTERVAL", "10ms"),
    ])
    .await;
    every_kind_of_transaction(&app).await;
    // And a change of an account's standing each way.
    let account = app.open_account(9, "USD").await;
    for (what, body) in [
        ("freeze", json!({"reason": "check"})),
        ("unfreeze", json!({})),
    ] {
        let (status, answer) = app
            .post_json(&format!("/api/v1/accounts/{account}/{what}"), body)
            .await;
        assert_eq!(status, StatusCode::OK, "{answer}");
    }

    let (received, arrival) = published_in_order(&app, &vhost, "all-events").await;
    assert!(
        arrival.windows(2).all(|pair| pair[0] < pair[1]),
        "published in feed order: {arrival:?}"
    );
    let (feed, _) = read_feed(&app, "0", 1000).await;
    assert_eq!(received.len(), feed.len());
    let accounts: Vec<&str> = feed
        .iter()
        .filter_map(|e| e["type"].as_str().filter(|k| k.starts_with("account.")))
        .collect();
    assert_eq!(accounts, ["account.frozen", "account.unfrozen"]);
    for event in &feed {
        let id = event["event_id"].as_str().unwrap();
        let messages = &received[id];
        assert_eq!(messages.len(), 1, "one relay, no fault: once");
        let message = &messages[0];
        assert_eq!(message.body, *event, "the feed's body");
        assert!(message.persistent);
        let data = &event["data"];
        let expected = match event["type"].as_str().unwrap() {
            "transaction.created" => format!(
                "transaction.{}.{}",
                data["type"].as_str().unwrap(),
                data["status"].as_str().unwrap()
            ),
            // An account's event: its type, with the account as data.
            kind => {
                assert_eq!(data["account_id"], account.as_str());
                kind.to_owned()
            }
        };
        assert_eq!(message.routing_key, expected);
    }
    // Counted once the relay has moved its mark past the confirms.
    let published = format!("events_published_total {}", feed.len());
    eventually(
        "the events are counted",
        Duration::from_secs(10),
        || async { app.metrics().await.contains(&published) },
    )
    .await;
    let metrics = app.metrics().await;
    assert!(metrics.contains("events_publish_lag_seconds_count"));
}

#[tokio::test]
async fn a_broker_that_is_away_delays_events_and_loses_none() {
    let vhost = TestVhost::create();
    vhost.bind_all(EXCHANGE, "all-events").await;
    vhost.lock_out();
    let app = spawn_app_with(&[
        ("EVENTS_AMQP_URL", &vhost.amqp_url()),
        ("EVENTS_POLL_INTERVAL", "10ms"),
    ])
    .await;
    // Money moves, and the service is ready, without the broker.
    every_kind_of_transaction(&app).await;
    let ready = app
        .client
        .get(format!("{}/readyz", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), StatusCode::OK);
    let waiting = committed(&app).await.len();
    let pending = format!("events_pending {waiting}");
    eventually(
        "events_pending counts what waits",
        Duration::from_secs(10),
        || async { app.metrics().await.contains(&pending) },
    )
    .await;

    // The broker is back: everything waiting is published.
    vhost.let_in();
    app.funded_account(5, "1.00").await;
    let received = published(&app, &vhost, "all-events").await;
    assert_eq!(
        received.len(),
        waiting + 1,
        "the deposit made after the broker came back too"
    );
}

#[tokio::test]
async fn instances_share_the_relay_and_connections_closed_under_load_lose_nothing() {
    let vhost = TestVhost::create();
    vhost.bind_all(EXCHANGE, "all-events").await;
    let amqp = vhost.amqp_url();
    let settings = [
        ("EVENTS_AMQP_URL", amqp.as_str()),
        ("EVENTS_POLL_INTERVAL", "10ms"),
    ];
    let first = Arc::new(spawn_app_with(&settings).await);
    let second = Arc::new(spawn_app_on_with(first.db.clone(), &settings).await);
    let a = first.funded_account(1, "1000.00").await;
    let b = second.funded_account(2, "1000.00").await;

    let load = |app: Arc<TestApp>, from: String, to: String| {
        tokio::spawn(async move {
            for _ in 0..40 {
                app.post_json(
                    "/api/v1/transfers",
                    json!({"from_account_id": from, "to_account_id": to, "amount": "1.00"}),
                )
                .await;
            }
        })
    };
    let one = load(first.clone(), a.clone(), b.clone());
    let two = load(second.clone(), b, a);
    for _ in 0..3 {
        vhost.close_connections().await;
    }
    one.await.unwrap();
    two.await.unwrap();

    let received = published(&first, &vhost, "all-events").await;
    assert_eq!(received.len(), committed(&first).await.len());
    for messages in received.values() {
        assert!(messages.iter().all(|m| m.body == messages[0].body));
    }
}

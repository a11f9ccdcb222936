//! Traces with nothing exported (this binary installs no subscriber): the
//! caller's `traceparent` is passed on unchanged, to the stored advance and
//! to the job RabbitMQ holds. With spans exported: `tests/traces.rs`.

use std::sync::Mutex;
use std::time::Duration;

use advances_service::clients::broker::{self, QUEUE};
use lapin::options::{BasicGetOptions, BasicNackOptions};
use lapin::{Connection, ConnectionProperties};
use reqwest::StatusCode;
use serde_json::json;
use shared_types::headers::TRACEPARENT;
use test_support::eventually;

use crate::helpers::{read, spawn_system, Options};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn without_an_exporter_the_callers_traceparent_reaches_the_job_unchanged() {
    let system = spawn_system(Options {
        roles: "api,scheduler",
        ..Options::default()
    })
    .await;
    let account = system.open_account(9).await;
    let traceparent = format!(
        "00-{}-{}-01",
        uuid::Uuid::new_v4().simple(),
        &uuid::Uuid::new_v4().simple().to_string()[..16]
    );

    let (status, advance) = read(
        system
            .post("/api/v1/advances")
            .header(TRACEPARENT, &traceparent)
            .json(&json!({"account_id": account, "amount": "10", "installments": 1}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{advance}");

    let stored = system
        .count(&format!(
            "SELECT count(*) AS n FROM advances WHERE traceparent = '{traceparent}'"
        ))
        .await;
    assert_eq!(stored, 1);
    let connection = Connection::connect(&system.vhost.amqp_url(), ConnectionProperties::default())
        .await
        .unwrap();
    let channel = connection.create_channel().await.unwrap();
    let header = Mutex::new(None);
    eventually("the job in the queue", Duration::from_secs(20), || async {
        let got = channel
            .basic_get(QUEUE.into(), BasicGetOptions::default())
            .await
            .unwrap();
        let Some(message) = got else { return false };
        *header.lock().unwrap() = Some(broker::trace_of(&message.delivery.properties));
        message
            .delivery
            .acker
            .nack(BasicNackOptions {
                requeue: true,
                multiple: false,
            })
            .await
            .unwrap();
        true
    })
    .await;
    let header = header.into_inner().unwrap().flatten();
    assert_eq!(header.map(|h| h.as_str().to_owned()), Some(traceparent));
}

//! One trace across both services: a request's `traceparent` continued by
//! accounts-manager, by the payment job published to the real RabbitMQ and
//! by the worker's withdrawal. This test binary installs the services'
//! subscriber (`service_kit::trace::install`) with an in-process exporter,
//! as `OTEL_EXPORTER_OTLP_ENDPOINT` does with the OTLP one; the traces of a
//! process with nothing exported are in `tests/api/traces.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed test should panic

#[allow(dead_code, unused_imports)] // the helpers of tests/api; this binary uses a few
#[path = "api/helpers.rs"]
mod helpers;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use advances_service::clients::broker::{self, QUEUE};
use lapin::options::{BasicGetOptions, BasicNackOptions};
use lapin::{Connection, ConnectionProperties};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SdkTracerProvider, SpanData, SpanExporter};
use reqwest::StatusCode;
use serde_json::json;
use shared_types::headers::TRACEPARENT;
use test_support::eventually;

use helpers::{read, spawn_system, start_advances, Options, TOKEN};

/// Keeps every span that ends, in this process.
#[derive(Debug, Clone, Default)]
struct Kept(Arc<Mutex<Vec<SpanData>>>);

impl SpanExporter for Kept {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        self.0.lock().unwrap().extend(batch);
        Ok(())
    }
}

impl Kept {
    /// The spans of one trace: (name, span id, parent span id).
    fn of_trace(&self, trace_id: &str) -> Vec<(String, String, String)> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter(|span| span.span_context.trace_id().to_string() == trace_id)
            .map(|span| {
                (
                    span.name.to_string(),
                    span.span_context.span_id().to_string(),
                    span.parent_span_id.to_string(),
                )
            })
            .collect()
    }

    fn named(&self, trace_id: &str, name: &str) -> Vec<(String, String)> {
        self.of_trace(trace_id)
            .into_iter()
            .filter(|(n, _, _)| n == name)
            .map(|(_, id, parent)| (id, parent))
            .collect()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_request_traceparent_is_continued_by_accounts_manager_the_job_and_the_worker() {
    let kept = Kept::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(kept.clone())
        .build();
    service_kit::trace::install("advances-service", provider);
    // api and scheduler: the job waits in the queue until the test has read it.
    let options = Options {
        roles: "api,scheduler",
        ..Options::default()
    };
    let system = spawn_system(options.clone()).await;
    let account = system.open_account(7).await;
    let trace_id = uuid::Uuid::new_v4().simple().to_string();
    let caller_span = &uuid::Uuid::new_v4().simple().to_string()[..16];
    let traceparent = format!("00-{trace_id}-{caller_span}-01");

    let (status, advance) = read(
        system
            .client
            .post(format!("{}/api/v1/advances", system.advances.address))
            .bearer_auth(TOKEN)
            .header(TRACEPARENT, &traceparent)
            .json(&json!({"account_id": account, "amount": "40", "installments": 2}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{advance}");

    // The request's span is the caller's child; accounts-manager's spans
    // (the account read, the disbursement) are children of it.
    let request = "POST /api/v1/advances";
    eventually("the request's span", Duration::from_secs(10), || async {
        !kept.named(&trace_id, request).is_empty()
    })
    .await;
    let (request_span, parent) = kept.named(&trace_id, request)[0].clone();
    assert_eq!(parent, caller_span);
    for call in ["GET /api/v1/accounts/{account_id}", "POST /api/v1/deposits"] {
        let spans = kept.named(&trace_id, call);
        assert!(
            spans.len() == 1 && spans[0].1 == request_span,
            "accounts-manager's {call} under the request: {:#?}",
            kept.of_trace(&trace_id)
        );
    }

    // The first payment's job, as RabbitMQ holds it, carries the trace.
    let connection = Connection::connect(&system.vhost.amqp_url(), ConnectionProperties::default())
        .await
        .unwrap();
    let channel = connection.create_channel().await.unwrap();
    let header = Mutex::new(None);
    eventually("a job in the queue", Duration::from_secs(20), || async {
        let got = channel
            .basic_get(QUEUE.into(), BasicGetOptions::default())
            .await
            .unwrap();
        let Some(message) = got else { return false };
        *header.lock().unwrap() = Some(broker::trace_of(&message.delivery.properties));
        // Back to the queue, for the worker.
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
    let header = header
        .into_inner()
        .unwrap()
        .flatten()
        .expect("the job carries a traceparent");
    assert_eq!(header.trace_id(), trace_id);
    let publishes = kept.named(&trace_id, "publish payment job");
    assert!(
        publishes
            .iter()
            .any(|(id, parent)| id == header.parent_id() && *parent == request_span),
        "the job's parent is a publish span under the request: {publishes:?}"
    );
    let _ = connection.close(200, "read".into()).await;

    // A worker takes the job: its withdrawal from accounts-manager is in the trace.
    let worker = Options {
        roles: "worker",
        ..options
    };
    start_advances(&system.db, &system.vhost, &system.accounts_url, worker).await;
    eventually(
        "the withdrawal's span in the trace",
        Duration::from_secs(30),
        || async { !kept.named(&trace_id, "POST /api/v1/withdrawals").is_empty() },
    )
    .await;
    let collections = kept.named(&trace_id, "collect payment");
    let withdrawals = kept.named(&trace_id, "POST /api/v1/withdrawals");
    assert!(
        collections
            .iter()
            .any(|(id, parent)| parent == header.parent_id()
                && withdrawals.iter().any(|(_, under)| under == id)),
        "a withdrawal under a collection under the job: {:#?}",
        kept.of_trace(&trace_id)
    );
}

//! Dead letters kept in the database, listed and replayed by an operator.

use std::time::Duration;

use advances_service::clients::broker::DEAD_QUEUE;
use reqwest::StatusCode;
use serde_json::Value;
use test_support::eventually;

use crate::helpers::{read, spawn_system, Options, TestSystem};

async fn dead_letters(system: &TestSystem) -> Vec<Value> {
    let (status, page) = system.get("/api/v1/admin/dead-letters?limit=1000").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    page["items"].as_array().expect("items").clone()
}

async fn replay(system: &TestSystem, id: &str) -> (StatusCode, Value) {
    read(
        system
            .post(&format!("/api/v1/admin/dead-letters/{id}/replay"))
            .send()
            .await
            .unwrap(),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_dead_lettered_job_is_kept_listed_and_replayed_once() {
    let system = spawn_system(Options {
        roles: "api,worker",
        ..Options::default()
    })
    .await;
    let unknown = format!(
        r#"{{"payment_id": "{}", "advance_id": "{}"}}"#,
        uuid::Uuid::new_v4(),
        uuid::Uuid::new_v4()
    );
    system
        .publish_raw(&[b"not json at all".to_vec(), unknown.clone().into_bytes()])
        .await;

    eventually("both jobs are kept", Duration::from_secs(20), || async {
        dead_letters(&system).await.len() == 2
    })
    .await;
    let kept = dead_letters(&system).await;
    let bodies: Vec<&str> = kept.iter().map(|d| d["body"].as_str().unwrap()).collect();
    assert!(bodies.contains(&"not json at all"), "{kept:?}");
    assert!(bodies.contains(&unknown.as_str()), "{kept:?}");
    assert!(kept
        .iter()
        .all(|d| d["replayed_at"].is_null() && d["reason"].is_string()));
    eventually(
        "RabbitMQ holds them too",
        Duration::from_secs(20),
        || async { system.queue_depth(DEAD_QUEUE).await == 2 },
    )
    .await;

    // Replayed, the malformed body is dead-lettered (and kept) again.
    let first = kept[0]["id"].as_str().unwrap().to_owned();
    let (status, replayed) = replay(&system, &first).await;
    assert_eq!(status, StatusCode::OK, "{replayed}");
    assert!(replayed["replayed_at"].is_string(), "{replayed}");
    eventually(
        "the replayed job comes back",
        Duration::from_secs(20),
        || async { dead_letters(&system).await.len() == 3 },
    )
    .await;
    let (status, again) = replay(&system, &first).await;
    assert_eq!(status, StatusCode::CONFLICT, "{again}");
    assert_eq!(again["error"]["code"], "already_replayed");

    // With an Idempotency-Key, a repeat of a replay gets its stored answer
    // (not already_replayed); a body with any field is refused.
    let second = kept[1]["id"].as_str().unwrap().to_owned();
    let keyed = |body: &'static str| {
        system
            .post(&format!("/api/v1/admin/dead-letters/{second}/replay"))
            .header("Idempotency-Key", "replay-second")
            .header("Content-Type", "application/json")
            .body(body)
            .send()
    };
    let first_answer = keyed("").await.unwrap();
    assert_eq!(first_answer.status(), StatusCode::OK);
    let (_, first_body) = read(first_answer).await;
    let repeat = keyed("{}").await.unwrap();
    assert_eq!(repeat.status(), StatusCode::OK);
    assert_eq!(repeat.headers()["Idempotent-Replayed"], "true");
    let (_, repeat_body) = read(repeat).await;
    assert_eq!(repeat_body, first_body);
    let (status, refused) = read(keyed(r#"{"x": 1}"#).await.unwrap()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");
    let (status, again) = replay(&system, &second).await;
    assert_eq!(status, StatusCode::CONFLICT, "{again}");
    let (status, missing) = replay(&system, &uuid::Uuid::now_v7().to_string()).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{missing}");
    let (status, bad) = system.get("/api/v1/admin/dead-letters?limit=0").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
}

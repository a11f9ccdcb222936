//! Holds that expire: refused to callers from `expires_at` on, released by
//! the service's sweeper exactly once.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use futures::future::join_all;
use reqwest::StatusCode;
use serde_json::{json, Value};
use test_support::eventually;

use crate::helpers::{assert_error, spawn_app_with, TestApp};

const FAST_SWEEP: &[(&str, &str)] = &[("SWEEP_INTERVAL", "100ms")];

fn in_ms(ms: i64) -> String {
    (Utc::now() + chrono::Duration::milliseconds(ms)).to_rfc3339_opts(SecondsFormat::Micros, true)
}

async fn hold(
    app: &TestApp,
    account: &str,
    order: i64,
    expires_at: Option<String>,
) -> (StatusCode, Value) {
    let mut body =
        json!({"account_id": account, "order_id": order, "service_id": 1, "amount": "10.00"});
    if let Some(at) = expires_at {
        body["expires_at"] = json!(at);
    }
    app.post_json("/api/v1/reservations", body).await
}

async fn status_of(app: &TestApp, order: i64) -> String {
    let (_, body) = app.get_json(&format!("/api/v1/reservations/{order}")).await;
    body["status"].as_str().unwrap_or_default().to_owned()
}

async fn wait_until_past(at: &str) {
    let at: DateTime<Utc> = at.parse().expect("a timestamp");
    eventually("the hold runs out", Duration::from_secs(10), || async {
        Utc::now() > at
    })
    .await;
}

#[tokio::test]
async fn a_hold_expires_after_the_ttl_or_when_asked_and_bad_expiries_are_refused() {
    let app = spawn_app_with(&[("RESERVATION_TTL", "1h"), ("RESERVATION_MAX_TTL", "2d")]).await;
    let a = app.funded_account(1, "100.00").await;

    let (status, body) = hold(&app, &a, 1, None).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let at: DateTime<Utc> = body["expires_at"].as_str().unwrap().parse().unwrap();
    let ttl = at - Utc::now();
    assert!(
        ttl > chrono::Duration::minutes(59) && ttl <= chrono::Duration::hours(1),
        "{ttl}"
    );

    let asked = in_ms(36 * 3600 * 1000);
    let (status, body) = hold(&app, &a, 2, Some(asked.clone())).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["expires_at"], asked.as_str());

    for bad in [
        in_ms(-1000),
        in_ms(3 * 24 * 3600 * 1000),
        "tomorrow".to_owned(),
    ] {
        let (status, body) = hold(&app, &a, 3, Some(bad)).await;
        assert_error(
            status,
            &body,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_expiry",
        );
    }
    assert_eq!(app.balance(&a).await, "80.00");
}

#[tokio::test]
async fn an_expired_hold_refuses_the_caller_and_the_sweeper_releases_it() {
    let app = spawn_app_with(FAST_SWEEP).await;
    let a = app.funded_account(1, "100.00").await;
    let at = in_ms(700);
    let (status, body) = hold(&app, &a, 5, Some(at.clone())).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    wait_until_past(&at).await;

    // From expires_at on, only the service ends the hold.
    for action in ["capture", "release"] {
        let (status, body) = app
            .post_json(&format!("/api/v1/reservations/5/{action}"), json!({}))
            .await;
        if status != StatusCode::CONFLICT {
            panic!("{action} after expiry: {status} {body}");
        }
        let code = body["error"]["code"].as_str().unwrap_or_default();
        assert!(
            code == "reservation_expired" || code == "reservation_not_reserved",
            "{body}"
        );
        assert_eq!(
            code, "reservation_expired",
            "before or after the sweep: {body}"
        );
    }
    eventually(
        "the sweeper releases the hold",
        Duration::from_secs(10),
        || async { status_of(&app, 5).await == "expired" },
    )
    .await;

    let (_, parts) = app.get_json(&format!("/api/v1/accounts/{a}")).await;
    assert_eq!(parts["balance"], "100.00");
    assert_eq!(parts["reserved"], "0.00");
    let release = app
        .text("SELECT description || '|' || created_by AS t FROM transactions WHERE kind = 'release' AND order_id = 5")
        .await;
    assert!(release.contains("the hold expired"), "{release}");
    assert!(release.ends_with("|accounts-manager"), "{release}");
    app.assert_audit_clean().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_sweeping_instances_release_each_expired_hold_once() {
    let first = Arc::new(spawn_app_with(FAST_SWEEP).await);
    let second = Arc::new(crate::helpers::spawn_app_on_with(first.db.clone(), FAST_SWEEP).await);
    let a = first.funded_account(1, "1000.00").await;
    let at = in_ms(800);
    for order in 1..=20 {
        let app = if order % 2 == 0 { &first } else { &second };
        assert_eq!(
            hold(app, &a, order, Some(at.clone())).await.0,
            StatusCode::CREATED
        );
    }
    wait_until_past(&at).await;

    eventually("every hold expired", Duration::from_secs(10), || async {
        first
            .count("SELECT count(*) AS n FROM reservations WHERE status = 'expired'")
            .await
            == 20
    })
    .await;

    assert_eq!(
        first
            .count("SELECT count(*) AS n FROM transactions WHERE kind = 'release'")
            .await,
        20,
        "one release per hold"
    );
    assert_eq!(first.balance(&a).await, "1000.00");
    first.assert_audit_clean().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_capture_racing_the_expiry_of_its_hold_has_exactly_one_outcome() {
    let app = Arc::new(spawn_app_with(FAST_SWEEP).await);
    let a = app.funded_account(1, "1000.00").await;
    let at = in_ms(600);
    for order in 1..=10 {
        assert_eq!(
            hold(&app, &a, order, Some(at.clone())).await.0,
            StatusCode::CREATED
        );
    }
    let deadline: DateTime<Utc> = at.parse().unwrap();
    // Capture each around its expiry, while the sweeper runs.
    let captures = (1..=10).map(|order| {
        let app = app.clone();
        async move {
            let wait = (deadline - Utc::now()).num_milliseconds() - 20 + order * 5;
            if wait > 0 {
                tokio::time::sleep(Duration::from_millis(u64::try_from(wait).unwrap_or(0))).await;
            }
            app.post_json(&format!("/api/v1/reservations/{order}/capture"), json!({}))
                .await
        }
    });
    let answers = join_all(captures).await;
    eventually(
        "no hold is left reserved",
        Duration::from_secs(10),
        || async {
            app.count("SELECT count(*) AS n FROM reservations WHERE status = 'reserved'")
                .await
                == 0
        },
    )
    .await;

    for (order, (status, body)) in (1..=10).zip(&answers) {
        let ended = status_of(&app, order).await;
        match *status {
            StatusCode::OK => assert_eq!(ended, "captured", "{body}"),
            StatusCode::CONFLICT => assert_eq!(ended, "expired", "{body}"),
            other => panic!("order {order}: {other} {body}"),
        }
    }
    assert_eq!(
        app.count(
            "SELECT count(*) AS n FROM (SELECT order_id FROM transactions \
             WHERE kind IN ('capture', 'release') GROUP BY order_id HAVING count(*) = 1) o"
        )
        .await,
        10,
        "each hold ended once: a capture or a release, never both"
    );
    app.assert_audit_clean().await;
}

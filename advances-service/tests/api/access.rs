//! Access control of advances-service: the scope of every route, who made
//! each advance, and the key routes.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{read, spawn_system, Options, TestSystem, TOKEN};

async fn make_key(sys: &TestSystem, name: &str, scopes: &[&str]) -> String {
    let (status, body) = read(
        sys.post("/api/v1/admin/api-keys")
            .json(&json!({"name": name, "scopes": scopes}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["secret"].as_str().unwrap().to_owned()
}

async fn send(
    sys: &TestSystem,
    key: &str,
    method: Method,
    path: &str,
    body: Option<&Value>,
    idempotency_key: Option<&str>,
) -> reqwest::Response {
    let mut request = sys
        .client
        .request(method, format!("{}{path}", sys.advances.address))
        .bearer_auth(key);
    if let Some(body) = body {
        request = request.json(body);
    }
    if let Some(key) = idempotency_key {
        request = request.header("Idempotency-Key", key);
    }
    request.send().await.unwrap()
}

async fn footprint(sys: &TestSystem) -> Vec<i64> {
    let mut counts = Vec::new();
    for sql in [
        "SELECT count(*) AS n FROM advances",
        "SELECT count(*) AS n FROM payments",
        "SELECT count(*) AS n FROM idempotency_keys",
        "SELECT count(*) AS n FROM reconciliation_reports",
        "SELECT count(*) AS n FROM api_keys",
        "SELECT count(*) AS n FROM api_keys WHERE revoked_at IS NOT NULL",
    ] {
        counts.push(sys.db.number(sql).await);
    }
    counts
}

/// Method, path, body, scope, the key without it, the key with it, success.
type Case<'a> = (
    Method,
    String,
    Option<Value>,
    &'a str,
    &'a str,
    &'a str,
    StatusCode,
);

#[tokio::test]
async fn every_route_needs_its_scope_a_key_without_it_changes_nothing_and_admin_may_do_everything()
{
    let sys = spawn_system(Options {
        roles: "api",
        ..Options::default()
    })
    .await;
    let reader = make_key(&sys, "reader", &["advances:read"]).await;
    let writer = make_key(&sys, "writer", &["advances:write"]).await;
    let both = make_key(&sys, "both", &["advances:read", "advances:write"]).await;
    let admin = make_key(&sys, "admin-key", &["admin"]).await;
    let victim = {
        let (_, body) = read(
            sys.post("/api/v1/admin/api-keys")
                .json(&json!({"name": "victim", "scopes": ["advances:read"]}))
                .send()
                .await
                .unwrap(),
        )
        .await;
        body["key_id"].as_str().unwrap().to_owned()
    };
    let first = sys.open_account(1).await;
    let second = sys.open_account(2).await;
    let dead = uuid::Uuid::now_v7();
    sys.sql(&format!(
        "INSERT INTO dead_letters (id, body, reason) VALUES ('{dead}', 'not a job', 'a fixture')"
    ))
    .await;
    let (status, existing) = sys.create_advance(&first, "120.00", 12).await;
    assert_eq!(status, StatusCode::CREATED, "{existing}");
    let advance = existing["advance_id"].as_str().unwrap().to_owned();

    let cases: Vec<Case> = vec![
        (
            Method::POST,
            "/api/v1/advances".into(),
            Some(json!({"account_id": second, "amount": "60.00"})),
            "advances:write",
            &reader,
            &writer,
            StatusCode::CREATED,
        ),
        (
            Method::GET,
            format!("/api/v1/advances/{advance}"),
            None,
            "advances:read",
            &writer,
            &reader,
            StatusCode::OK,
        ),
        (
            Method::GET,
            format!("/api/v1/advances?account_id={first}"),
            None,
            "advances:read",
            &writer,
            &reader,
            StatusCode::OK,
        ),
        (
            Method::POST,
            format!("/api/v1/advances/{advance}/reschedule"),
            Some(json!({"installments": 6})),
            "advances:write",
            &reader,
            &writer,
            StatusCode::OK,
        ),
        (
            Method::GET,
            "/api/v1/reports/portfolio?currency=USD".into(),
            None,
            "advances:read",
            &writer,
            &reader,
            StatusCode::OK,
        ),
        (
            Method::POST,
            format!("/api/v1/advances/{advance}/payoff"),
            None,
            "advances:write",
            &reader,
            &writer,
            StatusCode::ACCEPTED,
        ),
        (
            Method::GET,
            "/api/v1/admin/reconciliation".into(),
            None,
            "admin",
            &both,
            &admin,
            StatusCode::OK,
        ),
        (
            Method::POST,
            "/api/v1/admin/reconciliation".into(),
            None,
            "admin",
            &both,
            &admin,
            StatusCode::OK,
        ),
        (
            Method::POST,
            format!("/api/v1/admin/dead-letters/{dead}/replay"),
            None,
            "admin",
            &both,
            &admin,
            StatusCode::OK,
        ),
        (
            Method::GET,
            "/api/v1/admin/dead-letters".into(),
            None,
            "admin",
            &both,
            &admin,
            StatusCode::OK,
        ),
        (
            Method::GET,
            "/api/v1/admin/api-keys".into(),
            None,
            "admin",
            &both,
            &admin,
            StatusCode::OK,
        ),
        (
            Method::POST,
            "/api/v1/admin/api-keys".into(),
            Some(json!({"name": "made", "scopes": ["advances:read"]})),
            "admin",
            &both,
            &admin,
            StatusCode::CREATED,
        ),
        (
            Method::DELETE,
            format!("/api/v1/admin/api-keys/{victim}"),
            None,
            "admin",
            &both,
            &admin,
            StatusCode::OK,
        ),
    ];
    let document = sys.get("/api-docs/openapi.json").await.1;
    for (n, (method, path, body, scope, refused, allowed, ok)) in cases.iter().enumerate() {
        let idem = format!("matrix-{n}");
        let idem = (*method == Method::POST).then_some(idem.as_str());
        let before = footprint(&sys).await;
        let (status, answer) =
            read(send(&sys, refused, method.clone(), path, body.as_ref(), idem).await).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path}: {answer}");
        assert_eq!(answer["error"]["code"], "insufficient_scope");
        assert_eq!(
            footprint(&sys).await,
            before,
            "{method} {path} changed something"
        );

        let response = send(&sys, allowed, method.clone(), path, body.as_ref(), idem).await;
        assert!(response.headers().get("idempotent-replayed").is_none());
        assert_eq!(response.status(), *ok, "{method} {path} with {scope}");

        let documented = path
            .split('?')
            .next()
            .unwrap()
            .replace(&advance, "{advance_id}")
            .replace(&victim, "{key_id}")
            .replace(&dead.to_string(), "{id}");
        assert_eq!(
            document["paths"][&documented][method.as_str().to_lowercase()]["security"][0]["bearer"]
                [0],
            *scope,
            "{method} {documented}"
        );
    }
    let operations: usize = document["paths"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(path, _)| path.starts_with("/api/v1/"))
        .map(|(_, item)| {
            ["get", "post", "put", "patch", "delete"]
                .iter()
                .filter(|m| item.get(**m).is_some())
                .count()
        })
        .sum();
    assert_eq!(operations, cases.len());

    // admin may also use the advances routes.
    let third = sys.open_account(3).await;
    let body = json!({"account_id": third, "amount": "30.00"});
    let response = send(
        &sys,
        &admin,
        Method::POST,
        "/api/v1/advances",
        Some(&body),
        None,
    )
    .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let response = send(
        &sys,
        &admin,
        Method::GET,
        &format!("/api/v1/advances/{advance}"),
        None,
        None,
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn every_advance_records_the_name_of_the_key_that_made_it() {
    let sys = spawn_system(Options {
        roles: "api",
        ..Options::default()
    })
    .await;
    let checkout = make_key(
        &sys,
        "checkout-service",
        &["advances:write", "advances:read"],
    )
    .await;
    let first = sys.open_account(1).await;
    let second = sys.open_account(2).await;

    let body = json!({"account_id": first, "amount": "120.00"});
    let (status, made) = read(
        send(
            &sys,
            &checkout,
            Method::POST,
            "/api/v1/advances",
            Some(&body),
            None,
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    assert_eq!(made["created_by"], "checkout-service");
    let (status, by_bootstrap) = sys.create_advance(&second, "60.00", 6).await;
    assert_eq!(status, StatusCode::CREATED, "{by_bootstrap}");
    assert_eq!(by_bootstrap["created_by"], "token-1");

    let id = made["advance_id"].as_str().unwrap();
    assert_eq!(sys.advance(id).await["created_by"], "checkout-service");
    let (_, list) = sys
        .get(&format!("/api/v1/advances?account_id={first}"))
        .await;
    assert_eq!(list["items"][0]["created_by"], "checkout-service");
    assert_eq!(
        sys.db
            .text(&format!(
                "SELECT created_by AS t FROM advances WHERE id = '{id}'"
            ))
            .await,
        "checkout-service"
    );
    // The bootstrap key used by the test system is not a stored key.
    let (_, keys) = sys.get("/api/v1/admin/api-keys").await;
    assert_eq!(keys["items"].as_array().unwrap().len(), 1);
    assert!(keys["items"][0].get("secret").is_none());
    let _ = TOKEN;
}

#[tokio::test]
async fn a_refused_post_stores_nothing_under_its_idempotency_key() {
    let sys = spawn_system(Options {
        roles: "api",
        ..Options::default()
    })
    .await;
    let reader = make_key(&sys, "reader", &["advances:read"]).await;
    let account = sys.open_account(1).await;
    let body = json!({"account_id": account, "amount": "50.00"});
    let refused = send(
        &sys,
        &reader,
        Method::POST,
        "/api/v1/advances",
        Some(&body),
        Some("adv-1"),
    )
    .await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        sys.db
            .number("SELECT count(*) AS n FROM idempotency_keys")
            .await,
        0
    );
    let made = sys
        .post("/api/v1/advances")
        .header("Idempotency-Key", "adv-1")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(made.status(), StatusCode::CREATED);
    let replay = sys
        .post("/api/v1/advances")
        .header("Idempotency-Key", "adv-1")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(replay.headers().get("idempotent-replayed").unwrap(), "true");
    assert_eq!(sys.db.number("SELECT count(*) AS n FROM advances").await, 1);
}

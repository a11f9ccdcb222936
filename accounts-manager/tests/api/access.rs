//! Access control: API keys made, listed and revoked; the scope of every
//! route; who made each transaction; the rate limit; idempotency retention.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use test_support::eventually;

use crate::helpers::{assert_error, read, spawn_app, spawn_app_on, spawn_app_with, TestApp, TOKEN};

const SCOPES: [&str; 7] = [
    "accounts:read",
    "accounts:write",
    "money:write",
    "orders:read",
    "orders:write",
    "reports:read",
    "events:read",
];

/// Makes a key with the bootstrap key; its secret.
async fn make_key(app: &TestApp, name: &str, scopes: &[&str]) -> String {
    let (status, body) = app
        .post_json(
            "/api/v1/admin/api-keys",
            json!({"name": name, "scopes": scopes}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["secret"].as_str().expect("a secret").to_owned()
}

async fn send(
    app: &TestApp,
    key: &str,
    method: Method,
    path: &str,
    body: Option<&Value>,
    idempotency_key: Option<&str>,
) -> reqwest::Response {
    let mut request = app
        .client
        .request(method, format!("{}{path}", app.address))
        .bearer_auth(key);
    if let Some(body) = body {
        request = request.json(body);
    }
    if let Some(idempotency_key) = idempotency_key {
        request = request.header("Idempotency-Key", idempotency_key);
    }
    request.send().await.expect("request sent")
}

/// Every row of the tables a request could change, counted.
async fn footprint(app: &TestApp) -> Vec<i64> {
    let mut counts = Vec::new();
    for table in [
        "accounts",
        "transactions",
        "entries",
        "reservations",
        "idempotency_keys",
        "api_keys",
    ] {
        counts.push(
            app.count(&format!("SELECT count(*) AS n FROM {table}"))
                .await,
        );
    }
    for changed in [
        "SELECT count(*) AS n FROM api_keys WHERE revoked_at IS NOT NULL",
        "SELECT count(*) AS n FROM accounts WHERE metadata IS NOT NULL",
        "SELECT count(*) AS n FROM accounts WHERE status <> 'active'",
        "SELECT count(*) AS n FROM account_events",
    ] {
        counts.push(app.count(changed).await);
    }
    counts
}

struct Case {
    method: Method,
    path: String,
    body: Option<Value>,
    scope: &'static str,
    ok: StatusCode,
}

/// Every route of accounts-manager with a request that succeeds once, on
/// fresh fixtures (accounts, reserved orders) made with the bootstrap key.
async fn cases(app: &TestApp, user: i64, order_base: i64) -> Vec<Case> {
    let a = app.funded_account(user, "100").await;
    let b = app.open_account(user + 1, "USD").await;
    // Frozen, unfrozen and closed: it stays empty.
    let c = app.open_account(user + 3, "USD").await;
    // What `a` exchanges into.
    let e = app.open_account(user, "EUR").await;
    let funding = app
        .text(&format!(
            "SELECT id::text AS t FROM transactions WHERE kind = 'deposit' AND to_account_id = '{a}'"
        ))
        .await;
    for order in [order_base + 1, order_base + 2] {
        let (status, body) = app
            .post_json(
                "/api/v1/reservations",
                json!({"account_id": a, "order_id": order, "service_id": 1, "amount": "5"}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let key_id = {
        let (status, body) = app
            .post_json(
                "/api/v1/admin/api-keys",
                json!({"name": format!("victim-{user}"), "scopes": ["accounts:read"]}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["key_id"].as_str().unwrap().to_owned()
    };
    let case = |method: Method, path: String, body: Option<Value>, scope, ok| Case {
        method,
        path,
        body,
        scope,
        ok,
    };
    vec![
        case(
            Method::POST,
            "/api/v1/accounts".into(),
            Some(json!({"user_id": user + 2})),
            "accounts:write",
            StatusCode::CREATED,
        ),
        case(
            Method::GET,
            format!("/api/v1/accounts/{a}"),
            None,
            "accounts:read",
            StatusCode::OK,
        ),
        case(
            Method::GET,
            format!("/api/v1/users/{user}/accounts"),
            None,
            "accounts:read",
            StatusCode::OK,
        ),
        case(
            Method::POST,
            "/api/v1/deposits".into(),
            Some(json!({"account_id": a, "amount": "1"})),
            "money:write",
            StatusCode::CREATED,
        ),
        case(
            Method::POST,
            "/api/v1/withdrawals".into(),
            Some(json!({"account_id": a, "amount": "1"})),
            "money:write",
            StatusCode::CREATED,
        ),
        case(
            Method::POST,
            "/api/v1/transfers".into(),
            Some(json!({"from_account_id": a, "to_account_id": b, "amount": "1"})),
            "money:write",
            StatusCode::CREATED,
        ),
        case(
            Method::POST,
            "/api/v1/exchanges".into(),
            Some(json!({"from_account_id": a, "to_account_id": e, "amount": "1", "rate": "0.9"})),
            "money:write",
            StatusCode::CREATED,
        ),
        case(
            Method::POST,
            "/api/v1/reservations".into(),
            Some(
                json!({"account_id": a, "order_id": order_base + 3, "service_id": 1, "amount": "1"}),
            ),
            "orders:write",
            StatusCode::CREATED,
        ),
        case(
            Method::GET,
            format!("/api/v1/reservations/{}", order_base + 1),
            None,
            "orders:read",
            StatusCode::OK,
        ),
        case(
            Method::POST,
            format!("/api/v1/reservations/{}/capture", order_base + 1),
            None,
            "orders:write",
            StatusCode::OK,
        ),
        case(
            Method::POST,
            format!("/api/v1/reservations/{}/release", order_base + 2),
            None,
            "orders:write",
            StatusCode::OK,
        ),
        case(
            Method::GET,
            format!("/api/v1/accounts/{a}/transactions"),
            None,
            "reports:read",
            StatusCode::OK,
        ),
        case(
            Method::GET,
            format!(
                "/api/v1/accounts/{a}/statement?from=2020-01-01T00:00:00Z&to=2030-01-01T00:00:00Z"
            ),
            None,
            "reports:read",
            StatusCode::OK,
        ),
        case(
            Method::GET,
            "/api/v1/transactions".into(),
            None,
            "reports:read",
            StatusCode::OK,
        ),
        case(
            Method::GET,
            "/api/v1/search/transactions?reference=x".into(),
            None,
            "reports:read",
            StatusCode::OK,
        ),
        case(
            Method::GET,
            "/api/v1/accounts".into(),
            None,
            "accounts:read",
            StatusCode::OK,
        ),
        case(
            Method::PATCH,
            format!("/api/v1/accounts/{a}"),
            Some(json!({"metadata": {"tier": "gold"}})),
            "accounts:write",
            StatusCode::OK,
        ),
        // In this order on the empty account `c`.
        case(
            Method::POST,
            format!("/api/v1/accounts/{c}/freeze"),
            Some(json!({"reason": "check"})),
            "admin",
            StatusCode::OK,
        ),
        case(
            Method::POST,
            format!("/api/v1/accounts/{c}/unfreeze"),
            None,
            "admin",
            StatusCode::OK,
        ),
        case(
            Method::POST,
            format!("/api/v1/accounts/{c}/close"),
            Some(json!({"reason": "done"})),
            "admin",
            StatusCode::OK,
        ),
        case(
            Method::GET,
            "/api/v1/reports/revenue?month=2026-11".into(),
            None,
            "reports:read",
            StatusCode::OK,
        ),
        case(
            Method::GET,
            "/api/v1/events?limit=5".into(),
            None,
            "events:read",
            StatusCode::OK,
        ),
        case(
            Method::GET,
            "/api/v1/admin/audit".into(),
            None,
            "admin",
            StatusCode::OK,
        ),
        case(
            Method::GET,
            "/api/v1/admin/api-keys".into(),
            None,
            "admin",
            StatusCode::OK,
        ),
        case(
            Method::POST,
            "/api/v1/admin/api-keys".into(),
            Some(json!({"name": format!("made-{user}"), "scopes": ["orders:read"]})),
            "admin",
            StatusCode::CREATED,
        ),
        case(
            Method::DELETE,
            format!("/api/v1/admin/api-keys/{key_id}"),
            None,
            "admin",
            StatusCode::OK,
        ),
        case(
            Method::GET,
            format!("/api/v1/accounts/{a}/balance"),
            None,
            "accounts:read",
            StatusCode::OK,
        ),
        case(
            Method::POST,
            "/api/v1/transfers/batch".into(),
            Some(json!({"transfers": [{"from_account_id": a, "to_account_id": b, "amount": "1"}]})),
            "money:write",
            StatusCode::CREATED,
        ),
        case(
            Method::POST,
            format!("/api/v1/transactions/{funding}/reversals"),
            Some(json!({"amount": "1"})),
            "money:write",
            StatusCode::CREATED,
        ),
        case(
            Method::GET,
            format!("/api/v1/transactions/{funding}"),
            None,
            "reports:read",
            StatusCode::OK,
        ),
    ]
}

#[tokio::test]
async fn every_route_needs_its_scope_a_key_without_it_changes_nothing_and_admin_may_do_everything()
{
    let app = spawn_app().await;
    // For each scope, a key with only that scope and a key with every other
    // scope but admin.
    let mut only = std::collections::HashMap::new();
    let mut all_but = std::collections::HashMap::new();
    for scope in SCOPES {
        let name = scope.replace(':', "-");
        only.insert(
            scope,
            make_key(&app, &format!("only-{name}"), &[scope]).await,
        );
        let others: Vec<&str> = SCOPES.iter().copied().filter(|s| *s != scope).collect();
        all_but.insert(
            scope,
            make_key(&app, &format!("all-but-{name}"), &others).await,
        );
    }
    let everything_but_admin = make_key(&app, "everything-but-admin", &SCOPES).await;
    let admin = make_key(&app, "admin-key", &["admin"]).await;

    let scoped = cases(&app, 100, 1000).await;
    let documented = app.get_json("/api-docs/openapi.json").await.1;
    let mut checked = 0;
    for (n, case) in scoped.iter().enumerate() {
        let (refused_key, allowed_key) = if case.scope == "admin" {
            (&everything_but_admin, &admin)
        } else {
            (&all_but[case.scope], &only[case.scope])
        };
        let idem = format!("matrix-{n}");
        let idem = (case.method == Method::POST).then_some(idem.as_str());

        let before = footprint(&app).await;
        let response = send(
            &app,
            refused_key,
            case.method.clone(),
            &case.path,
            case.body.as_ref(),
            idem,
        )
        .await;
        let (status, body) = read(response).await;
        assert_error(status, &body, StatusCode::FORBIDDEN, "insufficient_scope");
        assert_eq!(
            footprint(&app).await,
            before,
            "{} {} changed something",
            case.method,
            case.path
        );

        // The same Idempotency-Key was not taken: the allowed key executes.
        let response = send(
            &app,
            allowed_key,
            case.method.clone(),
            &case.path,
            case.body.as_ref(),
            idem,
        )
        .await;
        assert!(response.headers().get("idempotent-replayed").is_none());
        assert_eq!(
            response.status(),
            case.ok,
            "{} {} with {}",
            case.method,
            case.path,
            case.scope
        );

        // The document names the same scope.
        let item = documented_route(&documented, case.path.split('?').next().unwrap())
            .unwrap_or_else(|| panic!("{} is documented", case.path));
        let method = case.method.as_str().to_lowercase();
        assert_eq!(
            item[&method]["security"][0]["bearer"][0], case.scope,
            "{} {}",
            case.method, case.path
        );
        checked += 1;
    }
    // Every documented /api/v1 operation was in the matrix.
    let operations: usize = documented["paths"]
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
    assert_eq!(checked, operations);

    // The admin key may do everything, on fixtures of its own.
    for case in cases(&app, 200, 2000).await {
        let response = send(
            &app,
            &admin,
            case.method.clone(),
            &case.path,
            case.body.as_ref(),
            None,
        )
        .await;
        assert_eq!(
            response.status(),
            case.ok,
            "admin: {} {}",
            case.method,
            case.path
        );
    }
    app.assert_audit_clean().await;
}

/// The documented pattern a concrete path is an instance of: the literal
/// route if there is one, else one whose `{parameters}` fill the gaps.
fn documented_route<'a>(document: &'a Value, path: &str) -> Option<&'a Value> {
    let paths = document["paths"].as_object()?;
    if let Some(item) = paths.get(path) {
        return Some(item);
    }
    let segments: Vec<&str> = path.split('/').collect();
    paths.iter().find_map(|(pattern, item)| {
        let parts: Vec<&str> = pattern.split('/').collect();
        let fits = parts.len() == segments.len()
            && parts
                .iter()
                .zip(&segments)
                .all(|(p, s)| (p.starts_with('{') && p.ends_with('}')) || p == s);
        fits.then_some(item)
    })
}

#[tokio::test]
async fn a_key_is_made_listed_without_its_secret_replayed_without_it_and_revoked() {
    let app = spawn_app().await;
    let request = json!({"name": "checkout-service", "scopes": ["accounts:read", "money:write"], "expires_at": null});
    let first = app
        .post("/api/v1/admin/api-keys")
        .header("Idempotency-Key", "key-1")
        .json(&request)
        .send()
        .await
        .unwrap();
    let (status, made) = read(first).await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    let secret = made["secret"].as_str().unwrap().to_owned();
    assert_eq!(made["name"], "checkout-service");
    assert_eq!(made["scopes"], json!(["accounts:read", "money:write"]));
    assert_eq!(made["revoked_at"], Value::Null);
    assert_eq!(made["expires_at"], Value::Null);
    // Only the hash is stored.
    assert_eq!(
        app.count(&format!("SELECT count(*) AS n FROM api_keys WHERE secret_hash::text LIKE '%{secret}%' OR name = '{secret}'")).await,
        0
    );

    // A replay answers the same key without its secret.
    let replay = app
        .post("/api/v1/admin/api-keys")
        .header("Idempotency-Key", "key-1")
        .json(&request)
        .send()
        .await
        .unwrap();
    assert_eq!(replay.headers().get("idempotent-replayed").unwrap(), "true");
    let (status, replayed) = read(replay).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(replayed["key_id"], made["key_id"]);
    assert!(replayed.get("secret").is_none(), "{replayed}");

    // Listed, never with a secret.
    let (status, list) = app.get_json("/api/v1/admin/api-keys").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    assert_eq!(list["items"][0]["key_id"], made["key_id"]);
    assert!(list["items"][0].get("secret").is_none());
    assert!(!list.to_string().contains(&secret));

    // The key works, and its use is recorded within the refresh.
    let account = app.open_account(1, "USD").await;
    let response = send(
        &app,
        &secret,
        Method::GET,
        &format!("/api/v1/accounts/{account}"),
        None,
        None,
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    eventually(
        "last_used_at is written",
        Duration::from_secs(10),
        || async {
            app.count("SELECT count(*) AS n FROM api_keys WHERE last_used_at IS NOT NULL")
                .await
                == 1
        },
    )
    .await;

    // Names are unique, also against the bootstrap keys and the name the
    // service records its own work under (the sweeper's releases).
    for name in ["checkout-service", "token-1", "accounts-manager"] {
        let (status, body) = app
            .post_json(
                "/api/v1/admin/api-keys",
                json!({"name": name, "scopes": ["accounts:read"]}),
            )
            .await;
        assert_error(status, &body, StatusCode::CONFLICT, "api_key_name_taken");
    }
    // Unknown scopes, bad names and past expiries are refused.
    let (status, body) = app
        .post_json(
            "/api/v1/admin/api-keys",
            json!({"name": "x", "scopes": ["advances:read"]}),
        )
        .await;
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_scope",
    );
    let (status, body) = app
        .post_json("/api/v1/admin/api-keys", json!({"name": "x", "scopes": []}))
        .await;
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_scope",
    );
    let (status, body) = app
        .post_json(
            "/api/v1/admin/api-keys",
            json!({"name": "a b", "scopes": ["admin"]}),
        )
        .await;
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_name",
    );
    let (status, body) = app
        .post_json(
            "/api/v1/admin/api-keys",
            json!({"name": "x", "scopes": ["admin"], "expires_at": "2020-01-01T00:00:00Z"}),
        )
        .await;
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_expiry",
    );
    assert_eq!(app.count("SELECT count(*) AS n FROM api_keys").await, 1);

    // Revoked: refused at once here; revoking again keeps the first time.
    let key_id = made["key_id"].as_str().unwrap();
    let revoked = read(
        app.client
            .delete(format!("{}/api/v1/admin/api-keys/{key_id}", app.address))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(revoked.0, StatusCode::OK, "{}", revoked.1);
    assert!(revoked.1["revoked_at"].is_string());
    let response = send(
        &app,
        &secret,
        Method::GET,
        &format!("/api/v1/accounts/{account}"),
        None,
        None,
    )
    .await;
    let (status, body) = read(response).await;
    assert_error(status, &body, StatusCode::UNAUTHORIZED, "unauthorized");
    let again = read(
        app.client
            .delete(format!("{}/api/v1/admin/api-keys/{key_id}", app.address))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(again.1["revoked_at"], revoked.1["revoked_at"]);
    let unknown = read(
        app.client
            .delete(format!(
                "{}/api/v1/admin/api-keys/{}",
                app.address,
                uuid::Uuid::now_v7()
            ))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_error(unknown.0, &unknown.1, StatusCode::NOT_FOUND, "not_found");
    let (status, list) = app.get_json("/api/v1/admin/api-keys").await;
    assert_eq!(status, StatusCode::OK);
    assert!(list["items"][0]["revoked_at"].is_string());
}

#[tokio::test]
async fn a_key_revoked_on_one_instance_is_refused_by_another_within_five_seconds() {
    let first = spawn_app().await;
    let second = spawn_app_on(first.db.clone()).await;
    let account = first.open_account(1, "USD").await;
    // Made on the first instance, used on the second (which has not read it yet).
    let secret = make_key(&first, "short-lived", &["accounts:read"]).await;
    let path = format!("/api/v1/accounts/{account}");
    assert_eq!(
        send(&second, &secret, Method::GET, &path, None, None)
            .await
            .status(),
        StatusCode::OK
    );

    let key_id = first.get_json("/api/v1/admin/api-keys").await.1["items"][0]["key_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let revoked = first
        .client
        .delete(format!("{}/api/v1/admin/api-keys/{key_id}", first.address))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), StatusCode::OK);
    let started = Instant::now();
    eventually(
        "the second instance refuses the revoked key",
        Duration::from_secs(5),
        || async {
            send(&second, &secret, Method::GET, &path, None, None)
                .await
                .status()
                == StatusCode::UNAUTHORIZED
        },
    )
    .await;
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn an_expired_key_is_refused() {
    let app = spawn_app().await;
    let account = app.open_account(1, "USD").await;
    let expires = chrono::Utc::now() + chrono::Duration::seconds(2);
    let (status, made) = app
        .post_json(
            "/api/v1/admin/api-keys",
            json!({"name": "brief", "scopes": ["accounts:read"], "expires_at": expires.to_rfc3339()}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    let secret = made["secret"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/accounts/{account}");
    assert_eq!(
        send(&app, &secret, Method::GET, &path, None, None)
            .await
            .status(),
        StatusCode::OK
    );
    eventually("the key expires", Duration::from_secs(10), || async {
        send(&app, &secret, Method::GET, &path, None, None)
            .await
            .status()
            == StatusCode::UNAUTHORIZED
    })
    .await;
    assert!(chrono::Utc::now() >= expires);
}

#[tokio::test]
async fn transactions_record_the_name_of_the_key_that_made_them_in_history_and_the_report() {
    let app = spawn_app().await;
    let account = app.open_account(1, "USD").await;
    let checkout = make_key(&app, "checkout-service", &["money:write"]).await;
    let payroll = make_key(&app, "payroll", &["money:write"]).await;
    for (key, amount) in [(&checkout, "10"), (&payroll, "20")] {
        let body = json!({"account_id": account, "amount": amount});
        let (status, body) = read(
            send(
                &app,
                key,
                Method::POST,
                "/api/v1/deposits",
                Some(&body),
                None,
            )
            .await,
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        assert_eq!(
            body["created_by"],
            if amount == "10" {
                "checkout-service"
            } else {
                "payroll"
            }
        );
    }
    let (_, history) = app
        .get_json(&format!(
            "/api/v1/accounts/{account}/transactions?sort=amount&order=asc"
        ))
        .await;
    let makers: Vec<&str> = history["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["created_by"].as_str().unwrap())
        .collect();
    assert_eq!(makers, ["checkout-service", "payroll"]);
    let (_, report) = app.get_json("/api/v1/transactions").await;
    let makers: Vec<&str> = report["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["type"] == "deposit")
        .map(|t| t["created_by"].as_str().unwrap())
        .collect();
    assert_eq!(makers, ["checkout-service", "payroll"]);
}

#[tokio::test]
async fn a_named_bootstrap_key_records_its_name() {
    let app = spawn_app_with(&[("API_TOKENS", "ops=ops-secret,test-token")]).await;
    let account = app.open_account(1, "USD").await;
    let body = json!({"account_id": account, "amount": "5"});
    let (status, body) = read(
        send(
            &app,
            "ops-secret",
            Method::POST,
            "/api/v1/deposits",
            Some(&body),
            None,
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["created_by"], "ops");
    let (_, history) = app
        .get_json(&format!("/api/v1/accounts/{account}/transactions"))
        .await;
    assert_eq!(history["items"][0]["created_by"], "ops");
    // The bare token is the second entry: token-2.
    let body = json!({"account_id": account, "amount": "1"});
    let (_, body) = read(
        send(
            &app,
            TOKEN,
            Method::POST,
            "/api/v1/deposits",
            Some(&body),
            None,
        )
        .await,
    )
    .await;
    assert_eq!(body["created_by"], "token-2");
}

#[tokio::test]
async fn over_the_rate_limit_a_request_is_429_with_retry_after_and_does_nothing() {
    let app = spawn_app_with(&[("RATE_LIMIT", "3")]).await;
    let account = app.open_account(1, "USD").await;
    let busy = make_key(&app, "busy", &["money:write"]).await;
    let calm = make_key(&app, "calm", &["money:write"]).await;

    let attempts = (0..12).map(|i| {
        let (app, busy, account) = (&app, &busy, &account);
        async move {
            let body = json!({"account_id": account, "amount": "1"});
            let key = format!("burst-{i}");
            let response = send(
                app,
                busy,
                Method::POST,
                "/api/v1/deposits",
                Some(&body),
                Some(&key),
            )
            .await;
            let retry_after = response
                .headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap().parse::<u64>().unwrap());
            let (status, body) = read(response).await;
            (key, status, body, retry_after)
        }
    });
    let answers = futures::future::join_all(attempts).await;
    let made = answers
        .iter()
        .filter(|a| a.1 == StatusCode::CREATED)
        .count();
    let limited: Vec<_> = answers
        .iter()
        .filter(|a| a.1 == StatusCode::TOO_MANY_REQUESTS)
        .collect();
    assert!(made >= 3, "the burst passes: {answers:?}");
    assert!(!limited.is_empty(), "some are over the limit: {answers:?}");
    assert_eq!(made + limited.len(), answers.len(), "{answers:?}");
    for (key, status, body, retry_after) in &limited {
        assert_error(*status, body, StatusCode::TOO_MANY_REQUESTS, "rate_limited");
        assert!(retry_after.is_some_and(|s| s >= 1), "{retry_after:?}");
        // Nothing was stored under its key.
        assert_eq!(
            app.count(&format!(
                "SELECT count(*) AS n FROM idempotency_keys WHERE key = '{key}'"
            ))
            .await,
            0
        );
    }
    // Nothing executed for the refused ones.
    assert_eq!(
        app.count("SELECT count(*) AS n FROM transactions WHERE kind = 'deposit'")
            .await,
        i64::try_from(made).unwrap()
    );
    // Another key under its own limit is not affected.
    for _ in 0..3 {
        let body = json!({"account_id": account, "amount": "1"});
        let response = send(
            &app,
            &calm,
            Method::POST,
            "/api/v1/deposits",
            Some(&body),
            None,
        )
        .await;
        assert_eq!(response.status(), StatusCode::CREATED);
    }
}

#[tokio::test]
async fn under_the_limit_requests_are_unaffected() {
    let app = spawn_app_with(&[("RATE_LIMIT", "50")]).await;
    let account = app.open_account(1, "USD").await;
    let key = make_key(&app, "steady", &["accounts:read"]).await;
    let path = format!("/api/v1/accounts/{account}");
    for _ in 0..20 {
        assert_eq!(
            send(&app, &key, Method::GET, &path, None, None)
                .await
                .status(),
            StatusCode::OK
        );
    }
}

#[tokio::test]
async fn stored_answers_past_the_retention_are_swept_and_their_key_runs_anew_while_recent_ones_replay(
) {
    let app = spawn_app_with(&[("IDEMPOTENCY_RETENTION", "2s")]).await;
    let account = app.open_account(1, "USD").await;
    let body = json!({"account_id": account, "amount": "10"});
    let deposit = |key: &'static str| {
        let (app, body) = (&app, &body);
        async move {
            send(
                app,
                TOKEN,
                Method::POST,
                "/api/v1/deposits",
                Some(body),
                Some(key),
            )
            .await
        }
    };
    assert_eq!(deposit("old").await.status(), StatusCode::CREATED);
    eventually(
        "the sweeper deletes the old answer",
        Duration::from_secs(15),
        || async {
            app.count("SELECT count(*) AS n FROM idempotency_keys WHERE key = 'old'")
                .await
                == 0
        },
    )
    .await;
    let again = deposit("old").await;
    assert_eq!(again.status(), StatusCode::CREATED);
    assert!(again.headers().get("idempotent-replayed").is_none());
    assert_eq!(app.balance(&account).await, "20.00");

    assert_eq!(deposit("recent").await.status(), StatusCode::CREATED);
    let replay = deposit("recent").await;
    assert_eq!(replay.headers().get("idempotent-replayed").unwrap(), "true");
    assert_eq!(app.balance(&account).await, "30.00");
}

#[tokio::test]
async fn a_key_past_the_retention_is_a_new_request_even_before_the_sweeper_runs() {
    let app = spawn_app_with(&[("IDEMPOTENCY_RETENTION", "1h")]).await;
    let account = app.open_account(1, "USD").await;
    let body = json!({"account_id": account, "amount": "10"});
    let deposit = |key: &'static str| {
        let (app, body) = (&app, &body);
        async move {
            send(
                app,
                TOKEN,
                Method::POST,
                "/api/v1/deposits",
                Some(body),
                Some(key),
            )
            .await
        }
    };
    assert_eq!(deposit("aged").await.status(), StatusCode::CREATED);
    assert_eq!(deposit("fresh").await.status(), StatusCode::CREATED);
    app.db
        .execute("UPDATE idempotency_keys SET created_at = now() - interval '2 hours' WHERE key = 'aged'")
        .await;

    let again = deposit("aged").await;
    assert_eq!(again.status(), StatusCode::CREATED);
    assert!(again.headers().get("idempotent-replayed").is_none());
    let replay = deposit("fresh").await;
    assert_eq!(replay.headers().get("idempotent-replayed").unwrap(), "true");
    assert_eq!(app.balance(&account).await, "30.00");
    // The new answer is stored under the key again.
    assert_eq!(
        app.count("SELECT count(*) AS n FROM idempotency_keys WHERE key = 'aged' AND created_at > now() - interval '1 minute'").await,
        1
    );
}

#[tokio::test]
async fn a_request_without_a_valid_key_is_401_with_the_contract_body() {
    let app = spawn_app().await;
    for key in [
        None,
        Some("nope"),
        Some("sk_0190aaaa0000700080000000000000aa_00"),
    ] {
        let mut request = app
            .client
            .get(format!("{}/api/v1/transactions", app.address));
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        let response = request.send().await.unwrap();
        assert_eq!(
            response.headers().get("www-authenticate").unwrap(),
            "Bearer"
        );
        let (status, body) = read(response).await;
        assert_error(status, &body, StatusCode::UNAUTHORIZED, "unauthorized");
    }
}

/// `api_key_lookups_total` of an instance.
async fn lookups(app: &TestApp) -> u64 {
    let text = app.metrics().await;
    text.lines()
        .find_map(|line| line.strip_prefix("api_key_lookups_total "))
        .map_or(0, |n| n.trim().parse().unwrap())
}

#[tokio::test]
async fn fifty_keys_in_use_cost_no_database_round_trip_per_request() {
    let first = spawn_app().await;
    let second = spawn_app_on(first.db.clone()).await;
    let account = first.open_account(1, "USD").await;
    let mut keys = Vec::new();
    for i in 0..50 {
        keys.push(make_key(&first, &format!("client-{i}"), &["accounts:read"]).await);
    }
    let path = format!("/api/v1/accounts/{account}");
    // Ten requests per key on the instance that did not make them.
    for _ in 0..10 {
        let round = keys
            .iter()
            .map(|key| send(&second, key, Method::GET, &path, None, None));
        for response in futures::future::join_all(round).await {
            assert_eq!(response.status(), StatusCode::OK);
        }
    }
    // At most one lookup per key (before the second instance's next read of
    // all keys), not one per request; the instance that made them none.
    assert!(lookups(&second).await <= 50, "{}", lookups(&second).await);
    for key in &keys {
        assert_eq!(
            send(&first, key, Method::GET, &path, None, None)
                .await
                .status(),
            StatusCode::OK
        );
    }
    assert_eq!(lookups(&first).await, 0);
}

#[tokio::test]
async fn a_method_a_route_does_not_serve_is_405_for_any_valid_key() {
    let app = spawn_app().await;
    let reader = make_key(&app, "reader", &["accounts:read"]).await;
    let response = app
        .client
        .get(format!("{}/api/v1/deposits", app.address))
        .bearer_auth(&reader)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(response.headers()["allow"], "POST");
    // A method the route serves still needs its scope, and any needs a key.
    let (status, body) = read(
        send(
            &app,
            &reader,
            Method::POST,
            "/api/v1/deposits",
            Some(&json!({})),
            None,
        )
        .await,
    )
    .await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "insufficient_scope");
    let anonymous = app
        .client
        .get(format!("{}/api/v1/deposits", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
}

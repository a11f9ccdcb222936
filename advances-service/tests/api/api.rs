use std::time::Duration;

use reqwest::StatusCode;
use rust_decimal::Decimal;
use serde_json::json;
use shared_types::headers::IDEMPOTENCY_KEY;

use crate::helpers::{read, spawn_system, Options};

fn api_only() -> Options {
    Options {
        roles: "api",
        installment_interval: "7d",
        ..Options::default()
    }
}

#[tokio::test]
async fn an_advance_is_paid_into_the_account_at_once_with_its_schedule() {
    let system = spawn_system(api_only()).await;
    let account = system.open_account(1).await;

    let (status, advance) = system.create_advance(&account, "1200.00", 12).await;

    assert_eq!(status, StatusCode::CREATED, "{advance}");
    assert_eq!(advance["status"], "active");
    assert_eq!(advance["amount"], "1200.00");
    assert_eq!(advance["currency"], "USD");
    assert_eq!(advance["installments"], 12);
    assert_eq!(advance["paid"], "0.00");
    assert_eq!(advance["outstanding"], "1200.00");
    let payments = advance["payments"].as_array().unwrap();
    assert_eq!(payments.len(), 12);
    let created: chrono::DateTime<chrono::Utc> =
        advance["created_at"].as_str().unwrap().parse().unwrap();
    for (k, payment) in payments.iter().enumerate() {
        assert_eq!(payment["seq"], k + 1);
        assert_eq!(payment["amount"], "100.00");
        assert_eq!(payment["status"], "scheduled");
        assert_eq!(payment["attempts"], 0);
        assert_eq!(payment["paid_at"], serde_json::Value::Null);
        let due: chrono::DateTime<chrono::Utc> =
            payment["due_at"].as_str().unwrap().parse().unwrap();
        assert_eq!(due - created, chrono::Duration::days(7 * (k as i64 + 1)));
    }
    assert_eq!(system.balance(&account).await, Decimal::from(1200));
    let id = advance["advance_id"].as_str().unwrap();
    let history = system.history(&account).await;
    assert_eq!(history[0].reference, Some(format!("advance:{id}")));
    assert_eq!(system.advance(id).await, advance);
}

#[tokio::test]
async fn amounts_split_into_cents_with_the_remainder_last_and_installments_default_to_12() {
    let system = spawn_system(api_only()).await;
    let account = system.open_account(1).await;
    let body = json!({"account_id": account, "amount": 100});
    let (status, advance) = read(
        system
            .post("/api/v1/advances")
            .json(&body)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{advance}");
    let amounts: Vec<&str> = advance["payments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["amount"].as_str().unwrap())
        .collect();
    assert_eq!(amounts.len(), 12);
    assert!(amounts[..11].iter().all(|a| *a == "8.33"));
    assert_eq!(amounts[11], "8.37");
}

#[tokio::test]
async fn one_advance_at_a_time_per_account() {
    let system = spawn_system(api_only()).await;
    let account = system.open_account(1).await;
    let (status, _) = system.create_advance(&account, "100", 2).await;
    assert_eq!(status, StatusCode::CREATED);

    let (status, body) = system.create_advance(&account, "50", 2).await;

    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"]["code"], "advance_in_progress");
    assert_eq!(system.count("SELECT count(*) AS n FROM advances").await, 1);
    assert_eq!(system.balance(&account).await, Decimal::from(100));
}

#[tokio::test]
async fn bad_requests_are_refused_and_store_nothing() {
    let system = spawn_system(api_only()).await;
    let account = system.open_account(1).await;
    let cases = [
        (
            json!({"account_id": uuid::Uuid::new_v4(), "amount": "10"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown_account",
        ),
        (
            json!({"account_id": account, "amount": "0"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_amount",
        ),
        (
            json!({"account_id": account, "amount": "1.005"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_amount",
        ),
        (
            json!({"account_id": account, "amount": "10", "installments": 0}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_installments",
        ),
        (
            json!({"account_id": account, "amount": "10", "installments": 105}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_installments",
        ),
        (
            json!({"account_id": account, "amount": "0.05", "installments": 12}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "amount_too_small",
        ),
        (
            json!({"account_id": "nope", "amount": "10"}),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            json!({"account_id": account, "amount": "10", "extra": 1}),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            json!({"account_id": account, "amount": "10", "installments": "twelve"}),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
    ];
    for (body, status, code) in cases {
        let (got, answer) = read(
            system
                .post("/api/v1/advances")
                .json(&body)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(got, status, "{body} -> {answer}");
        assert_eq!(answer["error"]["code"], code, "{body} -> {answer}");
    }
    let (status, answer) = read(
        system
            .post("/api/v1/advances")
            .header("Content-Type", "application/json")
            .body("{not json")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("malformed_json"))
    );
    let unauthorized = system
        .client
        .post(format!("{}/api/v1/advances", system.advances.address))
        .json(&json!({"account_id": account, "amount": "10"}))
        .send()
        .await
        .unwrap();
    assert_eq!(unauthorized.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(system.count("SELECT count(*) AS n FROM advances").await, 0);
    assert_eq!(system.balance(&account).await, Decimal::ZERO);
}

#[tokio::test]
async fn a_repeated_post_with_the_same_key_creates_one_advance() {
    let system = spawn_system(api_only()).await;
    let account = system.open_account(1).await;
    let body = json!({"account_id": account, "amount": "300", "installments": 3});
    let send = || {
        system
            .post("/api/v1/advances")
            .header(IDEMPOTENCY_KEY, "adv-1")
            .json(&body)
            .send()
    };

    let (status1, first) = read(send().await.unwrap()).await;
    let (status2, second) = read(send().await.unwrap()).await;
    let other = json!({"account_id": account, "amount": "301", "installments": 3});
    let (status3, reused) = read(
        system
            .post("/api/v1/advances")
            .header(IDEMPOTENCY_KEY, "adv-1")
            .json(&other)
            .send()
            .await
            .unwrap(),
    )
    .await;

    assert_eq!(status1, StatusCode::CREATED);
    assert_eq!((status2, &second), (status1, &first));
    assert_eq!(status3, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(reused["error"]["code"], "idempotency_key_reused");
    // The key is checked before the account: an unknown one changes nothing.
    let unknown = json!({"account_id": uuid::Uuid::now_v7(), "amount": "300", "installments": 3});
    let (status, reused) = read(
        system
            .post("/api/v1/advances")
            .header(IDEMPOTENCY_KEY, "adv-1")
            .json(&unknown)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(reused["error"]["code"], "idempotency_key_reused");
    // A repeat gets the first answer as stored, not the advance as it stands
    // later (here: a payment marked paid behind the service's back).
    let id = first["advance_id"].as_str().unwrap();
    system
        .sql(&format!("UPDATE payments SET status = 'paid', paid_at = now(), transaction_id = gen_random_uuid() WHERE advance_id = '{id}' AND seq = 1"))
        .await;
    let (status4, fourth) = read(send().await.unwrap()).await;
    assert_eq!((status4, &fourth), (status1, &first));
    assert_eq!(system.count("SELECT count(*) AS n FROM advances").await, 1);
    assert_eq!(system.balance(&account).await, Decimal::from(300));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_repeat_while_the_first_request_pays_out_is_told_the_key_is_in_flight() {
    use diesel::connection::SimpleConnection;

    let system = spawn_system(api_only()).await;
    let account = system.open_account(1).await;
    // The account's row held locked in accounts-manager's database: the
    // first request's payout (a deposit) waits on it.
    let (locked_tx, locked_rx) = tokio::sync::oneshot::channel();
    let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
    let (am_db, locked_account) = (system.am.db.clone(), account.to_string());
    let holder = tokio::task::spawn_blocking(move || {
        let mut conn = am_db.connect();
        conn.batch_execute(&format!(
            "BEGIN; SELECT 1 FROM accounts WHERE id = '{locked_account}' FOR UPDATE"
        ))
        .unwrap();
        locked_tx.send(()).unwrap();
        release_rx.recv().unwrap();
        conn.batch_execute("COMMIT").unwrap();
    });
    locked_rx.await.unwrap();
    let body = json!({"account_id": account, "amount": "300", "installments": 3});
    let send = || {
        system
            .post("/api/v1/advances")
            .header(IDEMPOTENCY_KEY, "adv-in-flight")
            .json(&body)
            .send()
    };
    let first = tokio::spawn(send());
    test_support::eventually("the payout waits on the account", Duration::from_secs(10), || async {
        system
            .am
            .db
            .number("SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'")
            .await
            == 1
    })
    .await;

    let (status, repeat) = read(send().await.unwrap()).await;
    assert_eq!(status, StatusCode::CONFLICT, "{repeat}");
    assert_eq!(repeat["error"]["code"], "idempotency_key_in_flight");

    release_tx.send(()).unwrap();
    holder.await.unwrap();
    let (status1, first) = read(first.await.unwrap().unwrap()).await;
    assert_eq!(status1, StatusCode::CREATED, "{first}");
    assert_eq!(first["status"], "active");
    let replayed = send().await.unwrap();
    assert_eq!(replayed.headers()["Idempotent-Replayed"], "true");
    let (status2, second) = read(replayed).await;
    assert_eq!(
        (status2, &second),
        (status1, &first),
        "the first answer, replayed"
    );
    assert_eq!(system.count("SELECT count(*) AS n FROM advances").await, 1);
    assert_eq!(system.balance(&account).await, Decimal::from(300));
}

#[tokio::test]
async fn reading_advances() {
    let system = spawn_system(api_only()).await;
    let account = system.open_account(1).await;
    let (_, advance) = system.create_advance(&account, "10", 1).await;
    let id = advance["advance_id"].as_str().unwrap();

    let (status, listing) = system
        .get(&format!("/api/v1/advances?account_id={account}&limit=10"))
        .await;
    assert_eq!(status, StatusCode::OK, "{listing}");
    assert_eq!(listing["total_count"], 1);
    assert_eq!(listing["items"][0]["advance_id"], id);
    assert_eq!(
        (
            listing["page"].clone(),
            listing["limit"].clone(),
            listing["total_pages"].clone()
        ),
        (json!(1), json!(10), json!(1))
    );
    let (status, empty) = system
        .get(&format!(
            "/api/v1/advances?account_id={}",
            uuid::Uuid::new_v4()
        ))
        .await;
    assert_eq!(
        (status, empty["total_count"].clone()),
        (StatusCode::OK, json!(0))
    );
    let (status, body) = system
        .get(&format!("/api/v1/advances/{}", uuid::Uuid::new_v4()))
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found"))
    );
    let (status, body) = system.get("/api/v1/advances/not-a-uuid").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_request"))
    );
    // Every filter is optional: all advances, oldest first.
    let (_, other) = system
        .create_advance(&system.open_account(2).await, "20", 1)
        .await;
    let (status, all) = system.get("/api/v1/advances").await;
    assert_eq!(status, StatusCode::OK, "{all}");
    assert_eq!(all["total_count"], 2);
    assert_eq!(all["items"][0]["advance_id"], id);
    assert_eq!(all["items"][1]["advance_id"], other["advance_id"]);
    let (status, _) = system.get("/api/v1/advances?account_id=nope").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = system
        .get(&format!("/api/v1/advances?account_id={account}&limit=0"))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn operations_endpoints_and_the_openapi_document() {
    let system = spawn_system(api_only()).await;
    let base = &system.advances.address;
    let ready = system
        .client
        .get(format!("{base}/readyz"))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), StatusCode::OK);
    let body: serde_json::Value = ready.json().await.unwrap();
    assert_eq!(
        (body["database"].as_str(), body["rabbitmq"].as_str()),
        (Some("up"), Some("up"))
    );
    assert_eq!(
        system
            .client
            .get(format!("{base}/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    let metrics = system
        .client
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("http_requests_total"), "{metrics}");
    let doc: serde_json::Value = system
        .client
        .get(format!("{base}/api-docs/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for (path, method) in [
        ("/api/v1/advances", "post"),
        ("/api/v1/advances", "get"),
        ("/api/v1/advances/{advance_id}", "get"),
        ("/api/v1/admin/reconciliation", "get"),
        ("/api/v1/admin/reconciliation", "post"),
    ] {
        assert!(doc["paths"][path][method].is_object(), "{method} {path}");
    }
    assert!(doc["components"]["schemas"]["PaymentJob"].is_object());
    let page = system
        .client
        .get(format!("{base}/docs/"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let given = system
        .client
        .get(format!("{base}/api/v1/advances/{}", uuid::Uuid::new_v4()))
        .bearer_auth(crate::helpers::TOKEN)
        .header("X-Request-Id", "trace-me")
        .send()
        .await
        .unwrap();
    assert_eq!(given.headers()["x-request-id"], "trace-me");
}

#[tokio::test]
async fn every_post_in_the_served_openapi_document_declares_the_idempotency_key_header() {
    let system = spawn_system(api_only()).await;
    let doc: serde_json::Value = system
        .client
        .get(format!("{}/api-docs/openapi.json", system.advances.address))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();

    let posts: Vec<(&String, &serde_json::Value)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .filter_map(|(path, item)| item.get("post").map(|post| (path, post)))
        .collect();
    assert!(
        posts.len() >= 2,
        "the document lists the POST routes: {posts:?}"
    );
    for (path, post) in posts {
        let declares_key = post["parameters"].as_array().is_some_and(|parameters| {
            parameters
                .iter()
                .any(|p| p["name"] == IDEMPOTENCY_KEY && p["in"] == "header")
        });
        assert!(
            declares_key,
            "POST {path} does not declare the {IDEMPOTENCY_KEY} header: {post:#}"
        );
    }
}

#[tokio::test]
async fn a_process_without_the_api_role_serves_no_api_routes() {
    let system = spawn_system(api_only()).await;
    let worker = crate::helpers::start_advances(
        &system.db,
        &system.vhost,
        &system.accounts_url,
        Options {
            roles: "worker",
            ..Options::default()
        },
    )
    .await;
    let (status, body) = read(
        system
            .client
            .get(format!(
                "{}/api/v1/advances?account_id={}",
                worker.address,
                uuid::Uuid::now_v7()
            ))
            .bearer_auth(crate::helpers::TOKEN)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found"))
    );
    // Its own routes and the document still name their methods.
    for path in ["/readyz", "/api-docs/openapi.json"] {
        let response = system
            .client
            .post(format!("{}{path}", worker.address))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED, "{path}");
        assert_eq!(response.headers()["allow"], "GET, HEAD", "{path}");
    }
}

#[tokio::test]
async fn a_refusal_for_an_unknown_account_is_stored_under_its_key() {
    let system = spawn_system(api_only()).await;
    let account = system.open_account(1).await;
    let unknown = json!({"account_id": uuid::Uuid::now_v7(), "amount": "5", "installments": 1});
    let send = |body: &serde_json::Value| {
        system
            .post("/api/v1/advances")
            .header(IDEMPOTENCY_KEY, "adv-unknown-1")
            .json(body)
            .send()
    };
    let (status, first) = read(send(&unknown).await.unwrap()).await;
    assert_eq!(
        (status, first["error"]["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("unknown_account"))
    );
    let repeat = send(&unknown).await.unwrap();
    assert_eq!(repeat.headers()["Idempotent-Replayed"], "true");
    let (status, replayed) = read(repeat).await;
    assert_eq!(
        (status, &replayed),
        (StatusCode::UNPROCESSABLE_ENTITY, &first)
    );
    // The key is spent: another request under it is refused.
    let known = json!({"account_id": account, "amount": "5", "installments": 1});
    let (status, reused) = read(send(&known).await.unwrap()).await;
    assert_eq!(
        (status, reused["error"]["code"].as_str()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("idempotency_key_reused")
        )
    );
    assert_eq!(system.count("SELECT count(*) AS n FROM advances").await, 0);
}

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{assert_error, read, spawn_app};

#[tokio::test]
async fn requests_without_a_valid_token_are_401_and_have_no_effect() {
    let app = spawn_app().await;
    let url = format!("{}/api/v1/accounts", app.address);
    let body = json!({"user_id": 1});
    let attempts = [
        app.client.post(&url).json(&body),
        app.client.post(&url).bearer_auth("wrong").json(&body),
        app.client
            .post(&url)
            .header("Authorization", "Basic dGVzdA==")
            .json(&body),
        app.client
            .post(&url)
            .header("Authorization", "Bearer")
            .json(&body),
    ];
    for attempt in attempts {
        let (status, answer) = read(attempt.send().await.unwrap()).await;
        assert_error(status, &answer, StatusCode::UNAUTHORIZED, "unauthorized");
    }
    assert_eq!(app.count("SELECT count(*) AS n FROM accounts").await, 0);
}

#[tokio::test]
async fn every_configured_token_is_accepted() {
    let app = spawn_app().await;
    let response = app
        .client
        .post(format!("{}/api/v1/accounts", app.address))
        .bearer_auth("second-token")
        .json(&json!({"user_id": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn malformed_json_is_400() {
    let app = spawn_app().await;
    for raw in ["{", "not json", "", "{\"user_id\": 1,}"] {
        let response = app
            .post("/api/v1/accounts")
            .header("Content-Type", "application/json")
            .body(raw)
            .send()
            .await
            .unwrap();
        let (status, body) = read(response).await;
        assert_error(status, &body, StatusCode::BAD_REQUEST, "malformed_json");
    }
    assert_eq!(app.count("SELECT count(*) AS n FROM accounts").await, 0);
}

#[tokio::test]
async fn wrong_types_missing_fields_and_unknown_fields_are_400() {
    let app = spawn_app().await;
    let account = app.funded_account(1, "10").await;
    let cases = [
        ("/api/v1/accounts", json!({"user_id": "two"})),
        ("/api/v1/accounts", json!({"user_id": 1.5})),
        ("/api/v1/accounts", json!({})),
        ("/api/v1/accounts", json!([1])),
        ("/api/v1/accounts", json!({"user_id": 1, "colour": "red"})),
        (
            "/api/v1/deposits",
            json!({"account_id": "not-a-uuid", "amount": "1"}),
        ),
        (
            "/api/v1/deposits",
            json!({"account_id": account, "amount": true}),
        ),
        (
            "/api/v1/deposits",
            json!({"account_id": account, "amount": {"value": 1}}),
        ),
        (
            "/api/v1/deposits",
            json!({"account_id": account, "ammount": "1"}),
        ),
        ("/api/v1/withdrawals", json!({"account_id": account})),
        (
            "/api/v1/transfers",
            json!({"from_account_id": account, "to_account_id": account, "amount": "1", "direction": "sideways"}),
        ),
        (
            "/api/v1/accounts",
            json!({"user_id": 99999999999999999999u128}),
        ),
    ];
    for (path, body) in cases {
        let (status, answer) = app.post_json(path, body.clone()).await;
        assert_error(status, &answer, StatusCode::BAD_REQUEST, "invalid_request");
    }
    // The message names the field that does not fit.
    for (path, body, field) in [
        (
            "/api/v1/deposits",
            json!({"account_id": "not-a-uuid", "amount": "1"}),
            "account_id: ",
        ),
        (
            "/api/v1/admin/api-keys",
            json!({"name": "x", "scopes": ["admin"], "expires_at": "tomorrow"}),
            "expires_at: ",
        ),
        (
            "/api/v1/transfers",
            json!({"from_account_id": account, "to_account_id": account, "amount": "1", "direction": "sideways"}),
            "direction: ",
        ),
    ] {
        let (status, answer) = app.post_json(path, body).await;
        assert_error(status, &answer, StatusCode::BAD_REQUEST, "invalid_request");
        let message = answer["error"]["message"].as_str().unwrap();
        assert!(message.contains(field), "{message} should name {field}");
    }
    assert_eq!(app.count("SELECT count(*) AS n FROM transactions").await, 1);
    assert_eq!(
        app.count("SELECT count(*) AS n FROM accounts WHERE kind = 'user'")
            .await,
        1
    );
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_with_the_error_body() {
    let app = spawn_app().await;
    let (status, body) = app.get_json("/api/v1/nothing-here").await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
    let (status, body) = read(
        app.client
            .get(format!("{}/nowhere", app.address))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
    // A path served with other methods: 405, naming them (RFC 9110).
    for (request, allow) in [
        (app.get("/api/v1/deposits"), "POST"),
        (
            app.client
                .delete(format!(
                    "{}/api/v1/accounts/{}",
                    app.address,
                    uuid::Uuid::now_v7()
                ))
                .bearer_auth(crate::helpers::TOKEN),
            "GET, HEAD, PATCH",
        ),
        (
            app.client.post(format!("{}/readyz", app.address)),
            "GET, HEAD",
        ),
    ] {
        let response = request.send().await.unwrap();
        assert_eq!(
            response
                .headers()
                .get("allow")
                .map(|v| v.to_str().unwrap().to_owned()),
            Some(allow.to_owned())
        );
        let (status, body) = read(response).await;
        assert_error(
            status,
            &body,
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
        );
    }
    // HEAD is GET's answer without its body, under GET's scope.
    let head = app
        .client
        .head(format!("{}/healthz", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), StatusCode::OK);
    assert!(head.bytes().await.unwrap().is_empty());
    let account = app.funded_account(7, "1").await;
    let get = app
        .get(&format!("/api/v1/accounts/{account}"))
        .send()
        .await
        .unwrap();
    let head = app
        .client
        .head(format!("{}/api/v1/accounts/{account}", app.address))
        .bearer_auth(crate::helpers::TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(
        (head.status(), get.status()),
        (StatusCode::OK, StatusCode::OK)
    );
    assert_eq!(
        head.headers()["content-length"],
        get.headers()["content-length"]
    );
    assert!(head.bytes().await.unwrap().is_empty());
    let unauthorized = app
        .client
        .head(format!("{}/api/v1/accounts/{account}", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(unauthorized.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn an_oversized_body_is_refused_with_the_error_body() {
    let app = spawn_app().await;
    let huge = format!(
        "{{\"user_id\": 1, \"currency\": \"{}\"}}",
        "A".repeat(200_000)
    );
    let response = app
        .post("/api/v1/accounts")
        .header("Content-Type", "application/json")
        .body(huge)
        .send()
        .await
        .unwrap();
    let (status, body) = read(response).await;
    assert_error(
        status,
        &body,
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
    );
}

#[tokio::test]
async fn a_dead_database_is_503_not_500() {
    let app = spawn_app().await;
    let account = app.funded_account(1, "10").await;
    app.db.drop_now();

    let (status, body) = app
        .post_json(
            "/api/v1/deposits",
            json!({"account_id": account, "amount": "1"}),
        )
        .await;
    assert_error(
        status,
        &body,
        StatusCode::SERVICE_UNAVAILABLE,
        "service_unavailable",
    );
    assert!(
        !body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("postgres"),
        "{body}"
    );
    let response = app
        .client
        .get(format!("{}/readyz", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
}

#[tokio::test]
async fn an_address_that_cannot_be_listened_on_stops_start_up_naming_bind_addr() {
    let db = tokio::task::spawn_blocking(|| test_support::TestDb::create("am_test"))
        .await
        .expect("create db");
    let settings = crate::helpers::settings_with(&db, &[("BIND_ADDR", "not-an-address")]);

    let error = match accounts_manager::Application::build(settings).await {
        Ok(_) => panic!("start-up went on with BIND_ADDR=not-an-address"),
        Err(error) => error.to_string(),
    };

    assert!(error.contains("BIND_ADDR"), "{error}");
    assert!(error.contains("not-an-address"), "{error}");
}

#[tokio::test]
async fn a_stored_value_the_code_does_not_know_is_an_error_not_a_default() {
    use diesel::RunQueryDsl;

    #[derive(Debug, diesel::QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Text)]
        #[allow(dead_code)]
        kind: service_kit::stored::Stored<shared_types::accounts::TransactionType>,
    }
    let db = tokio::task::spawn_blocking(|| test_support::TestDb::create("am_test"))
        .await
        .expect("create db");
    let mut conn = db.connect();

    let known = diesel::sql_query("SELECT 'capture' AS kind").get_result::<Row>(&mut conn);
    let unknown = diesel::sql_query("SELECT 'refund' AS kind").get_result::<Row>(&mut conn);

    assert!(known.is_ok(), "{known:?}");
    let error = unknown.expect_err("an unknown name is refused").to_string();
    assert!(error.contains("refund"), "{error}");
}

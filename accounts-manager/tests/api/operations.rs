use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{spawn_app, TestApp};

/// The OpenAPI document the instance serves.
async fn openapi(app: &TestApp) -> serde_json::Value {
    app.client
        .get(format!("{}/api-docs/openapi.json", app.address))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn health_and_readiness_need_no_token() {
    let app = spawn_app().await;
    let health = app
        .client
        .get(format!("{}/healthz", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    let ready = app
        .client
        .get(format!("{}/readyz", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), StatusCode::OK);
    assert_eq!(
        ready.json::<serde_json::Value>().await.unwrap()["status"],
        "ready"
    );
}

#[tokio::test]
async fn the_request_id_is_taken_from_the_caller_or_made_and_returned() {
    let app = spawn_app().await;
    let given = app
        .get("/api/v1/users/1/accounts")
        .header("X-Request-Id", "abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(given.headers().get("x-request-id").unwrap(), "abc-123");
    let made = app.get("/api/v1/users/1/accounts").send().await.unwrap();
    let id = made
        .headers()
        .get("x-request-id")
        .unwrap()
        .to_str()
        .unwrap();
    assert!(uuid::Uuid::parse_str(id).is_ok(), "{id}");
    let unauthorized = app
        .client
        .get(format!("{}/api/v1/users/1/accounts", app.address))
        .send()
        .await
        .unwrap();
    assert!(unauthorized.headers().get("x-request-id").is_some());
}

#[tokio::test]
async fn metrics_count_requests_by_route_and_transactions_by_type() {
    let app = spawn_app().await;
    let account = app.funded_account(1, "5").await;
    let (status, _) = app
        .post_json(
            "/api/v1/withdrawals",
            json!({"account_id": account, "amount": "9"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

    let text = app.metrics().await;

    assert!(
        text.contains(
            r#"http_requests_total{method="POST",route="/api/v1/deposits",status="201"} 1"#
        ),
        "{text}"
    );
    assert!(
        text.contains(
            r#"http_request_duration_seconds_bucket{method="POST",route="/api/v1/accounts""#
        ),
        "{text}"
    );
    assert!(
        text.contains(r#"ledger_transactions_total{status="success",type="deposit"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(r#"ledger_transactions_total{status="failed",type="withdrawal"} 1"#),
        "{text}"
    );
}

#[tokio::test]
async fn the_openapi_document_lists_every_route_of_the_contract() {
    let app = spawn_app().await;
    let doc = openapi(&app).await;
    let paths = doc["paths"].as_object().unwrap();
    for (path, method) in [
        ("/api/v1/accounts", "post"),
        ("/api/v1/accounts/{account_id}", "get"),
        ("/api/v1/users/{user_id}/accounts", "get"),
        ("/api/v1/deposits", "post"),
        ("/api/v1/withdrawals", "post"),
        ("/api/v1/transfers", "post"),
        ("/api/v1/admin/audit", "get"),
        ("/healthz", "get"),
        ("/readyz", "get"),
        ("/metrics", "get"),
    ] {
        assert!(
            paths.get(path).and_then(|p| p.get(method)).is_some(),
            "{method} {path} missing"
        );
    }
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
}

#[tokio::test]
async fn the_docs_page_is_served_without_internet() {
    let app = spawn_app().await;
    let page = app
        .client
        .get(format!("{}/docs/", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.text().await.unwrap().contains("swagger"));
    let script = app
        .client
        .get(format!("{}/docs/swagger-ui-bundle.js", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(script.status(), StatusCode::OK);
    let _ = test_support::http_client(); // installs the TLS provider reqwest wants
    let redirect = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(format!("{}/docs", app.address))
        .send()
        .await
        .unwrap();
    assert!(redirect.status().is_redirection());
}

#[tokio::test]
async fn the_openapi_document_declares_the_contracts_conventions_on_every_route() {
    let app = spawn_app().await;
    let doc = openapi(&app).await;
    for (path, item) in doc["paths"].as_object().unwrap() {
        if !path.starts_with("/api/v1/") {
            continue;
        }
        for (method, operation) in item.as_object().unwrap() {
            let responses = operation["responses"].as_object().unwrap();
            // Any route may find the database away, or be sent a bad id or
            // parameter.
            assert!(responses.contains_key("503"), "{method} {path}");
            assert!(responses.contains_key("400"), "{method} {path}");
            if method == "post" {
                assert!(responses.contains_key("413"), "{method} {path}");
                for (status, response) in responses {
                    if status.starts_with('2') || status == "422" {
                        assert!(
                            response["headers"]["Idempotent-Replayed"].is_object(),
                            "{method} {path} {status}"
                        );
                    }
                }
            }
        }
    }
    // Amounts are taken as strings or exact JSON numbers.
    let kinds: Vec<&str> = doc["components"]["schemas"]["AmountInput"]["oneOf"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["type"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["string", "number"]);
    let deposit = &doc["components"]["schemas"]["DepositRequest"];
    assert_eq!(
        deposit["allOf"][0]["properties"]["amount"]["$ref"],
        "#/components/schemas/AmountInput"
    );
    // The rules a field cannot state alone: one of account_id and user_id.
    let sides: Vec<&str> = deposit["allOf"][1]["oneOf"]
        .as_array()
        .unwrap()
        .iter()
        .map(|side| side["required"][0].as_str().unwrap())
        .collect();
    assert_eq!(sides, ["account_id", "user_id"]);
    // Fields always sent, if null, are required.
    let required = doc["components"]["schemas"]["Transaction"]["required"]
        .as_array()
        .unwrap();
    for field in [
        "from_account_id",
        "to_account_id",
        "order_id",
        "reference",
        "reverses",
    ] {
        assert!(required.contains(&serde_json::json!(field)), "{field}");
    }
    let csv = &doc["paths"]["/api/v1/reports/revenue"]["get"]["responses"]["200"];
    assert!(csv["headers"]["Content-Disposition"].is_object(), "{csv}");
}

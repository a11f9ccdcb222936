use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{assert_error, spawn_app};

fn is_contract_timestamp(value: &serde_json::Value) -> bool {
    let text = value.as_str().unwrap_or_default();
    // 2022-11-17T01:44:22.083065Z
    text.len() == 27
        && text.ends_with('Z')
        && text.as_bytes()[19] == b'.'
        && chrono::DateTime::parse_from_rfc3339(text).is_ok()
}

#[tokio::test]
async fn opening_an_account_answers_201_and_stores_it() {
    let app = spawn_app().await;

    let (status, body) = app
        .post_json("/api/v1/accounts", json!({"user_id": 2, "currency": "EUR"}))
        .await;

    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["user_id"], 2);
    assert_eq!(body["currency"], "EUR");
    assert_eq!(body["balance"], "0.00");
    assert_eq!(body["reserved"], "0.00");
    assert!(is_contract_timestamp(&body["created_at"]), "{body}");
    let id = body["account_id"].as_str().unwrap();
    let (status, fetched) = app.get_json(&format!("/api/v1/accounts/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(fetched, body);
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) AS n FROM accounts WHERE id = '{id}' AND user_id = 2"
        ))
        .await,
        1
    );
}

#[tokio::test]
async fn an_account_without_a_currency_is_in_usd() {
    let app = spawn_app().await;
    let (status, body) = app
        .post_json("/api/v1/accounts", json!({"user_id": 7}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["currency"], "USD");
}

#[tokio::test]
async fn opening_an_account_with_a_bad_user_or_currency_is_422_and_stores_nothing() {
    let app = spawn_app().await;
    let cases = [
        (json!({"user_id": 0}), "invalid_user_id"),
        (json!({"user_id": -3}), "invalid_user_id"),
        (json!({"user_id": 1, "currency": "usd"}), "invalid_currency"),
        (json!({"user_id": 1, "currency": "US"}), "invalid_currency"),
        (
            json!({"user_id": 1, "currency": "USDT"}),
            "invalid_currency",
        ),
    ];
    for (request, code) in cases {
        let (status, body) = app.post_json("/api/v1/accounts", request).await;
        assert_error(status, &body, StatusCode::UNPROCESSABLE_ENTITY, code);
    }
    assert_eq!(app.count("SELECT count(*) AS n FROM accounts").await, 0);
}

#[tokio::test]
async fn a_user_may_hold_several_accounts_listed_oldest_first() {
    let app = spawn_app().await;
    let first = app.open_account(42, "USD").await;
    let second = app.open_account(42, "EUR").await;
    let third = app.open_account(42, "USD").await;
    app.open_account(43, "USD").await;
    app.deposit(&second, "12.50").await;

    let (status, body) = app.get_json("/api/v1/users/42/accounts").await;

    assert_eq!(status, StatusCode::OK, "{body}");
    let items = body["items"].as_array().unwrap();
    let ids: Vec<&str> = items
        .iter()
        .map(|a| a["account_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec![first.as_str(), second.as_str(), third.as_str()]);
    assert_eq!(items[1]["balance"], "12.50");
    assert_eq!(items[1]["reserved"], "0.00");
}

#[tokio::test]
async fn a_user_with_no_accounts_has_an_empty_list() {
    let app = spawn_app().await;
    let (status, body) = app.get_json("/api/v1/users/99/accounts").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({"items": []}));
}

#[tokio::test]
async fn bad_ids_in_paths_are_refused_with_the_contract_error() {
    let app = spawn_app().await;
    let (status, body) = app.get_json("/api/v1/accounts/not-a-uuid").await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "invalid_request");
    let (status, body) = app.get_json("/api/v1/users/abc/accounts").await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "invalid_request");
    let (status, body) = app.get_json("/api/v1/users/0/accounts").await;
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_user_id",
    );
    let (status, body) = app
        .get_json(&format!("/api/v1/accounts/{}", uuid::Uuid::new_v4()))
        .await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test]
async fn system_accounts_are_not_visible_as_accounts() {
    let app = spawn_app().await;
    app.open_account(1, "USD").await;
    let external = app
        .text("SELECT id::text AS t FROM accounts WHERE kind = 'external' LIMIT 1")
        .await;
    let (status, body) = app.get_json(&format!("/api/v1/accounts/{external}")).await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
}

//! Withdrawals, transfers and reservations that name users instead of
//! accounts: the user's oldest account of the request's currency.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{assert_error, spawn_app, TestApp};

/// Opens `user`'s accounts in order (so the first of each currency is the
/// oldest) and funds each with `amount`; answers their ids.
async fn accounts_of(app: &TestApp, user: i64, currencies: &[&str], amount: &str) -> Vec<String> {
    let mut ids = Vec::new();
    for currency in currencies {
        let id = app.open_account(user, currency).await;
        app.deposit(&id, amount).await;
        ids.push(id);
    }
    ids
}

#[tokio::test]
async fn each_movement_by_user_uses_the_users_oldest_account_of_the_currency() {
    let app = spawn_app().await;
    // User 1: USD (oldest), EUR, USD again; user 2: EUR, then USD.
    let one = accounts_of(&app, 1, &["USD", "EUR", "USD"], "100.00").await;
    let two = accounts_of(&app, 2, &["EUR", "USD"], "100.00").await;

    let (status, withdrawal) = app
        .post_json(
            "/api/v1/withdrawals",
            json!({"user_id": 1, "amount": "10.00"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{withdrawal}");
    assert_eq!(withdrawal["from_account_id"], one[0].as_str());

    let (status, transfer) = app
        .post_json(
            "/api/v1/transfers",
            json!({"from_user_id": 1, "to_user_id": 2, "currency": "EUR", "amount": "5.00"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{transfer}");
    assert_eq!(transfer["from_account_id"], one[1].as_str());
    assert_eq!(transfer["to_account_id"], two[0].as_str());
    assert_eq!(transfer["from_balance_after"], "95.00");
    assert_eq!(transfer["to_balance_after"], "105.00");

    // One side by user, the other by account; credit turns it around.
    let (status, credit) = app
        .post_json(
            "/api/v1/transfers",
            json!({"from_user_id": 2, "to_account_id": one[2], "amount": "7.00", "direction": "credit"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{credit}");
    assert_eq!(credit["from_account_id"], one[2].as_str());
    assert_eq!(credit["to_account_id"], two[1].as_str());

    let (status, reservation) = app
        .post_json(
            "/api/v1/reservations",
            json!({"user_id": 2, "order_id": 5, "service_id": 1, "amount": "20.00"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{reservation}");
    assert_eq!(reservation["account_id"], two[1].as_str());

    assert_eq!(app.balance(&one[0]).await, "90.00");
    assert_eq!(app.balance(&one[1]).await, "95.00");
    assert_eq!(app.balance(&one[2]).await, "93.00");
    assert_eq!(app.balance(&two[0]).await, "105.00");
    // 100 + 7 - 20 held.
    assert_eq!(app.balance(&two[1]).await, "87.00");
    app.assert_audit_clean().await;
}

#[tokio::test]
async fn a_user_without_an_account_of_the_currency_is_404_and_nothing_is_recorded() {
    let app = spawn_app().await;
    let usd = accounts_of(&app, 1, &["USD"], "50.00").await;
    let before = app.count("SELECT count(*) AS n FROM transactions").await;

    for (path, body) in [
        ("withdrawals", json!({"user_id": 9, "amount": "1.00"})),
        (
            "withdrawals",
            json!({"user_id": 1, "currency": "EUR", "amount": "1.00"}),
        ),
        (
            "transfers",
            json!({"from_user_id": 1, "to_user_id": 9, "amount": "1.00"}),
        ),
        (
            "reservations",
            json!({"user_id": 9, "order_id": 1, "service_id": 1, "amount": "1.00"}),
        ),
    ] {
        let (status, answer) = app.post_json(&format!("/api/v1/{path}"), body).await;
        assert_error(status, &answer, StatusCode::NOT_FOUND, "not_found");
    }

    assert_eq!(
        app.count("SELECT count(*) AS n FROM transactions").await,
        before
    );
    assert_eq!(
        app.count("SELECT count(*) AS n FROM accounts WHERE kind = 'user'")
            .await,
        1,
        "only a deposit opens an account"
    );
    assert_eq!(app.balance(&usd[0]).await, "50.00");
}

#[tokio::test]
async fn naming_both_an_account_and_a_user_or_neither_or_a_stray_currency_is_invalid_target() {
    let app = spawn_app().await;
    let a = accounts_of(&app, 1, &["USD"], "50.00").await;
    let b = accounts_of(&app, 2, &["USD"], "50.00").await;

    for (path, body) in [
        (
            "withdrawals",
            json!({"account_id": a[0], "user_id": 1, "amount": "1.00"}),
        ),
        ("withdrawals", json!({"amount": "1.00"})),
        (
            "withdrawals",
            json!({"account_id": a[0], "currency": "USD", "amount": "1.00"}),
        ),
        (
            "transfers",
            json!({"from_account_id": a[0], "from_user_id": 1, "to_account_id": b[0], "amount": "1.00"}),
        ),
        (
            "transfers",
            json!({"from_account_id": a[0], "amount": "1.00"}),
        ),
        (
            "reservations",
            json!({"account_id": a[0], "user_id": 1, "order_id": 1, "service_id": 1, "amount": "1.00"}),
        ),
    ] {
        let (status, answer) = app.post_json(&format!("/api/v1/{path}"), body).await;
        assert_error(
            status,
            &answer,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_target",
        );
    }
    // A user named on both sides of a transfer is one account.
    let (status, answer) = app
        .post_json(
            "/api/v1/transfers",
            json!({"from_user_id": 1, "to_account_id": a[0], "amount": "1.00"}),
        )
        .await;
    assert_error(
        status,
        &answer,
        StatusCode::UNPROCESSABLE_ENTITY,
        "same_account",
    );
    assert_eq!(
        app.count("SELECT count(*) AS n FROM transactions WHERE kind <> 'deposit'")
            .await,
        0
    );
}

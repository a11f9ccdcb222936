use reqwest::StatusCode;
use rust_decimal::Decimal;
use serde_json::json;

use crate::helpers::{assert_error, spawn_app};

#[tokio::test]
async fn a_deposit_moves_money_in_from_the_external_account() {
    let app = spawn_app().await;
    let account = app.open_account(1, "USD").await;

    let (status, body) = app
        .post_json(
            "/api/v1/deposits",
            json!({"account_id": account, "amount": "199.99", "description": "salary", "reference": "pay-1"}),
        )
        .await;

    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["type"], "deposit");
    assert_eq!(body["status"], "success");
    assert!(body.get("reason").is_none(), "{body}");
    assert_eq!(body["amount"], "199.99");
    assert_eq!(body["currency"], "USD");
    assert_eq!(body["from_account_id"], serde_json::Value::Null);
    assert_eq!(body["to_account_id"], account.as_str());
    assert_eq!(body["reference"], "pay-1");
    assert_eq!(body["reverses"], serde_json::Value::Null);
    assert_eq!(body["reversed_amount"], "0.00");
    assert_eq!(body["created_by"], "token-1", "the bootstrap key's name");
    let description = body["description"].as_str().unwrap();
    assert!(
        description.contains("199.99 USD deposited into account") && description.contains("salary"),
        "{description}"
    );
    assert_eq!(app.balance(&account).await, "199.99");
    assert_eq!(
        app.sum("SELECT sum(balance) AS s FROM accounts WHERE kind = 'external'")
            .await,
        "-199.99".parse::<Decimal>().unwrap()
    );
    assert_eq!(app.count("SELECT count(*) AS n FROM entries").await, 2);
    app.assert_audit_clean().await;
}

#[tokio::test]
async fn amounts_given_as_json_numbers_are_kept_exactly() {
    let app = spawn_app().await;
    let account = app.open_account(1, "USD").await;
    for amount in [json!(0.1), json!(0.2), json!(1234567890123.45)] {
        let (status, body) = app
            .post_json(
                "/api/v1/deposits",
                json!({"account_id": account, "amount": amount}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    assert_eq!(app.balance(&account).await, "1234567890123.75");
}

#[tokio::test]
async fn a_first_deposit_by_user_id_opens_the_account_and_later_ones_reuse_the_oldest() {
    let app = spawn_app().await;

    let (status, first) = app
        .post_json("/api/v1/deposits", json!({"user_id": 5, "amount": "10"}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    let account = first["to_account_id"].as_str().unwrap().to_owned();
    app.open_account(5, "USD").await;
    let (status, second) = app
        .post_json(
            "/api/v1/deposits",
            json!({"user_id": 5, "amount": "5", "currency": "USD"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{second}");
    let (status, euro) = app
        .post_json(
            "/api/v1/deposits",
            json!({"user_id": 5, "amount": "1", "currency": "EUR"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{euro}");

    assert_eq!(second["to_account_id"], account.as_str());
    assert_eq!(app.balance(&account).await, "15.00");
    assert_eq!(euro["currency"], "EUR");
    assert_ne!(euro["to_account_id"], account.as_str());
    assert_eq!(
        app.count("SELECT count(*) AS n FROM accounts WHERE user_id = 5")
            .await,
        3
    );
    app.assert_audit_clean().await;
}

#[tokio::test]
async fn concurrent_first_deposits_by_user_id_open_one_account() {
    let app = spawn_app().await;
    let requests =
        (0..10).map(|_| app.post_json("/api/v1/deposits", json!({"user_id": 9, "amount": "1.00"})));
    let answers = futures::future::join_all(requests).await;
    assert!(
        answers
            .iter()
            .all(|(status, _)| *status == StatusCode::CREATED),
        "{answers:?}"
    );
    assert_eq!(
        app.count("SELECT count(*) AS n FROM accounts WHERE user_id = 9")
            .await,
        1
    );
    let (_, list) = app.get_json("/api/v1/users/9/accounts").await;
    assert_eq!(list["items"][0]["balance"], "10.00");
}

#[tokio::test]
async fn a_deposit_target_must_be_exactly_one_of_account_or_user() {
    let app = spawn_app().await;
    let account = app.open_account(1, "USD").await;
    for request in [
        json!({"amount": "1"}),
        json!({"account_id": account, "user_id": 1, "amount": "1"}),
        json!({"account_id": account, "currency": "USD", "amount": "1"}),
    ] {
        let (status, body) = app.post_json("/api/v1/deposits", request).await;
        assert_error(
            status,
            &body,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_target",
        );
    }
    assert_eq!(app.count("SELECT count(*) AS n FROM transactions").await, 0);
}

#[tokio::test]
async fn a_deposit_to_an_unknown_account_is_404_and_records_nothing() {
    let app = spawn_app().await;
    let (status, body) = app
        .post_json(
            "/api/v1/deposits",
            json!({"account_id": uuid::Uuid::new_v4(), "amount": "1"}),
        )
        .await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
    assert_eq!(app.count("SELECT count(*) AS n FROM transactions").await, 0);
}

#[tokio::test]
async fn a_withdrawal_moves_money_out() {
    let app = spawn_app().await;
    let account = app.funded_account(1, "100").await;

    let (status, body) = app
        .post_json(
            "/api/v1/withdrawals",
            json!({"account_id": account, "amount": "10.00", "reference": "atm"}),
        )
        .await;

    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["type"], "withdrawal");
    assert_eq!(body["from_account_id"], account.as_str());
    assert_eq!(body["to_account_id"], serde_json::Value::Null);
    assert_eq!(app.balance(&account).await, "90.00");
    app.assert_audit_clean().await;
}

#[tokio::test]
async fn a_withdrawal_beyond_the_balance_is_recorded_as_failed_and_answered_422() {
    let app = spawn_app().await;
    let account = app.funded_account(1, "100").await;

    let (status, body) = app
        .post_json(
            "/api/v1/withdrawals",
            json!({"account_id": account, "amount": "100.01"}),
        )
        .await;

    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["status"], "failed");
    assert_eq!(body["reason"], "insufficient_funds");
    assert_eq!(body["amount"], "100.01");
    assert_eq!(app.balance(&account).await, "100.00");
    let id = body["transaction_id"].as_str().unwrap();
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) AS n FROM transactions WHERE id = '{id}' AND status = 'failed' AND reason = 'insufficient_funds'"
        ))
        .await,
        1
    );
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) AS n FROM entries WHERE transaction_id = '{id}'"
        ))
        .await,
        0
    );
    app.assert_audit_clean().await;
}

#[tokio::test]
async fn a_debit_transfer_moves_money_from_to_and_reports_both_balances() {
    let app = spawn_app().await;
    let from = app.funded_account(1, "1000").await;
    let to = app.funded_account(2, "100").await;

    let (status, body) = app
        .post_json(
            "/api/v1/transfers",
            json!({"from_account_id": from, "to_account_id": to, "amount": "500", "direction": "debit", "description": "rent"}),
        )
        .await;

    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["type"], "transfer");
    assert_eq!(body["amount"], "500.00");
    assert_eq!(body["from_account_id"], from.as_str());
    assert_eq!(body["to_account_id"], to.as_str());
    assert_eq!(body["from_balance_after"], "500.00");
    assert_eq!(body["to_balance_after"], "600.00");
    assert_eq!(
        body["description"],
        format!("500.00 USD transferred from account {from} to account {to} (rent)")
    );
    assert_eq!(app.balance(&from).await, "500.00");
    assert_eq!(app.balance(&to).await, "600.00");
    app.assert_audit_clean().await;
}

#[tokio::test]
async fn a_credit_transfer_moves_money_the_other_way() {
    let app = spawn_app().await;
    let a = app.funded_account(1, "10").await;
    let b = app.funded_account(2, "50").await;

    let (status, body) = app
        .post_json(
            "/api/v1/transfers",
            json!({"from_account_id": a, "to_account_id": b, "amount": 20, "direction": "credit"}),
        )
        .await;

    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["from_account_id"], b.as_str());
    assert_eq!(body["to_account_id"], a.as_str());
    assert_eq!(body["from_balance_after"], "30.00");
    assert_eq!(body["to_balance_after"], "30.00");
    assert_eq!(app.balance(&a).await, "30.00");
}

#[tokio::test]
async fn a_transfer_without_enough_funds_is_recorded_as_failed() {
    let app = spawn_app().await;
    let from = app.funded_account(1, "10").await;
    let to = app.open_account(2, "USD").await;

    let (status, body) = app
        .post_json(
            "/api/v1/transfers",
            json!({"from_account_id": from, "to_account_id": to, "amount": "10.01"}),
        )
        .await;

    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["status"], "failed");
    assert_eq!(body["reason"], "insufficient_funds");
    assert_eq!(body["from_balance_after"], "10.00");
    assert_eq!(body["to_balance_after"], "0.00");
    assert!(body["description"]
        .as_str()
        .unwrap()
        .contains("insufficient funds"));
    assert_eq!(
        app.count("SELECT count(*) AS n FROM transactions WHERE status = 'failed'")
            .await,
        1
    );
    app.assert_audit_clean().await;
}

#[tokio::test]
async fn a_transfer_between_currencies_is_recorded_as_a_currency_mismatch() {
    let app = spawn_app().await;
    let usd = app.funded_account(1, "10").await;
    let eur = app.open_account(2, "EUR").await;

    let (status, body) = app
        .post_json(
            "/api/v1/transfers",
            json!({"from_account_id": usd, "to_account_id": eur, "amount": "1"}),
        )
        .await;

    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["status"], "failed");
    assert_eq!(body["reason"], "currency_mismatch");
    assert_eq!(app.balance(&usd).await, "10.00");
    assert_eq!(app.balance(&eur).await, "0.00");
    assert_eq!(
        app.count("SELECT count(*) AS n FROM transactions WHERE reason = 'currency_mismatch'")
            .await,
        1
    );
}

#[tokio::test]
async fn a_transfer_to_the_same_account_is_422_and_records_nothing() {
    let app = spawn_app().await;
    let account = app.funded_account(1, "10").await;
    let (status, body) = app
        .post_json(
            "/api/v1/transfers",
            json!({"from_account_id": account, "to_account_id": account, "amount": "1"}),
        )
        .await;
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "same_account",
    );
    assert_eq!(
        app.count("SELECT count(*) AS n FROM transactions WHERE kind = 'transfer'")
            .await,
        0
    );
}

#[tokio::test]
async fn a_transfer_with_an_unknown_account_is_404_and_moves_nothing() {
    let app = spawn_app().await;
    let account = app.funded_account(1, "10").await;
    let (status, body) = app
        .post_json(
            "/api/v1/transfers",
            json!({"from_account_id": account, "to_account_id": uuid::Uuid::new_v4(), "amount": "1"}),
        )
        .await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
    assert_eq!(app.balance(&account).await, "10.00");
    assert_eq!(
        app.count("SELECT count(*) AS n FROM transactions WHERE kind = 'transfer'")
            .await,
        0
    );
}

#[tokio::test]
async fn bad_amounts_are_422_and_store_nothing() {
    let app = spawn_app().await;
    let from = app.funded_account(1, "10").await;
    let to = app.open_account(2, "USD").await;
    let bad = [
        json!("0"),
        json!(0),
        json!("-1"),
        json!(-1),
        json!("1.001"),
        json!(0.001),
        json!("1000000000000000.01"),
        json!("abc"),
        json!(""),
        json!("1e400"),
    ];
    for amount in bad {
        for (path, body) in [
            (
                "/api/v1/deposits",
                json!({"account_id": to, "amount": amount}),
            ),
            (
                "/api/v1/withdrawals",
                json!({"account_id": from, "amount": amount}),
            ),
            (
                "/api/v1/transfers",
                json!({"from_account_id": from, "to_account_id": to, "amount": amount}),
            ),
        ] {
            let (status, answer) = app.post_json(path, body).await;
            assert_error(
                status,
                &answer,
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_amount",
            );
        }
    }
    assert_eq!(app.count("SELECT count(*) AS n FROM transactions").await, 1);
    assert_eq!(app.balance(&from).await, "10.00");
}

#[tokio::test]
async fn the_largest_amount_is_accepted() {
    let app = spawn_app().await;
    let account = app.open_account(1, "USD").await;
    let (status, body) = app
        .post_json(
            "/api/v1/deposits",
            json!({"account_id": account, "amount": "1000000000000000.00"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(app.balance(&account).await, "1000000000000000.00");
}

#[tokio::test]
async fn deposits_spread_over_the_currencys_external_accounts_and_the_books_still_balance() {
    let app = spawn_app().await;
    for user in 1..=24 {
        let (status, body) = app
            .post_json("/api/v1/deposits", json!({"user_id": user, "amount": "10"}))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let shards_used = app
        .count(
            "SELECT count(DISTINCT e.account_id) AS n FROM entries e JOIN accounts a ON a.id = e.account_id \
             WHERE a.kind = 'external'",
        )
        .await;
    assert!(
        shards_used > 1,
        "all deposits went through one external account"
    );
    assert_eq!(
        app.count(
            "SELECT count(*) AS n FROM accounts WHERE kind = 'external' AND currency = 'USD'"
        )
        .await,
        16
    );
    assert_eq!(
        app.sum("SELECT sum(balance) AS s FROM accounts WHERE kind = 'external'")
            .await,
        Decimal::from(-240)
    );
    app.assert_audit_clean().await;
}

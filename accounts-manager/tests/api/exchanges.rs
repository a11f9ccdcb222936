//! Exchanges between currencies: the conversion and its rounding, what is
//! refused (recording nothing, or recorded as failed), reversals at the
//! exchange's own rate, and every currency kept balanced.

use reqwest::StatusCode;
use rust_decimal::Decimal;
use serde_json::{json, Value};

use crate::helpers::{assert_error, spawn_app, TestApp};

/// A USD account of user 1 with `funds`, and an empty EUR account of user 2.
async fn usd_and_eur(app: &TestApp, funds: &str) -> (String, String) {
    let usd = app.funded_account(1, funds).await;
    let eur = app.open_account(2, "EUR").await;
    (usd, eur)
}

async fn exchange(
    app: &TestApp,
    from: &str,
    to: &str,
    amount: Value,
    rate: Value,
) -> (StatusCode, Value) {
    app.post_json(
        "/api/v1/exchanges",
        json!({"from_account_id": from, "to_account_id": to, "amount": amount, "rate": rate}),
    )
    .await
}

async fn reverse(app: &TestApp, id: &Value, body: Value) -> (StatusCode, Value) {
    let id = id.as_str().expect("a transaction id");
    app.post_json(&format!("/api/v1/transactions/{id}/reversals"), body)
        .await
}

async fn transactions(app: &TestApp) -> i64 {
    app.count("SELECT count(*) AS n FROM transactions").await
}

/// The sum of the fx accounts of a currency.
async fn fx(app: &TestApp, currency: &str) -> Decimal {
    app.sum(&format!(
        "SELECT COALESCE(sum(balance), 0) AS s FROM accounts WHERE kind = 'fx' AND currency = '{currency}'"
    ))
    .await
}

async fn revenue_csv(app: &TestApp) -> String {
    let month = chrono::Utc::now().format("%Y-%m");
    app.get(&format!("/api/v1/reports/revenue?month={month}"))
        .send()
        .await
        .expect("an answer")
        .text()
        .await
        .expect("a CSV")
}

#[tokio::test]
async fn exchanges_convert_at_the_rate_rounded_half_to_even_to_cents() {
    let app = spawn_app().await;
    let revenue = revenue_csv(&app).await;
    // (amount, rate, converted, the rate as answered)
    let cases = [
        (json!("100.00"), json!("0.9215"), "92.15", "0.9215"),
        // Exactly half a cent goes to the even cent.
        (json!("1.00"), json!("0.125"), "0.12", "0.125"),
        (json!("1.00"), json!("0.135"), "0.14", "0.135"),
        (json!("10.00"), json!("0.00125"), "0.01", "0.00125"),
        // Eight fraction digits: 0.12345 to the cent.
        (json!("1000.00"), json!("0.00012345"), "0.12", "0.00012345"),
        (json!("3.33"), json!("1.23456789"), "4.11", "1.23456789"),
        // JSON numbers, read exactly; trailing zeros dropped.
        (
            json!(2.5),
            serde_json::from_str("1.10000000").unwrap(),
            "2.75",
            "1.1",
        ),
        (json!("7"), json!(150), "1050.00", "150"),
    ];
    for (amount, rate, converted, shown_rate) in cases {
        let (usd, eur) = usd_and_eur(&app, "10000").await;
        let (status, t) = exchange(&app, &usd, &eur, amount.clone(), rate.clone()).await;
        assert_eq!(status, StatusCode::CREATED, "{amount} at {rate}: {t}");
        assert_eq!(t["type"], "exchange");
        assert_eq!(t["status"], "success");
        assert_eq!(t["currency"], "USD");
        assert_eq!(t["rate"], shown_rate, "{t}");
        assert_eq!(t["converted_amount"], converted, "{amount} at {rate}");
        assert_eq!(t["converted_currency"], "EUR");
        assert_eq!(t["from_account_id"], usd.as_str());
        assert_eq!(t["to_account_id"], eur.as_str());
        let amount: Decimal = t["amount"].as_str().unwrap().parse().unwrap();
        assert_eq!(
            app.balance(&usd).await,
            format!("{:.2}", Decimal::from(10000) - amount)
        );
        assert_eq!(app.balance(&eur).await, converted);
        let (_, shown) = app
            .get_json(&format!(
                "/api/v1/transactions/{}",
                t["transaction_id"].as_str().unwrap()
            ))
            .await;
        assert_eq!(shown["rate"], shown_rate);
        assert_eq!(shown["converted_amount"], converted);
        assert_eq!(shown["converted_currency"], "EUR");
        assert_eq!(shown["description"], t["description"]);
    }
    let (_, t) = exchange(
        &app,
        &app.funded_account(3, "100").await,
        &app.open_account(3, "EUR").await,
        json!("100.00"),
        json!("0.9215"),
    )
    .await;
    assert!(
        t["description"]
            .as_str()
            .unwrap()
            .starts_with("100.00 USD exchanged at 0.9215 from account "),
        "{t}"
    );
    // Other transactions carry none of the exchange's fields.
    let (_, deposit) = app
        .post_json("/api/v1/deposits", json!({"user_id": 9, "amount": "1"}))
        .await;
    for field in ["rate", "converted_amount", "converted_currency"] {
        assert!(deposit.get(field).is_none(), "{deposit}");
    }
    // Each currency balanced on its own: what the USD fx accounts took in,
    // the EUR ones paid out.
    assert_eq!(
        fx(&app, "USD").await,
        app.sum("SELECT sum(amount) AS s FROM transactions WHERE kind = 'exchange'")
            .await
    );
    assert_eq!(
        -fx(&app, "EUR").await,
        app.sum("SELECT sum(converted_amount) AS s FROM transactions WHERE kind = 'exchange'")
            .await
    );
    app.assert_audit_clean().await;
    assert_eq!(revenue_csv(&app).await, revenue);
    // The feed carries them as they are answered.
    let (_, feed) = app.get_json("/api/v1/events?limit=1000").await;
    let first = feed["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["data"]["type"] == "exchange")
        .expect("an exchange in the feed");
    assert_eq!(first["data"]["rate"], "0.9215");
    assert_eq!(first["data"]["converted_amount"], "92.15");
}

#[tokio::test]
async fn exchanges_that_cannot_be_made_record_nothing() {
    let app = spawn_app().await;
    let (usd, eur) = usd_and_eur(&app, "100").await;
    let other_usd = app.open_account(2, "USD").await;
    let before = transactions(&app).await;

    let (status, body) = exchange(&app, &usd, &other_usd, json!("1"), json!("1")).await;
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "same_currency",
    );
    let (status, body) = exchange(&app, &usd, &usd, json!("1"), json!("1")).await;
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "same_currency",
    );
    // 0.01 × 0.1 = 0.001: 0.00.
    let (status, body) = exchange(&app, &usd, &eur, json!("0.01"), json!("0.1")).await;
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_amount",
    );
    let (status, body) = exchange(&app, &usd, &eur, json!("0.001"), json!("1")).await;
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_amount",
    );
    let number = |text: &str| -> Value { serde_json::from_str(text).unwrap() };
    for rate in [
        json!("0"),
        json!("-1"),
        json!("0.123456789"),
        json!("abc"),
        json!(""),
        json!("1000000000000"),
        number("0"),
        number("-1"),
        number("0.123456789"),
        number("1e-9"),
    ] {
        let (status, body) = exchange(&app, &usd, &eur, json!("1"), rate.clone()).await;
        assert_error(
            status,
            &body,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_rate",
        );
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .starts_with("rate "),
            "{rate}: {body}"
        );
    }
    let (status, body) = exchange(&app, &usd, &eur, json!("1"), json!(true)).await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "invalid_request");
    let unknown = uuid::Uuid::now_v7().to_string();
    let (status, body) = exchange(&app, &usd, &unknown, json!("1"), json!("1")).await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");

    assert_eq!(transactions(&app).await, before);
    assert_eq!(app.balance(&usd).await, "100.00");
    app.assert_audit_clean().await;
}

#[tokio::test]
async fn too_little_money_is_recorded_failed_and_moves_nothing() {
    let app = spawn_app().await;
    let (usd, eur) = usd_and_eur(&app, "10").await;

    let (status, t) = exchange(&app, &usd, &eur, json!("10.01"), json!("2")).await;

    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{t}");
    assert_eq!(t["status"], "failed");
    assert_eq!(t["reason"], "insufficient_funds");
    assert_eq!(t["type"], "exchange");
    assert_eq!(t["converted_amount"], "20.02");
    assert_eq!(app.balance(&usd).await, "10.00");
    assert_eq!(app.balance(&eur).await, "0.00");
    assert_eq!(
        app.count(
            "SELECT count(*) AS n FROM transactions WHERE kind = 'exchange' AND status = 'failed'"
        )
        .await,
        1
    );
    assert_eq!(fx(&app, "USD").await, Decimal::ZERO);
    app.assert_audit_clean().await;
}

#[tokio::test]
async fn an_exchange_is_reversed_in_parts_at_its_own_rate() {
    let app = spawn_app().await;
    let (usd, eur) = usd_and_eur(&app, "10").await;
    let (_, t) = exchange(&app, &usd, &eur, json!("10.00"), json!("0.135")).await;
    assert_eq!(app.balance(&eur).await, "1.35");

    // 1.00 × 0.135 = 0.135: 0.14 back out of the EUR account.
    let (status, part) = reverse(&app, &t["transaction_id"], json!({"amount": "1.00"})).await;
    assert_eq!(status, StatusCode::CREATED, "{part}");
    assert_eq!(part["type"], "reversal");
    assert_eq!(part["reverses"], t["transaction_id"]);
    assert_eq!(part["amount"], "1.00");
    assert_eq!(part["currency"], "USD");
    assert_eq!(part["rate"], "0.135");
    assert_eq!(part["converted_amount"], "0.14");
    assert_eq!(part["converted_currency"], "EUR");
    assert_eq!(part["from_account_id"], eur.as_str());
    assert_eq!(part["to_account_id"], usd.as_str());
    assert_eq!(app.balance(&usd).await, "1.00");
    assert_eq!(app.balance(&eur).await, "1.21");

    // The rest, 9.00 × 0.135 = 1.215, is 1.22 to the even cent: one more
    // than the account holds.
    let (status, refused) = reverse(&app, &t["transaction_id"], json!({})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    assert_eq!(refused["reason"], "insufficient_funds");
    assert_eq!(refused["amount"], "9.00");
    app.deposit(&eur, "0.01").await;
    let (status, rest) = reverse(&app, &t["transaction_id"], json!({})).await;
    assert_eq!(status, StatusCode::CREATED, "{rest}");
    assert_eq!(rest["amount"], "9.00");
    assert_eq!(rest["converted_amount"], "1.22");
    assert_eq!(app.balance(&usd).await, "10.00");
    assert_eq!(app.balance(&eur).await, "0.00");

    let (status, body) = reverse(&app, &t["transaction_id"], json!({"amount": "0.01"})).await;
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "reversal_exceeds_original",
    );
    let (_, original) = app
        .get_json(&format!(
            "/api/v1/transactions/{}",
            t["transaction_id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(original["reversed_amount"], "10.00");
    // A reversal of a reversal is not possible.
    let (status, body) = reverse(&app, &rest["transaction_id"], json!({})).await;
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "not_reversible",
    );
    assert_eq!(fx(&app, "USD").await, Decimal::ZERO);
    // The cent the rounding brought in stays with the EUR fx accounts.
    assert_eq!(fx(&app, "EUR").await, "0.01".parse::<Decimal>().unwrap());
    app.assert_audit_clean().await;
}

#[tokio::test]
async fn money_may_reach_a_frozen_account_but_not_leave_one_and_a_closed_one_takes_none() {
    let app = spawn_app().await;
    let (usd, eur) = usd_and_eur(&app, "10").await;
    let restate = |account: &str, what: &str| {
        let path = format!("/api/v1/accounts/{account}/{what}");
        let app = &app;
        let body = match what {
            "unfreeze" => json!({}),
            _ => json!({"reason": "checks"}),
        };
        async move {
            let (status, body) = app.post_json(&path, body).await;
            assert_eq!(status, StatusCode::OK, "{body}");
        }
    };

    restate(&usd, "freeze").await;
    let (status, t) = exchange(&app, &usd, &eur, json!("1"), json!("2")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{t}");
    assert_eq!(t["status"], "failed");
    assert_eq!(t["reason"], "account_frozen");

    restate(&usd, "unfreeze").await;
    restate(&eur, "freeze").await;
    let (status, t) = exchange(&app, &usd, &eur, json!("1"), json!("2")).await;
    assert_eq!(status, StatusCode::CREATED, "{t}");
    assert_eq!(app.balance(&eur).await, "2.00");
    // Paying back from a frozen account is money leaving it.
    let (status, back) = reverse(&app, &t["transaction_id"], json!({})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{back}");
    assert_eq!(back["reason"], "account_frozen");

    let closed = app.open_account(3, "EUR").await;
    restate(&closed, "close").await;
    let (status, t) = exchange(&app, &usd, &closed, json!("1"), json!("2")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{t}");
    assert_eq!(t["reason"], "account_closed");
    assert_eq!(app.balance(&usd).await, "9.00");
    app.assert_audit_clean().await;
}

#[tokio::test]
async fn the_document_states_the_route_its_scope_and_the_rules_of_a_rate() {
    let app = spawn_app().await;
    let (status, document) = app.get_json("/api-docs/openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    let post = &document["paths"]["/api/v1/exchanges"]["post"];
    assert_eq!(post["security"][0]["bearer"][0], "money:write", "{post}");
    for answer in ["201", "400", "401", "403", "404", "409", "422", "503"] {
        assert!(post["responses"].get(answer).is_some(), "{answer}: {post}");
    }
    let request = &document["components"]["schemas"]["ExchangeRequest"];
    assert_eq!(
        request["properties"]["rate"]["$ref"], "#/components/schemas/RateInput",
        "{request}"
    );
    let rate = document["components"]["schemas"]["RateInput"].to_string();
    assert!(
        rate.contains(&serde_json::to_string(shared_types::money::RATE_PATTERN).unwrap()),
        "{rate}"
    );
    let transaction = document["components"]["schemas"]["Transaction"]["properties"].clone();
    for field in ["rate", "converted_amount", "converted_currency"] {
        assert!(transaction.get(field).is_some(), "{field}");
    }
}

//! Statements: opening + money in - money out = closing, on random
//! histories (exchanges and their reversals included); the lines by cursor;
//! the CSV the same lines.

use rand::{Rng, SeedableRng};
use reqwest::StatusCode;
use rust_decimal::Decimal;
use serde_json::{json, Value};

use crate::helpers::{assert_error, spawn_app, urlencode, TestApp};

fn dec(value: &Value) -> Decimal {
    value.as_str().unwrap().parse().unwrap()
}

/// The statement's JSON pages, followed by cursor: the first page and every line.
async fn statement(
    app: &TestApp,
    account: &str,
    from: &str,
    to: &str,
    limit: u32,
) -> (Value, Vec<Value>) {
    let base = format!(
        "/api/v1/accounts/{account}/statement?from={}&to={}&limit={limit}",
        urlencode(from),
        urlencode(to)
    );
    let (status, first) = app.get_json(&base).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    let mut lines = first["items"].as_array().unwrap().clone();
    let mut next = first["next"].clone();
    while let Some(cursor) = next.as_str() {
        let (status, page) = app
            .get_json(&format!("{base}&cursor={}", urlencode(cursor)))
            .await;
        assert_eq!(status, StatusCode::OK, "{page}");
        assert_eq!(page["opening"], first["opening"]);
        assert_eq!(page["count"], first["count"]);
        lines.extend(page["items"].as_array().unwrap().iter().cloned());
        next = page["next"].clone();
    }
    (first, lines)
}

async fn balance_at(app: &TestApp, account: &str, at: &str) -> Value {
    let (status, parts) = app
        .get_json(&format!(
            "/api/v1/accounts/{account}/balance?at={}",
            urlencode(at)
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{parts}");
    parts
}

async fn csv(
    app: &TestApp,
    account: &str,
    from: &str,
    to: &str,
) -> (reqwest::header::HeaderMap, String) {
    let response = app
        .get(&format!(
            "/api/v1/accounts/{account}/statement?from={}&to={}",
            urlencode(from),
            urlencode(to)
        ))
        .header("Accept", "text/csv")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    (response.headers().clone(), response.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_statement_identity_holds_on_random_histories_and_the_csv_has_the_same_lines() {
    let app = spawn_app().await;
    let a = app.funded_account(1, "500").await;
    let b = app.funded_account(2, "500").await;
    let euros = app.open_account(1, "EUR").await;
    app.deposit(&euros, "500").await;
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let mut order = 100;
    let mut reversible: Vec<String> = Vec::new();
    for step in 0..60 {
        let amount = format!(
            "{}.{:02}",
            rng.random_range(1..80),
            rng.random_range(0..100)
        );
        let (path, body) = match rng.random_range(0..10) {
            // Exchanges out of and into the account.
            8 => (
                "/api/v1/exchanges".to_owned(),
                json!({"from_account_id": a, "to_account_id": euros, "amount": amount, "rate": "0.9215"}),
            ),
            9 => (
                "/api/v1/exchanges".to_owned(),
                json!({"from_account_id": euros, "to_account_id": a, "amount": amount, "rate": "1.0852"}),
            ),
            0 => (
                "/api/v1/deposits".to_owned(),
                json!({"account_id": a, "amount": amount}),
            ),
            // Sometimes more than there is: recorded failed.
            1 => (
                "/api/v1/withdrawals".to_owned(),
                json!({"account_id": a, "amount": amount}),
            ),
            2 => (
                "/api/v1/transfers".to_owned(),
                json!({"from_account_id": a, "to_account_id": b, "amount": amount}),
            ),
            3 => (
                "/api/v1/transfers".to_owned(),
                json!({"from_account_id": b, "to_account_id": a, "amount": amount}),
            ),
            4 | 5 => {
                order += 1;
                let (status, _) = app
                    .post_json(
                        "/api/v1/reservations",
                        json!({"account_id": a, "order_id": order, "service_id": 1, "amount": amount}),
                    )
                    .await;
                if status != StatusCode::CREATED {
                    continue;
                }
                // Captured in part, captured whole or released.
                match step % 3 {
                    0 => (
                        format!("/api/v1/reservations/{order}/capture"),
                        json!({"amount": "0.50"}),
                    ),
                    1 => (format!("/api/v1/reservations/{order}/capture"), json!({})),
                    _ => (format!("/api/v1/reservations/{order}/release"), json!({})),
                }
            }
            _ => match reversible.pop() {
                Some(id) => (
                    format!("/api/v1/transactions/{id}/reversals"),
                    json!({"amount": "0.25"}),
                ),
                None => continue,
            },
        };
        let (status, answer) = app.post_json(&path, body).await;
        assert!(
            status.is_success() || status == StatusCode::UNPROCESSABLE_ENTITY,
            "{path}: {answer}"
        );
        if status == StatusCode::CREATED
            && matches!(
                answer["type"].as_str(),
                Some("deposit" | "transfer" | "exchange")
            )
        {
            reversible.push(answer["transaction_id"].as_str().unwrap().to_owned());
        }
    }
    // Periods between the times of the account's own transactions: at, before
    // and after each, so both ends fall on lines and between them.
    let (_, history) = app
        .get_json(&format!(
            "/api/v1/accounts/{a}/transactions?order=asc&limit=1000"
        ))
        .await;
    let history = history["items"].as_array().unwrap().clone();
    let times: Vec<chrono::DateTime<chrono::Utc>> = history
        .iter()
        .map(|t| t["created_at"].as_str().unwrap().parse().unwrap())
        .collect();
    let format = |t: chrono::DateTime<chrono::Utc>| shared_types::time::format(&t);
    for _ in 0..12 {
        let i = rng.random_range(0..times.len());
        let j = rng.random_range(i..times.len());
        let from = times[i] - chrono::Duration::microseconds(rng.random_range(0..2));
        let to = times[j] + chrono::Duration::microseconds(rng.random_range(1..3));
        let (from, to) = (format(from), format(to));
        let (first, lines) = statement(&app, &a, &from, &to, 7).await;
        let (opening, closing) = (&first["opening"], &first["closing"]);
        assert_eq!(
            dec(&opening["balance"]) + dec(&first["money_in"]) - dec(&first["money_out"]),
            dec(&closing["balance"]),
            "the identity, {from}..{to}: {first}"
        );
        let at_from = balance_at(&app, &a, &from).await;
        let at_to = balance_at(&app, &a, &to).await;
        assert_eq!(
            (&opening["balance"], &opening["reserved"]),
            (&at_from["balance"], &at_from["reserved"])
        );
        assert_eq!(
            (&closing["balance"], &closing["reserved"]),
            (&at_to["balance"], &at_to["reserved"])
        );
        // The lines are the history's with from < created_at <= to, in order.
        let expected: Vec<&str> = history
            .iter()
            .zip(&times)
            .filter(|(_, t)| format(**t) > from && format(**t) <= to)
            .map(|(t, _)| t["transaction_id"].as_str().unwrap())
            .collect();
        let got: Vec<&str> = lines
            .iter()
            .map(|l| l["transaction_id"].as_str().unwrap())
            .collect();
        assert_eq!(got, expected);
        assert_eq!(first["count"], expected.len());
        // In and out cover at least the period's deposits into and
        // withdrawals out of the account, each line's own amount.
        let sum = |kind: &str| -> Decimal {
            lines
                .iter()
                .filter(|l| l["type"] == kind && l["status"] == "success")
                .map(|l| dec(&l["amount"]))
                .sum()
        };
        assert!(dec(&first["money_in"]) >= sum("deposit"), "{first}");
        assert!(dec(&first["money_out"]) >= sum("withdrawal"), "{first}");
        if let Some(last) = lines.last() {
            assert_eq!(last["balance_after"], closing["balance"]);
            assert_eq!(last["reserved_after"], closing["reserved"]);
        }
        // The CSV: the same lines, the same figures.
        let (headers, text) = csv(&app, &a, &from, &to).await;
        assert_eq!(headers["content-type"], "text/csv; charset=utf-8");
        let mut rows = text.lines();
        assert_eq!(
            rows.next(),
            Some("created_at,transaction_id,type,status,reason,amount,balance_after,reserved_after,reference,description")
        );
        let rows: Vec<Vec<&str>> = rows.map(|r| r.splitn(10, ',').collect()).collect();
        assert_eq!(rows.len(), lines.len());
        for (row, line) in rows.iter().zip(&lines) {
            assert_eq!(row[0], line["created_at"].as_str().unwrap());
            assert_eq!(row[1], line["transaction_id"].as_str().unwrap());
            assert_eq!(row[2], line["type"].as_str().unwrap());
            assert_eq!(row[3], line["status"].as_str().unwrap());
            assert_eq!(row[4], line["reason"].as_str().unwrap_or(""));
            assert_eq!(row[5], line["amount"].as_str().unwrap());
            assert_eq!(row[6], line["balance_after"].as_str().unwrap());
            assert_eq!(row[7], line["reserved_after"].as_str().unwrap());
        }
    }
    app.assert_audit_clean().await;
}

#[tokio::test]
async fn a_statement_needs_a_period_and_names_its_csv() {
    let app = spawn_app().await;
    let a = app.funded_account(1, "10").await;
    let base = format!("/api/v1/accounts/{a}/statement");
    for (query, status, code) in [
        ("", StatusCode::UNPROCESSABLE_ENTITY, "invalid_period"),
        (
            "?from=2026-01-01T00:00:00Z",
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_period",
        ),
        (
            "?from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z",
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_period",
        ),
        (
            "?from=2026-01-01T00:00:00Z&to=2026-01-01T00:00:00Z",
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_period",
        ),
        (
            "?from=yesterday&to=2026-01-01T00:00:00Z",
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            "?from=2026-01-01T00:00:00Z&to=2027-01-01T00:00:00Z&page=2",
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            "?from=2026-01-01T00:00:00Z&to=2027-01-01T00:00:00Z&cursor=x",
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_cursor",
        ),
    ] {
        let (got, body) = app.get_json(&format!("{base}{query}")).await;
        assert_error(got, &body, status, code);
    }
    let period = "?from=2026-01-01T00:00:00Z&to=2099-01-01T00:00:00Z";
    let (status, body) = app
        .get_json(&format!(
            "/api/v1/accounts/{}/statement{period}",
            uuid::Uuid::new_v4()
        ))
        .await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
    let (headers, text) = csv(&app, &a, "2026-01-01T00:00:00Z", "2099-01-01T00:00:00Z").await;
    assert_eq!(
        headers["content-disposition"],
        format!("attachment; filename=\"statement_{a}_2026-01-01_2099-01-01.csv\"").as_str()
    );
    assert_eq!(
        text.lines().count(),
        2,
        "the header and the deposit: {text}"
    );
    let missing = app
        .get(&format!(
            "/api/v1/accounts/{}/statement{period}",
            uuid::Uuid::new_v4()
        ))
        .header("Accept", "text/csv")
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
}

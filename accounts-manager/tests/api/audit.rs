//! The audit: its fast checks on every call, and the full recount of the
//! entries in the background.

use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use rust_decimal::Decimal;
use serde_json::json;
use shared_types::accounts::{AuditReport, CurrencyAudit};

use crate::helpers::{spawn_app_with, TestApp};

async fn audit(app: &TestApp) -> AuditReport {
    let (status, body) = app.get_json("/api/v1/admin/audit").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    serde_json::from_value(body).unwrap()
}

fn usd(report: &AuditReport) -> &CurrencyAudit {
    report
        .currencies
        .iter()
        .find(|c| c.currency == "USD")
        .unwrap()
}

/// Waits for a recount as of a moment after `after`, and returns the audit then.
async fn recounted_after(app: &TestApp, after: DateTime<Utc>) -> AuditReport {
    let latest = std::cell::RefCell::new(None);
    test_support::eventually(
        "a recount after the change",
        Duration::from_secs(30),
        || async {
            let report = audit(app).await;
            let done = report
                .recount
                .as_ref()
                .is_some_and(|r| r.checked_at > after);
            *latest.borrow_mut() = Some(report);
            done
        },
    )
    .await;
    latest.into_inner().unwrap()
}

async fn database_now(app: &TestApp) -> DateTime<Utc> {
    let text = app
        .text("SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') AS t")
        .await;
    text.parse().unwrap()
}

/// Tampers with the database by `sql` (changing `rows` rows), then waits for
/// the recount after it and checks what it found: `found` in all, `in_usd`
/// of them USD accounts.
async fn recount_finds(app: &TestApp, sql: &str, rows: usize, found: i64, in_usd: i64) {
    assert_eq!(app.db.execute(sql).await, rows, "{sql}");
    let tampered = database_now(app).await;
    let recounted = recounted_after(app, tampered).await;
    assert_eq!(
        recounted.recount.as_ref().unwrap().entry_mismatches,
        found,
        "{recounted:?}"
    );
    assert_eq!(usd(&recounted).recount_mismatches, in_usd, "{recounted:?}");
    assert_eq!(usd(&recounted).entry_mismatches, in_usd, "{recounted:?}");
}

#[tokio::test]
async fn a_balance_tampered_with_in_the_database_is_reported_by_the_fast_check_and_the_recount() {
    let app = spawn_app_with(&[("AUDIT_INTERVAL", "1s")]).await;
    let a = app.funded_account(1, "100").await;
    let b = app.funded_account(2, "50").await;
    let (status, body) = app
        .post_json(
            "/api/v1/transfers",
            json!({"from_account_id": a, "to_account_id": b, "amount": "10"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let before = database_now(&app).await;
    let clean = recounted_after(&app, before).await;
    test_support::assert_audit_clean(&clean);
    assert_eq!(clean.recount.as_ref().unwrap().entry_mismatches, 0);

    app.db
        .execute(&format!(
            "UPDATE accounts SET balance = balance + 1 WHERE id = '{a}'"
        ))
        .await;
    // A recount counts what committed before its checked_at.
    let tampered = database_now(&app).await;

    // The fast check sees it on the next call.
    let fast = audit(&app).await;
    assert_eq!(usd(&fast).latest_posting_mismatches, 1, "{fast:?}");
    assert_eq!(usd(&fast).entry_mismatches, 1, "{fast:?}");
    assert_eq!(usd(&fast).total, Decimal::ONE, "{fast:?}");
    // The recount sees it once it has run again.
    let recounted = recounted_after(&app, tampered).await;
    assert_eq!(
        recounted.recount.as_ref().unwrap().entry_mismatches,
        1,
        "{recounted:?}"
    );
    assert_eq!(usd(&recounted).recount_mismatches, 1, "{recounted:?}");
    assert_eq!(
        usd(&recounted).entry_mismatches,
        1,
        "the same account, counted once"
    );
}

#[tokio::test]
async fn an_entry_tampered_with_in_the_database_is_reported_by_the_recount() {
    let app = spawn_app_with(&[("AUDIT_INTERVAL", "1s")]).await;
    let a = app.funded_account(1, "100").await;
    // An entry changed behind the engine's back leaves every balance as the
    // engine recorded it: only summing the entries sees it.
    let sql = format!("UPDATE entries SET amount = amount + 1 WHERE account_id = '{a}'");
    recount_finds(&app, &sql, 1, 1, 1).await;
    let fast = audit(&app).await;
    assert_eq!(usd(&fast).latest_posting_mismatches, 0, "{fast:?}");
}

#[tokio::test]
async fn an_entry_moved_to_no_transaction_is_reported_by_the_recount() {
    let app = spawn_app_with(&[("AUDIT_INTERVAL", "1s")]).await;
    let a = app.funded_account(1, "100").await;
    // Every sum stays as it was: only the entry's transaction is gone, which
    // no foreign key refuses (the engine writes entries with their
    // transaction); the recount looks for it.
    let sql =
        format!("UPDATE entries SET transaction_id = gen_random_uuid() WHERE account_id = '{a}'");
    recount_finds(&app, &sql, 1, 1, 1).await;
}

#[tokio::test]
async fn entries_on_no_account_are_reported_by_the_recount() {
    let app = spawn_app_with(&[("AUDIT_INTERVAL", "1s")]).await;
    let a = app.funded_account(1, "100").await;
    // Two entries of a real transaction that net to zero, on an account that
    // does not exist: no account's sums change, the recount finds the id,
    // which no currency counts (no account has it).
    let sql = format!(
        "INSERT INTO entries (transaction_id, account_id, bucket, amount) \
         SELECT e.transaction_id, g.id, 'balance', s.amount \
         FROM (SELECT transaction_id FROM entries WHERE account_id = '{a}') AS e, \
              (SELECT gen_random_uuid() AS id) AS g, \
              (VALUES (1), (-1)) AS s(amount)"
    );
    recount_finds(&app, &sql, 2, 1, 0).await;
}

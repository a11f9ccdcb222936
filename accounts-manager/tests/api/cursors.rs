//! Cursors: the `next` of a page, given back as `?cursor=`, reads the page
//! after it in the same snapshot, whatever is written meanwhile.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{assert_error, spawn_app, urlencode, TestApp};

fn ids(items: &[Value]) -> Vec<String> {
    items
        .iter()
        .map(|t| t["transaction_id"].as_str().unwrap().to_owned())
        .collect()
}

/// Every page of a listing, following `next` (the limit changing from page
/// to page, as a client may): the items, and the first page's total_count
/// and snapshot.
async fn by_cursor(app: &TestApp, base: &str, limits: &[usize]) -> (Vec<Value>, i64, String) {
    let sep = if base.contains('?') { '&' } else { '?' };
    let (status, first) = app
        .get_json(&format!("{base}{sep}limit={}", limits[0]))
        .await;
    assert_eq!(status, StatusCode::OK, "{first}");
    let total = first["total_count"].as_i64().unwrap();
    let snapshot = first["snapshot"].as_str().unwrap().to_owned();
    let mut items = first["items"].as_array().unwrap().clone();
    let mut next = first["next"].clone();
    let mut step = 1;
    while let Some(cursor) = next.as_str() {
        let limit = limits[step % limits.len()];
        let url = format!("{base}{sep}limit={limit}&cursor={}", urlencode(cursor));
        let (status, page) = app.get_json(&url).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        assert_eq!(
            page["total_count"], total,
            "total_count moved at step {step}"
        );
        let got = page["items"].as_array().unwrap();
        assert!(
            !got.is_empty(),
            "a page with a next cursor is followed by items"
        );
        assert!(got.len() <= limit);
        items.extend(got.iter().cloned());
        next = page["next"].clone();
        step += 1;
    }
    (items, total, snapshot)
}

/// Every page of a listing by number, every one pinned to `snapshot`.
async fn by_page(app: &TestApp, base: &str, snapshot: &str, limit: usize) -> Vec<Value> {
    let sep = if base.contains('?') { '&' } else { '?' };
    let mut items = Vec::new();
    for page in 1.. {
        let url = format!(
            "{base}{sep}limit={limit}&page={page}&snapshot={}",
            urlencode(snapshot)
        );
        let (status, body) = app.get_json(&url).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let got = body["items"].as_array().unwrap();
        if got.is_empty() {
            break;
        }
        items.extend(got.iter().cloned());
    }
    items
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cursor_paging_reads_the_same_rows_as_page_paging_while_8_writers_commit() {
    let app = Arc::new(spawn_app().await);
    let a = app.funded_account(1, "100000").await;
    let b = app.funded_account(2, "100000").await;
    for cents in 0..40 {
        // Amounts repeat, so the amount sort has ties to break.
        let amount = format!("{}.{:02}", 1 + cents % 4, cents % 3);
        app.post_json(
            "/api/v1/transfers",
            json!({"from_account_id": a, "to_account_id": b, "amount": amount}),
        )
        .await;
    }
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..8)
        .map(|i| {
            let (app, stop, a, b) = (app.clone(), stop.clone(), a.clone(), b.clone());
            tokio::spawn(async move {
                let mut written = 0;
                while !stop.load(Ordering::Relaxed) {
                    let (from, to) = if i % 2 == 0 { (&a, &b) } else { (&b, &a) };
                    app.post_json(
                        "/api/v1/transfers",
                        json!({"from_account_id": from, "to_account_id": to, "amount": format!("{}", 1 + i % 3)}),
                    )
                    .await;
                    written += 1;
                }
                written
            })
        })
        .collect();

    let mut listings: Vec<String> = Vec::new();
    for sort in ["date", "amount"] {
        for order in ["desc", "asc"] {
            listings.push(format!(
                "/api/v1/accounts/{a}/transactions?sort={sort}&order={order}"
            ));
        }
    }
    listings.push("/api/v1/transactions".into());
    listings.push("/api/v1/transactions?status=success".into());
    for listing in &listings {
        let (by_cursor, total, snapshot) = by_cursor(&app, listing, &[7, 3, 11]).await;
        let cursor_ids = ids(&by_cursor);
        assert_eq!(cursor_ids.len() as i64, total, "{listing}: every row");
        let unique: HashSet<_> = cursor_ids.iter().collect();
        assert_eq!(unique.len(), cursor_ids.len(), "{listing}: no row twice");
        // The same snapshot paged by number: the same rows in the same order.
        let by_page = by_page(&app, listing, &snapshot, 5).await;
        assert_eq!(
            ids(&by_page),
            cursor_ids,
            "{listing}: cursor and page agree"
        );
    }
    stop.store(true, Ordering::Relaxed);
    let written: usize = futures::future::join_all(writers)
        .await
        .into_iter()
        .map(|r| r.unwrap())
        .sum();
    assert!(written > 0, "the writers wrote while we paged");
    app.assert_audit_clean().await;
}

#[tokio::test]
async fn a_cursor_answers_its_page_number_and_the_last_page_has_no_next() {
    let app = spawn_app().await;
    let a = app.funded_account(1, "100").await;
    for _ in 0..4 {
        app.post_json(
            "/api/v1/withdrawals",
            json!({"account_id": a, "amount": "1"}),
        )
        .await;
    }
    // Five transactions: pages of two are 1, 2 and 3.
    let history = format!("/api/v1/accounts/{a}/transactions");
    let (_, first) = app.get_json(&format!("{history}?limit=2")).await;
    assert_eq!(first["page"], 1);
    let cursor = urlencode(first["next"].as_str().unwrap());
    let (_, second) = app
        .get_json(&format!("{history}?limit=2&cursor={cursor}"))
        .await;
    assert_eq!(second["page"], 2);
    assert_eq!(second["total_pages"], 3);
    assert_eq!(second["snapshot"], first["snapshot"]);
    let cursor = urlencode(second["next"].as_str().unwrap());
    let (_, last) = app
        .get_json(&format!("{history}?limit=2&cursor={cursor}"))
        .await;
    assert_eq!(last["page"], 3);
    assert_eq!(last["items"].as_array().unwrap().len(), 1);
    assert_eq!(last["next"], Value::Null);
    // A page that ends exactly at the end has no next either.
    let (_, whole) = app.get_json(&format!("{history}?limit=5")).await;
    assert_eq!(whole["next"], Value::Null);
    let (_, empty) = app.get_json(&format!("{history}?page=9")).await;
    assert_eq!(empty["next"], Value::Null);
}

#[tokio::test]
async fn a_cursor_is_refused_with_page_or_snapshot_or_for_another_listing() {
    let app = spawn_app().await;
    let a = app.funded_account(1, "100").await;
    let b = app.funded_account(2, "100").await;
    for _ in 0..3 {
        app.post_json(
            "/api/v1/transfers",
            json!({"from_account_id": a, "to_account_id": b, "amount": "1"}),
        )
        .await;
    }
    let history = format!("/api/v1/accounts/{a}/transactions");
    let (_, first) = app.get_json(&format!("{history}?limit=1")).await;
    let next = first["next"].as_str().unwrap().to_owned();
    let cursor = urlencode(&next);
    let snapshot = urlencode(first["snapshot"].as_str().unwrap());
    let mut tampered = next.clone();
    tampered.insert(1, '0');
    let refused = [
        format!("{history}?cursor={cursor}&page=2"),
        format!("{history}?cursor={cursor}&page=1"),
        format!("{history}?cursor={cursor}&snapshot={snapshot}"),
        format!("{history}?cursor={cursor}&sort=amount"),
        format!("{history}?cursor={cursor}&order=asc"),
        format!("/api/v1/accounts/{b}/transactions?cursor={cursor}"),
        format!("/api/v1/transactions?cursor={cursor}"),
        format!("{history}?cursor={}", urlencode(&tampered)),
        format!("{history}?cursor=garbage"),
        format!("{history}?cursor="),
        // A snapshot token is not a cursor.
        format!("{history}?cursor={snapshot}"),
    ];
    for url in refused {
        let (status, body) = app.get_json(&url).await;
        assert_error(
            status,
            &body,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_cursor",
        );
    }
    // The same cursor with its own listing (and another limit) is fine.
    let (status, page) = app
        .get_json(&format!("{history}?cursor={cursor}&limit=50"))
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["items"].as_array().unwrap().len(), 3);
}

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use diesel::RunQueryDsl;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{all_pages, assert_error, spawn_app, urlencode, TestApp};

fn ids(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["transaction_id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn history_lists_successful_and_failed_transactions_newest_first() {
    let app = spawn_app().await;
    let a = app.funded_account(1, "10").await;
    let b = app.open_account(2, "USD").await;
    app.post_json(
        "/api/v1/transfers",
        json!({"from_account_id": a, "to_account_id": b, "amount": "4"}),
    )
    .await;
    let (status, _) = app
        .post_json(
            "/api/v1/withdrawals",
            json!({"account_id": a, "amount": "100"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    app.deposit(&b, "1").await;

    let (status, page) = app
        .get_json(&format!("/api/v1/accounts/{a}/transactions"))
        .await;

    assert_eq!(status, StatusCode::OK, "{page}");
    let kinds: Vec<(&str, &str)> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["type"].as_str().unwrap(), t["status"].as_str().unwrap()))
        .collect();
    assert_eq!(
        kinds,
        vec![
            ("withdrawal", "failed"),
            ("transfer", "success"),
            ("deposit", "success")
        ]
    );
    assert_eq!(page["page"], 1);
    assert_eq!(page["limit"], 100);
    assert_eq!(page["total_count"], 3);
    assert_eq!(page["total_pages"], 1);
    assert!(page["snapshot"].as_str().is_some_and(|s| !s.is_empty()));
}

#[tokio::test]
async fn history_sorts_by_amount_and_date_both_ways_with_ties_in_a_stable_order() {
    let app = spawn_app().await;
    let a = app.open_account(1, "USD").await;
    for amount in ["5", "1", "5", "3", "5", "1"] {
        app.deposit(&a, amount).await;
    }
    let list = |query: &'static str| {
        let app = &app;
        let a = a.clone();
        async move {
            let (status, page) = app
                .get_json(&format!("/api/v1/accounts/{a}/transactions?{query}"))
                .await;
            assert_eq!(status, StatusCode::OK, "{page}");
            page
        }
    };
    let by_date_desc = list("sort=date&order=desc").await;
    let by_date_asc = list("sort=date&order=asc").await;
    let by_amount_asc = list("sort=amount&order=asc").await;
    let by_amount_desc = list("sort=amount").await;

    let amounts = |page: &Value| -> Vec<String> {
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["amount"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        amounts(&by_date_asc),
        ["5.00", "1.00", "5.00", "3.00", "5.00", "1.00"]
    );
    let mut reversed = ids(&by_date_asc);
    reversed.reverse();
    assert_eq!(ids(&by_date_desc), reversed);
    assert_eq!(
        amounts(&by_amount_asc),
        ["1.00", "1.00", "3.00", "5.00", "5.00", "5.00"]
    );
    assert_eq!(
        amounts(&by_amount_desc),
        ["5.00", "5.00", "5.00", "3.00", "1.00", "1.00"]
    );
    // Ties in amount are ordered by date: ascending oldest first, descending newest first.
    let date_rank = |id: &String| ids(&by_date_asc).iter().position(|x| x == id).unwrap();
    let asc_ranks: Vec<usize> = ids(&by_amount_asc).iter().map(date_rank).collect();
    assert_eq!(asc_ranks, [1, 5, 3, 0, 2, 4]);
    let desc_ranks: Vec<usize> = ids(&by_amount_desc).iter().map(date_rank).collect();
    assert_eq!(desc_ranks, [4, 2, 0, 3, 5, 1]);
}

#[tokio::test]
async fn history_pagination_edges() {
    let app = spawn_app().await;
    let empty = app.open_account(1, "USD").await;
    let (status, page) = app
        .get_json(&format!("/api/v1/accounts/{empty}/transactions"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (
            page["items"].clone(),
            page["total_count"].clone(),
            page["total_pages"].clone()
        ),
        (json!([]), json!(0), json!(0))
    );

    let a = app.open_account(2, "USD").await;
    for i in 1..=7 {
        app.deposit(&a, &i.to_string()).await;
    }
    let (items, total) = all_pages(&app, &format!("/api/v1/accounts/{a}/transactions"), 3).await;
    assert_eq!(total, 7);
    let unique: HashSet<_> = items
        .iter()
        .map(|t| t["transaction_id"].as_str().unwrap())
        .collect();
    assert_eq!(unique.len(), 7, "no item twice, none lost");
    let (_, last) = app
        .get_json(&format!("/api/v1/accounts/{a}/transactions?limit=3&page=3"))
        .await;
    assert_eq!(last["items"].as_array().unwrap().len(), 1);
    assert_eq!(last["total_pages"], 3);
    let (status, past) = app
        .get_json(&format!("/api/v1/accounts/{a}/transactions?limit=3&page=9"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(past["items"], json!([]));
    assert_eq!(past["page"], 9);
    assert_eq!(past["total_count"], 7);
}

#[tokio::test]
async fn history_refuses_bad_parameters() {
    let app = spawn_app().await;
    let a = app.open_account(1, "USD").await;
    let base = format!("/api/v1/accounts/{a}/transactions");
    for (query, status, code) in [
        (
            "sort=name",
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_sort",
        ),
        (
            "order=up",
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_order",
        ),
        ("limit=0", StatusCode::UNPROCESSABLE_ENTITY, "invalid_limit"),
        (
            "limit=1001",
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_limit",
        ),
        ("page=0", StatusCode::UNPROCESSABLE_ENTITY, "invalid_page"),
        (
            "snapshot=garbage",
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_snapshot",
        ),
        // The right shape, but nothing Postgres would take as a snapshot.
        (
            "snapshot=0:0:",
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_snapshot",
        ),
        (
            "snapshot=5:3:",
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_snapshot",
        ),
        (
            "snapshot=10:20:5",
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_snapshot",
        ),
        (
            "snapshot=10:20:12,11",
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_snapshot",
        ),
        ("limit=ten", StatusCode::BAD_REQUEST, "invalid_request"),
        ("colour=red", StatusCode::BAD_REQUEST, "invalid_request"),
    ] {
        let (got, body) = app.get_json(&format!("{base}?{query}")).await;
        assert_error(got, &body, status, code);
    }
    // A page however far past the end has no items.
    for query in [
        "page=9223372036854775807&limit=1",
        "page=9223372036854775807&limit=1000",
    ] {
        let (status, body) = app.get_json(&format!("{base}?{query}")).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["items"], serde_json::json!([]), "{body}");
    }
    let (status, body) = app
        .get_json(&format!(
            "/api/v1/accounts/{}/transactions",
            uuid::Uuid::new_v4()
        ))
        .await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test]
async fn a_snapshot_hides_a_transaction_that_commits_later_even_if_it_was_created_earlier() {
    let app = spawn_app().await;
    let a = app.funded_account(1, "100").await;
    app.deposit(&a, "1").await;
    // A writer that created its row before the first page but commits after it:
    // "the largest id or time at the first page" would let it into later pages.
    let (begun_tx, begun_rx) = std::sync::mpsc::channel();
    let (commit_tx, commit_rx) = std::sync::mpsc::channel::<()>();
    let db = app.db.clone();
    let account = a.clone();
    let slow_writer = std::thread::spawn(move || {
        let mut conn = db.connect();
        diesel::sql_query("BEGIN").execute(&mut conn).unwrap();
        diesel::sql_query(format!(
            "INSERT INTO transactions (id, kind, status, reason, amount, currency, from_account_id, description, created_at, created_by) \
             VALUES (gen_random_uuid(), 'withdrawal', 'failed', 'insufficient_funds', 500, 'USD', '{account}', 'slow', now() - interval '1 second', 'test')"
        ))
        .execute(&mut conn)
        .unwrap();
        begun_tx.send(()).unwrap();
        commit_rx.recv().unwrap();
        diesel::sql_query("COMMIT").execute(&mut conn).unwrap();
    });
    begun_rx.recv().unwrap();

    let base = format!("/api/v1/accounts/{a}/transactions?sort=date&order=asc&limit=1");
    let (_, first) = app.get_json(&base).await;
    let snapshot = first["snapshot"].as_str().unwrap().to_owned();
    commit_tx.send(()).unwrap();
    slow_writer.join().unwrap();
    app.deposit(&a, "2").await;

    let (_, second) = app
        .get_json(&format!("{base}&page=2&snapshot={}", urlencode(&snapshot)))
        .await;
    assert_eq!(first["total_count"], 2);
    assert_eq!(second["total_count"], 2);
    assert_eq!(second["items"][0]["amount"], "1.00");
    let (_, fresh) = app
        .get_json(&format!("/api/v1/accounts/{a}/transactions"))
        .await;
    assert_eq!(
        fresh["total_count"], 4,
        "the late commit and the new deposit exist"
    );
}

#[tokio::test]
async fn later_pages_answer_the_first_pages_count_without_counting_again() {
    let app = spawn_app().await;
    let a = app.funded_account(1, "100").await;
    for amount in ["1", "2", "3", "4"] {
        app.deposit(&a, amount).await;
    }
    let history = format!("/api/v1/accounts/{a}/transactions?limit=2");
    let report = "/api/v1/transactions?limit=2";
    let (_, history_first) = app.get_json(&history).await;
    let (_, report_first) = app.get_json(report).await;
    assert_eq!(history_first["total_count"], 5);
    assert_eq!(report_first["total_count"], 5);
    let history_token = urlencode(history_first["snapshot"].as_str().unwrap());
    let report_token = urlencode(report_first["snapshot"].as_str().unwrap());

    // Behind the service's back, two rows leave the account's history and the
    // report's window: counted again, either listing would now say 3.
    let moved = app
        .count(&format!(
            "WITH moved AS (UPDATE transactions SET to_account_id = NULL, created_at = now() - interval '30 days' \
             WHERE id IN (SELECT id FROM transactions WHERE to_account_id = '{a}' ORDER BY created_at LIMIT 2) RETURNING 1) \
             SELECT count(*) AS n FROM moved"
        ))
        .await;
    assert_eq!(moved, 2);

    let (status, history_second) = app
        .get_json(&format!("{history}&page=2&snapshot={history_token}"))
        .await;
    assert_eq!(status, StatusCode::OK, "{history_second}");
    assert_eq!(history_second["total_count"], 5, "the first page's count");
    assert_eq!(history_second["total_pages"], 3);
    assert_eq!(history_second["snapshot"], history_first["snapshot"]);
    let (status, report_third) = app
        .get_json(&format!("{report}&page=3&snapshot={report_token}"))
        .await;
    assert_eq!(status, StatusCode::OK, "{report_third}");
    assert_eq!(report_third["total_count"], 5, "the first page's count");
    assert_eq!(report_third["snapshot"], report_first["snapshot"]);

    // The count belongs to its listing: the same snapshot for another status,
    // or a fresh first page, is counted.
    let (_, succeeded) = app
        .get_json(&format!("{report}&status=success&snapshot={report_token}"))
        .await;
    assert_eq!(succeeded["total_count"], 3);
    let (_, fresh) = app.get_json(&history).await;
    assert_eq!(fresh["total_count"], 3);

    // A token whose count is not one the service writes is refused.
    for garbage in ["%40", "%4012", "%40x.0123456789abcdef"] {
        let (status, body) = app
            .get_json(&format!(
                "{history}&page=2&snapshot={history_token}{garbage}"
            ))
            .await;
        assert_error(
            status,
            &body,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_snapshot",
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn paging_with_a_snapshot_is_stable_while_writers_commit() {
    let app = Arc::new(spawn_app().await);
    let a = app.funded_account(1, "100000").await;
    let b = app.funded_account(2, "100000").await;
    for _ in 0..30 {
        app.post_json(
            "/api/v1/transfers",
            json!({"from_account_id": a, "to_account_id": b, "amount": "1"}),
        )
        .await;
    }
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..6)
        .map(|i| {
            let (app, stop, a, b) = (app.clone(), stop.clone(), a.clone(), b.clone());
            tokio::spawn(async move {
                let mut written = 0;
                while !stop.load(Ordering::Relaxed) {
                    let (from, to) = if i % 2 == 0 { (&a, &b) } else { (&b, &a) };
                    app.post_json(
                        "/api/v1/transfers",
                        json!({"from_account_id": from, "to_account_id": to, "amount": "1"}),
                    )
                    .await;
                    written += 1;
                }
                written
            })
        })
        .collect();

    let history = format!("/api/v1/accounts/{a}/transactions?sort=amount&order=asc");
    let (items, total) = all_pages(&app, &history, 7).await;
    let (report_items, report_total) = all_pages(&app, "/api/v1/transactions", 11).await;
    stop.store(true, Ordering::Relaxed);
    let written: usize = futures::future::join_all(writers)
        .await
        .into_iter()
        .map(|r| r.unwrap())
        .sum();

    assert!(written > 0, "the writers wrote while we paged");
    for (items, total) in [(&items, total), (&report_items, report_total)] {
        let unique: HashSet<_> = items
            .iter()
            .map(|t| t["transaction_id"].as_str().unwrap())
            .collect();
        assert_eq!(items.len() as i64, total);
        assert_eq!(unique.len() as i64, total, "each item once");
    }
    let (_, now) = app
        .get_json(&format!("/api/v1/accounts/{a}/transactions"))
        .await;
    assert!(now["total_count"].as_i64().unwrap() > total);
    app.assert_audit_clean().await;
}

#[tokio::test]
async fn the_report_lists_the_whole_ledger_oldest_first_and_filters_by_status() {
    let app = spawn_app().await;
    let a = app.funded_account(1, "10").await;
    let b = app.funded_account(2, "10").await;
    app.post_json(
        "/api/v1/transfers",
        json!({"from_account_id": a, "to_account_id": b, "amount": "50"}),
    )
    .await;
    app.post_json(
        "/api/v1/transfers",
        json!({"from_account_id": b, "to_account_id": a, "amount": "5"}),
    )
    .await;

    let (status, all) = app.get_json("/api/v1/transactions").await;
    let (_, failed) = app.get_json("/api/v1/transactions?status=failed").await;
    let (_, succeeded) = app
        .get_json("/api/v1/transactions?status=success&limit=2")
        .await;

    assert_eq!(status, StatusCode::OK, "{all}");
    let types: Vec<&str> = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["deposit", "deposit", "transfer", "transfer"]);
    assert_eq!(all["total_count"], 4);
    assert_eq!(failed["total_count"], 1);
    assert_eq!(failed["items"][0]["reason"], "insufficient_funds");
    assert_eq!(succeeded["total_count"], 3);
    assert_eq!(succeeded["total_pages"], 2);
    let an_hour_ago = (chrono::Utc::now() - chrono::Duration::hours(1)).to_rfc3339();
    let (status, none) = app
        .get_json(&format!(
            "/api/v1/transactions?to={}",
            urlencode(&an_hour_ago)
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{none}");
    assert_eq!(none["total_count"], 0);
}

#[tokio::test]
async fn the_report_refuses_windows_it_does_not_keep_and_bad_parameters() {
    let app = spawn_app().await;
    let old = (chrono::Utc::now() - chrono::Duration::days(6)).to_rfc3339();
    let (status, body) = app
        .get_json(&format!("/api/v1/transactions?from={}", urlencode(&old)))
        .await;
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "outside_report_window",
    );
    let from = (chrono::Utc::now() - chrono::Duration::hours(1)).to_rfc3339();
    let to = (chrono::Utc::now() - chrono::Duration::hours(2)).to_rfc3339();
    let (status, body) = app
        .get_json(&format!(
            "/api/v1/transactions?from={}&to={}",
            urlencode(&from),
            urlencode(&to)
        ))
        .await;
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_window",
    );
    let (status, body) = app.get_json("/api/v1/transactions?from=yesterday").await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "invalid_request");
    let (status, body) = app.get_json("/api/v1/transactions?status=pending").await;
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_status",
    );
    let a = app.open_account(1, "USD").await;
    let (_, history) = app
        .get_json(&format!("/api/v1/accounts/{a}/transactions"))
        .await;
    let foreign = history["snapshot"].as_str().unwrap();
    let (status, body) = app
        .get_json(&format!(
            "/api/v1/transactions?snapshot={}",
            urlencode(foreign)
        ))
        .await;
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_snapshot",
    );
}

/// Captures order `order` of `service` for `amount`, then moves it to `at`
/// (and the revenue rollup with it).
async fn captured(
    app: &TestApp,
    account: &str,
    order: i64,
    service: i64,
    name: Option<&str>,
    amount: &str,
    at: &str,
) {
    let (status, body) = app
        .post_json(
            "/api/v1/reservations",
            json!({"account_id": account, "order_id": order, "service_id": service, "amount": amount, "service_name": name}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = crate::helpers::read(
        app.post(&format!("/api/v1/reservations/{order}/capture"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    app.count(&format!(
        "WITH moved AS (UPDATE transactions SET created_at = '{at}' WHERE order_id = {order} RETURNING 1) SELECT count(*) AS n FROM moved"
    ))
    .await;
    app.rebuild_revenue_rollup().await;
}

#[tokio::test]
async fn the_revenue_csv_sums_captures_per_service_for_the_month() {
    let app = spawn_app().await;
    let account = app.funded_account(1, "100000").await;
    captured(
        &app,
        &account,
        1,
        20,
        Some("Taxi"),
        "100.10",
        "2022-11-01T00:00:00Z",
    )
    .await;
    captured(
        &app,
        &account,
        2,
        3,
        Some("Delivery, express"),
        "50",
        "2022-11-15T12:00:00Z",
    )
    .await;
    captured(
        &app,
        &account,
        3,
        20,
        Some("Taxi \"Go\""),
        "0.90",
        "2022-11-30T23:59:59.999999Z",
    )
    .await;
    captured(&app, &account, 4, 7, None, "7.77", "2022-11-20T00:00:00Z").await;
    captured(
        &app,
        &account,
        5,
        3,
        Some("Delivery"),
        "999",
        "2022-12-01T00:00:00Z",
    )
    .await;
    captured(
        &app,
        &account,
        6,
        3,
        None,
        "1",
        "2022-10-31T23:59:59.999999Z",
    )
    .await;
    // A released order is not revenue.
    app.post_json(
        "/api/v1/reservations",
        json!({"account_id": account, "order_id": 7, "service_id": 3, "amount": "500"}),
    )
    .await;
    crate::helpers::read(
        app.post("/api/v1/reservations/7/release")
            .send()
            .await
            .unwrap(),
    )
    .await;
    app.count("WITH m AS (UPDATE transactions SET created_at = '2022-11-10' WHERE order_id = 7 RETURNING 1) SELECT count(*) AS n FROM m")
        .await;

    let response = app
        .get("/api/v1/reports/revenue?month=2022-11")
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["content-type"],
        "text/csv; charset=utf-8"
    );
    assert_eq!(
        response.headers()["content-disposition"],
        "attachment; filename=\"report_2022-11.csv\""
    );
    assert_eq!(
        response.text().await.unwrap(),
        "service_id,service_name,revenue\n\
         3,\"Delivery, express\",50.00\n\
         7,,7.77\n\
         20,\"Taxi \"\"Go\"\"\",101.00\n"
    );
    let december = app
        .get("/api/v1/reports/revenue?month=2022-12")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(
        december,
        "service_id,service_name,revenue\n3,Delivery,999.00\n"
    );
    let empty = app
        .get("/api/v1/reports/revenue?month=2023-01")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(empty, "service_id,service_name,revenue\n");
}

#[tokio::test]
async fn the_revenue_csv_refuses_a_bad_month() {
    let app = spawn_app().await;
    for month in ["2022-13", "2022-1", "nov", ""] {
        let (status, body) = app
            .get_json(&format!("/api/v1/reports/revenue?month={month}"))
            .await;
        assert_error(
            status,
            &body,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_month",
        );
    }
    let (status, body) = app.get_json("/api/v1/reports/revenue").await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "invalid_request");
    // Months before the ledger or far ahead are months: the header alone.
    for month in ["0001-01", "1969-12", "9999-12"] {
        let response = app
            .get(&format!("/api/v1/reports/revenue?month={month}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{month}");
        assert_eq!(
            response.text().await.unwrap(),
            "service_id,service_name,revenue\n"
        );
    }
}

#[tokio::test]
async fn an_edited_snapshot_token_is_refused_so_the_report_window_holds() {
    let app = spawn_app().await;
    let a = app.funded_account(1, "100").await;
    app.deposit(&a, "1").await;
    let (status, first) = app.get_json("/api/v1/transactions?limit=1").await;
    assert_eq!(status, StatusCode::OK, "{first}");
    let token = first["snapshot"].as_str().unwrap().to_owned();
    // The same token again pages on.
    let (status, second) = app
        .get_json(&format!(
            "/api/v1/transactions?limit=1&page=2&snapshot={}",
            urlencode(&token)
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{second}");
    // The window travels in the token: moved back to the epoch, it would
    // show the whole ledger past the report window.
    let (snapshot, rest) = token.split_once('~').unwrap();
    let to = rest.split('~').nth(1).unwrap();
    let edited = format!("{snapshot}~0~{to}");
    let app = &app;
    let refused = |url: String| async move {
        let (status, body) = app.get_json(&url).await;
        assert_error(
            status,
            &body,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_snapshot",
        );
    };
    refused(format!(
        "/api/v1/transactions?limit=1&snapshot={}",
        urlencode(&edited)
    ))
    .await;
    // An account's history takes back only its own sealed tokens too.
    let (status, history) = app
        .get_json(&format!("/api/v1/accounts/{a}/transactions?limit=1"))
        .await;
    assert_eq!(status, StatusCode::OK, "{history}");
    let token = history["snapshot"].as_str().unwrap();
    let unsealed = token.rsplit_once('!').unwrap().0;
    refused(format!(
        "/api/v1/accounts/{a}/transactions?limit=1&snapshot={}",
        urlencode(unsealed)
    ))
    .await;
}

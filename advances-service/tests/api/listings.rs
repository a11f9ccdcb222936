//! Listings' cursors: `next` given back as `?cursor=` reads the page after
//! it in the same snapshot, as page paging of that snapshot would.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use reqwest::StatusCode;
use serde_json::Value;

use test_support::urlencode;

use crate::helpers::{spawn_system, Options, TestSystem};

/// The ids (`id_field`) of every page of `base`, following `next`, and of
/// every page by number pinned to the first page's snapshot.
async fn both_ways(
    system: &TestSystem,
    base: &str,
    id_field: &str,
) -> (Vec<String>, Vec<String>, i64) {
    let ids = |page: &Value| -> Vec<String> {
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|item| item[id_field].as_str().unwrap().to_owned())
            .collect()
    };
    let (status, first) = system.get(&format!("{base}&limit=4")).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    let total = first["total_count"].as_i64().unwrap();
    let snapshot = first["snapshot"].as_str().unwrap().to_owned();
    let mut by_cursor = ids(&first);
    let mut next = first["next"].clone();
    while let Some(cursor) = next.as_str() {
        let (status, page) = system
            .get(&format!("{base}&limit=3&cursor={}", urlencode(cursor)))
            .await;
        assert_eq!(status, StatusCode::OK, "{page}");
        assert_eq!(page["total_count"], total);
        by_cursor.extend(ids(&page));
        next = page["next"].clone();
    }
    let mut by_page = Vec::new();
    for page in 1.. {
        let (status, body) = system
            .get(&format!(
                "{base}&limit=5&page={page}&snapshot={}",
                urlencode(&snapshot)
            ))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        if body["items"].as_array().unwrap().is_empty() {
            break;
        }
        by_page.extend(ids(&body));
    }
    (by_cursor, by_page, total)
}

/// Inserts into advances-service's database from 8 tasks until stopped.
fn writers(
    system: &Arc<TestSystem>,
    stop: &Arc<AtomicBool>,
    insert: &'static str,
) -> Vec<tokio::task::JoinHandle<usize>> {
    (0..8)
        .map(|_| {
            let (system, stop) = (system.clone(), stop.clone());
            tokio::spawn(async move {
                let mut written = 0;
                while !stop.load(Ordering::Relaxed) {
                    written += system.sql(insert).await;
                }
                written
            })
        })
        .collect()
}

const DEAD_LETTER: &str = "INSERT INTO dead_letters (id, body, reason, received_at) \
     SELECT gen_random_uuid(), 'x'::bytea, 'test', date_trunc('second', now()) FROM generate_series(1, 3)";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dead_letters_and_advances_page_by_cursor_as_by_page_while_8_writers_commit() {
    let system = Arc::new(
        spawn_system(Options {
            roles: "api",
            ..Options::default()
        })
        .await,
    );
    let account = uuid::Uuid::new_v4();
    // Rows that share their time, so the id breaks the ties.
    system.sql(&DEAD_LETTER.replace("1, 3", "1, 20")).await;
    let advance = format!(
        "INSERT INTO advances (id, account_id, amount, currency, installments, status, interval_ms, \
         disbursement_transaction_id, created_at, created_by, outstanding) \
         SELECT gen_random_uuid(), '{account}', 10, 'USD', 1, 'repaid', 1000, gen_random_uuid(), \
         date_trunc('second', now()), 'test', 0 FROM generate_series(1, 3)"
    );
    system.sql(&advance.replace("1, 3", "1, 20")).await;
    let advance: &'static str = Box::leak(advance.into_boxed_str());

    for (base, id, insert) in [
        ("/api/v1/admin/dead-letters?".to_owned(), "id", DEAD_LETTER),
        (
            format!("/api/v1/advances?account_id={account}"),
            "advance_id",
            advance,
        ),
    ] {
        let stop = Arc::new(AtomicBool::new(false));
        let tasks = writers(&system, &stop, insert);
        let (by_cursor, by_page, total) = both_ways(&system, &base, id).await;
        stop.store(true, Ordering::Relaxed);
        let written: usize = futures::future::join_all(tasks)
            .await
            .into_iter()
            .map(|r| r.unwrap())
            .sum();
        assert!(written > 0, "{base}: the writers wrote while we paged");
        assert_eq!(by_cursor.len() as i64, total, "{base}: every row");
        assert_eq!(
            by_cursor.iter().collect::<HashSet<_>>().len(),
            by_cursor.len(),
            "{base}: no row twice"
        );
        assert_eq!(by_cursor, by_page, "{base}: cursor and page agree");
    }
    let (status, body) = system
        .get("/api/v1/admin/dead-letters?cursor=nonsense")
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["code"], "invalid_cursor");
}

//! The revenue rollup against the transactions it sums: generated orders
//! (random services, names, accounts and currencies; full and partial
//! captures, releases, refunds) through the API, concurrently, then
//! transactions moved to other months and the migration's backfill run, then
//! more live traffic on top of the backfilled rollup.

use std::collections::{BTreeMap, BTreeSet};

use futures::StreamExt;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use reqwest::StatusCode;
use rust_decimal::Decimal;
use serde_json::json;

use crate::helpers::{spawn_app, TestApp};

const NAMES: [Option<&str>; 4] = [
    None,
    Some("Taxi"),
    Some("Taxi, express"),
    Some("Food \"good\""),
];

/// Per (currency, month, service): the revenue and the name the CSV gives.
type Rollup = BTreeMap<(String, String, i64), (Decimal, String)>;
/// Per (currency, month, service): captures less refunds, and every name
/// given at the latest time a name was given (more than one only when
/// captures of one batch share that time).
type Expected = BTreeMap<(String, String, i64), (Decimal, BTreeSet<String>)>;

/// One line per key of the rollup, shards summed, the name as the CSV picks it.
const ROLLUP: &str = "SELECT COALESCE(string_agg(line, E'\\n' ORDER BY line), '') AS t FROM (\
    SELECT currency || '|' || to_char(month, 'YYYY-MM') || '|' || service_id || '|' || sum(revenue) || '|' || \
           COALESCE((array_agg(service_name ORDER BY named_at DESC, shard DESC) FILTER (WHERE service_name IS NOT NULL))[1], '') AS line \
    FROM revenue_rollup GROUP BY currency, month, service_id) AS lines";

/// The same computed from the transactions, as the contract defines revenue.
const FROM_TRANSACTIONS: &str = "WITH moves AS (\
    SELECT currency, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM') AS month, service_id, \
           CASE WHEN kind = 'capture' THEN amount ELSE -amount END AS revenue, service_name, created_at \
    FROM transactions WHERE status = 'success' AND service_id IS NOT NULL AND kind IN ('capture', 'reversal')), \
    latest AS (SELECT currency, month, service_id, max(created_at) FILTER (WHERE service_name IS NOT NULL) AS at \
               FROM moves GROUP BY currency, month, service_id) \
    SELECT COALESCE(string_agg(line, E'\\n' ORDER BY line), '') AS t FROM (\
        SELECT m.currency || '|' || m.month || '|' || m.service_id || '|' || sum(m.revenue) || '|' || \
               COALESCE(string_agg(DISTINCT m.service_name, '/') FILTER (WHERE m.created_at = l.at AND m.service_name IS NOT NULL), '') AS line \
        FROM moves m JOIN latest l USING (currency, month, service_id) \
        GROUP BY m.currency, m.month, m.service_id) AS lines";

fn lines(text: &str) -> impl Iterator<Item = ((String, String, i64), Decimal, String)> + '_ {
    text.lines().map(|line| {
        let fields: Vec<&str> = line.split('|').collect();
        (
            (
                fields[0].to_owned(),
                fields[1].to_owned(),
                fields[2].parse().unwrap(),
            ),
            fields[3].parse().unwrap(),
            fields[4].to_owned(),
        )
    })
}

async fn rollup(app: &TestApp) -> Rollup {
    let text = app.text(ROLLUP).await;
    lines(&text)
        .map(|(key, sum, name)| (key, (sum, name)))
        .collect()
}

async fn expected(app: &TestApp) -> Expected {
    let text = app.text(FROM_TRANSACTIONS).await;
    lines(&text)
        .map(|(key, sum, names)| {
            let names = names
                .split('/')
                .filter(|n| !n.is_empty())
                .map(str::to_owned)
                .collect();
            (key, (sum, names))
        })
        .collect()
}

/// The rollup equals the sums over the transactions, key for key, and each
/// month's CSV says what the rollup says.
async fn assert_rollup_matches_transactions(app: &TestApp, seed: u64, when: &str) {
    let (rollup, expected) = (rollup(app).await, expected(app).await);
    assert_eq!(
        rollup.keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>(),
        "seed {seed}, {when}: the same (currency, month, service) keys"
    );
    for (key, (sum, name)) in &rollup {
        let (expected_sum, names) = &expected[key];
        assert_eq!(sum, expected_sum, "seed {seed}, {when}: revenue of {key:?}");
        let named = if name.is_empty() {
            names.is_empty()
        } else {
            names.contains(name)
        };
        assert!(
            named,
            "seed {seed}, {when}: {key:?} is named {name:?}, not one of {names:?}"
        );
    }
    let months: BTreeSet<(String, String)> = rollup
        .keys()
        .map(|(c, m, _)| (c.clone(), m.clone()))
        .collect();
    for (currency, month) in months {
        let csv = app
            .get(&format!(
                "/api/v1/reports/revenue?month={month}&currency={currency}"
            ))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let mut want = String::from("service_id,service_name,revenue\n");
        for ((c, m, service), (sum, name)) in &rollup {
            if (c, m) == (&currency, &month) {
                let name = if name.contains([',', '"']) {
                    format!("\"{}\"", name.replace('"', "\"\""))
                } else {
                    name.clone()
                };
                want.push_str(&format!("{service},{name},{sum:.2}\n"));
            }
        }
        assert_eq!(
            csv, want,
            "seed {seed}, {when}: the CSV of {currency} {month}"
        );
    }
}

/// What one generated order does after it is reserved.
#[derive(Debug, Clone)]
struct Order {
    id: i64,
    account: String,
    service: i64,
    name: Option<&'static str>,
    cents: i64,
    /// `None`: released; `Some(0)`: left reserved; otherwise captured cents.
    captured: Option<i64>,
    /// Refunds of the capture, in cents, in order.
    refunds: Vec<i64>,
}

fn generate(rng: &mut StdRng, first_id: i64, count: i64, accounts: &[String]) -> Vec<Order> {
    (first_id..first_id + count)
        .map(|id| {
            let cents = rng.random_range(1..=50_000);
            let captured = match rng.random_range(0..100) {
                0..=39 => Some(cents),
                40..=69 => Some(rng.random_range(1..=cents)),
                70..=84 => None,
                _ => Some(0),
            };
            let mut refunds = Vec::new();
            if let Some(captured) = captured.filter(|c| *c > 0) {
                let mut left = captured;
                while left > 0 && rng.random_bool(0.4) {
                    let refund = rng.random_range(1..=left);
                    refunds.push(refund);
                    left -= refund;
                }
            }
            Order {
                id,
                account: accounts[rng.random_range(0..accounts.len())].clone(),
                service: rng.random_range(1..=4),
                name: NAMES[rng.random_range(0..NAMES.len())],
                cents,
                captured,
                refunds,
            }
        })
        .collect()
}

fn money(cents: i64) -> String {
    format!("{}.{:02}", cents / 100, cents % 100)
}

async fn play(app: &TestApp, order: Order) {
    let (status, body) = app
        .post_json(
            "/api/v1/reservations",
            json!({"account_id": order.account, "order_id": order.id, "service_id": order.service,
                   "amount": money(order.cents), "service_name": order.name}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let Some(captured) = order.captured else {
        let (status, body) = app
            .post_json(
                &format!("/api/v1/reservations/{}/release", order.id),
                json!({}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        return;
    };
    if captured == 0 {
        return;
    }
    let (status, body) = app
        .post_json(
            &format!("/api/v1/reservations/{}/capture", order.id),
            json!({"amount": money(captured)}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    if order.refunds.is_empty() {
        return;
    }
    let capture = app
        .text(&format!(
            "SELECT id::text AS t FROM transactions WHERE order_id = {} AND kind = 'capture'",
            order.id
        ))
        .await;
    for refund in order.refunds {
        let (status, body) = app
            .post_json(
                &format!("/api/v1/transactions/{capture}/reversals"),
                json!({"amount": money(refund)}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
}

async fn play_all(app: &TestApp, orders: Vec<Order>) {
    futures::stream::iter(orders)
        .for_each_concurrent(8, |order| play(app, order))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_revenue_rollup_equals_the_captures_less_refunds_of_the_transactions() {
    let seed: u64 = rand::random();
    let mut rng = StdRng::seed_from_u64(seed);
    let app = spawn_app().await;
    let mut accounts = Vec::new();
    for user in 1..=4 {
        accounts.push(app.funded_account(user, "10000000").await);
    }
    for user in 5..=6 {
        let eur = app.open_account(user, "EUR").await;
        app.deposit(&eur, "10000000").await;
        accounts.push(eur);
    }

    // Live traffic: the engine keeps the rollup.
    play_all(&app, generate(&mut rng, 1, 80, &accounts)).await;
    assert!(
        !rollup(&app).await.is_empty(),
        "seed {seed}: something was captured"
    );
    assert_rollup_matches_transactions(&app, seed, "after live traffic").await;

    // Rows the rollup has not seen (as if written before it existed): half
    // of the captures and refunds moved into other months, then the
    // migration's backfill.
    let moved = app
        .db
        .execute(&format!(
            "UPDATE transactions SET created_at = timestamptz '2025-01-01 00:00:00Z' \
               + (abs(hashtext(id::text || '{seed}')) % 200) * interval '1 day' \
             WHERE kind IN ('capture', 'reversal') AND abs(hashtext(id::text || '{seed}')) % 2 = 0"
        ))
        .await;
    assert!(moved > 0, "seed {seed}: some rows moved");
    app.db.execute("TRUNCATE revenue_rollup").await;
    app.rebuild_revenue_rollup().await;
    assert_rollup_matches_transactions(&app, seed, "after the backfill").await;

    // More live traffic on top of the backfilled rows (which are all in shard 0).
    play_all(&app, generate(&mut rng, 1001, 60, &accounts)).await;
    assert_rollup_matches_transactions(&app, seed, "after the backfill and more traffic").await;
    app.assert_audit_clean().await;
}

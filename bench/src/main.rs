//! A load generator for accounts-manager: every request gets its own body
//! (random accounts and amounts), latencies are recorded per request, and the
//! result is one JSON line.
//!
//!   loadgen setup <url> <token> <accounts> <out-file>
//!   loadgen run <url> <token> <accounts-file> <uniform|hot|reservations> <connections> <seconds>

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use rand::Rng;
use serde_json::json;

type Failure = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> Result<(), Failure> {
    let args: Vec<String> = std::env::args().collect();
    let arg = |i: usize| {
        args.get(i)
            .cloned()
            .ok_or_else(|| format!("missing argument {i}; see the module doc"))
    };
    // reqwest may be built without a default TLS provider in this workspace.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()?;
    match arg(1)?.as_str() {
        "setup" => setup(&client, &arg(2)?, &arg(3)?, arg(4)?.parse()?, &arg(5)?).await,
        "run" => {
            let accounts: Vec<String> = std::fs::read_to_string(arg(4)?)?
                .lines()
                .map(str::to_owned)
                .collect();
            run(
                &client,
                &arg(2)?,
                &arg(3)?,
                Arc::new(accounts),
                &arg(5)?,
                arg(6)?.parse()?,
                arg(7)?.parse()?,
            )
            .await
        }
        other => Err(format!("unknown command {other:?}").into()),
    }
}

/// Opens and funds `count` accounts (first deposits by user id), 64 at a time.
async fn setup(
    client: &reqwest::Client,
    url: &str,
    token: &str,
    count: usize,
    out: &str,
) -> Result<(), Failure> {
    let ids: Vec<Result<String, Failure>> = futures::stream::iter(1..=count)
        .map(|user| async move {
            let response = client
                .post(format!("{url}/api/v1/deposits"))
                .bearer_auth(token)
                .json(&json!({"user_id": user, "amount": "1000000.00"}))
                .send()
                .await?;
            let body: serde_json::Value = response.json().await?;
            body["to_account_id"]
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| format!("no account in {body}").into())
        })
        .buffer_unordered(64)
        .collect()
        .await;
    let ids: Vec<String> = ids.into_iter().collect::<Result<_, _>>()?;
    std::fs::write(out, ids.join("\n"))?;
    Ok(())
}

async fn run(
    client: &reqwest::Client,
    url: &str,
    token: &str,
    accounts: Arc<Vec<String>>,
    mode: &str,
    connections: usize,
    seconds: u64,
) -> Result<(), Failure> {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let next_order = Arc::new(AtomicI64::new(
        rand::rng().random_range(1..1_000_000_000) * 1000,
    ));
    let workers = (0..connections).map(|_| {
        let (client, accounts, next_order) = (client.clone(), accounts.clone(), next_order.clone());
        let (url, token, mode) = (url.to_owned(), token.to_owned(), mode.to_owned());
        tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = 0u64;
            while Instant::now() < deadline {
                let started = Instant::now();
                let ok = one(&client, &url, &token, &accounts, &mode, &next_order).await;
                latencies.push(started.elapsed());
                if !ok {
                    errors += 1;
                }
            }
            (latencies, errors)
        })
    });
    let started = Instant::now();
    let mut latencies = Vec::new();
    let mut errors = 0;
    for worker in futures::future::join_all(workers).await {
        let (l, e) = worker?;
        latencies.extend(l);
        errors += e;
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort_unstable();
    let percentile = |p: f64| {
        latencies
            .get(((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1)))
            .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    println!(
        "{}",
        json!({
            "mode": mode, "connections": connections, "requests": latencies.len(), "errors": errors,
            "per_second": (latencies.len() as f64 / elapsed).round(),
            "p50_ms": (percentile(0.50) * 100.0).round() / 100.0,
            "p99_ms": (percentile(0.99) * 100.0).round() / 100.0,
        })
    );
    Ok(())
}

/// One operation; `false` when it did not get the expected answer.
async fn one(
    client: &reqwest::Client,
    url: &str,
    token: &str,
    accounts: &[String],
    mode: &str,
    next_order: &AtomicI64,
) -> bool {
    let (from, to, cents) = {
        let mut rng = rand::rng();
        let from = rng.random_range(0..accounts.len());
        let to = match mode {
            "hot" => 0,
            _ => (from + rng.random_range(1..accounts.len())) % accounts.len(),
        };
        (
            from.max(usize::from(mode == "hot")),
            to,
            rng.random_range(1..=10_000),
        )
    };
    let amount = format!("{}.{:02}", cents / 100, cents % 100);
    let post = |path: &str, body: serde_json::Value| {
        client
            .post(format!("{url}{path}"))
            .bearer_auth(token)
            .json(&body)
            .send()
    };
    match mode {
        "reservations" => {
            let order = next_order.fetch_add(1, Ordering::Relaxed);
            let body = json!({"account_id": accounts[from], "order_id": order, "service_id": 1 + order % 10, "amount": amount});
            let reserved = post("/api/v1/reservations", body)
                .await
                .is_ok_and(|r| r.status().as_u16() == 201);
            let action = if order % 2 == 0 { "capture" } else { "release" };
            reserved
                && post(&format!("/api/v1/reservations/{order}/{action}"), json!({}))
                    .await
                    .is_ok_and(|r| r.status().as_u16() == 200)
        }
        _ => {
            let body = json!({"from_account_id": accounts[from], "to_account_id": accounts[to], "amount": amount});
            post("/api/v1/transfers", body)
                .await
                .is_ok_and(|r| r.status().as_u16() == 201)
        }
    }
}

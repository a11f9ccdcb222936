//! A load generator for accounts-manager: every request gets its own body
//! (random accounts and amounts), latencies are recorded per request, and the
//! result is one JSON line. It talks to accounts-manager through
//! `accounts-client`, as any Rust caller would.
//!
//!   loadgen setup <url> <token> <accounts> <out-file>
//!   loadgen run <url> <token> <accounts-file> <mode> <connections> <seconds>
//!   loadgen bind <amqp-url> <exchange> <queue>
//!
//! `<token>` may be `@file`: a file of keys, one a line; connection i sends
//! with key i mod n (the bench's many-keys run).
//!
//! `setup` funds one account for each of the users 1..=accounts (a first
//! deposit by user id opens it) and writes `account_id,user_id` lines. The
//! modes: `uniform` (transfers between random accounts), `hot` (transfers
//! into one account), `reservations` (reserve, then capture or release),
//! `deposits` (a deposit by `account_id` into a random account) and
//! `deposits-user` (a deposit by `user_id` into that user's account),
//! `batches` (a transfer batch of 100 random transfers per request) and
//! `uniform-metadata` (the uniform transfer carrying a `metadata` object of 5
//! keys as a shop would label a payment: `order_id` unique per request,
//! `channel`, `country`, `customer_id` of the paying user and `merchant`;
//! about 120 bytes of JSON, well inside the contract's limits of 20 keys and
//! 500 characters a value).
//!
//! `bind` declares a durable topic exchange and a durable queue bound to it
//! with `#`: a consumer's queue, so that the broker keeps what the events
//! bench publishes.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use accounts_client::Client;
use futures::StreamExt;
use rand::Rng;
use rust_decimal::Decimal;
use serde_json::json;
use shared_types::accounts::{
    AccountId, DepositRequest, ReservationRequest, TransactionStatus, TransferBatchRequest,
    TransferRequest,
};

/// Transfers per request in the `batches` mode.
const BATCH: usize = 100;

type Failure = Box<dyn std::error::Error + Send + Sync>;

/// A funded account and the user it belongs to.
#[derive(Debug, Clone, Copy)]
struct Funded {
    account: AccountId,
    user: i64,
}

fn parse_line(line: &str) -> Result<Funded, Failure> {
    let (account, user) = line
        .split_once(',')
        .ok_or_else(|| format!("{line:?} is not an account_id,user_id line"))?;
    Ok(Funded {
        account: AccountId(account.parse()?),
        user: user.parse()?,
    })
}

#[tokio::main]
async fn main() -> Result<(), Failure> {
    let args: Vec<String> = std::env::args().collect();
    let arg = |i: usize| {
        args.get(i)
            .cloned()
            .ok_or_else(|| format!("missing argument {i}; see the module doc"))
    };
    let client =
        |url: &str, token: &str| Client::builder(url, token).max_idle_per_host(256).build();
    match arg(1)?.as_str() {
        "setup" => setup(&client(&arg(2)?, &arg(3)?)?, arg(4)?.parse()?, &arg(5)?).await,
        "run" => {
            let accounts: Vec<Funded> = std::fs::read_to_string(arg(4)?)?
                .lines()
                .map(parse_line)
                .collect::<Result<_, _>>()?;
            if accounts.len() < 2 {
                return Err("the accounts file needs at least two accounts".into());
            }
            // `@file` names a file of keys, one a line: connection i uses key i mod n.
            let token = arg(3)?;
            let tokens: Vec<String> = match token.strip_prefix('@') {
                Some(file) => std::fs::read_to_string(file)?
                    .lines()
                    .filter(|l| !l.trim().is_empty())
                    .map(|l| l.trim().to_owned())
                    .collect(),
                None => vec![token],
            };
            let url = arg(2)?;
            let clients = tokens
                .iter()
                .map(|token| client(&url, token))
                .collect::<Result<Vec<_>, _>>()?;
            run(
                &clients,
                Arc::new(accounts),
                &arg(5)?,
                arg(6)?.parse()?,
                arg(7)?.parse()?,
            )
            .await
        }
        "bind" => bind(&arg(2)?, &arg(3)?, &arg(4)?).await,
        other => Err(format!("unknown command {other:?}").into()),
    }
}

/// Opens and funds an account for each of the users 1..=count (a first
/// deposit by user id opens the account), 64 at a time.
async fn setup(client: &Client, count: i64, out: &str) -> Result<(), Failure> {
    let funded: Vec<Result<String, Failure>> = futures::stream::iter(1..=count)
        .map(|user| async move {
            let deposit = DepositRequest::to_user(user, "1000000.00");
            let transaction = client.deposit(&deposit, None).await?;
            let account = transaction
                .to_account_id
                .ok_or_else(|| format!("no account in {transaction:?}"))?;
            Ok(format!("{account},{user}"))
        })
        .buffer_unordered(64)
        .collect()
        .await;
    let lines: Vec<String> = funded.into_iter().collect::<Result<_, _>>()?;
    std::fs::write(out, lines.join("\n"))?;
    Ok(())
}

async fn run(
    clients: &[Client],
    accounts: Arc<Vec<Funded>>,
    mode: &str,
    connections: usize,
    seconds: u64,
) -> Result<(), Failure> {
    if ![
        "uniform",
        "hot",
        "reservations",
        "deposits",
        "deposits-user",
        "batches",
        "uniform-metadata",
    ]
    .contains(&mode)
    {
        return Err(format!("unknown mode {mode:?}; see the module doc").into());
    }
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let next_order = Arc::new(AtomicI64::new(
        rand::rng().random_range(1..1_000_000_000) * 1000,
    ));
    if clients.is_empty() {
        return Err("no key to send requests with".into());
    }
    let workers = (0..connections).map(|i| {
        let client = clients[i % clients.len()].clone();
        let (accounts, next_order) = (accounts.clone(), next_order.clone());
        let mode = mode.to_owned();
        tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = 0u64;
            while Instant::now() < deadline {
                let started = Instant::now();
                let ok = one(&client, &accounts, &mode, &next_order).await;
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
async fn one(client: &Client, accounts: &[Funded], mode: &str, next_order: &AtomicI64) -> bool {
    let (from, to, amount) = {
        let mut rng = rand::rng();
        let from = rng.random_range(0..accounts.len());
        let to = match mode {
            "hot" => 0,
            _ => (from + rng.random_range(1..accounts.len())) % accounts.len(),
        };
        (
            accounts[from.max(usize::from(mode == "hot"))],
            accounts[to],
            Decimal::new(rng.random_range(1..=10_000), 2),
        )
    };
    match mode {
        "reservations" => {
            let order = next_order.fetch_add(1, Ordering::Relaxed);
            let reservation = ReservationRequest::new(from.account, order, 1 + order % 10, amount);
            if client.reserve(&reservation, None).await.is_err() {
                return false;
            }
            let settled = if order % 2 == 0 {
                client.capture(order, None).await
            } else {
                client.release(order, None).await
            };
            settled.is_ok()
        }
        "batches" => {
            // A hundred random transfers in one request.
            let transfers = {
                let mut rng = rand::rng();
                (0..BATCH)
                    .map(|_| {
                        let from = rng.random_range(0..accounts.len());
                        let to = (from + rng.random_range(1..accounts.len())) % accounts.len();
                        let cents = rng.random_range(1..=10_000);
                        TransferRequest::new(
                            accounts[from].account,
                            accounts[to].account,
                            Decimal::new(cents, 2),
                        )
                    })
                    .collect()
            };
            let batch = TransferBatchRequest {
                atomic: None,
                transfers,
            };
            client
                .transfer_batch(&batch, None)
                .await
                .is_ok_and(|answer| {
                    answer
                        .items
                        .iter()
                        .all(|t| t.status == TransactionStatus::Success)
                })
        }
        "deposits" => {
            let deposit = DepositRequest::to_account(from.account, amount);
            client.deposit(&deposit, None).await.is_ok()
        }
        "deposits-user" => {
            let deposit = DepositRequest::to_user(from.user, amount);
            client
                .deposit(&deposit, None)
                .await
                .is_ok_and(|t| t.to_account_id == Some(from.account))
        }
        "uniform-metadata" => {
            let mut transfer = TransferRequest::new(from.account, to.account, amount);
            let order = next_order.fetch_add(1, Ordering::Relaxed);
            transfer.metadata = Some(metadata_of(order, from.user));
            client.transfer(&transfer, None).await.is_ok()
        }
        _ => {
            let transfer = TransferRequest::new(from.account, to.account, amount);
            client.transfer(&transfer, None).await.is_ok()
        }
    }
}

/// The 5 labels of a `uniform-metadata` transfer: an order id unique to the
/// request, the paying user's customer id, and a channel, country and
/// merchant drawn from short lists (values a search would filter by).
fn metadata_of(order: i64, user: i64) -> serde_json::Value {
    const CHANNELS: [&str; 4] = ["web", "ios", "android", "pos"];
    const COUNTRIES: [&str; 8] = ["US", "GB", "DE", "FR", "ES", "NL", "BR", "JP"];
    const MERCHANTS: [&str; 5] = [
        "acme-groceries",
        "northwind-travel",
        "globex-electronics",
        "initech-software",
        "umbrella-pharmacy",
    ];
    let mut rng = rand::rng();
    json!({
        "order_id": format!("ord-{order}"),
        "channel": CHANNELS[rng.random_range(0..CHANNELS.len())],
        "country": COUNTRIES[rng.random_range(0..COUNTRIES.len())],
        "customer_id": format!("cus-{user:08}"),
        "merchant": MERCHANTS[rng.random_range(0..MERCHANTS.len())],
    })
}

async fn bind(amqp_url: &str, exchange: &str, queue: &str) -> Result<(), Failure> {
    use lapin::options::{ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions};
    use lapin::types::FieldTable;
    let connection =
        lapin::Connection::connect(amqp_url, lapin::ConnectionProperties::default()).await?;
    let channel = connection.create_channel().await?;
    let durable = ExchangeDeclareOptions {
        durable: true,
        ..ExchangeDeclareOptions::default()
    };
    channel
        .exchange_declare(
            exchange.into(),
            lapin::ExchangeKind::Topic,
            durable,
            FieldTable::default(),
        )
        .await?;
    channel
        .queue_declare(
            queue.into(),
            QueueDeclareOptions::durable(),
            FieldTable::default(),
        )
        .await?;
    channel
        .queue_bind(
            queue.into(),
            exchange.into(),
            "#".into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await?;
    connection.close(200, "bound".into()).await?;
    Ok(())
}

//! The portfolio report against a model: 200 advances, rounds of payments
//! each collected or refused at random, the figures of every advance and the
//! report's buckets compared with what the model says after each round.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use futures::{stream, StreamExt};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use reqwest::StatusCode;
use rust_decimal::Decimal;
use serde_json::Value;
use shared_types::accounts::AccountId;

use crate::helpers::{spawn_system, Options, TestSystem};

const ADVANCES: usize = 200;
const ROUNDS: usize = 4;

/// One advance as the model sees it.
struct Model {
    id: String,
    account: AccountId,
    amount: Decimal,
    /// The amounts of its scheduled payments, the next first.
    scheduled: Vec<Decimal>,
    paid: Decimal,
    missed: i64,
    overdue: Decimal,
    /// The account's balance.
    balance: Decimal,
}

impl Model {
    fn active(&self) -> bool {
        self.paid < self.amount
    }

    fn bucket(&self) -> &'static str {
        match self.missed {
            0 => "0",
            1 => "1",
            2 | 3 => "2-3",
            _ => "4+",
        }
    }

    /// The next payment's outcome: collected, or refused for funds and
    /// carried into the next scheduled payment (or one appended).
    fn settle(&mut self, collected: bool) {
        let asked = self.scheduled.remove(0);
        if collected {
            self.paid += asked;
            self.balance -= asked;
            self.missed = 0;
            self.overdue = Decimal::ZERO;
        } else {
            self.missed += 1;
            self.overdue = asked;
            match self.scheduled.first_mut() {
                Some(next) => *next += asked,
                None => self.scheduled.push(asked),
            }
        }
    }
}

fn money(value: &Value) -> Decimal {
    value.as_str().unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_portfolios_buckets_match_a_model_after_random_collections_and_failures() {
    let seed: u64 = std::env::var("PORTFOLIO_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    println!("PORTFOLIO_SEED={seed}");
    let mut rng = StdRng::seed_from_u64(seed);
    // Nothing falls due unless the test says so.
    let system = spawn_system(Options {
        installment_interval: "7d",
        ..Options::default()
    })
    .await;

    let asks: Vec<(i64, Decimal, i64)> = (0..ADVANCES)
        .map(|i| {
            let cents = rng.random_range(1_000..50_000);
            (
                i as i64 + 1,
                Decimal::new(cents, 2),
                rng.random_range(1..=5),
            )
        })
        .collect();
    let mut models: Vec<Model> = stream::iter(asks)
        .map(|(user, amount, installments)| {
            let system = &system;
            async move {
                let account = system.open_account(user).await;
                let (status, advance) = system
                    .create_advance(&account, &amount.to_string(), installments)
                    .await;
                assert_eq!(status, StatusCode::CREATED, "{advance}");
                Model {
                    id: advance["advance_id"].as_str().unwrap().to_owned(),
                    account,
                    amount,
                    scheduled: advance["payments"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|p| money(&p["amount"]))
                        .collect(),
                    paid: Decimal::ZERO,
                    missed: 0,
                    overdue: Decimal::ZERO,
                    balance: amount,
                }
            }
        })
        .buffer_unordered(16)
        .collect()
        .await;

    for round in 1..=ROUNDS {
        // Each active advance's next payment is collected or refused, at
        // random: the account is funded for it, or emptied.
        let plan: Vec<(usize, bool)> = models
            .iter()
            .enumerate()
            .filter(|(_, m)| m.active())
            .map(|(i, _)| (i, rng.random_bool(0.5)))
            .collect();
        stream::iter(plan.iter().copied())
            .map(|(i, collect)| {
                let (system, model) = (&system, &models[i]);
                async move { fund_or_empty(system, model, collect).await }
            })
            .buffer_unordered(16)
            .collect::<Vec<()>>()
            .await;
        for (i, collect) in &plan {
            let model = &mut models[*i];
            model.balance = if *collect {
                model.balance.max(model.scheduled[0])
            } else {
                Decimal::ZERO
            };
        }
        system
            .sql(
                "UPDATE payments p SET due_at = now() FROM (SELECT DISTINCT ON (advance_id) id \
                 FROM payments WHERE status = 'scheduled' ORDER BY advance_id, seq) next \
                 WHERE p.id = next.id",
            )
            .await;
        wait_until_collected(&system).await;
        for (i, collect) in plan {
            models[i].settle(collect);
        }
        check(&system, &models, round).await;
    }
    assert_eq!(
        system.reconcile().await["mismatches"],
        serde_json::json!([])
    );
    system.assert_ledger_audit_clean().await;
}

/// Makes the account hold at least the next payment (`collect`) or nothing.
async fn fund_or_empty(system: &TestSystem, model: &Model, collect: bool) {
    let asked = model.scheduled[0];
    if collect && model.balance < asked {
        system
            .deposit(&model.account, &(asked - model.balance).to_string())
            .await;
    } else if !collect && model.balance > Decimal::ZERO {
        system
            .withdraw(&model.account, &model.balance.to_string())
            .await;
    }
}

async fn wait_until_collected(system: &TestSystem) {
    let started = Instant::now();
    while system
        .count(
            "SELECT count(*) AS n FROM payments \
             WHERE status IN ('scheduled', 'processing') AND due_at <= now()",
        )
        .await
        > 0
    {
        assert!(
            started.elapsed() < Duration::from_secs(90),
            "payments still due"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn check(system: &TestSystem, models: &[Model], round: usize) {
    let (status, listed) = system.get("/api/v1/advances?limit=1000").await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    let listed: BTreeMap<&str, &Value> = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["advance_id"].as_str().unwrap(), a))
        .collect();
    assert_eq!(listed.len(), models.len());
    for model in models {
        let advance = listed[model.id.as_str()];
        let expected_status = if model.active() { "active" } else { "repaid" };
        assert_eq!(
            (
                advance["status"].as_str().unwrap(),
                advance["missed_installments"].as_i64().unwrap(),
                money(&advance["overdue_amount"]),
                money(&advance["outstanding"]),
            ),
            (
                expected_status,
                model.missed,
                model.overdue,
                model.amount - model.paid
            ),
            "round {round}: {advance:#}"
        );
        assert_eq!(advance["overdue_since"].is_null(), model.missed == 0);
    }

    let (status, portfolio) = system.get("/api/v1/reports/portfolio").await;
    assert_eq!(status, StatusCode::OK, "{portfolio}");
    let active: Vec<&Model> = models.iter().filter(|m| m.active()).collect();
    let labels = ["0", "1", "2-3", "4+"];
    let buckets = portfolio["buckets"].as_array().unwrap();
    assert_eq!(
        buckets
            .iter()
            .map(|b| b["missed"].as_str().unwrap())
            .collect::<Vec<_>>(),
        labels
    );
    for (bucket, label) in buckets.iter().zip(labels) {
        let own: Vec<&&Model> = active.iter().filter(|m| m.bucket() == label).collect();
        assert_eq!(
            (
                bucket["advances"].as_i64().unwrap(),
                money(&bucket["outstanding"])
            ),
            (
                own.len() as i64,
                own.iter().map(|m| m.amount - m.paid).sum::<Decimal>()
            ),
            "round {round}, bucket {label}: {portfolio:#}"
        );
    }
    let sum = |f: fn(&Model) -> Decimal| active.iter().map(|m| f(m)).sum::<Decimal>();
    assert_eq!(portfolio["advances_active"], active.len() as i64);
    assert_eq!(money(&portfolio["outstanding"]), sum(|m| m.amount - m.paid));
    assert_eq!(
        buckets
            .iter()
            .map(|b| money(&b["outstanding"]))
            .sum::<Decimal>(),
        money(&portfolio["outstanding"]),
        "the buckets add up to the total"
    );
    assert_eq!(money(&portfolio["overdue_amount"]), sum(|m| m.overdue));
    assert_eq!(
        money(&portfolio["collected_last_7_days"]),
        models.iter().map(|m| m.paid).sum::<Decimal>()
    );
}

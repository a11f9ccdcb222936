//! advances end to end: the real binaries as processes, killed, stopped and
//! cut off from RabbitMQ while they collect.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use e2e::{eventually, rabbitmqctl, Environment, Process, MACHINE};
use reqwest::StatusCode;
use rust_decimal::Decimal;
use serde_json::{json, Value};
use shared_types::accounts::{AccountId, DepositRequest, OpenAccountRequest, WithdrawalRequest};
use test_support::payment_job;

/// What a worker logs for a job it collected, for any job it finished, for a
/// payment it deferred, and when its RabbitMQ connection broke.
const COLLECTED: &str = r#""outcome":"collected""#;
const JOB_DONE: &str = "job done";
const DEFERRED: &str = "payment deferred";
const LOST_RABBITMQ: &str = "worker lost RabbitMQ";
const QUEUE: &str = "advances.payments";
const DEAD_QUEUE: &str = "advances.payments.dead";

/// Payments still to collect.
async fn unpaid(env: &Environment) -> i64 {
    env.adv_db
        .number("SELECT count(*) AS n FROM payments WHERE status IN ('scheduled', 'processing')")
        .await
}

async fn paid(env: &Environment) -> i64 {
    env.adv_db
        .number("SELECT count(*) AS n FROM payments WHERE status = 'paid'")
        .await
}

struct Advance {
    id: String,
    account: AccountId,
    cents: i64,
}

/// Opens an account per advance and creates the advances through `api`.
async fn create_advances(
    env: &Environment,
    am: &Process,
    api: &Process,
    count: usize,
    installments: i64,
) -> Vec<Advance> {
    create_advances_emptying(env, am, api, count, installments, 0).await
}

/// As [`create_advances`], the money of the last `emptied` advances taken
/// back out of their accounts at once (well before their first payment), so
/// that their payments fail until the accounts are funded again.
async fn create_advances_emptying(
    env: &Environment,
    am: &Process,
    api: &Process,
    count: usize,
    installments: i64,
    emptied: usize,
) -> Vec<Advance> {
    let accounts = env.accounts(am);
    let mut advances = Vec::new();
    for user in 1..=count as i64 {
        let account = accounts
            .open_account(&OpenAccountRequest::new(user), None)
            .await
            .unwrap()
            .account_id;
        let cents = 1_000 * user + 37;
        let body = json!({"account_id": account, "amount": format!("{}.{:02}", cents / 100, cents % 100), "installments": installments});
        let (status, advance) = env
            .post(&format!("{}/api/v1/advances", api.url()), body)
            .await;
        assert_eq!(status, StatusCode::CREATED, "{advance}");
        if user as usize > count - emptied {
            accounts
                .withdraw(
                    &WithdrawalRequest::new(account, advance["amount"].as_str().unwrap()),
                    None,
                )
                .await
                .unwrap();
        }
        advances.push(Advance {
            id: advance["advance_id"].as_str().unwrap().to_owned(),
            account,
            cents,
        });
    }
    advances
}

async fn all_repaid(env: &Environment, api: &Process, advances: &[Advance], deadline: Duration) {
    for advance in advances {
        let url = format!("{}/api/v1/advances/{}", api.url(), advance.id);
        eventually(
            &format!("advance {} repaid", advance.id),
            deadline,
            || async {
                let (status, body) = env.get(&url).await;
                status == StatusCode::OK && body["status"] == "repaid"
            },
        )
        .await;
    }
}

/// Every advance was paid out once and each of its payments taken once:
/// the account was debited exactly the advance, and nothing more.
async fn assert_each_collected_once(
    env: &Environment,
    am: &Process,
    api: &Process,
    advances: &[Advance],
) {
    for advance in advances {
        let id = &advance.id;
        let withdrawn = env
            .am_db
            .number(&format!(
                "SELECT (COALESCE(sum(amount), 0) * 100)::bigint AS n FROM transactions WHERE kind = 'withdrawal' AND status = 'success' AND reference LIKE 'advance:{id}:payment:%'"
            ))
            .await;
        let withdrawals = env
            .am_db
            .number(&format!(
                "SELECT count(*) AS n FROM transactions WHERE kind = 'withdrawal' AND status = 'success' AND reference LIKE 'advance:{id}:payment:%'"
            ))
            .await;
        let deposits = env
            .am_db
            .number(&format!(
                "SELECT count(*) AS n FROM transactions WHERE kind = 'deposit' AND reference = 'advance:{id}'"
            ))
            .await;
        let paid = env
            .adv_db
            .number(&format!(
                "SELECT count(*) AS n FROM payments WHERE advance_id = '{id}' AND status = 'paid'"
            ))
            .await;
        assert_eq!(
            withdrawn, advance.cents,
            "advance {id}: the account was debited exactly its amount"
        );
        assert_eq!(
            withdrawals, paid,
            "advance {id}: one withdrawal per paid payment"
        );
        assert_eq!(deposits, 1, "advance {id}: paid out once");
        let account = env.accounts(am).account(advance.account).await.unwrap();
        assert_eq!(account.balance, Decimal::ZERO, "{account:?}");
    }
    let stuck = env
        .adv_db
        .number("SELECT count(*) AS n FROM payments WHERE status = 'processing'")
        .await;
    assert_eq!(stuck, 0, "no payment left in processing");
    let (status, report) = env
        .post(
            &format!("{}/api/v1/admin/reconciliation", api.url()),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["mismatches"], json!([]), "{report}");
    env.assert_audit_clean(am).await;
}

/// The overdue figures and the portfolio's rollups, exact at any moment
/// (each read is one statement, one snapshot):
/// - an advance none of whose payments was collected has every failed
///   payment in its missed chain: `missed_installments` counts them,
///   `overdue_amount` is the latest's amount, `overdue_since` the first's
///   due time; answers how many such advances are behind;
/// - every advance's outstanding amount is its amount less its paid payments;
/// - the portfolio rollup holds what the active advances sum to, and the
///   collected rollup what the paid payments do.
async fn assert_figures_exact(env: &Environment) -> i64 {
    let db = &env.adv_db;
    let wrong = db
        .number(
            "SELECT count(*) AS n FROM advances a CROSS JOIN LATERAL \
             (SELECT count(*)::int AS missed, COALESCE((array_agg(p.amount ORDER BY p.seq DESC))[1], 0) AS amount, \
              min(p.due_at) AS since FROM payments p WHERE p.advance_id = a.id AND p.status = 'failed') chain \
             WHERE NOT EXISTS (SELECT 1 FROM payments p WHERE p.advance_id = a.id AND p.status = 'paid') \
             AND (a.missed_installments, a.overdue_amount, a.overdue_since) IS DISTINCT FROM \
             (chain.missed, chain.amount, chain.since)",
        )
        .await;
    assert_eq!(wrong, 0, "a missed chain differs from the failed payments");
    let wrong = db
        .number(
            "SELECT count(*) AS n FROM advances a WHERE a.outstanding <> a.amount - \
             (SELECT COALESCE(sum(p.amount), 0) FROM payments p WHERE p.advance_id = a.id AND p.status = 'paid')",
        )
        .await;
    assert_eq!(wrong, 0, "an outstanding amount differs from the payments");
    let wrong = db
        .number(
            "WITH direct AS (SELECT currency, portfolio_bucket(missed_installments) AS bucket, \
               count(*)::numeric AS advances, sum(outstanding) AS outstanding, sum(overdue_amount) AS overdue \
               FROM advances WHERE status = 'active' GROUP BY 1, 2), \
             rollup AS (SELECT currency, bucket, sum(advances)::numeric AS advances, sum(outstanding) AS outstanding, \
               sum(overdue_amount) AS overdue FROM portfolio_rollup GROUP BY 1, 2 \
               HAVING sum(advances) <> 0 OR sum(outstanding) <> 0 OR sum(overdue_amount) <> 0), \
             paid AS (SELECT a.currency, sum(p.amount) AS amount FROM payments p JOIN advances a ON a.id = p.advance_id \
               WHERE p.status = 'paid' GROUP BY 1), \
             collected AS (SELECT currency, sum(amount) AS amount FROM collected_rollup WHERE grain = 'hour' GROUP BY 1) \
             SELECT (SELECT count(*) FROM ((TABLE direct EXCEPT TABLE rollup) UNION ALL (TABLE rollup EXCEPT TABLE direct)) d) \
                  + (SELECT count(*) FROM ((TABLE paid EXCEPT TABLE collected) UNION ALL (TABLE collected EXCEPT TABLE paid)) c) AS n",
        )
        .await;
    assert_eq!(wrong, 0, "the portfolio's rollups differ from the advances");
    db.number(
        "SELECT count(*) AS n FROM advances a WHERE a.missed_installments > 0 \
         AND NOT EXISTS (SELECT 1 FROM payments p WHERE p.advance_id = a.id AND p.status = 'paid')",
    )
    .await
}

async fn payment_ids(env: &Environment, api: &Process, advance: &Advance) -> Vec<String> {
    let (_, body) = env
        .get(&format!("{}/api/v1/advances/{}", api.url(), advance.id))
        .await;
    body["payments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p: &Value| p["payment_id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn chaos_every_advance_is_repaid_and_every_account_debited_exactly_its_advance() {
    let _machine = MACHINE.read().await;
    let env = Environment::new().await;
    // Queues that keep every event both services publish, bound before any.
    env.bind_event_queues().await;
    let amqp = env.vhost.amqp_url();
    let mut am = env.accounts_manager_with("chaos-am", &[("EVENTS_AMQP_URL", &amqp)]);
    am.ready().await;
    let extra = [("INSTALLMENT_INTERVAL", "2s")];
    let api = env.advances("chaos-api", "api,scheduler", &am.url(), &extra);
    let mut first = env.advances("chaos-worker-1", "worker", &am.url(), &extra);
    let mut second = env.advances("chaos-worker-2", "worker", &am.url(), &extra);
    for process in [&api, &first, &second] {
        process.ready().await;
    }
    // Six payments each, two seconds apart: collection goes on for twelve
    // seconds, long enough for every fault below to land in the middle of it.
    // The last two accounts are emptied: their payments fail, and their
    // missed chains grow, until they are funded again after the faults.
    let advances = create_advances_emptying(&env, &am, &api, 6, 6, 2).await;
    let (behind, deadline) = (&advances[4..], Duration::from_secs(60));

    // SIGKILL a worker mid-collection: once it has collected, with more to come.
    eventually("the first worker is collecting", deadline, || async {
        first.logged(COLLECTED) > 0 && unpaid(&env).await > 0
    })
    .await;
    first.kill();
    assert_figures_exact(&env).await;
    let paid_before = paid(&env).await;
    eventually(
        "the second worker collects while the first is down",
        deadline,
        || async { paid(&env).await > paid_before },
    )
    .await;
    first.restart();
    first.ready().await;

    // accounts-manager goes away until a payment falls due and is deferred.
    let deferred =
        |first: &Process, second: &Process| first.logged(DEFERRED) + second.logged(DEFERRED);
    let deferred_before = deferred(&first, &second);
    am.kill();
    eventually(
        "a payment is deferred while accounts-manager is away",
        deadline,
        || async { deferred(&first, &second) > deferred_before },
    )
    .await;
    am.restart();
    am.ready().await;
    assert_figures_exact(&env).await;

    // RabbitMQ drops every connection: both workers notice and consume again.
    let lost_before = [first.logged(LOST_RABBITMQ), second.logged(LOST_RABBITMQ)];
    assert!(
        rabbitmqctl(&[
            "close_all_connections",
            "--vhost",
            &env.vhost.name,
            "chaos test"
        ]),
        "close_all_connections"
    );
    eventually(
        "both workers reconnect and consume again",
        deadline,
        || async {
            let reconnected = first.logged(LOST_RABBITMQ) > lost_before[0]
                && second.logged(LOST_RABBITMQ) > lost_before[1];
            reconnected && env.vhost.queue(QUEUE).await.1 == 2
        },
    )
    .await;

    // Duplicates of every job of three advances, and a malformed one, while a
    // worker is killed in the middle of taking them.
    let mut duplicates = Vec::new();
    for advance in &advances[..3] {
        for payment in payment_ids(&env, &api, advance).await {
            let job = payment_job(&payment, &advance.id);
            duplicates.push(job.clone());
            duplicates.push(job);
        }
    }
    duplicates.push(b"{\"payment_id\": 42}".to_vec());
    let taken_before = second.logged(JOB_DONE);
    // Straight to the queue through the default exchange, as an outside producer may.
    env.vhost.publish("", QUEUE, &duplicates).await;
    eventually("the second worker takes duplicates", deadline, || async {
        second.logged(JOB_DONE) > taken_before
    })
    .await;
    second.kill();
    assert_figures_exact(&env).await;
    second.restart();

    // Every fault has landed while the emptied accounts' payments failed.
    eventually(
        "the emptied accounts' advances are behind",
        deadline,
        || async { assert_figures_exact(&env).await == behind.len() as i64 },
    )
    .await;
    for advance in behind {
        let amount = format!("{}.{:02}", advance.cents / 100, advance.cents % 100);
        env.accounts(&am)
            .deposit(
                &DepositRequest::to_account(advance.account, amount.as_str()),
                None,
            )
            .await
            .unwrap();
    }

    all_repaid(&env, &api, &advances, Duration::from_secs(120)).await;
    assert_eq!(assert_figures_exact(&env).await, 0);
    for advance in &advances {
        let (_, body) = env
            .get(&format!("{}/api/v1/advances/{}", api.url(), advance.id))
            .await;
        assert_eq!(
            (
                body["missed_installments"].clone(),
                body["overdue_amount"].clone()
            ),
            (json!(0), json!("0.00")),
            "{body}"
        );
    }
    assert_each_collected_once(&env, &am, &api, &advances).await;
    env.assert_every_event_published().await;
    eventually(
        "the malformed job is dead-lettered",
        Duration::from_secs(20),
        || async { env.vhost.queue_depth(DEAD_QUEUE).await == 1 },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_schedulers_and_three_workers_collect_each_payment_once() {
    let _machine = MACHINE.read().await;
    let env = Environment::new().await;
    let am = env.accounts_manager("scale-am");
    am.ready().await;
    let schedulers: Vec<Process> = (1..=2)
        .map(|i| env.advances(&format!("scale-api-{i}"), "api,scheduler", &am.url(), &[]))
        .collect();
    let workers: Vec<Process> = (1..=3)
        .map(|i| env.advances(&format!("scale-worker-{i}"), "worker", &am.url(), &[]))
        .collect();
    for process in schedulers.iter().chain(workers.iter()) {
        process.ready().await;
    }

    let advances = create_advances(&env, &am, &schedulers[0], 8, 5).await;

    all_repaid(&env, &schedulers[1], &advances, Duration::from_secs(90)).await;
    assert_each_collected_once(&env, &am, &schedulers[1], &advances).await;
    let attempts = env
        .adv_db
        .number("SELECT count(*) AS n FROM payments WHERE attempts <> 1")
        .await;
    assert_eq!(attempts, 0, "no payment was claimed twice");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_during_load_loses_nothing_and_leaves_nothing_processing() {
    let _machine = MACHINE.read().await;
    let env = Environment::new().await;
    let am = env.accounts_manager("term-am");
    am.ready().await;
    let api = env.advances("term-api", "api,scheduler", &am.url(), &[]);
    let leaving = env.advances("term-worker-1", "worker", &am.url(), &[]);
    let staying = env.advances("term-worker-2", "worker", &am.url(), &[]);
    for process in [&api, &leaving, &staying] {
        process.ready().await;
    }
    let advances = create_advances(&env, &am, &api, 8, 6).await;
    // SIGTERM in the middle of the load: once the leaving worker has
    // collected payments, with more still to collect.
    eventually(
        "the leaving worker is collecting, with payments still to come",
        Duration::from_secs(60),
        || async { leaving.logged(COLLECTED) > 0 && unpaid(&env).await > 0 },
    )
    .await;

    leaving.stop_cleanly(&["worker stopped"]).await;
    all_repaid(&env, &api, &advances, Duration::from_secs(90)).await;
    assert_each_collected_once(&env, &am, &api, &advances).await;

    // The API and scheduler process stops cleanly too, its loops told to stop.
    api.stop_cleanly(&[
        "scheduler stopped",
        "event relay stopped",
        r#""task":"reconciliation""#,
    ])
    .await;
}

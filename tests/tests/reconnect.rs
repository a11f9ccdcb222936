//! Both services ride out restarts of Postgres and RabbitMQ: readiness says
//! "not ready" meanwhile, they reconnect with a backoff, and nothing is lost.
//! These restart the machine's servers, so they hold `MACHINE` for writing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;
use std::time::Duration;

use e2e::{eventually, rabbitmqctl, Environment, Process, MACHINE};
use reqwest::StatusCode;
use serde_json::json;
use shared_types::accounts::{AccountId, DepositRequest, OpenAccountRequest};

fn postgres(action: &str) -> bool {
    let version = std::fs::read_dir("/etc/postgresql")
        .ok()
        .and_then(|mut entries| entries.next())
        .and_then(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .expect("a Postgres cluster under /etc/postgresql");
    Command::new("pg_ctlcluster")
        .args([
            "--skip-systemctl-redirect",
            &version,
            "main",
            action,
            "-m",
            "fast",
        ])
        .status()
        .is_ok_and(|s| s.success())
}

/// What advances-service logs when a scheduler round fails.
const TICK_FAILED: &str = "scheduler tick failed";

/// Brings the servers back even if the test fails half-way.
struct Restore;

impl Drop for Restore {
    fn drop(&mut self) {
        postgres("start");
        rabbitmqctl(&["start_app"]);
    }
}

async fn readiness(env: &Environment, process: &Process) -> StatusCode {
    match env
        .client
        .get(format!("{}/readyz", process.url()))
        .send()
        .await
    {
        Ok(response) => response.status(),
        Err(_) => StatusCode::SERVICE_UNAVAILABLE,
    }
}

async fn start(env: &Environment) -> (Process, Process, AccountId, String) {
    env.bind_event_queues().await;
    let amqp = env.vhost.amqp_url();
    let am = env.accounts_manager_with("restart-am", &[("EVENTS_AMQP_URL", &amqp)]);
    am.ready().await;
    let advances = env.advances(
        "restart-adv",
        "api,scheduler,worker",
        &am.url(),
        &[("INSTALLMENT_INTERVAL", "3s")],
    );
    advances.ready().await;
    let account = env
        .accounts(&am)
        .open_account(&OpenAccountRequest::new(1), None)
        .await
        .unwrap()
        .account_id;
    let (status, advance) = env
        .post(
            &format!("{}/api/v1/advances", advances.url()),
            json!({"account_id": account, "amount": "30", "installments": 3}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{advance}");
    (
        am,
        advances,
        account,
        advance["advance_id"].as_str().unwrap().to_owned(),
    )
}

async fn finish(
    env: &Environment,
    am: &Process,
    advances: &Process,
    account: AccountId,
    advance: &str,
) {
    env.accounts(am)
        .deposit(&DepositRequest::to_account(account, "1"), None)
        .await
        .unwrap();
    let url = format!("{}/api/v1/advances/{advance}", advances.url());
    eventually("the advance is repaid", Duration::from_secs(90), || async {
        env.get(&url).await.1["status"] == "repaid"
    })
    .await;
    let withdrawn = env
        .am_db
        .number(&format!(
            "SELECT (sum(amount) * 100)::bigint AS n FROM transactions WHERE kind = 'withdrawal' AND status = 'success' AND reference LIKE 'advance:{advance}:%'"
        ))
        .await;
    assert_eq!(withdrawn, 3000, "collected once");
    env.assert_audit_clean(am).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn both_services_ride_out_a_postgres_restart() {
    let _machine = MACHINE.write().await;
    let _restore = Restore;
    let env = Environment::new().await;
    let (am, advances, account, advance) = start(&env).await;

    assert!(postgres("stop"), "stop Postgres");
    for process in [&am, &advances] {
        eventually(
            &format!("{} reports not ready", process.name),
            Duration::from_secs(30),
            || async { readiness(&env, process).await == StatusCode::SERVICE_UNAVAILABLE },
        )
        .await;
    }
    let refused = env
        .accounts(&am)
        .deposit(&DepositRequest::to_account(account, "1"), None)
        .await
        .unwrap_err();
    assert_eq!(
        refused.status(),
        Some(StatusCode::SERVICE_UNAVAILABLE),
        "{refused:?}"
    );
    assert!(postgres("start"), "start Postgres");
    am.ready().await;
    advances.ready().await;

    finish(&env, &am, &advances, account, &advance).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn advances_service_rides_out_a_rabbitmq_restart() {
    let _machine = MACHINE.write().await;
    let _restore = Restore;
    let env = Environment::new().await;
    let (am, advances, account, advance) = start(&env).await;

    assert!(rabbitmqctl(&["stop_app"]), "stop RabbitMQ");
    eventually(
        "advances-service reports not ready",
        Duration::from_secs(30),
        || async { readiness(&env, &advances).await == StatusCode::SERVICE_UNAVAILABLE },
    )
    .await;
    // accounts-manager needs no broker to move money: its events wait.
    assert_eq!(readiness(&env, &am).await, StatusCode::OK);
    env.accounts(&am)
        .deposit(&DepositRequest::to_account(account, "1"), None)
        .await
        .unwrap();
    // RabbitMQ stays away until a payment falls due that the scheduler
    // cannot publish: the job waits in the database, not lost.
    let failed_before = advances.logged(TICK_FAILED);
    eventually(
        "a payment is due and the scheduler fails to publish it",
        Duration::from_secs(30),
        || async {
            let due = env
                .adv_db
                .number("SELECT count(*) AS n FROM payments WHERE status = 'scheduled' AND due_at <= now()")
                .await;
            due > 0 && advances.logged(TICK_FAILED) > failed_before
        },
    )
    .await;
    assert!(rabbitmqctl(&["start_app"]), "start RabbitMQ");
    advances.ready().await;

    finish(&env, &am, &advances, account, &advance).await;
    // Both services' events waited in their databases while the broker was
    // away, and every one of them was published after.
    env.assert_every_event_published().await;
}

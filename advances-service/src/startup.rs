//! Builds advances-service on the service skeleton: the database, the
//! clients of accounts-manager and RabbitMQ, the background roles `ROLES`
//! names, the event relay, and the HTTP app.

use std::sync::Arc;

use futures::future::BoxFuture;
use service_kit::events::{Relay, RelayMetrics};
use service_kit::health::Dependency;
use service_kit::metrics::HttpMetrics;
pub use service_kit::service::StartupError;
use service_kit::service::{self, HttpApp, Service};
use service_kit::shutdown::Peers;
use utoipa::OpenApi;

use crate::clients::accounts::AccountsClient;
use crate::clients::broker::{Broker, EVENTS_EXCHANGE};
use crate::configuration::{Role, Settings};
use crate::context::{Context, Metrics};
use crate::jobs::{scheduler, worker};
use crate::openapi::ApiDoc;
use crate::routes;
use crate::store;
use crate::store::events::AdvancesOutbox;

pub const NAME: &str = "advances-service";

/// advances-service: `build` it, then run it until it is stopped.
pub struct Application;

impl Application {
    pub async fn build(settings: Settings) -> Result<Service, StartupError> {
        let settings = Arc::new(settings);
        let pool = service::connect(&settings.service, store::run_migrations).await?;
        let accounts = AccountsClient::new(
            &settings.accounts_url,
            &settings.accounts_token,
            settings.accounts_timeout,
            usize::from(settings.worker_concurrency),
        )
        .map_err(|e| StartupError::because("cannot set up the accounts-manager client", &e))?;
        let http_metrics = HttpMetrics::new()?;
        let counter =
            |name: &str, help: &str, label: &str| http_metrics.counter(name, help, &[label]);
        let metrics = Metrics {
            jobs: counter(
                "payment_jobs_total",
                "Payment jobs handled, by outcome",
                "outcome",
            )?,
            published: counter(
                "payment_jobs_published_total",
                "Payment jobs published, by result",
                "result",
            )?,
            mismatches: counter(
                "reconciliation_mismatches_total",
                "Reconciliation mismatches found (alerts), by check",
                "check",
            )?,
            advances: counter("advances_total", "Advances created", "event")?,
            overdue: http_metrics.register(prometheus::Gauge::new(
                "payments_overdue_seconds",
                "How long the oldest uncollected due payment has been due (scheduler)",
            )?)?,
            overdue_amount: http_metrics.register(prometheus::GaugeVec::new(
                prometheus::Opts::new(
                    "advances_overdue_amount",
                    "The active advances' overdue amount, by currency and aging bucket of missed installments (scheduler)",
                ),
                &["currency", "bucket"],
            )?)?,
        };
        // The series the alerts watch exist from the start, at 0, so that
        // `increase()` sees the first mismatch or dead letter.
        for check in ["schedule_sum", "ledger_paid"] {
            metrics.mismatches.with_label_values(&[check]);
        }
        for bucket in crate::domain::overdue::Bucket::ALL {
            metrics
                .overdue_amount
                .with_label_values(&[service_kit::currency::Currency::DEFAULT, bucket.label()]);
        }
        for outcome in [
            "collected",
            "refused",
            "deferred",
            "skipped",
            "dead_lettered",
        ] {
            metrics.jobs.with_label_values(&[outcome]);
        }
        let roles: Vec<&str> = settings
            .roles
            .iter()
            .map(|r| match r {
                Role::Api => "api",
                Role::Scheduler => "scheduler",
                Role::Worker => "worker",
            })
            .collect();
        let broker = Arc::new(Broker::new(
            &settings.amqp_url,
            &format!("{NAME} ({})", roles.join(",")),
        ));
        let context = Context {
            pool: pool.clone(),
            accounts,
            broker: broker.clone(),
            settings: settings.clone(),
            metrics,
        };

        let mut peers = Peers::new();
        if settings.runs(Role::Scheduler) {
            peers.spawn(
                "scheduler",
                scheduler::run(context.clone(), peers.shutdown()),
            );
            peers.spawn(
                "reconciliation",
                scheduler::reconcile_periodically(context.clone(), peers.shutdown()),
            );
        }
        if settings.runs(Role::Worker) {
            peers.spawn("worker", worker::run(context.clone(), peers.shutdown()));
        }
        // Every role writes events; whichever instance holds the relay's lock
        // publishes them.
        let relay = Relay {
            outbox: AdvancesOutbox,
            name: "advances",
            database_url: settings.service.database_url.clone(),
            amqp_url: settings.amqp_url.clone(),
            exchange: EVENTS_EXCHANGE,
            metrics: RelayMetrics::register(&http_metrics)?,
            poll: settings.events_poll_interval,
        };
        peers.spawn("event relay", relay.run(peers.shutdown()));
        tracing::info!(roles = %roles.join(","), "{NAME} starting");

        let app = HttpApp {
            context,
            pool,
            settings: settings.service.clone(),
            openapi: ApiDoc::openapi(),
            policy: routes::POLICY,
            // A scheduler or worker process serves only the operations routes.
            api_v1: settings.runs(Role::Api).then_some(routes::api_v1),
            broker: Some(broker),
            metrics: http_metrics,
        };
        Service::start(NAME, app, peers)
    }
}

/// `/readyz` asks whether RabbitMQ answers.
impl Dependency for Broker {
    fn is_up(&self) -> BoxFuture<'_, bool> {
        Box::pin(self.is_ready())
    }
}

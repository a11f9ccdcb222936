//! Builds accounts-manager on the service skeleton: the database, the ledger
//! engine and its lanes, the background jobs, and the HTTP app.

use std::sync::Arc;

use prometheus::{IntCounter, IntGauge};
use service_kit::events::{Relay, RelayMetrics};
use service_kit::listing::TokenSeal;
use service_kit::metrics::HttpMetrics;
pub use service_kit::service::StartupError;
use service_kit::service::{self, HttpApp, Service};
use service_kit::shutdown::Peers;
use utoipa::OpenApi;

use crate::configuration::Settings;
use crate::context::{Context, Metrics};
use crate::group_commit::{self, Ledger};
use crate::jobs::audit::Auditor;
use crate::jobs::recount::Recounter;
use crate::jobs::sweeper::Sweeper;
use crate::openapi::ApiDoc;
use crate::operations::events::{self, LedgerOutbox};
use crate::routes;
use crate::store;

pub const NAME: &str = "accounts-manager";

/// accounts-manager: `build` it, then run it until it is stopped.
pub struct Application;

impl Application {
    pub async fn build(settings: Settings) -> Result<Service, StartupError> {
        let settings = Arc::new(settings);
        let pool = service::connect(&settings.service, store::run_migrations).await?;
        let seal_key = service_kit::db::blocking(&pool, |conn| {
            store::token_seal_key(conn)
                .map_err(|e| StartupError::because("cannot read the token seal", &e))
        })
        .await?;
        let seal = TokenSeal::new(&seal_key).map_err(StartupError)?;
        let http_metrics = HttpMetrics::new()?;
        let gauge = |name: &str, help: &str| {
            Ok::<_, StartupError>(http_metrics.register(IntGauge::new(name, help)?)?)
        };
        let metrics = Metrics {
            transactions: http_metrics.counter(
                "ledger_transactions_total",
                "Recorded ledger transactions by type and status",
                &["type", "status"],
            )?,
            audit_problems: gauge(
                "ledger_audit_problems",
                "What the last audit found: currencies not summing to zero, user accounts below zero, balances differing from their entries",
            )?,
        };

        let mut peers = Peers::new();
        let (ledger, lanes) = Ledger::start(
            pool.clone(),
            settings.ledger_lanes,
            settings.ledger_batch_size,
            group_commit::Metrics::register(&http_metrics)?,
        );
        for lane in lanes {
            peers.join_last("ledger lane", lane);
        }
        let sweeper = Sweeper {
            pool: pool.clone(),
            ledger: ledger.clone(),
            interval: settings.sweep_interval,
            expired: http_metrics.register(IntCounter::new(
                "ledger_holds_expired_total",
                "Holds released by the service because they expired",
            )?)?,
        };
        peers.spawn("sweeper", sweeper.run(peers.shutdown()));
        if let Some(amqp_url) = &settings.events_amqp_url {
            let relay = Relay {
                outbox: LedgerOutbox,
                name: "ledger",
                database_url: settings.service.database_url.clone(),
                amqp_url: amqp_url.clone(),
                exchange: events::EXCHANGE,
                metrics: RelayMetrics::register(&http_metrics)?,
                poll: settings.events_poll_interval,
            };
            peers.spawn("event relay", relay.run(peers.shutdown()));
        }
        let recounter = Recounter {
            pool: pool.clone(),
            interval: settings.audit_interval,
            mismatches: gauge(
                "audit_recount_mismatches",
                "Accounts the latest full recount of this instance found to differ from their entries",
            )?,
        };
        peers.spawn("audit recount", recounter.run(peers.shutdown()));
        let auditor = Auditor {
            pool: pool.clone(),
            interval: settings.audit_interval,
            problems: metrics.audit_problems.clone(),
        };
        peers.spawn("audit", auditor.run(peers.shutdown()));

        let context = Context {
            pool: pool.clone(),
            ledger,
            settings: settings.clone(),
            metrics,
            seal,
        };
        let app = HttpApp {
            context,
            pool,
            settings: settings.service.clone(),
            openapi: ApiDoc::openapi(),
            policy: routes::POLICY,
            api_v1: Some(routes::api_v1),
            broker: None,
            metrics: http_metrics,
        };
        Service::start(NAME, app, peers)
    }
}

//! Builds the application: migrations, pool, routes, and the HTTP server.

use std::net::TcpListener;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::middleware::{from_fn, ErrorHandlers};
use actix_web::{web, App, HttpServer};
use prometheus::{IntCounter, IntGauge};
use service_kit::access::guard;
use service_kit::error::{error_chain, json_error_body, no_such_route};
use service_kit::events::{Relay, RelayMetrics};
use service_kit::metrics::HttpMetrics;
use service_kit::telemetry::observe;
use utoipa::OpenApi;
use utoipa_swagger_ui::SwaggerUi;

use crate::configuration::Settings;
use crate::context::{Context, Metrics};
use crate::group_commit::{self, Ledger};
use crate::jobs::recount::Recounter;
use crate::jobs::sweeper::Sweeper;
use crate::openapi::ApiDoc;
use crate::operations::events::{self, LedgerOutbox};
use crate::routes;
use crate::store;
use service_kit::listing::TokenSeal;

/// A failure to start: the message is the one line start-up prints.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct StartupError(String);

pub struct Application {
    port: u16,
    server: Server,
}

impl Application {
    pub async fn build(settings: Settings) -> Result<Self, StartupError> {
        let pool = store::build_pool(
            &settings.database_url,
            settings.database_pool_size,
            Duration::from_secs(5),
        )
        .map_err(|e| {
            StartupError(format!(
                "cannot connect to the database: {}",
                error_chain(&e)
            ))
        })?;
        let migrate_pool = pool.clone();
        let seal_key = tokio::task::spawn_blocking(move || {
            let mut conn = migrate_pool.get()?;
            store::run_migrations(&mut conn)?;
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(store::token_seal_key(&mut conn)?)
        })
        .await
        .map_err(|e| StartupError(format!("migrations did not finish: {e}")))?
        .map_err(|e| StartupError(format!("cannot apply migrations: {e}")))?;

        let seal = TokenSeal::new(&seal_key).map_err(StartupError)?;
        let listener = service_kit::http::listen(&settings.bind_addr).map_err(StartupError)?;
        let port = listener
            .local_addr()
            .map_err(|e| StartupError(format!("cannot read the bound address: {e}")))?
            .port();
        let metrics =
            HttpMetrics::new().map_err(|e| StartupError(format!("cannot set up metrics: {e}")))?;
        let transactions = metrics
            .counter(
                "ledger_transactions_total",
                "Recorded ledger transactions by type and status",
                &["type", "status"],
            )
            .map_err(|e| StartupError(format!("cannot set up metrics: {e}")))?;
        let ledger_metrics = group_commit::Metrics::register(&metrics)
            .map_err(|e| StartupError(format!("cannot set up metrics: {e}")))?;
        let ledger = Ledger::start(
            pool.clone(),
            settings.ledger_lanes,
            settings.ledger_batch_size,
            ledger_metrics,
        );
        let expired = metrics
            .register(
                IntCounter::new(
                    "ledger_holds_expired_total",
                    "Holds released by the service because they expired",
                )
                .map_err(|e| StartupError(format!("cannot set up metrics: {e}")))?,
            )
            .map_err(|e| StartupError(format!("cannot set up metrics: {e}")))?;
        tokio::spawn(
            Sweeper {
                pool: pool.clone(),
                ledger: ledger.clone(),
                interval: settings.sweep_interval,
                expired,
            }
            .run(),
        );
        if let Some(amqp_url) = &settings.events_amqp_url {
            let relay_metrics = RelayMetrics::register(&metrics)
                .map_err(|e| StartupError(format!("cannot set up metrics: {e}")))?;
            tokio::spawn(
                Relay {
                    outbox: LedgerOutbox,
                    name: "ledger",
                    database_url: settings.database_url.clone(),
                    amqp_url: amqp_url.clone(),
                    exchange: events::EXCHANGE,
                    metrics: relay_metrics,
                    poll: settings.events_poll_interval,
                }
                .run(),
            );
        }
        let gauge = |name: &str, help: &str| {
            IntGauge::new(name, help)
                .and_then(|gauge| metrics.register(gauge))
                .map_err(|e| StartupError(format!("cannot set up metrics: {e}")))
        };
        let mismatches = gauge(
            "audit_recount_mismatches",
            "Accounts the latest full recount of this instance found to differ from their entries",
        )?;
        tokio::spawn(
            Recounter {
                pool: pool.clone(),
                interval: settings.audit_interval,
                mismatches,
            }
            .run(),
        );
        let audit_problems = gauge(
            "ledger_audit_problems",
            "What the last audit found: currencies not summing to zero, user accounts below zero, balances differing from their entries",
        )?;
        tokio::spawn(crate::operations::audit::audit_periodically(
            pool.clone(),
            audit_problems.clone(),
            settings.audit_interval,
        ));
        let state = Context {
            pool,
            ledger,
            settings: std::sync::Arc::new(settings.clone()),
            metrics: Metrics {
                transactions,
                audit_problems,
            },
            seal,
        };
        let server = run(listener, state, metrics, settings.http_workers)
            .map_err(|e| StartupError(format!("cannot start the HTTP server: {e}")))?;
        Ok(Self { port, server })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Stops the server from outside (tests that take accounts-manager away).
    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    /// Serves until the process is asked to stop (SIGINT/SIGTERM), then drains.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}

fn run(
    listener: TcpListener,
    state: Context,
    metrics: HttpMetrics,
    workers: usize,
) -> std::io::Result<Server> {
    let (access, retention) = service_kit::access::install(
        state.pool.clone(),
        &state.settings.api_tokens,
        routes::POLICY,
        state.settings.access,
        &metrics,
    )
    .map_err(std::io::Error::other)?;
    let data = web::Data::new(state);
    let metrics = web::Data::new(metrics);
    let openapi = ApiDoc::openapi();
    let known_routes = web::Data::new(service_kit::error::KnownRoutes::from_openapi(&openapi));
    let mut server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .app_data(access.clone())
            .app_data(retention.clone())
            .app_data(metrics.clone())
            .app_data(known_routes.clone())
            .app_data(web::PayloadConfig::new(64 * 1024))
            .app_data(service_kit::http::query_config())
            .wrap(ErrorHandlers::new().default_handler(json_error_body))
            .wrap(from_fn(observe))
            .wrap(from_fn(service_kit::http::head_as_get))
            .route("/healthz", web::get().to(routes::health::healthz))
            .route("/readyz", web::get().to(routes::health::readyz))
            .route("/metrics", web::get().to(routes::health::metrics))
            .service(
                SwaggerUi::new("/docs/{_:.*}")
                    .url(service_kit::error::OPENAPI_PATH, openapi.clone()),
            )
            .service(web::redirect("/docs", "/docs/"))
            .service(
                web::scope("/api/v1")
                    .wrap(from_fn(guard))
                    .configure(routes::api_v1),
            )
            .default_service(web::to(no_such_route))
    })
    .shutdown_timeout(10)
    .listen(listener)?;
    if workers > 0 {
        server = server.workers(workers);
    }
    Ok(server.run())
}

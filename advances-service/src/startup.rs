//! Builds the application: migrations, pool, clients, the HTTP server and the
//! background roles, and stops them gracefully.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::middleware::{from_fn, ErrorHandlers};
use actix_web::{web, App, HttpServer};
use service_kit::access::guard;
use service_kit::error::{error_chain, json_error_body, no_such_route};
use service_kit::events::{Relay, RelayMetrics};
use service_kit::metrics::HttpMetrics;
use service_kit::telemetry::observe;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use utoipa::OpenApi;
use utoipa_swagger_ui::SwaggerUi;

use crate::clients::accounts::AccountsClient;
use crate::clients::broker::{Broker, EVENTS_EXCHANGE};
use crate::configuration::{Role, Settings};
use crate::context::{Context, Metrics};
use crate::jobs::{scheduler, worker, Shutdown};
use crate::openapi::ApiDoc;
use crate::routes;
use crate::store;
use crate::store::events::AdvancesOutbox;

/// A failure to start: the message is the one line start-up prints.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct StartupError(String);

pub struct Application {
    port: u16,
    server: Server,
    jobs: Vec<JoinHandle<()>>,
    stop: watch::Sender<bool>,
}

impl Application {
    pub async fn build(settings: Settings) -> Result<Self, StartupError> {
        let fail = |what: &str| {
            let what = what.to_owned();
            move |e: &dyn std::error::Error| StartupError(format!("{what}: {}", error_chain(e)))
        };
        let pool = store::build_pool(
            &settings.database_url,
            settings.database_pool_size,
            Duration::from_secs(5),
        )
        .map_err(|e| fail("cannot connect to the database")(&e))?;
        let migrate_pool = pool.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = migrate_pool.get()?;
            store::run_migrations(&mut conn)
        })
        .await
        .map_err(|e| StartupError(format!("migrations did not finish: {e}")))?
        .map_err(|e| StartupError(format!("cannot apply migrations: {e}")))?;

        let accounts = AccountsClient::new(
            &settings.accounts_url,
            &settings.accounts_token,
            settings.accounts_timeout,
            usize::from(settings.worker_concurrency),
        )
        .map_err(|e| fail("cannot set up the accounts-manager client")(&e))?;
        let http_metrics = HttpMetrics::new().map_err(|e| fail("cannot set up metrics")(&e))?;
        let counter = |name: &str, help: &str, label: &str| {
            http_metrics
                .counter(name, help, &[label])
                .map_err(|e| fail("cannot set up metrics")(&e))
        };
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
            overdue: http_metrics
                .register(
                    prometheus::Gauge::new(
                        "payments_overdue_seconds",
                        "How long the oldest uncollected due payment has been due (scheduler)",
                    )
                    .map_err(|e| fail("cannot set up metrics")(&e))?,
                )
                .map_err(|e| fail("cannot set up metrics")(&e))?,
        };
        let relay_metrics =
            RelayMetrics::register(&http_metrics).map_err(|e| fail("cannot set up metrics")(&e))?;
        // The series the alerts watch exist from the start, at 0, so that
        // `increase()` sees the first mismatch or dead letter.
        for check in ["schedule_sum", "ledger_paid"] {
            metrics.mismatches.with_label_values(&[check]);
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
        let listener = service_kit::http::listen(&settings.bind_addr).map_err(StartupError)?;
        let port = listener
            .local_addr()
            .map_err(|e| StartupError(format!("cannot read the bound address: {e}")))?
            .port();
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
            &format!("advances-service ({})", roles.join(",")),
        ));
        let settings = Arc::new(settings);
        let context = Context {
            pool,
            accounts,
            broker,
            settings: settings.clone(),
            metrics,
        };
        let server = run(listener, context.clone(), http_metrics)
            .map_err(|e| StartupError(format!("cannot start the HTTP server: {e}")))?;

        let (stop, shutdown) = Shutdown::new();
        let mut jobs = Vec::new();
        if settings.runs(Role::Scheduler) {
            jobs.push(tokio::spawn(scheduler::run(
                context.clone(),
                shutdown.clone(),
            )));
            jobs.push(tokio::spawn(scheduler::reconcile_periodically(
                context.clone(),
                shutdown.clone(),
            )));
        }
        if settings.runs(Role::Worker) {
            jobs.push(tokio::spawn(worker::run(context.clone(), shutdown.clone())));
        }
        // Every role writes events; whichever instance holds the relay's lock
        // publishes them.
        tokio::spawn(
            Relay {
                outbox: AdvancesOutbox,
                name: "advances",
                database_url: settings.database_url.clone(),
                amqp_url: settings.amqp_url.clone(),
                exchange: EVENTS_EXCHANGE,
                metrics: relay_metrics,
                poll: settings.events_poll_interval,
            }
            .run(),
        );
        tracing::info!(roles = %roles.join(","), port, "advances-service started");
        Ok(Self {
            port,
            server,
            jobs,
            stop,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until SIGTERM or SIGINT; then stops
    /// taking requests and jobs, finishes the ones in hand (a worker acks each
    /// job whose outcome it stored) and returns.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let handle = self.server.handle();
        let server = tokio::spawn(self.server);
        termination_signal().await;
        tracing::info!("stop signal received");
        let _ = self.stop.send(true);
        handle.stop(true).await;
        for job in self.jobs {
            if tokio::time::timeout(Duration::from_secs(30), job)
                .await
                .is_err()
            {
                tracing::warn!("a background job did not stop within 30 s");
            }
        }
        match server.await {
            Ok(result) => result,
            Err(error) => Err(std::io::Error::other(error)),
        }
    }
}

async fn termination_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

fn run(listener: TcpListener, context: Context, metrics: HttpMetrics) -> std::io::Result<Server> {
    let api = context.settings.runs(Role::Api);
    let workers = context.settings.http_workers;
    let (access, retention) = service_kit::access::install(
        context.pool.clone(),
        &context.settings.api_tokens,
        routes::POLICY,
        context.settings.access,
        &metrics,
    )
    .map_err(std::io::Error::other)?;
    let data = web::Data::new(context);
    let metrics = web::Data::new(metrics);
    let openapi = ApiDoc::openapi();
    let mut known_routes = service_kit::error::KnownRoutes::from_openapi(&openapi);
    if !api {
        known_routes = known_routes.without("/api/v1/");
    }
    let known_routes = web::Data::new(known_routes);
    let mut server = HttpServer::new(move || {
        let app = App::new()
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
            .service(web::redirect("/docs", "/docs/"));
        // A scheduler or worker process serves only the operations routes.
        let app = if api {
            app.service(
                web::scope("/api/v1")
                    .wrap(from_fn(guard))
                    .configure(routes::api_v1),
            )
        } else {
            app
        };
        app.default_service(web::to(no_such_route))
    })
    .disable_signals()
    .shutdown_timeout(10)
    .listen(listener)?;
    if workers > 0 {
        server = server.workers(workers);
    }
    Ok(server.run())
}

//! The skeleton both services are built on: the HTTP app (the middleware,
//! health, docs, 404 and 405, metrics) and the background work as named
//! peers of the HTTP server under one shutdown (zero2prod's `main.rs` with
//! `tokio::select!` and `report_exit`; svix's `lib.rs`).
//!
//! On SIGTERM or SIGINT a service stops accepting connections, answers the
//! requests in flight, tells its loops to stop and waits for them, then
//! waits for the tasks that drain what those requests queued (the ledger's
//! lanes), and returns: the process exits 0.

use std::future::Future;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::{Server, ServerHandle};
use actix_web::middleware::{from_fn, ErrorHandlers};
use actix_web::{web, App, HttpServer};
use diesel::pg::PgConnection;
use utoipa::OpenApi;
use utoipa_swagger_ui::SwaggerUi;

use crate::access::{guard, Policy};
use crate::config::{ConfigError, ServiceSettings};
use crate::db::{self, PgPool};
use crate::error::{error_chain, failed, json_error_body, no_such_route, KnownRoutes};
use crate::health::{Dependency, HealthDoc, Probes};
use crate::metrics::HttpMetrics;
use crate::shutdown::{report_exit, termination_signal, Peers};
use crate::telemetry::observe;

/// A failure to start: the message is the one line start-up prints.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct StartupError(pub String);

impl StartupError {
    /// `what` failed, because of `error` (its whole cause chain).
    pub fn because(what: &str, error: &dyn std::error::Error) -> Self {
        Self(format!("{what}: {}", error_chain(error)))
    }
}

impl From<prometheus::Error> for StartupError {
    fn from(error: prometheus::Error) -> Self {
        Self::because("cannot set up metrics", &error)
    }
}

impl From<diesel::r2d2::PoolError> for StartupError {
    fn from(error: diesel::r2d2::PoolError) -> Self {
        Self::because("cannot connect to the database", &error)
    }
}

impl db::WorkError for StartupError {
    fn database_unavailable(&self) -> bool {
        false
    }

    fn task_failed(error: tokio::task::JoinError) -> Self {
        Self::because("start-up did not finish", &error)
    }
}

/// A service's migrations, applied at start-up.
pub type Migrate = fn(&mut PgConnection) -> Result<(), Box<dyn std::error::Error + Send + Sync>>;

/// The pool of the service's database, with its migrations applied.
pub async fn connect(settings: &ServiceSettings, migrate: Migrate) -> Result<PgPool, StartupError> {
    let pool = db::build_pool(
        &settings.database_url,
        settings.database_pool_size,
        Duration::from_secs(5),
    )?;
    db::blocking(&pool, move |conn| {
        migrate(conn).map_err(|e| StartupError::because("cannot apply migrations", &*e))
    })
    .await?;
    Ok(pool)
}

/// What a service's HTTP app is made of.
pub struct HttpApp<C, R> {
    /// What every handler shares (the service's `Context`).
    pub context: C,
    pub pool: PgPool,
    pub settings: ServiceSettings,
    /// The service's document; the operations routes are added to it.
    pub openapi: utoipa::openapi::OpenApi,
    /// The scopes of `/api/v1`.
    pub policy: Policy,
    /// The routes of `/api/v1`, behind the access guard; none for a process
    /// that serves only the operations routes.
    pub api_v1: Option<R>,
    /// What `/readyz` asks about besides the database.
    pub broker: Option<Arc<dyn Dependency>>,
    pub metrics: HttpMetrics,
}

/// How long the requests in flight have to finish once a stop is asked for.
const DRAIN_SECONDS: u64 = 10;

impl<C, R> HttpApp<C, R>
where
    C: Send + Sync + 'static,
    R: Fn(&mut web::ServiceConfig) + Clone + Send + 'static,
{
    fn serve(
        self,
        listener: std::net::TcpListener,
        peers: &mut Peers,
    ) -> Result<Server, StartupError> {
        let (access, retention) = crate::access::install(
            self.pool.clone(),
            &self.settings.api_tokens,
            self.policy,
            self.settings.access,
            &self.metrics,
            peers,
        )
        .map_err(StartupError)?;
        let mut openapi = self.openapi;
        openapi.merge(HealthDoc::openapi());
        let mut known_routes = KnownRoutes::from_openapi(&openapi);
        if self.api_v1.is_none() {
            known_routes = known_routes.without("/api/v1/");
        }
        let known_routes = web::Data::new(known_routes);
        let context = web::Data::new(self.context);
        let probes = web::Data::new(Probes {
            pool: self.pool,
            broker: self.broker,
        });
        let metrics = web::Data::new(self.metrics);
        let api_v1 = self.api_v1;
        let mut server = HttpServer::new(move || {
            let app = App::new()
                .app_data(context.clone())
                .app_data(probes.clone())
                .app_data(access.clone())
                .app_data(retention.clone())
                .app_data(metrics.clone())
                .app_data(known_routes.clone())
                .app_data(web::PayloadConfig::new(64 * 1024))
                .app_data(crate::http::query_config())
                .wrap(ErrorHandlers::new().default_handler(json_error_body))
                .wrap(from_fn(observe))
                .wrap(from_fn(crate::http::head_as_get))
                .route("/healthz", web::get().to(crate::health::healthz))
                .route("/readyz", web::get().to(crate::health::readyz))
                .route("/metrics", web::get().to(crate::health::metrics))
                .service(
                    SwaggerUi::new("/docs/{_:.*}").url(crate::error::OPENAPI_PATH, openapi.clone()),
                )
                .service(web::redirect("/docs", "/docs/"));
            let app = match api_v1.clone() {
                Some(api_v1) => {
                    app.service(web::scope("/api/v1").wrap(from_fn(guard)).configure(api_v1))
                }
                None => app,
            };
            app.default_service(web::to(no_such_route))
        })
        // The stop is ours (`run_until_stopped`): the lanes must outlive it.
        .disable_signals()
        .shutdown_timeout(DRAIN_SECONDS)
        .listen(listener)
        .map_err(|e| StartupError::because("cannot start the HTTP server", &e))?;
        if self.settings.http_workers > 0 {
            server = server.workers(self.settings.http_workers);
        }
        Ok(server.run())
    }
}

/// A service, built: its HTTP server and its background peers.
pub struct Service {
    name: &'static str,
    port: u16,
    server: Server,
    peers: Peers,
}

impl Service {
    /// Listens on `BIND_ADDR` and starts serving `app` beside `peers`.
    pub fn start<C, R>(
        name: &'static str,
        app: HttpApp<C, R>,
        mut peers: Peers,
    ) -> Result<Self, StartupError>
    where
        C: Send + Sync + 'static,
        R: Fn(&mut web::ServiceConfig) + Clone + Send + 'static,
    {
        let listener = crate::http::listen(&app.settings.bind_addr).map_err(StartupError)?;
        let port = listener
            .local_addr()
            .map_err(|e| StartupError::because("cannot read the bound address", &e))?
            .port();
        let server = app.serve(listener, &mut peers)?;
        tracing::info!(service = name, port, "listening");
        Ok(Self {
            name,
            port,
            server,
            peers,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Stops the HTTP server from outside (tests that take a service away);
    /// `run_until_stopped` then stops the rest and returns.
    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// Serves until SIGTERM or SIGINT (or until the server is stopped through
    /// its handle), then drains: no new connections, the requests in flight
    /// answered, the loops stopped, the drained tasks joined. An error when
    /// a peer ended before it was asked to, or did not end cleanly.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let Self {
            name,
            server,
            mut peers,
            ..
        } = self;
        let handle = server.handle();
        let mut server = tokio::spawn(server);
        let mut failure = None;
        let mut served = None;
        tokio::select! {
            () = termination_signal() => tracing::info!(service = name, "stop signal received; draining"),
            ended = &mut server => served = Some(ended),
            (peer, ended) = peers.first_to_end() => {
                report_exit(peer, &ended);
                failure = Some(format!("{peer} ended before the service was stopped"));
            }
        }
        peers.stop();
        let (served, loops_clean) = tokio::join!(
            async move {
                match served {
                    Some(ended) => ended,
                    None => {
                        handle.stop(true).await;
                        server.await
                    }
                }
            },
            peers.join_loops(),
        );
        let served = served.unwrap_or_else(|e| Err(std::io::Error::other(e)));
        match &served {
            Ok(()) => tracing::info!(task = "HTTP server", "stopped"),
            Err(error) => tracing::error!(task = "HTTP server", error = %error, "failed"),
        }
        // The HTTP workers, and with them every handler's hold on the
        // service's queues, are gone: what they queued drains, then ends.
        let rest_clean = peers.join_rest().await;
        served?;
        if !(loops_clean && rest_clean) {
            failure.get_or_insert_with(|| "a background task did not stop cleanly".into());
        }
        match failure {
            Some(why) => Err(std::io::Error::other(why)),
            None => {
                tracing::info!(service = name, "stopped");
                Ok(())
            }
        }
    }
}

/// A service's `main`: settings from the environment (a `.env` file may
/// supply them), traces, the service built and run until stopped; exits 0
/// after a stop that drained cleanly.
pub async fn main<S, Fut>(
    name: &'static str,
    from_env: fn() -> Result<S, ConfigError>,
    service_settings: impl Fn(&S) -> &ServiceSettings,
    build: fn(S) -> Fut,
) -> ExitCode
where
    Fut: Future<Output = Result<Service, StartupError>>,
{
    let _ = dotenvy::dotenv();
    let settings = match from_env() {
        Ok(settings) => settings,
        Err(error) => return failed(name, &error),
    };
    let otlp_endpoint = service_settings(&settings).otlp_endpoint.clone();
    let traces = match crate::trace::init(name, otlp_endpoint.as_deref()) {
        Ok(traces) => traces,
        Err(error) => return failed(name, &error),
    };
    let service = match build(settings).await {
        Ok(service) => service,
        Err(error) => return failed(name, &error),
    };
    let stopped = service.run_until_stopped().await;
    traces.shutdown().await;
    match stopped {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => failed(name, &format!("the service stopped: {error}")),
    }
}

//! Builds the application: migrations, pool, routes, and the HTTP server.

use std::net::TcpListener;
use std::time::Duration;

use actix_web::body::{BoxBody, EitherBody};
use actix_web::dev::{Server, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::{from_fn, ErrorHandlerResponse, ErrorHandlers};
use actix_web::{web, App, HttpResponse, HttpServer, ResponseError};
use shared_types::ErrorBody;
use utoipa::OpenApi;
use utoipa_swagger_ui::SwaggerUi;

use crate::auth::{require_token, Tokens};
use crate::configuration::Settings;
use crate::error::{error_chain, ApiError};
use crate::metrics::Metrics;
use crate::openapi::ApiDoc;
use crate::routes;
use crate::store::{self, PgPool};
use crate::telemetry::observe;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub pool: PgPool,
    pub metrics: Metrics,
    pub tokens: Tokens,
    pub settings: Settings,
}

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
        tokio::task::spawn_blocking(move || {
            let mut conn = migrate_pool.get()?;
            store::run_migrations(&mut conn)
        })
        .await
        .map_err(|e| StartupError(format!("migrations did not finish: {e}")))?
        .map_err(|e| StartupError(format!("cannot apply migrations: {e}")))?;

        let listener = TcpListener::bind(&settings.bind_addr)
            .map_err(|e| StartupError(format!("cannot listen on {}: {e}", settings.bind_addr)))?;
        let port = listener
            .local_addr()
            .map_err(|e| StartupError(format!("cannot read the bound address: {e}")))?
            .port();
        let metrics =
            Metrics::new().map_err(|e| StartupError(format!("cannot set up metrics: {e}")))?;
        let state = AppState {
            pool,
            metrics,
            tokens: Tokens::new(&settings.api_tokens),
            settings: settings.clone(),
        };
        let server = run(listener, state, settings.http_workers)
            .map_err(|e| StartupError(format!("cannot start the HTTP server: {e}")))?;
        Ok(Self { port, server })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until the process is asked to stop (SIGINT/SIGTERM), then drains.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}

fn run(listener: TcpListener, state: AppState, workers: usize) -> std::io::Result<Server> {
    let data = web::Data::new(state);
    let openapi = ApiDoc::openapi();
    let mut server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .app_data(web::PayloadConfig::new(64 * 1024))
            .app_data(web::QueryConfig::default().error_handler(|error, _| {
                ApiError::InvalidRequest(format!(
                    "the query string does not fit this route: {error}"
                ))
                .into()
            }))
            .wrap(ErrorHandlers::new().default_handler(json_error_body))
            .wrap(from_fn(observe))
            .route("/healthz", web::get().to(routes::health::healthz))
            .route("/readyz", web::get().to(routes::health::readyz))
            .route("/metrics", web::get().to(routes::health::metrics))
            .service(SwaggerUi::new("/docs/{_:.*}").url("/api-docs/openapi.json", openapi.clone()))
            .service(web::redirect("/docs", "/docs/"))
            .service(
                web::scope("/api/v1")
                    .wrap(from_fn(require_token))
                    .configure(routes::api_v1),
            )
            .default_service(web::to(|| async {
                ApiError::NotFound("no such route".into()).error_response()
            }))
    })
    .shutdown_timeout(10)
    .listen(listener)?;
    if workers > 0 {
        server = server.workers(workers);
    }
    Ok(server.run())
}

/// Gives the contract's JSON error body to the errors actix answers by itself
/// (an unknown method, a body too large, ...), which come with none.
fn json_error_body<B>(res: ServiceResponse<B>) -> actix_web::Result<ErrorHandlerResponse<B>> {
    let is_json = res
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if is_json {
        return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
    }
    let status = res.status();
    let error = match status.as_u16() {
        404 => ApiError::NotFound("no such route".into()),
        405 => ApiError::MethodNotAllowed,
        413 => ApiError::PayloadTooLarge,
        401 => ApiError::Unauthorized,
        400..=499 => ApiError::InvalidRequest(
            status
                .canonical_reason()
                .unwrap_or("bad request")
                .to_owned(),
        ),
        _ => ApiError::internal(format!("unhandled {status}")),
    };
    let body = ErrorBody::new(error.code(), error.to_string());
    let (req, _) = res.into_parts();
    let response: HttpResponse<BoxBody> = HttpResponse::build(status).json(body);
    let res: ServiceResponse<EitherBody<B>> =
        ServiceResponse::new(req, response).map_into_right_body();
    Ok(ErrorHandlerResponse::Response(res))
}

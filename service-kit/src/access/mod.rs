//! Access control of `/api/v1`, the same in both services: API keys (the
//! bootstrap ones of `API_TOKENS` and the ones made at run time), the scope
//! each route needs, the rate limit per key, and the log line of every refusal.
//!
//! One middleware, [`guard`], wraps a service's `/api/v1` scope. For each
//! request it authenticates the bearer token (`401`), looks up the scope the
//! matched route declares ([`RouteScopes`], read from the service's OpenAPI
//! document at start-up; `403 insufficient_scope`), and counts the request
//! against the key's rate limit (`429 rate_limited`). A refused request never reaches its handler, so it
//! has no effect and stores nothing under its Idempotency-Key.

pub mod admin;
pub mod keys;
pub mod limit;
pub mod scopes;
pub mod store;

use std::sync::Arc;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{header, StatusCode};
use actix_web::middleware::Next;
use actix_web::{web, Error, HttpMessage, HttpResponse, ResponseError};

use crate::auth::{bearer, Caller, Tokens};
use crate::db::PgPool;
use crate::error::{json_error, ApiError};
use crate::idempotency::Retention;
use crate::metrics::HttpMetrics;
use crate::shutdown::Peers;
pub use keys::{Keyring, Principal};
use keys::{Refusal, VerifyError};
pub use limit::RateLimit;
pub use scopes::RouteScopes;

/// The scope that may do everything on its service.
pub const ADMIN: &str = "admin";

/// Where the guarded routes are served.
pub const API_PREFIX: &str = "/api/v1";

/// A service's scopes and the scope of each of its routes.
#[derive(Clone, Copy)]
pub struct Policy {
    /// Every scope a key of this service may be given, [`ADMIN`] included.
    pub scopes: &'static [&'static str],
    /// The service's OpenAPI document, in which every operation under
    /// [`API_PREFIX`] names the one scope it needs (`security(("bearer" =
    /// ["<scope>"]))` in its `#[utoipa::path]`).
    pub document: fn() -> utoipa::openapi::OpenApi,
    /// Names the service records as `created_by` for its own work (the
    /// sweeper's releases): no key may take them.
    pub own_names: &'static [&'static str],
}

/// What the guard and the key routes of one instance share.
pub struct AccessControl {
    pub keyring: Arc<Keyring>,
    pub policy: Policy,
    pub route_scopes: RouteScopes,
    pub limit: RateLimit,
    pub pool: PgPool,
}

impl AccessControl {
    /// Starts reading the stored keys of `pool` (now and every few seconds),
    /// as a peer. Fails when a route of the policy's document names no scope
    /// of its own.
    pub fn start(
        pool: PgPool,
        bootstrap: Tokens,
        policy: Policy,
        rate_limit: u32,
        metrics: &HttpMetrics,
        peers: &mut Peers,
    ) -> Result<Self, String> {
        let route_scopes =
            RouteScopes::from_openapi(&(policy.document)(), API_PREFIX, policy.scopes)?;
        let lookups = prometheus::IntCounter::new(
            "api_key_lookups_total",
            "API keys a request had to look up in the database (not yet in memory)",
        )
        .and_then(|counter| metrics.register(counter))
        .map_err(|e| format!("cannot set up metrics: {e}"))?;
        let keyring = Arc::new(Keyring::new(pool.clone(), bootstrap, lookups));
        peers.spawn(
            "api key refresh",
            keys::refresh(keyring.clone(), peers.shutdown()),
        );
        let limit = RateLimit::new(rate_limit);
        if limit.is_on() {
            peers.spawn(
                "rate limit forgetting",
                limit::forget_idle(limit.clone(), peers.shutdown()),
            );
        }
        Ok(Self {
            keyring,
            policy,
            route_scopes,
            limit,
            pool,
        })
    }
}

/// What a service puts in its app data to run [`guard`] and its idempotent
/// POSTs: access control over `API_TOKENS` and the stored keys, and the
/// idempotency retention, whose sweeper this starts (each loop a peer).
pub fn install(
    pool: PgPool,
    api_tokens: &[String],
    policy: Policy,
    settings: crate::config::AccessSettings,
    metrics: &HttpMetrics,
    peers: &mut Peers,
) -> Result<(web::Data<AccessControl>, web::Data<Retention>), String> {
    let bootstrap = Tokens::parse(api_tokens).map_err(|why| format!("API_TOKENS: {why}"))?;
    let retention = Retention(settings.idempotency_retention);
    peers.spawn(
        "idempotency sweeper",
        crate::idempotency_store::sweep(pool.clone(), retention, peers.shutdown()),
    );
    let access =
        AccessControl::start(pool, bootstrap, policy, settings.rate_limit, metrics, peers)?;
    Ok((web::Data::new(access), web::Data::new(retention)))
}

/// The middleware of `/api/v1`: `401`, `403 insufficient_scope`,
/// `429 rate_limited`, or the handler with the [`Caller`] in the request.
pub async fn guard(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, Error> {
    let Some(access) = req.app_data::<web::Data<AccessControl>>().cloned() else {
        tracing::error!("the access guard runs without AccessControl; refusing");
        return Ok(refuse(
            req,
            ApiError::internal("access control is not set up").error_response(),
        ));
    };
    let route = req.match_pattern();
    let verdict = access.keyring.verify(bearer(req.headers())).await;
    let principal = match verdict {
        Ok(principal) => principal,
        Err(VerifyError::Refused(Refusal { key, reason })) => {
            log_refusal(401, key.as_deref(), reason, &req, route.as_deref());
            return Ok(refuse(req, unauthorized()));
        }
        Err(VerifyError::Unavailable(error)) => {
            return Ok(refuse(req, error.error_response()));
        }
    };
    // A path no route matches, or a method its route does not serve, has no
    // handler and so no effect: it is answered 404, or 405 with Allow, by the
    // app for any valid key.
    let served = req
        .app_data::<web::Data<crate::error::KnownRoutes>>()
        .is_none_or(|routes| routes.serves(req.path(), req.method()));
    if let (Some(route), true) = (route.as_deref(), served) {
        // Every served route has its scope (`AccessControl::start` checked);
        // one without would be a route outside the document: closed.
        let needed = access.route_scopes.of(req.method(), route).unwrap_or(ADMIN);
        if !principal.may(needed) {
            let why = format!("lacks the scope {needed}");
            log_refusal(403, Some(&principal.name), &why, &req, Some(route));
            let response = json_error(
                StatusCode::FORBIDDEN,
                "insufficient_scope",
                &format!("this route needs the scope {needed}, which the key does not have"),
            );
            return Ok(refuse(req, response));
        }
    }
    if let Err(wait) = access.limit.check(&principal.name) {
        log_refusal(
            429,
            Some(&principal.name),
            "rate limit",
            &req,
            route.as_deref(),
        );
        let mut response = json_error(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "this key is over its rate limit; retry after the time in Retry-After",
        );
        if let Ok(value) = header::HeaderValue::from_str(&wait.to_string()) {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        return Ok(refuse(req, response));
    }
    req.extensions_mut().insert(Caller {
        name: principal.name.clone(),
    });
    req.extensions_mut().insert(principal);
    Ok(next.call(req).await?.map_into_left_body())
}

fn unauthorized() -> HttpResponse {
    let mut response = json_error(
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        "a valid bearer token is required",
    );
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        header::HeaderValue::from_static("Bearer"),
    );
    response
}

fn refuse<B>(req: ServiceRequest, response: HttpResponse) -> ServiceResponse<EitherBody<B>> {
    req.into_response(response).map_into_right_body()
}

/// One line per refused request: the status, the key's name when it is
/// known, why, and the route. Never the token.
fn log_refusal(
    status: u16,
    key: Option<&str>,
    why: &str,
    req: &ServiceRequest,
    route: Option<&str>,
) {
    tracing::warn!(
        status,
        key = key.unwrap_or("-"),
        why,
        method = %req.method(),
        route = route.unwrap_or("unmatched"),
        "request refused"
    );
}

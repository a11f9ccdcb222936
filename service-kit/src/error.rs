//! The contract's error body, and the failures every service maps the same way.

use actix_web::body::{BoxBody, EitherBody};
use actix_web::dev::ServiceResponse;
use actix_web::http::{header, StatusCode};
use actix_web::middleware::ErrorHandlerResponse;
use actix_web::{HttpResponse, ResponseError};
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use shared_types::ErrorBody;

use crate::idempotency::{InvalidIdempotencyKey, KeyConflict};
use crate::rule::RuleViolation;

/// `{"error": {"code": ..., "message": ...}}` with this status.
pub fn json_error(status: StatusCode, code: &str, message: &str) -> HttpResponse {
    HttpResponse::build(status).json(ErrorBody::new(code, message))
}

/// The error and all its sources, outermost first.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// `text` on one line: a start-up failure is one line of the log, however
/// many a cause wrote (libpq's "connection refused" adds a hint line).
pub fn one_line(text: &str) -> String {
    text.split('\n')
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// A binary's start-up (or serving) failure: one line on stderr naming the
/// service, and the failing exit code.
pub fn failed(service: &str, error: &dyn std::fmt::Display) -> std::process::ExitCode {
    eprintln!("{service}: {}", one_line(&error.to_string()));
    std::process::ExitCode::FAILURE
}

/// What a database error means to a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DbFailure {
    NotFound,
    UniqueViolation,
    CheckViolation(String),
    /// A value too large for its column.
    OutOfRange,
    /// The database cannot be reached or the transaction must be retried.
    Unavailable,
    Other,
}

pub fn classify(error: &DieselError) -> DbFailure {
    match error {
        DieselError::NotFound => DbFailure::NotFound,
        DieselError::DatabaseError(kind, info) => match kind {
            DatabaseErrorKind::UniqueViolation => DbFailure::UniqueViolation,
            DatabaseErrorKind::CheckViolation => {
                DbFailure::CheckViolation(info.constraint_name().unwrap_or("check").to_owned())
            }
            DatabaseErrorKind::ClosedConnection
            | DatabaseErrorKind::UnableToSendCommand
            | DatabaseErrorKind::SerializationFailure
            | DatabaseErrorKind::ReadOnlyTransaction => DbFailure::Unavailable,
            _ if info.message().contains("numeric field overflow") => DbFailure::OutOfRange,
            // "terminating connection due to administrator command" and the like.
            _ if info.message().contains("terminating connection") => DbFailure::Unavailable,
            _ => DbFailure::Other,
        },
        DieselError::BrokenTransactionManager => DbFailure::Unavailable,
        _ => DbFailure::Other,
    }
}

/// The answer for a request no route took: `405` with `Allow` when the
/// path is served with other methods, else `404`.
pub async fn no_such_route(req: actix_web::HttpRequest) -> HttpResponse {
    match allow_header(&req) {
        Some(allow) => {
            let (code, message) = NOT_ALLOWED;
            let mut response = json_error(StatusCode::METHOD_NOT_ALLOWED, code, message);
            response.headers_mut().insert(header::ALLOW, allow);
            response
        }
        None => json_error(StatusCode::NOT_FOUND, "not_found", "no such route"),
    }
}

const NOT_ALLOWED: (&str, &str) = (
    "method_not_allowed",
    "this method is not allowed on this route",
);

/// The `Allow` header of a request's path: the methods it is served with.
fn allow_header(req: &actix_web::HttpRequest) -> Option<header::HeaderValue> {
    req.app_data::<actix_web::web::Data<KnownRoutes>>()?
        .allowed(req.path())
}

/// Where both services serve their OpenAPI document.
pub const OPENAPI_PATH: &str = "/api-docs/openapi.json";

/// Every path a service serves, with its methods, from its OpenAPI document
/// (which lists every route): what a `405`'s `Allow` header names.
#[derive(Debug, Clone, Default)]
pub struct KnownRoutes(Vec<(Vec<String>, header::HeaderValue)>);

impl KnownRoutes {
    pub fn from_openapi(openapi: &utoipa::openapi::OpenApi) -> Self {
        let routes = openapi
            .paths
            .paths
            .iter()
            .filter_map(|(path, item)| {
                let methods: Vec<&str> = [
                    ("GET", item.get.is_some()),
                    // Served as GET without the body (`http::head_as_get`).
                    ("HEAD", item.get.is_some()),
                    ("POST", item.post.is_some()),
                    ("PUT", item.put.is_some()),
                    ("PATCH", item.patch.is_some()),
                    ("DELETE", item.delete.is_some()),
                ]
                .into_iter()
                .filter_map(|(method, served)| served.then_some(method))
                .collect();
                let allow = header::HeaderValue::from_str(&methods.join(", ")).ok()?;
                Some((path.split('/').map(str::to_owned).collect(), allow))
            })
            // The document itself, served beside its routes.
            .chain(std::iter::once((
                OPENAPI_PATH.split('/').map(str::to_owned).collect(),
                header::HeaderValue::from_static("GET, HEAD"),
            )))
            .collect();
        Self(routes)
    }

    /// Whether `method` is served on `path`.
    pub fn serves(&self, path: &str, method: &actix_web::http::Method) -> bool {
        self.allowed(path).is_some_and(|allow| {
            allow
                .to_str()
                .is_ok_and(|allow| allow.split(", ").any(|m| m == method.as_str()))
        })
    }

    /// Without the routes under `prefix` (an instance that does not serve them).
    pub fn without(self, prefix: &str) -> Self {
        Self(
            self.0
                .into_iter()
                .filter(|(pattern, _)| !pattern.join("/").starts_with(prefix))
                .collect(),
        )
    }

    /// The methods served on `path` (`GET, POST`), if any route has its
    /// shape (of several, the one with the most literal segments:
    /// `/transfers/batch` before `/transfers/{id}`).
    pub fn allowed(&self, path: &str) -> Option<header::HeaderValue> {
        let segments: Vec<&str> = path.split('/').collect();
        let is_parameter = |want: &str| want.starts_with('{') && want.ends_with('}');
        self.0
            .iter()
            .filter(|(pattern, _)| {
                pattern.len() == segments.len()
                    && pattern
                        .iter()
                        .zip(&segments)
                        .all(|(want, got)| (is_parameter(want) && !got.is_empty()) || want == got)
            })
            .max_by_key(|(pattern, _)| pattern.iter().filter(|want| !is_parameter(want)).count())
            .map(|(_, allow)| allow.clone())
    }
}

/// Gives the contract's JSON error body to the errors actix answers by itself
/// (an unknown method, a body too large, ...), which come with none.
pub fn json_error_body<B>(res: ServiceResponse<B>) -> actix_web::Result<ErrorHandlerResponse<B>> {
    let is_json = res
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if is_json {
        return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
    }
    let status = res.status();
    let (code, message) = match status.as_u16() {
        404 => ("not_found", "no such route"),
        405 => NOT_ALLOWED,
        413 => ("payload_too_large", "the request body is too large"),
        401 => ("unauthorized", "a valid bearer token is required"),
        403 => (
            "insufficient_scope",
            "the key does not have the scope this route needs",
        ),
        429 => ("rate_limited", "too many requests; retry later"),
        400..=499 => (
            "invalid_request",
            status.canonical_reason().unwrap_or("bad request"),
        ),
        _ => ("internal_error", "an internal error occurred"),
    };
    let (req, _) = res.into_parts();
    let mut response: HttpResponse<BoxBody> = json_error(status, code, message);
    if status == StatusCode::METHOD_NOT_ALLOWED {
        if let Some(allow) = allow_header(&req) {
            response.headers_mut().insert(header::ALLOW, allow);
        }
    }
    let res: ServiceResponse<EitherBody<B>> =
        ServiceResponse::new(req, response).map_into_right_body();
    Ok(ErrorHandlerResponse::Response(res))
}

/// The one error type of both HTTP APIs: each variant has its status and
/// code, and every error answers with the contract's body.
type Cause = Box<dyn std::error::Error + Send + Sync>;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("the request body is not valid JSON: {0}")]
    MalformedJson(String),
    #[error("{0}")]
    InvalidRequest(String),
    #[error("a valid bearer token is required")]
    Unauthorized,
    #[error("{0}")]
    NotFound(String),
    #[error("this method is not allowed on this route")]
    MethodNotAllowed,
    #[error("the request body is too large")]
    PayloadTooLarge,
    #[error("a request with this Idempotency-Key is still being processed; retry later")]
    IdempotencyKeyInFlight,
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    #[error("this Idempotency-Key was already used with a different request")]
    IdempotencyKeyReused,
    #[error(transparent)]
    Rule(#[from] RuleViolation),
    #[error("the service is temporarily unavailable; retry later")]
    Unavailable(#[source] Cause),
    #[error("an internal error occurred")]
    Internal(#[source] Cause),
}

impl ApiError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::MalformedJson(_) => "malformed_json",
            Self::InvalidRequest(_) => "invalid_request",
            Self::Unauthorized => "unauthorized",
            Self::NotFound(_) => "not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::PayloadTooLarge => "payload_too_large",
            Self::IdempotencyKeyInFlight => "idempotency_key_in_flight",
            Self::Conflict { code, .. } => code,
            Self::IdempotencyKeyReused => "idempotency_key_reused",
            Self::Rule(rule) => rule.code,
            Self::Unavailable(_) => "service_unavailable",
            Self::Internal(_) => "internal_error",
        }
    }

    pub fn internal(cause: impl Into<Cause>) -> Self {
        Self::Internal(cause.into())
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::MalformedJson(_) | Self::InvalidRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::IdempotencyKeyInFlight | Self::Conflict { .. } => StatusCode::CONFLICT,
            Self::IdempotencyKeyReused | Self::Rule(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        if status.is_server_error() {
            // The body says nothing internal; the whole cause chain goes to the log.
            tracing::error!(error = %error_chain(self), code = self.code(), "request failed");
        }
        let mut response = HttpResponse::build(status);
        if matches!(self, Self::Unauthorized) {
            response.insert_header(("WWW-Authenticate", "Bearer"));
        }
        if matches!(self, Self::Unavailable(_) | Self::IdempotencyKeyInFlight) {
            response.insert_header(("Retry-After", "1"));
        }
        response.json(ErrorBody::new(self.code(), self.to_string()))
    }
}

/// The one place database errors become API errors.
impl From<DieselError> for ApiError {
    fn from(error: DieselError) -> Self {
        match classify(&error) {
            DbFailure::NotFound => Self::NotFound("the resource does not exist".into()),
            DbFailure::UniqueViolation => Self::Conflict {
                code: "conflict",
                message: "the request conflicts with the current state".into(),
            },
            DbFailure::CheckViolation(constraint) => Self::Rule(RuleViolation::new(
                "constraint_violation",
                format!("the change breaks a rule of the data ({constraint})"),
            )),
            DbFailure::OutOfRange => Self::Rule(RuleViolation::new(
                "amount_out_of_range",
                "a resulting value would be out of range",
            )),
            DbFailure::Unavailable => Self::Unavailable(error.into()),
            DbFailure::Other => Self::Internal(error.into()),
        }
    }
}

impl From<KeyConflict> for ApiError {
    fn from(conflict: KeyConflict) -> Self {
        match conflict {
            KeyConflict::InFlight => Self::IdempotencyKeyInFlight,
            KeyConflict::Reused => Self::IdempotencyKeyReused,
        }
    }
}

impl From<InvalidIdempotencyKey> for ApiError {
    fn from(error: InvalidIdempotencyKey) -> Self {
        Self::Rule(RuleViolation::new(
            "invalid_idempotency_key",
            error.to_string(),
        ))
    }
}

impl From<diesel::r2d2::PoolError> for ApiError {
    fn from(error: diesel::r2d2::PoolError) -> Self {
        Self::Unavailable(error.into())
    }
}

impl crate::db::WorkError for ApiError {
    fn database_unavailable(&self) -> bool {
        matches!(self, Self::Unavailable(_))
    }

    fn task_failed(error: tokio::task::JoinError) -> Self {
        Self::internal(error)
    }
}

impl From<actix_web::error::BlockingError> for ApiError {
    fn from(error: actix_web::error::BlockingError) -> Self {
        Self::Internal(error.into())
    }
}

#[cfg(test)]
mod tests {
    use super::KnownRoutes;
    use utoipa::openapi::path::{HttpMethod, OperationBuilder, PathItem, PathsBuilder};
    use utoipa::openapi::OpenApiBuilder;

    #[test]
    fn allow_names_the_methods_of_the_route_a_path_fits_literal_segments_first() {
        let paths = PathsBuilder::new()
            .path(
                "/transfers/{id}",
                PathItem::new(HttpMethod::Get, OperationBuilder::new()),
            )
            .path(
                "/transfers/batch",
                PathItem::new(HttpMethod::Post, OperationBuilder::new()),
            )
            .path(
                "/accounts",
                PathItem::from_http_methods(
                    [HttpMethod::Get, HttpMethod::Post],
                    OperationBuilder::new(),
                ),
            );
        let routes = KnownRoutes::from_openapi(&OpenApiBuilder::new().paths(paths).build());

        let allowed = |path: &str| routes.allowed(path).map(|v| v.to_str().unwrap().to_owned());
        assert_eq!(allowed("/transfers/batch").as_deref(), Some("POST"));
        assert_eq!(allowed("/transfers/42").as_deref(), Some("GET, HEAD"));
        assert_eq!(allowed("/accounts").as_deref(), Some("GET, HEAD, POST"));
        assert_eq!(allowed("/transfers/"), None, "an empty parameter");
        assert_eq!(allowed("/transfers/42/more"), None);
        assert_eq!(allowed("/nowhere"), None);
        assert_eq!(allowed(super::OPENAPI_PATH).as_deref(), Some("GET, HEAD"));
        assert!(routes.serves("/accounts", &actix_web::http::Method::POST));
        assert!(!routes.serves("/transfers/batch", &actix_web::http::Method::GET));
        let transfers_only = routes.without("/accounts");
        assert_eq!(transfers_only.allowed("/accounts"), None);
        assert!(transfers_only.allowed("/transfers/batch").is_some());
    }

    #[test]
    fn a_failure_is_one_line() {
        assert_eq!(
            super::one_line("connection refused\n\tIs the server running?\n"),
            "connection refused Is the server running?"
        );
    }
}

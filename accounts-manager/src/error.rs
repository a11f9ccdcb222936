//! The one error type of the HTTP API: each variant has its status and code,
//! and every error answers with the contract's body.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use diesel::result::Error as DieselError;
use service_kit::error::{classify, error_chain, DbFailure};
use service_kit::idempotency::{InvalidIdempotencyKey, KeyConflict};
use shared_types::ErrorBody;

use crate::domain::RuleViolation;

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
                format!("the ledger refused the change ({constraint})"),
            )),
            DbFailure::OutOfRange => Self::Rule(RuleViolation::new(
                "amount_out_of_range",
                "the resulting balance would be out of the ledger's range",
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

impl From<actix_web::error::BlockingError> for ApiError {
    fn from(error: actix_web::error::BlockingError) -> Self {
        Self::Internal(error.into())
    }
}

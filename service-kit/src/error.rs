//! The contract's error body, and the failures every service maps the same way.

use actix_web::body::{BoxBody, EitherBody};
use actix_web::dev::ServiceResponse;
use actix_web::http::{header, StatusCode};
use actix_web::middleware::ErrorHandlerResponse;
use actix_web::HttpResponse;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use shared_types::ErrorBody;

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

/// The answer for a route nobody serves.
pub async fn no_such_route() -> HttpResponse {
    json_error(StatusCode::NOT_FOUND, "not_found", "no such route")
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
        405 => (
            "method_not_allowed",
            "this method is not allowed on this route",
        ),
        413 => ("payload_too_large", "the request body is too large"),
        401 => ("unauthorized", "a valid bearer token is required"),
        400..=499 => (
            "invalid_request",
            status.canonical_reason().unwrap_or("bad request"),
        ),
        _ => ("internal_error", "an internal error occurred"),
    };
    let (req, _) = res.into_parts();
    let response: HttpResponse<BoxBody> = json_error(status, code, message);
    let res: ServiceResponse<EitherBody<B>> =
        ServiceResponse::new(req, response).map_into_right_body();
    Ok(ErrorHandlerResponse::Response(res))
}

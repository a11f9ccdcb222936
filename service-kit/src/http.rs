//! Reading requests the same way in both services.

use actix_web::HttpRequest;
use serde::de::DeserializeOwned;
use serde::Serialize;
use uuid::Uuid;

use crate::error::ApiError;
use crate::idempotency::Idempotency;

/// Parses a POST's JSON body and its `Idempotency-Key`.
pub fn parse_post<T>(req: &HttpRequest, body: &[u8]) -> Result<(T, Option<Idempotency>), ApiError>
where
    T: DeserializeOwned + Serialize,
{
    let parsed: T = parse_json(body)?;
    // serde also reads a struct from a JSON array of its fields; the contract wants objects.
    if body.trim_ascii_start().first() != Some(&b'{') {
        return Err(ApiError::InvalidRequest(
            "the request body must be a JSON object".into(),
        ));
    }
    let idempotency = Idempotency::from_request(req, &parsed)?;
    Ok((parsed, idempotency))
}

/// The JSON body as `T`, with the errors of [`parse_post`] (for a second,
/// typed reading of a body `parse_post` took).
pub fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(&mut serde_json::Deserializer::from_slice(body))
        .map_err(json_error)
}

/// A body that is not JSON is `malformed_json`; JSON that does not fit the
/// route is `invalid_request`, naming the field where it stopped fitting
/// (`transfers[3].amount: ...`, `expires_at: ...`).
fn json_error(error: serde_path_to_error::Error<serde_json::Error>) -> ApiError {
    use serde_json::error::Category;
    let path = error.path().to_string();
    let error = error.into_inner();
    match error.classify() {
        Category::Data if path == "." => {
            ApiError::InvalidRequest(format!("the request body does not fit this route: {error}"))
        }
        Category::Data => ApiError::InvalidRequest(format!(
            "the request body does not fit this route: {path}: {error}"
        )),
        Category::Syntax | Category::Eof | Category::Io => {
            ApiError::MalformedJson(error.to_string())
        }
    }
}

/// A path segment that must be a UUID (`what` names it in the error).
pub fn uuid(raw: &str, what: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw)
        .map_err(|_| ApiError::InvalidRequest(format!("{raw:?} is not {what} (a UUID)")))
}

/// The query-string errors of actix, as the contract's `400`.
pub fn query_config() -> actix_web::web::QueryConfig {
    actix_web::web::QueryConfig::default().error_handler(|error, _| {
        ApiError::InvalidRequest(format!("the query string does not fit this route: {error}"))
            .into()
    })
}

/// Listens on `BIND_ADDR`; the error is the one line start-up prints, naming
/// the setting.
pub fn listen(bind_addr: &str) -> Result<std::net::TcpListener, String> {
    std::net::TcpListener::bind(bind_addr)
        .map_err(|e| format!("BIND_ADDR={bind_addr:?} cannot be listened on: {e}"))
}

/// A POST whose fields are all optional, as [`parse_post`]: an empty body is
/// `{}`.
pub fn parse_optional_post<T>(
    req: &HttpRequest,
    body: &[u8],
) -> Result<(T, Option<Idempotency>), ApiError>
where
    T: DeserializeOwned + Serialize,
{
    let body: &[u8] = if body.trim_ascii().is_empty() {
        b"{}"
    } else {
        body
    };
    parse_post(req, body)
}

/// The body of a POST that takes no fields (an empty body or `{}`).
#[derive(Debug, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NoFields {}

/// HEAD is GET without the body (RFC 9110): the request goes on as a GET
/// (same scope, same answer), and the HTTP layer, which saw HEAD, sends the
/// answer's head only.
pub async fn head_as_get(
    mut req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody>,
) -> Result<actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>, actix_web::Error> {
    if req.method() == actix_web::http::Method::HEAD {
        req.head_mut().method = actix_web::http::Method::GET;
    }
    next.call(req).await
}

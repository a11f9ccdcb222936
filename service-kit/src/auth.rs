//! Bearer-token authentication of `/api/v1`.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::middleware::Next;
use actix_web::{web, Error};
use sha2::{Digest, Sha256};

use crate::error::json_error;

/// Who made a request: the name of the key it was authenticated with. The
/// middleware puts it in the request's extensions; handlers read it with
/// [`Caller::of`] and record it as `created_by`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub name: String,
}

impl Caller {
    /// The caller of an authenticated request.
    pub fn of(req: &actix_web::HttpRequest) -> Self {
        use actix_web::HttpMessage;
        req.extensions()
            .get::<Caller>()
            .cloned()
            .unwrap_or_else(|| Caller {
                name: "unknown".into(),
            })
    }
}

/// The accepted tokens, kept as digests and compared in constant time, each
/// with its key's name (`token-1`, `token-2`, ... by position).
#[derive(Clone)]
pub struct Tokens(Vec<([u8; 32], String)>);

impl Tokens {
    pub fn new(tokens: &[String]) -> Self {
        Self(
            tokens
                .iter()
                .enumerate()
                .map(|(i, t)| (digest(t.as_bytes()), format!("token-{}", i + 1)))
                .collect(),
        )
    }

    /// The caller a presented token authenticates, if any.
    pub fn accepts(&self, presented: &[u8]) -> Option<Caller> {
        let presented = digest(presented);
        // Every token is compared, with no early exit, so timing says nothing.
        self.0.iter().fold(None, |found, (token, name)| {
            let difference = token
                .iter()
                .zip(presented.iter())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b));
            if difference == 0 {
                Some(Caller { name: name.clone() })
            } else {
                found
            }
        })
    }
}

fn digest(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// Answers `401` unless the request carries `Authorization: Bearer <token>`
/// with a token of the app's `web::Data<Tokens>`.
pub async fn require_token(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, Error> {
    let caller = req
        .app_data::<web::Data<Tokens>>()
        .zip(req.headers().get("authorization"))
        .and_then(|(tokens, value)| {
            let token = value.as_bytes().strip_prefix(b"Bearer ")?;
            tokens.accepts(token)
        });
    if let Some(caller) = caller {
        use actix_web::HttpMessage;
        req.extensions_mut().insert(caller);
        Ok(next.call(req).await?.map_into_left_body())
    } else {
        let mut response = json_error(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "a valid bearer token is required",
        );
        response.headers_mut().insert(
            actix_web::http::header::WWW_AUTHENTICATE,
            actix_web::http::header::HeaderValue::from_static("Bearer"),
        );
        Ok(req.into_response(response).map_into_right_body())
    }
}

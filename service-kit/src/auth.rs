//! Bearer-token authentication of `/api/v1`.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::middleware::Next;
use actix_web::{web, Error};
use sha2::{Digest, Sha256};

use crate::error::json_error;

/// The accepted tokens, kept as digests and compared in constant time.
#[derive(Clone)]
pub struct Tokens(Vec<[u8; 32]>);

impl Tokens {
    pub fn new(tokens: &[String]) -> Self {
        Self(tokens.iter().map(|t| digest(t.as_bytes())).collect())
    }

    pub fn accepts(&self, presented: &[u8]) -> bool {
        let presented = digest(presented);
        // Every token is compared, with no early exit, so timing says nothing.
        self.0.iter().fold(false, |found, token| {
            let difference = token
                .iter()
                .zip(presented.iter())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b));
            found | (difference == 0)
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
    let authorized = req
        .app_data::<web::Data<Tokens>>()
        .zip(req.headers().get("authorization"))
        .and_then(|(tokens, value)| {
            let token = value.as_bytes().strip_prefix(b"Bearer ")?;
            Some(tokens.accepts(token))
        })
        .unwrap_or(false);
    if authorized {
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

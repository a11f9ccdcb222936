//! Idempotent POSTs: the key, the fingerprint of the request first sent with
//! it, and running a request's work at most once per key, with its answer
//! stored in the same database transaction as its effect. A stored answer is
//! kept for the service's [`Retention`]; after that the key is a new request.

use std::time::Duration;

use actix_web::HttpRequest;
use diesel::pg::PgConnection;
use diesel::Connection;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::idempotency_store as store;

pub use shared_types::headers::IDEMPOTENCY_KEY as HEADER;
/// Set on an answer that is the stored answer of an earlier request.
pub use shared_types::headers::IDEMPOTENT_REPLAYED as REPLAYED_HEADER;

/// `IDEMPOTENCY_RETENTION`: how long stored answers are kept (default 30
/// days). A service puts it in its app data; requests read it from there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention(pub Duration);

impl Default for Retention {
    fn default() -> Self {
        Self(Duration::from_secs(30 * 24 * 3600))
    }
}

/// 1 to 255 printable ASCII characters, as the contract says, and how long
/// an answer stored under it counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey {
    key: String,
    retention: Retention,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Idempotency-Key must be 1 to 255 printable ASCII characters")]
pub struct InvalidIdempotencyKey;

impl IdempotencyKey {
    pub fn parse(raw: &[u8]) -> Result<Self, InvalidIdempotencyKey> {
        let printable = raw.iter().all(|b| (0x20..=0x7e).contains(b));
        if raw.is_empty() || raw.len() > 255 || !printable {
            return Err(InvalidIdempotencyKey);
        }
        Ok(Self {
            key: String::from_utf8_lossy(raw).into_owned(),
            retention: Retention::default(),
        })
    }

    /// The same key, its stored answers kept for `retention`.
    pub fn kept_for(mut self, retention: Retention) -> Self {
        self.retention = retention;
        self
    }

    pub fn as_str(&self) -> &str {
        &self.key
    }

    pub fn retention(&self) -> Retention {
        self.retention
    }

    /// A 64-bit number naming the key for a Postgres advisory lock.
    pub fn lock_id(&self) -> i64 {
        let digest = Sha256::digest(self.key.as_bytes());
        let mut first = [0u8; 8];
        first.copy_from_slice(&digest[..8]);
        i64::from_be_bytes(first)
    }
}

/// What a request asked for: its route and its parsed body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprint(Vec<u8>);

impl Fingerprint {
    pub fn of(route: &str, canonical_body: &[u8]) -> Self {
        let mut hasher = Sha256::new();
        hasher.update(route.as_bytes());
        hasher.update([0]);
        hasher.update(canonical_body);
        Self(hasher.finalize().to_vec())
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

/// An `Idempotency-Key` and what the request that carries it asked for.
#[derive(Debug, Clone)]
pub struct Idempotency {
    pub key: IdempotencyKey,
    pub fingerprint: Fingerprint,
}

impl Idempotency {
    /// The stored answer of the earlier request with this key, if it asked
    /// for the same thing.
    pub fn replay(&self, stored: store::StoredResponse) -> Result<Reply, KeyConflict> {
        if stored.request_hash != self.fingerprint.as_bytes() {
            return Err(KeyConflict::Reused);
        }
        if stored.in_flight {
            return Err(KeyConflict::InFlight);
        }
        Ok(Reply {
            status: u16::try_from(stored.response_status).unwrap_or(500),
            body: stored.response_body,
            replayed: true,
            recorded: None,
        })
    }

    /// The request's key, if it sent one, with the fingerprint of its parsed
    /// body: `"5"` and `5`, or reordered fields, are the same request.
    pub fn from_request(
        req: &HttpRequest,
        parsed: &impl Serialize,
    ) -> Result<Option<Self>, InvalidIdempotencyKey> {
        let Some(raw) = req.headers().get(HEADER) else {
            return Ok(None);
        };
        let retention = req
            .app_data::<actix_web::web::Data<Retention>>()
            .map_or_else(Retention::default, |r| *r.get_ref());
        let key = IdempotencyKey::parse(raw.as_bytes())?.kept_for(retention);
        let canonical = serde_json::to_vec(parsed).unwrap_or_default();
        let route = format!("{} {}", req.method(), req.path());
        Ok(Some(Self {
            key,
            fingerprint: Fingerprint::of(&route, &canonical),
        }))
    }
}

/// The answer to a POST, as it is stored for replays.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub body: String,
    /// True when this is the stored answer of an earlier request.
    pub replayed: bool,
    /// What the request recorded, as labels for the service's metrics.
    pub recorded: Option<(&'static str, &'static str)>,
}

impl Reply {
    pub fn new(status: u16, body: &impl Serialize) -> Result<Self, serde_json::Error> {
        Ok(Self {
            status,
            body: serde_json::to_string(body)?,
            replayed: false,
            recorded: None,
        })
    }

    pub fn recording(mut self, kind: &'static str, status: &'static str) -> Self {
        self.recorded = Some((kind, status));
        self
    }

    pub fn into_response(self) -> actix_web::HttpResponse {
        let status = actix_web::http::StatusCode::from_u16(self.status)
            .unwrap_or(actix_web::http::StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = actix_web::HttpResponse::build(status);
        response.content_type("application/json");
        if self.replayed {
            response.insert_header((REPLAYED_HEADER, "true"));
        }
        response.body(self.body)
    }
}

/// Why a key could not be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum KeyConflict {
    #[error("a request with this Idempotency-Key is still being processed; retry later")]
    InFlight,
    #[error("this Idempotency-Key was already used with a different request")]
    Reused,
}

/// The stored answer of an earlier request with this key, replayed, if there
/// is one (or the key's conflict), read without taking the key: for a route
/// that does outside work before [`run_once`] (which looks again under the
/// key's lock), so that a repeat gets its answer without that work.
pub fn stored_reply<E>(
    conn: &mut PgConnection,
    idempotency: &Idempotency,
) -> Result<Option<Reply>, E>
where
    E: From<diesel::result::Error> + From<KeyConflict>,
{
    match store::find(conn, &idempotency.key)? {
        Some(stored) => Ok(Some(idempotency.replay(stored)?)),
        None => Ok(None),
    }
}

/// Runs `work` in one transaction, once per idempotency key.
///
/// The key's advisory lock is held for the whole transaction, so a second
/// request with the same key either finds the lock taken (in flight) or takes
/// it after the first committed and finds the stored answer. Work that fails
/// with an error rolls back and stores nothing, so the key stays free.
pub fn run_once<E, F>(
    conn: &mut PgConnection,
    idempotency: Option<Idempotency>,
    work: F,
) -> Result<Reply, E>
where
    E: From<diesel::result::Error> + From<KeyConflict>,
    F: FnOnce(&mut PgConnection) -> Result<Reply, E>,
{
    run_once_holding(conn, idempotency, None, work)
}

/// As [`run_once`], for a request that goes on working after `work` commits
/// and then stores its final answer with
/// [`replace_answer`](store::replace_answer): until it does, or for
/// `in_flight_for` at most (the request died on the way), a repeat is
/// `409 idempotency_key_in_flight`, as while `work` runs.
pub fn run_once_holding<E, F>(
    conn: &mut PgConnection,
    idempotency: Option<Idempotency>,
    in_flight_for: Option<std::time::Duration>,
    work: F,
) -> Result<Reply, E>
where
    E: From<diesel::result::Error> + From<KeyConflict>,
    F: FnOnce(&mut PgConnection) -> Result<Reply, E>,
{
    conn.transaction(|conn| {
        let Some(idem) = idempotency else {
            return work(conn);
        };
        if !store::try_lock(conn, &idem.key)? {
            return Err(KeyConflict::InFlight.into());
        }
        if let Some(stored) = store::find(conn, &idem.key)? {
            return Ok(idem.replay(stored)?);
        }
        let reply = work(conn)?;
        store::save(
            conn,
            &idem.key,
            &idem.fingerprint,
            reply.status,
            &reply.body,
            in_flight_for,
        )?;
        Ok(reply)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_printable_ascii_up_to_255() {
        assert!(IdempotencyKey::parse(b"abc-123 ~").is_ok());
        assert!(IdempotencyKey::parse(&[b'a'; 255]).is_ok());
        assert!(IdempotencyKey::parse(&[b'a'; 256]).is_err());
        assert!(IdempotencyKey::parse(b"").is_err());
        assert!(IdempotencyKey::parse(b"tab\there").is_err());
        assert!(IdempotencyKey::parse("é".as_bytes()).is_err());
    }

    #[test]
    fn fingerprints_differ_by_route_and_body() {
        let a = Fingerprint::of("POST /a", b"{}");
        assert_eq!(a, Fingerprint::of("POST /a", b"{}"));
        assert_ne!(a, Fingerprint::of("POST /b", b"{}"));
        assert_ne!(a, Fingerprint::of("POST /a", b"{ }"));
    }
}

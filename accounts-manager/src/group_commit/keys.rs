//! The idempotency keys of a batch: the only module of accounts-manager that
//! decides what is stored under a key. Keys are taken before anything else
//! (a key in flight elsewhere, or twice in the batch, answers `409`; one with
//! a stored answer replays it, or `422` for a different request) and stay
//! locked until the batch commits; the answer of each request carried out is
//! written with the batch.

use std::collections::{HashMap, HashSet};

use diesel::pg::PgConnection;
use service_kit::idempotency::{Idempotency, IdempotencyKey};
use service_kit::idempotency_store;

use super::{Answer, Request};
use crate::error::ApiError;
use crate::operations::Reply;
use crate::store::books::NewKey;

/// Takes the batch's keys and answers the requests that must not run.
pub fn take(
    conn: &mut PgConnection,
    requests: &[Request],
    answers: &mut [Option<Answer>],
) -> Result<(), ApiError> {
    let mut seen = HashSet::new();
    let mut keyed: Vec<(usize, &IdempotencyKey)> = Vec::new();
    for (i, request) in requests.iter().enumerate() {
        if let Some(idem) = &request.idempotency {
            if seen.insert(idem.key.as_str()) {
                keyed.push((i, &idem.key));
            } else {
                answers[i] = Some(Err(ApiError::IdempotencyKeyInFlight));
            }
        }
    }
    if keyed.is_empty() {
        return Ok(());
    }
    let keys: Vec<&IdempotencyKey> = keyed.iter().map(|(_, key)| *key).collect();
    let locked = idempotency_store::try_lock_all(conn, &keys)?;
    let mut held = Vec::with_capacity(keyed.len());
    for ((i, key), locked) in keyed.into_iter().zip(locked) {
        if locked {
            held.push((i, key));
        } else {
            answers[i] = Some(Err(ApiError::IdempotencyKeyInFlight));
        }
    }
    // A statement of its own, after the locks: one that took the locks and
    // read in the same snapshot could miss an answer committed in between.
    let keys: Vec<&IdempotencyKey> = held.iter().map(|(_, key)| *key).collect();
    let mut stored: HashMap<String, _> = idempotency_store::find_all(conn, &keys)?
        .into_iter()
        .collect();
    for (i, key) in held {
        if let (Some(stored), Some(idem)) = (stored.remove(key.as_str()), &requests[i].idempotency)
        {
            answers[i] = Some(idem.replay(stored).map_err(ApiError::from));
        }
    }
    Ok(())
}

/// What to store under the key of a request that was carried out.
pub fn to_store(idempotency: &Idempotency, reply: &Reply) -> NewKey {
    NewKey {
        key: idempotency.key.as_str().to_owned(),
        request_hash: idempotency.fingerprint.as_bytes().to_vec(),
        // HTTP statuses are three digits.
        status: i16::try_from(reply.status).unwrap_or(i16::MAX),
        body: reply.body.clone(),
    }
}

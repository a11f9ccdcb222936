//! The use cases. Every movement of money is a command of the ledger engine
//! (`group_commit`), which applies it at most once per idempotency key; an
//! account's labels are merged in a database transaction of their own (they
//! move no money); reads run on a connection taken from the pool inside a
//! blocking task.

pub mod accounts;
pub mod answers;
pub mod audit;
pub mod csv;
pub mod events;
pub mod listings;
pub mod reservations;
pub mod statements;

pub use service_kit::db::run;
pub use service_kit::idempotency::{Idempotency, Reply};

use crate::error::ApiError;

/// A reply with a JSON body; serializing our own wire types does not fail,
/// but if it did the request fails rather than answering garbage.
pub fn reply(status: u16, body: &impl serde::Serialize) -> Result<Reply, ApiError> {
    Reply::new(status, body).map_err(ApiError::internal)
}

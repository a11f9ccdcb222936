//! Wire types of the payments services: what goes over HTTP and RabbitMQ.
//!
//! Callers (other services, the tests, producers of jobs) depend on this crate
//! to speak the contract in `API.md` without copying its shapes. It holds data
//! and serde formats only; the rules about the data live in the services.

pub mod access;
pub mod accounts;
pub mod advances;
pub mod error;
pub mod headers;
pub mod money;
pub mod named;
pub mod openapi;
pub mod time;

pub use error::{ErrorBody, ErrorDetail};
pub use money::{AmountInput, RateInput};
pub use named::Named;

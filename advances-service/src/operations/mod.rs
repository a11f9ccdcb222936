//! The use cases: what the API, the scheduler and the worker do, each step a
//! database transaction, with calls to accounts-manager and RabbitMQ only
//! after the step that records the intent has committed.

pub mod advances;
pub mod collection;
pub mod reconciliation;

pub use service_kit::db::run;

//! accounts-manager: the double-entry ledger service.

pub mod auth;
pub mod configuration;
pub mod domain;
pub mod error;
pub mod metrics;
pub mod openapi;
pub mod operations;
pub mod routes;
pub mod startup;
pub mod store;
pub mod telemetry;

pub use configuration::Settings;
pub use startup::Application;

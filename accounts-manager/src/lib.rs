//! accounts-manager: the double-entry ledger service.

pub mod configuration;
pub mod context;
pub mod domain;
pub mod error;
pub mod group_commit;
pub mod jobs;
pub mod openapi;
pub mod operations;
pub mod routes;
pub mod startup;
pub mod store;

pub use configuration::Settings;
pub use startup::Application;

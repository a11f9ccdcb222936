//! advances-service: advances paid into an account at once and collected back
//! in payments over RabbitMQ, each at most once.

pub mod clients;
pub mod configuration;
pub mod context;
pub mod domain;
pub mod error;
pub mod jobs;
pub mod openapi;
pub mod operations;
pub mod routes;
pub mod startup;
pub mod store;

pub use configuration::Settings;
pub use startup::Application;

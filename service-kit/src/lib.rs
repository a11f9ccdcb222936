//! What both services are built on: the service skeleton (the HTTP app and
//! the background peers under one shutdown), access control (API keys, scopes,
//! rate limits), request ids, JSON logs and traces, Prometheus request metrics, the
//! contract's error body, settings from the environment, and idempotent POSTs
//! stored in Postgres, and the relay that publishes an outbox to RabbitMQ.

pub mod access;
pub mod amount;
pub mod auth;
pub mod config;
pub mod currency;
pub mod db;
pub mod error;
pub mod events;
pub mod health;
pub mod http;
pub mod idempotency;
pub mod idempotency_store;
pub mod listing;
pub mod metrics;
pub mod openapi;
pub mod prepared;
pub mod route;
pub mod rule;
pub mod service;
pub mod shutdown;
pub mod stored;
pub mod telemetry;
pub mod trace;

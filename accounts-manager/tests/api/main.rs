//! accounts-manager's API tests: the real application on a fresh database per test.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed test should panic

mod access;
mod accounts;
mod audit;
mod balance_at;
mod batches;
mod by_user;
mod concurrency;
mod cursors;
mod errors;
mod events;
mod exchanges;
mod expiry;
mod group_commit;
mod helpers;
mod history;
mod idempotency;
mod metadata;
mod movements;
mod operations;
mod reservations;
mod revenue;
mod reversals;
mod statements;
mod status;

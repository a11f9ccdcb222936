//! advances-service's tests: the real service with the real accounts-manager
//! in-process, a fresh database each and a fresh RabbitMQ vhost per test.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed test should panic

mod access;
mod api;
mod collection;
mod dead_letters;
mod events;
mod faults;
mod helpers;
mod listings;
mod observability;
mod overdue;
mod payoff;
mod portfolio;
mod reconciliation;
mod traces;

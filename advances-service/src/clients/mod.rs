//! The other parts of the system this service talks to.

pub mod accounts;
pub mod broker;

//! What accounts-manager does by itself, in the background: each job is a
//! loop that runs beside the HTTP server and stops when told.

pub mod audit;
pub mod recount;
pub mod sweeper;

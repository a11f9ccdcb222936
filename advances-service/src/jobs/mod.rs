//! What advances-service does by itself, in the background: the scheduler
//! and the worker, each a loop that runs beside the HTTP server and stops
//! when told.

pub mod scheduler;
pub mod worker;

//! What accounts-manager does by itself, in the background.

pub mod recount;
pub mod sweeper;

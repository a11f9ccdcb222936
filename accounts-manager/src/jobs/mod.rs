//! What accounts-manager does by itself, in the background.

pub mod sweeper;

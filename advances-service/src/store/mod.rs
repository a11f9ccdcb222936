//! Postgres access with diesel: migrations, and one module per table.

pub mod advances;
pub mod dead_letters;
pub mod events;
pub mod payments;
pub mod portfolio;
pub mod reconciliation;
pub mod schema;

use diesel::pg::PgConnection;
use diesel_migrations::{embed_migrations, EmbeddedMigrations};
pub use service_kit::db::{build_pool, ping, PgPool};

pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("../migrations/advances-service");

/// A fixed advisory-lock id under which instances apply migrations one at a time.
const MIGRATION_LOCK_ID: i64 = 0x6164_7661_6e63_6573; // "advances"

pub fn run_migrations(
    conn: &mut PgConnection,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    service_kit::db::run_migrations(conn, MIGRATIONS, MIGRATION_LOCK_ID)
}

/// Seconds as Postgres wants them for `make_interval(secs => ...)`.
pub fn seconds(duration: std::time::Duration) -> f64 {
    duration.as_secs_f64()
}

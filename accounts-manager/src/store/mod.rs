//! Postgres access with diesel: the pool, migrations, and one module per table.
//! Every function here runs on a connection the caller took from the pool,
//! usually inside a database transaction the caller opened.

pub mod accounts;
pub mod audit;
pub mod reservations;
pub mod schema;
pub mod transactions;

use std::time::Duration;

use diesel::pg::PgConnection;
use diesel::r2d2::{ConnectionManager, Pool, PooledConnection};
use diesel::sql_types::BigInt;
use diesel::RunQueryDsl;
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

pub type PgPool = Pool<ConnectionManager<PgConnection>>;
pub type PgConn = PooledConnection<ConnectionManager<PgConnection>>;

pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("../migrations/accounts-manager");

/// A fixed advisory-lock id under which instances apply migrations one at a time.
const MIGRATION_LOCK_ID: i64 = 0x6163_636f_756e_7473; // "accounts"

pub fn build_pool(
    database_url: &str,
    max_size: u32,
    connection_timeout: Duration,
) -> Result<PgPool, diesel::r2d2::PoolError> {
    Pool::builder()
        .max_size(max_size)
        .min_idle(Some(1))
        .connection_timeout(connection_timeout)
        .test_on_check_out(false)
        .build(ConnectionManager::new(database_url))
}

/// Applies pending migrations; several instances starting at once take turns.
pub fn run_migrations(
    conn: &mut PgConnection,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    diesel::sql_query("SELECT pg_advisory_lock($1)")
        .bind::<BigInt, _>(MIGRATION_LOCK_ID)
        .execute(conn)?;
    let applied = conn.run_pending_migrations(MIGRATIONS).map(|_| ());
    diesel::sql_query("SELECT pg_advisory_unlock($1)")
        .bind::<BigInt, _>(MIGRATION_LOCK_ID)
        .execute(conn)?;
    applied
}

/// Checks that the database answers.
pub fn ping(conn: &mut PgConnection) -> diesel::QueryResult<()> {
    diesel::sql_query("SELECT 1").execute(conn).map(|_| ())
}

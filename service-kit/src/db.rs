//! The Postgres pool, migrations applied one instance at a time, and blocking work.

use std::time::Duration;

use diesel::pg::PgConnection;
use diesel::r2d2::{ConnectionManager, Pool, PooledConnection};
use diesel::sql_types::BigInt;
use diesel::RunQueryDsl;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness};

pub type PgPool = Pool<ConnectionManager<PgConnection>>;
pub type PgConn = PooledConnection<ConnectionManager<PgConnection>>;

pub fn build_pool(
    database_url: &str,
    max_size: u32,
    connection_timeout: Duration,
) -> Result<PgPool, diesel::r2d2::PoolError> {
    Pool::builder()
        .max_size(max_size)
        .min_idle(Some(1))
        .connection_timeout(connection_timeout)
        // A connection broken by a database restart is found and replaced here,
        // not handed to a request.
        .test_on_check_out(true)
        .build(ConnectionManager::new(database_url))
}

/// Applies pending migrations under an advisory lock, so that several
/// instances starting at once take turns.
pub fn run_migrations(
    conn: &mut PgConnection,
    migrations: EmbeddedMigrations,
    lock_id: i64,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    diesel::sql_query("SELECT pg_advisory_lock($1)")
        .bind::<BigInt, _>(lock_id)
        .execute(conn)?;
    let applied = conn.run_pending_migrations(migrations).map(|_| ());
    diesel::sql_query("SELECT pg_advisory_unlock($1)")
        .bind::<BigInt, _>(lock_id)
        .execute(conn)?;
    applied
}

/// Checks that the database answers.
pub fn ping(conn: &mut PgConnection) -> diesel::QueryResult<()> {
    diesel::sql_query("SELECT 1").execute(conn).map(|_| ())
}

/// Runs `work` on a pooled connection in a blocking task: diesel is
/// synchronous, and the HTTP workers must not wait on the database.
pub async fn run<T, F>(pool: &PgPool, work: F) -> Result<T, crate::error::ApiError>
where
    F: FnOnce(&mut PgConnection) -> Result<T, crate::error::ApiError> + Send + 'static,
    T: Send + 'static,
{
    let pool = pool.clone();
    actix_web::web::block(move || {
        let mut conn = pool.get()?;
        work(&mut conn)
    })
    .await?
}

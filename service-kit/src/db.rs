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
        // No ping on every checkout (a round trip per request): a connection
        // that fails as unavailable is marked broken instead (`discard_if_dead`),
        // and the pool replaces it.
        .test_on_check_out(false)
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
        let result = work(&mut conn);
        discard_if_dead(&mut conn, &result);
        result
    })
    .await?
}

/// After a database restart a pooled connection is dead, but diesel only
/// notices a broken transaction. When work failed because the database was
/// unavailable, this marks the connection broken so the pool drops it
/// instead of handing it out again.
pub fn discard_if_dead<T>(conn: &mut PgConn, result: &Result<T, crate::error::ApiError>) {
    if let Err(error) = result {
        discard_if_unavailable(conn, error);
    }
}

/// [`discard_if_dead`] for work that failed with `error`.
pub fn discard_if_unavailable(conn: &mut PgConn, error: &crate::error::ApiError) {
    if matches!(error, crate::error::ApiError::Unavailable(_)) {
        discard(conn);
    }
}

/// Marks a connection broken, so the pool drops it instead of handing it out
/// again: for work that failed because the database was unavailable.
pub fn discard(conn: &mut PgConn) {
    use diesel::connection::{AnsiTransactionManager, TransactionManager};
    AnsiTransactionManager::transaction_manager_status_mut(&mut **conn).set_in_error();
}

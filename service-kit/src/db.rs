//! The Postgres pool, migrations applied one instance at a time, and blocking work.

use std::time::Duration;

use diesel::migration::{Migration, MigrationSource};
use diesel::pg::Pg;
use diesel::pg::PgConnection;
use diesel::r2d2::{ConnectionManager, Pool, PooledConnection};
use diesel::sql_types::BigInt;
use diesel::RunQueryDsl;
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

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
        // that fails as unavailable is marked broken instead (see `blocking`),
        // and the pool replaces it.
        .test_on_check_out(false)
        .build(ConnectionManager::new(database_url))
}

/// The tables service-kit's own code reads and writes in both services'
/// databases: stored idempotent answers, API keys, the event relay's horizon
/// and progress (`migrations/service-kit`).
pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("../migrations/service-kit");

/// A service's migrations with service-kit's, as one list: diesel applies
/// the pending ones of both in version order, so a service migration may
/// build on a service-kit table and the other way round.
struct WithKit(EmbeddedMigrations);

impl MigrationSource<Pg> for WithKit {
    fn migrations(&self) -> diesel::migration::Result<Vec<Box<dyn Migration<Pg>>>> {
        let mut all = MigrationSource::<Pg>::migrations(&MIGRATIONS)?;
        all.extend(MigrationSource::<Pg>::migrations(&self.0)?);
        Ok(all)
    }
}

/// Applies a service's pending migrations and service-kit's under an
/// advisory lock, so that several instances starting at once take turns.
pub fn run_migrations(
    conn: &mut PgConnection,
    migrations: EmbeddedMigrations,
    lock_id: i64,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    diesel::sql_query("SELECT pg_advisory_lock($1)")
        .bind::<BigInt, _>(lock_id)
        .execute(conn)?;
    let applied = conn.run_pending_migrations(WithKit(migrations)).map(|_| ());
    diesel::sql_query("SELECT pg_advisory_unlock($1)")
        .bind::<BigInt, _>(lock_id)
        .execute(conn)?;
    applied
}

/// Checks that the database answers.
pub fn ping(conn: &mut PgConnection) -> diesel::QueryResult<()> {
    diesel::sql_query("SELECT 1").execute(conn).map(|_| ())
}

/// What work on a pooled connection fails with: the pool's and the blocking
/// task's failures become one, and it tells when the database was away.
pub trait WorkError: From<diesel::r2d2::PoolError> + Send + 'static {
    /// The database could not be reached (the connection is then dropped).
    fn database_unavailable(&self) -> bool;
    /// The blocking task panicked or was cancelled.
    fn task_failed(error: tokio::task::JoinError) -> Self;
}

/// Runs `work` on a pooled connection in a blocking task: diesel is
/// synchronous, and neither the HTTP workers nor the background loops may
/// wait on the database. After a database restart a pooled connection is
/// dead, but diesel only notices a broken transaction: when `work` failed
/// because the database was away, the connection is marked broken so the
/// pool drops it instead of handing it out again.
pub async fn blocking<T, E, F>(pool: &PgPool, work: F) -> Result<T, E>
where
    F: FnOnce(&mut PgConnection) -> Result<T, E> + Send + 'static,
    T: Send + 'static,
    E: WorkError,
{
    let pool = pool.clone();
    tokio::task::spawn_blocking(move || {
        let mut conn = pool.get()?;
        let result = work(&mut conn);
        if result.as_ref().is_err_and(E::database_unavailable) {
            discard(&mut conn);
        }
        result
    })
    .await
    .map_err(E::task_failed)?
}

/// [`blocking`] for the work of a request.
pub async fn run<T, F>(pool: &PgPool, work: F) -> Result<T, crate::error::ApiError>
where
    F: FnOnce(&mut PgConnection) -> Result<T, crate::error::ApiError> + Send + 'static,
    T: Send + 'static,
{
    blocking(pool, work).await
}

/// For work that cannot run inside [`blocking`] (it streams out of its
/// blocking task): drops the connection when `error` says the database was away.
pub fn discard_if_unavailable<E: WorkError>(conn: &mut PgConn, error: &E) {
    if error.database_unavailable() {
        discard(conn);
    }
}

/// Marks a connection broken, so the pool drops it instead of handing it out
/// again: for work that failed because the database was unavailable.
pub fn discard(conn: &mut PgConn) {
    use diesel::connection::{AnsiTransactionManager, TransactionManager};
    AnsiTransactionManager::transaction_manager_status_mut(&mut **conn).set_in_error();
}

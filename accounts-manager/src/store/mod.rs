//! Postgres access with diesel: migrations, and one module per table. Every
//! function here runs on a connection the caller took from the pool, usually
//! inside a database transaction the caller opened.

pub mod accounts;
pub mod audit;
pub mod books;
pub mod events;
pub mod reservations;
pub mod revenue;
pub mod schema;
pub mod statements;
pub mod transactions;

use diesel::pg::PgConnection;
use diesel_migrations::{embed_migrations, EmbeddedMigrations};
pub use service_kit::db::{build_pool, ping, PgConn, PgPool};

pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("../migrations/accounts-manager");

/// A fixed advisory-lock id under which instances apply migrations one at a time.
const MIGRATION_LOCK_ID: i64 = 0x6163_636f_756e_7473; // "accounts"

pub fn run_migrations(
    conn: &mut PgConnection,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    service_kit::db::run_migrations(conn, MIGRATIONS, MIGRATION_LOCK_ID)
}

/// A stored value the code does not know: the row is corrupt, never guessed at.
pub fn corrupt(error: impl std::fmt::Display) -> diesel::result::Error {
    diesel::result::Error::DeserializationError(error.to_string().into())
}

#[derive(diesel::QueryableByName)]
struct SealKey {
    #[diesel(sql_type = diesel::sql_types::Bytea)]
    key: Vec<u8>,
}

/// The key that seals the listings' snapshot tokens (one for the database).
pub fn token_seal_key(conn: &mut PgConnection) -> diesel::QueryResult<Vec<u8>> {
    use diesel::RunQueryDsl;
    diesel::sql_query("SELECT key FROM token_seal")
        .get_result::<SealKey>(conn)
        .map(|row| row.key)
}

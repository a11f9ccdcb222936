//! The `api_keys` table (`migrations/service-kit`).

use chrono::{DateTime, Utc};
use diesel::pg::PgConnection;
use diesel::prelude::*;
use uuid::Uuid;

diesel::table! {
    api_keys (id) {
        id -> Uuid,
        name -> Text,
        secret_hash -> Bytea,
        scopes -> Array<Text>,
        created_at -> Timestamptz,
        expires_at -> Nullable<Timestamptz>,
        revoked_at -> Nullable<Timestamptz>,
        last_used_at -> Nullable<Timestamptz>,
    }
}

/// One stored key: the hash of its secret, never the secret.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = api_keys)]
#[diesel(check_for_backend(diesel::pg::Pg))]
pub struct KeyRow {
    pub id: Uuid,
    pub name: String,
    pub secret_hash: Vec<u8>,
    pub scopes: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
}

impl KeyRow {
    /// The key as the API shows it (no secret).
    pub fn to_wire(&self) -> shared_types::access::ApiKey {
        shared_types::access::ApiKey {
            key_id: self.id,
            name: self.name.clone(),
            scopes: self.scopes.clone(),
            created_at: self.created_at,
            expires_at: self.expires_at,
            revoked_at: self.revoked_at,
            last_used_at: self.last_used_at,
            secret: None,
        }
    }
}

pub fn insert(conn: &mut PgConnection, row: &KeyRow) -> QueryResult<()> {
    diesel::insert_into(api_keys::table)
        .values(row)
        .execute(conn)
        .map(|_| ())
}

/// Every key, oldest first.
pub fn all(conn: &mut PgConnection) -> QueryResult<Vec<KeyRow>> {
    api_keys::table
        .order((api_keys::created_at, api_keys::id))
        .select(KeyRow::as_select())
        .load(conn)
}

pub fn find(conn: &mut PgConnection, id: Uuid) -> QueryResult<Option<KeyRow>> {
    api_keys::table
        .find(id)
        .select(KeyRow::as_select())
        .first(conn)
        .optional()
}

/// Revokes a key (a second revocation keeps the first time); `None` when
/// there is no such key.
pub fn revoke(conn: &mut PgConnection, id: Uuid) -> QueryResult<Option<KeyRow>> {
    diesel::update(api_keys::table.find(id))
        .set(api_keys::revoked_at.eq(diesel::dsl::sql::<
            diesel::sql_types::Nullable<diesel::sql_types::Timestamptz>,
        >("COALESCE(revoked_at, now())")))
        .returning(KeyRow::as_returning())
        .get_result(conn)
        .optional()
}

/// Records that these keys were used at `at`.
pub fn touch(conn: &mut PgConnection, ids: &[Uuid], at: DateTime<Utc>) -> QueryResult<usize> {
    diesel::update(api_keys::table.filter(api_keys::id.eq_any(ids)))
        .set(api_keys::last_used_at.eq(at))
        .execute(conn)
}

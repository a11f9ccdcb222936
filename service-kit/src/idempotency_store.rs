//! The `idempotency_keys` table (each service's migrations create it the same
//! way) and the advisory lock that marks a key in flight.

use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool};

use crate::idempotency::{Fingerprint, IdempotencyKey};

diesel::table! {
    idempotency_keys (key) {
        key -> Text,
        request_hash -> Bytea,
        response_status -> Int2,
        response_body -> Text,
        created_at -> Timestamptz,
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = idempotency_keys)]
#[diesel(check_for_backend(diesel::pg::Pg))]
pub struct StoredResponse {
    pub request_hash: Vec<u8>,
    pub response_status: i16,
    pub response_body: String,
}

#[derive(QueryableByName)]
struct Locked {
    #[diesel(sql_type = Bool)]
    locked: bool,
}

/// Takes the key's lock for the rest of the transaction; `false` when another
/// transaction holds it, that is, when a request with this key is in flight.
pub fn try_lock(conn: &mut PgConnection, key: &IdempotencyKey) -> QueryResult<bool> {
    diesel::sql_query("SELECT pg_try_advisory_xact_lock($1) AS locked")
        .bind::<BigInt, _>(key.lock_id())
        .get_result::<Locked>(conn)
        .map(|r| r.locked)
}

/// Tries every key's lock at once (see [`try_lock`]); the answer is in the
/// order of `keys`.
pub fn try_lock_all(conn: &mut PgConnection, keys: &[&IdempotencyKey]) -> QueryResult<Vec<bool>> {
    let ids: Vec<i64> = keys.iter().map(|key| key.lock_id()).collect();
    diesel::sql_query(
        "SELECT pg_try_advisory_xact_lock(k.id) AS locked \
         FROM unnest($1::bigint[]) WITH ORDINALITY AS k(id, n) ORDER BY k.n",
    )
    .bind::<diesel::sql_types::Array<BigInt>, _>(ids)
    .load::<Locked>(conn)
    .map(|rows| rows.into_iter().map(|r| r.locked).collect())
}

/// The stored answers of those of `keys` that have one, with their keys.
pub fn find_all(
    conn: &mut PgConnection,
    keys: &[&IdempotencyKey],
) -> QueryResult<Vec<(String, StoredResponse)>> {
    idempotency_keys::table
        .filter(idempotency_keys::key.eq_any(keys.iter().map(|key| key.as_str())))
        .select((idempotency_keys::key, StoredResponse::as_select()))
        .load(conn)
}

pub fn find(conn: &mut PgConnection, key: &IdempotencyKey) -> QueryResult<Option<StoredResponse>> {
    idempotency_keys::table
        .find(key.as_str())
        .select(StoredResponse::as_select())
        .first(conn)
        .optional()
}

pub fn save(
    conn: &mut PgConnection,
    key: &IdempotencyKey,
    fingerprint: &Fingerprint,
    status: u16,
    body: &str,
) -> QueryResult<()> {
    diesel::insert_into(idempotency_keys::table)
        .values((
            idempotency_keys::key.eq(key.as_str()),
            idempotency_keys::request_hash.eq(fingerprint.as_bytes()),
            // HTTP statuses are three digits.
            idempotency_keys::response_status.eq(i16::try_from(status).unwrap_or(i16::MAX)),
            idempotency_keys::response_body.eq(body),
        ))
        .execute(conn)
        .map(|_| ())
}

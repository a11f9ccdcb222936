//! The `idempotency_keys` table (`migrations/service-kit`, with an index on
//! `created_at` for the sweeper), the advisory lock that
//! marks a key in flight, and the sweeper that deletes stored answers past
//! `IDEMPOTENCY_RETENTION`.

use std::time::Duration;

use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Bool, Double, Text, Timestamptz};

use crate::db::PgPool;
use crate::idempotency::{Fingerprint, IdempotencyKey, Retention};
use crate::shutdown::Shutdown;

diesel::table! {
    idempotency_keys (key) {
        key -> Text,
        request_hash -> Bytea,
        response_status -> Int2,
        response_body -> Text,
        created_at -> Timestamptz,
        in_flight_until -> Nullable<Timestamptz>,
    }
}

#[derive(Debug, Clone, QueryableByName)]
#[diesel(table_name = idempotency_keys)]
#[diesel(check_for_backend(diesel::pg::Pg))]
pub struct StoredResponse {
    pub request_hash: Vec<u8>,
    pub response_status: i16,
    pub response_body: String,
    /// The request that stored this answer is still at work (see
    /// [`save`]'s `in_flight_for`): a repeat is told to come back.
    #[diesel(sql_type = Bool)]
    pub in_flight: bool,
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

#[derive(QueryableByName)]
struct LiveAnswer {
    #[diesel(sql_type = Text)]
    key: String,
    #[diesel(embed)]
    stored: StoredResponse,
}

/// The stored answers of those of `keys` that have one younger than the
/// keys' retention, with their keys. An answer past it is deleted (the
/// caller holds the keys' locks): its key is a new request.
pub fn find_all(
    conn: &mut PgConnection,
    keys: &[&IdempotencyKey],
) -> QueryResult<Vec<(String, StoredResponse)>> {
    let Some(retention) = keys.iter().map(|key| key.retention()).min_by_key(|r| r.0) else {
        return Ok(Vec::new());
    };
    let names: Vec<&str> = keys.iter().map(|key| key.as_str()).collect();
    diesel::sql_query(include_str!("idempotency_store/find_live.sql"))
        .bind::<Array<Text>, _>(names)
        .bind::<Double, _>(seconds(retention))
        .load::<LiveAnswer>(conn)
        .map(|rows| rows.into_iter().map(|row| (row.key, row.stored)).collect())
}

pub fn find(conn: &mut PgConnection, key: &IdempotencyKey) -> QueryResult<Option<StoredResponse>> {
    Ok(find_all(conn, &[key])?
        .into_iter()
        .next()
        .map(|(_, stored)| stored))
}

fn seconds(retention: Retention) -> f64 {
    retention.0.as_secs_f64()
}

/// Deletes at most `batch` stored answers past `retention`, oldest first;
/// how many it deleted.
pub fn sweep_once(conn: &mut PgConnection, retention: Retention, batch: i64) -> QueryResult<usize> {
    diesel::sql_query(include_str!("idempotency_store/sweep.sql"))
        .bind::<Double, _>(seconds(retention))
        .bind::<BigInt, _>(batch)
        .execute(conn)
}

/// Rows one sweep deletes at most in one statement: small, so that it never
/// holds many row locks or a long transaction.
const SWEEP_BATCH: i64 = 500;

/// How often the sweeper looks for answers past `retention`.
pub fn sweep_interval(retention: Retention) -> Duration {
    (retention.0 / 10).clamp(Duration::from_secs(1), Duration::from_secs(60))
}

/// Deletes stored answers past `retention` in small batches, now and then,
/// until told to stop. Any number of instances may run it.
pub async fn sweep(pool: PgPool, retention: Retention, mut shutdown: Shutdown) {
    while !shutdown.sleep(sweep_interval(retention)).await {
        let swept = crate::db::run(&pool, move |conn| {
            let mut total = 0;
            loop {
                let deleted = sweep_once(conn, retention, SWEEP_BATCH)?;
                total += deleted;
                if deleted < usize::try_from(SWEEP_BATCH).unwrap_or(usize::MAX) {
                    return Ok(total);
                }
            }
        })
        .await;
        match swept {
            Ok(0) => {}
            Ok(n) => tracing::info!(
                deleted = n,
                "idempotency answers past their retention deleted"
            ),
            Err(error) => {
                tracing::warn!(error = %crate::error::error_chain(&error), "cannot sweep idempotency answers")
            }
        }
    }
}

/// Stores the answer under `key`. With `in_flight_for`, the request goes on
/// working after its transaction commits (an advance stored, then paid out):
/// for that long, or until [`replace_answer`] stores its final answer, a
/// repeat is `409 idempotency_key_in_flight`; after it (the request died on
/// the way), the stored answer is replayed.
pub fn save(
    conn: &mut PgConnection,
    key: &IdempotencyKey,
    fingerprint: &Fingerprint,
    status: u16,
    body: &str,
    in_flight_for: Option<Duration>,
) -> QueryResult<()> {
    // On the database's clock, which find_live.sql compares it with (NULL
    // without a hold).
    let in_flight_until = diesel::dsl::sql::<diesel::sql_types::Nullable<Timestamptz>>(
        "now() + make_interval(secs => ",
    )
    .bind::<diesel::sql_types::Nullable<Double>, _>(in_flight_for.map(|d| d.as_secs_f64()))
    .sql(")");
    diesel::insert_into(idempotency_keys::table)
        .values((
            idempotency_keys::key.eq(key.as_str()),
            idempotency_keys::request_hash.eq(fingerprint.as_bytes()),
            // HTTP statuses are three digits.
            idempotency_keys::response_status.eq(i16::try_from(status).unwrap_or(i16::MAX)),
            idempotency_keys::response_body.eq(body),
            idempotency_keys::in_flight_until.eq(in_flight_until),
        ))
        .execute(conn)
        .map(|_| ())
}

/// Replaces the answer stored under `key` (kept with its fingerprint) with
/// the request's final one: for a request saved `in_flight_for` a while (see
/// [`save`]), so that a repeat gets what the first request answered.
pub fn replace_answer(
    conn: &mut PgConnection,
    key: &IdempotencyKey,
    status: u16,
    body: &str,
) -> QueryResult<()> {
    diesel::update(idempotency_keys::table.find(key.as_str()))
        .set((
            idempotency_keys::response_status.eq(i16::try_from(status).unwrap_or(i16::MAX)),
            idempotency_keys::response_body.eq(body),
            idempotency_keys::in_flight_until.eq(None::<chrono::DateTime<chrono::Utc>>),
        ))
        .execute(conn)
        .map(|_| ())
}

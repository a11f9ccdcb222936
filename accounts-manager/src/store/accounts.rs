//! The `accounts` table.

use chrono::{DateTime, Utc};
use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Jsonb, Nullable, SmallInt, Text, Timestamptz};
use rust_decimal::Decimal;
use service_kit::listing::Start;
use uuid::Uuid;

use super::schema::accounts;
use crate::domain::commands::SYSTEM_SHARDS;
use crate::domain::posting::AccountKind;
use crate::domain::Metadata;
use service_kit::stored::Stored;
use shared_types::accounts::{Account, AccountId, AccountStatus};

#[derive(Debug, Clone, Queryable, Selectable, QueryableByName)]
#[diesel(table_name = accounts)]
#[diesel(check_for_backend(diesel::pg::Pg))]
pub struct AccountRow {
    pub id: Uuid,
    pub kind: Stored<AccountKind>,
    pub user_id: Option<i64>,
    pub currency: String,
    pub balance: Decimal,
    pub reserved: Decimal,
    pub created_at: DateTime<Utc>,
    pub metadata: Option<serde_json::Value>,
    pub status: Stored<AccountStatus>,
    pub status_reason: Option<String>,
}

impl AccountRow {
    /// The wire form; `None` for system accounts, which callers never see.
    pub fn to_wire(&self) -> Option<Account> {
        Some(Account {
            account_id: AccountId(self.id),
            user_id: self.user_id?,
            currency: self.currency.clone(),
            balance: self.balance,
            reserved: self.reserved,
            status: self.status.0,
            status_reason: self.status_reason.clone(),
            metadata: Metadata::stored(self.metadata.clone()).into_map(),
            created_at: self.created_at,
        })
    }
}

/// Creates the currency's external, revenue and fx accounts if they do not exist yet.
pub fn ensure_system_accounts(conn: &mut PgConnection, currency: &str) -> QueryResult<()> {
    diesel::sql_query(include_str!("accounts/ensure_system_accounts.sql"))
        .bind::<Text, _>(currency)
        .bind::<SmallInt, _>(SYSTEM_SHARDS)
        .execute(conn)
        .map(|_| ())
}

pub fn find_user_account(
    conn: &mut PgConnection,
    id: AccountId,
) -> QueryResult<Option<AccountRow>> {
    accounts::table
        .find(id.0)
        .filter(accounts::kind.eq(Stored(AccountKind::User)))
        .select(AccountRow::as_select())
        .first(conn)
        .optional()
}

pub fn list_for_user(conn: &mut PgConnection, user_id: i64) -> QueryResult<Vec<AccountRow>> {
    accounts::table
        .filter(accounts::kind.eq(Stored(AccountKind::User)))
        .filter(accounts::user_id.eq(user_id))
        .order((accounts::created_at, accounts::id))
        .select(AccountRow::as_select())
        .load(conn)
}

/// A user account, locked until the caller's transaction ends.
pub fn lock_user_account(
    conn: &mut PgConnection,
    id: AccountId,
) -> QueryResult<Option<AccountRow>> {
    accounts::table
        .find(id.0)
        .filter(accounts::kind.eq(Stored(AccountKind::User)))
        .select(AccountRow::as_select())
        .for_update()
        .first(conn)
        .optional()
}

/// Replaces an account's labels.
pub fn set_metadata(
    conn: &mut PgConnection,
    id: AccountId,
    metadata: Option<serde_json::Value>,
) -> QueryResult<AccountRow> {
    diesel::update(accounts::table.find(id.0))
        .set(accounts::metadata.eq(metadata))
        .returning(AccountRow::as_returning())
        .get_result(conn)
}

/// What the accounts listing filters by.
#[derive(Debug, Clone, Default)]
pub struct AccountFilter {
    /// `metadata @>` these labels.
    pub labels: Option<serde_json::Value>,
    pub user_id: Option<i64>,
    pub status: Option<&'static str>,
}

/// The listing's rows: user accounts matching the filter, opened as of
/// snapshot `$3` (or before accounts kept their writer).
const LISTED: &str = "kind = 'user' \
    AND ($1::jsonb IS NULL OR (metadata IS NOT NULL AND metadata @> $1)) \
    AND ($2::bigint IS NULL OR user_id = $2) \
    AND ($4::text IS NULL OR status = $4) \
    AND (xid IS NULL OR pg_visible_in_snapshot(xid::text::xid8, $3::pg_snapshot))";

/// One page of the accounts listing, oldest first: `start` rows in, or after
/// a key (time, id). The plan is made for the values given, so an absent
/// filter costs nothing.
pub fn list(
    conn: &mut PgConnection,
    filter: &AccountFilter,
    snapshot: &str,
    start: Start<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> QueryResult<Vec<AccountRow>> {
    diesel::sql_query(format!(
        "SELECT id, kind, user_id, currency, balance, reserved, created_at, metadata, status, \
                status_reason \
         FROM accounts WHERE {LISTED} \
         AND ($5::timestamptz IS NULL OR (created_at, id) > ($5, $6::uuid)) \
         ORDER BY created_at, id LIMIT $7 OFFSET $8"
    ))
    .bind::<Nullable<Jsonb>, _>(filter.labels.clone())
    .bind::<Nullable<BigInt>, _>(filter.user_id)
    .bind::<Text, _>(snapshot)
    .bind::<Nullable<Text>, _>(filter.status)
    .bind::<Nullable<Timestamptz>, _>(start.key().map(|k| k.0))
    .bind::<Nullable<diesel::sql_types::Uuid>, _>(start.key().map(|k| k.1))
    .bind::<BigInt, _>(limit)
    .bind::<BigInt, _>(start.offset())
    .load(conn)
}

/// How many accounts the listing has, as of the snapshot.
pub fn count(conn: &mut PgConnection, filter: &AccountFilter, snapshot: &str) -> QueryResult<i64> {
    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    diesel::sql_query(format!("SELECT count(*) AS n FROM accounts WHERE {LISTED}"))
        .bind::<Nullable<Jsonb>, _>(filter.labels.clone())
        .bind::<Nullable<BigInt>, _>(filter.user_id)
        .bind::<Text, _>(snapshot)
        .bind::<Nullable<Text>, _>(filter.status)
        .get_result::<Count>(conn)
        .map(|c| c.n)
}

#[derive(QueryableByName)]
struct Parts {
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Numeric>)]
    balance: Option<Decimal>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Numeric>)]
    reserved: Option<Decimal>,
}

/// A user account's balance and reserved part once every transaction with
/// `created_at <= at` had been applied (zero before its first).
pub fn parts_at(
    conn: &mut PgConnection,
    id: AccountId,
    at: DateTime<Utc>,
) -> QueryResult<(Decimal, Decimal)> {
    let parts: Option<Parts> = diesel::sql_query(include_str!("accounts/parts_at.sql"))
        .bind::<diesel::sql_types::Uuid, _>(id.0)
        .bind::<diesel::sql_types::Timestamptz, _>(at)
        .get_result(conn)
        .optional()?;
    Ok(parts.map_or((Decimal::ZERO, Decimal::ZERO), |p| {
        (
            p.balance.unwrap_or_default(),
            p.reserved.unwrap_or_default(),
        )
    }))
}

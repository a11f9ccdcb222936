//! The `accounts` table.

use chrono::{DateTime, Utc};
use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text, Uuid as SqlUuid};
use rust_decimal::Decimal;
use uuid::Uuid;

use super::schema::accounts;
use crate::domain::ledger::{AccountKind, AccountState, Bucket, Posting};
use shared_types::accounts::{Account, AccountId};

#[derive(Debug, Clone, Queryable, Selectable, QueryableByName)]
#[diesel(table_name = accounts)]
#[diesel(check_for_backend(diesel::pg::Pg))]
pub struct AccountRow {
    pub id: Uuid,
    pub kind: String,
    pub user_id: Option<i64>,
    pub currency: String,
    pub balance: Decimal,
    pub reserved: Decimal,
    pub created_at: DateTime<Utc>,
}

impl AccountRow {
    pub fn state(&self) -> AccountState {
        AccountState {
            id: AccountId(self.id),
            // The column's CHECK admits only the three kinds.
            kind: AccountKind::parse(&self.kind).unwrap_or(AccountKind::User),
            currency: self.currency.clone(),
            balance: self.balance,
            reserved: self.reserved,
        }
    }

    /// The wire form; `None` for system accounts, which callers never see.
    pub fn to_wire(&self) -> Option<Account> {
        Some(Account {
            account_id: AccountId(self.id),
            user_id: self.user_id?,
            currency: self.currency.clone(),
            balance: self.balance,
            reserved: self.reserved,
            created_at: self.created_at,
        })
    }
}

pub fn insert_user_account(
    conn: &mut PgConnection,
    user_id: i64,
    currency: &str,
) -> QueryResult<AccountRow> {
    ensure_system_accounts(conn, currency)?;
    diesel::insert_into(accounts::table)
        .values((
            accounts::id.eq(Uuid::now_v7()),
            accounts::kind.eq(AccountKind::User.as_str()),
            accounts::user_id.eq(user_id),
            accounts::currency.eq(currency),
        ))
        .returning(AccountRow::as_returning())
        .get_result(conn)
}

/// How many external and revenue accounts each currency has: movements spread
/// over them by user account, so that they do not all queue on one row lock.
pub const SYSTEM_SHARDS: i16 = 16;

/// Creates the currency's external and revenue accounts if they do not exist yet.
pub fn ensure_system_accounts(conn: &mut PgConnection, currency: &str) -> QueryResult<()> {
    diesel::sql_query(
        "INSERT INTO accounts (id, kind, currency, shard) \
         SELECT gen_random_uuid(), k, $1, s FROM unnest(ARRAY['external', 'revenue']) k, generate_series(0, $2 - 1) s \
         ON CONFLICT (kind, currency, shard) WHERE kind <> 'user' DO NOTHING",
    )
    .bind::<Text, _>(currency)
    .bind::<diesel::sql_types::SmallInt, _>(SYSTEM_SHARDS)
    .execute(conn)
    .map(|_| ())
}

pub fn find_user_account(
    conn: &mut PgConnection,
    id: AccountId,
) -> QueryResult<Option<AccountRow>> {
    accounts::table
        .find(id.0)
        .filter(accounts::kind.eq(AccountKind::User.as_str()))
        .select(AccountRow::as_select())
        .first(conn)
        .optional()
}

#[derive(QueryableByName)]
struct WithSystemAccount {
    #[diesel(embed)]
    account: AccountRow,
    #[diesel(sql_type = diesel::sql_types::Nullable<SqlUuid>)]
    system_id: Option<Uuid>,
}

/// A user account and the system account of `kind` its movements use, in one
/// read: `None` when there is no such user account.
pub fn user_account_with_system(
    conn: &mut PgConnection,
    id: AccountId,
    kind: AccountKind,
) -> QueryResult<Option<(AccountRow, Option<AccountId>)>> {
    let row: Option<WithSystemAccount> = diesel::sql_query(
        "SELECT u.id, u.kind, u.user_id, u.currency, u.balance, u.reserved, u.created_at, s.id AS system_id \
         FROM accounts u LEFT JOIN accounts s ON s.kind = $2 AND s.currency = u.currency AND s.shard = $3 \
         WHERE u.id = $1 AND u.kind = 'user'",
    )
    .bind::<SqlUuid, _>(id.0)
    .bind::<Text, _>(kind.as_str())
    .bind::<diesel::sql_types::SmallInt, _>(shard_of(id))
    .get_result(conn)
    .optional()?;
    Ok(row.map(|r| (r.account, r.system_id.map(AccountId))))
}

pub fn list_for_user(conn: &mut PgConnection, user_id: i64) -> QueryResult<Vec<AccountRow>> {
    accounts::table
        .filter(accounts::kind.eq(AccountKind::User.as_str()))
        .filter(accounts::user_id.eq(user_id))
        .order((accounts::created_at, accounts::id))
        .select(AccountRow::as_select())
        .load(conn)
}

pub fn oldest_for_user(
    conn: &mut PgConnection,
    user_id: i64,
    currency: &str,
) -> QueryResult<Option<AccountRow>> {
    accounts::table
        .filter(accounts::kind.eq(AccountKind::User.as_str()))
        .filter(accounts::user_id.eq(user_id))
        .filter(accounts::currency.eq(currency))
        .order((accounts::created_at, accounts::id))
        .select(AccountRow::as_select())
        .first(conn)
        .optional()
}

/// The system-account shard a user account's movements use. UUIDv7 ends in
/// random bits: the last byte spreads accounts evenly.
pub fn shard_of(user_account: AccountId) -> i16 {
    i16::from(user_account.0.as_bytes()[15]) % SYSTEM_SHARDS
}

/// The system account of `kind` and currency that movements of `user_account` use.
pub fn system_account_id(
    conn: &mut PgConnection,
    kind: AccountKind,
    currency: &str,
    user_account: AccountId,
) -> QueryResult<Option<AccountId>> {
    accounts::table
        .filter(accounts::kind.eq(kind.as_str()))
        .filter(accounts::currency.eq(currency))
        .filter(accounts::shard.eq(shard_of(user_account)))
        .select(accounts::id)
        .first(conn)
        .optional()
        .map(|id| id.map(AccountId))
}

/// Locks the given accounts for the rest of the transaction, always in id
/// order, so that two transactions touching the same accounts never deadlock.
pub fn lock(conn: &mut PgConnection, ids: &[AccountId]) -> QueryResult<Vec<AccountRow>> {
    let mut ids: Vec<Uuid> = ids.iter().map(|id| id.0).collect();
    ids.sort_unstable();
    ids.dedup();
    accounts::table
        .filter(accounts::id.eq_any(ids))
        .order(accounts::id)
        .for_update()
        .select(AccountRow::as_select())
        .load(conn)
}

#[derive(QueryableByName)]
struct NewBalance {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
    #[diesel(sql_type = diesel::sql_types::Numeric)]
    balance: Decimal,
}

/// Applies postings to locked accounts in one statement and returns each
/// touched account's new balance. The schema's CHECKs are the last word on
/// user balances.
pub fn apply(
    conn: &mut PgConnection,
    postings: &[Posting],
) -> QueryResult<Vec<(AccountId, Decimal)>> {
    let mut touched: Vec<(AccountId, Decimal, Decimal)> = Vec::with_capacity(postings.len());
    for posting in postings {
        let (balance, reserved) = match posting.bucket {
            Bucket::Balance => (posting.amount, Decimal::ZERO),
            Bucket::Reserved => (Decimal::ZERO, posting.amount),
        };
        match touched.iter_mut().find(|(id, _, _)| *id == posting.account) {
            Some(entry) => {
                entry.1 += balance;
                entry.2 += reserved;
            }
            None => touched.push((posting.account, balance, reserved)),
        }
    }
    if touched.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<Uuid> = touched.iter().map(|(id, _, _)| id.0).collect();
    let balances: Vec<Decimal> = touched.iter().map(|(_, b, _)| *b).collect();
    let reserved: Vec<Decimal> = touched.iter().map(|(_, _, r)| *r).collect();
    let rows: Vec<NewBalance> = diesel::sql_query(
        "UPDATE accounts AS a SET balance = a.balance + d.balance, reserved = a.reserved + d.reserved \
         FROM unnest($1::uuid[], $2::numeric[], $3::numeric[]) AS d(id, balance, reserved) \
         WHERE a.id = d.id RETURNING a.id, a.balance",
    )
    .bind::<diesel::sql_types::Array<SqlUuid>, _>(ids)
    .bind::<diesel::sql_types::Array<diesel::sql_types::Numeric>, _>(balances)
    .bind::<diesel::sql_types::Array<diesel::sql_types::Numeric>, _>(reserved)
    .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|r| (AccountId(r.id), r.balance))
        .collect())
}
/// Serializes, until the end of the transaction, everything that looks up or
/// opens a user's account of one currency.
pub fn lock_user_currency(
    conn: &mut PgConnection,
    user_id: i64,
    currency: &str,
) -> QueryResult<()> {
    diesel::sql_query("SELECT pg_advisory_xact_lock(hashtextextended($1, $2))")
        .bind::<Text, _>(currency)
        .bind::<BigInt, _>(user_id)
        .execute(conn)
        .map(|_| ())
}

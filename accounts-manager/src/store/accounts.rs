//! The `accounts` table.

use chrono::{DateTime, Utc};
use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::sql_types::{SmallInt, Text};
use rust_decimal::Decimal;
use uuid::Uuid;

use super::schema::accounts;
use crate::domain::commands::SYSTEM_SHARDS;
use crate::domain::posting::AccountKind;
use service_kit::stored::Stored;
use shared_types::accounts::{Account, AccountId};

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
            created_at: self.created_at,
        })
    }
}

/// Creates the currency's external and revenue accounts if they do not exist yet.
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

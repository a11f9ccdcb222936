//! Opening and reading accounts.

use chrono::{DateTime, Utc};
use shared_types::accounts::{Account, AccountId, AccountList, BalanceAt};

use super::listings::total_count;
use super::run;
use diesel::Connection;
use service_kit::listing::{Key, Position};
use shared_types::accounts::Page;

use crate::domain::{Metadata, RuleViolation, Snapshot, UserId};
use crate::error::ApiError;
use crate::store::accounts::{AccountFilter, AccountRow};
use crate::store::{self, PgPool};

pub async fn get(pool: &PgPool, id: AccountId) -> Result<Account, ApiError> {
    run(pool, move |conn| {
        let row = store::accounts::find_user_account(conn, id)?.ok_or_else(|| not_found(id))?;
        wire(&row)
    })
    .await
}

pub async fn list_for_user(pool: &PgPool, user_id: UserId) -> Result<AccountList, ApiError> {
    run(pool, move |conn| {
        let rows = store::accounts::list_for_user(conn, user_id.value())?;
        let items = rows.iter().map(wire).collect::<Result<_, _>>()?;
        Ok(AccountList { items })
    })
    .await
}

/// Merges `patch` into an account's labels (a string sets a key, `null`
/// removes it), under the account's row lock so that concurrent merges all
/// land.
pub async fn merge_metadata(
    pool: &PgPool,
    id: AccountId,
    patch: serde_json::Value,
) -> Result<Account, ApiError> {
    run(pool, move |conn| {
        conn.transaction(|conn| {
            let row = store::accounts::lock_user_account(conn, id)?.ok_or_else(|| not_found(id))?;
            let merged = Metadata::stored(row.metadata).merge(&patch)?;
            let row = store::accounts::set_metadata(conn, id, merged.to_stored())?;
            wire(&row)
        })
    })
    .await
}

/// The accounts listing, oldest first.
pub async fn list(
    pool: &PgPool,
    filter: AccountFilter,
    position: Position,
) -> Result<Page<Account>, ApiError> {
    let start = position.start(Key::time_and_id)?;
    run(pool, move |conn| {
        let snapshot = Snapshot::read_at(conn, position.snapshot.clone(), None)?;
        let rows =
            store::accounts::list(conn, &filter, &snapshot.pg_snapshot, start, position.limit)?;
        let items = rows.iter().map(wire).collect::<Result<Vec<_>, _>>()?;
        let (total, snapshot) = total_count(snapshot, position.listing(), |s| {
            store::accounts::count(conn, &filter, s)
        })?;
        Ok(position.page(items, total, &snapshot, |account: &Account| {
            Key::of_time_and_id(account.created_at, account.account_id.0)
        }))
    })
    .await
}

pub fn not_found(id: AccountId) -> ApiError {
    ApiError::NotFound(format!("account {id} does not exist"))
}

fn wire(row: &AccountRow) -> Result<Account, ApiError> {
    row.to_wire()
        .ok_or_else(|| ApiError::internal(format!("account {} is a system account", row.id)))
}

/// A user account's parts as they stood at `at` (`None`: now); a time in the
/// future is `422 invalid_at`.
pub async fn balance_at(
    pool: &PgPool,
    id: AccountId,
    at: Option<DateTime<Utc>>,
) -> Result<BalanceAt, ApiError> {
    let now = Utc::now();
    let at = at.unwrap_or(now);
    if at > now {
        return Err(RuleViolation::new(
            "invalid_at",
            format!("at {} is in the future", at.to_rfc3339()),
        )
        .into());
    }
    run(pool, move |conn| {
        let account = store::accounts::find_user_account(conn, id)?.ok_or_else(|| not_found(id))?;
        let (balance, reserved) = store::accounts::parts_at(conn, id, at)?;
        Ok(BalanceAt {
            account_id: id,
            currency: account.currency,
            balance,
            reserved,
            at,
        })
    })
    .await
}

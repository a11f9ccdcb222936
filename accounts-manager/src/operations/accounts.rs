//! Opening and reading accounts.

use chrono::{DateTime, Utc};
use shared_types::accounts::{Account, AccountId, AccountList, BalanceAt};

use super::run;
use crate::domain::{RuleViolation, UserId};
use crate::error::ApiError;
use crate::store::{self, accounts::AccountRow, PgPool};

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

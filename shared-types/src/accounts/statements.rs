//! An account's statement over a period: its opening and closing figures,
//! the money in and out, and the lines.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::{AccountId, Transaction};

/// An account's balance and reserved part at a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Parts {
    #[serde(with = "crate::money")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "199.99"))]
    pub balance: Decimal,
    #[serde(with = "crate::money")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "0.00"))]
    pub reserved: Decimal,
}

/// A transaction on a statement, with the account's parts right after it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StatementLine {
    #[serde(flatten)]
    pub transaction: Transaction,
    #[serde(with = "crate::money")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "189.99"))]
    pub balance_after: Decimal,
    #[serde(with = "crate::money")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "0.00"))]
    pub reserved_after: Decimal,
}

/// An account's statement: `opening.balance + money_in - money_out =
/// closing.balance`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Statement {
    pub account_id: AccountId,
    pub currency: String,
    #[serde(with = "crate::time")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub from: DateTime<Utc>,
    #[serde(with = "crate::time")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub to: DateTime<Utc>,
    /// As the account stood at `from` (every transaction with `created_at <= from` applied).
    pub opening: Parts,
    /// As it stood at `to`.
    pub closing: Parts,
    /// What the period's successful lines brought into `balance`.
    #[serde(with = "crate::money")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "250.00"))]
    pub money_in: Decimal,
    /// What they took out of `balance`.
    #[serde(with = "crate::money")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "60.01"))]
    pub money_out: Decimal,
    /// How many lines the whole period has.
    pub count: i64,
    /// This page's lines, oldest first.
    pub items: Vec<StatementLine>,
    /// The cursor of the next page; `null` on the last.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub next: Option<String>,
}

//! accounts-manager: accounts, money movements, transactions and the audit.

mod audit;
mod events;
mod movements;
mod reservations;
mod statements;

pub use audit::*;
pub use events::*;
pub use movements::*;
pub use reservations::*;
pub use statements::*;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The id of an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(transparent)]
pub struct AccountId(pub Uuid);

/// The id of a ledger transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(transparent)]
pub struct TransactionId(pub Uuid);

impl std::fmt::Display for AccountId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::fmt::Display for TransactionId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct OpenAccountRequest {
    /// The caller's user, a positive 64-bit integer.
    #[cfg_attr(feature = "openapi", schema(example = 2, minimum = 1))]
    pub user_id: i64,
    /// Three upper-case letters; `USD` when absent.
    #[cfg_attr(feature = "openapi", schema(example = "USD", pattern = "^[A-Z]{3}$"))]
    #[serde(default)]
    pub currency: Option<String>,
    /// The caller's labels (see the schema's limits).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::openapi::metadata))]
    pub metadata: Option<serde_json::Value>,
}

impl OpenAccountRequest {
    /// An account of the default currency for `user_id`.
    pub fn new(user_id: i64) -> Self {
        Self {
            user_id,
            currency: None,
            metadata: None,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Account {
    pub account_id: AccountId,
    pub user_id: i64,
    pub currency: String,
    #[serde(with = "crate::money")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "199.99"))]
    pub balance: Decimal,
    #[serde(with = "crate::money")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "0.00"))]
    pub reserved: Decimal,
    /// `frozen`: money comes in, none goes out of `balance`; `closed`: for good.
    #[serde(default)]
    pub status: AccountStatus,
    /// Why it was frozen or closed; `null` while active.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub status_reason: Option<String>,
    /// The caller's labels (`{}` when none).
    #[serde(default)]
    pub metadata: Metadata,
    #[serde(with = "crate::time")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime, example = "2022-11-17T01:44:22.083065Z"))]
    pub created_at: DateTime<Utc>,
}

/// Whether money may move in and out of an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum AccountStatus {
    #[default]
    Active,
    Frozen,
    Closed,
}

crate::named!(AccountStatus {
    Active => "active",
    Frozen => "frozen",
    Closed => "closed",
});

/// Why an account is frozen or closed.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct StatusRequest {
    /// Required: 1-500 characters, no control characters, not blank
    /// (`422 invalid_reason`).
    #[serde(default)]
    #[cfg_attr(
        feature = "openapi",
        schema(schema_with = crate::openapi::reason, required = true)
    )]
    pub reason: Option<String>,
}

/// Changes to an account's labels: a string sets a key, `null` removes it;
/// keys not named stay.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AccountPatch {
    #[cfg_attr(
        feature = "openapi",
        schema(schema_with = crate::openapi::metadata_patch)
    )]
    pub metadata: serde_json::Value,
}

/// A caller's labels, as answered: keys to strings, in key order.
pub type Metadata = std::collections::BTreeMap<String, String>;

/// An account's parts as they stood at a time.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BalanceAt {
    pub account_id: AccountId,
    pub currency: String,
    #[serde(with = "crate::money")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "199.99"))]
    pub balance: Decimal,
    #[serde(with = "crate::money")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "0.00"))]
    pub reserved: Decimal,
    #[serde(with = "crate::time")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AccountList {
    pub items: Vec<Account>,
}

/// One page of a listing. Pass `snapshot` back to page through exactly the
/// same set of items, whatever is written meanwhile.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Page<T> {
    pub items: Vec<T>,
    pub page: i64,
    pub limit: i64,
    pub total_count: i64,
    pub total_pages: i64,
    /// Opaque; give it back as `?snapshot=` to pin the listing.
    pub snapshot: String,
    /// Opaque: give it back as `?cursor=` for the page after this one, of
    /// the same snapshot (as fast at any depth); `null` on the last page.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub next: Option<String>,
}

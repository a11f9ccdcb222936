//! The audit: the ledger's balances checked against its entries.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// The double-entry self-check.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditReport {
    pub currencies: Vec<CurrencyAudit>,
    #[serde(with = "crate::time")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub checked_at: DateTime<Utc>,
    /// The latest full recount of every entry of the ledger, which runs in
    /// the background every `AUDIT_INTERVAL`; `null` until the first one.
    #[serde(default)]
    pub recount: Option<RecountReport>,
}

/// What the latest full recount of the entries found.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RecountReport {
    /// When its snapshot began: every transaction committed before it is counted.
    #[serde(with = "crate::time")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub checked_at: DateTime<Utc>,
    #[serde(with = "crate::time")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub finished_at: DateTime<Utc>,
    /// Accounts, of every currency, whose balance or reserved part differed
    /// from the sum of their entries, with the accounts named by an entry
    /// that belongs to no transaction, and the ids named by an entry that
    /// are no account.
    pub entry_mismatches: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CurrencyAudit {
    pub currency: String,
    /// The sum of every account of the currency, system accounts included: always `0.00`.
    #[serde(with = "crate::money")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "0.00"))]
    pub total: Decimal,
    /// User accounts whose balance or reserved part is below zero.
    pub negative_accounts: i64,
    /// Accounts whose balance or reserved part differs from the sum of their
    /// entries, as far as the audit knows: found by either of the two below.
    pub entry_mismatches: i64,
    /// User accounts whose balance or reserved part differs from the parts
    /// recorded right after their latest transaction (checked on every call).
    #[serde(default)]
    pub latest_posting_mismatches: i64,
    /// Accounts the latest full recount of the entries found to differ.
    #[serde(default)]
    pub recount_mismatches: i64,
}

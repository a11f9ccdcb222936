//! The queries of the listings: history and the report.

use serde::Serialize;
use shared_types::accounts::TransactionStatus;

/// How an account's history is sorted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SortKey {
    Date,
    Amount,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SortOrder {
    Asc,
    Desc,
}

/// The query of `GET /accounts/{id}/transactions`; what is `None` is left to
/// the service's default (newest first, 100 a page).
#[derive(Debug, Clone, Default, Serialize)]
pub struct HistoryQuery {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sort: Option<SortKey>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order: Option<SortOrder>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page: Option<i64>,
    /// The `snapshot` of an earlier page: pins the listing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<String>,
}

/// The query of `GET /transactions`, the ledger's report (oldest first).
#[derive(Debug, Clone, Default, Serialize)]
pub struct ReportQuery {
    /// RFC 3339; default: the report window back from now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// RFC 3339, inclusive; default: now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    /// Only successful or only failed transactions.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<TransactionStatus>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<String>,
}

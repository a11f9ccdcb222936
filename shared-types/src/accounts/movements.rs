//! Money movements: deposits, withdrawals, transfers and their batches,
//! reversals, and the transaction every one of them records.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::money::{AmountInput, RateInput};

use super::{AccountId, Metadata, TransactionId};

/// Money in from outside. Either `account_id`, or `user_id` (with an optional
/// `currency`): then the user's oldest account of that currency is used, and
/// opened if the user has none.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct DepositRequest {
    #[serde(default)]
    pub account_id: Option<AccountId>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(minimum = 1))]
    pub user_id: Option<i64>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(pattern = "^[A-Z]{3}$"))]
    pub currency: Option<String>,
    #[cfg_attr(feature = "openapi", schema(example = "199.99"))]
    pub amount: AmountInput,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::openapi::caller_text))]
    pub description: Option<String>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::openapi::caller_text))]
    pub reference: Option<String>,
    /// The caller's labels (see the schema's limits).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::openapi::metadata))]
    pub metadata: Option<serde_json::Value>,
}

impl DepositRequest {
    /// Money into one account.
    pub fn to_account(account_id: AccountId, amount: impl Into<AmountInput>) -> Self {
        Self {
            account_id: Some(account_id),
            user_id: None,
            currency: None,
            amount: amount.into(),
            description: None,
            reference: None,
            metadata: None,
        }
    }

    /// Money into the user's oldest account of the request's currency (`USD`
    /// unless `currency` is set), opened if the user has none.
    pub fn to_user(user_id: i64, amount: impl Into<AmountInput>) -> Self {
        Self {
            account_id: None,
            user_id: Some(user_id),
            currency: None,
            amount: amount.into(),
            description: None,
            reference: None,
            metadata: None,
        }
    }
}

/// Money out to the outside world. From `account_id`, or from `user_id`'s
/// oldest account of `currency` (`USD` when absent).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct WithdrawalRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<AccountId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = 1))]
    pub user_id: Option<i64>,
    /// With `user_id` only: which of the user's accounts (`USD` when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(pattern = "^[A-Z]{3}$"))]
    pub currency: Option<String>,
    #[cfg_attr(feature = "openapi", schema(example = "10.00"))]
    pub amount: AmountInput,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::openapi::caller_text))]
    pub description: Option<String>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::openapi::caller_text))]
    pub reference: Option<String>,
    /// The caller's labels (see the schema's limits).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::openapi::metadata))]
    pub metadata: Option<serde_json::Value>,
}

impl WithdrawalRequest {
    pub fn new(account_id: AccountId, amount: impl Into<AmountInput>) -> Self {
        Self {
            account_id: Some(account_id),
            user_id: None,
            currency: None,
            amount: amount.into(),
            description: None,
            reference: None,
            metadata: None,
        }
    }
}

/// Which way a transfer moves money.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// From `from_account_id` to `to_account_id`.
    #[default]
    Debit,
    /// From `to_account_id` to `from_account_id`.
    Credit,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct TransferRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_account_id: Option<AccountId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_account_id: Option<AccountId>,
    /// Instead of `from_account_id`: the user's oldest account of `currency`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = 1))]
    pub from_user_id: Option<i64>,
    /// Instead of `to_account_id`: the user's oldest account of `currency`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = 1))]
    pub to_user_id: Option<i64>,
    /// With a side named by user only (`USD` when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(pattern = "^[A-Z]{3}$"))]
    pub currency: Option<String>,
    #[cfg_attr(feature = "openapi", schema(example = "500"))]
    pub amount: AmountInput,
    #[serde(default)]
    pub direction: Option<Direction>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::openapi::caller_text))]
    pub description: Option<String>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::openapi::caller_text))]
    pub reference: Option<String>,
    /// The caller's labels (see the schema's limits).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::openapi::metadata))]
    pub metadata: Option<serde_json::Value>,
}

impl TransferRequest {
    /// Money from `from_account_id` to `to_account_id` (direction `debit`).
    pub fn new(
        from_account_id: AccountId,
        to_account_id: AccountId,
        amount: impl Into<AmountInput>,
    ) -> Self {
        Self {
            from_account_id: Some(from_account_id),
            to_account_id: Some(to_account_id),
            from_user_id: None,
            to_user_id: None,
            currency: None,
            amount: amount.into(),
            direction: None,
            description: None,
            reference: None,
            metadata: None,
        }
    }
}

crate::named!(TransactionType {
    Deposit => "deposit",
    Withdrawal => "withdrawal",
    Transfer => "transfer",
    Reservation => "reservation",
    Release => "release",
    Capture => "capture",
    Reversal => "reversal",
    Exchange => "exchange",
});

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum TransactionType {
    Deposit,
    Withdrawal,
    Transfer,
    Reservation,
    Release,
    Capture,
    /// Money moved back the way a deposit, withdrawal, transfer, capture
    /// (a refund) or exchange came; `reverses` names it.
    Reversal,
    /// Money from an account of one currency into an account of another, at
    /// the caller's rate (`rate`, `converted_amount`, `converted_currency`).
    Exchange,
}

crate::named!(TransactionStatus {
    Success => "success",
    Failed => "failed",
});

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum TransactionStatus {
    Success,
    Failed,
}

/// One recorded movement of money, successful or failed.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Transaction {
    pub transaction_id: TransactionId,
    #[serde(rename = "type")]
    pub kind: TransactionType,
    pub status: TransactionStatus,
    /// Present only when `status` is `failed`: `insufficient_funds` or `currency_mismatch`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(with = "crate::money")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "500.00"))]
    pub amount: Decimal,
    pub currency: String,
    /// The user account the money left; `null` for money from outside.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub from_account_id: Option<AccountId>,
    /// The user account the money reached; `null` for money to outside or to revenue.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub to_account_id: Option<AccountId>,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub order_id: Option<i64>,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub service_id: Option<i64>,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub reference: Option<String>,
    pub description: String,
    /// The transaction a `reversal` reverses; `null` for every other type.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub reverses: Option<TransactionId>,
    /// The sum of this transaction's successful reversals.
    #[serde(with = "crate::money")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "0.00"))]
    pub reversed_amount: Decimal,
    /// The name of the API key that made the request; `accounts-manager` for
    /// what the service does by itself.
    #[cfg_attr(feature = "openapi", schema(example = "checkout-service"))]
    pub created_by: String,
    /// The caller's labels (`{}` when none).
    #[serde(default)]
    pub metadata: Metadata,
    #[serde(with = "crate::time")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime, example = "2022-11-17T01:44:22.083065Z"))]
    pub created_at: DateTime<Utc>,
    /// Transfers only: the balance of `from_account_id` after the transfer.
    #[serde(
        default,
        with = "crate::money::option",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, example = "100.00"))]
    pub from_balance_after: Option<Decimal>,
    /// Transfers only: the balance of `to_account_id` after the transfer.
    #[serde(
        default,
        with = "crate::money::option",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, example = "600.00"))]
    pub to_balance_after: Option<Decimal>,
    /// Exchanges (and their reversals) only: units of `converted_currency`
    /// per unit of `currency`, as given (normalized).
    #[serde(
        default,
        with = "crate::money::rate_option",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, example = "0.9215"))]
    pub rate: Option<Decimal>,
    /// Exchanges (and their reversals) only: `amount × rate`, rounded half to
    /// even to cents, in `converted_currency`: what reached `to_account_id`
    /// (for a reversal, what left `from_account_id`).
    #[serde(
        default,
        with = "crate::money::option",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, example = "92.15"))]
    pub converted_amount: Option<Decimal>,
    /// Exchanges (and their reversals) only: the currency of `converted_amount`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(example = "EUR"))]
    pub converted_currency: Option<String>,
}

/// Money from an account of one currency into an account of another:
/// `amount` leaves `from_account_id` in its currency, `amount × rate`
/// (rounded half to even to cents) reaches `to_account_id` in its own.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ExchangeRequest {
    pub from_account_id: AccountId,
    pub to_account_id: AccountId,
    #[cfg_attr(feature = "openapi", schema(example = "100.00"))]
    pub amount: AmountInput,
    #[cfg_attr(feature = "openapi", schema(example = "0.9215"))]
    pub rate: RateInput,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::openapi::caller_text))]
    pub description: Option<String>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::openapi::caller_text))]
    pub reference: Option<String>,
    /// The caller's labels (see the schema's limits).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::openapi::metadata))]
    pub metadata: Option<serde_json::Value>,
}

impl ExchangeRequest {
    pub fn new(
        from_account_id: AccountId,
        to_account_id: AccountId,
        amount: impl Into<AmountInput>,
        rate: impl Into<RateInput>,
    ) -> Self {
        Self {
            from_account_id,
            to_account_id,
            amount: amount.into(),
            rate: rate.into(),
            description: None,
            reference: None,
            metadata: None,
        }
    }
}

/// Transfers applied in order, all or nothing (`atomic`, the default) or
/// each on its own. Each item has the fields and rules of a single transfer.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct TransferBatchRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub atomic: Option<bool>,
    /// 1 to 1000 transfers.
    #[cfg_attr(feature = "openapi", schema(min_items = 1, max_items = 1000))]
    pub transfers: Vec<TransferRequest>,
}

/// The transactions of a transfer batch, in request order.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TransferBatchAnswer {
    pub items: Vec<Transaction>,
}

/// Reverse a transaction: all that is not reversed yet, or `amount` of it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ReversalRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(example = "25.00"))]
    pub amount: Option<AmountInput>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::openapi::caller_text))]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::openapi::caller_text))]
    pub reference: Option<String>,
    /// The caller's labels (see the schema's limits).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::openapi::metadata))]
    pub metadata: Option<serde_json::Value>,
}

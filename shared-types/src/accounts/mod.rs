//! accounts-manager: accounts, money movements, transactions and the audit.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::money::AmountInput;

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
}

impl OpenAccountRequest {
    /// An account of the default currency for `user_id`.
    pub fn new(user_id: i64) -> Self {
        Self {
            user_id,
            currency: None,
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
    #[serde(with = "crate::time")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime, example = "2022-11-17T01:44:22.083065Z"))]
    pub created_at: DateTime<Utc>,
}

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
        }
    }
}

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
    /// Money moved back the way a deposit, withdrawal, transfer or capture
    /// (a refund) came; `reverses` names it.
    Reversal,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum TransactionStatus {
    Success,
    Failed,
}

crate::named!(TransactionType {
    Deposit => "deposit",
    Withdrawal => "withdrawal",
    Transfer => "transfer",
    Reservation => "reservation",
    Release => "release",
    Capture => "capture",
    Reversal => "reversal",
});

crate::named!(TransactionStatus {
    Success => "success",
    Failed => "failed",
});

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
}

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

/// Hold money of an account for an order.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ReservationRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<AccountId>,
    /// Instead of `account_id`: the user's oldest account of `currency`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = 1))]
    pub user_id: Option<i64>,
    /// With `user_id` only (`USD` when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(pattern = "^[A-Z]{3}$"))]
    pub currency: Option<String>,
    #[cfg_attr(feature = "openapi", schema(example = 7, minimum = 1))]
    pub order_id: i64,
    #[cfg_attr(feature = "openapi", schema(example = 3, minimum = 1))]
    pub service_id: i64,
    #[cfg_attr(feature = "openapi", schema(example = "170000"))]
    pub amount: AmountInput,
    /// A name for the service, shown in the revenue report.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::openapi::caller_text))]
    pub service_name: Option<String>,
    /// RFC 3339, in the future, at most `RESERVATION_MAX_TTL` ahead; by
    /// default `RESERVATION_TTL` after now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(format = DateTime, example = json!(null)))]
    pub expires_at: Option<String>,
}

impl ReservationRequest {
    pub fn new(
        account_id: AccountId,
        order_id: i64,
        service_id: i64,
        amount: impl Into<AmountInput>,
    ) -> Self {
        Self {
            account_id: Some(account_id),
            user_id: None,
            currency: None,
            order_id,
            service_id,
            amount: amount.into(),
            service_name: None,
            expires_at: None,
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
}

/// Capture an order's hold: all of it, or `amount` of it (the rest goes back
/// to the account's balance).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CaptureRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(example = "100.00"))]
    pub amount: Option<AmountInput>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum ReservationStatus {
    Reserved,
    Captured,
    Released,
    /// Not captured or released by its `expires_at`: released by the service.
    Expired,
}

crate::named!(ReservationStatus {
    Reserved => "reserved",
    Captured => "captured",
    Released => "released",
    Expired => "expired",
});

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Reservation {
    pub order_id: i64,
    pub account_id: AccountId,
    pub service_id: i64,
    #[serde(with = "crate::money")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "170000.00"))]
    pub amount: Decimal,
    /// What the capture took (the rest went back to `balance`); `null`
    /// until the order is captured.
    #[serde(with = "crate::money::option")]
    #[cfg_attr(feature = "openapi", schema(required = true, value_type = Option<String>, example = "100.00"))]
    pub captured_amount: Option<Decimal>,
    pub currency: String,
    pub status: ReservationStatus,
    /// From then on the hold can no longer be captured or released; the
    /// service releases it (status `expired`).
    #[serde(with = "crate::time")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub expires_at: DateTime<Utc>,
    #[serde(with = "crate::time")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created_at: DateTime<Utc>,
    #[serde(with = "crate::time")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub updated_at: DateTime<Utc>,
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
}

/// Where an event stands in the feed: strictly increasing along it. On the
/// wire a decimal integer in a string (`"1042"`), so that no JSON reader
/// rounds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct EventPosition(pub i64);

impl std::fmt::Display for EventPosition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// Text that is not a feed position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotAPosition;

impl std::fmt::Display for NotAPosition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a position is a decimal integer of at most 18 digits")
    }
}

impl std::error::Error for NotAPosition {}

impl std::str::FromStr for EventPosition {
    type Err = NotAPosition;

    /// Digits only (no sign, no spaces), at most 18 of them.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.is_empty() || s.len() > 18 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(NotAPosition);
        }
        s.parse().map(EventPosition).map_err(|_| NotAPosition)
    }
}

impl Serialize for EventPosition {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for EventPosition {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// The one kind of ledger event: a transaction committed.
pub const TRANSACTION_CREATED: &str = "transaction.created";

/// A committed transaction, as the event feed and `ledger.events` carry it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Event {
    /// The same for every delivery of this event: consumers deduplicate on it.
    pub event_id: Uuid,
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "1042"))]
    pub position: EventPosition,
    /// Always `transaction.created`.
    #[serde(rename = "type")]
    #[cfg_attr(feature = "openapi", schema(example = "transaction.created"))]
    pub kind: String,
    /// When the transaction was recorded.
    #[serde(with = "crate::time")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime, example = "2022-11-17T01:44:22.083065Z"))]
    pub occurred_at: DateTime<Utc>,
    /// The transaction as it was committed (`reversed_amount` `0.00`: later
    /// reversals are events of their own).
    pub data: Transaction,
}

/// A page of the event feed.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EventPage {
    pub items: Vec<Event>,
    /// The position to pass as `after` next time (the `after` given when
    /// there is nothing new).
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "1042"))]
    pub next: EventPosition,
}

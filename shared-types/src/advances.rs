//! advances-service: advances, their payments, the payment job, reconciliation.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::accounts::{AccountId, TransactionId};
use crate::money::AmountInput;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(transparent)]
pub struct AdvanceId(pub Uuid);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(transparent)]
pub struct PaymentId(pub Uuid);

impl std::fmt::Display for AdvanceId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::fmt::Display for PaymentId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AdvanceRequest {
    pub account_id: AccountId,
    #[cfg_attr(feature = "openapi", schema(example = "1200.00"))]
    pub amount: AmountInput,
    /// 1..104, default 12.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(example = 12, minimum = 1, maximum = 104))]
    pub installments: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum AdvanceStatus {
    /// Recorded; the money is not in the account yet.
    Disbursing,
    /// Paid out; being collected.
    Active,
    /// Collected in full.
    Repaid,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum PaymentStatus {
    Scheduled,
    Processing,
    Paid,
    Failed,
    /// Replaced by an early payoff's payment or a reschedule's plan.
    Cancelled,
}

crate::named!(AdvanceStatus {
    Disbursing => "disbursing",
    Active => "active",
    Repaid => "repaid",
});

crate::named!(PaymentStatus {
    Scheduled => "scheduled",
    Processing => "processing",
    Paid => "paid",
    Failed => "failed",
    Cancelled => "cancelled",
});

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Payment {
    pub payment_id: PaymentId,
    pub seq: i32,
    #[serde(with = "crate::money")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "100.00"))]
    pub amount: Decimal,
    #[serde(with = "crate::time")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub due_at: DateTime<Utc>,
    pub status: PaymentStatus,
    pub attempts: i32,
    #[serde(with = "crate::time::option")]
    #[cfg_attr(feature = "openapi", schema(required = true, value_type = Option<String>, format = DateTime))]
    pub paid_at: Option<DateTime<Utc>>,
    /// The withdrawal in accounts-manager that collected it.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub transaction_id: Option<TransactionId>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Advance {
    pub advance_id: AdvanceId,
    pub account_id: AccountId,
    #[serde(with = "crate::money")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "1200.00"))]
    pub amount: Decimal,
    /// The account's currency; `null` only while `disbursing` an advance made
    /// when accounts-manager could not be reached (its currency is not known
    /// until the payout's deposit answers).
    #[cfg_attr(feature = "openapi", schema(example = "USD"))]
    pub currency: Option<String>,
    pub status: AdvanceStatus,
    pub installments: i32,
    /// The name of the API key that asked for the advance.
    #[cfg_attr(feature = "openapi", schema(example = "checkout-service"))]
    pub created_by: String,
    #[serde(with = "crate::money")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "300.00"))]
    pub paid: Decimal,
    #[serde(with = "crate::money")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "900.00"))]
    pub outstanding: Decimal,
    /// How many payments the missed chain holds: the failed payments since
    /// the last collection (or since the advance was made or rescheduled).
    #[cfg_attr(feature = "openapi", schema(example = 0, minimum = 0))]
    pub missed_installments: i32,
    /// The money that fell due in the missed chain and is still uncollected:
    /// the amount of its latest failed payment (each failure carries the
    /// ones before it).
    #[serde(with = "crate::money")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "0.00"))]
    pub overdue_amount: Decimal,
    /// The due time of the chain's first payment; `null` when none is missed.
    #[serde(with = "crate::time::option")]
    #[cfg_attr(feature = "openapi", schema(required = true, value_type = Option<String>, format = DateTime))]
    pub overdue_since: Option<DateTime<Utc>>,
    #[serde(with = "crate::time")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created_at: DateTime<Utc>,
    pub payments: Vec<Payment>,
}

/// Re-aging: the outstanding amount split into a new plan.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RescheduleRequest {
    /// 1..104: how many payments the outstanding amount is split into.
    #[cfg_attr(feature = "openapi", schema(example = 8, minimum = 1, maximum = 104))]
    pub installments: i64,
    /// When the first new payment is due (RFC 3339, not before the request:
    /// `422 invalid_due_date`); default one installment interval from now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(format = DateTime, example = json!(null)))]
    pub first_due_at: Option<String>,
}

/// The active advances of one currency by aging bucket.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Portfolio {
    #[cfg_attr(feature = "openapi", schema(example = "USD"))]
    pub currency: String,
    /// When the figures were read.
    #[serde(with = "crate::time")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub as_of: DateTime<Utc>,
    pub advances_active: i64,
    #[serde(with = "crate::money")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "12000.00"))]
    pub outstanding: Decimal,
    /// The sum of the active advances' `overdue_amount`.
    #[serde(with = "crate::money")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "300.00"))]
    pub overdue_amount: Decimal,
    /// Always four, in this order: missed `0`, `1`, `2-3`, `4+`.
    pub buckets: Vec<PortfolioBucket>,
    /// Every payment of the currency collected in the 7 days before `as_of`
    /// (repaid advances' included).
    #[serde(with = "crate::money")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "1500.00"))]
    pub collected_last_7_days: Decimal,
}

/// The active advances whose `missed_installments` fall in one range.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PortfolioBucket {
    /// `0`, `1`, `2-3` or `4+`.
    #[cfg_attr(feature = "openapi", schema(example = "2-3"))]
    pub missed: String,
    pub advances: i64,
    #[serde(with = "crate::money")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "900.00"))]
    pub outstanding: Decimal,
}

/// The RabbitMQ job for one payment: a JSON body on the queue `advances.payments`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PaymentJob {
    pub payment_id: PaymentId,
    pub advance_id: AdvanceId,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ReconciliationCheck {
    /// paid + scheduled + processing payments must add up to the advance.
    ScheduleSum,
    /// What accounts-manager recorded as collected must equal the paid sum.
    LedgerPaid,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Mismatch {
    pub advance_id: AdvanceId,
    pub check: ReconciliationCheck,
    #[serde(with = "crate::money")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "1200.00"))]
    pub expected: Decimal,
    #[serde(with = "crate::money")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "1100.00"))]
    pub actual: Decimal,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReconciliationReport {
    #[serde(with = "crate::time")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub checked_at: DateTime<Utc>,
    pub advances_checked: i64,
    pub mismatches: Vec<Mismatch>,
}

/// A job the worker dead-lettered, as it was received.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeadLetter {
    pub id: Uuid,
    /// The message body as received (bytes that are not UTF-8 are replaced).
    pub body: String,
    pub reason: String,
    #[serde(with = "crate::time")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub received_at: DateTime<Utc>,
    #[serde(with = "crate::time::option")]
    #[cfg_attr(feature = "openapi", schema(required = true, value_type = Option<String>, format = DateTime))]
    pub replayed_at: Option<DateTime<Utc>>,
}

/// What happened to an advance: the routing key on `advances.events` and the
/// event's `type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum AdvanceEventType {
    #[serde(rename = "advance.created")]
    AdvanceCreated,
    /// Paid out into the account.
    #[serde(rename = "advance.active")]
    AdvanceActive,
    #[serde(rename = "advance.repaid")]
    AdvanceRepaid,
    #[serde(rename = "payment.paid")]
    PaymentPaid,
    /// Refused for funds; its amount rolled into the next payment.
    #[serde(rename = "payment.failed")]
    PaymentFailed,
    /// Cancelled by an early payoff or a reschedule (one event per cancelled payment).
    #[serde(rename = "payment.cancelled")]
    PaymentCancelled,
    /// Re-aged: the outstanding amount split into a new plan.
    #[serde(rename = "advance.rescheduled")]
    AdvanceRescheduled,
}

crate::named!(AdvanceEventType {
    AdvanceCreated => "advance.created",
    AdvanceActive => "advance.active",
    AdvanceRepaid => "advance.repaid",
    PaymentPaid => "payment.paid",
    PaymentFailed => "payment.failed",
    PaymentCancelled => "payment.cancelled",
    AdvanceRescheduled => "advance.rescheduled",
});

/// A message on `advances.events`: the advance as it stood right after the change.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AdvanceEvent {
    /// The same on every delivery: consumers deduplicate on it.
    pub event_id: Uuid,
    #[serde(rename = "type")]
    pub kind: AdvanceEventType,
    #[serde(with = "crate::time")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime, example = "2022-11-17T01:44:22.083065Z"))]
    pub occurred_at: DateTime<Utc>,
    pub data: Advance,
}

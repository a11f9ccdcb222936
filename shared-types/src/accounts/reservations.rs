//! Reservations: money held for an order, then captured, released or expired.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::money::AmountInput;

use super::AccountId;

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
    /// The caller's labels (see the schema's limits).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::openapi::metadata))]
    pub metadata: Option<serde_json::Value>,
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
            metadata: None,
        }
    }
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

crate::named!(ReservationStatus {
    Reserved => "reserved",
    Captured => "captured",
    Released => "released",
    Expired => "expired",
});

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

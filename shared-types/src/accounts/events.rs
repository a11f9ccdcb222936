//! The event feed: every committed transaction at a position.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{Account, Transaction};

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
    /// `transaction.created`, or `account.frozen`, `account.unfrozen`,
    /// `account.closed`.
    #[serde(rename = "type")]
    #[cfg_attr(feature = "openapi", schema(example = "transaction.created"))]
    pub kind: String,
    /// When the transaction was recorded, or the account's standing changed.
    #[serde(with = "crate::time")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime, example = "2022-11-17T01:44:22.083065Z"))]
    pub occurred_at: DateTime<Utc>,
    pub data: EventData,
}

/// What an event is about.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(untagged)]
pub enum EventData {
    /// A `transaction.created` event's transaction, as it was committed
    /// (`reversed_amount` `0.00`: later reversals are events of their own).
    Transaction(Box<Transaction>),
    /// An `account.*` event's account, as it stood after the change.
    Account(Box<Account>),
}

/// The kinds of account events.
pub const ACCOUNT_FROZEN: &str = "account.frozen";
pub const ACCOUNT_UNFROZEN: &str = "account.unfrozen";
pub const ACCOUNT_CLOSED: &str = "account.closed";

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

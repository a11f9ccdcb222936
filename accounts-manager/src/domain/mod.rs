//! Types and rules of the ledger, with no I/O: raw input becomes these at the edge.

pub mod amount;
pub mod currency;
pub mod ledger;
pub mod listing;
pub mod month;
pub mod order;
pub mod text;
pub mod user_id;

pub use amount::Amount;
pub use currency::Currency;
pub use listing::{PageRequest, Snapshot, SortKey, SortOrder};
pub use month::Month;
pub use order::{OrderId, OrderRef, ServiceId};
pub use text::CallerText;
pub use user_id::UserId;

/// A rule that a well-formed request breaks: answered `422` with its code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct RuleViolation {
    pub code: &'static str,
    pub message: String,
}

impl RuleViolation {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

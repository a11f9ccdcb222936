//! Types and rules of the ledger, with no I/O: raw input becomes these at the edge.

pub mod currency;
pub mod engine;
pub mod ledger;
pub mod month;
pub mod order;
pub mod text;
pub mod user_id;

pub use currency::Currency;
pub use month::Month;
pub use order::{OrderId, OrderRef, ServiceId};
pub use service_kit::amount::Amount;
pub use service_kit::listing::{PageRequest, Snapshot, SortKey, SortOrder};
pub use service_kit::rule::RuleViolation;
pub use text::CallerText;
pub use user_id::UserId;

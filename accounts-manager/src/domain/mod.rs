//! Types and rules of the ledger, with no I/O: raw input becomes these at the edge.

pub mod books;
pub mod changes;
pub mod commands;
pub mod metadata;
pub mod month;
pub mod movement;
pub mod order;
pub mod posting;
pub mod rate;
pub mod records;
pub mod refusal;
pub mod text;
pub mod user_id;

pub use metadata::Metadata;
pub use month::Month;
pub use order::{OrderId, OrderRef, ServiceId};
pub use rate::Rate;
pub use service_kit::amount::Amount;
pub use service_kit::currency::Currency;
pub use service_kit::listing::{PageRequest, Snapshot, SortKey, SortOrder};
pub use service_kit::rule::RuleViolation;
pub use text::CallerText;
pub use user_id::UserId;

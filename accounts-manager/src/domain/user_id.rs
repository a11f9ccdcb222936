//! A caller's user: a positive 64-bit integer.

use std::fmt;

use super::RuleViolation;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct UserId(i64);

impl UserId {
    pub fn parse(value: i64) -> Result<Self, RuleViolation> {
        Self::parse_field("user_id", value)
    }

    /// The same, for a request whose field has another name (`from_user_id`).
    pub fn parse_field(field: &str, value: i64) -> Result<Self, RuleViolation> {
        if value > 0 {
            Ok(Self(value))
        } else {
            Err(RuleViolation::new(
                "invalid_user_id",
                format!("{field} must be a positive integer, not {value}"),
            ))
        }
    }

    pub fn value(self) -> i64 {
        self.0
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

//! A caller's user: a positive 64-bit integer.

use std::fmt;

use super::RuleViolation;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct UserId(i64);

impl UserId {
    pub fn parse(value: i64) -> Result<Self, RuleViolation> {
        if value > 0 {
            Ok(Self(value))
        } else {
            Err(RuleViolation::new(
                "invalid_user_id",
                format!("user_id must be a positive integer, not {value}"),
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

//! Orders and the services they belong to: caller-chosen positive integers.

use std::fmt;

use super::RuleViolation;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct OrderId(i64);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ServiceId(i64);

fn positive(field: &str, value: i64) -> Result<i64, RuleViolation> {
    if value > 0 {
        Ok(value)
    } else {
        Err(RuleViolation::new(
            "invalid_id",
            format!("{field} must be a positive integer, not {value}"),
        ))
    }
}

impl OrderId {
    pub fn parse(value: i64) -> Result<Self, RuleViolation> {
        positive("order_id", value).map(Self)
    }

    pub fn value(self) -> i64 {
        self.0
    }
}

impl ServiceId {
    pub fn parse(value: i64) -> Result<Self, RuleViolation> {
        positive("service_id", value).map(Self)
    }

    pub fn value(self) -> i64 {
        self.0
    }
}

impl fmt::Display for OrderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl fmt::Display for ServiceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// What a capture, release or reservation is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderRef {
    pub order_id: OrderId,
    pub service_id: ServiceId,
    pub service_name: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_must_be_positive() {
        assert!(OrderId::parse(1).is_ok());
        assert_eq!(OrderId::parse(0).unwrap_err().code, "invalid_id");
        assert!(ServiceId::parse(-4).is_err());
    }
}

//! A currency: three upper-case letters.

use std::fmt;

use crate::rule::RuleViolation;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Currency(String);

impl Currency {
    pub const DEFAULT: &'static str = "USD";

    pub fn parse(code: &str) -> Result<Self, RuleViolation> {
        if code.len() == 3 && code.bytes().all(|b| b.is_ascii_uppercase()) {
            Ok(Self(code.to_owned()))
        } else {
            Err(RuleViolation::new(
                "invalid_currency",
                format!("currency {code:?} is not a three-letter upper-case code"),
            ))
        }
    }

    /// The currency a request named, or `USD` when it named none.
    pub fn parse_or_default(code: Option<&str>) -> Result<Self, RuleViolation> {
        Self::parse(code.unwrap_or(Self::DEFAULT))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn three_upper_case_letters_only() {
        assert!(Currency::parse("USD").is_ok());
        for bad in ["usd", "US", "USDT", "U5D", "", "ÜSD"] {
            assert!(Currency::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(Currency::parse_or_default(None).unwrap().as_str(), "USD");
    }
}

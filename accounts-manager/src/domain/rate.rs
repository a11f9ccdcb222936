//! An exchange rate: how many units of one currency a unit of another buys,
//! exact, as the caller gave it.

use std::fmt;

use rust_decimal::{Decimal, RoundingStrategy};
use service_kit::amount::{exact, Inexact, MAX_TEXT_LEN};
use shared_types::RateInput;

use super::{Amount, RuleViolation};

/// The most fraction digits a rate may have.
const MAX_SCALE: u32 = 8;

/// Rates stop below this (`shared_types::money::RATE_PATTERN` says the same).
/// No currency pair comes near it; the bound keeps `amount × rate` exact in
/// a `Decimal` for every amount that could be converted at all.
const LIMIT: Decimal = Decimal::from_parts(3_567_587_328, 232, 0, false, 0);

/// A rate greater than zero with at most eight fraction digits, kept exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate(Decimal);

impl Rate {
    pub fn parse(input: &RateInput) -> Result<Self, RuleViolation> {
        let text = input.as_str();
        let invalid = |why: &str| {
            RuleViolation::new("invalid_rate", format!("rate {text:?} is not valid: {why}"))
        };
        if text.is_empty() || text.len() > MAX_TEXT_LEN {
            return Err(invalid("it must be a decimal number"));
        }
        let value = exact(text).map_err(|e| {
            invalid(match e {
                Inexact::NotANumber => "it must be a decimal number",
                Inexact::TooPrecise => "it may have at most eight fraction digits",
                Inexact::TooLarge => "it must be less than 1000000000000",
            })
        })?;
        Self::try_from(value).map_err(invalid)
    }

    pub fn value(self) -> Decimal {
        self.0
    }

    /// `amount × rate`, rounded half to even to cents (`0.125` is `0.12`,
    /// `0.135` is `0.14`): what the other currency's side receives. `None`
    /// only when it would be far beyond any amount (past a `Decimal`).
    pub fn convert(self, amount: Amount) -> Option<Decimal> {
        // Exact whenever the product is at most 10^18: an amount has two
        // fraction digits and a rate eight, so the product's 28 digits hold
        // it. A larger product may come back rounded, but it is refused as
        // an amount anyway.
        let product = amount.value().checked_mul(self.0)?;
        let mut cents = product.round_dp_with_strategy(2, RoundingStrategy::MidpointNearestEven);
        cents.rescale(2);
        Some(cents)
    }
}

impl TryFrom<Decimal> for Rate {
    type Error = &'static str;

    /// A rate read back from the ledger, or parsed: the same rules.
    fn try_from(value: Decimal) -> Result<Self, Self::Error> {
        if value <= Decimal::ZERO {
            return Err("it must be greater than zero");
        }
        let value = value.normalize();
        if value.scale() > MAX_SCALE {
            return Err("it may have at most eight fraction digits");
        }
        if value >= LIMIT {
            return Err("it must be less than 1000000000000");
        }
        Ok(Self(value))
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared_types::AmountInput;

    fn rate(s: &str) -> Result<Rate, RuleViolation> {
        Rate::parse(&RateInput::from(s))
    }

    fn amount(s: &str) -> Amount {
        Amount::parse(&AmountInput::from(s)).unwrap()
    }

    fn converted(value: &str, at: &str) -> String {
        rate(at)
            .unwrap()
            .convert(amount(value))
            .unwrap()
            .to_string()
    }

    #[test]
    fn the_limit_is_ten_to_the_twelfth() {
        assert_eq!(LIMIT.to_string(), "1000000000000");
    }

    #[test]
    fn valid_rates_are_kept_exactly_and_normalized() {
        assert_eq!(rate("0.9215").unwrap().to_string(), "0.9215");
        assert_eq!(rate("0.92150000").unwrap().to_string(), "0.9215");
        assert_eq!(rate("1").unwrap().to_string(), "1");
        assert_eq!(rate("0.00000001").unwrap().to_string(), "0.00000001");
        assert_eq!(rate("12.34567891").unwrap().to_string(), "12.34567891");
        assert_eq!(rate("9215e-4").unwrap().to_string(), "0.9215");
        assert_eq!(rate("1.5E2").unwrap().to_string(), "150");
        assert_eq!(rate("007.5").unwrap().to_string(), "7.5");
        assert_eq!(
            rate("999999999999.99999999").unwrap().to_string(),
            "999999999999.99999999"
        );
    }

    #[test]
    fn invalid_rates_are_refused() {
        for bad in [
            "0",
            "0.00",
            "-1",
            "-0.5",
            "0.000000001",
            "1.123456789",
            "1e-9",
            "1000000000000",
            "1e12",
            "abc",
            "",
            " 1",
            "1,5",
            ".5",
            "5.",
            "+1",
            "NaN",
            "1e400",
            "0.00000000000000000000000000001",
        ] {
            let err = rate(bad).unwrap_err();
            assert_eq!(err.code, "invalid_rate", "{bad}");
        }
    }

    #[test]
    fn conversions_round_half_to_even_at_the_cent() {
        assert_eq!(converted("100.00", "0.9215"), "92.15");
        // Exactly half a cent: to the even cent.
        assert_eq!(converted("1.00", "0.125"), "0.12");
        assert_eq!(converted("1.00", "0.135"), "0.14");
        assert_eq!(converted("10.00", "0.00125"), "0.01");
        assert_eq!(converted("10.00", "0.00135"), "0.01");
        assert_eq!(converted("10.00", "0.00145"), "0.01");
        assert_eq!(converted("10.00", "0.00155"), "0.02");
        // Past half: up; below: down.
        assert_eq!(converted("1.00", "0.12500001"), "0.13");
        assert_eq!(converted("1.00", "0.12499999"), "0.12");
        assert_eq!(converted("0.01", "0.1"), "0.00");
        assert_eq!(converted("3.33", "1.23456789"), "4.11");
    }

    #[test]
    fn the_largest_conversions_stay_exact_or_are_too_large_to_be_amounts() {
        assert_eq!(
            converted("1000000000000000.00", "0.99999999"),
            "999999990000000.00"
        );
        let huge = rate("999999999999.99999999")
            .unwrap()
            .convert(amount("1000000000000000.00"));
        assert!(huge.is_none_or(|v| Amount::try_from(v).is_err()));
    }

    /// The document's pattern for a rate written as a string
    /// (`shared_types::money::RATE_PATTERN`) takes exactly what this parser
    /// takes, exponents aside (which the document leaves to JSON numbers).
    #[test]
    fn the_documented_pattern_takes_exactly_the_rates_parse_takes() {
        let pattern = regex::Regex::new(shared_types::money::RATE_PATTERN).unwrap();
        let mut texts: Vec<String> = [
            "999999999999.99999999",
            "999999999999.999999990",
            "1000000000000",
            "0999999999999",
            "0.00000001",
            "0.000000010",
            "0.000000001",
            "1.12345678",
            "1.123456789",
            "1.123456780",
        ]
        .iter()
        .map(|t| (*t).to_owned())
        .collect();
        // Every text of up to five characters from these.
        let alphabet = ['0', '1', '9', '.', '-', 'e', '+'];
        let mut layer = vec![String::new()];
        for _ in 0..5 {
            layer = layer
                .iter()
                .flat_map(|text| alphabet.iter().map(move |c| format!("{text}{c}")))
                .collect();
            texts.extend(layer.iter().cloned());
        }
        for text in &texts {
            let parsed = rate(text).is_ok() && !text.contains(['e', 'E']);
            assert_eq!(pattern.is_match(text), parsed, "{text:?}");
        }
    }
}

//! A positive amount of money with at most two fraction digits.

use std::fmt;

use rust_decimal::Decimal;
use shared_types::AmountInput;

use crate::rule::RuleViolation;

/// The largest amount one request may move.
/// (10^15 = 232830 * 2^32 + 2764472320; the unit test below pins it.)
pub const MAX_AMOUNT: Decimal = Decimal::from_parts(2_764_472_320, 232_830, 0, false, 0);

/// The longest text accepted for an amount, far above any valid one, so that a
/// megabyte of digits is refused before it is parsed.
pub const MAX_TEXT_LEN: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Amount(Decimal);

impl Amount {
    pub fn parse(input: &AmountInput) -> Result<Self, RuleViolation> {
        let text = input.as_str();
        let invalid = |why: &str| {
            RuleViolation::new(
                "invalid_amount",
                format!("amount {text:?} is not valid: {why}"),
            )
        };
        if text.is_empty() || text.len() > MAX_TEXT_LEN {
            return Err(invalid("it must be a decimal number"));
        }
        let value = exact(text).map_err(|e| {
            invalid(match e {
                Inexact::NotANumber => "it must be a decimal number",
                Inexact::TooPrecise => "it may have at most two fraction digits",
                Inexact::TooLarge => "it may be at most 1000000000000000.00",
            })
        })?;
        Self::try_from(value).map_err(|e| invalid(&e))
    }

    pub fn value(self) -> Decimal {
        self.0
    }
}

/// Why a text is not a decimal [`exact`] can keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inexact {
    NotANumber,
    /// More fraction digits than a `Decimal` keeps.
    TooPrecise,
    /// More digits than a `Decimal` keeps, or an exponent past them.
    TooLarge,
}

/// The decimal `text` writes, exactly. Only `-?digits(.digits)?` with an
/// optional exponent `e[+-]?digits` is a number (no `_`, `+`, spaces or a
/// bare point, which `Decimal`'s own parser would take); zeros that change
/// nothing (leading, or trailing after the point) are dropped; a number with
/// more digits than a `Decimal` keeps (28 after the point) is refused rather
/// than rounded to one that was not sent. Whatever reads a decimal of the
/// caller's (an amount, an exchange rate) reads it here, and says in its own
/// words why it refuses one.
pub fn exact(text: &str) -> Result<Decimal, Inexact> {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let (mantissa, exponent) = match text.split_once(['e', 'E']) {
        Some((mantissa, exponent)) => {
            let unsigned = exponent.strip_prefix(['+', '-']).unwrap_or(exponent);
            if !digits(unsigned) {
                return Err(Inexact::NotANumber);
            }
            (
                mantissa,
                exponent.parse::<i32>().map_err(|_| Inexact::NotANumber)?,
            )
        }
        None => (text, 0),
    };
    let (negative, unsigned) = match mantissa.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, mantissa),
    };
    let (whole, fraction) = unsigned.split_once('.').unwrap_or((unsigned, ""));
    if !digits(whole) || (unsigned.contains('.') && !digits(fraction)) {
        return Err(Inexact::NotANumber);
    }
    let whole = whole.trim_start_matches('0');
    let fraction = fraction.trim_end_matches('0');
    let canonical = format!(
        "{}{}{}{}",
        if negative { "-" } else { "" },
        if whole.is_empty() { "0" } else { whole },
        if fraction.is_empty() { "" } else { "." },
        fraction
    );
    let mantissa = match Decimal::from_str_exact(&canonical) {
        Ok(value) => value.normalize(),
        Err(_) if fraction.len() > 28 || canonical.parse::<Decimal>().is_ok() => {
            return Err(Inexact::TooPrecise)
        }
        Err(_) => return Err(Inexact::TooLarge),
    };
    if mantissa.is_zero() || exponent == 0 {
        return Ok(mantissa);
    }
    if exponent > 0 {
        let scale = 10i128.checked_pow(exponent.unsigned_abs());
        return scale
            .and_then(|scale| Decimal::try_from_i128_with_scale(scale, 0).ok())
            .and_then(|scale| mantissa.checked_mul(scale))
            .ok_or(Inexact::TooLarge);
    }
    let scale = mantissa.scale() + exponent.unsigned_abs();
    if scale > 28 {
        return Err(Inexact::TooPrecise);
    }
    let mut value = mantissa;
    value.set_scale(scale).map_err(|_| Inexact::TooPrecise)?;
    Ok(value)
}

impl TryFrom<Decimal> for Amount {
    type Error = String;

    fn try_from(value: Decimal) -> Result<Self, Self::Error> {
        if value <= Decimal::ZERO {
            return Err("it must be greater than zero".into());
        }
        if value.normalize().scale() > 2 {
            return Err("it may have at most two fraction digits".into());
        }
        if value > MAX_AMOUNT {
            return Err("it may be at most 1000000000000000.00".into());
        }
        let mut v = value;
        v.rescale(2);
        Ok(Self(v))
    }
}

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.2}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Amount, RuleViolation> {
        Amount::parse(&AmountInput::from(s))
    }

    #[test]
    fn max_amount_is_one_quadrillion() {
        assert_eq!(MAX_AMOUNT.to_string(), "1000000000000000");
    }

    #[test]
    fn valid_amounts_are_kept_exactly_with_two_digits() {
        assert_eq!(parse("199.99").unwrap().to_string(), "199.99");
        assert_eq!(parse("500").unwrap().to_string(), "500.00");
        assert_eq!(parse("0.01").unwrap().to_string(), "0.01");
        assert_eq!(parse("1.500").unwrap().to_string(), "1.50");
        assert_eq!(parse("1e2").unwrap().to_string(), "100.00");
        assert_eq!(parse("12.5E-1").unwrap().to_string(), "1.25");
        assert_eq!(parse("0.0125e2").unwrap().to_string(), "1.25");
        assert_eq!(
            parse("1.10000000000000000000000000").unwrap().to_string(),
            "1.10"
        );
        assert_eq!(parse("1000000000000000.00").unwrap().value(), MAX_AMOUNT);
        // Zeros that change nothing, however many.
        let zeros = "0".repeat(40);
        assert_eq!(parse(&format!("1.{zeros}")).unwrap().to_string(), "1.00");
        assert_eq!(
            parse(&format!("100.{zeros}")).unwrap().to_string(),
            "100.00"
        );
        assert_eq!(parse(&format!("{zeros}12.5")).unwrap().to_string(), "12.50");
        assert_eq!(parse("2.50e+1").unwrap().to_string(), "25.00");
    }

    #[test]
    fn invalid_amounts_are_refused() {
        for bad in [
            "0",
            "0.00",
            "-5",
            "1.001",
            "0.001",
            "1000000000000000.01",
            "abc",
            "",
            " 5",
            "1,5",
            "NaN",
            "1e400",
            "99999999999999999999999999999999",
            // More digits than a Decimal keeps: refused, never rounded.
            "0.0099999999999999999999999999999",
            "1.009999999999999999999999999999",
            "1.00000000000000000000000000001",
            "999999999999999.999999999999999",
            "1000000000000000.0000000000000000000001",
            "1e-30",
            "1.5e-3",
            "1e16",
            // Only digits, one point and an exponent make a number.
            "1_000",
            "1_",
            "1__0.0_1",
            "+5",
            "5.",
            ".5",
            "1e",
            "1e+",
            "1.5e_1",
            "1 000",
            "0x10",
        ] {
            let err = parse(bad).unwrap_err();
            assert_eq!(err.code, "invalid_amount", "{bad}");
        }
    }

    /// The document's pattern for an amount written as a string
    /// (`shared_types::money::AMOUNT_PATTERN`) takes exactly what this parser
    /// takes, exponents aside (which the document leaves to JSON numbers).
    #[test]
    fn the_documented_pattern_takes_exactly_the_amounts_parse_takes() {
        let pattern = regex::Regex::new(shared_types::money::AMOUNT_PATTERN).unwrap();
        let mut texts: Vec<String> = [
            "1000000000000000",
            "1000000000000000.0",
            "1000000000000000.000",
            "1000000000000000.01",
            "999999999999999.99",
            "0999999999999999.990",
            "10000000000000000",
            "00001000000000000000.00",
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
            let parsed = parse(text).is_ok() && !text.contains(['e', 'E']);
            assert_eq!(pattern.is_match(text), parsed, "{text:?}");
        }
    }
}

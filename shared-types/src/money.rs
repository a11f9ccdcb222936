//! Money on the wire: exact decimal text in, two-decimal strings out.

use std::fmt;

use rust_decimal::Decimal;
use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The key under which serde_json (with its `arbitrary_precision` feature)
/// hands a number's exact text to a deserializer.
const EXACT_NUMBER_TOKEN: &str = "$serde_json::private::Number";

/// An amount as the caller wrote it: a JSON string (`"199.99"`) or a JSON
/// number (`199.99`), kept as its exact text. It is never turned into a float;
/// the services parse and check it (`Amount::parse`) and answer `422` when it
/// is not a valid amount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AmountInput(pub String);

impl AmountInput {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<Decimal> for AmountInput {
    fn from(value: Decimal) -> Self {
        Self(value.to_string())
    }
}

impl From<String> for AmountInput {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl From<&str> for AmountInput {
    fn from(value: &str) -> Self {
        Self(value.to_owned())
    }
}

/// The amounts `Amount::parse` takes, written as a decimal string: greater
/// than zero, at most two fraction digits once trailing zeros are dropped,
/// at most 1000000000000000.00, leading zeros allowed. (It also reads an
/// exponent, `1.5e2`, which a JSON number may carry; the document leaves that
/// out of the string form.)
pub const AMOUNT_PATTERN: &str = concat!(
    r"^(0*[1-9][0-9]{0,14}(\.[0-9]{1,2}0*)?",
    r"|0*1000000000000000(\.0+)?",
    r"|0+\.(0[1-9]|[1-9][0-9]?)0*)$"
);

/// In the OpenAPI documents: a decimal string or a JSON number, as the
/// contract accepts either, with the rules of an amount.
#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for AmountInput {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Type};
        OneOfBuilder::new()
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .pattern(Some(AMOUNT_PATTERN))
                    .max_length(Some(64))
                    .examples(["199.99"]),
            )
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::Number)
                    .minimum(Some(0.01))
                    .maximum(Some(1e15))
                    .multiple_of(Some(0.01))
                    .examples([199.99]),
            )
            .description(Some(
                "An exact decimal, as a string (\"199.99\") or a JSON number (199.99, parsed \
                 exactly): greater than zero, at most two fraction digits, at most \
                 1000000000000000.00; anything else is 422 invalid_amount",
            ))
            .into()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for AmountInput {}

impl Serialize for AmountInput {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for AmountInput {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(AmountVisitor)
    }
}

struct AmountVisitor;

impl<'de> Visitor<'de> for AmountVisitor {
    type Value = AmountInput;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an amount as a decimal string or a JSON number")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(AmountInput(v.to_owned()))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(AmountInput(v.to_string()))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(AmountInput(v.to_string()))
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        // Only reached when the JSON parser was built without exact numbers:
        // refusing is better than a rounded amount.
        Err(E::custom(
            "amounts must be sent as strings when the parser cannot keep numbers exact",
        ))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        match map.next_key::<String>()? {
            Some(key) if key == EXACT_NUMBER_TOKEN => Ok(AmountInput(map.next_value()?)),
            _ => Err(de::Error::invalid_type(de::Unexpected::Map, &self)),
        }
    }
}

/// An exchange rate as the caller wrote it: a JSON string (`"0.9215"`) or a
/// JSON number (`0.9215`, parsed exactly), kept as its exact text, as an
/// [`AmountInput`] is. The services parse and check it (`Rate::parse`) and
/// answer `422 invalid_rate` when it is not a valid rate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateInput(pub String);

impl RateInput {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<Decimal> for RateInput {
    fn from(value: Decimal) -> Self {
        Self(value.to_string())
    }
}

impl From<&str> for RateInput {
    fn from(value: &str) -> Self {
        Self(value.to_owned())
    }
}

/// The rates `Rate::parse` takes, written as a decimal string: greater than
/// zero, at most eight fraction digits once trailing zeros are dropped, less
/// than 1000000000000, leading zeros allowed. (Like an amount, it also reads
/// an exponent, which the document leaves to JSON numbers.)
pub const RATE_PATTERN: &str = r"^(0*[1-9][0-9]{0,11}(\.[0-9]{1,8}0*)?|0+\.[0-9]{0,7}[1-9]0*)$";

#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for RateInput {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Type};
        OneOfBuilder::new()
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .pattern(Some(RATE_PATTERN))
                    .max_length(Some(64))
                    .examples(["0.9215"]),
            )
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::Number)
                    .exclusive_minimum(Some(0.0))
                    .exclusive_maximum(Some(1e12))
                    .multiple_of(Some(0.000_000_01))
                    .examples([0.9215]),
            )
            .description(Some(
                "Units of the `to` account's currency per unit of the `from` account's: an exact \
                 decimal, as a string (\"0.9215\") or a JSON number (parsed exactly), greater than \
                 zero, at most eight fraction digits, less than 1000000000000; anything else is \
                 422 invalid_rate",
            ))
            .into()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for RateInput {}

impl Serialize for RateInput {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for RateInput {
    /// The same exact reading as an amount's: only the rules differ.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        AmountInput::deserialize(deserializer).map(|AmountInput(text)| Self(text))
    }
}

/// Answers a rate as its decimal, normalized (`"0.9215"`, not `"0.92150000"`),
/// and reads one from a string or an exact number (`null` when absent).
pub mod rate_option {
    use super::*;

    pub fn serialize<S: Serializer>(
        value: &Option<Decimal>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(v) => serializer.collect_str(&v.normalize()),
            None => serializer.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Decimal>, D::Error> {
        Option::<AmountInput>::deserialize(deserializer)?
            .map(|AmountInput(text)| text.parse().map_err(de::Error::custom))
            .transpose()
    }
}

/// Serializes a decimal as a string with exactly two fraction digits.
pub fn serialize<S: Serializer>(value: &Decimal, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(&format_args!("{:.2}", value.round_dp(2)))
}

/// Reads a decimal from a string or an exact number.
pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Decimal, D::Error> {
    let AmountInput(text) = AmountInput::deserialize(deserializer)?;
    text.parse().map_err(de::Error::custom)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_with_two_fraction_digits() {
        #[derive(Serialize)]
        struct W(#[serde(serialize_with = "serialize")] Decimal);
        let cases = [
            ("0", "\"0.00\""),
            ("199.9", "\"199.90\""),
            ("-5", "\"-5.00\""),
        ];
        for (input, expected) in cases {
            let d: Decimal = input.parse().unwrap();
            assert_eq!(serde_json::to_string(&W(d)).unwrap(), expected);
        }
    }

    #[test]
    fn numbers_keep_their_exact_text() {
        let a: AmountInput = serde_json::from_str("0.1").unwrap();
        assert_eq!(a.as_str(), "0.1");
        let b: AmountInput = serde_json::from_str("\"199.99\"").unwrap();
        assert_eq!(b.as_str(), "199.99");
        let c: AmountInput = serde_json::from_str("12345678901234567890.123").unwrap();
        assert_eq!(c.as_str(), "12345678901234567890.123");
    }

    #[test]
    fn other_json_types_are_refused() {
        assert!(serde_json::from_str::<AmountInput>("true").is_err());
        assert!(serde_json::from_str::<AmountInput>("{\"a\":1}").is_err());
        assert!(serde_json::from_str::<AmountInput>("[1]").is_err());
    }
}

/// The same formats for optional amounts (`null` when absent).
pub mod option {
    use super::*;

    pub fn serialize<S: Serializer>(
        value: &Option<Decimal>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(v) => super::serialize(v, serializer),
            None => serializer.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Decimal>, D::Error> {
        Option::<AmountInput>::deserialize(deserializer)?
            .map(|AmountInput(text)| text.parse().map_err(de::Error::custom))
            .transpose()
    }
}

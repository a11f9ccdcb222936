//! A caller's labels on an account or a transaction: at most 20 keys (1-64
//! characters of `A-Z a-z 0-9 _ . -`) to strings of at most 500 characters.

use std::collections::BTreeMap;

use serde_json::Value;

use super::RuleViolation;

const MAX_KEYS: usize = 20;
const MAX_KEY_CHARS: usize = 64;
const MAX_VALUE_CHARS: usize = 500;

/// Labels within the limits, in key order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Metadata(BTreeMap<String, String>);

fn invalid(message: String) -> RuleViolation {
    RuleViolation::new("invalid_metadata", message)
}

fn check_key(key: &str) -> Result<(), RuleViolation> {
    let fits = (1..=MAX_KEY_CHARS).contains(&key.len())
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
    if fits {
        Ok(())
    } else {
        Err(invalid(format!(
            "metadata key {key:?} must be 1 to {MAX_KEY_CHARS} characters of A-Z a-z 0-9 _ . -"
        )))
    }
}

fn check_value(key: &str, value: &Value) -> Result<String, RuleViolation> {
    match value {
        Value::String(text) if text.chars().count() <= MAX_VALUE_CHARS => Ok(text.clone()),
        Value::String(_) => Err(invalid(format!(
            "metadata.{key} may be at most {MAX_VALUE_CHARS} characters long"
        ))),
        _ => Err(invalid(format!("metadata.{key} must be a string"))),
    }
}

impl Metadata {
    /// A request's `metadata`: absent or `null` is none; else an object of
    /// strings within the limits (`422 invalid_metadata` otherwise).
    pub fn parse(value: Option<&Value>) -> Result<Self, RuleViolation> {
        match value {
            None | Some(Value::Null) => Ok(Self::default()),
            Some(Value::Object(fields)) => {
                let mut labels = BTreeMap::new();
                for (key, value) in fields {
                    check_key(key)?;
                    labels.insert(key.clone(), check_value(key, value)?);
                }
                Self(labels).within_count()
            }
            Some(_) => Err(invalid("metadata must be an object of strings".into())),
        }
    }

    /// These labels merged with `patch`, an object whose strings set keys and
    /// whose `null`s remove them; the result must still fit the limits.
    pub fn merge(&self, patch: &Value) -> Result<Self, RuleViolation> {
        let Value::Object(fields) = patch else {
            return Err(invalid(
                "metadata must be an object of strings or nulls".into(),
            ));
        };
        let mut labels = self.0.clone();
        for (key, value) in fields {
            check_key(key)?;
            match value {
                Value::Null => {
                    labels.remove(key);
                }
                value => {
                    labels.insert(key.clone(), check_value(key, value)?);
                }
            }
        }
        Self(labels).within_count()
    }

    fn within_count(self) -> Result<Self, RuleViolation> {
        if self.0.len() > MAX_KEYS {
            return Err(invalid(format!(
                "metadata may have at most {MAX_KEYS} keys, not {}",
                self.0.len()
            )));
        }
        Ok(self)
    }

    /// Labels read back from the database, as they were written.
    pub fn stored(value: Option<Value>) -> Self {
        let labels = match value {
            Some(Value::Object(fields)) => fields
                .into_iter()
                .filter_map(|(key, value)| match value {
                    Value::String(text) => Some((key, text)),
                    _ => None,
                })
                .collect(),
            _ => BTreeMap::new(),
        };
        Self(labels)
    }

    /// What the database keeps: `None` for no labels (no index entry).
    pub fn to_stored(&self) -> Option<Value> {
        (!self.0.is_empty()).then(|| {
            Value::Object(
                self.0
                    .iter()
                    .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                    .collect(),
            )
        })
    }

    pub fn into_map(self) -> BTreeMap<String, String> {
        self.0
    }

    pub fn as_map(&self) -> &BTreeMap<String, String> {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn labels_within_the_limits_are_taken() {
        let fields: serde_json::Map<String, Value> = (0..20)
            .map(|i| (format!("k.{i}-_"), json!("v".repeat(500))))
            .collect();
        let taken = Metadata::parse(Some(&Value::Object(fields))).unwrap();
        assert_eq!(taken.as_map().len(), 20);
        assert_eq!(Metadata::parse(None).unwrap(), Metadata::default());
        assert_eq!(
            Metadata::parse(Some(&Value::Null)).unwrap(),
            Metadata::default()
        );
        assert_eq!(
            Metadata::parse(Some(&json!({"a": "é".repeat(500)})))
                .unwrap()
                .as_map()["a"]
                .chars()
                .count(),
            500,
            "characters, not bytes"
        );
    }

    #[test]
    fn anything_else_is_invalid_metadata() {
        let too_many: serde_json::Map<String, Value> =
            (0..21).map(|i| (format!("k{i}"), json!("v"))).collect();
        for bad in [
            json!({"n": 1}),
            json!({"n": {"nested": "x"}}),
            json!({"n": ["x"]}),
            json!({"n": null}),
            json!({"": "x"}),
            json!({"a b": "x"}),
            json!({"ключ": "x"}),
            json!({"k".repeat(65): "x"}),
            json!({"k": "v".repeat(501)}),
            json!("text"),
            json!([]),
            Value::Object(too_many),
        ] {
            let refused = Metadata::parse(Some(&bad)).unwrap_err();
            assert_eq!(refused.code, "invalid_metadata", "{bad}");
        }
    }

    #[test]
    fn a_merge_sets_and_removes_keys_and_keeps_the_limits() {
        let start = Metadata::parse(Some(&json!({"tier": "silver", "old": "x"}))).unwrap();
        let merged = start
            .merge(&json!({"tier": "gold", "old": null, "gone": null, "new": "y"}))
            .unwrap();
        assert_eq!(
            merged.as_map(),
            &BTreeMap::from([("new".into(), "y".into()), ("tier".into(), "gold".into())])
        );
        let full: serde_json::Map<String, Value> =
            (0..20).map(|i| (format!("k{i}"), json!("v"))).collect();
        let full = Metadata::parse(Some(&Value::Object(full))).unwrap();
        assert_eq!(
            full.merge(&json!({"k21": "v"})).unwrap_err().code,
            "invalid_metadata"
        );
        // Removing one first makes room.
        assert!(full.merge(&json!({"k0": null, "k21": "v"})).is_ok());
        for bad in [json!({"k": 1}), json!("x"), json!({"bad key": "v"})] {
            assert_eq!(start.merge(&bad).unwrap_err().code, "invalid_metadata");
        }
        assert_eq!(Metadata::stored(full.to_stored()), full);
        assert_eq!(Metadata::default().to_stored(), None);
    }
}

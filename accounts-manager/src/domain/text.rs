//! Free text a caller attaches to a movement (`description`, `reference`).

use super::RuleViolation;

const MAX_CHARS: usize = 500;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallerText(String);

impl CallerText {
    /// `None` and blank text both mean "nothing given".
    pub fn parse(field: &'static str, value: Option<&str>) -> Result<Option<Self>, RuleViolation> {
        let Some(value) = value.map(str::trim).filter(|v| !v.is_empty()) else {
            return Ok(None);
        };
        if value.chars().count() > MAX_CHARS {
            return Err(RuleViolation::new(
                "invalid_text",
                format!("{field} may be at most {MAX_CHARS} characters long"),
            ));
        }
        if value.chars().any(char::is_control) {
            return Err(RuleViolation::new(
                "invalid_text",
                format!("{field} may not contain control characters"),
            ));
        }
        Ok(Some(Self(value.to_owned())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

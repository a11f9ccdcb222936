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

#[cfg(test)]
mod tests {
    use super::*;

    /// The document's pattern for a caller's text
    /// (`shared_types::openapi::CALLER_TEXT_PATTERN`) takes exactly what
    /// `parse` takes.
    #[test]
    fn the_documented_pattern_takes_exactly_the_texts_parse_takes() {
        let pattern = regex::Regex::new(shared_types::openapi::CALLER_TEXT_PATTERN).unwrap();
        let alphabet = [
            'a', 'é', ' ', '\t', '\n', '\r', '\u{b}', '\u{1}', '\u{1f}', '\u{7f}', '\u{85}',
            '\u{9f}', '\u{a0}', '\u{2028}', '\u{3000}', '\u{200b}',
        ];
        let mut layer = vec![String::new()];
        let mut texts = vec![String::new()];
        for _ in 0..3 {
            layer = layer
                .iter()
                .flat_map(|text| alphabet.iter().map(move |c| format!("{text}{c}")))
                .collect();
            texts.extend(layer.iter().cloned());
        }
        for text in &texts {
            let parsed = CallerText::parse("description", Some(text)).is_ok();
            assert_eq!(pattern.is_match(text), parsed, "{text:?}");
        }
        let longest = "é".repeat(MAX_CHARS);
        assert!(CallerText::parse("description", Some(&longest)).is_ok());
        assert!(CallerText::parse("description", Some(&format!("{longest}a"))).is_err());
    }
}

//! A calendar month in UTC, as `YYYY-MM`.

use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc};

use super::RuleViolation;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Month {
    first_day: NaiveDate,
}

impl Month {
    pub fn parse(text: &str) -> Result<Self, RuleViolation> {
        let invalid = || {
            RuleViolation::new(
                "invalid_month",
                format!("month {text:?} is not a month such as 2022-11"),
            )
        };
        let well_formed = text.len() == 7 && text.as_bytes()[4] == b'-';
        let first_day =
            NaiveDate::parse_from_str(&format!("{text}-01"), "%Y-%m-%d").map_err(|_| invalid())?;
        if !well_formed || !(1970..=9998).contains(&first_day.year()) {
            return Err(invalid());
        }
        Ok(Self { first_day })
    }

    /// The text it was written as: `2022-11`.
    pub fn label(self) -> String {
        self.first_day.format("%Y-%m").to_string()
    }

    /// The first instant of the month and the first of the next.
    pub fn range(self) -> (DateTime<Utc>, DateTime<Utc>) {
        let next = self
            .first_day
            .checked_add_months(chrono::Months::new(1))
            .unwrap_or(self.first_day);
        let start =
            |d: NaiveDate| Utc.from_utc_datetime(&d.and_hms_opt(0, 0, 0).unwrap_or_default());
        (start(self.first_day), start(next))
    }
}

/// One CSV field, quoted when it holds a comma, quote or line break (RFC 4180).
pub fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_parse_and_span_the_calendar_month() {
        let m = Month::parse("2022-12").unwrap();
        assert_eq!(m.label(), "2022-12");
        let (from, to) = m.range();
        assert_eq!(from.to_rfc3339(), "2022-12-01T00:00:00+00:00");
        assert_eq!(to.to_rfc3339(), "2023-01-01T00:00:00+00:00");
        for bad in [
            "2022-13",
            "2022-1",
            "22-11",
            "2022/11",
            "",
            "2022-11-01",
            "abcd-ef",
        ] {
            assert!(Month::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn csv_fields_are_quoted_only_when_needed() {
        assert_eq!(csv_field("delivery"), "delivery");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
    }
}

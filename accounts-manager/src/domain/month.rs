//! A calendar month in UTC, as `YYYY-MM`.

use chrono::{DateTime, Datelike, NaiveDate, Utc};

use super::RuleViolation;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
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
        // Any month of the years 0001 to 9999 (there is no revenue before the
        // ledger existed: its CSV is the header alone).
        if !well_formed || !(1..=9999).contains(&first_day.year()) {
            return Err(invalid());
        }
        Ok(Self { first_day })
    }

    /// The month (UTC) an instant falls in.
    pub fn of(instant: DateTime<Utc>) -> Self {
        let day = instant.date_naive();
        Self {
            first_day: day.with_day(1).unwrap_or(day),
        }
    }

    /// Its first day, as the revenue rollup keys it.
    pub fn first_day(self) -> NaiveDate {
        self.first_day
    }

    /// The text it was written as: `2022-11`.
    pub fn label(self) -> String {
        self.first_day.format("%Y-%m").to_string()
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
    fn months_parse_and_start_on_their_first_day() {
        let m = Month::parse("2022-12").unwrap();
        assert_eq!(m.label(), "2022-12");
        assert_eq!(m.first_day().to_string(), "2022-12-01");
        for good in ["1969-12", "0001-01", "9999-12"] {
            assert_eq!(Month::parse(good).unwrap().label(), good);
        }
        for bad in [
            "0000-01",
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
    fn an_instant_falls_in_its_utc_month() {
        let at = |text: &str| {
            DateTime::parse_from_rfc3339(text)
                .unwrap()
                .with_timezone(&Utc)
        };
        assert_eq!(
            Month::of(at("2022-11-30T23:59:59.999999Z")).label(),
            "2022-11"
        );
        assert_eq!(Month::of(at("2022-12-01T00:00:00Z")).label(), "2022-12");
        assert_eq!(
            Month::of(at("2022-12-01T00:30:00+01:00")).label(),
            "2022-11"
        );
    }

    #[test]
    fn csv_fields_are_quoted_only_when_needed() {
        assert_eq!(csv_field("delivery"), "delivery");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
    }
}

//! Cursors: where the next page of a listing starts. A cursor carries the
//! snapshot the listing is read at, which listing it was made for (its
//! filters and sort, as a fingerprint), how many rows came before, and the
//! sort key of the last row given: the next page is read after that key
//! (keyset), so it costs the same at any depth, and, inside the same
//! snapshot, holds exactly the rows `page` would.

use super::snapshot::{fingerprint, Snapshot};
use crate::rule::RuleViolation;

/// The sort key of a row, as the text of its fields in the listing's sort
/// order (a time as microseconds, an id, an amount): no field holds `,` or `|`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key(Vec<String>);

impl Key {
    pub fn new<I, S>(fields: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: ToString,
    {
        Self(fields.into_iter().map(|f| f.to_string()).collect())
    }

    /// Field `index`, read as a `T`; a cursor whose key does not read is not
    /// one this service made.
    pub fn field<T: std::str::FromStr>(&self, index: usize) -> Result<T, RuleViolation> {
        self.0
            .get(index)
            .and_then(|text| text.parse().ok())
            .ok_or_else(invalid_cursor)
    }

    /// The time of field `index`, written as microseconds since the epoch.
    pub fn time(&self, index: usize) -> Result<chrono::DateTime<chrono::Utc>, RuleViolation> {
        chrono::DateTime::from_timestamp_micros(self.field(index)?).ok_or_else(invalid_cursor)
    }

    /// A key of a time and an id (fields 0 and 1), as most listings sort.
    pub fn time_and_id(
        &self,
    ) -> Result<(chrono::DateTime<chrono::Utc>, uuid::Uuid), RuleViolation> {
        Ok((self.time(0)?, self.field(1)?))
    }

    /// The key of a row sorted by its time, then its id.
    pub fn of_time_and_id(time: chrono::DateTime<chrono::Utc>, id: uuid::Uuid) -> Self {
        Self::new([time.timestamp_micros().to_string(), id.to_string()])
    }
}

/// Where a page's rows start, as a store reads them: so many rows in, or
/// after a row's key `K` (a cursor), which costs the same at any depth.
#[derive(Debug, Clone, Copy)]
pub enum Start<K> {
    Offset(i64),
    After(K),
}

impl<K: Copy> Start<K> {
    /// The rows to skip (none after a key).
    pub fn offset(&self) -> i64 {
        match self {
            Self::Offset(offset) => *offset,
            Self::After(_) => 0,
        }
    }

    pub fn key(&self) -> Option<K> {
        match self {
            Self::Offset(_) => None,
            Self::After(key) => Some(*key),
        }
    }
}

/// The position after a page: see the module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub snapshot: Snapshot,
    listing: u64,
    /// How many rows the pages before the next one held.
    pub offset: i64,
    /// The sort key of the last of them.
    pub after: Key,
}

impl Cursor {
    pub fn new(snapshot: Snapshot, listing: &str, offset: i64, after: Key) -> Self {
        Self {
            snapshot,
            listing: fingerprint(listing),
            offset,
            after,
        }
    }

    /// Whether it was made for `listing` (the same filters and sort).
    pub fn is_for(&self, listing: &str) -> bool {
        self.listing == fingerprint(listing)
    }

    /// `c<listing>|<offset>|<key fields, comma-separated>|<snapshot token>`.
    pub fn encode(&self) -> String {
        format!(
            "c{:016x}|{}|{}|{}",
            self.listing,
            self.offset,
            self.after.0.join(","),
            self.snapshot.encode()
        )
    }

    pub fn parse(text: &str) -> Result<Self, RuleViolation> {
        let mut parts = text.splitn(4, '|');
        let (Some(listing), Some(offset), Some(key), Some(snapshot)) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(invalid_cursor());
        };
        let listing = listing
            .strip_prefix('c')
            .filter(|hex| hex.len() == 16 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
            .and_then(|hex| u64::from_str_radix(hex, 16).ok())
            .ok_or_else(invalid_cursor)?;
        let offset = offset
            .parse::<i64>()
            .ok()
            .filter(|o| *o > 0)
            .ok_or_else(invalid_cursor)?;
        if key.is_empty() {
            return Err(invalid_cursor());
        }
        let after = Key(key.split(',').map(str::to_owned).collect());
        let snapshot = Snapshot::parse(snapshot).map_err(|_| invalid_cursor())?;
        Ok(Self {
            snapshot,
            listing,
            offset,
            after,
        })
    }
}

/// A cursor this service did not make, made for another listing or sort, or
/// given with `page` or `snapshot`.
pub fn invalid_cursor() -> RuleViolation {
    RuleViolation::new(
        "invalid_cursor",
        "cursor is not the next of an earlier page of this listing with these filters and sort",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_round_trips_and_knows_its_listing() {
        let snapshot = Snapshot::parse("100:105:101,103")
            .unwrap()
            .with_total("a", 7);
        let cursor = Cursor::new(
            snapshot,
            "history:x:date:desc",
            200,
            Key::new(["1700", "id"]),
        );
        let again = Cursor::parse(&cursor.encode()).unwrap();
        assert_eq!(again, cursor);
        assert!(again.is_for("history:x:date:desc"));
        assert!(!again.is_for("history:x:date:asc"));
        assert_eq!(again.after.field::<i64>(0).unwrap(), 1700);
        assert!(again.after.field::<i64>(1).is_err());
        assert!(again.after.field::<i64>(2).is_err());
    }

    #[test]
    fn anything_else_is_an_invalid_cursor() {
        let good = Cursor::new(Snapshot::parse("1:2:").unwrap(), "l", 5, Key::new(["1"])).encode();
        let (_, rest) = good.split_at(17);
        for bad in [
            String::new(),
            "c".into(),
            "1:2:".into(),
            format!("x{rest}"),
            good.replace("|5|", "|0|"),
            good.replace("|5|", "|-5|"),
            good.replace("|5|", "|x|"),
            good.replace("|1|", "||"),
            good.replace("1:2:", "2:1:"),
            format!("c00{rest}"),
        ] {
            let refused = Cursor::parse(&bad).unwrap_err();
            assert_eq!(refused.code, "invalid_cursor", "{bad:?}");
        }
    }
}

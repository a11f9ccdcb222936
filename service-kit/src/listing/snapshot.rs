//! The snapshot a listing's pages are read at: a Postgres snapshot, the
//! report's window and the first page's count, carried between pages in a
//! token sealed with HMAC-SHA256 so that a client cannot widen what it reads.

use chrono::{DateTime, Utc};
use diesel::pg::PgConnection;
use diesel::{QueryResult, RunQueryDsl};

use crate::error::ApiError;
use crate::rule::RuleViolation;

/// A pinned view of the ledger: a Postgres snapshot (`xmin:xmax:xip,...`,
/// as `pg_current_snapshot()` writes it), for the report the time window
/// the first page chose, and the `total_count` the first page counted.
/// Clients treat its text as opaque.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    pub pg_snapshot: String,
    pub window: Option<(DateTime<Utc>, DateTime<Utc>)>,
    pub counted: Option<Counted>,
}

/// A listing's `total_count` as of a snapshot, which cannot change: later
/// pages carry it in their token instead of counting again. `listing` is a
/// fingerprint of what was counted (an account's history, the report of a
/// status), so that a token passed to another listing is counted afresh
/// rather than answered with a count that is not its own. A client that edits
/// the count only misleads itself; the set of rows it is shown stays the
/// snapshot's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counted {
    pub total: i64,
    pub listing: u64,
}

/// The fingerprint of a listing's description, for [`Counted::listing`]:
/// the first 8 bytes of its SHA-256, stable across instances and builds.
pub(super) fn fingerprint(listing: &str) -> u64 {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(listing.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(first)
}

impl Snapshot {
    /// A snapshot with nothing counted yet.
    pub fn new(pg_snapshot: String, window: Option<(DateTime<Utc>, DateTime<Utc>)>) -> Self {
        Self {
            pg_snapshot,
            window,
            counted: None,
        }
    }

    /// The `total_count` counted for `listing` as of this snapshot, if any.
    pub fn total_of(&self, listing: &str) -> Option<i64> {
        self.counted
            .filter(|c| c.listing == fingerprint(listing))
            .map(|c| c.total)
    }

    /// The snapshot carrying `total` as the count of `listing`.
    pub fn with_total(self, listing: &str, total: i64) -> Self {
        Self {
            counted: Some(Counted {
                total,
                listing: fingerprint(listing),
            }),
            ..self
        }
    }

    /// The snapshot a page is read at: the one an earlier page gave, which
    /// must be of this listing's kind (with a time window for a windowed
    /// listing, without one for the others), or else the database's now
    /// (with `window`).
    pub fn read_at(
        conn: &mut PgConnection,
        given: Option<Snapshot>,
        window: Option<(DateTime<Utc>, DateTime<Utc>)>,
    ) -> Result<Self, ApiError> {
        match given {
            Some(given) if given.window.is_some() == window.is_some() => Ok(given),
            Some(_) => Err(foreign_snapshot().into()),
            None => Ok(Self::new(current_snapshot(conn)?, window)),
        }
    }

    pub fn parse(token: &str) -> Result<Self, RuleViolation> {
        let invalid = not_given_out;
        // Tokens given out before counts were carried have no `@` part.
        let (token, counted) = match token.rsplit_once('@') {
            None => (token, None),
            Some((rest, counted)) => (rest, Some(parse_counted(counted).ok_or_else(invalid)?)),
        };
        let (pg_snapshot, window) = match token.split_once('~') {
            None => (token, None),
            Some((snapshot, window)) => {
                let (from, to) = window.split_once('~').ok_or_else(invalid)?;
                let micros = |s: &str| {
                    s.parse::<i64>()
                        .ok()
                        .and_then(DateTime::from_timestamp_micros)
                };
                (
                    snapshot,
                    Some((
                        micros(from).ok_or_else(invalid)?,
                        micros(to).ok_or_else(invalid)?,
                    )),
                )
            }
        };
        if !is_pg_snapshot(pg_snapshot) {
            return Err(invalid());
        }
        Ok(Self {
            pg_snapshot: pg_snapshot.to_owned(),
            window,
            counted,
        })
    }

    pub fn encode(&self) -> String {
        let base = match self.window {
            None => self.pg_snapshot.clone(),
            Some((from, to)) => format!(
                "{}~{}~{}",
                self.pg_snapshot,
                from.timestamp_micros(),
                to.timestamp_micros()
            ),
        };
        match self.counted {
            None => base,
            Some(c) => format!("{base}@{}.{:016x}", c.total, c.listing),
        }
    }
}

#[derive(diesel::QueryableByName)]
struct SnapshotText {
    #[diesel(sql_type = diesel::sql_types::Text)]
    snapshot: String,
}

/// The database's current snapshot, as text.
fn current_snapshot(conn: &mut PgConnection) -> QueryResult<String> {
    diesel::sql_query("SELECT pg_current_snapshot()::text AS snapshot")
        .get_result::<SnapshotText>(conn)
        .map(|s| s.snapshot)
}

/// A snapshot token of another kind of listing.
pub fn foreign_snapshot() -> RuleViolation {
    RuleViolation::new(
        "invalid_snapshot",
        "this snapshot belongs to another listing",
    )
}

/// A snapshot token this service did not give out (or that was changed since).
fn not_given_out() -> RuleViolation {
    RuleViolation::new(
        "invalid_snapshot",
        "snapshot is not one this service gave out",
    )
}

/// `<total>.<16 hex digits>`, as [`Snapshot::encode`] writes it.
fn parse_counted(text: &str) -> Option<Counted> {
    let (total, listing) = text.split_once('.')?;
    let digits = |s: &str, radix: u32| {
        !s.is_empty() && s.len() <= 20 && s.chars().all(|c| c.is_digit(radix))
    };
    if !digits(total, 10) || listing.len() != 16 || !digits(listing, 16) {
        return None;
    }
    Some(Counted {
        total: total.parse().ok().filter(|t: &i64| *t >= 0)?,
        listing: u64::from_str_radix(listing, 16).ok()?,
    })
}

/// `xmin:xmax:` followed by a comma-separated list of in-progress xids, as
/// Postgres reads a `pg_snapshot`: xmin and xmax not zero, xmin at most xmax,
/// the in-progress ids in order and each from xmin to below xmax (anything
/// else Postgres refuses, and a client must get `422` for it, not `500`).
fn is_pg_snapshot(text: &str) -> bool {
    let mut parts = text.splitn(3, ':');
    let number = |s: &str| {
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse::<u64>().ok())
            .flatten()
    };
    let (Some(xmin), Some(xmax), Some(xip)) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    let (Some(xmin), Some(xmax)) = (number(xmin), number(xmax)) else {
        return false;
    };
    if xmin == 0 || xmax < xmin {
        return false;
    }
    if xip.is_empty() {
        return true;
    }
    let mut last = xmin;
    xip.split(',').all(|id| {
        let in_order = number(id).filter(|&id| id >= last && id < xmax);
        if let Some(id) = in_order {
            last = id;
        }
        in_order.is_some()
    })
}

/// Seals the snapshot tokens a service gives out, so that it only takes back
/// tokens it made: a token carries the report's window, and a client that
/// could edit it could read the ledger past the report window. The seal is
/// an HMAC-SHA256 of the token (its first 128 bits, in hex, after a `!`),
/// under a key every instance of the service shares (accounts-manager keeps
/// it in its database).
#[derive(Clone)]
pub struct TokenSeal {
    keyed: hmac::Hmac<sha2::Sha256>,
}

impl std::fmt::Debug for TokenSeal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenSeal(..)")
    }
}

/// Hex digits of the seal.
const SEAL_HEX: usize = 32;

impl TokenSeal {
    /// A seal under `key` (HMAC takes a key of any length; an empty one is
    /// refused, as no key).
    pub fn new(key: &[u8]) -> Result<Self, String> {
        use hmac::Mac;
        if key.is_empty() {
            return Err("the token seal's key is empty".into());
        }
        let keyed = hmac::Hmac::<sha2::Sha256>::new_from_slice(key).map_err(|e| e.to_string())?;
        Ok(Self { keyed })
    }

    /// `token` with its seal.
    pub fn seal(&self, token: &str) -> String {
        use hmac::Mac;
        let mut mac = self.keyed.clone();
        mac.update(token.as_bytes());
        let tag = mac.finalize().into_bytes();
        let hex: String = tag[..SEAL_HEX / 2]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        format!("{token}!{hex}")
    }

    /// The token inside a sealed one, if this service sealed it.
    pub fn open<'a>(&self, sealed: &'a str) -> Result<&'a str, RuleViolation> {
        use hmac::Mac;
        let forged = not_given_out;
        let (token, hex) = sealed.rsplit_once('!').ok_or_else(forged)?;
        if hex.len() != SEAL_HEX || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(forged());
        }
        let tag: Vec<u8> = (0..SEAL_HEX)
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16))
            .collect::<Result<_, _>>()
            .map_err(|_| forged())?;
        let mut mac = self.keyed.clone();
        mac.update(token.as_bytes());
        mac.verify_truncated_left(&tag).map_err(|_| forged())?;
        Ok(token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshots_round_trip_and_refuse_forgeries() {
        let plain = Snapshot::parse("100:105:101,103").unwrap();
        assert_eq!(plain.encode(), "100:105:101,103");
        let windowed = Snapshot::parse("7:7:~1000000~2000000").unwrap();
        assert_eq!(windowed.encode(), "7:7:~1000000~2000000");
        for bad in [
            "",
            "1:2",
            "a:b:",
            "1:2:3;drop",
            "1:2:~x~y",
            "1:2:~5",
            // What Postgres refuses as a pg_snapshot.
            "0:0:",
            "5:3:",
            "10:20:5",
            "10:20:20",
            "10:20:12,11",
            "10:20:12,",
            "1:99999999999999999999:",
        ] {
            assert!(Snapshot::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_sealed_token_opens_only_unchanged_and_under_its_own_key() {
        let seal = TokenSeal::new(b"one key").unwrap();
        let token = "7:9:8~1000000~2000000@12.0123456789abcdef";
        let sealed = seal.seal(token);
        assert_eq!(seal.open(&sealed).unwrap(), token);
        let edited = sealed.replacen("~1000000~", "~0~", 1);
        assert!(seal.open(&edited).is_err());
        let other = TokenSeal::new(b"another key").unwrap();
        assert!(other.open(&sealed).is_err());
        assert!(TokenSeal::new(b"").is_err());
        assert!(seal.open(token).is_err());
        assert!(seal.open(&format!("{token}!")).is_err());
        assert!(seal.open(&format!("{token}!{}", "g".repeat(32))).is_err());
        let (body, hex) = sealed.rsplit_once('!').unwrap();
        let flipped = if hex.starts_with('0') { "1" } else { "0" };
        assert!(seal
            .open(&format!("{body}!{flipped}{}", &hex[1..]))
            .is_err());
    }

    #[test]
    fn a_count_travels_in_the_token_for_its_own_listing_only() {
        let counted = Snapshot::parse("7:9:8~1000000~2000000")
            .unwrap()
            .with_total("report:all", 1234);
        let token = counted.encode();
        let back = Snapshot::parse(&token).unwrap();
        assert_eq!(back, counted);
        assert_eq!(back.total_of("report:all"), Some(1234));
        assert_eq!(back.total_of("report:failed"), None);
        let plain = Snapshot::new("7:9:8".into(), None).with_total("history:a", 0);
        assert_eq!(Snapshot::parse(&plain.encode()).unwrap(), plain);
        for bad in [
            "7:9:8@",
            "7:9:8@12",
            "7:9:8@12.",
            "7:9:8@-1.0123456789abcdef",
            "7:9:8@x.0123456789abcdef",
            "7:9:8@12.0123456789abcdeg",
            "7:9:8@12.0123456789abcde",
            "7:9:8@99999999999999999999.0123456789abcdef",
            "7:9:8@1.0123456789abcdef@1.0123456789abcdef",
        ] {
            assert!(Snapshot::parse(bad).is_err(), "{bad}");
        }
    }
}

//! Pagination and snapshots of listings: the paging parameters every
//! listing takes ([`Listing`]), where a page starts ([`Position`]: a page
//! number or a cursor), the snapshot it is read at ([`Snapshot::read_at`],
//! in `snapshot`) and the page that answers ([`Position::page`]).

mod cursor;
mod snapshot;

pub use cursor::{invalid_cursor, Cursor, Key, Start};
pub use snapshot::{foreign_snapshot, Counted, Snapshot, TokenSeal};

use std::future::{ready, Ready};

use actix_web::{dev::Payload, FromRequest, HttpRequest};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use shared_types::accounts::Page;

use crate::error::ApiError;
use crate::rule::RuleViolation;

/// The paging parameters of every listing's query string, as its OpenAPI
/// operation states them (`params(Filters, PageParams)`).
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// How many items a page has: 1..1000, default 100.
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
    /// Which page, from 1; a page past the end has no items.
    #[param(minimum = 1, maximum = 9223372036854775807_i64)]
    pub page: Option<i64>,
    /// The `snapshot` of an earlier page of the same listing: the page is read as of that one, so no item written since appears and `total_count` stays the same. Opaque; only what this service gave out is taken (`422 invalid_snapshot` otherwise).
    pub snapshot: Option<String>,
    /// The `next` of an earlier page: the page after it, of the same snapshot, read after its last item (as fast at any depth). With the same filters and sort; `limit` may change. Not with `page` or `snapshot` (`422 invalid_cursor`, as for a cursor this service did not give out or gave for another listing).
    pub cursor: Option<String>,
}

/// The paging parameters of a listing read by cursors only (no `page` or
/// `snapshot`: the first page pins the snapshot, its `next` carries it).
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CursorParams {
    /// How many items a page has: 1..1000, default 100.
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
    /// The `next` of an earlier page: the page after it, of the same snapshot, with the same filters (`422 invalid_cursor` otherwise); `limit` may change.
    pub cursor: Option<String>,
}

/// The names of [`PageParams`] in a query string.
const PAGE_PARAMS: [&str; 4] = ["limit", "page", "snapshot", "cursor"];

/// A listing's query string, read the same way for every listing: the
/// route's own filters `F` (a struct that refuses unknown fields) and the
/// paging parameters. An unknown parameter or a value of the wrong type is
/// `400 invalid_request`; a limit or page out of range is `422`
/// (`invalid_limit`, `invalid_page`).
#[derive(Debug)]
pub struct Listing<F> {
    pub filters: F,
    pub page: PageRequest,
    snapshot: Option<String>,
    cursor: Option<String>,
    /// Whether `page` was given (a cursor may not be).
    numbered: bool,
}

impl<F: DeserializeOwned> Listing<F> {
    pub fn parse(query: &str) -> Result<Self, ApiError> {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query).map_err(misfit)?;
        let (paging, own): (Vec<_>, Vec<_>) = pairs
            .into_iter()
            .partition(|(name, _)| PAGE_PARAMS.contains(&name.as_str()));
        let filters: F = reparse(&own)?;
        let paging: PageParams = reparse(&paging)?;
        Ok(Self {
            filters,
            page: PageRequest::parse(paging.limit, paging.page)?,
            numbered: paging.page.is_some(),
            snapshot: paging.snapshot,
            cursor: paging.cursor,
        })
    }
}

impl<F> Listing<F> {
    /// The snapshot of the earlier page the request names, if any; `seal`
    /// opens it when the service seals its tokens ([`TokenSeal`]).
    pub fn snapshot(&self, seal: Option<&TokenSeal>) -> Result<Option<Snapshot>, RuleViolation> {
        self.snapshot
            .as_deref()
            .map(|token| match seal {
                Some(seal) => Snapshot::parse(seal.open(token)?),
                None => Snapshot::parse(token),
            })
            .transpose()
    }

    /// For a listing read by cursors only ([`CursorParams`]): `page` and
    /// `snapshot` are not its parameters (`400 invalid_request`).
    /// A cursor given with them is `422 invalid_cursor`, as on every listing.
    pub fn by_cursor_only(&self) -> Result<(), ApiError> {
        let paged = self.numbered || self.snapshot.is_some();
        if paged && self.cursor.is_some() {
            return Err(invalid_cursor().into());
        }
        if paged {
            return Err(misfit(
                "this listing pages by cursor only: no page or snapshot",
            ));
        }
        Ok(())
    }

    /// Where the asked-for page of `listing` starts: `listing` describes it
    /// with every filter and the sort (a cursor made for another is
    /// refused). `seal` opens the tokens given and seals those given out,
    /// when the service seals them ([`TokenSeal`]).
    pub fn position(
        &self,
        seal: Option<&TokenSeal>,
        listing: String,
    ) -> Result<Position, RuleViolation> {
        let open = |token: &str| match seal {
            Some(seal) => seal.open(token).map(str::to_owned),
            None => Ok(token.to_owned()),
        };
        let (offset, after, snapshot) = match &self.cursor {
            None => (self.page.offset(), None, self.snapshot(seal)?),
            Some(_) if self.numbered || self.snapshot.is_some() => return Err(invalid_cursor()),
            Some(token) => {
                let cursor = Cursor::parse(&open(token).map_err(|_| invalid_cursor())?)?;
                if !cursor.is_for(&listing) {
                    return Err(invalid_cursor());
                }
                (cursor.offset, Some(cursor.after), Some(cursor.snapshot))
            }
        };
        Ok(Position {
            limit: self.page.limit,
            offset,
            after,
            snapshot,
            listing,
            seal: seal.cloned(),
        })
    }
}

/// Where a page of a listing starts, and the snapshot it is read at.
#[derive(Debug, Clone)]
pub struct Position {
    pub limit: i64,
    /// How many rows come before the page.
    pub offset: i64,
    /// With a cursor, the sort key of the row before the page: the page is
    /// read after it, in the listing's order (keyset). Else the page is read
    /// `offset` rows in.
    pub after: Option<Key>,
    /// The snapshot the request gave (in `snapshot` or in its cursor).
    pub snapshot: Option<Snapshot>,
    listing: String,
    seal: Option<TokenSeal>,
}

impl Position {
    /// What the listing is (its filters and sort), as the request described it.
    pub fn listing(&self) -> &str {
        &self.listing
    }

    /// Where the store starts reading: `offset` rows in, or after the key
    /// of the cursor, read by `read`.
    pub fn start<K>(
        &self,
        read: impl FnOnce(&Key) -> Result<K, RuleViolation>,
    ) -> Result<Start<K>, RuleViolation> {
        match &self.after {
            None => Ok(Start::Offset(self.offset)),
            Some(after) => read(after).map(Start::After),
        }
    }

    /// The page of `items` (read from this position) of a listing of
    /// `total_count` items at `snapshot`: its `next` names the last item by
    /// `key` while more follow; tokens sealed.
    pub fn page<T>(
        &self,
        items: Vec<T>,
        total_count: i64,
        snapshot: &Snapshot,
        key: impl Fn(&T) -> Key,
    ) -> Page<T> {
        let read = self.offset.saturating_add(items.len() as i64);
        let next = match items.last() {
            Some(last) if read < total_count => {
                let cursor = Cursor::new(snapshot.clone(), &self.listing, read, key(last));
                Some(self.sealed(cursor.encode()))
            }
            _ => None,
        };
        let request = PageRequest {
            limit: self.limit,
            page: self.offset / self.limit + 1,
        };
        Page {
            items,
            page: request.page,
            limit: self.limit,
            total_count,
            total_pages: request.total_pages(total_count),
            snapshot: self.sealed(snapshot.encode()),
            next,
        }
    }

    fn sealed(&self, token: String) -> String {
        match &self.seal {
            Some(seal) => seal.seal(&token),
            None => token,
        }
    }
}

/// A listing that also filters by labels: `metadata.<key>=<value>` pairs of
/// its query string (in `labels`, as given), the rest read as [`Listing`].
#[derive(Debug)]
pub struct Labelled<F> {
    pub listing: Listing<F>,
    pub labels: Vec<(String, String)>,
}

/// The prefix of a label filter's name.
const LABEL: &str = "metadata.";

impl<F: DeserializeOwned> Labelled<F> {
    pub fn parse(query: &str) -> Result<Self, ApiError> {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query).map_err(misfit)?;
        let (labels, rest): (Vec<_>, Vec<_>) = pairs
            .into_iter()
            .partition(|(name, _)| name.starts_with(LABEL));
        let labels = labels
            .into_iter()
            .map(|(name, value)| (name[LABEL.len()..].to_owned(), value))
            .collect();
        let rest = serde_urlencoded::to_string(rest).map_err(misfit)?;
        Ok(Self {
            listing: Listing::parse(&rest)?,
            labels,
        })
    }
}

impl<F: DeserializeOwned> FromRequest for Labelled<F> {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Self::parse(req.query_string()))
    }
}

impl<F: DeserializeOwned> FromRequest for Listing<F> {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Self::parse(req.query_string()))
    }
}

/// `T` from some of a query string's pairs.
fn reparse<T: DeserializeOwned>(pairs: &[(String, String)]) -> Result<T, ApiError> {
    let query = serde_urlencoded::to_string(pairs).map_err(misfit)?;
    serde_urlencoded::from_str(&query).map_err(misfit)
}

fn misfit(error: impl std::fmt::Display) -> ApiError {
    ApiError::InvalidRequest(format!("the query string does not fit this route: {error}"))
}

/// `limit` (1..1000, default 100) and `page` (from 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    pub limit: i64,
    pub page: i64,
}

impl PageRequest {
    pub const DEFAULT_LIMIT: i64 = 100;
    pub const MAX_LIMIT: i64 = 1000;

    pub fn parse(limit: Option<i64>, page: Option<i64>) -> Result<Self, RuleViolation> {
        let limit = Self::parse_limit(limit)?;
        let page = page.unwrap_or(1);
        // A page however far past the end is a page with no items: its
        // offset saturates (`offset`).
        if page < 1 {
            return Err(RuleViolation::new(
                "invalid_page",
                format!("page must be 1 or more, not {page}"),
            ));
        }
        Ok(Self { limit, page })
    }

    /// `limit` alone (1..1000, default 100), for lists that page by position.
    pub fn parse_limit(limit: Option<i64>) -> Result<i64, RuleViolation> {
        let limit = limit.unwrap_or(Self::DEFAULT_LIMIT);
        if !(1..=Self::MAX_LIMIT).contains(&limit) {
            return Err(RuleViolation::new(
                "invalid_limit",
                format!("limit must be from 1 to {}, not {limit}", Self::MAX_LIMIT),
            ));
        }
        Ok(limit)
    }

    pub fn offset(self) -> i64 {
        (self.page - 1).saturating_mul(self.limit)
    }

    /// How many rows reach to the end of this page.
    pub fn end(self) -> i64 {
        self.offset().saturating_add(self.limit)
    }

    pub fn total_pages(self, total_count: i64) -> i64 {
        (total_count + self.limit - 1) / self.limit
    }
}

/// How the history of an account is sorted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SortKey {
    Date,
    Amount,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SortOrder {
    Asc,
    Desc,
}

impl SortKey {
    /// `date` (the default) or `amount`; anything else is `422 invalid_sort`.
    pub fn parse(value: Option<&str>) -> Result<Self, RuleViolation> {
        named(value, Self::Date).map_err(|other| {
            RuleViolation::new(
                "invalid_sort",
                format!("sort must be date or amount, not {other:?}"),
            )
        })
    }
}

impl SortOrder {
    /// `desc` (the default) or `asc`; anything else is `422 invalid_order`.
    pub fn parse(value: Option<&str>) -> Result<Self, RuleViolation> {
        named(value, Self::Desc).map_err(|other| {
            RuleViolation::new(
                "invalid_order",
                format!("order must be asc or desc, not {other:?}"),
            )
        })
    }
}

/// The variant of `T` named `value` (its serde name, as the document lists
/// it), `default` when there is none, or the name it does not know.
fn named<T: DeserializeOwned>(value: Option<&str>, default: T) -> Result<T, String> {
    use serde::de::IntoDeserializer;
    let Some(value) = value else {
        return Ok(default);
    };
    T::deserialize(IntoDeserializer::<serde::de::value::Error>::into_deserializer(value))
        .map_err(|_| value.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Filters {
        sort: Option<String>,
        after: Option<i64>,
    }

    #[test]
    fn a_listing_reads_its_filters_and_its_page_from_one_query_string() {
        let listing =
            Listing::<Filters>::parse("sort=amount&limit=5&after=7&page=2&snapshot=1%3A2%3A")
                .unwrap();
        assert_eq!(listing.filters.sort.as_deref(), Some("amount"));
        assert_eq!(listing.filters.after, Some(7));
        assert_eq!(listing.page, PageRequest { limit: 5, page: 2 });
        assert_eq!(listing.snapshot(None).unwrap().unwrap().pg_snapshot, "1:2:");
        let plain = Listing::<Filters>::parse("").unwrap();
        assert_eq!(plain.page, PageRequest::parse(None, None).unwrap());
        assert!(plain.snapshot(None).unwrap().is_none());
    }

    #[test]
    fn a_listing_refuses_unknown_or_mistyped_parameters_and_pages_out_of_range() {
        let code = |query: &str| Listing::<Filters>::parse(query).unwrap_err().code();
        assert_eq!(code("colour=red"), "invalid_request");
        assert_eq!(code("limit=ten"), "invalid_request");
        assert_eq!(code("after=x"), "invalid_request");
        assert_eq!(code("limit=1&limit=2"), "invalid_request");
        assert_eq!(code("limit=0"), "invalid_limit");
        assert_eq!(code("page=0"), "invalid_page");
        let sealed = Listing::<Filters>::parse("snapshot=1%3A2%3A").unwrap();
        let seal = TokenSeal::new(b"key").unwrap();
        assert_eq!(
            sealed.snapshot(Some(&seal)).unwrap_err().code,
            "invalid_snapshot"
        );
    }

    #[test]
    fn pages_are_bounded() {
        assert_eq!(
            PageRequest::parse(None, None).unwrap(),
            PageRequest {
                limit: 100,
                page: 1
            }
        );
        assert!(PageRequest::parse(Some(0), None).is_err());
        assert!(PageRequest::parse(Some(1001), None).is_err());
        assert!(PageRequest::parse(None, Some(0)).is_err());
        let far = PageRequest::parse(Some(1000), Some(i64::MAX)).unwrap();
        assert_eq!((far.offset(), far.end()), (i64::MAX, i64::MAX));
        let p = PageRequest::parse(Some(10), Some(3)).unwrap();
        assert_eq!(
            (p.offset(), p.total_pages(0), p.total_pages(21)),
            (20, 0, 3)
        );
    }
}

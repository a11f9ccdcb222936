//! History and reports: an account's transactions, the ledger report, the revenue CSV.

use actix_web::http::header;
use actix_web::web::Bytes;
use actix_web::{get, web, HttpResponse};
use chrono::{DateTime, Utc};
use futures::StreamExt;
use serde::Deserialize;
use shared_types::accounts::{Page, Transaction, TransactionStatus, TransactionType};
use shared_types::ErrorBody;
use shared_types::Named;
use tokio::sync::mpsc;

use super::account_id;
use service_kit::listing::{CursorParams, Labelled, Listing, PageParams};

use crate::context::Context;
use crate::domain::{CallerText, Currency, Month, RuleViolation, SortKey, SortOrder};
use crate::error::ApiError;
use crate::operations::listings::{self, ReportQuery};
use crate::store::transactions::Search;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct HistoryFilters {
    /// `date` (default) or `amount`; ties are broken by date, then id.
    #[param(value_type = Option<SortKey>, inline)]
    sort: Option<String>,
    /// `desc` (default, newest or largest first) or `asc`.
    #[param(value_type = Option<SortOrder>, inline)]
    order: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ReportFilters {
    /// RFC 3339; default: the report window (`REPORT_WINDOW`, 5 days) back from now; older is `422`. With a `snapshot`, that of its first page.
    #[param(value_type = Option<String>, format = DateTime)]
    from: Option<String>,
    /// RFC 3339, inclusive; default: now; not before `from`.
    #[param(value_type = Option<String>, format = DateTime)]
    to: Option<String>,
    /// `success` or `failed`; both when absent.
    #[param(value_type = Option<TransactionStatus>)]
    status: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RevenueParams {
    /// `YYYY-MM`, a calendar month in UTC (years 0001 to 9999).
    #[param(
        pattern = "^([0-9]{3}[1-9]|[0-9]{2}[1-9][0-9]|[0-9][1-9][0-9]{2}|[1-9][0-9]{3})-(0[1-9]|1[0-2])$"
    )]
    month: String,
    /// Revenue of one currency; default `USD`.
    #[param(pattern = "^[A-Z]{3}$")]
    currency: Option<String>,
}

pub(super) fn timestamp(name: &str, raw: Option<&str>) -> Result<Option<DateTime<Utc>>, ApiError> {
    raw.map(|text| {
        DateTime::parse_from_rfc3339(text)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|_| {
                ApiError::InvalidRequest(format!("{name}={text:?} is not an RFC 3339 timestamp"))
            })
    })
    .transpose()
}

/// Every transaction that touched the account, successful and failed.
#[utoipa::path(
    tag = "history",
    params(("account_id" = uuid::Uuid, Path, description = "The account's UUID"), HistoryFilters, PageParams),
    responses(
        (status = 200, body = Page<Transaction>),
        (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 404, description = "No such account", body = ErrorBody),
        (status = 422, description = "A bad sort, order, limit, page or snapshot", body = ErrorBody),
    ),
    security(("bearer" = ["reports:read"]))
)]
#[get("/accounts/{account_id}/transactions")]
pub async fn account_history(
    state: web::Data<Context>,
    path: web::Path<String>,
    listing: Listing<HistoryFilters>,
) -> Result<HttpResponse, ApiError> {
    let account = account_id(&path)?;
    let sort = SortKey::parse(listing.filters.sort.as_deref())?;
    let order = SortOrder::parse(listing.filters.order.as_deref())?;
    let position = listing.position(
        Some(&state.seal),
        listings::history_listing(account, sort, order),
    )?;
    let page = listings::account_history(&state.pool, account, (sort, order), position).await?;
    Ok(HttpResponse::Ok().json(page))
}

/// One transaction, with the sum of its successful reversals.
///
/// Example (with `T='Authorization: Bearer dev-token'`):
/// ```sh
/// curl -H "$T" http://127.0.0.1:8080/api/v1/transactions/$TRANSACTION_ID
/// ```
#[utoipa::path(
    tag = "history",
    params(("transaction_id" = uuid::Uuid, Path, description = "The transaction's UUID")),
    responses(
        (status = 200, body = Transaction),
        (status = 400, description = "The id is not a UUID", body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 404, description = "No such transaction", body = ErrorBody),
    ),
    security(("bearer" = ["reports:read"]))
)]
#[get("/transactions/{transaction_id}")]
pub async fn get_transaction(
    state: web::Data<Context>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = super::transaction_id(&path)?;
    Ok(HttpResponse::Ok().json(listings::transaction(&state.pool, id).await?))
}

/// The report of recent transactions of the whole ledger, oldest first, snapshot-stable.
#[utoipa::path(
    tag = "history",
    params(ReportFilters, PageParams),
    responses(
        (status = 200, body = Page<Transaction>),
        (status = 400, description = "A malformed timestamp or number", body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 422, description = "from older than the report window, from after to, or a bad status, limit, page or snapshot", body = ErrorBody),
    ),
    security(("bearer" = ["reports:read"]))
)]
#[get("/transactions")]
pub async fn report(
    state: web::Data<Context>,
    listing: Listing<ReportFilters>,
) -> Result<HttpResponse, ApiError> {
    let params = &listing.filters;
    let status = params
        .status
        .as_deref()
        .map(|s| named::<TransactionStatus>("status", s))
        .transpose()?;
    let query = ReportQuery {
        from: timestamp("from", params.from.as_deref())?,
        to: timestamp("to", params.to.as_deref())?,
        status,
        position: listing.position(Some(&state.seal), listings::report_listing(status))?,
    };
    let page = listings::report(&state.pool, query, state.settings.report_window).await?;
    Ok(HttpResponse::Ok().json(page))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SearchFilters {
    /// The caller's reference, exactly (white space at either end trimmed, as when it was given).
    #[param(
        max_length = 500,
        pattern = r"^[\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*[^\x00-\x1f\x7f-\x9f]*[\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$"
    )]
    reference: Option<String>,
    /// Transactions with this account on either side.
    #[param(value_type = Option<uuid::Uuid>)]
    account_id: Option<String>,
    #[param(value_type = Option<TransactionType>, rename = "type")]
    #[serde(rename = "type")]
    kind: Option<String>,
    #[param(value_type = Option<TransactionStatus>)]
    status: Option<String>,
    /// RFC 3339, inclusive.
    #[param(value_type = Option<String>, format = DateTime)]
    from: Option<String>,
    /// RFC 3339, inclusive.
    #[param(value_type = Option<String>, format = DateTime)]
    to: Option<String>,
}

/// Transactions of any age matching every filter given, newest first, by
/// cursors (no `page`). Besides the parameters below,
/// `metadata.<key>=<value>` (any number of them) keeps the transactions
/// labelled so; at least one of `reference` and a `metadata.<key>` filter is
/// required (`422 invalid_filter`).
#[utoipa::path(
    tag = "history",
    params(SearchFilters, CursorParams),
    responses(
        (status = 200, body = Page<Transaction>),
        (status = 400, description = "An unknown parameter (page included) or a wrong type", body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 422, description = "No reference or label filter (invalid_filter), or a bad filter, limit or cursor", body = ErrorBody),
        (status = 503, body = ErrorBody),
    ),
    security(("bearer" = ["reports:read"]))
)]
#[get("/search/transactions")]
pub async fn search(
    state: web::Data<Context>,
    query: Labelled<SearchFilters>,
) -> Result<HttpResponse, ApiError> {
    let Labelled { listing, labels } = query;
    listing.by_cursor_only()?;
    let filters = &listing.filters;
    let labels = super::label_filter(labels)?;
    // Read as the movements read it: trimmed, at most 500 characters.
    let reference =
        CallerText::parse("reference", filters.reference.as_deref())?.map(CallerText::into_string);
    if reference.is_none() && labels.is_none() {
        return Err(RuleViolation::new(
            "invalid_filter",
            "a search needs reference or at least one metadata.<key> filter",
        )
        .into());
    }
    let search = Search {
        reference,
        labels,
        account: filters
            .account_id
            .as_deref()
            .map(|id| super::account_id(id).map(|a| a.0))
            .transpose()?,
        kind: filters
            .kind
            .as_deref()
            .map(|k| named::<TransactionType>("type", k))
            .transpose()?,
        status: filters
            .status
            .as_deref()
            .map(|s| named::<TransactionStatus>("status", s))
            .transpose()?,
        from: timestamp("from", filters.from.as_deref())?,
        to: timestamp("to", filters.to.as_deref())?,
    };
    let description = format!("search:{search:?}");
    let position = listing.position(Some(&state.seal), description)?;
    let page = listings::search(&state.pool, search, position).await?;
    Ok(HttpResponse::Ok().json(page))
}

/// The wire name of a `T` named `value`, or `422 invalid_<field>`.
fn named<T: Named>(field: &str, value: &str) -> Result<&'static str, RuleViolation> {
    T::from_name(value).map(T::name).ok_or_else(|| {
        RuleViolation::new(
            if field == "type" {
                "invalid_type"
            } else {
                "invalid_status"
            },
            format!(
                "{field} {value:?} is not one of {}",
                T::ALL
                    .iter()
                    .map(|v| v.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )
    })
}

/// Captured revenue per service in a calendar month (UTC), as CSV.
#[utoipa::path(
    tag = "history",
    params(RevenueParams),
    responses(
        (status = 200, description = "`service_id,service_name,revenue`, one row per service with captures in the month, by service_id", content_type = "text/csv; charset=utf-8", body = String,
            headers(("Content-Disposition" = String, description = "`attachment; filename=\"report_YYYY-MM.csv\"`, the month asked for"))),
        (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 422, description = "A bad month or currency", body = ErrorBody),
        (status = 503, body = ErrorBody),
    ),
    security(("bearer" = ["reports:read"]))
)]
#[get("/reports/revenue")]
pub async fn revenue(
    state: web::Data<Context>,
    params: web::Query<RevenueParams>,
) -> Result<HttpResponse, ApiError> {
    let month = Month::parse(&params.month)?;
    let currency = Currency::parse_or_default(params.currency.as_deref())?;
    let chunks = listings::revenue_csv(&state.pool, currency, month);
    csv_attachment(chunks, &format!("report_{}.csv", month.label())).await
}

/// A CSV answer streamed from its chunks, as an attachment named `filename`.
/// It waits for the first chunk, so that a failing query is still an error
/// status.
pub(super) async fn csv_attachment(
    mut chunks: mpsc::Receiver<Result<Bytes, ApiError>>,
    filename: &str,
) -> Result<HttpResponse, ApiError> {
    let first = chunks
        .recv()
        .await
        .ok_or_else(|| ApiError::internal("the CSV ended before it began"))??;
    let rest = futures::stream::unfold(chunks, |mut rx: mpsc::Receiver<_>| async move {
        rx.recv()
            .await
            .map(|item| (item.map_err(actix_web::Error::from), rx))
    });
    let body = futures::stream::once(async move { Ok::<_, actix_web::Error>(first) }).chain(rest);
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{filename}\""),
        ))
        .streaming(body))
}

#[cfg(test)]
mod tests {
    use utoipa::OpenApi;

    /// The search's `reference` is documented with the caller's-text pattern
    /// every movement's `reference` has (written out: a parameter's pattern
    /// must be a literal).
    #[test]
    fn the_search_reference_is_documented_as_a_callers_text() {
        let document = serde_json::to_value(crate::openapi::ApiDoc::openapi()).unwrap();
        let parameters = document["paths"]["/api/v1/search/transactions"]["get"]["parameters"]
            .as_array()
            .unwrap();
        let reference = parameters
            .iter()
            .find(|p| p["name"] == "reference")
            .unwrap();
        assert_eq!(
            reference["schema"]["pattern"],
            shared_types::openapi::CALLER_TEXT_PATTERN
        );
    }
}

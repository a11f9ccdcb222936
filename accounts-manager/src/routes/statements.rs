//! An account's statement over a period: JSON with cursors, or CSV.

use actix_web::http::header;
use actix_web::{get, web, HttpRequest, HttpResponse};
use serde::Deserialize;
use service_kit::listing::{CursorParams, Listing};
use shared_types::accounts::Statement;
use shared_types::ErrorBody;

use super::account_id;
use super::reports::{csv_attachment, timestamp};
use crate::context::Context;
use crate::error::ApiError;
use crate::operations::statements::{self, Period};

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct StatementPeriod {
    /// RFC 3339, required: the opening figures are the account at this time.
    #[param(value_type = String, format = DateTime)]
    from: Option<String>,
    /// RFC 3339, required, after `from`: the closing figures are the account at this time.
    #[param(value_type = String, format = DateTime)]
    to: Option<String>,
}

/// An account's statement: its opening and closing figures (as
/// `balance?at=` answers them), the money in and out of its balance, and
/// every transaction that touched it with `from < created_at <= to`, failed
/// ones included, oldest first, by cursors. With `Accept: text/csv`, every
/// line as one CSV (the figures are in the JSON form).
#[utoipa::path(
    tag = "history",
    params(("account_id" = uuid::Uuid, Path, description = "The account's UUID"), StatementPeriod, CursorParams),
    responses(
        (status = 200, description = "The statement; with `Accept: text/csv`, every line as `created_at,transaction_id,type,status,reason,amount,balance_after,reserved_after,reference,description`, one row per line",
            content((Statement = "application/json"), (String = "text/csv; charset=utf-8")),
            headers(("Content-Disposition" = String, description = "With CSV: `attachment; filename=\"statement_<account_id>_<from YYYY-MM-DD>_<to YYYY-MM-DD>.csv\"`"))),
        (status = 400, description = "A malformed timestamp, an unknown parameter or a wrong type", body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 404, description = "No such account", body = ErrorBody),
        (status = 422, description = "No from or to, or from not before to (invalid_period); a bad limit or cursor", body = ErrorBody),
        (status = 503, body = ErrorBody),
    ),
    security(("bearer" = ["reports:read"]))
)]
#[get("/accounts/{account_id}/statement")]
pub async fn statement(
    state: web::Data<Context>,
    req: HttpRequest,
    path: web::Path<String>,
    listing: Listing<StatementPeriod>,
) -> Result<HttpResponse, ApiError> {
    let account = account_id(&path)?;
    listing.by_cursor_only()?;
    let period = Period::new(
        timestamp("from", listing.filters.from.as_deref())?,
        timestamp("to", listing.filters.to.as_deref())?,
    )?;
    if wants_csv(&req) {
        let name = format!(
            "statement_{account}_{}_{}.csv",
            period.from.format("%Y-%m-%d"),
            period.to.format("%Y-%m-%d")
        );
        return csv_attachment(statements::csv(&state.pool, account, period), &name).await;
    }
    let position = listing.position(Some(&state.seal), statements::listing(account, period))?;
    let statement = statements::page(&state.pool, account, period, position).await?;
    Ok(HttpResponse::Ok().json(statement))
}

/// Whether the request asks for CSV (`Accept: text/csv`).
fn wants_csv(req: &HttpRequest) -> bool {
    req.headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| {
            accept.split(',').any(|media| {
                media
                    .split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .eq_ignore_ascii_case("text/csv")
            })
        })
}

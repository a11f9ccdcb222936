//! The portfolio report.

use actix_web::{get, web, HttpResponse};
use serde::Deserialize;
use service_kit::currency::Currency;
use service_kit::error::ApiError;
use shared_types::advances::Portfolio;
use shared_types::ErrorBody;

use crate::context::Context;
use crate::operations::portfolio;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PortfolioQuery {
    /// Three upper-case letters; default `USD`.
    #[param(example = "USD", pattern = "^[A-Z]{3}$")]
    currency: Option<String>,
}

/// The book of one currency: its `active` advances by `missed_installments`
/// (the buckets `0`, `1`, `2-3`, `4+`, always all four, in this order),
/// what they owe and what is overdue, and every payment of the currency
/// collected in the 7 days before `as_of` (repaid advances' included). Read
/// from rollups the writes keep: milliseconds with a million advances.
#[utoipa::path(
    tag = "reports",
    params(PortfolioQuery),
    responses(
        (status = 200, body = Portfolio),
        (status = 400, description = "An unknown query parameter", body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 422, description = "invalid_currency", body = ErrorBody),
        (status = 503, body = ErrorBody),
    ),
    security(("bearer" = ["advances:read"]))
)]
#[get("/reports/portfolio")]
pub async fn portfolio_report(
    ctx: web::Data<Context>,
    query: web::Query<PortfolioQuery>,
) -> Result<HttpResponse, ApiError> {
    let currency = Currency::parse_or_default(query.currency.as_deref())?;
    Ok(HttpResponse::Ok().json(portfolio::report(&ctx, currency).await?))
}

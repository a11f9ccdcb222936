//! Operator routes under `/api/v1/admin`.

use actix_web::{get, web, HttpResponse};
use shared_types::accounts::AuditReport;
use shared_types::ErrorBody;

use crate::context::Context;
use crate::error::ApiError;
use crate::operations;

/// The double-entry self-check: per currency, the sum of all accounts (always
/// `0.00`), user accounts below zero, and accounts whose balances differ from
/// their posted entries: those whose parts differ from the parts recorded
/// with their latest transaction (checked on every call) and those the
/// latest full recount of every entry found (`recount`: it runs in the
/// background every `AUDIT_INTERVAL`).
#[utoipa::path(
    tag = "admin",
    responses((status = 200, body = AuditReport), (status = 401, body = ErrorBody), (status = 503, body = ErrorBody)),
    security(("bearer" = ["admin"]))
)]
#[get("/admin/audit")]
pub async fn audit(state: web::Data<Context>) -> Result<HttpResponse, ApiError> {
    let report = operations::audit::audit(&state.pool, &state.metrics.audit_problems).await?;
    Ok(HttpResponse::Ok().json(report))
}

//! Reconciliation, for operators.

use actix_web::{web, HttpRequest, HttpResponse};
use chrono::Utc;
use service_kit::error::ApiError;
use service_kit::idempotency::{run_once, Idempotency, Reply};
use shared_types::advances::ReconciliationReport;
use shared_types::ErrorBody;

use crate::context::Context;
use crate::operations::{reconciliation, run};

/// The latest reconciliation report (empty, with `advances_checked` 0, before the first run).
#[utoipa::path(
    get, path = "/api/v1/admin/reconciliation", tag = "admin",
    responses((status = 200, body = ReconciliationReport), (status = 401, body = ErrorBody), (status = 503, body = ErrorBody)),
    security(("bearer" = []))
)]
pub async fn latest_reconciliation(ctx: web::Data<Context>) -> Result<HttpResponse, ApiError> {
    let report = reconciliation::latest(&ctx)
        .await?
        .unwrap_or(ReconciliationReport {
            checked_at: Utc::now(),
            advances_checked: 0,
            mismatches: Vec::new(),
        });
    Ok(HttpResponse::Ok().json(report))
}

/// Runs a reconciliation now and answers its report. With an
/// Idempotency-Key, a repeat gets the stored report of the first run.
#[utoipa::path(
    post, path = "/api/v1/admin/reconciliation", tag = "admin",
    params(("Idempotency-Key" = Option<String>, Header, description = "1-255 printable ASCII; a repeat answers with the stored report of the first run")),
    responses(
        (status = 200, body = ReconciliationReport),
        (status = 401, body = ErrorBody),
        (status = 409, description = "A request with this Idempotency-Key is still running (idempotency_key_in_flight)", body = ErrorBody),
        (status = 422, description = "invalid_idempotency_key, idempotency_key_reused", body = ErrorBody),
        (status = 503, description = "The database or accounts-manager is unavailable", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn run_reconciliation(
    ctx: web::Data<Context>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let idempotency = Idempotency::from_request(&req, &())?;
    if let Some(idem) = idempotency.clone() {
        let stored = run(&ctx.pool, move |conn| {
            run_once(conn, Some(idem), |_| {
                Err::<Reply, _>(ApiError::NotFound(String::new()))
            })
        })
        .await;
        match stored {
            Ok(reply) => return Ok(reply.into_response()),
            // Nothing stored under the key yet: run it.
            Err(ApiError::NotFound(_)) => {}
            Err(error) => return Err(error),
        }
    }
    let report = reconciliation::reconcile(&ctx).await?;
    let reply = Reply::new(200, &report).map_err(ApiError::internal)?;
    let reply = run(&ctx.pool, move |conn| {
        run_once(conn, idempotency, |_| Ok(reply))
    })
    .await?;
    Ok(reply.into_response())
}

//! Reconciliation, for operators.

use actix_web::{get, post, web, HttpRequest, HttpResponse};
use chrono::Utc;
use service_kit::error::ApiError;
use service_kit::http::{parse_optional_post, NoFields};
use service_kit::idempotency::{run_once, Reply};
use service_kit::listing::{Listing, PageParams};
use service_kit::telemetry::RequestId;
use service_kit::trace::TraceParent;
use shared_types::accounts::Page;
use shared_types::advances::{DeadLetter, ReconciliationReport};
use shared_types::ErrorBody;

use crate::clients::accounts::Origin;
use crate::context::Context;
use crate::operations::{self, reconciliation, run};

/// The latest reconciliation report (empty, with `advances_checked` 0, before the first run).
#[utoipa::path(
    tag = "admin",
    responses((status = 200, body = ReconciliationReport), (status = 401, body = ErrorBody), (status = 503, body = ErrorBody)),
    security(("bearer" = ["admin"]))
)]
#[get("/admin/reconciliation")]
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
/// Idempotency-Key, the key is held (a repeat meanwhile is `409
/// idempotency_key_in_flight`) while it runs, and a repeat afterwards gets
/// the stored report of that one run.
#[utoipa::path(
    tag = "admin",
    params(("Idempotency-Key" = Option<String>, Header, description = "1-255 printable ASCII; the first request with a key runs the reconciliation once, a repeat answers with its stored report")),
    request_body(content = Option<NoFields>, description = "No fields: an empty body or `{}`", content_type = "application/json"),
    responses(
        (status = 200, body = ReconciliationReport),
        (status = 400, description = "Malformed JSON, or any field", body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 409, description = "A request with this Idempotency-Key is still running (idempotency_key_in_flight)", body = ErrorBody),
        (status = 422, description = "invalid_idempotency_key, idempotency_key_reused", body = ErrorBody),
        (status = 503, description = "The database or accounts-manager is unavailable", body = ErrorBody),
    ),
    security(("bearer" = ["admin"]))
)]
#[post("/admin/reconciliation")]
pub async fn run_reconciliation(
    ctx: web::Data<Context>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let (NoFields {}, idempotency) = parse_optional_post(&req, &body)?;
    let (request_id, trace) = (RequestId::of(&req), TraceParent::of(&req));
    let Some(idempotency) = idempotency else {
        let origin = Origin {
            request_id: request_id.as_deref(),
            trace: trace.as_ref(),
        };
        let report = reconciliation::reconcile(&ctx, origin).await?;
        return Ok(HttpResponse::Ok().json(report));
    };
    // The reconciliation runs inside the key's transaction, which holds the
    // key's lock: one key, one run, however many repeats arrive meanwhile.
    let handle = tokio::runtime::Handle::current();
    let context = ctx.clone();
    let reply = run(&ctx.pool, move |conn| {
        run_once(conn, Some(idempotency), |_| {
            let origin = Origin {
                request_id: request_id.as_deref(),
                trace: trace.as_ref(),
            };
            let report = handle.block_on(reconciliation::reconcile(&context, origin))?;
            Reply::new(200, &report).map_err(ApiError::internal)
        })
    })
    .await?;
    Ok(reply.into_response())
}

/// The jobs the worker dead-lettered (not a job, or a job for no payment
/// this service knows), as received, oldest first.
#[utoipa::path(
    tag = "admin",
    params(PageParams),
    responses(
        (status = 200, body = Page<DeadLetter>),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 422, description = "invalid_limit, invalid_page, invalid_snapshot", body = ErrorBody),
        (status = 503, body = ErrorBody),
    ),
    security(("bearer" = ["admin"]))
)]
#[get("/admin/dead-letters")]
pub async fn dead_letters(
    ctx: web::Data<Context>,
    listing: Listing<NoFields>,
) -> Result<HttpResponse, ApiError> {
    let position = listing.position(None, "dead-letters".into())?;
    let page = operations::dead_letters::list(&ctx, position).await?;
    Ok(HttpResponse::Ok().json(page))
}

/// Publishes a dead letter's body again to `advances.payments` (for a job
/// fixed since, or a payment that now exists) and answers it with
/// `replayed_at` set; `409 already_replayed` if it was replayed before.
#[utoipa::path(
    tag = "admin",
    params(
        ("id" = uuid::Uuid, Path, description = "The dead letter's UUID"),
        ("Idempotency-Key" = Option<String>, Header, description = "1-255 printable ASCII; a repeat with the same key gets the stored answer of the first replay"),
    ),
    request_body(content = Option<NoFields>, description = "No fields: an empty body or `{}`", content_type = "application/json"),
    responses(
        (status = 200, body = DeadLetter),
        (status = 400, description = "Malformed JSON, or any field", body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "already_replayed, or a request with this Idempotency-Key is still running (idempotency_key_in_flight)", body = ErrorBody),
        (status = 422, description = "invalid_idempotency_key, idempotency_key_reused", body = ErrorBody),
        (status = 503, description = "The database or the broker is unavailable", body = ErrorBody),
    ),
    security(("bearer" = ["admin"]))
)]
#[post("/admin/dead-letters/{id}/replay")]
pub async fn replay_dead_letter(
    ctx: web::Data<Context>,
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let id = service_kit::http::uuid(&path, "a dead letter id")?;
    let (NoFields {}, idempotency) = parse_optional_post(&req, &body)?;
    let reply = operations::dead_letters::replay(&ctx, id, idempotency).await?;
    Ok(reply.into_response())
}

//! Orders: reserve, capture, release, get.

use actix_web::{get, post, web, HttpRequest, HttpResponse};
use service_kit::auth::Caller;
use service_kit::http::{parse_optional_post, NoFields};
use shared_types::accounts::{CaptureRequest, Reservation, ReservationRequest};
use shared_types::ErrorBody;

use super::movements::ByUser;
use super::{parse_post, respond};
use crate::configuration::Settings;
use crate::context::Context;
use crate::domain::commands::{Capture, Command, Notes, Release, Reserve};
use crate::domain::RuleViolation;
use crate::domain::{Amount, CallerText, Metadata, OrderId, OrderRef, ServiceId};
use crate::error::ApiError;
use crate::operations::reservations;
use chrono::{DateTime, Utc};

fn order_id(raw: &str) -> Result<OrderId, ApiError> {
    let value: i64 = raw.parse().map_err(|_| {
        ApiError::InvalidRequest(format!("{raw:?} is not an order id (an integer)"))
    })?;
    Ok(OrderId::parse(value)?)
}

/// Hold money of an account for an order: the amount moves from `balance` to `reserved`.
///
/// Example (with `T='Authorization: Bearer dev-token'`):
/// ```sh
/// curl -H "$T" -H 'Content-Type: application/json' \
///   -d '{"user_id": 2, "order_id": 19, "service_id": 3, "amount": "20"}' \
///   http://127.0.0.1:8080/api/v1/reservations
/// ```
#[utoipa::path(
    tag = "orders",
    request_body = ReservationRequest,
    responses(
        (status = 201, description = "The money is held for the order", body = Reservation),
        (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 404, description = "No such account", body = ErrorBody),
        (status = 409, description = "The order already has a reservation (order_already_reserved), or the Idempotency-Key is in flight", body = ErrorBody),
        (status = 422, description = "Not enough balance: the failed Transaction, which is recorded (the order id stays free); or a bad input: an ErrorBody", body = crate::openapi::RefusedOrInvalid),
        (status = 503, body = ErrorBody),
    ),
    security(("bearer" = ["orders:write"]))
)]
#[post("/reservations")]
pub async fn reserve(
    state: web::Data<Context>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let (request, idempotency) = parse_post::<ReservationRequest>(&req, &body)?;
    let amount = Amount::parse(&request.amount)?;
    let order = OrderRef {
        order_id: OrderId::parse(request.order_id)?,
        service_id: ServiceId::parse(request.service_id)?,
        service_name: CallerText::parse("service_name", request.service_name.as_deref())?
            .map(CallerText::into_string),
    };
    let by_user = ByUser::parse(request.currency.as_deref(), [request.user_id])?;
    let account = by_user.target("account_id", "user_id", request.account_id, request.user_id)?;
    let expires_at = expiry(&state.settings, request.expires_at.as_deref())?;
    let command = Command::Reserve(Reserve {
        account,
        order,
        amount,
        expires_at,
        notes: Notes {
            metadata: Metadata::parse(request.metadata.as_ref())?,
            ..Notes::default()
        },
    });
    let reply = state
        .ledger
        .submit(command, idempotency, Caller::of(&req).name)
        .await?;
    Ok(respond(&state, reply))
}

/// The order was delivered: the held money goes to the revenue account and
/// counts as revenue of the order's service now.
///
/// Example (with `T='Authorization: Bearer dev-token'`):
/// ```sh
/// curl -H "$T" -H 'Content-Type: application/json' -d '{"amount": "10.00"}' http://127.0.0.1:8080/api/v1/reservations/19/capture
/// ```
#[utoipa::path(
    tag = "orders",
    request_body(content = Option<CaptureRequest>, description = "Optional: `{\"amount\": \"100.00\"}` captures that much of the hold and releases the rest; an empty body or `{}` captures all of it", content_type = "application/json"),
    params(
        ("order_id" = i64, Path, minimum = 1, description = "A positive 64-bit integer"),
    ),
    responses(
        (status = 200, description = "Captured (`captured_amount` is what was taken)", body = Reservation),
        (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 404, description = "The order has no reservation", body = ErrorBody),
        (status = 409, description = "The order is no longer reserved (reservation_not_reserved), or the key is in flight", body = ErrorBody),
        (status = 422, description = "A bad amount, or more than is held (capture_exceeds_reserved)", body = ErrorBody),
        (status = 503, body = ErrorBody),
    ),
    security(("bearer" = ["orders:write"]))
)]
#[post("/reservations/{order_id}/capture")]
pub async fn capture(
    state: web::Data<Context>,
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let order = order_id(&path)?;
    let (request, idempotency) = parse_optional_post::<CaptureRequest>(&req, &body)?;
    let amount = request.amount.as_ref().map(Amount::parse).transpose()?;
    let reply = state
        .ledger
        .submit(
            Command::Capture(Capture { order, amount }),
            idempotency,
            Caller::of(&req).name,
        )
        .await?;
    Ok(respond(&state, reply))
}

/// The order was cancelled: the held money goes back to `balance`.
#[utoipa::path(
    tag = "orders",
    request_body(content = Option<NoFields>, description = "No fields: an empty body or `{}`", content_type = "application/json"),
    params(
        ("order_id" = i64, Path, minimum = 1, description = "A positive 64-bit integer"),
    ),
    responses(
        (status = 200, description = "Released", body = Reservation),
        (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 404, description = "The order has no reservation", body = ErrorBody),
        (status = 409, description = "The order is no longer reserved (reservation_not_reserved), or the key is in flight", body = ErrorBody),
        (status = 422, body = ErrorBody),
        (status = 503, body = ErrorBody),
    ),
    security(("bearer" = ["orders:write"]))
)]
#[post("/reservations/{order_id}/release")]
pub async fn release(
    state: web::Data<Context>,
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let order = order_id(&path)?;
    let (NoFields {}, idempotency) = parse_optional_post(&req, &body)?;
    let reply = state
        .ledger
        .submit(
            Command::Release(Release { order }),
            idempotency,
            Caller::of(&req).name,
        )
        .await?;
    Ok(respond(&state, reply))
}

/// Get an order's reservation.
#[utoipa::path(
    tag = "orders",
    params(("order_id" = i64, Path, minimum = 1, description = "A positive 64-bit integer")),
    responses(
        (status = 200, body = Reservation),
        (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 404, description = "The order has no reservation", body = ErrorBody),
        (status = 422, body = ErrorBody),
    ),
    security(("bearer" = ["orders:read"]))
)]
#[get("/reservations/{order_id}")]
pub async fn get_reservation(
    state: web::Data<Context>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let order = order_id(&path)?;
    Ok(HttpResponse::Ok().json(reservations::get(&state.pool, order).await?))
}

/// When a new hold expires: the request's `expires_at` (in the future, at
/// most `RESERVATION_MAX_TTL` ahead), or `RESERVATION_TTL` from now.
fn expiry(settings: &Settings, asked: Option<&str>) -> Result<DateTime<Utc>, ApiError> {
    let now = Utc::now();
    let ahead = |ttl: std::time::Duration| {
        chrono::Duration::from_std(ttl)
            .ok()
            .and_then(|ttl| now.checked_add_signed(ttl))
            .unwrap_or(DateTime::<Utc>::MAX_UTC)
    };
    let Some(asked) = asked else {
        return Ok(ahead(settings.reservation_ttl));
    };
    let invalid =
        |why: &str| RuleViolation::new("invalid_expiry", format!("expires_at {asked:?} {why}"));
    let at = DateTime::parse_from_rfc3339(asked)
        .map_err(|_| invalid("is not an RFC 3339 timestamp"))?
        .with_timezone(&Utc);
    if at <= now {
        return Err(invalid("is not in the future").into());
    }
    if at > ahead(settings.reservation_max_ttl) {
        return Err(invalid("is further ahead than RESERVATION_MAX_TTL allows").into());
    }
    Ok(at)
}

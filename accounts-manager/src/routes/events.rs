//! The event feed.

use actix_web::{get, web, HttpResponse};
use serde::Deserialize;
use service_kit::listing::PageRequest;
use shared_types::accounts::{EventPage, EventPosition};
use shared_types::ErrorBody;

use crate::context::Context;
use crate::domain::RuleViolation;
use crate::error::ApiError;
use crate::operations::events;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct EventParams {
    /// The `next` of an earlier page (a position); absent: from the beginning.
    #[param(minimum = 0, example = 1042)]
    after: Option<i64>,
    /// 1..1000, default 100.
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<i64>,
}

/// Every committed ledger transaction (successful and failed) as an event,
/// oldest first. Append-only in this order: once an event at a position has
/// been handed out, no event ever appears before it, however writers commit
/// (a transaction enters the feed once every writer older than it has
/// finished). Pass `next` back as `after` to read on; it equals `after` when
/// there is nothing new. When `EVENTS_AMQP_URL` is set the same events are
/// published, in this order, to the durable topic exchange `ledger.events`
/// with routing key `transaction.<type>.<status>` (at least once:
/// deduplicate on `event_id`).
///
/// Example (with `T='Authorization: Bearer dev-token'`):
/// ```sh
/// curl -H "$T" 'http://127.0.0.1:8080/api/v1/events?limit=10'
/// curl -H "$T" "http://127.0.0.1:8080/api/v1/events?after=$NEXT"
/// ```
#[utoipa::path(
    tag = "events",
    params(EventParams),
    responses(
        (status = 200, body = EventPage),
        (status = 400, description = "after or limit is not an integer", body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 422, description = "A negative after (invalid_position) or a limit outside 1..1000 (invalid_limit)", body = ErrorBody),
        (status = 503, body = ErrorBody),
    ),
    security(("bearer" = ["events:read"]))
)]
#[get("/events")]
pub async fn feed(
    state: web::Data<Context>,
    params: web::Query<EventParams>,
) -> Result<HttpResponse, ApiError> {
    let after = match params.after {
        None => EventPosition::default(),
        Some(after) if after >= 0 => EventPosition(after),
        Some(after) => {
            return Err(RuleViolation::new(
                "invalid_position",
                format!("after must be a position (0 or more), not {after}"),
            )
            .into())
        }
    };
    let limit = PageRequest::parse_limit(params.limit)?;
    Ok(HttpResponse::Ok().json(events::page(&state.pool, after, limit).await?))
}

//! The OpenAPI document served at `/api-docs/openapi.json` and shown at `/docs`.

use service_kit::openapi::BearerAuth;
use utoipa::{Modify, OpenApi};

use crate::routes;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "advances-service",
        description = "Advances: money paid into an account at once and collected back in payments, one every \
installment interval (`INSTALLMENT_INTERVAL`, default 7 days; 12 payments by default).\n\n\
Payment k is due k intervals after the advance was created; each is the amount / n rounded down to cents and \
the last takes the remainder. When a payment is due the scheduler publishes a job to RabbitMQ; a worker \
withdraws it from the account through accounts-manager with the Idempotency-Key \
`advance:<advance_id>:payment:<payment_id>` (also the withdrawal's `reference`), so it is collected at most once \
whatever crashes or redeliveries happen. A payment the account cannot cover becomes `failed` and its amount is \
added to the next scheduled payment, or to a new one an interval later.\n\n\
**How far behind.** The failed payments since the last collection (or since the advance was made or last \
rescheduled) form its missed chain: `missed_installments` counts them, `overdue_amount` is the latest failed \
payment's amount (each failure carries the ones before), `overdue_since` the first one's due time. The next \
collection, a reschedule, ends the chain. `GET /reports/portfolio` sums the active advances by it.\n\n\
**The payment job.** Exchange `advances` (direct, durable), routing key `payments`, queue `advances.payments` \
(durable, quorum); persistent messages with the JSON body `{\"payment_id\": \"uuid\", \"advance_id\": \"uuid\"}`. \
Other producers may publish it (also straight to the queue through the default exchange). A body that is not a \
valid job, or names an unknown payment, is dead-lettered to `advances.payments.dead` (exchange `advances.dead`, \
fanout). A job for a payment that is paid, failed or not yet due is acknowledged with no effect.\n\n\
**Events.** Every change is published to the durable topic exchange `advances.events` (persistent, publisher \
confirms, at least once: deduplicate on `event_id`, also the message's `message_id`) from an outbox written in \
the database transaction of the change, with the routing keys `advance.created`, `advance.active`, \
`advance.repaid`, `advance.rescheduled`, `payment.paid`, `payment.failed` and `payment.cancelled` (one per \
cancelled payment, by a payoff or a reschedule) and the \
body `{\"event_id\", \"type\", \"occurred_at\", \"data\": Advance}` (schema AdvanceEvent): `data` is the \
advance right after the change.\n\n\
Conventions, errors and idempotency are those of accounts-manager: JSON, amounts as two-decimal strings, \
`{\"error\": {\"code\", \"message\"}}`, bearer keys on `/api/v1` (401 a missing, unknown, expired or revoked \
key; 403 insufficient_scope; 429 rate_limited with `Retry-After`), stored answers kept for `IDEMPOTENCY_RETENTION`. \
Scopes: `advances:read`, `advances:write`, `admin` (reconciliation, api keys; may do everything). A repeated \
POST /advances with the same Idempotency-Key gets the first request's answer, replayed (201 if it was paid out, \
202 if it was still disbursing), and 409 idempotency_key_in_flight while the first request is still at work. Every advance records the name of the key that made it (`created_by`).",
        version = "1.0.0"
    ),
    components(schemas(
        shared_types::advances::AdvanceEvent,
        shared_types::advances::AdvanceEventType,
        shared_types::advances::PaymentJob,
    )),
    modifiers(&BearerAuth, &Routes),
    tags(
        (name = "advances", description = "Advances and their payments"),
        (name = "reports", description = "The portfolio by aging bucket"),
        (name = "admin", description = "Reconciliation and API keys"),
        (name = "operations", description = "Health, readiness and metrics (no token)"),
    )
)]
pub struct ApiDoc;

/// The `/api/v1` routes of the route list, each with its scope and the
/// answers every guarded route may give.
struct Routes;

impl Modify for Routes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        service_kit::route::document(openapi, service_kit::access::API_PREFIX, routes::declare);
        service_kit::openapi::document_access(openapi);
        service_kit::access::admin::document_scopes(openapi, routes::SCOPES);
    }
}

//! The OpenAPI document served at `/api-docs/openapi.json` and shown at `/docs`.

use service_kit::openapi::BearerAuth;
use shared_types::openapi::Targets;
use utoipa::{Modify, OpenApi};

use crate::routes;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "accounts-manager",
        description = "The ledger: accounts, deposits, withdrawals, transfers and the double-entry audit.\n\n\
Conventions: JSON in and out; amounts are accepted as strings or exact JSON numbers and answered as \
strings with two fraction digits; timestamps are RFC 3339 UTC with six fraction digits. Every POST accepts \
an `Idempotency-Key` (1-255 printable ASCII): the first request with a key runs once and its answer is \
stored with its effect; the same key and body gets the stored answer again (header `Idempotent-Replayed: true`), \
a different body gets `422 idempotency_key_reused`, and a key still in flight gets `409 idempotency_key_in_flight`. \
Requests refused before they run (bad input, unknown account, a missing scope, the rate limit) store nothing, so \
the key can be used again. Keys are global to the service, not per API key (a retry with a rotated key replays), \
and stored answers are kept for `IDEMPOTENCY_RETENTION` (default 30 days): a key older than that is a new request.\n\n\
Access: every `/api/v1` route needs `Authorization: Bearer <key>`, and each names the scope its key must have \
(`admin` may do everything). Bootstrap keys come from `API_TOKENS` and have every scope; others are made with \
`POST /api/v1/admin/api-keys`. Scopes: `accounts:read`, `accounts:write`, `money:write`, `orders:read`, \
`orders:write`, `reports:read`, `events:read`, `admin`.\n\n\
Every error is `{\"error\": {\"code\": \"...\", \"message\": \"...\"}}`: 400 malformed JSON, wrong types or \
unknown fields; 401 a missing, unknown, expired or revoked key; 403 insufficient_scope; 404 unknown resource; \
409 conflicting state; 422 a broken rule; 429 rate_limited (per key, `RATE_LIMIT`, with `Retry-After`); \
503 the database is unavailable. A movement refused by the ledger (insufficient_funds, currency_mismatch) is \
recorded as a failed Transaction and answered 422 with that Transaction as the body.\n\n\
Listings: every page answers `next`, a cursor for the page after it in the same snapshot (`?cursor=`, as fast \
at any depth), or `null` on the last page; `page` with `snapshot` keeps working. Accounts and movements take \
`metadata` (at most 20 string labels), searchable with `metadata.<key>=<value>` on the search and the accounts \
listing.\n\n\
Events: `GET /api/v1/events` is the feed of every committed transaction and change of an account's standing \
(`account.frozen`, `account.unfrozen`, `account.closed`, with the Account as `data`); with `EVENTS_AMQP_URL` set \
the same events go, in feed order, to the durable topic exchange `ledger.events` with routing key \
`transaction.<type>.<status>` or the account event's type (persistent, publisher confirms, at least once: \
deduplicate on `event_id`, also the message's `message_id`).\n\n\
In Transactions, `from_account_id` and `to_account_id` name user accounts; `null` stands for the outside world \
(deposits, withdrawals) or a system account.",
        version = "1.0.0"
    ),
    components(schemas(
        RefusedOrInvalid,
        BatchRefusedOrInvalid,
    )),
    modifiers(&BearerAuth, &Routes, &Targets),
    tags(
        (name = "accounts", description = "Accounts and balances"),
        (name = "money", description = "Deposits, withdrawals, transfers, reversals and exchanges"),
        (name = "orders", description = "Holds for orders: reserve, capture, release"),
        (name = "history", description = "History, the transactions report and the revenue CSV"),
        (name = "events", description = "The event feed of committed transactions"),
        (name = "admin", description = "Operator checks and API keys"),
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

/// A `422` of a movement: the failed Transaction the ledger recorded
/// (insufficient_funds, currency_mismatch), or an ErrorBody for a request
/// refused before it ran (a bad amount, same_account, invalid_target,
/// idempotency_key_reused, ...), which records nothing.
#[derive(serde::Serialize, utoipa::ToSchema)]
#[serde(untagged)]
#[allow(dead_code, clippy::large_enum_variant)] // a shape for the document only
pub enum RefusedOrInvalid {
    Refused(shared_types::accounts::Transaction),
    Invalid(shared_types::ErrorBody),
}

/// A `422` of a transfer batch: every transfer recorded as failed (an atomic
/// batch that could not be made whole), or an ErrorBody for a request
/// refused before it ran (invalid_batch, a bad transfer), which records
/// nothing.
#[derive(serde::Serialize, utoipa::ToSchema)]
#[serde(untagged)]
#[allow(dead_code, clippy::large_enum_variant)] // a shape for the document only
pub enum BatchRefusedOrInvalid {
    Refused(shared_types::accounts::TransferBatchAnswer),
    Invalid(shared_types::ErrorBody),
}

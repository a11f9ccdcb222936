//! The names of the HTTP headers the contract gives a meaning to, for the
//! services and their callers alike.

/// Makes a `POST` idempotent: the first request with a key is executed once,
/// a repeat with the same body gets the stored answer.
pub const IDEMPOTENCY_KEY: &str = "Idempotency-Key";

/// Names one request in the logs of every service it passes through; a
/// service answers with the caller's id, or one it made.
pub const REQUEST_ID: &str = "x-request-id";

/// Set to `true` on an answer that is the stored answer of an earlier
/// request with the same `Idempotency-Key`.
pub const IDEMPOTENT_REPLAYED: &str = "Idempotent-Replayed";

/// How many seconds to wait before trying again (`429`, `503`, `409` in flight).
pub const RETRY_AFTER: &str = "Retry-After";

/// W3C Trace Context: the trace and the caller's span a request belongs to
/// (`00-<trace id>-<parent span id>-<flags>`). Optional; also carried by
/// payment jobs as an AMQP header of the same name.
pub const TRACEPARENT: &str = "traceparent";

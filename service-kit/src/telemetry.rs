//! JSON logs, the request id and trace context of a request, and the
//! per-request log line and metrics.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{web, Error, HttpMessage, HttpRequest};
use tracing::Instrument;
use tracing_subscriber::EnvFilter;
use uuid::Uuid;

use crate::metrics::HttpMetrics;
use crate::trace::{self, TraceParent, TRACEPARENT};

pub use shared_types::headers::REQUEST_ID;

/// JSON lines on stdout; `RUST_LOG` filters (default `info`). Safe to call
/// more than once: later calls keep the first subscriber.
pub fn init_logging() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_current_span(true)
        .with_span_list(false)
        .with_env_filter(filter)
        .try_init();
}

/// The request id of a request, for handlers that pass it on.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

impl RequestId {
    pub fn of(req: &HttpRequest) -> Option<String> {
        req.extensions().get::<RequestId>().map(|id| id.0.clone())
    }
}

impl TraceParent {
    /// The trace context calls made for a request pass on (see [`observe`]).
    pub fn of(req: &HttpRequest) -> Option<TraceParent> {
        req.extensions().get::<TraceParent>().cloned()
    }
}

/// Takes the caller's `X-Request-Id` when it is sane, or makes one; runs the
/// request inside a span carrying it, which continues the caller's
/// `traceparent`; returns the id; logs one line and records the metrics of
/// the app's `web::Data<HttpMetrics>` when the request ends.
pub async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let started = Instant::now();
    let request_id = req
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 128 && v.bytes().all(|b| b.is_ascii_graphic()))
        .map_or_else(|| Uuid::new_v4().to_string(), str::to_owned);
    req.extensions_mut().insert(RequestId(request_id.clone()));
    let method = req.method().to_string();
    let route = req
        .match_pattern()
        .unwrap_or_else(|| "unmatched".to_owned());
    let path = req.path().to_owned();
    let metrics = req.app_data::<web::Data<HttpMetrics>>().cloned();
    let incoming = req
        .headers()
        .get(TRACEPARENT)
        .and_then(|v| v.to_str().ok())
        .and_then(TraceParent::parse);
    let span = tracing::info_span!("request", request_id = %request_id, method = %method, path = %path,
        otel.name = %format_args!("{method} {route}"), otel.kind = "server");
    trace::follow(&span, incoming.as_ref());
    if let Some(traceparent) = trace::pass_on(&span, incoming.as_ref()) {
        req.extensions_mut().insert(traceparent);
    }

    let mut response = next.call(req).instrument(span.clone()).await?;

    let status = response.status();
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response
            .headers_mut()
            .insert(HeaderName::from_static(REQUEST_ID), value);
    }
    let elapsed = started.elapsed();
    if let Some(metrics) = metrics {
        let labels = [method.as_str(), route.as_str(), status.as_str()];
        metrics.requests.with_label_values(&labels).inc();
        metrics
            .latency
            .with_label_values(&labels)
            .observe(elapsed.as_secs_f64());
    }
    span.in_scope(|| {
        tracing::info!(status = status.as_u16(), latency_ms = elapsed.as_secs_f64() * 1000.0, route = %route, "request finished");
    });
    Ok(response)
}

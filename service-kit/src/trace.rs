//! Traces: W3C Trace Context (`traceparent`) taken from requests and jobs
//! and passed on to the calls and jobs they cause, and spans exported over
//! OTLP/HTTP when `OTEL_EXPORTER_OTLP_ENDPOINT` is set.
//!
//! Without an endpoint no span is made or exported: the only cost is reading
//! the header, and a trace that came in is passed on unchanged, so that a
//! caller's trace still reaches the services behind this one.

use std::collections::HashMap;
use std::time::Duration;

use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::{TraceContextExt, TracerProvider as _};
use opentelemetry::Context;
use opentelemetry_otlp::{WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use opentelemetry_sdk::Resource;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::EnvFilter;

pub use shared_types::headers::TRACEPARENT;

/// A `traceparent` value that parses as W3C Trace Context: version `00`, a
/// trace id and a parent span id that are not all zeros, lower-case hex.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceParent(String);

impl TraceParent {
    /// The value if it is a valid `traceparent`; anything else is ignored,
    /// as the specification asks (the work starts a trace of its own).
    pub fn parse(raw: &str) -> Option<Self> {
        // The propagator alone takes a short trace id (and pads it); the
        // specification wants exactly 2-32-16-2 lower-case hex digits.
        let parts: Vec<&str> = raw.split('-').collect();
        let shaped = parts.len() == 4
            && parts.iter().zip([2, 32, 16, 2]).all(|(part, digits)| {
                part.len() == digits
                    && part
                        .bytes()
                        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
            });
        if !shaped {
            return None;
        }
        let carrier = HashMap::from([(TRACEPARENT.to_owned(), raw.to_owned())]);
        let cx = TraceContextPropagator::new().extract(&carrier);
        Self::of_context(&cx)
    }

    fn of_context(cx: &Context) -> Option<Self> {
        if !cx.span().span_context().is_valid() {
            return None;
        }
        let mut carrier = HashMap::new();
        TraceContextPropagator::new().inject_context(cx, &mut carrier);
        carrier.remove(TRACEPARENT).map(Self)
    }

    fn context(&self) -> Context {
        let carrier = HashMap::from([(TRACEPARENT.to_owned(), self.0.clone())]);
        TraceContextPropagator::new().extract(&carrier)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The 32 hex digits of the trace id.
    pub fn trace_id(&self) -> &str {
        self.0.get(3..35).unwrap_or_default()
    }

    /// The 16 hex digits of the parent span id.
    pub fn parent_id(&self) -> &str {
        self.0.get(36..52).unwrap_or_default()
    }
}

impl std::fmt::Display for TraceParent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Makes `span` (just created, not yet entered) a child of `parent` when
/// spans are exported; with nothing exported there is no span to attach.
pub fn follow(span: &tracing::Span, parent: Option<&TraceParent>) {
    if let Some(parent) = parent {
        // Fails only when no OpenTelemetry layer is installed: then there is
        // nothing to attach, and `pass_on` passes `parent` through instead.
        let _ = span.set_parent(parent.context());
    }
}

/// The trace context to send with a call or job made inside `span`: the
/// span's own when spans are exported, else `parent` unchanged.
pub fn pass_on(span: &tracing::Span, parent: Option<&TraceParent>) -> Option<TraceParent> {
    TraceParent::of_context(&span.context()).or_else(|| parent.cloned())
}

/// A span named `name` that continues `parent`, and the trace context to pass
/// on from inside it.
#[macro_export]
macro_rules! continued_span {
    ($parent:expr, $name:expr $(, $($field:tt)*)?) => {{
        let parent: Option<&$crate::trace::TraceParent> = $parent;
        let span = tracing::info_span!($name $(, $($field)*)?);
        $crate::trace::follow(&span, parent);
        let passed_on = $crate::trace::pass_on(&span, parent);
        (span, passed_on)
    }};
}

/// Spans still buffered when the process stops are sent on `shutdown`.
#[must_use = "dropping the guard without shutdown loses the last spans"]
pub struct Tracing {
    provider: Option<SdkTracerProvider>,
}

impl Tracing {
    /// Sends the spans still buffered (waiting at most a few seconds).
    pub async fn shutdown(self) {
        if let Some(provider) = self.provider {
            let _ = tokio::task::spawn_blocking(move || provider.shutdown()).await;
        }
    }
}

/// JSON log lines on stdout (`RUST_LOG` filters, default `info`) and, when
/// `otlp_endpoint` is set (`OTEL_EXPORTER_OTLP_ENDPOINT`, the collector's
/// base URL, e.g. `http://127.0.0.1:4318`), the spans of `service` exported
/// to `<endpoint>/v1/traces` over OTLP/HTTP (protobuf) in batches. Call it
/// once, inside the Tokio runtime, before anything logs.
pub fn init(service: &'static str, otlp_endpoint: Option<&str>) -> Result<Tracing, String> {
    let Some(endpoint) = otlp_endpoint else {
        crate::telemetry::init_logging();
        return Ok(Tracing { provider: None });
    };
    let client = ExportClient::new().map_err(|e| format!("cannot export traces: {e}"))?;
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_http_client(client)
        .with_endpoint(format!("{}/v1/traces", endpoint.trim_end_matches('/')))
        .with_timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| format!("OTEL_EXPORTER_OTLP_ENDPOINT={endpoint:?}: {e}"))?;
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(Resource::builder().with_service_name(service).build())
        .build();
    install(service, provider.clone());
    Ok(Tracing {
        provider: Some(provider),
    })
}

/// The JSON log lines and spans going to `provider`: `init` with an OTLP
/// exporter, or a test with an exporter of its own. Later calls keep the
/// first subscriber.
pub fn install(service: &'static str, provider: SdkTracerProvider) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let spans = tracing_opentelemetry::layer().with_tracer(provider.tracer(service));
    let logs = tracing_subscriber::fmt::layer()
        .json()
        .with_current_span(true)
        .with_span_list(false);
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(logs)
        .with(spans)
        .try_init();
}

/// Sends the exports with the workspace's reqwest. The batch processor
/// exports from a thread of its own, outside Tokio, and reqwest needs Tokio:
/// each request runs as a task on the runtime `init` was called in.
#[derive(Debug)]
struct ExportClient {
    http: reqwest::Client,
    runtime: tokio::runtime::Handle,
}

impl ExportClient {
    fn new() -> Result<Self, String> {
        let runtime = tokio::runtime::Handle::try_current()
            .map_err(|_| "tracing must be set up inside the Tokio runtime".to_owned())?;
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Self { http, runtime })
    }
}

#[async_trait::async_trait]
impl opentelemetry_http::HttpClient for ExportClient {
    async fn send_bytes(
        &self,
        request: http::Request<bytes::Bytes>,
    ) -> Result<http::Response<bytes::Bytes>, opentelemetry_http::HttpError> {
        let request = reqwest::Request::try_from(request)?;
        let http = self.http.clone();
        let sent = self.runtime.spawn(async move {
            let response = http.execute(request).await?;
            let status = response.status();
            let body = response.bytes().await?;
            Ok::<_, reqwest::Error>((status, body))
        });
        let (status, body) = sent.await??;
        let mut response = http::Response::new(body);
        *response.status_mut() = status;
        Ok(response)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_valid_traceparent_is_kept_with_its_trace_and_parent_ids() {
        let parsed =
            TraceParent::parse("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01").unwrap();
        assert_eq!(
            parsed.as_str(),
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
        );
        assert_eq!(parsed.trace_id(), "0af7651916cd43dd8448eb211c80319c");
        assert_eq!(parsed.parent_id(), "b7ad6b7169203331");
    }

    #[test]
    fn a_malformed_or_all_zero_traceparent_is_ignored() {
        for raw in [
            "",
            "garbage",
            "00-00000000000000000000000000000000-b7ad6b7169203331-01",
            "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01",
            "ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            "00-0af7651916cd43dd8448eb211c80319-b7ad6b7169203331-01",
            "00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-extra",
        ] {
            assert_eq!(TraceParent::parse(raw), None, "{raw:?}");
        }
    }

    #[test]
    fn without_an_exporter_a_trace_is_passed_on_unchanged() {
        let parent =
            TraceParent::parse("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01").unwrap();
        let (_span, passed_on) = continued_span!(Some(&parent), "work");
        assert_eq!(passed_on, Some(parent));
        let (_span, none) = continued_span!(None, "work");
        assert_eq!(none, None);
    }
}

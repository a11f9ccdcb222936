//! Prometheus metrics of one application instance (its own registry, so that
//! several instances in one test process do not collide).

use prometheus::{
    HistogramOpts, HistogramVec, IntCounterVec, IntGauge, Opts, Registry, TextEncoder,
};

/// The request metrics every service has; a service registers its own next to them.
#[derive(Clone)]
pub struct HttpMetrics {
    registry: Registry,
    pub requests: IntCounterVec,
    pub latency: HistogramVec,
    /// `service_ready`: 1 when the last `/readyz` found every dependency up.
    pub ready: IntGauge,
}

impl HttpMetrics {
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new(
                "http_requests_total",
                "HTTP requests by method, route and status",
            ),
            &["method", "route", "status"],
        )?;
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "http_request_duration_seconds",
                "HTTP request latency by method, route and status",
            )
            .buckets(vec![
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
            ]),
            &["method", "route", "status"],
        )?;
        let ready = IntGauge::new(
            "service_ready",
            "1 when the last /readyz found every dependency up, 0 when not",
        )?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(latency.clone()))?;
        registry.register(Box::new(ready.clone()))?;
        Ok(Self {
            registry,
            requests,
            latency,
            ready,
        })
    }

    /// Registers a service's own counter vector.
    pub fn counter(
        &self,
        name: &str,
        help: &str,
        labels: &[&str],
    ) -> Result<IntCounterVec, prometheus::Error> {
        let counter = IntCounterVec::new(Opts::new(name, help), labels)?;
        self.registry.register(Box::new(counter.clone()))?;
        Ok(counter)
    }

    /// Registers any other collector (a gauge, a histogram) of the service's own.
    pub fn register<C>(&self, collector: C) -> Result<C, prometheus::Error>
    where
        C: prometheus::core::Collector + Clone + 'static,
    {
        self.registry.register(Box::new(collector.clone()))?;
        Ok(collector)
    }

    pub fn render(&self) -> Result<String, prometheus::Error> {
        TextEncoder::new().encode_to_string(&self.registry.gather())
    }
}

/// `GET /metrics`: the text exposition format.
pub async fn metrics_route(metrics: actix_web::web::Data<HttpMetrics>) -> actix_web::HttpResponse {
    match metrics.render() {
        Ok(text) => actix_web::HttpResponse::Ok()
            .content_type("text/plain; version=0.0.4; charset=utf-8")
            .body(text),
        Err(error) => {
            tracing::error!(error = %error, "cannot render metrics");
            crate::error::json_error(
                actix_web::http::StatusCode::INTERNAL_SERVER_ERROR,
                "internal_error",
                "an internal error occurred",
            )
        }
    }
}

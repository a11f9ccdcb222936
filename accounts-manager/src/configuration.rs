//! Settings, read from the environment (a `.env` file may supply them).

use std::time::Duration;

pub use service_kit::config::{AccessSettings, ConfigError, ServiceSettings};
use service_kit::config::{Env, ServiceDefaults};

#[derive(Debug, Clone)]
pub struct Settings {
    /// What every service reads: the database, the listen address, the
    /// bootstrap keys, access, traces, the pool and the HTTP workers.
    pub service: ServiceSettings,
    pub report_window: Duration,
    /// Group commit: how many batches of movements may be in flight at once,
    /// and how many movements one batch takes at most.
    pub ledger_lanes: usize,
    pub ledger_batch_size: usize,
    /// How long a hold lasts when the request names no `expires_at`, and the
    /// latest `expires_at` a request may name.
    pub reservation_ttl: Duration,
    pub reservation_max_ttl: Duration,
    /// How often expired holds are looked for and released.
    pub sweep_interval: Duration,
    /// RabbitMQ to publish ledger events to (`EVENTS_AMQP_URL`); unset: the
    /// feed only.
    pub events_amqp_url: Option<String>,
    /// How often an idle event relay looks for new events.
    pub events_poll_interval: Duration,
    /// How often the audit's full recount of the entries runs, and the fast
    /// checks for `ledger_audit_problems`.
    pub audit_interval: Duration,
}

const DAY: u64 = 24 * 3600;

impl Settings {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads settings through `lookup`, so tests need not touch the process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let env = Env(lookup);
        let reservation_ttl = env.duration("RESERVATION_TTL", Duration::from_secs(7 * DAY))?;
        let reservation_max_ttl =
            env.duration("RESERVATION_MAX_TTL", Duration::from_secs(30 * DAY))?;
        if reservation_ttl > reservation_max_ttl {
            return Err(ConfigError(
                "RESERVATION_TTL is longer than RESERVATION_MAX_TTL: a hold without expires_at would outlive the latest one a request may ask for".into(),
            ));
        }
        Ok(Self {
            service: env.service(ServiceDefaults {
                bind_addr: "127.0.0.1:8080",
                min_pool_size: 1,
            })?,
            report_window: env.duration("REPORT_WINDOW", Duration::from_secs(5 * 24 * 3600))?,
            ledger_lanes: env.number("LEDGER_LANES", 4, 1..=64)?,
            ledger_batch_size: env.number("LEDGER_BATCH_SIZE", 256, 1..=10_000)?,
            reservation_ttl,
            reservation_max_ttl,
            sweep_interval: env.duration("SWEEP_INTERVAL", Duration::from_secs(10))?,
            events_amqp_url: env
                .get("EVENTS_AMQP_URL")
                .map(|url| amqp_url("EVENTS_AMQP_URL", url))
                .transpose()?,
            events_poll_interval: env
                .duration("EVENTS_POLL_INTERVAL", Duration::from_millis(250))?,
            audit_interval: env.duration("AUDIT_INTERVAL", Duration::from_secs(3600))?,
        })
    }
}

/// An `amqp://` URL (TLS is not built in: see docs/operations.md).
fn amqp_url(name: &str, url: String) -> Result<String, ConfigError> {
    if url.starts_with("amqp://") {
        Ok(url)
    } else {
        // Not the value: it may carry a password.
        Err(ConfigError(format!(
            "{name} must be an amqp:// URL, vhost included"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn settings(vars: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_lookup(|name| map.get(name).cloned())
    }

    #[test]
    fn defaults_apply_when_optional_settings_are_absent() {
        let s = settings(&[("DATABASE_URL", "postgres://x"), ("API_TOKENS", "a, b")]).unwrap();
        assert_eq!(s.service.bind_addr, "127.0.0.1:8080");
        assert_eq!(s.service.api_tokens, vec!["a", "b"]);
        assert_eq!(s.report_window, Duration::from_secs(5 * 86400));
        assert_eq!(s.service.access.rate_limit, 0);
        assert_eq!(
            s.service.access.idempotency_retention,
            Duration::from_secs(30 * 86400)
        );
        assert_eq!(s.audit_interval, Duration::from_secs(3600));
    }

    #[test]
    fn missing_or_bad_settings_name_the_variable() {
        let err = settings(&[("API_TOKENS", "a")]).unwrap_err().to_string();
        assert!(err.contains("DATABASE_URL"), "{err}");
        // The default hold may not outlive the longest one may ask for.
        let err = settings(&[
            ("DATABASE_URL", "x"),
            ("API_TOKENS", "a"),
            ("RESERVATION_MAX_TTL", "1d"),
        ])
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("RESERVATION_TTL is longer than RESERVATION_MAX_TTL"),
            "{err}"
        );
        let err = settings(&[("DATABASE_URL", "x"), ("API_TOKENS", " , ")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("API_TOKENS"), "{err}");
        let err = settings(&[
            ("DATABASE_URL", "x"),
            ("API_TOKENS", "a"),
            ("REPORT_WINDOW", "soon"),
        ])
        .unwrap_err()
        .to_string();
        assert!(err.contains("REPORT_WINDOW"), "{err}");
        let err = settings(&[
            ("DATABASE_URL", "x"),
            ("API_TOKENS", "a"),
            ("DATABASE_POOL_SIZE", "0"),
        ])
        .unwrap_err()
        .to_string();
        assert!(err.contains("DATABASE_POOL_SIZE"), "{err}");
        let err = settings(&[
            ("DATABASE_URL", "x"),
            ("API_TOKENS", "a"),
            ("AUDIT_INTERVAL", "0s"),
        ])
        .unwrap_err()
        .to_string();
        assert!(err.contains("AUDIT_INTERVAL"), "{err}");
    }
}

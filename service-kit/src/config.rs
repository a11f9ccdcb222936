//! Reading settings from the environment, with one clear line per bad setting.

use std::time::Duration;

/// A setting that is missing or invalid; start-up stops with this one line.
#[derive(Debug, thiserror::Error)]
#[error("configuration error: {0}")]
pub struct ConfigError(pub String);

/// The settings of access control and idempotency both services read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccessSettings {
    /// Requests per second per key per instance, with a burst of as many; 0 is off.
    pub rate_limit: u32,
    /// How long stored answers of idempotent POSTs are kept.
    pub idempotency_retention: Duration,
}

/// The settings every service reads the same way.
#[derive(Debug, Clone)]
pub struct ServiceSettings {
    /// `DATABASE_URL`: the service's own Postgres database.
    pub database_url: String,
    /// `BIND_ADDR`: where the HTTP server listens.
    pub bind_addr: String,
    /// `API_TOKENS`: the bootstrap keys (`token` or `name=token` each).
    pub api_tokens: Vec<String>,
    /// `RATE_LIMIT` and `IDEMPOTENCY_RETENTION`.
    pub access: AccessSettings,
    /// `OTEL_EXPORTER_OTLP_ENDPOINT`: where spans go (OTLP/HTTP); none, none exported.
    pub otlp_endpoint: Option<String>,
    /// `DATABASE_POOL_SIZE`: connections in this instance's pool.
    pub database_pool_size: u32,
    /// `HTTP_WORKERS`: HTTP worker threads; the number of cores when 0.
    pub http_workers: usize,
}

/// What differs between services in [`ServiceSettings`].
pub struct ServiceDefaults {
    pub bind_addr: &'static str,
    /// The smallest pool the service can work with.
    pub min_pool_size: u32,
}

/// Looks settings up by name (the process environment, or a map in tests);
/// blank values count as absent.
pub struct Env<F: Fn(&str) -> Option<String>>(pub F);

impl<F: Fn(&str) -> Option<String>> Env<F> {
    pub fn get(&self, name: &str) -> Option<String> {
        (self.0)(name).filter(|v| !v.trim().is_empty())
    }

    pub fn required(&self, name: &str, what: &str) -> Result<String, ConfigError> {
        self.get(name)
            .ok_or_else(|| ConfigError(format!("{name} is required ({what})")))
    }

    pub fn or(&self, name: &str, default: &str) -> String {
        self.get(name).unwrap_or_else(|| default.to_owned())
    }

    /// Comma-separated bootstrap keys, at least one, each `token` or
    /// `name=token` (see [`crate::auth::Tokens::parse`]).
    pub fn tokens(&self, name: &str) -> Result<Vec<String>, ConfigError> {
        let tokens: Vec<String> = self
            .required(
                name,
                "comma-separated bearer tokens, each token or name=token",
            )?
            .split(',')
            .map(|t| t.trim().to_owned())
            .filter(|t| !t.is_empty())
            .collect();
        if tokens.is_empty() {
            return Err(ConfigError(format!("{name} must name at least one token")));
        }
        crate::auth::Tokens::parse(&tokens).map_err(|why| ConfigError(format!("{name}: {why}")))?;
        Ok(tokens)
    }

    /// `OTEL_EXPORTER_OTLP_ENDPOINT`: the base URL of an OTLP/HTTP collector
    /// (spans go to `<url>/v1/traces`), or none to export nothing.
    pub fn otlp_endpoint(&self) -> Result<Option<String>, ConfigError> {
        const NAME: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";
        match self.get(NAME) {
            None => Ok(None),
            Some(url) if url.starts_with("http://") || url.starts_with("https://") => {
                Ok(Some(url.trim().trim_end_matches('/').to_owned()))
            }
            Some(url) => Err(ConfigError(format!(
                "{NAME}={url:?} must be an http:// or https:// URL (an OTLP/HTTP collector, e.g. http://127.0.0.1:4318)"
            ))),
        }
    }

    /// `RATE_LIMIT` and `IDEMPOTENCY_RETENTION`, read the same way by both services.
    pub fn access(&self) -> Result<AccessSettings, ConfigError> {
        Ok(AccessSettings {
            rate_limit: self.number("RATE_LIMIT", 0, 0..=1_000_000)?,
            idempotency_retention: self
                .duration("IDEMPOTENCY_RETENTION", Duration::from_secs(30 * 24 * 3600))?,
        })
    }

    /// The settings every service reads ([`ServiceSettings`]).
    pub fn service(&self, defaults: ServiceDefaults) -> Result<ServiceSettings, ConfigError> {
        Ok(ServiceSettings {
            database_url: self.required(
                "DATABASE_URL",
                "the Postgres URL of this service's database",
            )?,
            bind_addr: self.or("BIND_ADDR", defaults.bind_addr),
            api_tokens: self.tokens("API_TOKENS")?,
            access: self.access()?,
            otlp_endpoint: self.otlp_endpoint()?,
            database_pool_size: self.number(
                "DATABASE_POOL_SIZE",
                16,
                defaults.min_pool_size..=1000,
            )?,
            http_workers: self.number("HTTP_WORKERS", 0, 0..=1024)?,
        })
    }

    /// A duration such as `5d`, `2s`, `1h 30m`.
    pub fn duration(&self, name: &str, default: Duration) -> Result<Duration, ConfigError> {
        let Some(text) = self.get(name) else {
            return Ok(default);
        };
        match humantime::parse_duration(text.trim()) {
            Ok(d) if !d.is_zero() => Ok(d),
            _ => Err(ConfigError(format!(
                "{name}={text:?} is not a positive duration such as 7d, 12h or 30s"
            ))),
        }
    }

    /// A duration no longer than `max` (written as `max_text`, `365d`).
    pub fn duration_at_most(
        &self,
        name: &str,
        default: Duration,
        max: Duration,
        max_text: &str,
    ) -> Result<Duration, ConfigError> {
        let duration = self.duration(name, default)?;
        if duration > max {
            return Err(ConfigError(format!(
                "{name} may be at most {max_text}, not {:?}",
                self.get(name).unwrap_or_default()
            )));
        }
        Ok(duration)
    }

    pub fn number<T>(
        &self,
        name: &str,
        default: T,
        range: std::ops::RangeInclusive<T>,
    ) -> Result<T, ConfigError>
    where
        T: std::str::FromStr + PartialOrd + std::fmt::Display + Copy,
    {
        let Some(text) = self.get(name) else {
            return Ok(default);
        };
        match text.trim().parse::<T>() {
            Ok(v) if range.contains(&v) => Ok(v),
            _ => Err(ConfigError(format!(
                "{name}={text:?} must be a whole number from {} to {}",
                range.start(),
                range.end()
            ))),
        }
    }
}

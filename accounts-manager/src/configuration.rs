//! Settings, read from the environment (a `.env` file may supply them).

use std::time::Duration;

/// A setting that is missing or invalid; start-up stops with this one line.
#[derive(Debug, thiserror::Error)]
#[error("configuration error: {0}")]
pub struct ConfigError(String);

#[derive(Debug, Clone)]
pub struct Settings {
    pub database_url: String,
    pub bind_addr: String,
    pub api_tokens: Vec<String>,
    pub report_window: Duration,
    /// Connections in this instance's pool.
    pub database_pool_size: u32,
    /// HTTP worker threads; the number of cores when 0.
    pub http_workers: usize,
}

impl Settings {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads settings through `lookup`, so tests need not touch the process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let required = |name: &str, what: &str| {
            get(name).ok_or_else(|| ConfigError(format!("{name} is required ({what})")))
        };
        let database_url = required(
            "DATABASE_URL",
            "the Postgres URL of this service's database",
        )?;
        let api_tokens: Vec<String> = required("API_TOKENS", "comma-separated bearer tokens")?
            .split(',')
            .map(|t| t.trim().to_owned())
            .filter(|t| !t.is_empty())
            .collect();
        if api_tokens.is_empty() {
            return Err(ConfigError(
                "API_TOKENS must name at least one token".into(),
            ));
        }
        let report_window = match get("REPORT_WINDOW") {
            Some(text) => parse_duration("REPORT_WINDOW", &text)?,
            None => Duration::from_secs(5 * 24 * 3600),
        };
        Ok(Self {
            database_url,
            bind_addr: get("BIND_ADDR").unwrap_or_else(|| "127.0.0.1:8080".into()),
            api_tokens,
            report_window,
            database_pool_size: parse_number(
                "DATABASE_POOL_SIZE",
                get("DATABASE_POOL_SIZE"),
                16,
                1..=1000,
            )?,
            http_workers: parse_number("HTTP_WORKERS", get("HTTP_WORKERS"), 0, 0..=1024)?,
        })
    }
}

/// A duration such as `5d`, `2s`, `1h 30m`.
pub fn parse_duration(name: &str, text: &str) -> Result<Duration, ConfigError> {
    match humantime::parse_duration(text.trim()) {
        Ok(d) if !d.is_zero() => Ok(d),
        _ => Err(ConfigError(format!(
            "{name}={text:?} is not a positive duration such as 5d, 12h or 30s"
        ))),
    }
}

fn parse_number<T>(
    name: &str,
    text: Option<String>,
    default: T,
    range: std::ops::RangeInclusive<T>,
) -> Result<T, ConfigError>
where
    T: std::str::FromStr + PartialOrd + std::fmt::Display + Copy,
{
    let Some(text) = text else { return Ok(default) };
    match text.trim().parse::<T>() {
        Ok(v) if range.contains(&v) => Ok(v),
        _ => Err(ConfigError(format!(
            "{name}={text:?} must be a whole number from {} to {}",
            range.start(),
            range.end()
        ))),
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
        assert_eq!(s.bind_addr, "127.0.0.1:8080");
        assert_eq!(s.api_tokens, vec!["a", "b"]);
        assert_eq!(s.report_window, Duration::from_secs(5 * 86400));
    }

    #[test]
    fn missing_or_bad_settings_name_the_variable() {
        let err = settings(&[("API_TOKENS", "a")]).unwrap_err().to_string();
        assert!(err.contains("DATABASE_URL"), "{err}");
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
    }
}

//! Settings, read from the environment (a `.env` file may supply them).

use std::collections::BTreeSet;
use std::time::Duration;

pub use service_kit::config::{AccessSettings, ConfigError, ServiceSettings};
use service_kit::config::{Env, ServiceDefaults};

/// The parts one process runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    /// The HTTP API (`/api/v1`).
    Api,
    /// Publishes due payments, retries disbursements, reconciles.
    Scheduler,
    /// Collects payments from the queue.
    Worker,
}

#[derive(Debug, Clone)]
pub struct Settings {
    /// What every service reads: the database, the listen address, the
    /// bootstrap keys, access, traces, the pool and the HTTP workers.
    pub service: ServiceSettings,
    pub amqp_url: String,
    pub accounts_url: String,
    pub accounts_token: String,
    pub installment_interval: Duration,
    pub scheduler_interval: Duration,
    /// How often an idle event relay looks for new events to publish.
    pub events_poll_interval: Duration,
    pub reconcile_interval: Duration,
    pub roles: BTreeSet<Role>,
    /// How long a worker's claim on a payment lasts before another may take it.
    pub payment_lease: Duration,
    /// How long a published job may wait unconsumed before it is published again.
    pub republish_after: Duration,
    /// Jobs a worker holds at once (the consumer's prefetch).
    pub worker_concurrency: u16,
    /// The timeout of one call to accounts-manager.
    pub accounts_timeout: Duration,
}

impl Settings {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads settings through `lookup`, so tests need not touch the process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let env = Env(lookup);
        let accounts_url = env.or("ACCOUNTS_URL", "http://127.0.0.1:8080");
        if !(accounts_url.starts_with("http://") || accounts_url.starts_with("https://")) {
            return Err(ConfigError(format!(
                "ACCOUNTS_URL={accounts_url:?} must be an http:// or https:// URL"
            )));
        }
        let amqp_url = env.or("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2f");
        if !amqp_url.starts_with("amqp://") {
            return Err(ConfigError(format!(
                "AMQP_URL={amqp_url:?} must be an amqp:// URL"
            )));
        }
        Ok(Self {
            service: env.service(ServiceDefaults {
                bind_addr: "127.0.0.1:8081",
                min_pool_size: 2,
            })?,
            amqp_url,
            accounts_url: accounts_url.trim_end_matches('/').to_owned(),
            accounts_token: env
                .required("ACCOUNTS_TOKEN", "the bearer token for accounts-manager")?,
            // A year between payments at most: 104 of them then still end
            // within the calendar dates can hold.
            installment_interval: env.duration_at_most(
                "INSTALLMENT_INTERVAL",
                Duration::from_secs(7 * 24 * 3600),
                Duration::from_secs(365 * 24 * 3600),
                "365d",
            )?,
            scheduler_interval: env.duration("SCHEDULER_INTERVAL", Duration::from_secs(10))?,
            events_poll_interval: env
                .duration("EVENTS_POLL_INTERVAL", Duration::from_millis(200))?,
            reconcile_interval: env.duration("RECONCILE_INTERVAL", Duration::from_secs(3600))?,
            roles: parse_roles(env.get("ROLES").as_deref())?,
            payment_lease: env.duration("PAYMENT_LEASE", Duration::from_secs(60))?,
            republish_after: env.duration("REPUBLISH_AFTER", Duration::from_secs(300))?,
            worker_concurrency: env.number("WORKER_CONCURRENCY", 64, 1..=1000)?,
            accounts_timeout: env.duration("ACCOUNTS_TIMEOUT", Duration::from_secs(5))?,
        })
    }

    pub fn runs(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }
}

fn parse_roles(text: Option<&str>) -> Result<BTreeSet<Role>, ConfigError> {
    let Some(text) = text else {
        return Ok([Role::Api, Role::Scheduler, Role::Worker].into());
    };
    let roles = text
        .split(',')
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(|role| match role {
            "api" => Ok(Role::Api),
            "scheduler" => Ok(Role::Scheduler),
            "worker" => Ok(Role::Worker),
            other => Err(ConfigError(format!(
                "ROLES names {other:?}; the roles are api, scheduler and worker"
            ))),
        })
        .collect::<Result<BTreeSet<_>, _>>()?;
    if roles.is_empty() {
        return Err(ConfigError(
            "ROLES must name at least one of api, scheduler, worker".into(),
        ));
    }
    Ok(roles)
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

    const REQUIRED: [(&str, &str); 3] = [
        ("DATABASE_URL", "postgres://x"),
        ("API_TOKENS", "t"),
        ("ACCOUNTS_TOKEN", "a"),
    ];

    #[test]
    fn defaults_follow_the_contract() {
        let s = settings(&REQUIRED).unwrap();
        assert_eq!(s.service.bind_addr, "127.0.0.1:8081");
        assert_eq!(s.accounts_url, "http://127.0.0.1:8080");
        assert_eq!(s.amqp_url, "amqp://guest:guest@127.0.0.1:5672/%2f");
        assert_eq!(s.installment_interval, Duration::from_secs(7 * 86400));
        assert_eq!(s.scheduler_interval, Duration::from_secs(10));
        assert_eq!(s.reconcile_interval, Duration::from_secs(3600));
        assert!(s.runs(Role::Api) && s.runs(Role::Scheduler) && s.runs(Role::Worker));
    }

    #[test]
    fn roles_are_chosen_and_checked() {
        let mut vars = REQUIRED.to_vec();
        vars.push(("ROLES", "worker, scheduler"));
        let s = settings(&vars).unwrap();
        assert!(!s.runs(Role::Api) && s.runs(Role::Worker));
        vars.pop();
        vars.push(("ROLES", "api,cook"));
        assert!(settings(&vars).unwrap_err().to_string().contains("cook"));
    }

    #[test]
    fn missing_or_bad_settings_name_the_variable() {
        let err = settings(&REQUIRED[..2]).unwrap_err().to_string();
        assert!(err.contains("ACCOUNTS_TOKEN"), "{err}");
        let mut vars = REQUIRED.to_vec();
        vars.push(("INSTALLMENT_INTERVAL", "weekly"));
        assert!(settings(&vars)
            .unwrap_err()
            .to_string()
            .contains("INSTALLMENT_INTERVAL"));
        // Longer than a year: a schedule could run past the calendar.
        vars.pop();
        vars.push(("INSTALLMENT_INTERVAL", "366d"));
        let err = settings(&vars).unwrap_err().to_string();
        assert!(
            err.contains("INSTALLMENT_INTERVAL may be at most 365d"),
            "{err}"
        );
        vars.pop();
        vars.push(("INSTALLMENT_INTERVAL", "365d"));
        assert!(settings(&vars).is_ok());
    }
}

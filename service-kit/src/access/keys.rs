//! Verifying keys without a database round trip per request: every stored key
//! is held in memory and the whole set is read again every
//! [`REFRESH_EVERY`], so a key revoked or expiring on another instance is
//! refused here within that time; a key this instance has not seen yet is
//! looked up once. `last_used_at` is written at most once a minute per key,
//! by the same refresh, never by a request.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use rand::Rng;
use uuid::Uuid;

use super::store::{self, KeyRow};
use crate::auth::{digest, same_digest, Tokens};
use crate::db::PgPool;
use crate::error::ApiError;
use crate::shutdown::Shutdown;

/// How often every instance reads the keys again: a revocation elsewhere is
/// honoured here within this time (the contract allows 5 s).
pub const REFRESH_EVERY: Duration = Duration::from_secs(2);
/// `last_used_at` is written at most this often per key.
const TOUCH_EVERY: Duration = Duration::from_secs(60);
/// Unknown key ids remembered (each is looked up at most once per refresh).
const MAX_MISSES: usize = 10_000;
/// Database lookups of keys not in memory, per second per instance at most.
const LOOKUPS_PER_SECOND: std::num::NonZeroU32 = match std::num::NonZeroU32::new(100) {
    Some(n) => n,
    None => std::num::NonZeroU32::MIN,
};

/// A stored key's secret: `sk_<key id, 32 hex>_<64 hex of randomness>`. The
/// id tells which key to compare with; only the SHA-256 of the whole secret
/// is stored (the randomness makes a slow hash unnecessary).
pub struct Secret(String);

impl Secret {
    pub fn generate(id: Uuid) -> Self {
        let random: [u8; 32] = rand::rng().random();
        Self(format!("sk_{}_{}", id.simple(), hex(&random)))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn hash(&self) -> Vec<u8> {
        digest(self.0.as_bytes()).to_vec()
    }

    /// The key id a presented token names, if it has the shape of a secret.
    fn key_id(presented: &[u8]) -> Option<Uuid> {
        let text = std::str::from_utf8(presented).ok()?;
        let rest = text.strip_prefix("sk_")?;
        let (id, random) = rest.split_once('_')?;
        if id.len() != 32 || random.len() != 64 {
            return None;
        }
        Uuid::try_parse(id).ok()
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// What a key may do.
#[derive(Debug, Clone)]
pub enum Grant {
    /// A bootstrap key: every scope.
    Everything,
    Scopes(Arc<[String]>),
}

/// An authenticated key.
#[derive(Debug, Clone)]
pub struct Principal {
    pub name: String,
    pub grant: Grant,
    /// Stored keys have an id; bootstrap keys do not.
    pub key_id: Option<Uuid>,
}

impl Principal {
    /// Whether the key may use a route that needs `scope`; `admin` may do
    /// everything on its service.
    pub fn may(&self, scope: &str) -> bool {
        match &self.grant {
            Grant::Everything => true,
            Grant::Scopes(scopes) => scopes.iter().any(|s| s == scope || s == super::ADMIN),
        }
    }
}

/// Why a token was refused (`401`); `key` names the key when it is known.
#[derive(Debug, Clone)]
pub struct Refusal {
    pub key: Option<String>,
    pub reason: &'static str,
}

struct Known {
    row: KeyRow,
    grant: Grant,
}

struct Usage {
    last_used: DateTime<Utc>,
    written: Option<Instant>,
    pending: bool,
}

/// The keys of one instance: the bootstrap ones and a copy of the stored ones.
pub struct Keyring {
    pool: PgPool,
    bootstrap: Tokens,
    /// `api_key_lookups_total`: keys looked up in the database by a request
    /// (not in memory yet); it stays far below the request count.
    lookups: prometheus::IntCounter,
    lookup_budget: governor::DefaultDirectRateLimiter,
    known: RwLock<HashMap<Uuid, Arc<Known>>>,
    misses: Mutex<HashMap<Uuid, Instant>>,
    usage: Mutex<HashMap<Uuid, Usage>>,
}

impl Keyring {
    pub fn new(pool: PgPool, bootstrap: Tokens, lookups: prometheus::IntCounter) -> Self {
        Self {
            pool,
            bootstrap,
            lookups,
            lookup_budget: governor::RateLimiter::direct(governor::Quota::per_second(
                LOOKUPS_PER_SECOND,
            )),
            known: RwLock::new(HashMap::new()),
            misses: Mutex::new(HashMap::new()),
            usage: Mutex::new(HashMap::new()),
        }
    }

    pub fn bootstrap(&self) -> &Tokens {
        &self.bootstrap
    }

    /// Who a presented token is. A database error on a key not seen yet is
    /// `503`; everything else is decided in memory.
    pub async fn verify(&self, presented: Option<&[u8]>) -> Result<Principal, VerifyError> {
        let Some(presented) = presented else {
            return Err(VerifyError::Refused(Refusal {
                key: None,
                reason: "no bearer token",
            }));
        };
        if let Some(caller) = self.bootstrap.accepts(presented) {
            return Ok(Principal {
                name: caller.name,
                grant: Grant::Everything,
                key_id: None,
            });
        }
        let unknown = Refusal {
            key: None,
            reason: "unknown token",
        };
        let Some(id) = Secret::key_id(presented) else {
            return Err(VerifyError::Refused(unknown));
        };
        let known = match self.cached(id) {
            Some(known) => known,
            None => match self.look_up(id).await? {
                Some(known) => known,
                None => return Err(VerifyError::Refused(unknown)),
            },
        };
        if !same_digest(&known.row.secret_hash, &digest(presented)) {
            // The id is of a real key but the secret is not its: say which key
            // was tried, never what was presented.
            return Err(VerifyError::Refused(Refusal {
                key: Some(known.row.name.clone()),
                reason: "wrong secret",
            }));
        }
        if known.row.revoked_at.is_some() {
            return Err(VerifyError::Refused(Refusal {
                key: Some(known.row.name.clone()),
                reason: "revoked key",
            }));
        }
        if known.row.expires_at.is_some_and(|at| at <= Utc::now()) {
            return Err(VerifyError::Refused(Refusal {
                key: Some(known.row.name.clone()),
                reason: "expired key",
            }));
        }
        self.used(id);
        Ok(Principal {
            name: known.row.name.clone(),
            grant: known.grant.clone(),
            key_id: Some(id),
        })
    }

    fn cached(&self, id: Uuid) -> Option<Arc<Known>> {
        self.known
            .read()
            .ok()
            .and_then(|known| known.get(&id).cloned())
    }

    /// A key this instance has not read yet (made elsewhere since the last
    /// refresh). An id looked up in vain is not looked up again until the
    /// next refresh, and at most [`LOOKUPS_PER_SECOND`] lookups a second
    /// reach the database, so made-up key ids cannot load it: past that a
    /// new key waits for the next refresh (2 s) to be known here.
    async fn look_up(&self, id: Uuid) -> Result<Option<Arc<Known>>, VerifyError> {
        if let Ok(misses) = self.misses.lock() {
            if misses
                .get(&id)
                .is_some_and(|at| at.elapsed() < REFRESH_EVERY)
            {
                return Ok(None);
            }
        }
        if self.lookup_budget.check().is_err() {
            return Ok(None);
        }
        self.lookups.inc();
        let row = crate::db::run(&self.pool, move |conn| Ok(store::find(conn, id)?))
            .await
            .map_err(VerifyError::Unavailable)?;
        match row {
            Some(row) => Ok(Some(self.keep(row))),
            None => {
                if let Ok(mut misses) = self.misses.lock() {
                    if misses.len() >= MAX_MISSES {
                        misses.clear();
                    }
                    misses.insert(id, Instant::now());
                }
                Ok(None)
            }
        }
    }

    /// Keeps a key as it now stands (made or revoked on this instance), so
    /// that this instance knows at once.
    pub fn remember(&self, row: KeyRow) {
        self.keep(row);
    }

    fn keep(&self, row: KeyRow) -> Arc<Known> {
        let known = Arc::new(Known {
            grant: Grant::Scopes(row.scopes.clone().into()),
            row,
        });
        if let Ok(mut map) = self.known.write() {
            map.insert(known.row.id, known.clone());
        }
        known
    }

    fn used(&self, id: Uuid) {
        if let Ok(mut usage) = self.usage.lock() {
            let entry = usage.entry(id).or_insert(Usage {
                last_used: Utc::now(),
                written: None,
                pending: true,
            });
            entry.last_used = Utc::now();
            entry.pending = true;
        }
    }

    /// Reads every stored key again and writes the `last_used_at` that are due.
    pub async fn refresh(&self) -> Result<(), ApiError> {
        let due = self.due_touches();
        let rows = crate::db::run(&self.pool, move |conn| {
            for (id, at) in &due {
                store::touch(conn, &[*id], *at)?;
            }
            Ok(store::all(conn)?)
        })
        .await?;
        let fresh: HashMap<Uuid, Arc<Known>> = rows
            .into_iter()
            .map(|row| {
                (
                    row.id,
                    Arc::new(Known {
                        grant: Grant::Scopes(row.scopes.clone().into()),
                        row,
                    }),
                )
            })
            .collect();
        if let Ok(mut known) = self.known.write() {
            *known = fresh;
        }
        if let Ok(mut misses) = self.misses.lock() {
            misses.clear();
        }
        Ok(())
    }

    /// The keys used since their `last_used_at` was last written, if that
    /// was a minute ago or more.
    fn due_touches(&self) -> Vec<(Uuid, DateTime<Utc>)> {
        let Ok(mut usage) = self.usage.lock() else {
            return Vec::new();
        };
        let mut due = Vec::new();
        for (id, use_) in usage.iter_mut() {
            let ready = use_.written.is_none_or(|at| at.elapsed() >= TOUCH_EVERY);
            if use_.pending && ready {
                due.push((*id, use_.last_used));
                use_.pending = false;
                use_.written = Some(Instant::now());
            }
        }
        due
    }
}

/// Why a token could not be accepted.
#[derive(Debug)]
pub enum VerifyError {
    Refused(Refusal),
    /// The database could not be asked about a key not seen yet.
    Unavailable(ApiError),
}

/// Refreshes the keyring every [`REFRESH_EVERY`] until told to stop.
pub async fn refresh(keyring: Arc<Keyring>, mut shutdown: Shutdown) {
    loop {
        if let Err(error) = keyring.refresh().await {
            tracing::warn!(error = %crate::error::error_chain(&error), "cannot refresh the API keys");
        }
        if shutdown.sleep(REFRESH_EVERY).await {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_names_its_key_and_is_mostly_randomness() {
        let id = Uuid::now_v7();
        let secret = Secret::generate(id);
        assert_eq!(Secret::key_id(secret.as_str().as_bytes()), Some(id));
        assert_ne!(secret.as_str(), Secret::generate(id).as_str());
        assert_eq!(secret.as_str().len(), 3 + 32 + 1 + 64);
        assert_eq!(Secret::key_id(b"sk_nothex_"), None);
        assert_eq!(Secret::key_id(b"dev-token"), None);
    }

    #[test]
    fn admin_may_do_everything_and_others_only_their_scopes() {
        let key = |scopes: &[&str]| Principal {
            name: "k".into(),
            grant: Grant::Scopes(scopes.iter().map(|s| (*s).to_owned()).collect()),
            key_id: None,
        };
        assert!(key(&["money:write"]).may("money:write"));
        assert!(!key(&["money:write"]).may("accounts:read"));
        assert!(key(&["admin"]).may("accounts:read"));
        assert!(Principal {
            name: "b".into(),
            grant: Grant::Everything,
            key_id: None
        }
        .may("admin"));
    }
}

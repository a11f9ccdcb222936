//! Idempotency keys and the fingerprint of the request they were first used with.

use sha2::{Digest, Sha256};

use super::RuleViolation;

/// 1 to 255 printable ASCII characters, as the contract says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    pub fn parse(raw: &[u8]) -> Result<Self, RuleViolation> {
        let printable = raw.iter().all(|b| (0x20..=0x7e).contains(b));
        if raw.is_empty() || raw.len() > 255 || !printable {
            return Err(RuleViolation::new(
                "invalid_idempotency_key",
                "Idempotency-Key must be 1 to 255 printable ASCII characters",
            ));
        }
        // Printable ASCII is valid UTF-8.
        Ok(Self(String::from_utf8_lossy(raw).into_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A 64-bit number naming the key for a Postgres advisory lock.
    pub fn lock_id(&self) -> i64 {
        let digest = Sha256::digest(self.0.as_bytes());
        let mut first = [0u8; 8];
        first.copy_from_slice(&digest[..8]);
        i64::from_be_bytes(first)
    }
}

/// What a request asked for: its route and its parsed body. The same key sent
/// with a different fingerprint is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprint(Vec<u8>);

impl Fingerprint {
    pub fn of(route: &str, canonical_body: &[u8]) -> Self {
        let mut hasher = Sha256::new();
        hasher.update(route.as_bytes());
        hasher.update([0]);
        hasher.update(canonical_body);
        Self(hasher.finalize().to_vec())
    }

    pub fn from_stored(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_printable_ascii_up_to_255() {
        assert!(IdempotencyKey::parse(b"abc-123 ~").is_ok());
        assert!(IdempotencyKey::parse(&[b'a'; 255]).is_ok());
        assert!(IdempotencyKey::parse(&[b'a'; 256]).is_err());
        assert!(IdempotencyKey::parse(b"").is_err());
        assert!(IdempotencyKey::parse(b"tab\there").is_err());
        assert!(IdempotencyKey::parse("é".as_bytes()).is_err());
    }

    #[test]
    fn fingerprints_differ_by_route_and_body() {
        let a = Fingerprint::of("POST /a", b"{}");
        assert_eq!(a, Fingerprint::of("POST /a", b"{}"));
        assert_ne!(a, Fingerprint::of("POST /b", b"{}"));
        assert_ne!(a, Fingerprint::of("POST /a", b"{ }"));
    }
}

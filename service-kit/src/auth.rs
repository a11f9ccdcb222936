//! Who a request comes from: the bearer token of a request, the bootstrap
//! keys of `API_TOKENS`, and the [`Caller`] handlers record as `created_by`.

use actix_web::http::header::{HeaderMap, AUTHORIZATION};
use sha2::{Digest, Sha256};

/// Who made a request: the name of the key it was authenticated with. The
/// access guard puts it in the request's extensions; handlers read it with
/// [`Caller::of`] and record it as `created_by`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub name: String,
}

impl Caller {
    /// The caller of an authenticated request.
    pub fn of(req: &actix_web::HttpRequest) -> Self {
        use actix_web::HttpMessage;
        req.extensions()
            .get::<Caller>()
            .cloned()
            .unwrap_or_else(|| Caller {
                name: "unknown".into(),
            })
    }
}

/// The token of `Authorization: Bearer <token>`, if the request has one.
pub fn bearer(headers: &HeaderMap) -> Option<&[u8]> {
    let value = headers.get(AUTHORIZATION)?.as_bytes();
    // The scheme's name is case-insensitive (RFC 9110, 11.1), and one or
    // more spaces follow it (RFC 6750, 2.1).
    let (scheme, token) = value.split_at_checked(7)?;
    if !scheme.eq_ignore_ascii_case(b"Bearer ") {
        return None;
    }
    let token = token.trim_ascii_start();
    (!token.is_empty()).then_some(token)
}

/// A key name: 1-64 characters, letters, digits, `.`, `_`, `-`, `:`, a letter
/// or digit first. Names appear in logs and in `created_by`, so nothing else.
pub fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
    first_ok
        && name.len() <= 64
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | ':'))
}

/// The bootstrap keys of `API_TOKENS`, kept as digests and compared in
/// constant time, each with its name: `name=token` names itself, a bare
/// `token` is `token-<position>` (the first entry is `token-1`).
#[derive(Clone)]
pub struct Tokens(Vec<([u8; 32], String)>);

impl Tokens {
    /// Reads the entries of `API_TOKENS`; the error names the bad entry by
    /// position (never by its token).
    pub fn parse(entries: &[String]) -> Result<Self, String> {
        let mut tokens = Vec::with_capacity(entries.len());
        for (i, entry) in entries.iter().enumerate() {
            let position = i + 1;
            // `name=token` when what stands before the first `=` is a name;
            // base64 padding (`abc==`) stays part of a bare token, and a token
            // with `=` inside can always be given a name.
            let (name, token) = match entry.split_once('=') {
                Some((name, token))
                    if valid_name(name) && !token.is_empty() && !token.starts_with('=') =>
                {
                    (name.to_owned(), token)
                }
                _ => (format!("token-{position}"), entry.as_str()),
            };
            if tokens
                .iter()
                .any(|(_, known): &([u8; 32], String)| *known == name)
            {
                return Err(format!(
                    "entry {position} is named {name:?}, like an earlier one; key names are unique"
                ));
            }
            let token = digest(token.as_bytes());
            if let Some((_, earlier)) = tokens.iter().find(|(known, _)| *known == token) {
                return Err(format!(
                    "entry {position} ({name}) gives the same token as {earlier}; each key needs its own"
                ));
            }
            tokens.push((token, name));
        }
        if tokens.is_empty() {
            return Err("no token given".into());
        }
        Ok(Self(tokens))
    }

    /// The name of the bootstrap key a presented token is, if any.
    pub fn accepts(&self, presented: &[u8]) -> Option<Caller> {
        let presented = digest(presented);
        // Every token is compared, with no early exit, so timing says nothing.
        self.0.iter().fold(None, |found, (token, name)| {
            if same_digest(token, &presented) {
                Some(Caller { name: name.clone() })
            } else {
                found
            }
        })
    }

    /// Whether a bootstrap key has this name (a stored key may not take it).
    pub fn names(&self, name: &str) -> bool {
        self.0.iter().any(|(_, known)| known == name)
    }
}

/// SHA-256 of a secret.
pub fn digest(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// Compares two digests in constant time.
pub fn same_digest(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn the_bearer_scheme_is_read_whatever_its_case() {
        use actix_web::http::header::{HeaderMap, HeaderValue, AUTHORIZATION};
        let token = |value: &'static str| {
            let mut headers = HeaderMap::new();
            headers.insert(AUTHORIZATION, HeaderValue::from_static(value));
            bearer(&headers).map(<[u8]>::to_vec)
        };
        assert_eq!(token("Bearer abc"), Some(b"abc".to_vec()));
        assert_eq!(token("bearer abc"), Some(b"abc".to_vec()));
        assert_eq!(token("BEARER abc"), Some(b"abc".to_vec()));
        assert_eq!(token("Bearer   abc"), Some(b"abc".to_vec()));
        assert_eq!(token("Bearer    "), None);
        assert_eq!(token("Bearer "), None);
        assert_eq!(token("Basic abc"), None);
        assert_eq!(token("Bear"), None);
    }

    #[test]
    fn bare_tokens_are_named_by_position_and_named_ones_by_their_name() {
        let tokens = Tokens::parse(&entries(&["first", "ops=second", "third"])).unwrap();
        assert_eq!(tokens.accepts(b"first").unwrap().name, "token-1");
        assert_eq!(tokens.accepts(b"second").unwrap().name, "ops");
        assert_eq!(tokens.accepts(b"third").unwrap().name, "token-3");
        assert!(tokens.accepts(b"ops=second").is_none());
        assert!(tokens.accepts(b"nope").is_none());
        assert!(tokens.names("ops") && tokens.names("token-1") && !tokens.names("token-2"));
    }

    #[test]
    fn a_token_ending_in_equals_signs_stays_whole_and_names_are_unique() {
        let tokens = Tokens::parse(&entries(&["abc=="])).unwrap();
        assert_eq!(tokens.accepts(b"abc==").unwrap().name, "token-1");
        let tokens = Tokens::parse(&entries(&["k=abc=="])).unwrap();
        assert_eq!(tokens.accepts(b"abc==").unwrap().name, "k");
        assert!(Tokens::parse(&entries(&["a=x", "a=y"])).is_err());
        // One secret for two names would make created_by a guess.
        let Err(twice) = Tokens::parse(&entries(&["x=same", "y=same"])) else {
            panic!("one token under two names was accepted");
        };
        assert!(twice.contains("same token as x"), "{twice}");
        assert!(Tokens::parse(&entries(&["a", "a"])).is_err());
        assert!(Tokens::parse(&[]).is_err());
    }

    #[test]
    fn names_are_short_and_plain() {
        assert!(valid_name("checkout-service") && valid_name("a") && valid_name("svc:v2.1_x"));
        assert!(!valid_name("") && !valid_name("-x") && !valid_name("a b") && !valid_name("é"));
        assert!(!valid_name(&"a".repeat(65)));
    }
}

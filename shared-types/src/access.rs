//! Access control: the API keys of a service and how they are made.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// `POST /api/v1/admin/api-keys`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewApiKey {
    /// Unique within the service; it is what `created_by` records. 1-64
    /// characters: letters, digits, `.`, `_`, `-`, `:`; a letter or digit first.
    #[cfg_attr(
        feature = "openapi",
        schema(
            example = "checkout-service",
            pattern = "^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$",
            min_length = 1,
            max_length = 64
        )
    )]
    pub name: String,
    /// At least one of the service's scopes (the service's OpenAPI
    /// description lists them).
    #[cfg_attr(
        feature = "openapi",
        schema(example = json!(["accounts:read", "money:write"]), min_items = 1)
    )]
    pub scopes: Vec<String>,
    /// When the key stops working (RFC 3339, in the future); `null`: never.
    #[serde(default, with = "crate::time::option")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime, example = json!(null)))]
    pub expires_at: Option<DateTime<Utc>>,
}

/// An API key as the service keeps it. `secret` is present only in the
/// answer that made the key: it is never stored, only its hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ApiKey {
    pub key_id: Uuid,
    pub name: String,
    pub scopes: Vec<String>,
    #[serde(with = "crate::time")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created_at: DateTime<Utc>,
    #[serde(with = "crate::time::option")]
    #[cfg_attr(feature = "openapi", schema(required = true, value_type = Option<String>, format = DateTime))]
    pub expires_at: Option<DateTime<Utc>>,
    #[serde(with = "crate::time::option")]
    #[cfg_attr(feature = "openapi", schema(required = true, value_type = Option<String>, format = DateTime))]
    pub revoked_at: Option<DateTime<Utc>>,
    /// When the key was last used, to within a minute.
    #[serde(with = "crate::time::option")]
    #[cfg_attr(feature = "openapi", schema(required = true, value_type = Option<String>, format = DateTime))]
    pub last_used_at: Option<DateTime<Utc>>,
    /// The bearer token of the key: in the answer that made it, and never again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

/// `GET /api/v1/admin/api-keys`: every stored key, revoked and expired ones
/// included, never a secret.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ApiKeyList {
    pub items: Vec<ApiKey>,
}

//! `/api/v1/admin/api-keys`: make, list and revoke a service's keys (scope
//! `admin`). A service adds them to its route list with [`routes`].

use actix_web::{delete, get, post, web, HttpRequest, HttpResponse};
use chrono::Utc;
use shared_types::access::{ApiKey, ApiKeyList, NewApiKey};
use shared_types::ErrorBody;
use uuid::Uuid;

use super::keys::Secret;
use super::store::{self, KeyRow};
use super::AccessControl;
use crate::auth::valid_name;
use crate::error::{classify, ApiError, DbFailure};
use crate::http::{parse_post, uuid};
use crate::idempotency::{run_once, Reply};
use crate::route::Routes;
use crate::rule::RuleViolation;

/// The key routes, relative to `/api/v1`.
pub fn routes(routes: &mut Routes) {
    routes
        .service(create_api_key)
        .service(list_api_keys)
        .service(revoke_api_key);
}

/// Names the service's scopes in its document: a new key's `scopes` are
/// some of them (`422 invalid_scope` otherwise).
pub fn document_scopes(openapi: &mut utoipa::openapi::OpenApi, scopes: &[&str]) {
    use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Schema, Type};
    use utoipa::openapi::RefOr;

    let new_key = openapi
        .components
        .as_mut()
        .and_then(|components| components.schemas.get_mut("NewApiKey"));
    let Some(RefOr::T(Schema::Object(new_key))) = new_key else {
        return;
    };
    let description = format!(
        "At least one of the service's scopes: {}",
        scopes.join(", ")
    );
    let scopes = ArrayBuilder::new()
        .items(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some(scopes.iter().copied())),
        )
        .min_items(Some(1))
        .description(Some(description))
        .examples([scopes.first().map(|scope| vec![*scope]).unwrap_or_default()]);
    new_key
        .properties
        .insert("scopes".to_owned(), scopes.into());
}

/// Make an API key. The answer carries its `secret`, the bearer token, this
/// once: only its hash is stored, so a replay of this POST with its
/// Idempotency-Key answers the same key without the secret.
#[utoipa::path(
    tag = "admin",
    request_body = NewApiKey,
    params(("Idempotency-Key" = Option<String>, Header, description = "1-255 printable ASCII; a replay answers the stored key without its secret")),
    responses(
        (status = 201, description = "The key, with its secret (shown once)", body = ApiKey),
        (status = 400, description = "Malformed JSON, wrong types or unknown fields", body = ErrorBody),
        (status = 409, description = "api_key_name_taken, or the Idempotency-Key is in flight", body = ErrorBody),
        (status = 422, description = "invalid_scope, invalid_name, invalid_expiry, idempotency_key_reused", body = ErrorBody),
        (status = 503, body = ErrorBody),
    ),
    security(("bearer" = ["admin"]))
)]
#[post("/admin/api-keys")]
pub async fn create_api_key(
    access: web::Data<AccessControl>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let (request, idempotency) = parse_post::<NewApiKey>(&req, &body)?;
    if !valid_name(&request.name) {
        return Err(RuleViolation::new(
            "invalid_name",
            "a key name is 1-64 letters, digits, '.', '_', '-' or ':', starting with a letter or digit",
        )
        .into());
    }
    let scopes = scopes(&request.scopes, access.policy.scopes)?;
    let now = Utc::now();
    if request.expires_at.is_some_and(|at| at <= now) {
        return Err(
            RuleViolation::new("invalid_expiry", "expires_at must be in the future").into(),
        );
    }
    if access.keyring.bootstrap().names(&request.name)
        || access.policy.own_names.contains(&request.name.as_str())
    {
        return Err(name_taken(&request.name));
    }
    let id = Uuid::now_v7();
    let secret = Secret::generate(id);
    let row = KeyRow {
        id,
        name: request.name,
        secret_hash: secret.hash(),
        scopes,
        created_at: now,
        expires_at: request.expires_at,
        revoked_at: None,
        last_used_at: None,
    };
    let stored = row.clone();
    let reply = crate::db::run(&access.pool, move |conn| {
        run_once(conn, idempotency, |conn| {
            store::insert(conn, &stored).map_err(|error| match classify(&error) {
                DbFailure::UniqueViolation => name_taken(&stored.name),
                DbFailure::NotFound
                | DbFailure::CheckViolation(_)
                | DbFailure::OutOfRange
                | DbFailure::Unavailable
                | DbFailure::Other => ApiError::from(error),
            })?;
            // What is stored for a replay: the key without its secret.
            Reply::new(201, &stored.to_wire()).map_err(ApiError::internal)
        })
    })
    .await?;
    if reply.replayed {
        return Ok(reply.into_response());
    }
    let name = row.name.clone();
    access.keyring.remember(row.clone());
    tracing::info!(key = %name, key_id = %id, scopes = ?row.scopes, "api key created");
    let mut key = row.to_wire();
    key.secret = Some(secret.as_str().to_owned());
    Ok(HttpResponse::Created().json(key))
}

/// Every stored key, revoked and expired ones included; never a secret.
/// (The bootstrap keys of `API_TOKENS` are configuration, not listed.)
#[utoipa::path(
    tag = "admin",
    responses((status = 200, body = ApiKeyList), (status = 503, body = ErrorBody)),
    security(("bearer" = ["admin"]))
)]
#[get("/admin/api-keys")]
pub async fn list_api_keys(access: web::Data<AccessControl>) -> Result<HttpResponse, ApiError> {
    let rows = crate::db::run(&access.pool, |conn| Ok(store::all(conn)?)).await?;
    Ok(HttpResponse::Ok().json(ApiKeyList {
        items: rows.iter().map(KeyRow::to_wire).collect(),
    }))
}

/// Revoke a key: it is refused on every instance within 5 seconds. Revoking
/// a revoked key answers it as it is.
#[utoipa::path(
    tag = "admin",
    params(("key_id" = uuid::Uuid, Path, description = "The key's UUID")),
    responses(
        (status = 200, description = "The key, with revoked_at", body = ApiKey),
        (status = 400, description = "The id is not a UUID", body = ErrorBody),
        (status = 404, description = "No such key", body = ErrorBody),
        (status = 503, body = ErrorBody),
    ),
    security(("bearer" = ["admin"]))
)]
#[delete("/admin/api-keys/{key_id}")]
pub async fn revoke_api_key(
    access: web::Data<AccessControl>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = uuid(&path, "a key id")?;
    let row = crate::db::run(&access.pool, move |conn| Ok(store::revoke(conn, id)?))
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("api key {id} does not exist")))?;
    tracing::info!(key = %row.name, key_id = %id, "api key revoked");
    let key = row.to_wire();
    access.keyring.remember(row);
    Ok(HttpResponse::Ok().json(key))
}

/// The requested scopes, each one of the service's, without repeats.
fn scopes(requested: &[String], known: &[&str]) -> Result<Vec<String>, ApiError> {
    if requested.is_empty() {
        return Err(RuleViolation::new("invalid_scope", "give at least one scope").into());
    }
    let mut scopes: Vec<String> = Vec::with_capacity(requested.len());
    for scope in requested {
        if !known.contains(&scope.as_str()) {
            return Err(RuleViolation::new(
                "invalid_scope",
                format!(
                    "{scope:?} is not a scope of this service; the scopes are {}",
                    known.join(", ")
                ),
            )
            .into());
        }
        if !scopes.contains(scope) {
            scopes.push(scope.clone());
        }
    }
    Ok(scopes)
}

fn name_taken(name: &str) -> ApiError {
    ApiError::Conflict {
        code: "api_key_name_taken",
        message: format!("a key named {name:?} already exists"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_must_be_known_and_at_least_one() {
        let known = ["a:read", "admin"];
        let list = |s: &[&str]| s.iter().map(|x| (*x).to_owned()).collect::<Vec<_>>();
        assert_eq!(
            scopes(&list(&["a:read", "a:read", "admin"]), &known).unwrap(),
            list(&["a:read", "admin"])
        );
        assert_eq!(
            scopes(&list(&["b:write"]), &known).unwrap_err().code(),
            "invalid_scope"
        );
        assert_eq!(scopes(&[], &known).unwrap_err().code(), "invalid_scope");
    }
}

//! What both OpenAPI documents share.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::Modify;

/// Declares the `bearer` security scheme the `/api/v1` routes name.
pub struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// Completes each `/api/v1` operation: its description says the scope its
/// `#[utoipa::path]` declares (the one the guard asks for,
/// [`crate::access::RouteScopes`]), and it lists the answers of the guard
/// (`401`, `403 insufficient_scope`, `429 rate_limited` with `Retry-After`)
/// and those any route may give (`503` with `Retry-After` when the database
/// or another dependency is away; for a POST, `413 payload_too_large` and
/// the `Idempotent-Replayed` header of a replayed answer).
pub fn document_access(openapi: &mut utoipa::openapi::OpenApi) {
    use actix_web::http::Method;

    for (path, item) in openapi.paths.paths.iter_mut() {
        if !path.starts_with("/api/v1/") {
            continue;
        }
        let operations = [
            (Method::GET, item.get.as_mut()),
            (Method::POST, item.post.as_mut()),
            (Method::PUT, item.put.as_mut()),
            (Method::PATCH, item.patch.as_mut()),
            (Method::DELETE, item.delete.as_mut()),
        ];
        for (method, operation) in operations {
            let Some(operation) = operation else {
                continue;
            };
            // A route without a scope is refused at start-up (RouteScopes).
            if let Some(scope) = crate::access::scopes::declared_scope(operation) {
                let line = if scope == crate::access::ADMIN {
                    "Scope: `admin`.".to_owned()
                } else {
                    format!("Scope: `{scope}` (or `admin`).")
                };
                operation.description = Some(match operation.description.take() {
                    Some(text) if !text.is_empty() => format!("{text}\n\n{line}"),
                    _ => line,
                });
            }
            let responses = &mut operation.responses.responses;
            for (status, what) in [
                (
                    "400",
                    "Malformed JSON, wrong types, or an unknown field, query parameter or malformed id (invalid_request, malformed_json)",
                ),
                (
                    "401",
                    "A missing, unknown, expired or revoked token (unauthorized)",
                ),
                (
                    "403",
                    "The key lacks this route's scope (insufficient_scope); nothing happened",
                ),
                (
                    "429",
                    "The key is over RATE_LIMIT (rate_limited), see Retry-After; nothing happened",
                ),
                (
                    "503",
                    "A dependency (the database, the broker, the other service) is unavailable; try again after Retry-After",
                ),
            ] {
                responses
                    .entry(status.to_owned())
                    .or_insert_with(|| {
                        error_response(what, status == "429" || status == "503").into()
                    });
            }
            if method == Method::POST {
                optional_body(operation);
                let responses = &mut operation.responses.responses;
                responses.entry("413".to_owned()).or_insert_with(|| {
                    error_response(
                        "The body is over the route's limit (payload_too_large); nothing happened",
                        false,
                    )
                    .into()
                });
                // Stored answers are the successes and the ledger's refusals
                // (a failed transaction, 422): either may be replayed.
                for (status, response) in responses.iter_mut() {
                    if let (true, utoipa::openapi::RefOr::T(response)) =
                        (status.starts_with('2') || status == "422", response)
                    {
                        response
                            .headers
                            .insert("Idempotent-Replayed".to_owned(), replayed_header());
                    }
                }
            }
        }
    }
}

/// A POST whose body may be left out (declared `Option<T>`, which utoipa
/// writes as `oneOf: [null, T]` in a required body) gets `T` in a body that
/// is not required: an absent body is what the route takes, a JSON `null`
/// is not.
fn optional_body(operation: &mut utoipa::openapi::path::Operation) {
    use utoipa::openapi::{schema::Type, RefOr, Required, Schema};

    let Some(body) = operation.request_body.as_mut() else {
        return;
    };
    for content in body.content.values_mut() {
        let Some(RefOr::T(Schema::OneOf(one_of))) = &content.schema else {
            continue;
        };
        let is_null = |schema: &&RefOr<Schema>| matches!(schema, RefOr::T(Schema::Object(o)) if o.schema_type == Type::Null.into());
        if let Some(inner) = one_of.items.iter().find(|s| !is_null(s)).cloned() {
            content.schema = Some(inner);
            body.required = Some(Required::False);
        }
    }
}

/// The header of an answer replayed from an earlier request's Idempotency-Key.
fn replayed_header() -> utoipa::openapi::Header {
    utoipa::openapi::HeaderBuilder::new()
        .schema(
            utoipa::openapi::ObjectBuilder::new()
                .schema_type(utoipa::openapi::schema::Type::String)
                .enum_values(Some(["true"])),
        )
        .description(Some(
            "`true` when this is the stored answer of an earlier request with the same Idempotency-Key",
        ))
        .build()
}

/// A documented error answer: the contract's error body.
fn error_response(description: &str, retry_after: bool) -> utoipa::openapi::Response {
    use utoipa::openapi::{ContentBuilder, HeaderBuilder, Ref, ResponseBuilder};

    let mut response = ResponseBuilder::new().description(description).content(
        "application/json",
        ContentBuilder::new()
            .schema(Some(Ref::from_schema_name("ErrorBody")))
            .build(),
    );
    if retry_after {
        response = response.header(
            "Retry-After",
            HeaderBuilder::new()
                .schema(
                    utoipa::openapi::ObjectBuilder::new()
                        .schema_type(utoipa::openapi::schema::Type::Integer),
                )
                .description(Some("Seconds to wait before trying again"))
                .build(),
        );
    }
    response.build()
}

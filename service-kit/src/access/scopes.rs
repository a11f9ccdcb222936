//! The scope each `/api/v1` route needs, as its `#[utoipa::path]` declares
//! it: read once at start-up from the service's OpenAPI document, so the
//! guard and the document cannot disagree, and a route that names no scope
//! stops the service from starting instead of falling to a default.

use std::collections::HashMap;

use actix_web::http::Method;
use utoipa::openapi::path::Operation;
use utoipa::openapi::OpenApi;

/// The security scheme the `/api/v1` operations name their scope under.
pub const SCHEME: &str = "bearer";

/// `(method, route pattern)` to the scope that route needs, where the
/// pattern is the route as registered, e.g. `/api/v1/accounts/{account_id}`.
#[derive(Debug, Clone, Default)]
pub struct RouteScopes(HashMap<(Method, String), String>);

impl RouteScopes {
    /// Every operation of `openapi` under `prefix` with its scope: exactly
    /// one scope of `known` under [`SCHEME`]. Anything else is an error
    /// naming each route at fault.
    pub fn from_openapi(openapi: &OpenApi, prefix: &str, known: &[&str]) -> Result<Self, String> {
        let mut scopes = HashMap::new();
        let mut faults = Vec::new();
        for (path, item) in &openapi.paths.paths {
            if !path.starts_with(prefix) {
                continue;
            }
            for (method, operation) in operations(item) {
                match declared_scope(operation) {
                    Some(scope) if known.contains(&scope.as_str()) => {
                        scopes.insert((method, path.clone()), scope);
                    }
                    Some(scope) => faults.push(format!(
                        "{method} {path} names the scope {scope:?}, which is not one of {}",
                        known.join(", ")
                    )),
                    None => faults.push(format!(
                        "{method} {path} declares no scope: its #[utoipa::path] needs \
                         security((\"{SCHEME}\" = [\"<scope>\"]))"
                    )),
                }
            }
        }
        if faults.is_empty() {
            Ok(Self(scopes))
        } else {
            Err(faults.join("; "))
        }
    }

    /// The scope `method` on the route `pattern` needs, if it is a route.
    pub fn of(&self, method: &Method, pattern: &str) -> Option<&str> {
        self.0
            .get(&(method.clone(), pattern.to_owned()))
            .map(String::as_str)
    }
}

/// An operation's one scope under [`SCHEME`], if it names exactly one.
pub fn declared_scope(operation: &Operation) -> Option<String> {
    let [requirement] = operation.security.as_deref()? else {
        return None;
    };
    // A SecurityRequirement keeps its map private; its JSON form is the map.
    match serde_json::to_value(requirement).ok()? {
        serde_json::Value::Object(schemes) if schemes.len() == 1 => {
            match schemes.get(SCHEME)?.as_array()?.as_slice() {
                [scope] => scope.as_str().map(str::to_owned),
                _ => None,
            }
        }
        _ => None,
    }
}

/// The operations of a path item with their methods.
pub fn operations(
    item: &utoipa::openapi::PathItem,
) -> impl Iterator<Item = (Method, &Operation)> + '_ {
    [
        (Method::GET, item.get.as_ref()),
        (Method::POST, item.post.as_ref()),
        (Method::PUT, item.put.as_ref()),
        (Method::PATCH, item.patch.as_ref()),
        (Method::DELETE, item.delete.as_ref()),
    ]
    .into_iter()
    .filter_map(|(method, operation)| operation.map(|op| (method, op)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use utoipa::openapi::path::{HttpMethod, OperationBuilder, PathItem, PathsBuilder};
    use utoipa::openapi::security::SecurityRequirement;
    use utoipa::openapi::OpenApiBuilder;

    fn document(operations: &[(&str, HttpMethod, Option<&[&str]>)]) -> OpenApi {
        let paths = operations
            .iter()
            .fold(PathsBuilder::new(), |paths, (path, method, scopes)| {
                let mut operation = OperationBuilder::new();
                if let Some(scopes) = scopes {
                    operation = operation
                        .security(SecurityRequirement::new(SCHEME, scopes.iter().copied()));
                }
                paths.path(*path, PathItem::new(method.clone(), operation))
            });
        OpenApiBuilder::new().paths(paths).build()
    }

    const KNOWN: &[&str] = &["things:read", "things:write", "admin"];

    #[test]
    fn each_route_needs_the_scope_its_operation_declares() {
        let doc = document(&[
            ("/api/v1/things", HttpMethod::Get, Some(&["things:read"])),
            ("/api/v1/things", HttpMethod::Post, Some(&["things:write"])),
            ("/healthz", HttpMethod::Get, None),
        ]);
        let scopes = RouteScopes::from_openapi(&doc, "/api/v1/", KNOWN).unwrap();
        assert_eq!(
            scopes.of(&Method::GET, "/api/v1/things"),
            Some("things:read")
        );
        assert_eq!(
            scopes.of(&Method::POST, "/api/v1/things"),
            Some("things:write")
        );
        assert_eq!(scopes.of(&Method::DELETE, "/api/v1/things"), None);
        assert_eq!(
            scopes.of(&Method::GET, "/healthz"),
            None,
            "outside the prefix"
        );
    }

    #[test]
    fn a_route_without_exactly_one_known_scope_is_refused_by_name() {
        for (scopes, fault) in [
            (None, "declares no scope"),
            (Some(&[][..]), "declares no scope"),
            (Some(&["things:read", "admin"][..]), "declares no scope"),
            (
                Some(&["things:delete"][..]),
                "\"things:delete\", which is not one of",
            ),
        ] {
            let doc = document(&[
                ("/api/v1/things", HttpMethod::Get, Some(&["things:read"])),
                ("/api/v1/things/{id}", HttpMethod::Delete, scopes),
            ]);
            let error = RouteScopes::from_openapi(&doc, "/api/v1/", KNOWN).unwrap_err();
            assert!(error.starts_with("DELETE /api/v1/things/{id} "), "{error}");
            assert!(error.contains(fault), "{error}");
        }
    }
}

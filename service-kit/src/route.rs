//! Each route declared once. A handler carries actix's method-and-path
//! attribute (`#[post("/accounts")]`) under its `#[utoipa::path(...)]`,
//! which documents it and names the scope it needs
//! (`security(("bearer" = ["accounts:write"]))`). A service names each
//! handler once, in one function over [`Routes`]: [`mount`] serves that
//! list, [`document`] writes it into the OpenAPI document, and the access
//! guard reads each route's scope back from the document
//! ([`crate::access::RouteScopes`]).

use actix_web::web;
use utoipa::openapi::OpenApi;
use utoipa_actix_web::OpenApiFactory;

/// actix's `ServiceConfig` that also records the `#[utoipa::path]` of each
/// handler given to its `service` (utoipa-actix-web).
pub use utoipa_actix_web::service_config::ServiceConfig as Routes;

/// A service's route list: one function naming each handler once.
pub type Declare = fn(&mut Routes);

/// Serves a route list inside an actix scope:
/// `web::scope("/api/v1").configure(|cfg| mount(cfg, declare))`.
pub fn mount(cfg: &mut web::ServiceConfig, declare: Declare) {
    declare(&mut Routes::new(cfg));
}

/// Writes a route list, served under `prefix`, into an OpenAPI document:
/// an operation per route, and the schemas they name.
pub fn document(openapi: &mut OpenApi, prefix: &str, declare: Declare) {
    let scope = utoipa_actix_web::scope(prefix).configure(declare);
    let mut schemas = Vec::new();
    scope.schemas(&mut schemas);
    openapi.paths.merge(scope.paths());
    openapi
        .components
        .get_or_insert_with(Default::default)
        .schemas
        .extend(schemas);
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::{get, post, HttpResponse};

    /// A thing.
    #[utoipa::path(responses((status = 200)), security(("bearer" = ["things:read"])))]
    #[get("/things/{id}")]
    async fn get_thing() -> HttpResponse {
        HttpResponse::Ok().finish()
    }

    #[utoipa::path(responses((status = 201)), security(("bearer" = ["things:write"])))]
    #[post("/things")]
    async fn make_thing() -> HttpResponse {
        HttpResponse::Created().finish()
    }

    fn declare(routes: &mut Routes) {
        routes.service(get_thing).service(make_thing);
    }

    #[test]
    fn a_route_list_is_documented_under_its_prefix_with_its_method_and_scope() {
        let mut openapi = utoipa::openapi::OpenApiBuilder::new().build();
        document(&mut openapi, "/api/v1", declare);
        let paths = &openapi.paths.paths;
        let get = paths["/api/v1/things/{id}"].get.as_ref().unwrap();
        assert_eq!(get.operation_id.as_deref(), Some("get_thing"));
        let security = serde_json::to_value(&get.security).unwrap();
        assert_eq!(security, serde_json::json!([{"bearer": ["things:read"]}]));
        assert!(paths["/api/v1/things"].post.is_some());
        assert!(paths["/api/v1/things"].get.is_none());
    }

    #[actix_web::test]
    async fn a_route_list_is_served_with_its_methods() {
        use actix_web::test::{call_service, init_service, TestRequest};
        let app = init_service(
            actix_web::App::new()
                .service(web::scope("/api/v1").configure(|cfg| mount(cfg, declare))),
        )
        .await;
        let got = call_service(
            &app,
            TestRequest::get().uri("/api/v1/things/7").to_request(),
        )
        .await;
        assert_eq!(got.status(), 200);
        let made = call_service(&app, TestRequest::post().uri("/api/v1/things").to_request()).await;
        assert_eq!(made.status(), 201);
        let wrong = call_service(&app, TestRequest::get().uri("/api/v1/things").to_request()).await;
        assert_eq!(
            wrong.status(),
            404,
            "no GET route: the app's default answers"
        );
    }
}

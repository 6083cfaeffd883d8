//! The OpenAPI 3.1 document: collected from the routes by utoipa-actix-web, with the title and
//! shared components declared here. `openapi.yaml` at the repository root is this document.

use actix_web::App;
use utoipa::OpenApi;
use utoipa_actix_web::AppExt;

use crate::{error::ErrorBody, routes};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "pnode-api",
        description = "What every Xandeum pNode looks like right now, and which seeds have seen it.",
        license(name = "MIT", identifier = "MIT"),
    ),
    components(schemas(ErrorBody)),
    tags(
        (name = "collector", description = "What the collector did last"),
        (name = "pnodes", description = "The global view: every node now, and who has seen it"),
        (name = "system", description = "Liveness, readiness and the service itself"),
    )
)]
struct ApiDoc;

/// The document the running service serves at `/api/openapi.json`.
pub fn document() -> utoipa::openapi::OpenApi {
    let (_, doc) = App::new()
        .into_utoipa_app()
        .openapi(ApiDoc::openapi())
        .configure(routes::configure)
        .split_for_parts();
    doc
}

/// The document as the YAML committed at `openapi.yaml`.
pub fn document_yaml() -> anyhow::Result<String> {
    Ok(document().to_yaml()?)
}

//! What answers when no route matched: 405 with `Allow` when the path exists for other methods,
//! else 404. The table of paths comes from the OpenAPI document, so it is always complete.

use actix_web::{HttpRequest, HttpResponse, dev::ResourceDef, http::Method, web};
use utoipa::openapi::{OpenApi, path::PathItem};

use crate::{
    domain::params,
    web::error::{ApiError, Result},
};

/// Every documented path and the methods it answers.
#[derive(Debug)]
pub(crate) struct RouteTable(Vec<(ResourceDef, Vec<Method>)>);

impl RouteTable {
    /// Builds the table from the document the routes generate.
    pub(crate) fn from_openapi(doc: &OpenApi) -> Self {
        let routes = doc
            .paths
            .paths
            .iter()
            .map(|(path, item)| (ResourceDef::new(path.as_str()), methods(item)))
            .collect();
        Self(routes)
    }

    /// The methods a path answers, if it is a known path.
    fn allowed(&self, path: &str) -> Option<&[Method]> {
        self.0
            .iter()
            .find(|(def, _)| def.is_match(path))
            .map(|(_, methods)| methods.as_slice())
    }
}

fn methods(item: &PathItem) -> Vec<Method> {
    [
        (Method::GET, item.get.is_some()),
        // Every GET answers HEAD too (see `http::head_as_get`).
        (Method::HEAD, item.get.is_some()),
        (Method::PUT, item.put.is_some()),
        (Method::POST, item.post.is_some()),
        (Method::DELETE, item.delete.is_some()),
        (Method::PATCH, item.patch.is_some()),
    ]
    .into_iter()
    .filter_map(|(method, present)| present.then_some(method))
    .collect()
}

/// The app's default service.
pub(crate) async fn not_found(
    req: HttpRequest,
    routes: web::Data<RouteTable>,
) -> Result<HttpResponse> {
    Err(match routes.allowed(req.path()) {
        Some(allowed) => ApiError::MethodNotAllowed {
            method: req.method().clone(),
            allowed: allowed.to_vec(),
        },
        None => ApiError::NotFound(format!(
            "no route for {} {}",
            req.method(),
            params::excerpt(req.path())
        )),
    })
}

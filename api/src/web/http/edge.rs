//! What every request and answer gets at the edge of the app: `HEAD` served as `GET`, and a JSON
//! body on every error answer, including those made by middleware and libraries rather than the
//! service's handlers (CORS refusing an origin, Swagger UI's missing file). The answers actix-http
//! makes by itself, outside the app, get theirs in `server::connection`.

use actix_web::{
    Error, HttpResponse,
    body::{self, BodySize, BoxBody, MessageBody, to_bytes_limited},
    dev::{ServiceRequest, ServiceResponse},
    http::{
        Method, StatusCode,
        header::{self, HeaderName, HeaderValue},
    },
    middleware::{ErrorHandlerResponse, Next},
};

use crate::web::error::ErrorBody;

/// `X-Content-Type-Options: nosniff`, on every answer: browsers take the content type as given.
pub(crate) const NOSNIFF: (HeaderName, HeaderValue) = (
    header::X_CONTENT_TYPE_OPTIONS,
    HeaderValue::from_static("nosniff"),
);

/// The most of a non-JSON error body quoted in its JSON replacement.
const QUOTED_BODY_BYTES: usize = 1024;

/// Middleware: a `HEAD` request is routed as the `GET` of its path, so that every `GET` route
/// answers `HEAD` (health checks use it). actix-http knows the request was `HEAD` and sends the
/// answer's headers, its length included, without the body. A body of unknown length (an event
/// stream) is dropped here instead: one never sent would be held, its stream slot with it, for
/// as long as the connection stays open.
pub(crate) async fn head_as_get(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let head = req.method() == Method::HEAD;
    if head {
        req.head_mut().method = Method::GET;
    }
    let response = next.call(req).await?.map_into_boxed_body();
    if head && response.response().body().size() == BodySize::Stream {
        return Ok(response.map_body(|_, _| BoxBody::new(body::None::new())));
    }
    Ok(response)
}

/// For `ErrorHandlers`: an error answer that is already JSON passes; any other gets the JSON body
/// `{error, code}`, its message the text it had (if any) or the status's reason, its code the
/// status's name. Status and headers are kept.
pub(crate) fn json_error<B: MessageBody + 'static>(
    res: ServiceResponse<B>,
) -> actix_web::Result<ErrorHandlerResponse<B>> {
    let is_json = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/json"));
    if is_json {
        return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
    }
    Ok(ErrorHandlerResponse::Future(Box::pin(async move {
        let (req, res) = res.into_parts();
        let status = res.status();
        let mut json = HttpResponse::build(status);
        for (name, value) in res.headers() {
            if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
                json.append_header((name.clone(), value.clone()));
            }
        }
        let text = match to_bytes_limited(res.into_body(), QUOTED_BODY_BYTES).await {
            Ok(Ok(bytes)) => String::from_utf8_lossy(&bytes).trim().to_owned(),
            _ => String::new(),
        };
        let error = if text.is_empty() {
            status
                .canonical_reason()
                .unwrap_or("error")
                .to_ascii_lowercase()
        } else {
            text
        };
        let response = json.json(ErrorBody::new(error, code_of(status)));
        Ok(ServiceResponse::new(req, response).map_into_right_body())
    })))
}

/// The code of an error answer made outside the handlers: the service's own codes for 500 and
/// 503, else the status's reason in snake case (`bad_request`): a closed set.
pub(crate) fn code_of(status: StatusCode) -> String {
    match status {
        StatusCode::INTERNAL_SERVER_ERROR => "internal".to_owned(),
        StatusCode::SERVICE_UNAVAILABLE => "unavailable".to_owned(),
        _ => status
            .canonical_reason()
            .unwrap_or("error")
            .chars()
            .filter_map(|c| match c {
                ' ' | '-' => Some('_'),
                c if c.is_ascii_alphanumeric() => Some(c.to_ascii_lowercase()),
                _ => None,
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use actix_web::{App, middleware::ErrorHandlers, test as actix_test, web};

    use super::*;

    #[test]
    fn codes_are_the_statuses_names() {
        assert_eq!(code_of(StatusCode::BAD_REQUEST), "bad_request");
        assert_eq!(code_of(StatusCode::PAYLOAD_TOO_LARGE), "payload_too_large");
        assert_eq!(code_of(StatusCode::IM_A_TEAPOT), "im_a_teapot");
        assert_eq!(code_of(StatusCode::INTERNAL_SERVER_ERROR), "internal");
    }

    #[actix_web::test]
    async fn a_text_error_becomes_json_with_its_status_headers_and_text_and_json_passes() {
        let app = actix_test::init_service(
            App::new()
                .wrap(ErrorHandlers::new().default_handler(json_error))
                .route(
                    "/text",
                    web::get().to(|| async {
                        HttpResponse::Forbidden()
                            .insert_header(("x-kept", "yes"))
                            .body("Origin is not allowed to make this request")
                    }),
                )
                .route(
                    "/empty",
                    web::get().to(|| async { HttpResponse::NotFound().finish() }),
                )
                .route(
                    "/json",
                    web::get().to(|| async {
                        HttpResponse::BadRequest().json(ErrorBody::new("own".into(), "mine".into()))
                    }),
                ),
        )
        .await;
        let call = |path: &'static str| {
            let app = &app;
            async move {
                let res = actix_test::call_service(
                    app,
                    actix_test::TestRequest::get().uri(path).to_request(),
                )
                .await;
                let status = res.status();
                let kept = res.headers().contains_key("x-kept");
                let body: serde_json::Value = actix_test::read_body_json(res).await;
                (status, kept, body)
            }
        };
        let (status, kept, body) = call("/text").await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert!(kept);
        assert_eq!(
            body,
            serde_json::json!({"error": "Origin is not allowed to make this request", "code": "forbidden"})
        );
        let (status, _, body) = call("/empty").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(
            body,
            serde_json::json!({"error": "not found", "code": "not_found"})
        );
        let (_, _, body) = call("/json").await;
        assert_eq!(body, serde_json::json!({"error": "own", "code": "mine"}));
    }
}

//! HTTP caching at the edge: which encoding a client gets, and the validators (a strong `ETag` from
//! the data version, `Last-Modified` from the newest finished cycle) with which a poller that
//! already has the current answer is told so in a `304` without a body.

use std::time::SystemTime;

use actix_web::{
    HttpRequest, HttpResponse, HttpResponseBuilder,
    http::header::{
        self, AcceptEncoding, CacheControl, CacheDirective, ETag, Encoding as HeaderEncoding,
        EntityTag, Header, HttpDate, IfNoneMatch, LastModified,
    },
};

use actix_web::web::Bytes;

use crate::{
    compression::Encoding,
    db::version::{self, DataVersion},
    error::ApiError,
    state::AppState,
    view::ViewError,
};

/// What the service can encode itself, as actix names them.
const SUPPORTED: [HeaderEncoding; 4] = [
    HeaderEncoding::identity(),
    HeaderEncoding::brotli(),
    HeaderEncoding::zstd(),
    HeaderEncoding::gzip(),
];

/// The encoding the client prefers among those the service writes (identity when it says
/// nothing, or nothing acceptable).
pub fn negotiate(req: &HttpRequest) -> Encoding {
    let Ok(accept) = AcceptEncoding::parse(req) else {
        return Encoding::Identity;
    };
    match accept.negotiate(SUPPORTED.iter()) {
        Some(encoding) if encoding == HeaderEncoding::brotli() => Encoding::Brotli,
        Some(encoding) if encoding == HeaderEncoding::zstd() => Encoding::Zstd,
        Some(encoding) if encoding == HeaderEncoding::gzip() => Encoding::Gzip,
        _ => Encoding::Identity,
    }
}

/// The validators of one representation of one answer at one data version.
#[derive(Debug, Clone)]
pub struct Validators {
    etag: EntityTag,
    last_modified: Option<HttpDate>,
    encoding: Encoding,
}

impl Validators {
    /// For the answer `what` (the endpoint and its canonical query) at `version`, sent in
    /// `encoding`: a strong ETag, since the same version, question and encoding always give the
    /// same bytes.
    pub fn new(version: &DataVersion, what: &str, encoding: Encoding) -> Self {
        let tag = format!(
            "{}-{:016x}-{}",
            version.version,
            fnv1a(what.as_bytes()),
            encoding.token()
        );
        Self {
            etag: EntityTag::new_strong(tag),
            last_modified: version
                .last_cycle_finished_at
                .map(|at| HttpDate::from(SystemTime::from(at))),
            encoding,
        }
    }

    /// Whether the client already holds this representation (`If-None-Match` names it, or `*`).
    pub fn client_has_it(&self, req: &HttpRequest) -> bool {
        match IfNoneMatch::parse(req) {
            Ok(IfNoneMatch::Any) => true,
            Ok(IfNoneMatch::Items(tags)) => tags.iter().any(|tag| tag.weak_eq(&self.etag)),
            Err(_) => false,
        }
    }

    /// `304 Not Modified`, with the validators and no body.
    pub fn not_modified(&self) -> HttpResponse {
        self.headers(HttpResponse::NotModified()).finish()
    }

    /// `200 OK` with the validators, `Cache-Control: no-cache` (revalidate every time: the 304
    /// is the cheap path) and the body's `Content-Encoding`; add the body.
    pub fn ok(&self) -> HttpResponseBuilder {
        let mut response = self.headers(HttpResponse::Ok());
        response.content_type(header::ContentType::json());
        if self.encoding != Encoding::Identity {
            response.insert_header((header::CONTENT_ENCODING, self.encoding.token()));
        }
        response
    }

    /// As [`Validators::ok`] for a body the compression middleware encodes on its way out (in
    /// the same encoding: it negotiates as [`negotiate`] does).
    pub fn ok_to_compress(&self) -> HttpResponseBuilder {
        let mut response = self.headers(HttpResponse::Ok());
        response.content_type(header::ContentType::json());
        response
    }

    fn headers(&self, mut response: HttpResponseBuilder) -> HttpResponseBuilder {
        response
            .insert_header(ETag(self.etag.clone()))
            .insert_header(CacheControl(vec![CacheDirective::NoCache]))
            .insert_header((header::VARY, "Accept-Encoding"));
        if let Some(at) = self.last_modified {
            response.insert_header(LastModified(at));
        }
        response
    }
}

/// Answers the JSON `compute` makes for the question `what`. When the answer depends on the data
/// alone (`cacheable`), it is validated by the data version (a `304` for a client that has it)
/// and kept in the view cache; otherwise it is computed every time.
pub async fn json_answer<F>(
    req: &HttpRequest,
    state: &AppState,
    what: String,
    cacheable: bool,
    compute: F,
) -> Result<HttpResponse, ApiError>
where
    F: Future<Output = Result<Bytes, ViewError>>,
{
    if !cacheable {
        let body = compute.await?;
        return Ok(HttpResponse::Ok()
            .content_type(header::ContentType::json())
            .insert_header(CacheControl(vec![CacheDirective::NoCache]))
            .body(body));
    }
    let encoding = negotiate(req);
    let version = version::current(state.db.conn()).await?;
    let validators = Validators::new(&version, &what, encoding);
    if validators.client_has_it(req) {
        state.cache.metrics().not_modified();
        return Ok(validators.not_modified());
    }
    if !state.cache.is_enabled() {
        return Ok(validators.ok_to_compress().body(compute.await?));
    }
    let body = state
        .cache
        .body(version.version, what, encoding, compute)
        .await?;
    Ok(validators.ok().body(body))
}

/// FNV-1a, 64 bits: a stable hash of the question for the ETag (the same on every replica and
/// build, unlike std's).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;

    fn version(version: i64) -> DataVersion {
        DataVersion {
            version,
            last_cycle_finished_at: None,
        }
    }

    #[test]
    fn the_preferred_encoding_wins_and_identity_is_the_fallback() {
        for (accept, expected) in [
            (None, Encoding::Identity),
            (Some("gzip"), Encoding::Gzip),
            (Some("gzip;q=0.5, br"), Encoding::Brotli),
            (Some("zstd, gzip;q=0.1"), Encoding::Zstd),
            (Some("deflate"), Encoding::Identity),
            (Some("gzip;q=0"), Encoding::Identity),
        ] {
            let mut req = TestRequest::default();
            if let Some(accept) = accept {
                req = req.insert_header((header::ACCEPT_ENCODING, accept));
            }
            assert_eq!(negotiate(&req.to_http_request()), expected, "{accept:?}");
        }
    }

    #[test]
    fn the_etag_changes_with_the_version_the_question_and_the_encoding() {
        let tag = |v, what, enc| Validators::new(&version(v), what, enc).etag;
        let base = tag(7, "pnodes?limit=50", Encoding::Gzip);
        assert_eq!(base, tag(7, "pnodes?limit=50", Encoding::Gzip));
        assert!(!base.weak);
        assert_ne!(base, tag(8, "pnodes?limit=50", Encoding::Gzip));
        assert_ne!(base, tag(7, "pnodes?limit=51", Encoding::Gzip));
        assert_ne!(base, tag(7, "pnodes?limit=50", Encoding::Brotli));
    }

    #[test]
    fn if_none_match_with_the_tag_or_a_star_means_the_client_has_it() {
        let validators = Validators::new(&version(3), "status", Encoding::Identity);
        let tag = validators.etag.to_string();
        for (header, has) in [(tag.as_str(), true), ("\"other\"", false), ("*", true)] {
            let req = TestRequest::default()
                .insert_header((header::IF_NONE_MATCH, header))
                .to_http_request();
            assert_eq!(validators.client_has_it(&req), has, "{header}");
        }
    }
}

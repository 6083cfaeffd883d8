//! The HTTP edge of the app: what every request and answer gets on its way ([`edge`]), and HTTP
//! caching: which encoding a client gets, and the validators (an `ETag` from the data version,
//! `Last-Modified` from the newest finished cycle) with which a poller that already has the
//! current answer is told so in a `304` without a body. The server and its connections are in
//! `crate::web::server`.

pub(crate) mod edge;

use std::time::SystemTime;

use actix_web::{
    HttpRequest, HttpResponse, HttpResponseBuilder,
    http::header::{
        self, AcceptEncoding, CacheControl, CacheDirective, ETag, Encoding as HeaderEncoding,
        EntityTag, Header, HttpDate, IfNoneMatch, LastModified,
    },
};
use chrono::Utc;

use crate::{
    db::version::{self, DataVersion},
    domain::seeds::Seeds,
    web::{compression::Encoding, error::ApiError, state::AppState},
};

/// The encodings negotiated, as actix names them: the same list as actix's `Compress`
/// middleware, so that a body it compresses is in the encoding [`negotiate`] says.
const SUPPORTED: [HeaderEncoding; 5] = [
    HeaderEncoding::identity(),
    HeaderEncoding::brotli(),
    HeaderEncoding::zstd(),
    HeaderEncoding::gzip(),
    HeaderEncoding::deflate(),
];

/// The encoding the client prefers among those the service writes (identity when it says
/// nothing, or nothing acceptable).
pub(crate) fn negotiate(req: &HttpRequest) -> Encoding {
    let Ok(accept) = AcceptEncoding::parse(req) else {
        return Encoding::Identity;
    };
    match accept.negotiate(SUPPORTED.iter()) {
        Some(encoding) if encoding == HeaderEncoding::brotli() => Encoding::Brotli,
        Some(encoding) if encoding == HeaderEncoding::zstd() => Encoding::Zstd,
        Some(encoding) if encoding == HeaderEncoding::gzip() => Encoding::Gzip,
        Some(encoding) if encoding == HeaderEncoding::deflate() => Encoding::Deflate,
        _ => Encoding::Identity,
    }
}

/// Which data an answer is made of: the data version, and for answers that also move with the
/// clock (`creditDelta24h`, `isRunning`, the last 24 hours), the collection interval the clock is
/// in, so that such an answer is at most one interval old even when nothing is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Freshness {
    /// The version and the interval in one number, growing with both (the cache's key).
    pub stamp: i64,
    last_modified: Option<HttpDate>,
    /// This replica's configuration and build, which the bodies also depend on.
    flavor: u64,
}

impl Freshness {
    /// Reads the data version (one statement). `clock_bound`: the answer moves with the clock.
    pub(crate) async fn read(state: &AppState, clock_bound: bool) -> Result<Self, ApiError> {
        let version = version::current(state.db.conn()).await?;
        let interval = state.clock_step.num_seconds().max(1);
        let epoch = if clock_bound {
            Utc::now().timestamp() / interval
        } else {
            0
        };
        Ok(Self::new(&version, epoch, state.answer_flavor))
    }

    fn new(version: &DataVersion, epoch: i64, flavor: u64) -> Self {
        Self {
            stamp: version.version.saturating_mul(1 << 32) | (epoch & 0xffff_ffff),
            last_modified: version
                .last_cycle_finished_at
                .map(|at| HttpDate::from(SystemTime::from(at))),
            flavor,
        }
    }
}

/// A number that differs between replicas whose answers differ for the same data: their build
/// and their configured seeds (listed by the answers), each by its network, name and base URL, in
/// order.
/// Built from those values alone, so that it changes only when they do.
pub(crate) fn flavor(seeds: &Seeds) -> u64 {
    let mut key = String::from(env!("CARGO_PKG_VERSION"));
    for seed in seeds.as_slice() {
        key.push('|');
        key.push_str(seed.network.as_str());
        key.push(':');
        key.push_str(&seed.name);
        key.push('=');
        key.push_str(&seed.base_url);
    }
    fnv1a(key.as_bytes())
}

/// The validators of one representation of one answer.
#[derive(Debug, Clone)]
pub(crate) struct Validators {
    etag: EntityTag,
    last_modified: Option<HttpDate>,
    encoding: Encoding,
}

impl Validators {
    /// For the answer `what` (the endpoint and its canonical query) at `freshness`, sent in
    /// `encoding`.
    pub(crate) fn new(freshness: &Freshness, what: &str, encoding: Encoding) -> Self {
        let tag = format!(
            "{:x}-{:016x}-{:016x}-{}",
            freshness.stamp,
            freshness.flavor,
            fnv1a(what.as_bytes()),
            encoding.token()
        );
        Self {
            etag: EntityTag::new_strong(tag),
            last_modified: freshness.last_modified,
            encoding,
        }
    }

    /// Whether the client already holds this representation (`If-None-Match` names it). A `*`
    /// matches any current representation (RFC 9110, 13.1.2): it is one when `exists` (the
    /// answer is there whatever the data), else the answer is computed and tells.
    pub(crate) fn client_has_it(&self, req: &HttpRequest, exists: bool) -> bool {
        match IfNoneMatch::parse(req) {
            Ok(IfNoneMatch::Items(tags)) => tags.iter().any(|tag| tag.weak_eq(&self.etag)),
            Ok(IfNoneMatch::Any) => exists,
            Err(_) => false,
        }
    }

    /// `304 Not Modified`, with the validators and no body.
    pub(crate) fn not_modified(&self) -> HttpResponse {
        self.headers(HttpResponse::NotModified(), &self.etag)
            .insert_header((header::VARY, "Accept-Encoding"))
            .finish()
    }

    /// `200 OK` for a body the service encoded itself (the same bytes every time: a strong
    /// ETag), with `Cache-Control: no-cache` (revalidate every time: the 304 is the cheap path)
    /// and its `Content-Encoding`; add the body.
    pub(crate) fn ok(&self) -> HttpResponseBuilder {
        let mut response = self.headers(HttpResponse::Ok(), &self.etag);
        response
            .content_type(header::ContentType::json())
            .insert_header((header::VARY, "Accept-Encoding"));
        if self.encoding != Encoding::Identity {
            response.insert_header((header::CONTENT_ENCODING, self.encoding.token()));
        }
        response
    }

    /// `200 OK` for a body the compression middleware encodes on its way out (in the encoding
    /// [`negotiate`] chose). Its compressor may write other bytes than the service's own, so the
    /// ETag is weak: the same content, not the same bytes. The middleware adds `Vary`.
    pub(crate) fn ok_to_compress(&self) -> HttpResponseBuilder {
        let weak = EntityTag::new_weak(self.etag.tag().to_owned());
        let mut response = self.headers(HttpResponse::Ok(), &weak);
        response.content_type(header::ContentType::json());
        response
    }

    fn headers(&self, mut response: HttpResponseBuilder, etag: &EntityTag) -> HttpResponseBuilder {
        response
            .insert_header(ETag(etag.clone()))
            .insert_header(CacheControl(vec![CacheDirective::NoCache]));
        if let Some(at) = self.last_modified {
            response.insert_header(LastModified(at));
        }
        response
    }
}

/// The media type of JSON answers.
pub(crate) const JSON: &str = "application/json";

/// FNV-1a, 64 bits: a stable hash for the ETag (the same on every replica and build, unlike
/// std's).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;

    fn freshness(version: i64, epoch: i64, flavor: u64) -> Freshness {
        Freshness::new(
            &DataVersion {
                version,
                last_cycle_finished_at: None,
            },
            epoch,
            flavor,
        )
    }

    #[test]
    fn the_preferred_encoding_wins_and_identity_is_the_fallback() {
        for (accept, expected) in [
            (None, Encoding::Identity),
            (Some("gzip"), Encoding::Gzip),
            (Some("gzip;q=0.5, br"), Encoding::Brotli),
            (Some("zstd, gzip;q=0.1"), Encoding::Zstd),
            (Some("deflate"), Encoding::Deflate),
            (Some("compress"), Encoding::Identity),
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
    fn the_etag_changes_with_the_data_the_clock_the_replica_the_question_and_the_encoding() {
        let tag = |f: Freshness, what, enc| Validators::new(&f, what, enc).etag;
        let base = tag(freshness(7, 3, 1), "pnodes?limit=50", Encoding::Gzip);
        assert_eq!(
            base,
            tag(freshness(7, 3, 1), "pnodes?limit=50", Encoding::Gzip)
        );
        assert!(!base.weak);
        for other in [
            tag(freshness(8, 3, 1), "pnodes?limit=50", Encoding::Gzip),
            tag(freshness(7, 4, 1), "pnodes?limit=50", Encoding::Gzip),
            tag(freshness(7, 3, 2), "pnodes?limit=50", Encoding::Gzip),
            tag(freshness(7, 3, 1), "pnodes?limit=51", Encoding::Gzip),
            tag(freshness(7, 3, 1), "pnodes?limit=50", Encoding::Brotli),
        ] {
            assert_ne!(base, other);
        }
        assert!(freshness(8, 0, 1).stamp > freshness(7, 99, 1).stamp);
    }

    #[test]
    fn if_none_match_with_the_tag_or_a_star_for_what_exists_means_the_client_has_it() {
        let validators = Validators::new(&freshness(3, 0, 0), "status", Encoding::Identity);
        let tag = validators.etag.to_string();
        let weak = format!("W/{tag}");
        for (header, exists, has) in [
            (tag.as_str(), true, true),
            (weak.as_str(), false, true),
            ("\"other\"", true, false),
            ("*", true, true),
            ("*", false, false),
        ] {
            let req = TestRequest::default()
                .insert_header((header::IF_NONE_MATCH, header))
                .to_http_request();
            assert_eq!(validators.client_has_it(&req, exists), has, "{header}");
        }
    }
}

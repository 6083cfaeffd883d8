//! The answer pipeline: every read endpoint declares its answer once, as an [`Answer`] (the
//! question it answers, how long an answer stays valid, its media type), and this module does the
//! rest the same way for all of them: the validators (`ETag`, `Last-Modified`), the `304` for a
//! client that has the current answer, the view cache, compression, and the headers of its media
//! type. [`pnodes`] builds the `/api/pnodes` body (the network's or one seed's view, a page or
//! every node, JSON or CSV) for every route that serves it.

pub(crate) mod pnodes;

use actix_web::{
    HttpRequest, HttpResponse, HttpResponseBuilder,
    http::header::{self, CacheControl, CacheDirective},
    web::Bytes,
};

use crate::{
    view::ViewError,
    web::{
        error::ApiError,
        export::{self, Format},
        http::{self, Freshness, Validators},
        ratelimit,
        state::AppState,
    },
};

/// What an answer is made of, and so how long it stays valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Validity {
    /// The data alone: valid until the data version moves. Validated by it (`ETag`, `304`) and
    /// kept in the view cache per version.
    Data,
    /// The data and the clock (`creditDelta24h`, `isRunning`, "the last 24 hours"): as `Data`,
    /// and also new every collection interval.
    DataAndClock,
    /// The moment it is asked (a window that ends now): computed every time, no validator.
    Moment,
}

impl Validity {
    /// A history window: given by both ends, it is made of the data; one that ends now (a bound
    /// left out) is of the moment.
    pub(crate) fn of_window(fixed: bool) -> Self {
        if fixed { Self::Data } else { Self::Moment }
    }
}

/// The media type of an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Media {
    Json,
    /// RFC 4180 CSV, a download named `filename`.
    Csv {
        filename: &'static str,
    },
}

impl Media {
    fn content_type(self) -> &'static str {
        match self {
            Self::Json => http::JSON,
            Self::Csv { .. } => export::CONTENT_TYPE,
        }
    }
}

/// One read endpoint's answer to one question, declared; see the module documentation.
#[derive(Debug, Clone)]
pub(crate) struct Answer {
    /// The endpoint and its canonical query: the cache's key and part of the `ETag`.
    key: String,
    validity: Validity,
    media: Media,
    /// Whether the endpoint also offers the other media type, chosen by `Accept`.
    negotiated: bool,
    /// Whether there is an answer whatever the data (`If-None-Match: *` then matches it); not so
    /// for one node's, which is a 404 when no node has the pubkey.
    always_exists: bool,
}

/// What a request needs once its validators are known.
#[derive(Debug)]
pub(crate) enum Check {
    /// The client holds the current answer: this `304` says so.
    Current(HttpResponse),
    /// A body is needed, sent with these validators.
    Needed(Fresh),
}

/// The validators of an answer about to be computed, and the stamp of the data it is made of.
#[derive(Debug)]
pub(crate) struct Fresh {
    pub freshness: Freshness,
    pub validators: Validators,
}

impl Answer {
    /// A JSON answer to `key`, valid while the data version stays.
    pub(crate) fn json(key: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            validity: Validity::Data,
            media: Media::Json,
            negotiated: false,
            always_exists: true,
        }
    }

    /// The same answer, for something that may not exist (a node by pubkey).
    pub(crate) fn of_something_that_may_not_exist(self) -> Self {
        Self {
            always_exists: false,
            ..self
        }
    }

    /// The same answer, valid for as long as `validity` says.
    pub(crate) fn valid(self, validity: Validity) -> Self {
        Self { validity, ..self }
    }

    /// The same answer in the format the client chose among JSON and CSV (`filename`: the CSV's
    /// download name). Its key and `ETag` differ by format; both say `Vary: Accept`.
    pub(crate) fn in_format(self, format: Format, filename: &'static str) -> Self {
        let (key, media) = match format {
            Format::Json => (self.key, Media::Json),
            Format::Csv => (format!("{}&format=csv", self.key), Media::Csv { filename }),
        };
        Self {
            key,
            media,
            negotiated: true,
            ..self
        }
    }

    /// The media type the answer is written in.
    pub(crate) fn media(&self) -> Media {
        self.media
    }

    /// Reads the data version (one statement) and compares it with what the client holds.
    pub(crate) async fn check(
        &self,
        req: &HttpRequest,
        state: &AppState,
    ) -> Result<Check, ApiError> {
        let freshness = Freshness::read(state, self.validity == Validity::DataAndClock).await?;
        let validators = Validators::new(&freshness, &self.key, http::negotiate(req));
        if validators.client_has_it(req, self.always_exists) {
            state.cache.metrics().not_modified();
            return Ok(Check::Current(self.finish(validators.not_modified())));
        }
        // Not a 304: a revalidation pays its weight now, before anything is computed.
        ratelimit::settle(req)?;
        Ok(Check::Needed(Fresh {
            freshness,
            validators,
        }))
    }

    /// Answers with the body `compute` makes: a `304` when the client has the current answer,
    /// else from the view cache, where `compute` runs once for every request of the same stamp
    /// and encoding; an answer of the moment is computed every time.
    pub(crate) async fn serve<F>(
        self,
        req: &HttpRequest,
        state: &AppState,
        compute: F,
    ) -> Result<HttpResponse, ApiError>
    where
        F: Future<Output = Result<Bytes, ViewError>>,
    {
        if self.validity == Validity::Moment {
            ratelimit::settle(req)?;
            let mut response = HttpResponse::Ok();
            response.insert_header(CacheControl(vec![CacheDirective::NoCache]));
            let body = compute.await?;
            return Ok(self.finish(self.typed(response).body(body)));
        }
        let fresh = match self.check(req, state).await? {
            Check::Current(not_modified) => return Ok(not_modified),
            Check::Needed(fresh) => fresh,
        };
        self.cached(req, state, fresh, compute).await
    }

    /// The body `compute` makes at `fresh`'s stamp, through the view cache when it is on.
    pub(crate) async fn cached<F>(
        self,
        req: &HttpRequest,
        state: &AppState,
        fresh: Fresh,
        compute: F,
    ) -> Result<HttpResponse, ApiError>
    where
        F: Future<Output = Result<Bytes, ViewError>>,
    {
        if !state.cache.is_enabled() {
            let response = self
                .typed(fresh.validators.ok_to_compress())
                .body(compute.await?);
            return Ok(self.finish(response));
        }
        let encoding = http::negotiate(req);
        let stamp = fresh.freshness.stamp;
        let body = state
            .cache
            .body(stamp, self.key.clone(), encoding, compute)
            .await?;
        Ok(self.finish(self.typed(fresh.validators.ok()).body(body)))
    }

    /// `response` with this answer's media type (and, for CSV, its download name).
    pub(crate) fn typed(&self, mut response: HttpResponseBuilder) -> HttpResponseBuilder {
        response.content_type(self.media.content_type());
        if let Media::Csv { filename } = self.media {
            response.insert_header(export::disposition(filename));
        }
        response
    }

    /// The last touch on every response of the answer: an endpoint that offers JSON and CSV
    /// varies by `Accept` too (one `Vary` line: the CORS middleware keeps only the first and adds
    /// its own names to it).
    pub(crate) fn finish(&self, mut response: HttpResponse) -> HttpResponse {
        if self.negotiated {
            response.headers_mut().insert(
                header::VARY,
                header::HeaderValue::from_static("Accept-Encoding, Accept"),
            );
        }
        response
    }
}

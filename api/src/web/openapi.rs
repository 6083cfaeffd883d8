//! The OpenAPI 3.1 document: collected from the routes by utoipa-actix-web, with the title, the
//! shared components and the responses every operation shares declared here. `openapi.yaml` at
//! the repository root is this document.

use actix_web::App;
use utoipa::{
    Modify, OpenApi,
    openapi::{
        Content, ContentBuilder, HeaderBuilder, ObjectBuilder, Paths, PathsBuilder, Ref, RefOr,
        Required, ResponseBuilder, Type,
        path::{HttpMethod, Operation, OperationBuilder, ParameterBuilder, ParameterIn, PathItem},
        request_body::RequestBodyBuilder,
        response::Response,
    },
};
use utoipa_actix_web::AppExt;

use crate::{
    push::events::Event,
    view::{
        leaderboard::Metric,
        query::{Order, SortKey},
    },
    web::{error::ErrorBody, export::Format, routes},
};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "pnode-api",
        description = "What every Xandeum pNode looks like right now, and which seeds have seen it. \
            Every error is JSON `{\"error\": message, \"code\": snake_case_code}`.",
        license(name = "MIT", identifier = "MIT"),
    ),
    servers((url = "/", description = "This service, wherever the document is served from")),
    components(schemas(ErrorBody, SortKey, Order, Format, Metric, Event)),
    tags(
        (name = "collector", description = "What the collector did last"),
        (name = "events", description = "What changes, as it changes"),
        (name = "history", description = "A node over time"),
        (name = "network", description = "The network at a glance, now and cycle by cycle"),
        (name = "pnodes", description = "The global view: every node now, and who has seen it"),
        (name = "seeds", description = "The seeds, and the network as each saw it"),
        (name = "system", description = "Liveness, readiness and the service itself"),
    )
)]
struct ApiDoc;

/// Tags of the operations that read the database, and so answer 503 while it is unavailable.
const DATABASE_TAGS: [&str; 6] = [
    "pnodes",
    "collector",
    "events",
    "history",
    "network",
    "seeds",
];

/// The responses any operation can give, added to every operation: `4XX` (what the HTTP layer
/// refuses), `500`, `429` on those the rate limit counts (all but `/api/health` and `/metrics`),
/// and `503` on those that read the database.
struct SharedResponses;

impl Modify for SharedResponses {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        for (name, description) in [
            (
                "Refused",
                "The request cannot be served as sent: 400 for a request that is not HTTP/1.1 \
                 or whose head is too large, 404 for an unknown path, 405 (with `Allow`) for \
                 another method, 408 for a head that did not arrive in time, 413 or 431 for a \
                 request the server will not read",
            ),
            (
                "Internal",
                "An internal failure (logged; the message says no more)",
            ),
            (
                "Unavailable",
                "The database is unavailable (code `unavailable`), or, for a full view, the \
                 server is computing as many as it may (code `overloaded`); retry later (see \
                 `Retry-After`)",
            ),
        ] {
            components
                .responses
                .insert(name.to_owned(), RefOr::T(error_response(description)));
        }
        components
            .responses
            .insert("RateLimited".to_owned(), RefOr::T(rate_limited()));
        for (path, item) in &mut doc.paths.paths {
            let limited = !FREE_OF_THE_RATE_LIMIT.contains(&path.as_str());
            for operation in operations(item) {
                let reads_database = operation
                    .tags
                    .iter()
                    .flatten()
                    .any(|tag| DATABASE_TAGS.contains(&tag.as_str()));
                let responses = &mut operation.responses.responses;
                let shared = [("4XX", "Refused"), ("500", "Internal")]
                    .into_iter()
                    .chain(limited.then_some(("429", "RateLimited")))
                    .chain(reads_database.then_some(("503", "Unavailable")));
                for (status, response) in shared {
                    responses
                        .entry(status.to_owned())
                        .or_insert_with(|| RefOr::Ref(Ref::from_response_name(response)));
                }
            }
        }
    }
}

fn operations(item: &mut utoipa::openapi::PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        item.get.as_mut(),
        item.put.as_mut(),
        item.post.as_mut(),
        item.delete.as_mut(),
        item.patch.as_mut(),
        item.head.as_mut(),
        item.options.as_mut(),
    ]
    .into_iter()
    .flatten()
}

/// The paths the rate limit never counts.
const FREE_OF_THE_RATE_LIMIT: [&str; 2] = ["/api/health", "/metrics"];

/// `429`: the client's address is over `PNODE_RATE_LIMIT`, with when to come back.
fn rate_limited() -> Response {
    let seconds = |description: &str| {
        HeaderBuilder::new()
            .schema(Some(
                ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .minimum(Some(0)),
            ))
            .description(Some(description))
            .build()
    };
    ResponseBuilder::new()
        .description(
            "Too many requests from this client's address (code `rate_limited`): a full view or \
             a CSV export counts 10, a 304 nothing; retry after `Retry-After` seconds",
        )
        .header(
            "Retry-After",
            seconds("Seconds until the request would fit its budget"),
        )
        .header(
            "RateLimit-Limit",
            seconds("Requests the budget holds (PNODE_RATE_LIMIT)"),
        )
        .header(
            "RateLimit-Remaining",
            seconds("Requests left in the budget: 0"),
        )
        .header(
            "RateLimit-Reset",
            seconds("Seconds until the budget is full again"),
        )
        .content(
            "application/json",
            Content::new(Some(Ref::from_schema_name("ErrorBody"))),
        )
        .build()
}

fn error_response(description: &str) -> Response {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            Content::new(Some(Ref::from_schema_name("ErrorBody"))),
        )
        .build()
}

/// The document the running service serves at `/api/openapi.json`.
pub fn document() -> utoipa::openapi::OpenApi {
    let (_, mut doc) = App::new()
        .into_utoipa_app()
        .openapi(ApiDoc::openapi())
        .configure(routes::configure)
        .split_for_parts();
    // After the routes: the shared responses go on every operation they registered.
    SharedResponses.modify(&mut doc);
    // Every route is a public, read-only GET: no security scheme, said explicitly.
    doc.security = Some(Vec::new());
    doc.webhooks = Some(webhooks());
    doc
}

/// What the collecting replica POSTs to each URL of `PNODE_WEBHOOKS`: one event per call.
fn webhooks() -> Paths {
    let header = |name: &str, description: &str| {
        ParameterBuilder::new()
            .name(name)
            .parameter_in(ParameterIn::Header)
            .required(Required::False)
            .description(Some(description))
            .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
            .build()
    };
    let operation = OperationBuilder::new()
        .operation_id(Some("eventWebhook"))
        .tag("events")
        .summary(Some("An event, as `/api/events` streams it"))
        .description(Some(
            "POSTed by the collecting replica to each URL of `PNODE_WEBHOOKS` (all events, or the \
             kinds its rule names), once per event, with retries (`PNODE_WEBHOOK_RETRIES`, backoff \
             from `PNODE_WEBHOOK_BACKOFF` doubling) and a cooldown per rule, kind and node \
             (`PNODE_WEBHOOK_COOLDOWN`).",
        ))
        .parameter(header(
            "X-Pnode-Signature",
            "`sha256=` and the hex HMAC-SHA256 of `<X-Pnode-Timestamp>.<body>` with \
             `PNODE_WEBHOOK_SECRET` (absent without a secret)",
        ))
        .parameter(header(
            "X-Pnode-Timestamp",
            "When this attempt was made, in unix seconds (signed with the body; absent without a \
             secret)",
        ))
        .parameter(header("X-Pnode-Event", "The event's `kind`"))
        .parameter(header(
            "X-Pnode-Delivery",
            "The event's `id`: the same on every retry",
        ))
        .request_body(Some(
            RequestBodyBuilder::new()
                .content(
                    "application/json",
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("Event")))
                        .build(),
                )
                .required(Some(Required::True))
                .build(),
        ))
        .response(
            "2XX",
            Response::new(
                "Received. Any other status, or no answer within `PNODE_WEBHOOK_TIMEOUT`, is \
                 retried",
            ),
        )
        .build();
    PathsBuilder::new()
        .path("event", PathItem::new(HttpMethod::Post, operation))
        .build()
}

/// The document as the YAML committed at `openapi.yaml`. Plain scalars that look like times
/// (`2025-12-06T21:49:13Z`) are quoted: a YAML 1.1 reader (PyYAML, and others) would load them as
/// dates, not as the strings the service sends.
pub fn document_yaml() -> anyhow::Result<String> {
    let yaml = document().to_yaml()?;
    let quoted: Vec<String> = yaml.lines().map(quote_time).collect();
    Ok(quoted.join("\n") + "\n")
}

/// `line` with its plain scalar value quoted when the value is a time.
fn quote_time(line: &str) -> String {
    let split = line.find(": ").map(|colon| colon + 2).or_else(|| {
        line.trim_start()
            .starts_with("- ")
            .then(|| line.find("- ").map_or(0, |d| d + 2))
    });
    let Some(at) = split else {
        return line.to_owned();
    };
    let (key, value) = line.split_at(at);
    if looks_like_a_time(value) {
        format!("{key}'{value}'")
    } else {
        line.to_owned()
    }
}

/// A YAML 1.1 timestamp: `YYYY-MM-DD`, then optionally `T` or a space and a time.
fn looks_like_a_time(value: &str) -> bool {
    let bytes = value.as_bytes();
    let date = bytes.len() >= 10
        && bytes[..4].iter().all(u8::is_ascii_digit)
        && bytes[4] == b'-'
        && bytes[5..7].iter().all(u8::is_ascii_digit)
        && bytes[7] == b'-'
        && bytes[8..10].iter().all(u8::is_ascii_digit);
    date && (bytes.len() == 10 || matches!(bytes[10], b'T' | b't' | b' '))
}

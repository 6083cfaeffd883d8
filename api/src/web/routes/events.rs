//! `GET /api/events`: what changes, as it changes (server-sent events).

use std::sync::Arc;

use actix_web::{
    HttpRequest, HttpResponse, get,
    http::header::{self, CacheControl, CacheDirective},
    web::{self, Bytes},
};
use futures_util::stream::{self, StreamExt};
use tokio::sync::broadcast::error::RecvError;

use crate::{
    domain::{
        network::{self, Network},
        params::{self, InvalidParameter},
    },
    push::events::hub::{DropReason, EventHub, Frame, Replay, Subscription},
    web::{
        error::{ApiError, ErrorBody, Result},
        routes::networks::RawNetworks,
        state::AppState,
    },
};

/// Sent first: how long a client waits before reconnecting (ms).
const RETRY: &[u8] = b"retry: 3000\n\n";
/// A comment line: keeps proxies from closing a quiet stream.
const HEARTBEAT: &[u8] = b": heartbeat\n\n";

/// The events as they are written, on any replica: `cycle` when a collection cycle closes,
/// `node.appeared`, `node.disappeared`, `node.reachability`, `node.version`, `node.address`,
/// `credits` when a refresh changed something; with `network=`, those of the networks named only.
/// Each is `id: <n>`, `event: <kind>` and `data:`
/// the JSON of an `Event` (schema `Event`). A client reconnecting with `Last-Event-ID` is first sent what it
/// missed, or, when that is more than `PNODE_EVENTS_REPLAY` events or older than what is kept,
/// one `reset` event (fetch the state again). A comment line is sent every
/// `PNODE_EVENTS_HEARTBEAT`. A client too slow to keep up is disconnected.
#[utoipa::path(
    tag = "events",
    operation_id = "streamEvents",
    params(
        RawNetworks,
        ("Last-Event-ID" = Option<i64>, Header, nullable = false, description = "The id of the last \
            event received: the events after it are sent first (browsers send it when they \
            reconnect)", minimum = 0),
    ),
    responses(
        (status = 200, description = "A stream of server-sent events that does not end: `retry`, \
            then frames of `id`, `event` (the `kind`, or `reset`) and one `data` line holding an \
            `Event` (`#/components/schemas/Event`) as JSON, and `: heartbeat` comment lines",
            content((EventFrame = "text/event-stream",
                example = json!({"id": "42", "event": "node.reachability", "data": "{\"id\":42,\"at\":\"2025-12-06T21:49:20.120Z\",\"network\":\"mainnet\",\"kind\":\"node.reachability\",\"pubkey\":\"7T4zPNNDAT7rwkQ6Rf2QyMvLwowQ4KDSxKRXF9qEtYvR\",\"reachable\":false}"}))),
            headers(("Cache-Control" = String, description = "`no-cache`"))),
        (status = 400, description = "`Last-Event-ID` is not an event id, or `network` names a network this service does not know", body = ErrorBody),
        (status = 503, description = "`PNODE_EVENTS_MAX_CLIENTS` streams are open (code \
            `too_many_streams`), or the database is unavailable; retry later", body = ErrorBody),
    )
)]
// Not behind `outage::fail_fast`: a stream opened without `Last-Event-ID` runs no statement, so
// its 200 says nothing of the database (and must not end an outage).
#[get("/api/events")]
pub(crate) async fn stream_events(
    req: HttpRequest,
    state: web::Data<AppState>,
    networks: web::Query<RawNetworks>,
) -> Result<HttpResponse> {
    let last = last_event_id(&req)?;
    let networks: Option<Arc<[Network]>> = networks.selected(&state)?.map(Arc::from);
    let hub = Arc::clone(&state.events);
    if !hub.started(std::time::Duration::from_secs(5)).await {
        return Err(ApiError::Unavailable(
            "live events cannot be read from the database yet; retry later".to_owned(),
        ));
    }
    let subscription = hub.subscribe().ok_or_else(|| {
        ApiError::TooManyStreams(format!(
            "{} event streams are open, as many as this server allows; retry later",
            hub.settings().max_clients
        ))
    })?;
    let replay = match last {
        Some(last) => hub.replay(state.db.conn(), last).await?,
        None => Replay::Events(Vec::new()),
    };
    let (first, seen) = match replay {
        Replay::Events(frames) => {
            let seen = frames.last().map(|f| f.id).or(last).unwrap_or(0);
            (frames, seen)
        }
        Replay::Reset(frame) => {
            let seen = frame.id;
            (vec![frame], seen)
        }
    };
    let wanted = {
        let networks = networks.clone();
        move |frame: &Frame| wanted(networks.as_deref(), frame)
    };
    let head = stream::iter(
        std::iter::once(Bytes::from_static(RETRY))
            .chain(first.into_iter().filter(wanted).map(|frame| frame.bytes))
            .map(Ok::<_, ApiError>),
    );
    Ok(HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header(CacheControl(vec![CacheDirective::NoCache]))
        // Not compressed (a compressor would hold events back) and not buffered by proxies.
        .insert_header((header::CONTENT_ENCODING, "identity"))
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(head.chain(live(hub, subscription, seen, networks))))
}

/// Whether a stream of `networks` (`None`: all) is sent `frame`: a `reset` always is.
fn wanted(networks: Option<&[Network]>, frame: &Frame) -> bool {
    frame
        .network
        .as_deref()
        .is_none_or(|network| network::selected(networks, network))
}

/// `Last-Event-ID`, if sent: a non-negative integer.
fn last_event_id(req: &HttpRequest) -> Result<Option<i64>, InvalidParameter> {
    let Some(value) = req.headers().get("last-event-id") else {
        return Ok(None);
    };
    let text = value.to_str().unwrap_or("\u{0}");
    params::integer("Last-Event-ID", text.trim(), 0, i64::MAX as u64)
        .map(|id| Some(i64::try_from(id).unwrap_or(i64::MAX)))
}

/// One server-sent event as a client's parser sees it (each stream also starts with a `retry`
/// line and carries `: heartbeat` comments, which are not events).
#[derive(utoipa::ToSchema)]
#[expect(dead_code, reason = "documents the stream's frames; never built")]
struct EventFrame {
    /// The event's id (what `Last-Event-ID` names).
    id: String,
    /// Its `kind`, or `reset`.
    event: String,
    /// An `Event` (`#/components/schemas/Event`) as JSON; for `reset`, `{"id", "kind":"reset"}`.
    #[schema(content_media_type = "application/json")]
    data: String,
}

/// What the state of a live stream is: its place, the newest id it was sent, its heartbeat.
struct Live {
    hub: Arc<EventHub>,
    subscription: Subscription,
    seen: i64,
    heartbeat: tokio::time::Interval,
    /// The networks whose events it is sent (`None`: all).
    networks: Option<Arc<[Network]>>,
}

/// The frames after `seen` of `networks` as the hub broadcasts them, with heartbeats between;
/// ends when the client falls too far behind or the hub closes.
fn live(
    hub: Arc<EventHub>,
    subscription: Subscription,
    seen: i64,
    networks: Option<Arc<[Network]>>,
) -> impl futures_util::Stream<Item = Result<Bytes, ApiError>> {
    let period = hub.settings().heartbeat;
    let mut heartbeat = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let state = Live {
        hub,
        subscription,
        seen,
        heartbeat,
        networks,
    };
    stream::unfold(state, |mut state| async move {
        loop {
            let next = tokio::select! {
                received = state.subscription.receiver.recv() => match received {
                    Ok(frame) if frame.id <= state.seen => continue,
                    Ok(frame) if !wanted(state.networks.as_deref(), &frame) => {
                        state.seen = frame.id;
                        continue;
                    }
                    Ok(frame) => {
                        state.seen = frame.id;
                        state.heartbeat.reset();
                        Some(frame.bytes.clone())
                    }
                    Err(RecvError::Lagged(_)) => {
                        state.hub.dropped(DropReason::Lagged);
                        None
                    }
                    Err(RecvError::Closed) => {
                        state.hub.dropped(DropReason::Closed);
                        None
                    }
                },
                _ = state.heartbeat.tick() => Some(Bytes::from_static(HEARTBEAT)),
                _ = state.subscription.closing.wait_for(|closing| *closing) => {
                    state.hub.dropped(DropReason::Closed);
                    None
                }
            };
            return next.map(|bytes| (Ok(bytes), state));
        }
    })
}

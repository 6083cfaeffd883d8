//! Live events on every replica: one task polls the `events` table (one indexed statement per
//! `PNODE_EVENTS_POLL_INTERVAL`) and encodes each new event once, as a server-sent event frame
//! shared by every open stream through a bounded broadcast channel. Memory is flat in the number
//! of streams: a stream holds a receiver of that one channel, never a queue of its own; a stream
//! whose client reads too slowly to keep up falls [`LAG`] frames behind, is dropped, and counted.

use std::{
    sync::{
        Arc,
        atomic::{AtomicI64, Ordering},
    },
    time::Duration,
};

use actix_web::web::Bytes;
use prometheus_client::{
    encoding::{EncodeLabelSet, EncodeLabelValue},
    metrics::{counter::Counter, family::Family, gauge::Gauge},
    registry::Registry,
};
use sea_orm::{DatabaseConnection, DbErr};

use crate::db::{Database, settings::DatabaseSettings};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, broadcast, watch};

use super::{Event, bounds, rows_after};

/// Frames a stream may fall behind the newest before it is dropped: the broadcast channel's size.
pub const LAG: usize = 1024;
/// New events in one poll past which streams get a `reset` rather than each event.
pub const FLOOD: usize = LAG / 2;
/// Replays (reconnections with `Last-Event-ID`) read at once; more wait their turn.
const REPLAYS: usize = 4;

/// How the hub polls and streams.
#[derive(Debug, Clone, Copy)]
pub struct HubSettings {
    /// Between two reads of the `events` table.
    pub poll_interval: Duration,
    /// Between two comment lines on an otherwise quiet stream (proxies close idle ones).
    pub heartbeat: Duration,
    /// Streams open at once; more are answered 503.
    pub max_clients: usize,
    /// Most events replayed to a client reconnecting with `Last-Event-ID`; one that missed more
    /// gets a `reset` instead.
    pub replay: u64,
}

/// One event as a server-sent event frame: `id`, `event`, `data` and the blank line.
#[derive(Debug)]
pub struct Frame {
    pub id: i64,
    /// The network of its event; `None` for a `reset`, which every stream is sent.
    pub network: Option<Arc<str>>,
    pub bytes: Bytes,
}

impl Frame {
    pub fn of(event: &Event) -> Self {
        let data = serde_json::to_string(event).unwrap_or_default();
        Self {
            id: event.id,
            network: Some(Arc::from(event.network.as_str())),
            bytes: Bytes::from(format!(
                "id: {}\nevent: {}\ndata: {data}\n\n",
                event.id,
                event.change.kind()
            )),
        }
    }

    /// A `reset`: the client missed more than can be replayed and should fetch the state again.
    /// Its id is the newest event's, so that a reconnection after it continues from there.
    pub fn reset(newest: i64) -> Self {
        Self {
            id: newest,
            network: None,
            bytes: Bytes::from(format!(
                "id: {newest}\nevent: reset\ndata: {{\"id\":{newest},\"kind\":\"reset\"}}\n\n"
            )),
        }
    }
}

/// Why a stream ended before its client left.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelValue)]
pub enum DropReason {
    /// It fell [`LAG`] frames behind.
    Lagged,
    /// The server is shutting down.
    Closed,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DropLabels {
    reason: DropReason,
}

/// See the module documentation.
#[derive(Debug)]
pub struct EventHub {
    sender: broadcast::Sender<Arc<Frame>>,
    /// Turns true when the server shuts down: every stream ends.
    closing: watch::Sender<bool>,
    /// Turns true once the poller knows where the table ends: a stream opened before would miss
    /// what is written meanwhile, so streams wait for it.
    started: watch::Sender<bool>,
    /// The newest event broadcast (or found at start).
    newest: AtomicI64,
    streams: Arc<Semaphore>,
    /// Bounds the replays read at once (each holds up to `replay` frames while it is sent).
    replays: Semaphore,
    settings: HubSettings,
    open: Gauge,
    refused: Counter,
    dropped: Family<DropLabels, Counter>,
    broadcast: Counter,
}

/// An open stream's place: its receiver and its permit (given back when dropped).
#[derive(Debug)]
pub struct Subscription {
    pub receiver: broadcast::Receiver<Arc<Frame>>,
    /// Turns true when the server shuts down.
    pub closing: watch::Receiver<bool>,
    _permit: OwnedSemaphorePermit,
    open: Gauge,
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.open.dec();
    }
}

/// What a reconnecting client gets before the live events.
#[derive(Debug)]
pub enum Replay {
    /// The events it missed, oldest first.
    Events(Vec<Frame>),
    /// It missed more than is kept or replayed.
    Reset(Frame),
}

impl EventHub {
    pub fn new(settings: HubSettings) -> Self {
        let (sender, _) = broadcast::channel(LAG);
        Self {
            sender,
            closing: watch::Sender::new(false),
            started: watch::Sender::new(false),
            newest: AtomicI64::new(0),
            streams: Arc::new(Semaphore::new(settings.max_clients)),
            replays: Semaphore::new(REPLAYS),
            settings,
            open: Gauge::default(),
            refused: Counter::default(),
            dropped: Family::default(),
            broadcast: Counter::default(),
        }
    }

    pub fn settings(&self) -> HubSettings {
        self.settings
    }

    /// Registers its metrics (named under the prefix given, e.g. `pnode_events`).
    pub fn register(&self, registry: &mut Registry) {
        registry.register("streams_open", "Event streams open", self.open.clone());
        registry.register(
            "streams_refused",
            "Event streams refused (503) at PNODE_EVENTS_MAX_CLIENTS",
            self.refused.clone(),
        );
        registry.register(
            "streams_dropped",
            "Event streams ended by the server: a client too slow to keep up, or shutdown",
            self.dropped.clone(),
        );
        registry.register(
            "broadcast",
            "Events read from the database and sent to the open streams",
            self.broadcast.clone(),
        );
    }

    /// A place for one more stream, if the bound allows: subscribed before any replay is read,
    /// so that nothing written meanwhile is missed.
    pub fn subscribe(&self) -> Option<Subscription> {
        let Ok(permit) = Arc::clone(&self.streams).try_acquire_owned() else {
            self.refused.inc();
            return None;
        };
        self.open.inc();
        Some(Subscription {
            receiver: self.sender.subscribe(),
            closing: self.closing.subscribe(),
            _permit: permit,
            open: self.open.clone(),
        })
    }

    /// Waits (at most `wait`) until the poller knows where the table ends; false if it does not
    /// by then (the database cannot be read).
    pub async fn started(&self, wait: Duration) -> bool {
        let mut started = self.started.subscribe();
        tokio::time::timeout(wait, started.wait_for(|started| *started))
            .await
            .is_ok_and(|result| result.is_ok())
    }

    /// Ends every open stream (the server is shutting down: it would otherwise wait for them).
    pub fn close(&self) {
        self.closing.send_replace(true);
    }

    /// Counts a stream ended by the server.
    pub fn dropped(&self, reason: DropReason) {
        self.dropped.get_or_create(&DropLabels { reason }).inc();
    }

    /// What a client that last saw `last` missed: the events after it, or a reset when more
    /// than the replay bound were written since, or some were deleted by retention.
    pub async fn replay(&self, db: &DatabaseConnection, last: i64) -> Result<Replay, DbErr> {
        // Many clients reconnect at once after a restart: a few read at a time.
        let _turn = self.replays.acquire().await;
        let (newest, oldest) = bounds(db).await?;
        if last == newest {
            return Ok(Replay::Events(Vec::new()));
        }
        // An id from the future: the table was recreated or restored; start again.
        if last > newest {
            return Ok(Replay::Reset(Frame::reset(newest)));
        }
        let deleted = oldest.is_none_or(|oldest| oldest > last.saturating_add(1));
        let missed = rows_after(db, last, self.settings.replay.saturating_add(1)).await?;
        if deleted || missed.len() as u64 > self.settings.replay {
            return Ok(Replay::Reset(Frame::reset(newest)));
        }
        Ok(Replay::Events(
            missed
                .into_iter()
                .filter_map(Event::from_row)
                .map(|event| Frame::of(&event))
                .collect(),
        ))
    }

    /// Polls the table until `stop`, on a connection of its own to `database`, broadcasting what
    /// is new. Starts after the newest event stored (a stream is not sent what was written
    /// before it opened, unless it asks with `Last-Event-ID`). A failed connection or read is
    /// logged and tried again at the next tick.
    pub async fn run(self: Arc<Self>, database: DatabaseSettings, mut stop: watch::Receiver<bool>) {
        let mut ticks = tokio::time::interval(self.settings.poll_interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut started = false;
        let mut connection: Option<Database> = None;
        loop {
            tokio::select! {
                _ = ticks.tick() => {}
                _ = stop.changed() => break,
            }
            if *stop.borrow() {
                break;
            }
            let db = match &connection {
                Some(open) => open.conn().clone(),
                None => match Database::connect(&database).await {
                    Ok(open) => {
                        let db = open.conn().clone();
                        connection = Some(open);
                        db
                    }
                    Err(err) => {
                        tracing::warn!(error = %err, "cannot connect to read new events; trying again");
                        continue;
                    }
                },
            };
            let result = if started {
                self.poll(&db).await
            } else {
                bounds(&db).await.map(|(newest, _)| {
                    self.newest.store(newest, Ordering::Relaxed);
                    self.started.send_replace(true);
                    started = true;
                })
            };
            if let Err(err) = result {
                tracing::warn!(error = %err, "cannot read new events; trying again");
            }
        }
        if let Some(open) = connection {
            let _ = open.close().await;
        }
    }

    /// Broadcasts the events written since the last poll, 500 at a time.
    /// Broadcasts the events written since the last poll; more than [`FLOOD`] at once (a
    /// seed outage long enough for every node to disappear, say) would put every stream, fast or
    /// slow, [`LAG`] frames behind: they get one `reset` instead (fetch the state again).
    async fn poll(&self, db: &DatabaseConnection) -> Result<(), DbErr> {
        let newest = self.newest.load(Ordering::Relaxed);
        let rows = rows_after(db, newest, FLOOD as u64 + 1).await?;
        let Some(last) = rows.last().map(|row| row.id) else {
            return Ok(());
        };
        if rows.len() > FLOOD {
            let (newest, _) = bounds(db).await?;
            let _ = self.sender.send(Arc::new(Frame::reset(newest)));
            self.newest.store(newest, Ordering::Relaxed);
            return Ok(());
        }
        for event in rows.into_iter().filter_map(Event::from_row) {
            // No stream open is not an error.
            let _ = self.sender.send(Arc::new(Frame::of(&event)));
            self.broadcast.inc();
        }
        self.newest.store(last, Ordering::Relaxed);
        Ok(())
    }
}

//! Waiting for the operator to ask the process to stop.

use std::future::Future;

use tokio::signal::unix::{SignalKind, signal};

/// Starts listening for SIGINT and SIGTERM; the future resolves, with the signal's name, on the
/// first of them. Both mean "stop gracefully": actix would treat SIGINT as a forced stop, so its
/// own signal handling is disabled and this is used instead.
pub fn listen() -> std::io::Result<impl Future<Output = &'static str>> {
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = int.recv() => "SIGINT",
        }
    })
}

//! Structured logging: one subscriber for the process, text or JSON.

use std::io::IsTerminal;

use tracing_subscriber::{EnvFilter, fmt, fmt::format::FmtSpan};

use crate::{
    app::config::{LogFormat, LogSettings},
    observe::redact::Redacting,
};

/// Installs the global tracing subscriber. Call once, at start-up.
pub fn init(settings: &LogSettings) -> anyhow::Result<()> {
    let filter = EnvFilter::try_new(&settings.filter).map_err(|err| {
        anyhow::anyhow!(
            "RUST_LOG={:?} is not a valid filter: {err}",
            settings.filter
        )
    })?;
    // A span's close line carries its fields and timing: for tracing-actix-web's request span that
    // is the per-request log line (method, route, status, request id, time taken). The service's
    // own spans are at debug level, so at info only requests close with a line. Colours only on a
    // terminal: a log file or collector gets plain text. No line carries a URL's password.
    let builder = fmt()
        .with_env_filter(filter)
        .with_span_events(FmtSpan::CLOSE)
        .with_ansi(std::io::stdout().is_terminal())
        .with_writer(|| Redacting(std::io::stdout()));
    let installed = match settings.format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
    installed.map_err(|err| anyhow::anyhow!("cannot install the log subscriber: {err}"))
}

//! What every connection's bytes pass through on their way out:
//! - a client that accepts none of them for the write timeout is dropped, and with it the answer
//!   it was being sent (a client that stops reading must not hold a body, a worker's attention
//!   and a connection for ever);
//! - the few answers actix-http writes by itself, outside the app, get the JSON body every other
//!   error has: 400 for a request it cannot parse, 408 for a request head that does not arrive in
//!   time, 431 for a head too large, 500 for a connection it cannot go on with. It writes them
//!   with an empty body; they are recognised by their status and that empty body (the app's own
//!   errors always have a JSON one), and only when they are the whole of what is being written:
//!   each is the last thing said on its connection.

use std::{
    future::Future,
    io,
    pin::Pin,
    task::{Context, Poll, ready},
    time::Duration,
};

use prometheus_client::{
    encoding::EncodeLabelSet,
    metrics::{counter::Counter, family::Family},
    registry::Registry,
};
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    time::Sleep,
};

/// Counters of what the guard did, shared by every connection.
#[derive(Debug, Clone, Default)]
pub(crate) struct ConnectionMetrics {
    protocol_errors: Family<StatusLabel, Counter>,
    write_timeouts: Counter,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatusLabel {
    /// One of [`ProtocolError`]'s statuses: a closed set.
    status: u16,
}

impl ConnectionMetrics {
    /// Registers the counters (named under the HTTP metrics' prefix).
    pub(crate) fn register(&self, registry: &mut Registry) {
        registry.register(
            "http_protocol_errors",
            "Requests answered by the HTTP layer itself (unparsable, too slow, head too large), by status",
            self.protocol_errors.clone(),
        );
        registry.register(
            "http_write_timeouts",
            "Connections dropped because the client accepted no bytes within the write timeout",
            self.write_timeouts.clone(),
        );
    }
}

/// A connection whose writes are timed and whose protocol errors are given bodies.
#[derive(Debug)]
pub(crate) struct Guarded<T> {
    io: T,
    write_timeout: Duration,
    /// Running while a write waits for the client to accept bytes.
    stalled: Option<Pin<Box<Sleep>>>,
    /// A protocol error being written in place of the bodiless one actix-http gave.
    rewritten: Option<Rewritten>,
    metrics: ConnectionMetrics,
}

#[derive(Debug)]
struct Rewritten {
    bytes: Vec<u8>,
    written: usize,
    /// How many bytes of actix-http's own answer it stands for.
    replaces: usize,
}

impl<T> Guarded<T> {
    pub(crate) fn new(io: T, write_timeout: Duration, metrics: ConnectionMetrics) -> Self {
        Self {
            io,
            write_timeout,
            stalled: None,
            rewritten: None,
            metrics,
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Guarded<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Guarded<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let Self {
            io,
            write_timeout,
            stalled,
            rewritten,
            metrics,
        } = self.get_mut();
        let mut timed = Timed {
            io,
            timeout: *write_timeout,
            stalled,
            metrics,
        };
        if rewritten.is_none()
            && let Some(error) = ProtocolError::written_in(buf)
        {
            metrics
                .protocol_errors
                .get_or_create(&StatusLabel {
                    status: error.status,
                })
                .inc();
            *rewritten = Some(Rewritten {
                bytes: error.with_json_body(buf),
                written: 0,
                replaces: buf.len(),
            });
        }
        let Some(answer) = rewritten else {
            return timed.poll_write(cx, buf);
        };
        while answer.written < answer.bytes.len() {
            let n = ready!(timed.poll_write(cx, &answer.bytes[answer.written..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            answer.written += n;
        }
        let replaces = answer.replaces;
        *rewritten = None;
        Poll::Ready(Ok(replaces))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

/// A write that fails once the client has accepted nothing for `timeout`.
struct Timed<'a, T> {
    io: &'a mut T,
    timeout: Duration,
    stalled: &'a mut Option<Pin<Box<Sleep>>>,
    metrics: &'a ConnectionMetrics,
}

impl<T: AsyncWrite + Unpin> Timed<'_, T> {
    fn poll_write(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        if let Poll::Ready(written) = Pin::new(&mut *self.io).poll_write(cx, buf) {
            *self.stalled = None;
            return Poll::Ready(written);
        }
        let timeout = self.timeout;
        let timer = self
            .stalled
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
        if timer.as_mut().poll(cx).is_pending() {
            return Poll::Pending;
        }
        *self.stalled = None;
        self.metrics.write_timeouts.inc();
        Poll::Ready(Err(io::Error::new(
            io::ErrorKind::TimedOut,
            format!("the client accepted no bytes for {timeout:?} (the write timeout)"),
        )))
    }
}

/// An answer actix-http wrote by itself, without a body.
#[derive(Debug, PartialEq, Eq)]
struct ProtocolError {
    status: u16,
}

impl ProtocolError {
    /// The protocol error `buf` is, if it is exactly one: a whole response head with one of the
    /// statuses actix-http answers by itself, `content-length: 0`, and nothing after it.
    fn written_in(buf: &[u8]) -> Option<Self> {
        let mut headers = [httparse::EMPTY_HEADER; 16];
        let mut response = httparse::Response::new(&mut headers);
        let httparse::Status::Complete(head) = response.parse(buf).ok()? else {
            return None;
        };
        let status = response.code?;
        let empty = response
            .headers
            .iter()
            .any(|h| h.name.eq_ignore_ascii_case("content-length") && h.value == b"0");
        (head == buf.len() && empty && Self::describe(status).is_some()).then_some(Self { status })
    }

    /// The body's message and code for each status actix-http answers by itself.
    fn describe(status: u16) -> Option<(&'static str, &'static str)> {
        Some(match status {
            400 => (
                "the request could not be read as HTTP/1.1 (malformed, or its head too large)",
                "bad_request",
            ),
            408 => (
                "the request's head did not arrive in time",
                "request_timeout",
            ),
            431 => (
                "the request's head (request line and headers) is larger than the server accepts",
                "request_header_fields_too_large",
            ),
            500 => ("internal error", "internal"),
            _ => return None,
        })
    }

    /// `head` (actix-http's answer, which [`Self::written_in`] accepted) with a JSON body: the
    /// same status line and headers, its own `content-type`, `content-length` and `nosniff`.
    fn with_json_body(&self, head: &[u8]) -> Vec<u8> {
        let (error, code) = Self::describe(self.status).unwrap_or(("internal error", "internal"));
        // The shape of `error::ErrorBody`, written here so that this module needs no other.
        let body = serde_json::json!({ "error": error, "code": code }).to_string();
        let mut out = Vec::with_capacity(head.len() + body.len() + 96);
        let mut lines = head.split(|&b| b == b'\n');
        if let Some(status_line) = lines.next() {
            out.extend_from_slice(status_line);
            out.push(b'\n');
        }
        for line in lines {
            let name = line.split(|&b| b == b':').next().unwrap_or_default();
            let ours = ["content-length", "content-type", "x-content-type-options"]
                .iter()
                .any(|own| name.eq_ignore_ascii_case(own.as_bytes()));
            if line.trim_ascii().is_empty() || ours {
                continue;
            }
            out.extend_from_slice(line);
            out.push(b'\n');
        }
        out.extend_from_slice(
            format!(
                "content-type: application/json\r\nx-content-type-options: nosniff\r\n\
                 content-length: {}\r\n\r\n",
                body.len()
            )
            .as_bytes(),
        );
        out.extend_from_slice(body.as_bytes());
        out
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt, duplex};

    use super::*;

    const ACTIX_400: &[u8] =
        b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\
        date: Sat, 28 Nov 2026 07:00:00 GMT\r\n\r\n";

    fn split(response: &[u8]) -> (String, serde_json::Value) {
        let text = String::from_utf8(response.to_vec()).expect("utf-8");
        let (head, body) = text.split_once("\r\n\r\n").expect("a head");
        (head.to_owned(), serde_json::from_str(body).expect("JSON"))
    }

    #[test]
    fn actix_https_bodiless_errors_are_recognised_and_nothing_else() {
        assert_eq!(
            ProtocolError::written_in(ACTIX_400),
            Some(ProtocolError { status: 400 })
        );
        let timeout = b"HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\n\r\n";
        assert!(ProtocolError::written_in(timeout).is_some());
        for other in [
            // The app's own errors have a body.
            &b"HTTP/1.1 400 Bad Request\r\ncontent-length: 52\r\n\r\n{}"[..],
            // A head followed by more (a body, another answer) is not one protocol error.
            &[ACTIX_400, b"HTTP/1.1 200 OK\r\n"].concat(),
            // An empty success, a 304, or an empty 404 are not protocol errors.
            b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n",
            b"HTTP/1.1 304 Not Modified\r\ncontent-length: 0\r\n\r\n",
            b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n",
            // Part of a head, or body bytes.
            b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n",
            b"{\"error\":\"x\"}",
        ] {
            assert_eq!(
                ProtocolError::written_in(other),
                None,
                "{}",
                String::from_utf8_lossy(other)
            );
        }
    }

    #[test]
    fn the_rewritten_answer_keeps_the_status_and_headers_and_gets_a_json_body() {
        let rewritten = ProtocolError { status: 400 }.with_json_body(ACTIX_400);
        let (head, body) = split(&rewritten);
        assert!(head.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{head}");
        assert!(head.contains("connection: close"), "{head}");
        assert!(head.contains("date: Sat, 28 Nov 2026"), "{head}");
        assert!(head.contains("content-type: application/json"), "{head}");
        assert!(head.contains("x-content-type-options: nosniff"), "{head}");
        assert!(!head.contains("content-length: 0"), "{head}");
        assert_eq!(body["code"], "bad_request");
        let length = rewritten.len() - head.len() - 4;
        assert!(
            head.contains(&format!("content-length: {length}")),
            "{head}"
        );
    }

    #[tokio::test]
    async fn a_protocol_error_is_sent_whole_and_counted_as_the_bytes_it_replaces() {
        // A pipe smaller than the answer: the rewritten answer goes out over several writes.
        let (client, server) = duplex(16);
        let metrics = ConnectionMetrics::default();
        let mut guarded = Guarded::new(server, Duration::from_secs(5), metrics.clone());
        let reader = tokio::spawn(async move {
            let mut client = client;
            let mut received = Vec::new();
            client.read_to_end(&mut received).await.expect("read");
            received
        });
        let written = guarded.write(ACTIX_400).await.expect("write");
        assert_eq!(written, ACTIX_400.len());
        guarded.shutdown().await.expect("shutdown");
        drop(guarded);
        let (_, body) = split(&reader.await.expect("reader"));
        assert_eq!(body["code"], "bad_request");
        let counted = metrics
            .protocol_errors
            .get_or_create(&StatusLabel { status: 400 })
            .get();
        assert_eq!(counted, 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_client_that_reads_nothing_is_dropped_after_the_write_timeout() {
        let (_client, server) = duplex(8);
        let metrics = ConnectionMetrics::default();
        let mut guarded = Guarded::new(server, Duration::from_secs(3), metrics.clone());
        let err = guarded
            .write_all(&[b'x'; 64])
            .await
            .expect_err("the client never reads");
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert_eq!(metrics.write_timeouts.get(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_slow_reader_that_keeps_reading_is_not_dropped() {
        let (mut client, server) = duplex(8);
        let mut guarded =
            Guarded::new(server, Duration::from_secs(3), ConnectionMetrics::default());
        let reader = tokio::spawn(async move {
            let mut received = Vec::new();
            let mut chunk = [0; 8];
            while received.len() < 64 {
                tokio::time::sleep(Duration::from_secs(2)).await;
                let n = client.read(&mut chunk).await.expect("read");
                received.extend_from_slice(&chunk[..n]);
            }
            received.len()
        });
        guarded
            .write_all(&[b'x'; 64])
            .await
            .expect("2 s between reads is within a 3 s write timeout");
        assert_eq!(reader.await.expect("reader"), 64);
    }
}

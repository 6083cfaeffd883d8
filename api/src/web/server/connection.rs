//! What every connection's bytes pass through:
//! - a connection past the process's cap (`PNODE_HTTP_MAX_CONNECTIONS`) is answered 503 and
//!   closed before anything of it is read;
//! - a request head (request line and headers) larger than [`MAX_HEAD_BYTES`] is answered 431
//!   and its connection closed, before more of it is buffered (a client that sends an endless
//!   head must not hold more than that). Every byte read counts toward the head it belongs to,
//!   pipelined ones included: the bytes after a head's end begin the next. So a request body
//!   counts too: this API's requests have none, and one past the bound without a blank line in it
//!   would be refused;
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
    metrics::{counter::Counter, family::Family, gauge::Gauge},
    registry::Registry,
};
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    sync::OwnedSemaphorePermit,
    time::Sleep,
};

/// The largest request head taken: far above any real client's (a browser sends 1-2 KiB).
pub(crate) const MAX_HEAD_BYTES: usize = 16 * 1024;

/// Counters of what the guard did, shared by every connection.
#[derive(Debug, Clone, Default)]
pub(crate) struct ConnectionMetrics {
    protocol_errors: Family<StatusLabel, Counter>,
    write_timeouts: Counter,
    refused: Counter,
    open: Gauge,
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
        registry.register(
            "http_connections_open",
            "Connections open now (under PNODE_HTTP_MAX_CONNECTIONS)",
            self.open.clone(),
        );
        registry.register(
            "http_connections_refused",
            "Connections answered 503 and closed: as many were open as PNODE_HTTP_MAX_CONNECTIONS allows",
            self.refused.clone(),
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
    /// The request head being read.
    head: HeadWatch,
    /// The guard's own answer (431, or 503 past the cap) being written; the connection ends
    /// after it.
    refusal: Option<Rewritten>,
    /// After the guard's own answer: what the client still sends, read and dropped.
    drain: Option<Drain>,
    /// The connection's place under the process's cap, given back when it closes.
    permit: Option<OwnedSemaphorePermit>,
}

impl<T> Drop for Guarded<T> {
    fn drop(&mut self) {
        if self.permit.is_some() {
            self.metrics.open.dec();
        }
    }
}

/// Where a request head's end is, as its bytes arrive.
#[derive(Debug, Default)]
struct HeadWatch {
    seen: usize,
    /// The last four bytes, to find `\r\n\r\n` across reads.
    last: u32,
}

/// What the bytes read say of the head.
#[derive(Debug, PartialEq, Eq)]
enum Head {
    Reading,
    TooLarge,
}

impl HeadWatch {
    /// Counts `bytes`: a head that ends among them (`\r\n\r\n`, or a bare `\n\n`, which
    /// parsers accept too) starts the count of the next one at the byte after it.
    fn watch(&mut self, bytes: &[u8], max: usize) -> Head {
        for &byte in bytes {
            self.seen += 1;
            if self.seen > max {
                return Head::TooLarge;
            }
            self.last = (self.last << 8) | u32::from(byte);
            if self.last == u32::from_be_bytes(*b"\r\n\r\n") || self.last & 0xffff == 0x0a0a {
                *self = Self::default();
            }
        }
        Head::Reading
    }
}

#[derive(Debug)]
struct Rewritten {
    bytes: Vec<u8>,
    written: usize,
    /// How many bytes of actix-http's own answer it stands for.
    replaces: usize,
}

impl<T> Guarded<T> {
    /// A connection allowed under the cap (`permit`), or, without one, refused with a 503.
    pub(crate) fn new(
        io: T,
        write_timeout: Duration,
        metrics: ConnectionMetrics,
        permit: Option<OwnedSemaphorePermit>,
    ) -> Self {
        let refusal = permit.is_none().then(|| {
            metrics.refused.inc();
            Rewritten::answer(
                "503 Service Unavailable",
                "the server has as many connections open as it allows; retry later",
                "too_many_connections",
            )
        });
        if permit.is_some() {
            metrics.open.inc();
        }
        Self {
            io,
            write_timeout,
            stalled: None,
            rewritten: None,
            metrics,
            head: HeadWatch::default(),
            refusal,
            drain: None,
            permit,
        }
    }
}

impl Rewritten {
    /// A whole answer of the guard's own, closing its connection, with the JSON error body.
    fn answer(status: &str, error: &str, code: &str) -> Self {
        let body = error_body(error, code);
        let bytes = format!(
            "HTTP/1.1 {status}\r\ncontent-type: application/json\r\n\
             x-content-type-options: nosniff\r\nconnection: close\r\n\
             content-length: {}\r\n\r\n{body}",
            body.len()
        );
        Self {
            bytes: bytes.into_bytes(),
            written: 0,
            replaces: 0,
        }
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin> Guarded<T> {
    /// Writes the guard's own answer, then says the connection is at its end (EOF to actix).
    fn poll_refusal(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let Self {
            io,
            write_timeout,
            stalled,
            metrics,
            refusal,
            drain,
            ..
        } = self;
        if let Some(answer) = refusal {
            let mut timed = Timed {
                io,
                timeout: *write_timeout,
                stalled,
                metrics,
            };
            while answer.written < answer.bytes.len() {
                let n = ready!(timed.poll_write(cx, &answer.bytes[answer.written..]))?;
                if n == 0 {
                    return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
                }
                answer.written += n;
            }
            ready!(Pin::new(&mut *io).poll_flush(cx))?;
            // Said: the client is told no more comes (FIN), and what it still sends is read and
            // dropped for a little while, so that the kernel does not reset the connection (and
            // lose the answer) over unread bytes.
            ready!(Pin::new(&mut *io).poll_shutdown(cx))?;
            *refusal = None;
            *drain = Some(Drain {
                left: DRAIN_BYTES,
                until: Box::pin(tokio::time::sleep(DRAIN_FOR)),
            });
        }
        if let Some(draining) = drain {
            let mut scratch = [0_u8; 4096];
            while draining.left > 0 && draining.until.as_mut().poll(cx).is_pending() {
                let mut buf = ReadBuf::new(&mut scratch);
                match Pin::new(&mut *io).poll_read(cx, &mut buf) {
                    Poll::Ready(Ok(())) if buf.filled().is_empty() => break,
                    Poll::Ready(Ok(())) => {
                        draining.left = draining.left.saturating_sub(buf.filled().len());
                    }
                    Poll::Ready(Err(_)) => break,
                    Poll::Pending => return Poll::Pending,
                }
            }
            draining.left = 0;
        }
        Poll::Ready(Ok(()))
    }
}

/// What the guard reads and drops after its own answer, at most.
const DRAIN_BYTES: usize = 256 * 1024;
const DRAIN_FOR: Duration = Duration::from_secs(1);

/// Reading and dropping what a refused client still sends.
#[derive(Debug)]
struct Drain {
    left: usize,
    until: Pin<Box<Sleep>>,
}

impl<T: AsyncRead + AsyncWrite + Unpin> AsyncRead for Guarded<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.refusal.is_some() || this.drain.is_some() {
            return this.poll_refusal(cx);
        }
        let before = buf.filled().len();
        ready!(Pin::new(&mut this.io).poll_read(cx, buf))?;
        match this.head.watch(&buf.filled()[before..], MAX_HEAD_BYTES) {
            Head::Reading => {}
            Head::TooLarge => {
                // Nothing more of it reaches actix: the guard answers, and the connection ends.
                buf.set_filled(before);
                this.metrics
                    .protocol_errors
                    .get_or_create(&StatusLabel { status: 431 })
                    .inc();
                this.refusal = Some(Rewritten::answer(
                    "431 Request Header Fields Too Large",
                    &format!(
                        "the request's head (request line and headers) is larger than the {} KiB the server accepts",
                        MAX_HEAD_BYTES / 1024
                    ),
                    "request_header_fields_too_large",
                ));
                return this.poll_refusal(cx);
            }
        }
        Poll::Ready(Ok(()))
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
            ..
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

/// `{"error": …, "code": …}`: the shape of `error::ErrorBody`, written here so that this module
/// needs no other.
fn error_body(error: &str, code: &str) -> String {
    serde_json::json!({ "error": error, "code": code }).to_string()
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
        let body = error_body(error, code);
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

    /// Bytes the guard passes on until it says the connection ends.
    async fn read_to_eof<T: AsyncRead + AsyncWrite + Unpin>(guarded: &mut Guarded<T>) -> usize {
        let mut passed = 0;
        let mut chunk = [0_u8; 4096];
        loop {
            let n = guarded.read(&mut chunk).await.expect("read");
            if n == 0 {
                return passed;
            }
            passed += n;
        }
    }

    /// A place under a cap of one, for a connection the tests let in.
    fn place() -> Option<OwnedSemaphorePermit> {
        std::sync::Arc::new(tokio::sync::Semaphore::new(1))
            .try_acquire_owned()
            .ok()
    }

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
        let mut guarded = Guarded::new(server, Duration::from_secs(5), metrics.clone(), place());
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
        let mut guarded = Guarded::new(server, Duration::from_secs(3), metrics.clone(), place());
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
        let mut guarded = Guarded::new(
            server,
            Duration::from_secs(3),
            ConnectionMetrics::default(),
            place(),
        );
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

    #[tokio::test]
    async fn a_head_past_the_bound_is_answered_431_and_the_connection_ends() {
        let (mut client, server) = duplex(64 * 1024);
        let metrics = ConnectionMetrics::default();
        let mut guarded = Guarded::new(server, Duration::from_secs(3), metrics.clone(), place());
        let mut head = b"GET / HTTP/1.1\r\nHost: x\r\nX-Pad: ".to_vec();
        head.resize(MAX_HEAD_BYTES + 100, b'a');
        client.write_all(&head).await.expect("send");
        let passed = read_to_eof(&mut guarded).await;
        assert!(passed <= MAX_HEAD_BYTES, "{passed} bytes passed on");
        let mut answer = vec![0_u8; 1024];
        let n = client.read(&mut answer).await.expect("the answer");
        let (head, body) = split(&answer[..n]);
        assert!(head.starts_with("HTTP/1.1 431 "), "{head}");
        assert_eq!(body["code"], "request_header_fields_too_large");
    }

    #[tokio::test]
    async fn heads_within_the_bound_pass_one_after_another() {
        let (mut client, server) = duplex(64 * 1024);
        let mut guarded = Guarded::new(
            server,
            Duration::from_secs(3),
            ConnectionMetrics::default(),
            place(),
        );
        let mut head = b"GET / HTTP/1.1\r\nX-Pad: ".to_vec();
        head.resize(MAX_HEAD_BYTES - 10, b'a');
        head.extend_from_slice(b"\r\n\r\n");
        for _ in 0..3 {
            client.write_all(&head).await.expect("send");
            let mut got = vec![0_u8; head.len()];
            guarded.read_exact(&mut got).await.expect("the whole head");
            assert_eq!(got, head);
            // The answer: the next head is watched from its first byte.
            guarded
                .write_all(b"HTTP/1.1 204 No Content\r\n\r\n")
                .await
                .expect("answer");
        }
    }

    #[tokio::test]
    async fn a_connection_past_the_cap_is_answered_503_and_nothing_is_read() {
        let (mut client, server) = duplex(4096);
        let metrics = ConnectionMetrics::default();
        let mut guarded = Guarded::new(server, Duration::from_secs(3), metrics.clone(), None);
        client
            .write_all(b"GET / HTTP/1.1\r\n\r\n")
            .await
            .expect("send");
        let mut chunk = [0_u8; 64];
        assert_eq!(guarded.read(&mut chunk).await.expect("EOF"), 0);
        let mut answer = vec![0_u8; 1024];
        let n = client.read(&mut answer).await.expect("the answer");
        let (head, body) = split(&answer[..n]);
        assert!(head.starts_with("HTTP/1.1 503 "), "{head}");
        assert_eq!(body["code"], "too_many_connections");
        assert_eq!(metrics.refused.get(), 1);
    }

    #[tokio::test]
    async fn a_pipelined_head_past_the_bound_is_refused_as_a_first_one_is() {
        let (mut client, server) = duplex(64 * 1024);
        let mut guarded = Guarded::new(
            server,
            Duration::from_secs(3),
            ConnectionMetrics::default(),
            place(),
        );
        // A small head, then in the same write the start of a second one past the bound.
        let mut bytes = b"GET / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nX-Pad: ".to_vec();
        bytes.resize(MAX_HEAD_BYTES + 2048, b'a');
        client.write_all(&bytes).await.expect("send");
        let passed = read_to_eof(&mut guarded).await;
        assert!(passed <= MAX_HEAD_BYTES + 64, "{passed} bytes passed on");
        let mut answer = vec![0_u8; 1024];
        let n = client.read(&mut answer).await.expect("the answer");
        assert!(answer[..n].starts_with(b"HTTP/1.1 431 "));
    }

    #[test]
    fn a_bare_blank_line_ends_a_head_too() {
        let mut watch = HeadWatch::default();
        let head = b"GET / HTTP/1.1\nHost: x\n\n";
        for _ in 0..(2 * MAX_HEAD_BYTES / head.len()) {
            assert_eq!(watch.watch(head, MAX_HEAD_BYTES), Head::Reading);
        }
    }
}

//! Webhooks to a receiver on loopback, driven by real cycles of the collector: a node turning
//! unreachable is delivered once, signed, retried after a 500; flapping within the cooldown is
//! silenced, and a change still standing when it ends is sent then; a receiver that never answers
//! does not hold the cycles.

use std::{
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use hmac::{Hmac, KeyInit, Mac};
use pnode_api::{
    net::http::Outbound,
    push::{
        settings::WebhookSettings,
        webhooks::{self, AttemptResult, Outcome, WebhookMetrics},
    },
};
use pnode_tools::sim::{PodFault, SimConfig};
use serde_json::Value;
use sha2::Sha256;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
};

use crate::{
    collecting::Rig,
    helpers::{Backend, wait_until},
    tls::{TestCa, TlsFront, backend_of},
};

on_both_backends!(
    a_node_turning_unreachable_is_delivered_once_signed_retried_and_cooled_down,
    a_receiver_that_never_answers_does_not_hold_the_cycles,
    the_readme_example_delivers_over_https,
);

const SECRET: &str = "s3cret";
/// Long enough for two cycles of the simulated network on a loaded machine.
const COOLDOWN: Duration = Duration::from_secs(6);

/// A request as the receiver got it.
#[derive(Debug, Clone)]
struct Received {
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Received {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }
}

/// An HTTP receiver on loopback: answers the statuses of `script` in turn, then 200; with an
/// empty script and `silent`, accepts and never answers.
#[derive(Clone)]
struct Receiver {
    url: String,
    got: Arc<Mutex<Vec<Received>>>,
    accepted: Arc<std::sync::atomic::AtomicUsize>,
}

impl Receiver {
    async fn start(script: Vec<u16>, silent: bool) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
        let got = Arc::new(Mutex::new(Vec::new()));
        let script = Arc::new(Mutex::new(script.into_iter()));
        let seen = Arc::clone(&got);
        let accepted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = Arc::clone(&accepted);
        tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((socket, _)) = listener.accept().await {
                counted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if silent {
                    // Keep it open, say nothing.
                    held.push(socket);
                    continue;
                }
                let (seen, script) = (Arc::clone(&seen), Arc::clone(&script));
                tokio::spawn(async move {
                    let status = script
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .next()
                        .unwrap_or(200);
                    read_request(socket, status, &seen).await;
                });
            }
        });
        Self { url, got, accepted }
    }

    fn accepted(&self) -> usize {
        self.accepted.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn got(&self) -> Vec<Received> {
        self.got
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// Reads one request (head and `Content-Length` body), records it in `seen`, then answers
/// `status` (recorded first, so that whoever sees the answer finds the request recorded).
async fn read_request(
    mut socket: TcpStream,
    status: u16,
    seen: &Mutex<Vec<Received>>,
) -> Option<()> {
    let mut buffer = Vec::new();
    let mut chunk = [0_u8; 4096];
    let head_end = loop {
        if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break end;
        }
        let read = socket.read(&mut chunk).await.ok()?;
        if read == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..read]);
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).into_owned();
    let headers: Vec<(String, String)> = head
        .lines()
        .skip(1)
        .filter_map(|line| line.split_once(':'))
        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = buffer[head_end + 4..].to_vec();
    while body.len() < length {
        let read = socket.read(&mut chunk).await.ok()?;
        if read == 0 {
            return None;
        }
        body.extend_from_slice(&chunk[..read]);
    }
    seen.lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(Received { headers, body });
    let answer = format!("HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
    socket.write_all(answer.as_bytes()).await.ok()
}

/// The rig's collector sending to `rules` with short retries.
fn send_webhooks(rig: &mut Rig, rules: &str, cooldown: Duration) -> WebhookMetrics {
    send_webhooks_over(rig, rules, cooldown, &Outbound::web_roots().expect("TLS"))
}

/// As [`send_webhooks`], calling out through `outbound`.
fn send_webhooks_over(
    rig: &mut Rig,
    rules: &str,
    cooldown: Duration,
    outbound: &Outbound,
) -> WebhookMetrics {
    let settings = WebhookSettings {
        urls: rules.into(),
        secret: SECRET.into(),
        timeout: Duration::from_secs(20),
        retries: 3,
        backoff: Duration::from_millis(100),
        backoff_max: Duration::from_millis(400),
        cooldown,
    };
    let (sender, _task, metrics) = webhooks::start(&settings, outbound)
        .expect("valid settings")
        .expect("a rule");
    rig.collector.send_events_to(sender);
    metrics
}

/// Two minutes: past the backoff of a node that failed once.
async fn two_minutes(rig: &Rig) {
    rig.let_a_minute_pass().await;
    rig.let_a_minute_pass().await;
}

async fn a_node_turning_unreachable_is_delivered_once_signed_retried_and_cooled_down(
    backend: Backend,
) {
    let mut rig = Rig::start(&backend, SimConfig::default()).await;
    // The first attempt is answered 500, every later one 200.
    let receiver = Receiver::start(vec![500], false).await;
    let metrics = send_webhooks(
        &mut rig,
        &format!("node.reachability={}", receiver.url),
        COOLDOWN,
    );
    // The first cycle: nodes appear (not a kind this rule takes).
    rig.cycle().await;

    let pods = rig.sim.pods();
    let index = pods
        .iter()
        .position(|pod| pod.public)
        .expect("a public pod");
    let pubkey = pods[index].pubkey.clone();
    rig.sim.set_pod_fault(index, PodFault::Garbage);
    two_minutes(&rig).await;
    rig.cycle().await;
    wait_until("the retry is answered", || async {
        metrics.deliveries(Outcome::Delivered) == 1
    })
    .await;
    let got = receiver.got();
    assert_eq!(got.len(), 2, "one 500, one retry: {got:?}");
    assert_eq!(got[0].body, got[1].body, "the retry sends the same body");
    let event = got[1].json();
    assert_eq!(event["kind"], "node.reachability");
    assert_eq!(event["pubkey"], pubkey.as_str());
    assert_eq!(event["reachable"], false);
    assert_eq!(got[1].header("x-pnode-event"), Some("node.reachability"));
    assert_eq!(
        got[1].header("x-pnode-delivery"),
        Some(event["id"].to_string().as_str())
    );
    // Signed: HMAC-SHA256 of "<timestamp>.<body>" with the secret, computed here independently;
    // the timestamp is the attempt's own, in unix seconds.
    let timestamp: i64 = got[1]
        .header("x-pnode-timestamp")
        .and_then(|t| t.parse().ok())
        .expect("a timestamp");
    assert!((chrono::Utc::now().timestamp() - timestamp).abs() < 120);
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).expect("key");
    mac.update(format!("{timestamp}.").as_bytes());
    mac.update(&got[1].body);
    let expected: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(
        got[1].header("x-pnode-signature"),
        Some(format!("sha256={expected}").as_str())
    );
    assert_eq!(metrics.attempts(AttemptResult::Status), 1);
    assert_eq!(metrics.attempts(AttemptResult::Ok), 1);

    // Within the cooldown it comes back up, then goes down again: both held, the newer
    // replacing the older; when the cooldown ends the held "down" says what was last sent, so
    // nothing more is sent.
    rig.sim.set_pod_fault(index, PodFault::None);
    two_minutes(&rig).await;
    rig.cycle().await;
    rig.sim.set_pod_fault(index, PodFault::Garbage);
    two_minutes(&rig).await;
    rig.cycle().await;
    wait_until("both changes are held", || async {
        metrics.deliveries(Outcome::Suppressed) == 2
    })
    .await;
    tokio::time::sleep(COOLDOWN + Duration::from_secs(2)).await;
    assert_eq!(receiver.got().len(), 2, "silenced: {:?}", receiver.got());

    // Past the cooldown it comes back up: sent at once.
    rig.sim.set_pod_fault(index, PodFault::None);
    two_minutes(&rig).await;
    rig.cycle().await;
    wait_until("the recovery is delivered", || async {
        metrics.deliveries(Outcome::Delivered) == 2
    })
    .await;
    let got = receiver.got();
    assert_eq!(got.len(), 3);
    assert_eq!(got[2].json()["reachable"], true);

    // Down again within the new cooldown, and it stays down: held, then sent when the
    // cooldown ends, so the receiver ends up with the current state.
    rig.sim.set_pod_fault(index, PodFault::Garbage);
    two_minutes(&rig).await;
    rig.cycle().await;
    wait_until("the held change is sent after the cooldown", || async {
        metrics.deliveries(Outcome::Delivered) == 3
    })
    .await;
    assert_eq!(receiver.got()[3].json()["reachable"], false);
}

async fn a_receiver_that_never_answers_does_not_hold_the_cycles(backend: Backend) {
    let mut rig = Rig::start(&backend, SimConfig::default()).await;
    let receiver = Receiver::start(Vec::new(), true).await;
    // Every event, no cooldown: each cycle queues dozens of deliveries to a receiver that
    // accepts and never answers (each attempt waits 20 s for it).
    let metrics = send_webhooks(&mut rig, &receiver.url, Duration::ZERO);
    for _ in 0..3 {
        rig.let_a_minute_pass().await;
        rig.cycle().await;
    }
    wait_until("deliveries reach the receiver", || async {
        receiver.accepted() > 0
    })
    .await;
    // Every cycle closed while the deliveries were still waiting for their first answer: not
    // one attempt has ended (each would wait 20 s for its timeout).
    assert_eq!(metrics.attempts(AttemptResult::Timeout), 0);
    assert_eq!(metrics.deliveries(Outcome::Delivered), 0);
    assert_eq!(metrics.deliveries(Outcome::Failed), 0);
    // The first cycle's events (40 nodes appearing, the cycle) fill the 8 delivery slots; the
    // rest wait in the queue or were dropped when it filled, counted, never blocking a cycle.
    assert!(
        receiver.accepted() <= 8,
        "{} in flight",
        receiver.accepted()
    );
}

/// The README's example rule, `node.reachability|node.disappeared=https://…/pnodes`, against a
/// receiver on loopback behind TLS (its certificate signed by a CA made here and trusted).
async fn the_readme_example_delivers_over_https(backend: Backend) {
    let mut rig = Rig::start(&backend, SimConfig::default()).await;
    let receiver = Receiver::start(Vec::new(), false).await;
    let ca = TestCa::new("pnode-api test CA");
    let front = TlsFront::start(backend_of(&receiver.url), ca.server_config()).await;
    let rule = format!(
        "node.reachability|node.disappeared={}",
        front.url("/pnodes")
    );
    let metrics = send_webhooks_over(&mut rig, &rule, COOLDOWN, &ca.outbound());
    rig.cycle().await;
    let index = rig
        .sim
        .pods()
        .iter()
        .position(|pod| pod.public)
        .expect("a public pod");
    rig.sim.set_pod_fault(index, PodFault::Garbage);
    two_minutes(&rig).await;
    rig.cycle().await;
    wait_until("the change is delivered over https", || async {
        metrics.deliveries(Outcome::Delivered) == 1
    })
    .await;
    let got = receiver.got();
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].json()["kind"], "node.reachability");
    assert_eq!(got[0].json()["reachable"], false);
}

//! `pnode-api soak` against stand-in servers on loopback: what it counts, what it reports and
//! when its verdict fails.

use std::{
    net::TcpListener,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use actix_web::{App, HttpResponse, HttpServer, http::StatusCode, web};
use pnode_tools::soak::{self, SoakArgs, SoakReport};

const RSS: u64 = 100 * 1024 * 1024;

/// How a stand-in server answers.
#[derive(Debug, Clone)]
struct Behaviour {
    /// The status of `/api/pnodes`.
    status: u16,
    /// Where a redirect status points.
    location: Option<String>,
    /// How long `/api/pnodes` takes.
    delay: Duration,
    /// Whether `/api/system/memory` exists.
    memory: bool,
    /// How much the RSS grows from one memory answer to the next, in percent.
    rss_growth_pct: f64,
}

impl Default for Behaviour {
    fn default() -> Self {
        Self {
            status: 200,
            location: None,
            delay: Duration::ZERO,
            memory: true,
            rss_growth_pct: 0.0,
        }
    }
}

#[derive(Debug, Default)]
struct Calls {
    path: AtomicUsize,
    memory: AtomicUsize,
}

/// A stand-in server on 127.0.0.1, with the calls it received.
struct Stub {
    url: String,
    calls: Arc<Calls>,
}

impl Stub {
    fn start(behaviour: Behaviour) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        let calls = Arc::new(Calls::default());
        let state = (
            web::Data::new(behaviour),
            web::Data::from(Arc::clone(&calls)),
        );
        let server = HttpServer::new(move || {
            let app = App::new()
                .app_data(state.0.clone())
                .app_data(state.1.clone())
                .route("/api/pnodes", web::get().to(pnodes));
            if state.0.memory {
                app.route("/api/system/memory", web::get().to(memory))
            } else {
                app
            }
        })
        .workers(1)
        .disable_signals()
        .listen(listener)
        .expect("listen")
        .run();
        tokio::spawn(server);
        Self { url, calls }
    }

    fn path_calls(&self) -> usize {
        self.calls.path.load(Ordering::SeqCst)
    }

    fn memory_calls(&self) -> usize {
        self.calls.memory.load(Ordering::SeqCst)
    }

    fn args(&self, requests: usize) -> SoakArgs {
        SoakArgs {
            url: self.url.parse().expect("the stub's URL"),
            requests,
            concurrency: 4,
            path: "/api/pnodes".to_owned(),
            // Only the start, after-warm-up and end samples, unless a test wants more.
            sample_every: Duration::from_secs(3600),
            warm_up: None,
            max_growth: 10.0,
        }
    }
}

async fn pnodes(behaviour: web::Data<Behaviour>, calls: web::Data<Calls>) -> HttpResponse {
    calls.path.fetch_add(1, Ordering::SeqCst);
    tokio::time::sleep(behaviour.delay).await;
    let mut response =
        HttpResponse::build(StatusCode::from_u16(behaviour.status).expect("a status"));
    if let Some(location) = &behaviour.location {
        response.insert_header(("Location", location.as_str()));
    }
    response
        .content_type("application/json")
        .body(r#"{"pnodes": []}"#)
}

async fn memory(behaviour: web::Data<Behaviour>, calls: web::Data<Calls>) -> HttpResponse {
    let call = calls.memory.fetch_add(1, Ordering::SeqCst);
    let factor = (1.0 + behaviour.rss_growth_pct / 100.0).powi(call as i32);
    HttpResponse::Ok().json(serde_json::json!({
        "pid": 4242,
        "rssBytes": (RSS as f64 * factor) as u64,
        "virtualBytes": 4 * RSS,
        "allocatedBytes": null,
        "uptimeSeconds": 60,
        "alertBytes": 8 * RSS,
        "overAlert": false,
    }))
}

async fn soak(args: &SoakArgs) -> (SoakReport, String) {
    let mut out = Vec::new();
    let report = soak::run(args, &mut out).await.expect("the soak runs");
    (report, String::from_utf8(out).expect("utf-8"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_steady_server_passes_with_every_request_counted_and_its_rss_reported() {
    let stub = Stub::start(Behaviour::default());

    let (report, printed) = soak(&stub.args(40)).await;

    assert_eq!(report.verdict(10.0), Ok(()), "{printed}");
    assert_eq!((report.requests, report.warm_up), (40, 4));
    assert_eq!((report.request_errors, report.sample_errors), (0, 0));
    assert_eq!(stub.path_calls(), 40);
    assert_eq!(
        (
            report.rss_start_bytes,
            report.rss_after_warm_up_bytes,
            report.rss_end_bytes
        ),
        (Some(RSS), Some(RSS), Some(RSS))
    );
    assert_eq!(report.growth_pct(), Some(0.0));
    assert!(report.p50_ms.is_some() && report.max_ms >= report.p99_ms);
    for row in ["start", "after warm-up", "end", "verdict: passed"] {
        assert!(printed.contains(row), "no {row:?} in:\n{printed}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_failed_request_is_counted_and_fails_the_verdict_naming_errors() {
    let stub = Stub::start(Behaviour {
        status: 500,
        ..Behaviour::default()
    });

    let (report, printed) = soak(&stub.args(30)).await;

    assert_eq!(
        stub.path_calls(),
        30,
        "the soak went on after the first error"
    );
    assert_eq!((report.requests, report.request_errors), (30, 30));
    assert!(report.first_errors[0].contains("500"), "{report:?}");
    let verdict = report.verdict(10.0).expect_err("errors fail the soak");
    assert!(verdict.contains("errors: 30 of 30 requests"), "{verdict}");
    assert!(printed.contains("verdict: failed: errors"), "{printed}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rss_growing_after_warm_up_fails_the_verdict_naming_growth() {
    let stub = Stub::start(Behaviour {
        rss_growth_pct: 20.0,
        ..Behaviour::default()
    });

    let (report, printed) = soak(&stub.args(20)).await;

    assert_eq!(report.errors(), 0, "{printed}");
    assert!(
        report.growth_pct().is_some_and(|pct| pct >= 19.9),
        "{report:?}"
    );
    let verdict = report.verdict(10.0).expect_err("20 % growth is over 10 %");
    assert!(verdict.starts_with("growth: RSS grew"), "{verdict}");
    assert_eq!(report.verdict(50.0), Ok(()), "a looser allowance passes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_without_the_memory_endpoint_fails_naming_the_samples() {
    let stub = Stub::start(Behaviour {
        memory: false,
        ..Behaviour::default()
    });

    let (report, _) = soak(&stub.args(10)).await;

    assert_eq!((report.request_errors, report.sample_errors), (0, 3));
    assert_eq!(report.rss_end_bytes, None);
    let verdict = report.verdict(10.0).expect_err("no memory figures");
    assert!(verdict.contains("3 memory samples failed"), "{verdict}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_is_sampled_while_the_requests_run() {
    let stub = Stub::start(Behaviour {
        delay: Duration::from_millis(5),
        ..Behaviour::default()
    });
    let mut args = stub.args(30);
    args.concurrency = 1;
    args.sample_every = Duration::from_millis(10);

    // 30 requests one at a time take at least 150 ms: several 10 ms ticks must fall inside.
    let (report, printed) = soak(&args).await;

    assert_eq!(report.errors(), 0, "{printed}");
    assert!(stub.memory_calls() > 3, "{printed}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_is_an_error_and_is_never_followed() {
    let elsewhere = Stub::start(Behaviour::default());
    let stub = Stub::start(Behaviour {
        status: 302,
        location: Some(format!("{}/api/pnodes", elsewhere.url)),
        ..Behaviour::default()
    });

    let (report, _) = soak(&stub.args(10)).await;

    assert_eq!(report.request_errors, 10);
    assert_eq!(elsewhere.path_calls(), 0, "the soak followed a redirect");
}

/// The real app, not a stand-in: the soak reads its memory endpoint and its view as they are.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn against_the_real_app_the_soak_reads_its_memory_and_passes() {
    let app = crate::helpers::spawn_app(&crate::helpers::Backend::Sqlite).await;
    let args = SoakArgs {
        url: app.address.parse().expect("the app's URL"),
        requests: 50,
        concurrency: 4,
        path: "/api/pnodes".to_owned(),
        sample_every: Duration::from_secs(3600),
        warm_up: None,
        // The app shares this test process, whose other tests allocate meanwhile.
        max_growth: 1000.0,
    };

    let (report, printed) = soak(&args).await;

    assert_eq!(report.verdict(args.max_growth), Ok(()), "{printed}");
    assert_eq!((report.requests, report.errors()), (50, 0));
    let rss = report.rss_end_bytes.expect("an RSS at the end");
    assert!(rss > 1024 * 1024, "{printed}");
}

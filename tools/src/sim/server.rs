//! The one HTTP server behind every simulated node. It listens on many ports and tells the
//! nodes apart by the local port of each connection, so a network of hundreds of pods costs one
//! worker thread, not hundreds of servers.

use std::{
    collections::HashMap,
    net::TcpListener,
    sync::{Arc, Mutex, MutexGuard, PoisonError},
};

use actix_web::{
    App, HttpRequest, HttpResponse, HttpServer,
    dev::Server,
    http::{KeepAlive, Method, StatusCode},
    web,
};
use serde_json::{Value, json};

use super::{PodFault, SeedFault, network::Network};

const METHOD_NOT_FOUND: i64 = -32601;
const INTERNAL_ERROR: i64 = -32603;
const GARBAGE: &str = "<html><body><h1>502 Bad Gateway</h1></body></html>";
const SIM_VERSION: &str = "0.8.0-trynet.20251212183600.9eea72e";

/// What answers on a port.
#[derive(Debug, Clone, Copy)]
pub(super) enum Role {
    /// Seed `i` (behind its forwarding port).
    Seed(usize),
    /// The pRPC port of public pod `j`.
    Pod(usize),
    /// The credits API.
    Credits,
}

/// What every request handler sees.
#[derive(Debug)]
pub(super) struct Shared {
    network: Mutex<Network>,
    roles: HashMap<u16, Role>,
}

impl Shared {
    pub(super) fn new(network: Network, roles: HashMap<u16, Role>) -> Self {
        Self {
            network: Mutex::new(network),
            roles,
        }
    }

    /// The network, even after a panic elsewhere: a test that failed while holding the lock
    /// must not turn every later request into a second failure.
    pub(super) fn network(&self) -> MutexGuard<'_, Network> {
        self.network.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Builds the server over `listeners`; it runs once awaited (or spawned).
pub(super) fn serve(shared: Arc<Shared>, listeners: Vec<TcpListener>) -> std::io::Result<Server> {
    let shared = web::Data::from(shared);
    let mut server = HttpServer::new(move || {
        App::new()
            .app_data(shared.clone())
            .default_service(web::to(dispatch))
    })
    .workers(1)
    .disable_signals()
    .shutdown_timeout(0)
    // One request per connection: a seed that goes down then has no pooled connection left
    // through which it could still answer.
    .keep_alive(KeepAlive::Disabled);
    for listener in listeners {
        server = server.listen(listener)?;
    }
    Ok(server.run())
}

async fn dispatch(req: HttpRequest, body: web::Bytes, shared: web::Data<Shared>) -> HttpResponse {
    let port = req.app_config().local_addr().port();
    match shared.roles.get(&port).copied() {
        Some(Role::Credits) => credits(&req, &shared),
        Some(node) if req.path() == "/rpc" => {
            if req.method() != Method::POST {
                return plain(StatusCode::METHOD_NOT_ALLOWED, "use POST");
            }
            match rpc_method(&body) {
                Ok((method, id)) => rpc(node, &method, id, &shared).await,
                Err(problem) => plain(StatusCode::BAD_REQUEST, problem),
            }
        }
        _ => plain(StatusCode::NOT_FOUND, "not found"),
    }
}

/// The method and id of a JSON-RPC request, or why it is malformed.
fn rpc_method(body: &[u8]) -> Result<(String, Value), &'static str> {
    let request: Value = serde_json::from_slice(body).map_err(|_| "malformed request: not JSON")?;
    let method = request
        .get("method")
        .and_then(Value::as_str)
        .ok_or("malformed request: no method")?;
    let id = request.get("id").cloned().unwrap_or(json!(1));
    Ok((method.to_owned(), id))
}

/// What a fault makes a node do instead of (or before) answering.
enum Behaviour {
    Answer,
    Garbage,
    Status(u16),
    RpcError(i64, &'static str),
    LongRpcError(usize),
    WrongShape,
}

async fn rpc(node: Role, method: &str, id: Value, shared: &Shared) -> HttpResponse {
    let (delay, behaviour) = match node {
        Role::Seed(seed) => {
            let fault = shared.network().seed_fault(seed).cloned();
            seed_behaviour(fault.unwrap_or(SeedFault::None), method)
        }
        Role::Pod(pod) => {
            let fault = shared.network().pod_fault(pod).cloned();
            match fault.unwrap_or(PodFault::None) {
                PodFault::None => (None, Behaviour::Answer),
                PodFault::Slow(delay) => (Some(delay), Behaviour::Answer),
                PodFault::Garbage => (None, Behaviour::Garbage),
                // Holds the connection open and never writes: the client's timeout must act.
                PodFault::Silent => return std::future::pending().await,
            }
        }
        Role::Credits => return plain(StatusCode::NOT_FOUND, "not found"),
    };
    if let Some(delay) = delay {
        tokio::time::sleep(delay).await;
    }
    let result = match behaviour {
        Behaviour::Garbage => return plain(StatusCode::OK, GARBAGE),
        Behaviour::Status(code) => {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            return plain(status, "the simulated seed fails");
        }
        Behaviour::RpcError(code, message) => Err((code, message.to_owned())),
        Behaviour::LongRpcError(bytes) => Err((INTERNAL_ERROR, "é".repeat(bytes / 2))),
        Behaviour::WrongShape => Ok(json!({"status": "ok", "nodes": []})),
        // The state is read after the delay, as a slow node answers with what it knows then.
        Behaviour::Answer => {
            answer(node, method, &shared.network()).map_err(|(code, text)| (code, text.to_owned()))
        }
    };
    let envelope = match result {
        Ok(result) => json!({"jsonrpc": "2.0", "id": id, "error": null, "result": result}),
        Err((code, message)) => json!({
            "jsonrpc": "2.0", "id": id, "result": null,
            "error": {"code": code, "message": message},
        }),
    };
    HttpResponse::Ok().json(envelope)
}

fn seed_behaviour(fault: SeedFault, method: &str) -> (Option<std::time::Duration>, Behaviour) {
    match fault {
        // A downed seed is refused at its port; a request already past it is answered.
        SeedFault::None | SeedFault::Down => (None, Behaviour::Answer),
        SeedFault::Slow(delay) => (Some(delay), Behaviour::Answer),
        SeedFault::Garbage => (None, Behaviour::Garbage),
        SeedFault::WrongShape => (None, Behaviour::WrongShape),
        SeedFault::MethodNotFound if method == "get-pods-with-stats" => (
            None,
            Behaviour::RpcError(METHOD_NOT_FOUND, "Method not found"),
        ),
        SeedFault::MethodNotFound => (None, Behaviour::Answer),
        SeedFault::HttpStatus(code) => (None, Behaviour::Status(code)),
        SeedFault::RpcError => (None, Behaviour::RpcError(INTERNAL_ERROR, "Internal error")),
        SeedFault::LongRpcError(bytes) => (None, Behaviour::LongRpcError(bytes)),
    }
}

/// The answer of a healthy node, or the JSON-RPC error for a method it does not know.
fn answer(node: Role, method: &str, network: &Network) -> Result<Value, (i64, &'static str)> {
    let not_found = Err((METHOD_NOT_FOUND, "Method not found"));
    match (node, method) {
        (_, "get-version") => Ok(json!({"version": SIM_VERSION})),
        (Role::Seed(seed), "get-pods-with-stats") => Ok(network.pods_result(seed, false)),
        (Role::Seed(seed), "get-pods") => Ok(network.pods_result(seed, true)),
        (Role::Seed(_), "get-stats") => Ok(network.seed_stats()),
        (Role::Pod(pod), "get-stats") => network
            .pod_stats(pod)
            .ok_or((INTERNAL_ERROR, "Internal error")),
        _ => not_found,
    }
}

fn credits(req: &HttpRequest, shared: &Shared) -> HttpResponse {
    if req.method() != Method::GET {
        return plain(StatusCode::METHOD_NOT_ALLOWED, "use GET");
    }
    let mut network = shared.network();
    network.serve_credits();
    if network.credits_garbage() {
        return plain(StatusCode::OK, GARBAGE);
    }
    HttpResponse::Ok().json(network.credits())
}

fn plain(status: StatusCode, body: &'static str) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/plain; charset=utf-8")
        .body(body)
}

//! A simulated pNode network on loopback, for tests and demos: seeds that answer the pods
//! methods with their own lagged views, public pods that answer `get-stats`, private pods that
//! refuse, a credits API, and faults that can be switched on at any time.
//!
//! Everything binds 127.0.0.1 on ports the system picks; nothing contacts any other address.
//! One HTTP server serves every node (see `server.rs`); a seed's port is a forwarding listener
//! of its own so that the seed can really go down (see `seed_port.rs`).

mod network;
mod node;
mod seed_port;
mod server;

#[cfg(test)]
mod tests;

use std::{
    collections::HashMap,
    fmt, io,
    net::{Ipv4Addr, SocketAddr, TcpListener},
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use actix_web::dev::ServerHandle;
use tokio::{net::TcpSocket, task::JoinHandle};

use self::{
    network::Network,
    seed_port::SeedPort,
    server::{Role, Shared},
};

/// Simulated seconds that pass on each [`SimNetwork::tick`].
pub const TICK_SECONDS: i64 = 30;

/// The shape of a simulated network.
#[derive(Debug, Clone)]
pub struct SimConfig {
    pub seeds: usize,
    pub pods: usize,
    /// every n-th pod (index % public_every == 0) is public and answers get-stats; others are
    /// private. 0: no pod is public.
    pub public_every: usize,
    /// Same value, same pubkeys, versions and counters.
    pub random_seed: u64,
    /// extra entries every seed reports: a pubkey seen again at a second address, pods with no
    /// pubkey, pods with an invalid pubkey like "TestPubkey14".
    pub duplicate_pubkeys: usize,
    pub missing_pubkeys: usize,
    pub invalid_pubkeys: usize,
    /// Every this many ticks each pod changes version once, and every three times as many moves
    /// to another address (pods in turn, not all at once); 0: versions and addresses never change.
    pub churn_every: u64,
    /// The pubkeys of the first pods, instead of random ones: nodes that are on another
    /// simulated network too (the rest of the network is the same as without them).
    pub shared_pubkeys: Vec<String>,
}

impl Default for SimConfig {
    /// 3 seeds, 40 pods (every 4th public), one of each kind of odd entry.
    fn default() -> Self {
        Self {
            seeds: 3,
            pods: 40,
            public_every: 4,
            random_seed: 1,
            duplicate_pubkeys: 1,
            missing_pubkeys: 1,
            invalid_pubkeys: 1,
            churn_every: 0,
            shared_pubkeys: Vec::new(),
        }
    }
}

/// A valid pod of the network: the ground truth a collector should converge to.
#[derive(Debug, Clone, PartialEq)]
pub struct SimPod {
    /// base58 of 32 bytes.
    pub pubkey: String,
    /// "127.0.0.1:<fake gossip port>": nothing listens there.
    pub address: String,
    /// Where `get-stats` answers if the pod is public; refused if it is private.
    pub rpc_port: u16,
    pub public: bool,
}

/// How a seed misbehaves.
#[derive(Debug, Clone, PartialEq)]
pub enum SeedFault {
    None,
    /// Answers after this long.
    Slow(Duration),
    /// 200 with a non-JSON body.
    Garbage,
    /// Valid JSON-RPC, result without pods.
    WrongShape,
    /// -32601 for get-pods-with-stats; get-pods still works.
    MethodNotFound,
    /// Answers this HTTP status with a plain-text body.
    HttpStatus(u16),
    /// -32603 for every method.
    RpcError,
    /// -32603 for every method, with a message this many bytes long (a hostile seed).
    LongRpcError(usize),
    /// The seed's listener refuses connections.
    Down,
}

/// How a public pod misbehaves on its pRPC port.
#[derive(Debug, Clone, PartialEq)]
pub enum PodFault {
    None,
    /// Answers after this long.
    Slow(Duration),
    /// 200 with a non-JSON body.
    Garbage,
    /// Accepts, never answers.
    Silent,
}

/// A running simulated network. Stop it with [`SimNetwork::stop`]; dropping it stops the server
/// too, without waiting for it.
pub struct SimNetwork {
    shared: Arc<Shared>,
    seeds: Mutex<Vec<SeedPort>>,
    seed_urls: Vec<String>,
    credits_port: u16,
    /// Bound, never listening: the rpc ports of private pods and strays, refused at once.
    closed_ports: Vec<TcpSocket>,
    server: ServerHandle,
    server_task: JoinHandle<io::Result<()>>,
}

impl fmt::Debug for SimNetwork {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimNetwork")
            .field("seed_urls", &self.seed_urls)
            .field("credits_port", &self.credits_port)
            .field("closed_ports", &self.closed_ports.len())
            .finish_non_exhaustive()
    }
}

impl SimNetwork {
    /// Binds every port and starts serving. Call within a tokio runtime.
    pub async fn start(config: SimConfig) -> io::Result<Self> {
        let runtime = tokio::runtime::Handle::try_current().map_err(io::Error::other)?;
        let mut roles = HashMap::new();
        let mut listeners = Vec::new();
        let mut serve_as = |role: Role| -> io::Result<SocketAddr> {
            let listener = TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))?;
            let addr = listener.local_addr()?;
            roles.insert(addr.port(), role);
            listeners.push(listener);
            Ok(addr)
        };
        let credits_port = serve_as(Role::Credits)?.port();
        let mut seeds = Vec::with_capacity(config.seeds);
        for seed in 0..config.seeds {
            seeds.push(SeedPort::open(serve_as(Role::Seed(seed))?)?);
        }
        let mut closed_ports = Vec::new();
        let mut closed = || -> io::Result<u16> {
            let socket = seed_port::closed_port()?;
            let port = socket.local_addr()?.port();
            closed_ports.push(socket);
            Ok(port)
        };
        let mut rpc_ports = Vec::with_capacity(config.pods);
        for pod in 0..config.pods {
            rpc_ports.push(if network::is_public(&config, pod) {
                serve_as(Role::Pod(pod))?.port()
            } else {
                closed()?
            });
        }
        let stray_ports = (0..config.missing_pubkeys + config.invalid_pubkeys)
            .map(|_| closed())
            .collect::<io::Result<Vec<_>>>()?;

        let network = Network::new(
            &config,
            &rpc_ports,
            &stray_ports,
            chrono::Utc::now().timestamp(),
        );
        let shared = Arc::new(Shared::new(network, roles));
        let server = server::serve(Arc::clone(&shared), listeners)?;
        let handle = server.handle();
        let seed_urls = seeds
            .iter()
            .map(|seed| format!("http://127.0.0.1:{}", seed.port()))
            .collect();
        tracing::debug!(?seed_urls, pods = config.pods, "simulated network started");
        Ok(Self {
            shared,
            seeds: Mutex::new(seeds),
            seed_urls,
            credits_port,
            closed_ports,
            server: handle,
            server_task: runtime.spawn(server),
        })
    }

    /// The seeds' base URLs, like "http://127.0.0.1:PORT", in seed order.
    pub fn seed_urls(&self) -> Vec<String> {
        self.seed_urls.clone()
    }

    /// GET -> {"pods_credits":[{"pod_id":"<pubkey>","credits":N}],"status":"success"}
    pub fn credits_url(&self) -> String {
        format!("http://127.0.0.1:{}/api/pods-credits", self.credits_port)
    }

    /// The ground truth: valid pods only, in index order.
    pub fn pods(&self) -> Vec<SimPod> {
        self.shared.network().sim_pods()
    }

    /// The valid pubkeys seed `seed` reports right now (each once).
    pub fn seen_by(&self, seed: usize) -> Vec<String> {
        self.shared.network().seen_by(seed)
    }

    /// From now on seed `seed` misbehaves as `fault` says (`SeedFault::None` heals it). An
    /// index past the last seed is ignored.
    pub fn set_seed_fault(&self, seed: usize, fault: SeedFault) {
        let down = fault == SeedFault::Down;
        self.shared.network().set_seed_fault(seed, fault);
        let mut seeds = self.seeds.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(port) = seeds.get_mut(seed) {
            port.set_down(down);
        }
    }

    /// From now on public pod `pod` (an index into [`SimNetwork::pods`]) misbehaves as `fault`
    /// says. Private pods refuse connections whatever their fault.
    pub fn set_pod_fault(&self, pod: usize, fault: PodFault) {
        self.shared.network().set_pod_fault(pod, fault);
    }

    /// Whether the credits API answers garbage (a 200 with a non-JSON body).
    pub fn set_credits_fault(&self, garbage: bool) {
        self.shared.network().set_credits_garbage(garbage);
    }

    /// From now on every seed also reports `pods` after its own, exactly as given: untrusted
    /// gossip (control characters, host names, private addresses...) for the tests of what the
    /// collector does with it. An empty list stops them.
    pub fn set_extra_pods(&self, pods: Vec<serde_json::Value>) {
        self.shared.network().set_extra_pods(pods);
    }

    /// How many answers the credits API has given so far (garbage included).
    pub fn credits_served(&self) -> u64 {
        self.shared.network().credits_served()
    }

    /// Time passes ([`TICK_SECONDS`]): counters, uptimes and credits grow, and each seed's
    /// lagged view moves on by one pod.
    pub fn tick(&self) {
        self.tick_by(Duration::from_secs(TICK_SECONDS as u64));
    }

    /// As [`SimNetwork::tick`], with `elapsed` passing instead of [`TICK_SECONDS`] (whole seconds;
    /// the demo passes real time, so its clock stays in step with the wall).
    pub fn tick_by(&self, elapsed: Duration) {
        self.shared.network().tick(elapsed.as_secs());
    }

    /// Pod `pod` restarts: its cumulative counters and uptime go back near 0.
    pub fn restart_pod(&self, pod: usize) {
        self.shared.network().restart_pod(pod);
    }

    /// Closes every port and stops the server without waiting for requests in flight.
    pub async fn stop(mut self) {
        self.seeds
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
        self.closed_ports.clear();
        self.server.stop(false).await;
        match (&mut self.server_task).await {
            Ok(Ok(())) => {}
            Ok(Err(err)) => tracing::warn!(%err, "simulated network's server failed"),
            Err(err) => tracing::warn!(%err, "simulated network's server task failed"),
        }
    }
}

impl Drop for SimNetwork {
    /// Dropping the server's future closes its listeners and stops its worker.
    fn drop(&mut self) {
        self.server_task.abort();
    }
}

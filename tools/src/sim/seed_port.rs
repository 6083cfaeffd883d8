//! A seed's public port: a raw listener that forwards each connection to the seed's own port on
//! the shared HTTP server. It exists so that a seed can really go down: an actix listener
//! cannot be closed while the server runs, but this one can, and then connections to the
//! seed's URL are refused.

use std::{
    future::poll_fn,
    io,
    net::{Ipv4Addr, SocketAddr},
    sync::{Arc, Weak},
    task::Poll,
};

use tokio::{
    net::{TcpListener, TcpSocket, TcpStream},
    runtime::Handle,
    task::{JoinHandle, JoinSet},
};

/// The listening side of one seed.
#[derive(Debug)]
pub(super) struct SeedPort {
    addr: SocketAddr,
    backend: SocketAddr,
    runtime: Handle,
    state: State,
}

#[derive(Debug)]
enum State {
    /// Forwarding. The task holds the listener only weakly, so dropping `_listener` closes the
    /// port at once, not whenever the aborted task is next polled.
    Up {
        _listener: Arc<TcpListener>,
        task: JoinHandle<()>,
    },
    /// Refusing: `_reserved` is bound but not listening, which both refuses connections and
    /// keeps anyone else from taking the port meanwhile (`None` if even that failed).
    Down { _reserved: Option<TcpSocket> },
}

impl SeedPort {
    /// Listens on a free loopback port and forwards to `backend`. Call within a tokio runtime.
    pub(super) fn open(backend: SocketAddr) -> io::Result<Self> {
        let runtime = Handle::try_current().map_err(io::Error::other)?;
        let listener = listen(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))?;
        let addr = listener.local_addr()?;
        let mut port = Self {
            addr,
            backend,
            runtime,
            state: State::Down { _reserved: None },
        };
        port.serve(listener);
        Ok(port)
    }

    pub(super) fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Closes the port (connections are refused, open ones are cut) or opens it again on the
    /// same port number.
    pub(super) fn set_down(&mut self, down: bool) {
        match (&self.state, down) {
            (State::Up { task, .. }, true) => {
                task.abort();
                // Replacing the state drops the only strong reference: the listener closes now.
                self.state = State::Down { _reserved: None };
                let addr = self.addr;
                let reserved = reserve(addr)
                    .inspect_err(|err| tracing::warn!(%err, %addr, "cannot reserve a seed's port"))
                    .ok();
                self.state = State::Down {
                    _reserved: reserved,
                };
            }
            (State::Down { .. }, false) => {
                self.state = State::Down { _reserved: None };
                let _runtime = self.runtime.enter();
                match listen(self.addr) {
                    Ok(listener) => self.serve(listener),
                    Err(err) => {
                        let addr = self.addr;
                        tracing::warn!(%err, %addr, "cannot reopen a seed's port: it stays down");
                    }
                }
            }
            _ => {}
        }
    }

    fn serve(&mut self, listener: TcpListener) {
        let listener = Arc::new(listener);
        let task = self
            .runtime
            .spawn(forward_all(Arc::downgrade(&listener), self.backend));
        self.state = State::Up {
            _listener: listener,
            task,
        };
    }
}

impl Drop for SeedPort {
    fn drop(&mut self) {
        if let State::Up { task, .. } = &self.state {
            task.abort();
        }
    }
}

/// Accepts until the listener is gone, forwarding each connection to `backend`. Open
/// connections live in a `JoinSet`, so aborting this task cuts them too.
async fn forward_all(listener: Weak<TcpListener>, backend: SocketAddr) {
    let mut connections = JoinSet::new();
    loop {
        // The listener is borrowed for one poll at a time (see `State::Up`).
        let accept = poll_fn(|cx| match listener.upgrade() {
            Some(listener) => listener.poll_accept(cx).map(Some),
            None => Poll::Ready(None),
        });
        tokio::select! {
            accepted = accept => match accepted {
                None => return,
                Some(Ok((stream, _))) => {
                    connections.spawn(forward(stream, backend));
                }
                Some(Err(err)) => tracing::debug!(%err, "sim seed: accept failed"),
            },
            Some(_) = connections.join_next() => {}
        }
    }
}

async fn forward(mut client: TcpStream, backend: SocketAddr) {
    let copied = match TcpStream::connect(backend).await {
        Ok(mut server) => tokio::io::copy_bidirectional(&mut client, &mut server)
            .await
            .map(drop),
        Err(err) => Err(err),
    };
    if let Err(err) = copied {
        tracing::debug!(%err, "sim seed: forwarding ended");
    }
}

/// Listens on `addr`; SO_REUSEADDR lets a seed come back up on its port while connections
/// from before it went down are still in TIME_WAIT.
fn listen(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = TcpSocket::new_v4()?;
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(128)
}

fn reserve(addr: SocketAddr) -> io::Result<TcpSocket> {
    let socket = TcpSocket::new_v4()?;
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    Ok(socket)
}

/// A loopback port where nothing listens and nothing else can bind: connections to it are
/// refused at once. Private pods advertise these as their rpc_port.
pub(super) fn closed_port() -> io::Result<TcpSocket> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))?;
    Ok(socket)
}

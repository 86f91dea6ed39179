//! The HTTP side: HTTP/1.1 on a loopback port, one task per connection, and a stop signal
//! that closes the listener and every open connection (watches included) at once, so the
//! server can be restarted on the same port with its state intact.

mod discovery;
mod handler;
mod openapi;
mod query;
mod response;
mod router;
mod watch;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch as signal;
use tokio::task::{JoinHandle, JoinSet};

use crate::Error;
use crate::faults::Faults;
use crate::resources::Registry;
use crate::store::State;

/// What every request handler shares.
#[derive(Debug)]
pub(crate) struct Shared {
    pub registry: Registry,
    state: Mutex<State>,
    pub faults: Faults,
    pub bookmark_interval: Duration,
}

impl Shared {
    pub fn new(registry: Registry, state: State, bookmark_interval: Duration) -> Self {
        Self {
            registry,
            state: Mutex::new(state),
            faults: Faults::default(),
            bookmark_interval,
        }
    }

    /// The store, locked. A panic while holding the lock cannot leave the store half-written
    /// in a way later requests care about more than about serving, so poisoning is ignored.
    pub fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A running listener.
#[derive(Debug)]
pub(crate) struct Listener {
    stop: signal::Sender<bool>,
    task: JoinHandle<()>,
}

impl Listener {
    /// Listens on `addr` (port 0 picks a free port) and serves until stopped.
    pub async fn start(shared: Arc<Shared>, addr: SocketAddr) -> Result<(Self, SocketAddr), Error> {
        let listener = bind(addr).await?;
        let local = listener
            .local_addr()
            .map_err(|source| Error::Bind { addr, source })?;
        let (stop, stopped) = signal::channel(false);
        let task = tokio::spawn(accept_loop(shared, listener, stopped));
        Ok((Self { stop, task }, local))
    }

    /// Closes the listener and every connection, and waits until they are closed.
    pub async fn stop(self) {
        self.stop.send_replace(true);
        let _ = self.task.await;
    }

    /// Signals a stop without waiting, for `Drop`.
    pub fn abort(&self) {
        self.stop.send_replace(true);
    }
}

/// Binds, retrying briefly: right after a restart the old socket may still hold the port.
async fn bind(addr: SocketAddr) -> Result<TcpListener, Error> {
    let mut attempt = 0;
    loop {
        match TcpListener::bind(addr).await {
            Ok(listener) => return Ok(listener),
            Err(source) if attempt >= 50 || addr.port() == 0 => {
                return Err(Error::Bind { addr, source });
            }
            Err(_) => {
                attempt += 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
}

async fn accept_loop(
    shared: Arc<Shared>,
    listener: TcpListener,
    mut stopped: signal::Receiver<bool>,
) {
    let mut connections = JoinSet::new();
    let for_connections = stopped.clone();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let _ = stream.set_nodelay(true);
                let shared = shared.clone();
                let mut stopped = for_connections.clone();
                connections.spawn(async move {
                    let service = service_fn(move |request| {
                        let shared = shared.clone();
                        async move { Ok::<_, Infallible>(handler::handle(shared, request).await) }
                    });
                    let connection = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service);
                    tokio::select! {
                        _ = connection => {}
                        _ = stopped.wait_for(|stop| *stop) => {}
                    }
                });
            }
            _ = stopped.wait_for(|stop| *stop) => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    drop(listener);
    connections.shutdown().await;
}

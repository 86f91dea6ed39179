//! The stand-in for Services: each Service with a selector gets a loopback port that forwards
//! connections, round robin, to the ready pods it selects that are not being deleted; the
//! address is published in the Service's `lepton.ai/local-address` annotation.
//!
//! The pods come from a watch, which lags the kubelet a little: a pod just deleted may still be
//! picked after its process got SIGTERM, and a process that exits at once (rather than serving
//! through a shutdown delay, as Lepton's runner does) refuses the connection or drops it
//! unanswered. So a connection whose backend fails before answering a single byte is retried on
//! the next ready backend, replaying what the client had sent; one that has answered is never
//! retried.

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Pod, Service};
use kube::ResourceExt;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::WatchStreamExt;
use kube::runtime::reflector::{self, Store};
use kube::runtime::watcher::{self, Event};
use serde_json::json;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::deployment::is_ready;
use super::{ExecutorConfig, LOCAL_ADDRESS};

const MANAGER: &str = "lepton-local-service-proxy";
/// How long a connection whose backend failed waits for another ready backend: the pod that
/// replaces a deleted one can reach the watch a moment after the deletion reached the kubelet.
const RETRY_WINDOW: Duration = Duration::from_secs(3);
/// How often the pod cache is looked at again while waiting for a backend.
const RETRY_PERIOD: Duration = Duration::from_millis(20);
/// The most a client may send before its backend answers for the connection still to be
/// replayable to another backend.
const REPLAY_LIMIT: usize = 64 * 1024;

struct Proxy {
    selector: Arc<RwLock<BTreeMap<String, String>>>,
    address: String,
    task: JoinHandle<()>,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Runs the Service proxies until the task is aborted.
pub(crate) async fn run(client: kube::Client, config: Arc<ExecutorConfig>) {
    let (services, pods): (Api<Service>, Api<Pod>) = match &config.namespace {
        Some(ns) => (
            Api::namespaced(client.clone(), ns),
            Api::namespaced(client.clone(), ns),
        ),
        None => (Api::all(client.clone()), Api::all(client.clone())),
    };
    let (store, writer) = reflector::store();
    let pod_cache = tokio::spawn(
        reflector::reflector(
            writer,
            watcher::watcher(pods, watcher::Config::default()).default_backoff(),
        )
        .for_each(|_| async {}),
    );
    let mut proxies: HashMap<String, Proxy> = HashMap::new();
    let mut events = watcher::watcher(services, watcher::Config::default())
        .default_backoff()
        .boxed();
    while let Some(event) = events.next().await {
        match event {
            Ok(Event::Apply(service) | Event::InitApply(service)) => {
                let uid = service.uid().unwrap_or_default();
                let selector = service
                    .spec
                    .as_ref()
                    .and_then(|s| s.selector.clone())
                    .unwrap_or_default();
                if selector.is_empty() {
                    proxies.remove(&uid);
                    continue;
                }
                if let Some(proxy) = proxies.get(&uid) {
                    *proxy.selector.write().unwrap_or_else(|p| p.into_inner()) = selector;
                    publish(&client, &service, &proxy.address).await;
                    continue;
                }
                match start(store.clone(), &service, selector).await {
                    Ok(proxy) => {
                        publish(&client, &service, &proxy.address).await;
                        proxies.insert(uid, proxy);
                    }
                    Err(error) => {
                        tracing::warn!(%error, service = %service.name_any(), "no local port for the service")
                    }
                }
            }
            Ok(Event::Delete(service)) => {
                proxies.remove(&service.uid().unwrap_or_default());
            }
            Ok(_) => {}
            Err(error) => tracing::debug!(%error, "service watch interrupted"),
        }
    }
    pod_cache.abort();
}

async fn publish(client: &kube::Client, service: &Service, address: &str) {
    if service.annotations().get(LOCAL_ADDRESS).map(String::as_str) == Some(address) {
        return;
    }
    let api: Api<Service> =
        Api::namespaced(client.clone(), &service.namespace().unwrap_or_default());
    let patch = json!({"metadata": {"annotations": {LOCAL_ADDRESS: address}}});
    let params = PatchParams {
        field_manager: Some(MANAGER.into()),
        ..PatchParams::default()
    };
    if let Err(error) = api
        .patch(&service.name_any(), &params, &Patch::Merge(&patch))
        .await
    {
        tracing::debug!(%error, service = %service.name_any(), "service address not published");
    }
}

async fn start(
    pods: Store<Pod>,
    service: &Service,
    selector: BTreeMap<String, String>,
) -> std::io::Result<Proxy> {
    let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
    let address = listener.local_addr()?.to_string();
    let selector = Arc::new(RwLock::new(selector));
    let backends = Arc::new(Backends {
        pods,
        namespace: service.namespace().unwrap_or_default(),
        selector: selector.clone(),
        next: AtomicUsize::new(0),
    });
    let task = tokio::spawn(async move {
        while let Ok((inbound, _)) = listener.accept().await {
            // No ready pod: the connection is closed at once, as kube-proxy rejects connections
            // to a Service without endpoints.
            if let Some(first) = backends.pick(&[]) {
                tokio::spawn(forward(inbound, first, backends.clone()));
            }
        }
    });
    Ok(Proxy {
        selector,
        address,
        task,
    })
}

/// Where a Service's connections may go.
struct Backends {
    pods: Store<Pod>,
    namespace: String,
    selector: Arc<RwLock<BTreeMap<String, String>>>,
    next: AtomicUsize,
}

impl Backends {
    /// The next ready pod's address, round robin, other than those in `tried`.
    fn pick(&self, tried: &[String]) -> Option<String> {
        let selector = self
            .selector
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let mut ready: Vec<String> = self
            .pods
            .state()
            .iter()
            .filter(|p| p.namespace().as_deref() == Some(self.namespace.as_str()))
            .filter(|p| p.metadata.deletion_timestamp.is_none())
            .filter(|p| selector.iter().all(|(k, v)| p.labels().get(k) == Some(v)))
            .filter(|p| is_ready(p))
            .filter_map(|p| p.annotations().get(LOCAL_ADDRESS).cloned())
            .filter(|a| !tried.contains(a))
            .collect();
        ready.sort();
        if ready.is_empty() {
            return None;
        }
        Some(ready.swap_remove(self.next.fetch_add(1, Ordering::Relaxed) % ready.len()))
    }

    /// Like [`Backends::pick`], but waits up to `until` for a backend to appear.
    async fn pick_by(&self, tried: &[String], until: Instant) -> Option<String> {
        loop {
            if let Some(backend) = self.pick(tried) {
                return Some(backend);
            }
            if Instant::now() >= until {
                return None;
            }
            tokio::time::sleep(RETRY_PERIOD).await;
        }
    }
}

/// What the client has sent while no backend has answered yet.
struct Pending {
    /// Everything the client sent, to replay; `None` once it outgrew [`REPLAY_LIMIT`].
    sent: Option<Vec<u8>>,
    /// The client closed its side (it sent all it will).
    closed: bool,
}

/// How waiting for a backend's first bytes ended.
enum First {
    /// The backend answered these bytes: the connection is committed to it.
    Answered(Vec<u8>),
    /// The backend failed (refused, reset, closed or unwritable) before answering.
    Failed,
    /// The client went away.
    ClientGone,
}

/// Carries one client connection to a backend, moving on to the next ready backend while the
/// chosen one fails before answering.
async fn forward(mut inbound: TcpStream, first: String, backends: Arc<Backends>) {
    let mut pending = Pending {
        sent: Some(Vec::new()),
        closed: false,
    };
    let mut tried = vec![first.clone()];
    let mut backend = first;
    let mut until = None;
    loop {
        if let Ok(mut outbound) = TcpStream::connect(&backend).await {
            match first_answer(&mut inbound, &mut outbound, &mut pending).await {
                First::Answered(bytes) => {
                    if inbound.write_all(&bytes).await.is_ok() {
                        splice(inbound, outbound, pending.closed).await;
                    }
                    return;
                }
                First::ClientGone => return,
                First::Failed if pending.sent.is_none() => return,
                First::Failed => {}
            }
        }
        tracing::debug!(%backend, "backend failed before answering; trying the next");
        let until = *until.get_or_insert_with(|| Instant::now() + RETRY_WINDOW);
        let Some(next) = backends.pick_by(&tried, until).await else {
            return;
        };
        tried.push(next.clone());
        backend = next;
    }
}

/// Sends the client's bytes to `outbound` (first replaying what it sent earlier) until the
/// backend answers or fails.
async fn first_answer(
    inbound: &mut TcpStream,
    outbound: &mut TcpStream,
    pending: &mut Pending,
) -> First {
    if let Some(sent) = &pending.sent
        && !sent.is_empty()
        && outbound.write_all(sent).await.is_err()
    {
        return First::Failed;
    }
    if pending.closed && outbound.shutdown().await.is_err() {
        return First::Failed;
    }
    let mut request = vec![0u8; 16 * 1024];
    let mut answer = vec![0u8; 16 * 1024];
    loop {
        tokio::select! {
            read = outbound.read(&mut answer) => {
                return match read {
                    Ok(n) if n > 0 => {
                        answer.truncate(n);
                        First::Answered(answer)
                    }
                    _ => First::Failed,
                };
            }
            read = inbound.read(&mut request), if !pending.closed => match read {
                Ok(0) => {
                    pending.closed = true;
                    if outbound.shutdown().await.is_err() {
                        return First::Failed;
                    }
                }
                Ok(n) => {
                    let bytes = &request[..n];
                    if let Some(sent) = &mut pending.sent {
                        if sent.len() + n <= REPLAY_LIMIT {
                            sent.extend_from_slice(bytes);
                        } else {
                            pending.sent = None;
                        }
                    }
                    if outbound.write_all(bytes).await.is_err() {
                        return First::Failed;
                    }
                }
                Err(_) => return First::ClientGone,
            },
        }
    }
}

/// Copies both ways until both sides are done; `client_closed` when the client already shut
/// its side, so only the answer is left to carry.
async fn splice(mut inbound: TcpStream, mut outbound: TcpStream, client_closed: bool) {
    if client_closed {
        let _ = tokio::io::copy(&mut outbound, &mut inbound).await;
        let _ = inbound.shutdown().await;
    } else {
        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
    }
}

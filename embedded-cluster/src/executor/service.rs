//! The stand-in for Services: each Service with a selector gets a loopback port that forwards
//! connections, round robin, to the ready pods it selects; the address is published in the
//! Service's `lepton.ai/local-address` annotation.

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
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use super::{ExecutorConfig, LOCAL_ADDRESS};

const MANAGER: &str = "lepton-local-service-proxy";

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
    let namespace = service.namespace().unwrap_or_default();
    let shared_selector = selector.clone();
    let next = Arc::new(AtomicUsize::new(0));
    let task = tokio::spawn(async move {
        while let Ok((inbound, _)) = listener.accept().await {
            let selector = shared_selector
                .read()
                .unwrap_or_else(|p| p.into_inner())
                .clone();
            let mut backends: Vec<String> = pods
                .state()
                .iter()
                .filter(|p| p.namespace().as_deref() == Some(namespace.as_str()))
                .filter(|p| p.metadata.deletion_timestamp.is_none())
                .filter(|p| selector.iter().all(|(k, v)| p.labels().get(k) == Some(v)))
                .filter(|p| is_ready(p))
                .filter_map(|p| p.annotations().get(LOCAL_ADDRESS).cloned())
                .collect();
            backends.sort();
            if backends.is_empty() {
                continue;
            }
            let backend = backends[next.fetch_add(1, Ordering::Relaxed) % backends.len()].clone();
            tokio::spawn(forward(inbound, backend));
        }
    });
    Ok(Proxy {
        selector,
        address,
        task,
    })
}

fn is_ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

async fn forward(mut inbound: TcpStream, backend: String) {
    if let Ok(mut outbound) = TcpStream::connect(&backend).await {
        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
    }
}

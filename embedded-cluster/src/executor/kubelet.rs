//! The stand-in for the kubelet: every pod that appears is run as a local process (or failed
//! with the reason it cannot run here), its status kept as the kubelet keeps it (phase,
//! conditions, container state, exit code, termination message, restarts), and its process
//! stopped when the pod is deleted.

use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::ResourceExt;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::process::{self, Plan, Restart};
use super::{ExecutorConfig, LOCAL_ADDRESS, probe};
use crate::meta;

const MANAGER: &str = "lepton-local-kubelet";

struct Running {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

/// The pods this kubelet runs, by uid.
pub(crate) struct Kubelet {
    client: kube::Client,
    config: Arc<ExecutorConfig>,
    pods: Mutex<HashMap<String, Running>>,
}

impl Kubelet {
    pub fn new(client: kube::Client, config: Arc<ExecutorConfig>) -> Arc<Self> {
        Arc::new(Self {
            client,
            config,
            pods: Mutex::new(HashMap::new()),
        })
    }

    fn pods(&self) -> std::sync::MutexGuard<'_, HashMap<String, Running>> {
        self.pods.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Follows every pod until the task is aborted.
    pub async fn run(self: Arc<Self>) {
        let api: Api<Pod> = match &self.config.namespace {
            Some(ns) => Api::namespaced(self.client.clone(), ns),
            None => Api::all(self.client.clone()),
        };
        let mut events = watcher::watcher(api, watcher::Config::default())
            .default_backoff()
            .boxed();
        while let Some(event) = events.next().await {
            match event {
                Ok(Event::Apply(pod) | Event::InitApply(pod)) => self.observe(pod),
                Ok(Event::Delete(pod)) => self.forget(&pod.uid().unwrap_or_default()),
                Ok(_) => {}
                Err(error) => tracing::debug!(%error, "pod watch interrupted"),
            }
        }
    }

    fn observe(self: &Arc<Self>, pod: Pod) {
        let uid = pod.uid().unwrap_or_default();
        let mut pods = self.pods();
        if let Some(running) = pods.get(&uid) {
            if pod.metadata.deletion_timestamp.is_some() {
                running.stop.send_replace(true);
            }
            return;
        }
        if pod.metadata.deletion_timestamp.is_some() {
            return;
        }
        let phase = pod
            .status
            .as_ref()
            .and_then(|s| s.phase.clone())
            .unwrap_or_default();
        let (stop, stopped) = watch::channel(false);
        let kubelet = self.clone();
        let task = match phase.as_str() {
            "Succeeded" | "Failed" => return,
            // A pod running when an earlier executor went away: its process is gone.
            "Running" => tokio::spawn(async move {
                kubelet
                    .write_status(
                        &pod,
                        failed_status(
                            "ProcessLost",
                            "the local executor that ran this pod stopped; its process is gone",
                            None,
                        ),
                    )
                    .await;
            }),
            _ => tokio::spawn(async move { kubelet.run_pod(pod, stopped).await }),
        };
        pods.insert(uid, Running { stop, task });
    }

    fn forget(&self, uid: &str) {
        if let Some(running) = self.pods().remove(uid) {
            running.stop.send_replace(true);
        }
    }

    /// Tells every pod to stop, without waiting.
    pub fn stop_all(&self) {
        for running in self.pods().values() {
            running.stop.send_replace(true);
        }
    }

    /// Stops every process and waits for them.
    pub async fn shutdown(&self) {
        let running: Vec<Running> = self.pods().drain().map(|(_, r)| r).collect();
        for r in &running {
            r.stop.send_replace(true);
        }
        for r in running {
            let _ = r.task.await;
        }
    }

    async fn write_status(&self, pod: &Pod, status: Value) {
        let api: Api<Pod> =
            Api::namespaced(self.client.clone(), &pod.namespace().unwrap_or_default());
        let body = json!({"apiVersion": "v1", "kind": "Pod", "status": status});
        let params = PatchParams::apply(MANAGER).force();
        for attempt in 0..5u32 {
            match api
                .patch_status(&pod.name_any(), &params, &Patch::Apply(&body))
                .await
            {
                Ok(_) => return,
                Err(kube::Error::Api(s)) if s.code == 404 => return,
                Err(error) => {
                    tracing::debug!(%error, pod = %pod.name_any(), "pod status not written yet");
                    tokio::time::sleep(Duration::from_millis(50 * 2u64.pow(attempt))).await;
                }
            }
        }
    }

    async fn publish_address(&self, pod: &Pod, port: u16) {
        let api: Api<Pod> =
            Api::namespaced(self.client.clone(), &pod.namespace().unwrap_or_default());
        let patch =
            json!({"metadata": {"annotations": {LOCAL_ADDRESS: format!("127.0.0.1:{port}")}}});
        let params = PatchParams {
            field_manager: Some(MANAGER.into()),
            ..PatchParams::default()
        };
        if let Err(error) = api
            .patch(&pod.name_any(), &params, &Patch::Merge(&patch))
            .await
        {
            tracing::debug!(%error, pod = %pod.name_any(), "pod address not published");
        }
    }

    async fn run_pod(&self, pod: Pod, mut stopped: watch::Receiver<bool>) {
        let plan = match process::plan(&self.client, &self.config, &pod).await {
            Ok(plan) => plan,
            Err(why) => {
                let container = pod
                    .spec
                    .as_ref()
                    .and_then(|s| s.containers.first())
                    .map(|c| (c.name.clone(), c.image.clone().unwrap_or_default()));
                self.write_status(
                    &pod,
                    failed_status("UnsupportedByLocalExecutor", &why, container),
                )
                .await;
                return;
            }
        };
        if let Some(port) = plan.port {
            self.publish_address(&pod, port).await;
        }
        let started = meta::now();
        let mut restarts = 0u32;
        let mut last_state: Option<Value> = None;
        loop {
            let container_started = meta::now();
            let mut child = match process::spawn(&plan) {
                Ok(child) => child,
                Err(why) => {
                    let terminated = terminated(128, "StartError", &why, &container_started, "");
                    let status = pod_status(
                        &plan, &started, "Failed", false, restarts, terminated, last_state,
                    );
                    self.write_status(&pod, status).await;
                    return;
                }
            };
            let container_id = format!("local://{}", child.id().unwrap_or_default());
            let mut ready = plan.readiness_path.is_none();
            let running = json!({"running": {"startedAt": container_started}});
            let with_id = |state: Value, ready: bool, last: &Option<Value>| {
                let mut status = pod_status(
                    &plan,
                    &started,
                    "Running",
                    ready,
                    restarts,
                    state,
                    last.clone(),
                );
                status["containerStatuses"][0]["containerID"] = Value::from(container_id.clone());
                status
            };
            self.write_status(&pod, with_id(running.clone(), ready, &last_state))
                .await;
            let mut killed = false;
            let exit = loop {
                tokio::select! {
                    status = child.wait() => break status.ok(),
                    _ = stop_requested(&mut stopped) => {
                        killed = true;
                        break process::terminate(&mut child, plan.grace).await;
                    }
                    _ = tokio::time::sleep(self.config.readiness_period), if !ready => {
                        if let (Some(port), Some(path)) = (plan.port, &plan.readiness_path)
                            && probe::http_ready(port, path, Duration::from_secs(1)).await
                        {
                            ready = true;
                            self.write_status(&pod, with_id(running.clone(), true, &last_state)).await;
                        }
                    }
                }
            };
            let code = process::exit_code(exit);
            let message = process::termination_message(&plan, code);
            let reason = if code == 0 { "Completed" } else { "Error" };
            let state = terminated(code, reason, &message, &container_started, &container_id);
            if killed || plan.restart == Restart::Never {
                let phase = if code == 0 { "Succeeded" } else { "Failed" };
                let mut status =
                    pod_status(&plan, &started, phase, false, restarts, state, last_state);
                status["containerStatuses"][0]["containerID"] = Value::from(container_id);
                self.write_status(&pod, status).await;
                return;
            }
            // restartPolicy Always: the container restarts in place, after a growing delay.
            restarts += 1;
            last_state = Some(state);
            let delay = self
                .config
                .restart_backoff
                .saturating_mul(2u32.saturating_pow(restarts.saturating_sub(1).min(10)))
                .min(Duration::from_secs(300));
            let waiting = json!({"waiting": {"reason": "CrashLoopBackOff", "message": format!("back-off {delay:?} restarting failed container {}", plan.container)}});
            self.write_status(
                &pod,
                pod_status(
                    &plan,
                    &started,
                    "Running",
                    false,
                    restarts,
                    waiting,
                    last_state.clone(),
                ),
            )
            .await;
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = stop_requested(&mut stopped) => return,
            }
        }
    }
}

/// Resolves once the pod is told to stop (or its handle is gone).
async fn stop_requested(stopped: &mut watch::Receiver<bool>) {
    let _ = stopped.wait_for(|s| *s).await;
}

fn terminated(code: i32, reason: &str, message: &str, started: &str, container_id: &str) -> Value {
    let mut state = json!({"terminated": {
        "exitCode": code,
        "reason": reason,
        "startedAt": started,
        "finishedAt": meta::now(),
    }});
    if !message.is_empty() {
        state["terminated"]["message"] = Value::from(message);
    }
    if !container_id.is_empty() {
        state["terminated"]["containerID"] = Value::from(container_id);
    }
    state
}

fn conditions(ready: bool, since: &str) -> Value {
    let ready = if ready { "True" } else { "False" };
    json!([
        {"type": "PodScheduled", "status": "True", "lastTransitionTime": since},
        {"type": "Initialized", "status": "True", "lastTransitionTime": since},
        {"type": "ContainersReady", "status": ready, "lastTransitionTime": meta::now()},
        {"type": "Ready", "status": ready, "lastTransitionTime": meta::now()},
    ])
}

fn pod_status(
    plan: &Plan,
    started: &str,
    phase: &str,
    ready: bool,
    restarts: u32,
    state: Value,
    last_state: Option<Value>,
) -> Value {
    let running = state.get("running").is_some();
    let mut container = json!({
        "name": plan.container,
        "image": plan.image,
        "imageID": "",
        "ready": ready,
        "started": running,
        "restartCount": restarts,
        "state": state,
    });
    if let Some(last) = last_state {
        container["lastState"] = last;
    }
    json!({
        "phase": phase,
        "conditions": conditions(ready, started),
        "hostIP": "127.0.0.1",
        "hostIPs": [{"ip": "127.0.0.1"}],
        "podIP": "127.0.0.1",
        "podIPs": [{"ip": "127.0.0.1"}],
        "startTime": started,
        "containerStatuses": [container],
    })
}

/// The status of a pod that cannot run here.
fn failed_status(reason: &str, message: &str, container: Option<(String, String)>) -> Value {
    let now = meta::now();
    let mut status = json!({
        "phase": "Failed",
        "reason": reason,
        "message": message,
        "conditions": conditions(false, &now),
        "startTime": now,
    });
    if let Some((name, image)) = container {
        status["containerStatuses"] = json!([{
            "name": name,
            "image": image,
            "imageID": "",
            "ready": false,
            "started": false,
            "restartCount": 0,
            "state": {"terminated": {"exitCode": 128, "reason": reason, "message": message, "startedAt": now, "finishedAt": now}},
        }]);
    }
    status
}

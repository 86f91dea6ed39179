//! The local executor: Jobs run the runner as processes with batch/v1 semantics, pods that
//! are not the runner fail clearly, Deployments serve on local ports behind their Service and
//! roll out a new template within their strategy, and a killed process is a failed pod.

mod support;

use futures::StreamExt;
use k8s_openapi::api::apps::v1::{Deployment, DeploymentStatus};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ConfigMap, Pod, Secret, Service};
use kube::api::{
    Api, DeleteParams, ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams,
};
use kube::{Client, ResourceExt};
use lepton_embedded_cluster::EmbeddedCluster;
use lepton_embedded_cluster::executor::{ExecutorConfig, LOCAL_ADDRESS, LocalExecutor};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use support::eventually;

const WAIT: Duration = Duration::from_secs(30);
/// How long a rollout may take on a loaded machine.
const ROLLOUT_WAIT: Duration = Duration::from_secs(60);
const RUNNER_IMAGE: &str = "ghcr.io/lepton-ai/lepton-runner:0.1.0";

struct Local {
    _cluster: EmbeddedCluster,
    client: Client,
    executor: Option<LocalExecutor>,
    work_dir: PathBuf,
}

impl Local {
    async fn start() -> Self {
        let (cluster, client) = support::embedded().await;
        let work_dir = std::env::temp_dir().join(support::unique("lepton-executor"));
        let mut config = ExecutorConfig::new(env!("CARGO_BIN_EXE_lepton-runner-stub"));
        config.work_dir = work_dir.clone();
        config.job_backoff = Duration::from_millis(50);
        config.restart_backoff = Duration::from_millis(50);
        config.readiness_period = Duration::from_millis(50);
        config.max_termination_grace = Duration::from_secs(1);
        let executor = LocalExecutor::start(client.clone(), config);
        Self {
            _cluster: cluster,
            client,
            executor: Some(executor),
            work_dir,
        }
    }

    fn api<K>(&self) -> Api<K>
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>,
        <K as kube::Resource>::DynamicType: Default,
    {
        Api::namespaced(self.client.clone(), "default")
    }

    async fn stop(mut self) {
        if let Some(executor) = self.executor.take() {
            executor.shutdown().await;
        }
        let _ = std::fs::remove_dir_all(&self.work_dir);
    }
}

fn job(name: &str, args: &[&str], spec: Value) -> Job {
    let mut job = json!({
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name},
        "spec": {
            "template": {"spec": {
                "restartPolicy": "Never",
                "containers": [{"name": "runner", "image": RUNNER_IMAGE, "args": args}],
            }},
        },
    });
    if let Some(extra) = spec.as_object() {
        for (k, v) in extra {
            job["spec"][k] = v.clone();
        }
    }
    serde_json::from_value(job).unwrap()
}

fn condition(job: &Job, kind: &str) -> Option<(String, String)> {
    job.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == kind && c.status == "True")
        .map(|c| {
            (
                c.reason.clone().unwrap_or_default(),
                c.message.clone().unwrap_or_default(),
            )
        })
}

async fn finished(api: &Api<Job>, name: &str) -> Job {
    eventually(WAIT, "the job to finish", || async {
        let job = api.get(name).await.ok()?;
        (condition(&job, "Complete").is_some() || condition(&job, "Failed").is_some())
            .then_some(job)
    })
    .await
}

async fn pods_of(api: &Api<Pod>, job: &str) -> Vec<Pod> {
    let mut pods = api
        .list(&ListParams::default().labels(&format!("batch.kubernetes.io/job-name={job}")))
        .await
        .unwrap()
        .items;
    pods.sort_by_key(|p| p.creation_timestamp().map(|t| t.0));
    pods
}

/// (exit code, reason, message) of a pod's terminated container.
fn terminated(pod: &Pod) -> Option<(i32, String, String)> {
    let state = pod
        .status
        .as_ref()?
        .container_statuses
        .as_ref()?
        .first()?
        .state
        .as_ref()?;
    let t = state.terminated.as_ref()?;
    Some((
        t.exit_code,
        t.reason.clone().unwrap_or_default(),
        t.message.clone().unwrap_or_default(),
    ))
}

fn phase(pod: &Pod) -> String {
    pod.status
        .as_ref()
        .and_then(|s| s.phase.clone())
        .unwrap_or_default()
}

#[tokio::test]
async fn a_job_runs_the_runner_and_completes() {
    let local = Local::start().await;
    let jobs: Api<Job> = local.api();
    jobs.create(
        &PostParams::default(),
        &job("ok", &["train", "--message", "auc=0.91"], json!({})),
    )
    .await
    .unwrap();
    let done = finished(&jobs, "ok").await;
    assert_eq!(
        condition(&done, "Complete").unwrap().0,
        "CompletionsReached"
    );
    assert!(condition(&done, "SuccessCriteriaMet").is_some());
    let status = done.status.unwrap();
    assert_eq!(
        (status.succeeded, status.failed, status.active),
        (Some(1), Some(0), Some(0))
    );
    assert!(status.start_time.is_some() && status.completion_time.is_some());

    let pods = pods_of(&local.api(), "ok").await;
    assert_eq!(pods.len(), 1);
    assert_eq!(phase(&pods[0]), "Succeeded");
    assert_eq!(
        terminated(&pods[0]).unwrap(),
        (0, "Completed".into(), "auc=0.91".into())
    );
    let owner = &pods[0].owner_references()[0];
    assert_eq!((owner.kind.as_str(), owner.controller), ("Job", Some(true)));
    let log = local
        .work_dir
        .join("pods/default")
        .join(pods[0].name_any())
        .join("runner.log");
    assert!(std::fs::read_to_string(log).unwrap().contains("training"));
    local.stop().await;
}

#[tokio::test]
async fn a_failing_job_retries_until_its_backoff_limit() {
    let local = Local::start().await;
    let jobs: Api<Job> = local.api();
    jobs.create(
        &PostParams::default(),
        &job(
            "bad",
            &["train", "--exit-code", "3", "--message", "no data"],
            json!({"backoffLimit": 1}),
        ),
    )
    .await
    .unwrap();
    let done = finished(&jobs, "bad").await;
    assert_eq!(
        condition(&done, "Failed").unwrap().0,
        "BackoffLimitExceeded"
    );
    assert_eq!(
        condition(&done, "FailureTarget").unwrap().0,
        "BackoffLimitExceeded"
    );
    assert_eq!(done.status.as_ref().unwrap().failed, Some(2));
    let pods = pods_of(&local.api(), "bad").await;
    assert_eq!(pods.len(), 2);
    for pod in &pods {
        assert_eq!(phase(pod), "Failed");
        assert_eq!(
            terminated(pod).unwrap(),
            (3, "Error".into(), "no data".into())
        );
    }
    local.stop().await;
}

#[tokio::test]
async fn a_job_replaces_a_failed_pod_and_then_completes() {
    let local = Local::start().await;
    let state = local.work_dir.join("attempts");
    std::fs::create_dir_all(&local.work_dir).unwrap();
    let state = state.display().to_string();
    let jobs: Api<Job> = local.api();
    jobs.create(
        &PostParams::default(),
        &job(
            "flaky",
            &["train", "--fail-times", "1", "--state", &state],
            json!({"backoffLimit": 3}),
        ),
    )
    .await
    .unwrap();
    let done = finished(&jobs, "flaky").await;
    assert!(condition(&done, "Complete").is_some(), "{:?}", done.status);
    let status = done.status.unwrap();
    assert_eq!((status.succeeded, status.failed), (Some(1), Some(1)));
    let mut messages: Vec<(String, String)> = pods_of(&local.api(), "flaky")
        .await
        .iter()
        .map(|p| (phase(p), terminated(p).unwrap().2))
        .collect();
    messages.sort();
    assert_eq!(
        messages,
        [
            ("Failed".into(), "attempt 1 failed".into()),
            ("Succeeded".into(), String::new())
        ]
    );
    local.stop().await;
}

#[tokio::test]
async fn an_active_deadline_stops_the_job() {
    let local = Local::start().await;
    let jobs: Api<Job> = local.api();
    jobs.create(
        &PostParams::default(),
        &job(
            "slow",
            &["train", "--sleep-ms", "20000"],
            json!({"activeDeadlineSeconds": 1}),
        ),
    )
    .await
    .unwrap();
    let done = finished(&jobs, "slow").await;
    let (reason, message) = condition(&done, "Failed").unwrap();
    assert_eq!(reason, "DeadlineExceeded");
    assert_eq!(message, "Job was active longer than specified deadline");
    let pods: Api<Pod> = local.api();
    eventually(WAIT, "the running pod to be removed", || async {
        pods_of(&pods, "slow").await.is_empty().then_some(())
    })
    .await;
    local.stop().await;
}

#[tokio::test]
async fn pods_get_their_environment_from_values_fields_config_maps_and_secrets() {
    let local = Local::start().await;
    let config_maps: Api<ConfigMap> = local.api();
    let mut cm = ConfigMap::default();
    cm.metadata.name = Some("settings".into());
    cm.data = Some([("mode".to_owned(), "fast".to_owned())].into());
    config_maps
        .create(&PostParams::default(), &cm)
        .await
        .unwrap();
    let secrets: Api<Secret> = local.api();
    let secret: Secret = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "creds"},
        "stringData": {"token": "s3cr3t"},
    }))
    .unwrap();
    secrets
        .create(&PostParams::default(), &secret)
        .await
        .unwrap();
    let pods: Api<Pod> = local.api();
    let pod: Pod = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "env", "labels": {"app": "env"}},
        "spec": {"restartPolicy": "Never", "containers": [{
            "name": "runner",
            "command": ["lepton-runner"],
            "args": ["train", "--message-from-env", "PLAIN", "--message-from-env", "POD",
                     "--message-from-env", "APP", "--message-from-env", "MODE",
                     "--message-from-env", "TOKEN"],
            "env": [
                {"name": "PLAIN", "value": "v"},
                {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                {"name": "APP", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['app']"}}},
                {"name": "MODE", "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "mode"}}},
                {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "token"}}},
            ],
        }]},
    }))
    .unwrap();
    pods.create(&PostParams::default(), &pod).await.unwrap();
    let done = eventually(WAIT, "the pod to finish", || async {
        let pod = pods.get("env").await.ok()?;
        terminated(&pod)
    })
    .await;
    assert_eq!(done.2, "PLAIN=v;POD=env;APP=env;MODE=fast;TOKEN=s3cr3t;");
    local.stop().await;
}

#[tokio::test]
async fn a_pod_that_is_not_the_runner_fails_and_says_why() {
    let local = Local::start().await;
    let pods: Api<Pod> = local.api();
    let pod: Pod = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "web"},
        "spec": {"containers": [{"name": "nginx", "image": "nginx:1.27"}]},
    }))
    .unwrap();
    pods.create(&PostParams::default(), &pod).await.unwrap();
    let failed = eventually(WAIT, "the pod to fail", || async {
        let pod = pods.get("web").await.ok()?;
        (phase(&pod) == "Failed").then_some(pod)
    })
    .await;
    let status = failed.status.unwrap();
    assert_eq!(status.reason.as_deref(), Some("UnsupportedByLocalExecutor"));
    let message = status.message.unwrap();
    assert!(
        message.contains("\"nginx:1.27\"") && message.contains("only Lepton's runner"),
        "{message}"
    );
    local.stop().await;
}

fn pid_of(pod: &Pod) -> Option<u32> {
    let id = pod
        .status
        .as_ref()?
        .container_statuses
        .as_ref()?
        .first()?
        .container_id
        .clone()?;
    id.strip_prefix("local://")?.parse().ok().filter(|p| *p > 0)
}

fn alive(pid: u32) -> bool {
    std::process::Command::new("kill")
        .args(["-0", &pid.to_string()])
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn kill(pid: u32) {
    std::process::Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()
        .unwrap();
}

#[tokio::test]
async fn killing_a_process_fails_its_pod_and_job() {
    let local = Local::start().await;
    let jobs: Api<Job> = local.api();
    jobs.create(
        &PostParams::default(),
        &job(
            "victim",
            &["train", "--sleep-ms", "30000"],
            json!({"backoffLimit": 0}),
        ),
    )
    .await
    .unwrap();
    let pods: Api<Pod> = local.api();
    let pid = eventually(WAIT, "the pod to run", || async {
        let pods = pods_of(&pods, "victim").await;
        pid_of(pods.first()?)
    })
    .await;
    kill(pid);
    let done = finished(&jobs, "victim").await;
    assert_eq!(
        condition(&done, "Failed").unwrap().0,
        "BackoffLimitExceeded"
    );
    let pod = pods_of(&pods, "victim").await.remove(0);
    assert_eq!(phase(&pod), "Failed");
    assert_eq!(terminated(&pod).unwrap().0, 137);
    local.stop().await;
}

async fn http_get(address: &str, path: &str) -> Option<(u16, String)> {
    let mut stream = tokio::net::TcpStream::connect(address).await.ok()?;
    stream
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .await
        .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).await.ok()?;
    let code = response.split_whitespace().nth(1)?.parse().ok()?;
    let body = response
        .split("\r\n\r\n")
        .nth(1)
        .unwrap_or_default()
        .to_owned();
    Some((code, body))
}

fn serving_deployment(replicas: i32) -> Deployment {
    serde_json::from_value(json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "serve"},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "serve"}},
            "template": {
                "metadata": {"labels": {"app": "serve"}},
                "spec": {"containers": [{
                    "name": "runner",
                    "image": RUNNER_IMAGE,
                    "args": ["serve", "--ready-after-ms", "200"],
                    "ports": [{"containerPort": 8080}],
                }]},
            },
        },
    }))
    .unwrap()
}

/// A Service `serve` in front of the `app=serve` pods; returns its local address.
async fn expose(local: &Local) -> String {
    let services: Api<Service> = local.api();
    let service: Service = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "serve"},
        "spec": {"selector": {"app": "serve"}, "ports": [{"port": 80, "targetPort": 8080}]},
    }))
    .unwrap();
    services
        .create(&PostParams::default(), &service)
        .await
        .unwrap();
    eventually(WAIT, "the service address", || async {
        services
            .get("serve")
            .await
            .ok()?
            .annotations()
            .get(LOCAL_ADDRESS)
            .cloned()
    })
    .await
}

/// Waits until the Deployment `serve` reports `replicas` ready pods.
async fn ready_replicas(deployments: &Api<Deployment>, replicas: i32) -> DeploymentStatus {
    eventually(WAIT, "ready replicas", || async {
        let status = deployments.get("serve").await.ok()?.status?;
        (status.ready_replicas == Some(replicas)).then_some(status)
    })
    .await
}

#[tokio::test]
async fn a_deployment_serves_behind_its_service_and_survives_a_killed_process() {
    let local = Local::start().await;
    let deployments: Api<Deployment> = local.api();
    deployments
        .create(&PostParams::default(), &serving_deployment(2))
        .await
        .unwrap();
    let address = expose(&local).await;
    let ready = ready_replicas(&deployments, 2).await;
    assert_eq!(ready.available_replicas, Some(2));
    assert_eq!(ready.observed_generation, Some(1));
    let available = ready.conditions.unwrap();
    assert!(available.iter().any(|c| c.type_.as_deref() == Some("Available") && c.status.as_deref() == Some("True")));

    let (code, _) = http_get(&address, "/v2/health/ready")
        .await
        .expect("an answer");
    assert_eq!(code, 200);
    let mut backends = std::collections::BTreeSet::new();
    for _ in 0..6 {
        if let Some((200, body)) = http_get(&address, "/whoami").await {
            backends.insert(body);
        }
    }
    assert_eq!(
        backends.len(),
        2,
        "round robin over both replicas: {backends:?}"
    );

    // A killed serving process is restarted in place and becomes ready again.
    let pods: Api<Pod> = local.api();
    let list = pods
        .list(&ListParams::default().labels("app=serve"))
        .await
        .unwrap();
    let victim = list.items[0].clone();
    kill(pid_of(&victim).unwrap());
    eventually(WAIT, "the restarted container to be ready", || async {
        let pod = pods.get(&victim.name_any()).await.ok()?;
        let status = pod.status?.container_statuses?.remove(0);
        (status.restart_count == 1 && status.ready).then_some(())
    })
    .await;

    // Scaling down removes a replica and stops its process.
    let pids: Vec<u32> = pods
        .list(&ListParams::default().labels("app=serve"))
        .await
        .unwrap()
        .items
        .iter()
        .filter_map(pid_of)
        .collect();
    deployments
        .patch(
            "serve",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 1}})),
        )
        .await
        .unwrap();
    eventually(WAIT, "one replica left", || async {
        let left = pods
            .list(&ListParams::default().labels("app=serve"))
            .await
            .ok()?;
        let status = deployments.get("serve").await.ok()?.status?;
        (left.items.len() == 1 && status.replicas == Some(1) && status.ready_replicas == Some(1))
            .then_some(())
    })
    .await;
    eventually(WAIT, "the removed replica's process to stop", || async {
        (pids.iter().filter(|p| alive(**p)).count() == 1).then_some(())
    })
    .await;
    local.stop().await;
}

#[tokio::test]
async fn deleting_a_pod_stops_its_process() {
    let local = Local::start().await;
    let pods: Api<Pod> = local.api();
    let pod: Pod = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "lone"},
        "spec": {"containers": [{"name": "runner", "image": RUNNER_IMAGE, "args": ["train", "--sleep-ms", "30000"]}]},
    }))
    .unwrap();
    pods.create(&PostParams::default(), &pod).await.unwrap();
    let pid = eventually(WAIT, "the pod to run", || async {
        pid_of(&pods.get("lone").await.ok()?)
    })
    .await;
    assert!(alive(pid));
    pods.delete("lone", &DeleteParams::default()).await.unwrap();
    eventually(WAIT, "the process to stop", || async {
        (!alive(pid)).then_some(())
    })
    .await;
    local.stop().await;
}

/// Every state a set of objects went through, from a list and then a watch: each event is one
/// state of the API server, so no moment is missed, as one could be between two polls.
struct Follower<T> {
    stop: oneshot::Sender<()>,
    task: JoinHandle<Vec<T>>,
}

impl<T> Follower<T> {
    /// Stops following and returns what `view` said of each state, in order.
    async fn states(self) -> Vec<T> {
        let _ = self.stop.send(());
        self.task.await.unwrap()
    }
}

/// Follows the objects `params` selects, keeping `view` of the whole set after each change.
async fn follow<K, T>(
    api: Api<K>,
    params: ListParams,
    view: impl Fn(&BTreeMap<String, K>) -> T + Send + 'static,
) -> Follower<T>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug + Send + 'static,
    T: Send + 'static,
{
    let list = api.list(&params).await.unwrap();
    let mut objects: BTreeMap<String, K> =
        list.items.into_iter().map(|o| (o.name_any(), o)).collect();
    let mut version = list.metadata.resource_version.unwrap_or_default();
    let watch = WatchParams {
        label_selector: params.label_selector,
        field_selector: params.field_selector,
        ..WatchParams::default()
    };
    let (stop, mut stopped) = oneshot::channel();
    let task = tokio::spawn(async move {
        let mut states = vec![view(&objects)];
        // A watch may end (its timeout); the next one resumes from the last version seen.
        loop {
            let mut events = api.watch(&watch, &version).await.unwrap().boxed();
            loop {
                let event = tokio::select! {
                    event = events.next() => event,
                    _ = &mut stopped => return states,
                };
                let Some(event) = event else { break };
                let object = match event.unwrap() {
                    WatchEvent::Added(o) | WatchEvent::Modified(o) => {
                        objects.insert(o.name_any(), o.clone());
                        o
                    }
                    WatchEvent::Deleted(o) => {
                        objects.remove(&o.name_any());
                        o
                    }
                    WatchEvent::Bookmark(_) => continue,
                    WatchEvent::Error(e) => panic!("watch failed: {e:?}"),
                };
                version = object.resource_version().unwrap_or_default();
                states.push(view(&objects));
            }
        }
    });
    Follower { stop, task }
}

/// A pod as the rollout checks see it: its template hash and whether it is ready.
type PodState = (String, bool);

fn template_hash(pod: &Pod) -> String {
    pod.labels()
        .get("pod-template-hash")
        .cloned()
        .unwrap_or_default()
}

fn pod_states(pods: &BTreeMap<String, Pod>) -> Vec<PodState> {
    pods.values()
        .map(|p| {
            let ready = p
                .status
                .as_ref()
                .and_then(|s| s.conditions.as_ref())
                .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"));
            (template_hash(p), ready)
        })
        .collect()
}

fn ready_count(state: &[PodState]) -> usize {
    state.iter().filter(|(_, ready)| *ready).count()
}

/// The Deployment `serve` with `replicas` and `strategy` (none: the defaults).
fn deployment_with(replicas: i32, strategy: Option<Value>) -> Deployment {
    let mut deployment = serving_deployment(replicas);
    if let Some(strategy) = strategy {
        deployment.spec.strategy = Some(serde_json::from_value(strategy).unwrap());
    }
    deployment
}

/// The template hash all of `serve`'s pods have now.
async fn only_hash(pods: &Api<Pod>) -> String {
    let list = pods
        .list(&ListParams::default().labels("app=serve"))
        .await
        .unwrap();
    let hashes: std::collections::BTreeSet<String> = list.items.iter().map(template_hash).collect();
    assert_eq!(hashes.len(), 1, "{hashes:?}");
    hashes.into_iter().next().unwrap()
}

/// A new model version: another environment and a slower start, so old and new pods overlap.
async fn change_template(deployments: &Api<Deployment>) {
    let patch = json!({"spec": {"template": {"spec": {"containers": [{
        "name": "runner",
        "image": RUNNER_IMAGE,
        "args": ["serve", "--ready-after-ms", "300"],
        "ports": [{"containerPort": 8080}],
        "env": [{"name": "MODEL_VERSION", "value": "2"}],
    }]}}}});
    deployments
        .patch("serve", &PatchParams::default(), &Patch::Merge(patch))
        .await
        .unwrap();
}

fn progressing_reason(status: &DeploymentStatus) -> Option<String> {
    status
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_.as_deref() == Some("Progressing"))?
        .reason
        .clone()
}

/// Waits until the new template has replaced every pod: the status says so and only pods
/// with a hash other than `old` are left.
async fn rolled_out(local: &Local, replicas: i32, old: &str) {
    let deployments: Api<Deployment> = local.api();
    let pods: Api<Pod> = local.api();
    eventually(ROLLOUT_WAIT, "the rollout to complete", || async {
        let status = deployments.get("serve").await.ok()?.status?;
        let done = status.observed_generation == Some(2)
            && status.replicas == Some(replicas)
            && status.updated_replicas == Some(replicas)
            && status.ready_replicas == Some(replicas)
            && status.available_replicas == Some(replicas)
            && status.unavailable_replicas.unwrap_or(0) == 0
            && progressing_reason(&status).as_deref() == Some("NewReplicaSetAvailable");
        let left = pods
            .list(&ListParams::default().labels("app=serve"))
            .await
            .ok()?
            .items;
        let replaced =
            left.len() == replicas as usize && left.iter().all(|p| template_hash(p) != old);
        (done && replaced).then_some(())
    })
    .await;
}

/// Requests sent through an address back to back until stopped, each on a new connection, so
/// some are in flight whenever a pod goes.
struct Load {
    stop: Arc<AtomicBool>,
    task: JoinHandle<(usize, Vec<String>)>,
}

impl Load {
    fn start(address: String) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let task = tokio::spawn(async move {
            let (mut answered, mut failures) = (0, Vec::new());
            while !stopped.load(Ordering::Relaxed) {
                let answer = tokio::time::timeout(
                    Duration::from_secs(10),
                    http_get(&address, "/v2/health/ready"),
                )
                .await;
                match answer {
                    Ok(Some((200, _))) => answered += 1,
                    other => failures.push(format!("{other:?}")),
                }
                tokio::task::yield_now().await;
            }
            (answered, failures)
        });
        Self { stop, task }
    }

    /// Stops and returns (requests answered 200, what the others got).
    async fn finish(self) -> (usize, Vec<String>) {
        self.stop.store(true, Ordering::Relaxed);
        self.task.await.unwrap()
    }
}

/// Creates `serve` with `replicas` and `strategy` and waits until it is ready; returns the
/// template hash of its pods.
async fn ready_deployment(local: &Local, replicas: i32, strategy: Option<Value>) -> String {
    let deployments: Api<Deployment> = local.api();
    deployments
        .create(&PostParams::default(), &deployment_with(replicas, strategy))
        .await
        .unwrap();
    ready_replicas(&deployments, replicas).await;
    only_hash(&local.api()).await
}

/// Changes the template of `serve` (of `replicas` pods of the `old` hash) and waits until it
/// is rolled out; returns every state its pods went through meanwhile.
async fn roll(local: &Local, replicas: i32, old: &str) -> Vec<Vec<PodState>> {
    let history = follow(
        local.api(),
        ListParams::default().labels("app=serve"),
        pod_states,
    )
    .await;
    change_template(&local.api()).await;
    rolled_out(local, replicas, old).await;
    history.states().await
}

#[tokio::test]
async fn a_rolling_update_of_one_replica_never_drops_a_request() {
    let local = Local::start().await;
    let old = ready_deployment(&local, 1, None).await;
    let address = expose(&local).await;
    let status_history = follow(
        local.api(),
        ListParams::default().fields("metadata.name=serve"),
        |d: &BTreeMap<String, Deployment>| d.get("serve").and_then(|d| d.status.clone()),
    )
    .await;
    let load = Load::start(address);
    let pod_states = roll(&local, 1, &old).await;
    let (answered, failures) = load.finish().await;
    let statuses = status_history.states().await;

    assert!(failures.is_empty(), "failed requests: {failures:?}");
    assert!(answered > 0);
    for state in &pod_states {
        assert!(ready_count(state) >= 1, "no ready pod: {pod_states:?}");
        assert!(state.len() <= 2, "more than one surge pod: {pod_states:?}");
    }
    // The new pod was ready next to the old one before the old one went.
    assert!(
        pod_states
            .iter()
            .any(|s| s.len() == 2 && ready_count(s) == 2),
        "{pod_states:?}"
    );
    // While an old pod remains, the Deployment says it is progressing.
    let rolling: Vec<&DeploymentStatus> = statuses
        .iter()
        .flatten()
        .filter(|s| s.observed_generation == Some(2) && s.replicas > s.updated_replicas)
        .collect();
    assert!(!rolling.is_empty(), "{statuses:?}");
    for status in rolling {
        assert_eq!(
            progressing_reason(status).as_deref(),
            Some("ReplicaSetUpdated")
        );
        assert_eq!(
            (status.replicas, status.updated_replicas),
            (Some(2), Some(1))
        );
        assert_eq!(
            status.unavailable_replicas.unwrap_or(0),
            2 - status.ready_replicas.unwrap_or(0)
        );
    }
    local.stop().await;
}

#[tokio::test]
async fn a_rolling_update_stays_within_max_surge_and_max_unavailable() {
    let local = Local::start().await;
    let strategy =
        json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 1}});
    let old = ready_deployment(&local, 3, Some(strategy)).await;
    let states = roll(&local, 3, &old).await;

    for state in &states {
        assert!(state.len() <= 4, "more than 3 + 1 pods: {states:?}");
        assert!(
            ready_count(state) >= 2,
            "fewer than 3 - 1 ready: {states:?}"
        );
    }
    // Old and new pods overlapped: it rolled rather than recreated.
    assert!(
        states
            .iter()
            .any(|s| s.iter().any(|(h, _)| *h == old) && s.iter().any(|(h, _)| *h != old)),
        "{states:?}"
    );
    local.stop().await;
}

#[tokio::test]
async fn recreate_removes_the_old_pods_before_creating_new_ones() {
    let local = Local::start().await;
    let old = ready_deployment(&local, 2, Some(json!({"type": "Recreate"}))).await;
    let states = roll(&local, 2, &old).await;

    for state in &states {
        let olds = state.iter().filter(|(h, _)| *h == old).count();
        assert!(
            olds == 0 || olds == state.len(),
            "old and new pods at once: {states:?}"
        );
    }
    assert!(states.iter().any(Vec::is_empty), "{states:?}");
    local.stop().await;
}

//! The local executor: Jobs run the runner as processes with batch/v1 semantics, pods that
//! are not the runner fail clearly, Deployments serve on local ports behind their Service,
//! and a killed process is a failed pod.

mod support;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ConfigMap, Pod, Secret, Service};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};
use lepton_embedded_cluster::EmbeddedCluster;
use lepton_embedded_cluster::executor::{ExecutorConfig, LOCAL_ADDRESS, LocalExecutor};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use support::eventually;

const WAIT: Duration = Duration::from_secs(30);
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

#[tokio::test]
async fn a_deployment_serves_behind_its_service_and_survives_a_killed_process() {
    let local = Local::start().await;
    let deployments: Api<Deployment> = local.api();
    deployments
        .create(&PostParams::default(), &serving_deployment(2))
        .await
        .unwrap();
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

    let ready = eventually(WAIT, "two ready replicas", || async {
        let d = deployments.get("serve").await.ok()?;
        let status = d.status?;
        (status.ready_replicas == Some(2)).then_some(status)
    })
    .await;
    assert_eq!(ready.available_replicas, Some(2));
    assert_eq!(ready.observed_generation, Some(1));
    let available = ready.conditions.unwrap();
    assert!(available.iter().any(|c| c.type_.as_deref() == Some("Available") && c.status.as_deref() == Some("True")));

    let address = eventually(WAIT, "the service address", || async {
        services
            .get("serve")
            .await
            .ok()?
            .annotations()
            .get(LOCAL_ADDRESS)
            .cloned()
    })
    .await;
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

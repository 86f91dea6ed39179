//! The real `kubectl` against the embedded server, as a user of Lepton's local mode types it:
//! `get` with the server's printer columns (Table output) for the Lepton kinds and built-in
//! kinds, short names and the `lepton` category, `-o wide`, `describe` with events, `get -w`,
//! `wait --for=condition`, `explain` and `create -f` (which needs the OpenAPI documents).
//!
//! kubectl must be on `PATH`; without it these tests fail, unless `LEPTON_SKIP_KUBECTL=1`.

mod support;

use kube::Client;
use kube::api::{Api, ApiResource, DynamicObject, Patch, PatchParams, PostParams};
use lepton_crds::v1alpha1::{ModelDeployment, TrainingJob, TuningSweep};
use lepton_embedded_cluster::EmbeddedCluster;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

/// kubectl with a kubeconfig for one embedded cluster and a discovery cache of its own.
struct Kubectl {
    dir: PathBuf,
}

impl Kubectl {
    /// `None` when kubectl is missing and `LEPTON_SKIP_KUBECTL=1`; panics when it is missing
    /// otherwise.
    async fn for_cluster(cluster: &EmbeddedCluster) -> Option<Self> {
        let found = Command::new("kubectl")
            .args(["version", "--client"])
            .output()
            .await
            .is_ok_and(|o| o.status.success());
        if !found {
            if std::env::var("LEPTON_SKIP_KUBECTL").is_ok_and(|v| v == "1") {
                eprintln!("skipping: kubectl is not on PATH and LEPTON_SKIP_KUBECTL=1");
                return None;
            }
            panic!(
                "kubectl is not on PATH: install kubectl (https://kubernetes.io/docs/tasks/tools/) \
                 or set LEPTON_SKIP_KUBECTL=1 to skip the kubectl tests"
            );
        }
        let dir = std::env::temp_dir().join(support::unique("lepton-kubectl"));
        std::fs::create_dir_all(&dir).expect("a temporary directory");
        cluster
            .write_kubeconfig(&dir.join("kubeconfig"))
            .expect("kubeconfig written");
        Some(Self { dir })
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new("kubectl");
        command
            .arg("--kubeconfig")
            .arg(self.dir.join("kubeconfig"))
            .arg("--cache-dir")
            .arg(self.dir.join("cache"))
            .args(args)
            .env_remove("KUBECONFIG")
            .kill_on_drop(true);
        command
    }

    /// Runs kubectl and returns what it printed; panics with its error output if it fails.
    async fn run(&self, args: &[&str]) -> String {
        let (ok, stdout, stderr) = self.try_run(args, None).await;
        assert!(ok, "kubectl {}: {stderr}{stdout}", args.join(" "));
        stdout
    }

    /// Runs kubectl, with `stdin` as its input if given: success, output, error output.
    async fn try_run(&self, args: &[&str], stdin: Option<&str>) -> (bool, String, String) {
        let mut command = self.command(args);
        command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().expect("kubectl starts");
        let mut input = child.stdin.take().expect("stdin");
        let text = stdin.unwrap_or_default().to_owned();
        tokio::spawn(async move {
            use tokio::io::AsyncWriteExt;
            let _ = input.write_all(text.as_bytes()).await;
        });
        let output = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
            .await
            .expect("kubectl finishes within a minute")
            .expect("kubectl runs");
        (
            output.status.success(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    }
}

impl Drop for Kubectl {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The line of `output` that starts with `name` (after any kind prefix), split on runs of
/// spaces.
fn row<'a>(output: &'a str, name: &str) -> Vec<&'a str> {
    output
        .lines()
        .find(|l| {
            l.split_whitespace()
                .next()
                .is_some_and(|first| first == name)
        })
        .unwrap_or_else(|| panic!("no row {name:?} in:\n{output}"))
        .split_whitespace()
        .collect()
}

fn header(output: &str) -> Vec<&str> {
    output
        .lines()
        .next()
        .unwrap_or_default()
        .split("  ")
        .map(str::trim)
        .filter(|h| !h.is_empty())
        .collect()
}

fn lepton_api<K: kube::Resource<DynamicType = ()>>(client: &Client) -> Api<DynamicObject> {
    Api::namespaced_with(client.clone(), "default", &ApiResource::erase::<K>(&()))
}

/// Creates an object and then writes its status through the status subresource.
async fn create_with_status(api: &Api<DynamicObject>, object: Value, status: Value) {
    let object: DynamicObject = serde_json::from_value(object).expect("an object");
    let name = object.metadata.name.clone().unwrap();
    api.create(&PostParams::default(), &object)
        .await
        .expect("created");
    api.patch_status(
        &name,
        &PatchParams::default(),
        &Patch::Merge(json!({ "status": status })),
    )
    .await
    .expect("status written");
}

fn training_job(name: &str) -> Value {
    json!({
        "apiVersion": "lepton.ai/v1alpha1",
        "kind": "TrainingJob",
        "metadata": {"name": name},
        "spec": {"data": {"source": "pvc://datasets/islp/Default.csv", "target": "default"}},
    })
}

/// One TrainingJob, TuningSweep and ModelDeployment with the status a finished run has.
async fn lepton_objects(client: &Client) {
    create_with_status(
        &lepton_api::<TrainingJob>(client),
        training_job("credit"),
        json!({
            "phase": "Succeeded",
            "objective": {"metric": "auc", "value": 0.9312},
            "cost": {"total": 0.42},
            "model": {"family": "gbdt", "latencyP50Ms": 0.8},
        }),
    )
    .await;
    let sweep = json!({
        "apiVersion": "lepton.ai/v1alpha1",
        "kind": "TuningSweep",
        "metadata": {"name": "credit-default-sweep"},
        "spec": {
            "objective": {"metric": "auc"},
            "parameters": [{"name": "learningRate", "type": "double", "min": 0.001, "max": 0.1}],
            "maxTrials": 12,
            "template": {"spec": training_job("template")["spec"]},
        },
    });
    create_with_status(
        &lepton_api::<TuningSweep>(client),
        sweep,
        json!({
            "phase": "Running",
            "progress": "3/12",
            "bestTrial": {"name": "credit-default-sweep-2", "objective": 0.91},
        }),
    )
    .await;
    let deployment = json!({
        "apiVersion": "lepton.ai/v1alpha1",
        "kind": "ModelDeployment",
        "metadata": {"name": "credit-default"},
        "spec": {"model": {"tuningSweep": {"name": "credit-default-sweep"}}},
    });
    create_with_status(
        &lepton_api::<ModelDeployment>(client),
        deployment,
        json!({
            "phase": "Ready",
            "readyReplicas": 2,
            "url": "http://127.0.0.1:40123",
            "model": {"source": "credit-default-sweep-2"},
            "conditions": [{
                "type": "Ready", "status": "True", "reason": "Serving", "message": "serving",
                "lastTransitionTime": "2024-01-01T00:00:00Z",
            }],
        }),
    )
    .await;
}

#[tokio::test]
async fn kubectl_get_prints_the_lepton_printer_columns() {
    let (cluster, client) = support::embedded().await;
    let Some(kubectl) = Kubectl::for_cluster(&cluster).await else {
        return;
    };
    lepton_objects(&client).await;

    let all = kubectl.run(&["get", "tj,ts,md"]).await;
    assert_eq!(
        header(&all),
        ["NAME", "PHASE", "METRIC", "SCORE", "COST", "AGE"],
        "{all}"
    );
    let tj = row(&all, "trainingjob.lepton.ai/credit");
    assert_eq!(tj[1..5], ["Succeeded", "auc", "0.9312", "0.42"], "{all}");
    assert!(tj[5].ends_with('s'), "an age in seconds: {all}");
    let ts = row(&all, "tuningsweep.lepton.ai/credit-default-sweep");
    assert_eq!(ts[1..5], ["Running", "3/12", "auc", "0.91"], "{all}");
    let md = row(&all, "modeldeployment.lepton.ai/credit-default");
    assert_eq!(
        md[1..5],
        [
            "True",
            "2",
            "http://127.0.0.1:40123",
            "credit-default-sweep-2"
        ],
        "{all}"
    );
    for wide_only in ["FAMILY", "P50-MS", "REASON", "P99-MS", "DRIFT"] {
        assert!(
            !all.contains(wide_only),
            "{wide_only} is a wide column: {all}"
        );
    }

    let category = kubectl.run(&["get", "lepton"]).await;
    for name in [
        "trainingjob.lepton.ai/credit",
        "tuningsweep.lepton.ai/credit-default-sweep",
        "modeldeployment.lepton.ai/credit-default",
    ] {
        row(&category, name);
    }

    let wide = kubectl.run(&["get", "tj", "-o", "wide"]).await;
    assert_eq!(
        header(&wide),
        [
            "NAME", "PHASE", "METRIC", "SCORE", "COST", "FAMILY", "P50-MS", "AGE"
        ],
        "{wide}"
    );
    assert_eq!(row(&wide, "credit")[5..7], ["gbdt", "0.8"], "{wide}");

    let one = kubectl.run(&["get", "trainingjob", "credit"]).await;
    assert_eq!(row(&one, "credit")[1], "Succeeded", "{one}");
    let sorted = kubectl
        .run(&["get", "tj", "--sort-by=.status.phase", "--no-headers"])
        .await;
    assert_eq!(row(&sorted, "credit")[1], "Succeeded", "{sorted}");
}

#[tokio::test]
async fn kubectl_describe_shows_the_object_and_its_events() {
    let (cluster, client) = support::embedded().await;
    let Some(kubectl) = Kubectl::for_cluster(&cluster).await else {
        return;
    };
    lepton_objects(&client).await;
    let jobs = lepton_api::<TrainingJob>(&client);
    let uid = jobs.get("credit").await.unwrap().metadata.uid.unwrap();
    let now = jiff::Timestamp::from_second(jiff::Timestamp::now().as_second())
        .unwrap()
        .to_string();
    let event: k8s_openapi::api::core::v1::Event = serde_json::from_value(json!({
        "metadata": {"name": "credit.trained"},
        "involvedObject": {"apiVersion": "lepton.ai/v1alpha1", "kind": "TrainingJob",
                           "name": "credit", "namespace": "default", "uid": uid},
        "type": "Normal", "reason": "Trained", "message": "AUC 0.9312 on the validation split",
        "source": {"component": "lepton-operator"}, "count": 1,
        "firstTimestamp": now, "lastTimestamp": now,
    }))
    .unwrap();
    Api::namespaced(client.clone(), "default")
        .create(&PostParams::default(), &event)
        .await
        .expect("event created");

    let described = kubectl.run(&["describe", "tj", "credit"]).await;
    for expected in [
        "Name:         credit",
        "Kind:         TrainingJob",
        "Phase:",
        "Succeeded",
        "Target:",
        "Trained",
        "AUC 0.9312 on the validation split",
        "lepton-operator",
    ] {
        assert!(
            described.contains(expected),
            "{expected:?} in:\n{described}"
        );
    }

    let events = kubectl.run(&["get", "events"]).await;
    assert_eq!(
        header(&events),
        ["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"],
        "{events}"
    );
    assert!(
        events.contains("Normal   Trained   trainingjob/credit   AUC 0.9312"),
        "{events}"
    );
}

#[tokio::test]
async fn kubectl_get_prints_pod_job_deployment_and_service_columns() {
    let (cluster, client) = support::embedded().await;
    let Some(kubectl) = Kubectl::for_cluster(&cluster).await else {
        return;
    };
    let container = json!([{"name": "runner", "image": "lepton/runner:1"}]);
    let pods = Api::<DynamicObject>::namespaced_with(
        client.clone(),
        "default",
        &ApiResource::erase::<k8s_openapi::api::core::v1::Pod>(&()),
    );
    create_with_status(
        &pods,
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "train-abcde"},
               "spec": {"containers": container}}),
        json!({"phase": "Running", "podIP": "127.0.0.1", "containerStatuses": [{
            "name": "runner", "image": "lepton/runner:1", "imageID": "", "ready": true,
            "restartCount": 0, "state": {"running": {"startedAt": "2024-01-01T00:00:00Z"}},
        }]}),
    )
    .await;
    let jobs = Api::<DynamicObject>::namespaced_with(
        client.clone(),
        "default",
        &ApiResource::erase::<k8s_openapi::api::batch::v1::Job>(&()),
    );
    create_with_status(
        &jobs,
        json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "train"},
               "spec": {"template": {"spec": {"containers": container, "restartPolicy": "Never"}}}}),
        json!({"succeeded": 1, "startTime": "2024-01-01T00:00:00Z",
               "completionTime": "2024-01-01T00:01:30Z",
               "conditions": [{"type": "Complete", "status": "True"}]}),
    )
    .await;
    let deployments = Api::<DynamicObject>::namespaced_with(
        client.clone(),
        "default",
        &ApiResource::erase::<k8s_openapi::api::apps::v1::Deployment>(&()),
    );
    create_with_status(
        &deployments,
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "serve"},
               "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "serve"}},
                        "template": {"metadata": {"labels": {"app": "serve"}},
                                     "spec": {"containers": container}}}}),
        json!({"replicas": 2, "readyReplicas": 1, "updatedReplicas": 2, "availableReplicas": 1}),
    )
    .await;
    let service: k8s_openapi::api::core::v1::Service = serde_json::from_value(json!({
        "metadata": {"name": "serve"},
        "spec": {"selector": {"app": "serve"}, "ports": [{"port": 80, "targetPort": 8080}]},
    }))
    .unwrap();
    Api::namespaced(client.clone(), "default")
        .create(&PostParams::default(), &service)
        .await
        .expect("service created");

    let out = kubectl
        .run(&["get", "pods,jobs,deployments,services"])
        .await;
    let pod = row(&out, "pod/train-abcde");
    assert_eq!(pod[1..4], ["1/1", "Running", "0"], "{out}");
    let job = row(&out, "job.batch/train");
    assert_eq!(job[1..4], ["Complete", "1/1", "90s"], "{out}");
    let deployment = row(&out, "deployment.apps/serve");
    assert_eq!(deployment[1..4], ["1/2", "2", "1"], "{out}");
    let svc = row(&out, "service/serve");
    assert_eq!(
        svc[1..5],
        ["ClusterIP", "<none>", "<none>", "80/TCP"],
        "{out}"
    );
    for columns in [
        "READY   STATUS    RESTARTS   AGE",
        "STATUS     COMPLETIONS   DURATION   AGE",
        "READY   UP-TO-DATE   AVAILABLE   AGE",
        "TYPE        CLUSTER-IP   EXTERNAL-IP   PORT(S)   AGE",
    ] {
        assert!(out.contains(columns), "{columns:?} in:\n{out}");
    }

    let wide = kubectl.run(&["get", "pods", "-o", "wide"]).await;
    assert_eq!(row(&wide, "train-abcde")[5], "127.0.0.1", "{wide}");
    let all = kubectl.run(&["get", "all"]).await;
    for name in [
        "pod/train-abcde",
        "service/serve",
        "deployment.apps/serve",
        "job.batch/train",
    ] {
        row(&all, name);
    }
}

#[tokio::test]
async fn kubectl_watches_and_waits_for_a_condition() {
    let (cluster, client) = support::embedded().await;
    let Some(kubectl) = Kubectl::for_cluster(&cluster).await else {
        return;
    };
    let jobs = lepton_api::<TrainingJob>(&client);
    let job: DynamicObject = serde_json::from_value(training_job("watched")).unwrap();
    jobs.create(&PostParams::default(), &job).await.unwrap();

    let mut watch = kubectl
        .command(&["get", "tj", "-w"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("kubectl get -w starts");
    let mut lines = BufReader::new(watch.stdout.take().unwrap()).lines();
    let first = lines.next_line().await.unwrap().unwrap_or_default();
    assert!(first.starts_with("NAME "), "{first}");
    let second = lines.next_line().await.unwrap().unwrap_or_default();
    assert!(second.starts_with("watched "), "{second}");

    let wait = kubectl
        .command(&[
            "wait",
            "--for=condition=Succeeded",
            "tj/watched",
            "--timeout=30s",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .expect("kubectl wait starts");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let status = json!({"status": {"phase": "Succeeded", "conditions": [{
        "type": "Succeeded", "status": "True", "reason": "Trained", "message": "done",
        "lastTransitionTime": "2024-01-01T00:00:00Z",
    }]}});
    jobs.patch_status("watched", &PatchParams::default(), &Patch::Merge(status))
        .await
        .unwrap();

    let seen = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if line.starts_with("watched ") && line.contains("Succeeded") {
                return line;
            }
            assert!(!line.starts_with("NAME"), "headers once: {line}");
        }
        String::new()
    })
    .await
    .expect("the watch shows the change");
    assert!(seen.contains("Succeeded"), "{seen}");
    let _ = watch.kill().await;

    let waited = tokio::time::timeout(Duration::from_secs(30), wait.wait_with_output())
        .await
        .expect("kubectl wait returns")
        .unwrap();
    assert!(waited.status.success(), "{waited:?}");
    assert_eq!(
        String::from_utf8_lossy(&waited.stdout).trim(),
        "trainingjob.lepton.ai/watched condition met"
    );
}

#[tokio::test]
async fn kubectl_explains_and_creates_with_server_side_validation() {
    let (cluster, _client) = support::embedded().await;
    let Some(kubectl) = Kubectl::for_cluster(&cluster).await else {
        return;
    };
    let explained = kubectl.run(&["explain", "tj.spec.data"]).await;
    for expected in ["KIND:       TrainingJob", "FIELD: data <Object>", "target"] {
        assert!(
            explained.contains(expected),
            "{expected:?} in:\n{explained}"
        );
    }

    let manifest = serde_json::to_string(&training_job("from-file")).unwrap();
    let (ok, out, err) = kubectl
        .try_run(&["create", "-f", "-"], Some(&manifest))
        .await;
    assert!(ok, "{out}{err}");
    assert_eq!(out.trim(), "trainingjob.lepton.ai/from-file created");

    let mut unknown = training_job("unknown-field");
    unknown["spec"]["colour"] = json!("blue");
    let (ok, _, err) = kubectl
        .try_run(&["apply", "-f", "-"], Some(&unknown.to_string()))
        .await;
    assert!(
        !ok && err.contains("colour"),
        "unknown fields are refused: {err}"
    );

    let (ok, _, err) = kubectl
        .try_run(
            &["create", "configmap", "settings", "--from-literal=a=1"],
            None,
        )
        .await;
    assert!(!ok && err.contains("--dry-run=client -o json"), "{err}");
}

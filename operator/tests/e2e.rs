//! Tier 3: the controllers against a real cluster, when `LEPTON_E2E_KUBECONFIG` names one.
//! Without it the test is skipped, unless `LEPTON_E2E_REQUIRE=1`, when it fails.
//!
//! The operator runs in this process, watching a fresh namespace; the pods it creates run on
//! the cluster, so the cluster must be able to pull the runner image and read the data:
//! - `LEPTON_E2E_RUNNER_IMAGE`: the runner image (for kind: `kind load docker-image ...`);
//! - `LEPTON_E2E_DATA_URI`: Default.csv where pods can read it, usually an `https://` URL
//!   (a `pvc://` location needs a claim in the test's namespace, which the test does not make).
//! - `LEPTON_E2E_ARTIFACTS`: where models go (`s3://...` with `LEPTON_E2E_S3_ENDPOINT` and
//!   a Secret, or `pvc://...`); default `pvc://lepton-artifacts/e2e`.
//!
//! It checks what only a real cluster shows: the Job controller, the kubelet's termination
//! message, RBAC enforcement of the runner's per-job Role (its progress reaches the status),
//! Pod Security admission (the namespace is labelled `restricted`), the Deployment
//! controller's rolling update, probes and kube-proxy (an inference through the API server's
//! Service proxy).

mod support;

use std::time::Duration;

use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DeleteParams, ObjectMeta, Patch, PatchParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use lepton_crds::v1alpha1::{ModelDeployment, TrainingJob};
use lepton_operator::config::{ConfigWatch, OperatorConfig};
use lepton_operator::runtime::{self, Settings};
use lepton_operator::telemetry::Metrics;

async fn cluster() -> Option<kube::Client> {
    let required = std::env::var("LEPTON_E2E_REQUIRE").is_ok_and(|v| v == "1");
    let Ok(path) = std::env::var("LEPTON_E2E_KUBECONFIG") else {
        assert!(
            !required,
            "LEPTON_E2E_REQUIRE=1 but LEPTON_E2E_KUBECONFIG is not set"
        );
        eprintln!("skipping the real-cluster operator run: LEPTON_E2E_KUBECONFIG is not set");
        return None;
    };
    let kubeconfig = Kubeconfig::read_from(&path).expect("LEPTON_E2E_KUBECONFIG is readable");
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .expect("a usable kubeconfig");
    Some(kube::Client::try_from(config).expect("a client"))
}

fn required_env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} must be set for the real-cluster run (see the top of operator/tests/e2e.rs)")
    })
}

async fn install_crds(client: &kube::Client) {
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    for crd in lepton_crds::generate::crds() {
        let name = crd.metadata.name.clone().unwrap();
        api.patch(
            &name,
            &PatchParams::apply("lepton-e2e").force(),
            &Patch::Apply(&lepton_crds::generate::crd_json(&crd)),
        )
        .await
        .expect("the CRDs install");
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
}

async fn wait_for<K>(api: &Api<K>, name: &str, what: &str, check: impl Fn(&K) -> bool) -> K
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug + serde::Serialize,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(600);
    loop {
        let object = api.get_opt(name).await.expect("readable");
        if let Some(object) = &object
            && check(object)
        {
            return object.clone();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{name} not {what} within 10 minutes: {}",
            serde_json::to_string_pretty(&object).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn training_and_serving_on_a_real_cluster() {
    let Some(client) = cluster().await else {
        return;
    };
    let image = required_env("LEPTON_E2E_RUNNER_IMAGE");
    let data = required_env("LEPTON_E2E_DATA_URI");
    let artifacts = std::env::var("LEPTON_E2E_ARTIFACTS")
        .unwrap_or_else(|_| "pvc://lepton-artifacts/e2e".to_owned());
    install_crds(&client).await;
    let namespace = format!("lepton-e2e-{}", std::process::id());
    let namespaces: Api<Namespace> = Api::all(client.clone());
    namespaces
        .create(
            &PostParams::default(),
            &Namespace {
                metadata: ObjectMeta {
                    name: Some(namespace.clone()),
                    labels: Some(
                        [(
                            "pod-security.kubernetes.io/enforce".to_owned(),
                            "restricted".to_owned(),
                        )]
                        .into(),
                    ),
                    ..ObjectMeta::default()
                },
                ..Namespace::default()
            },
        )
        .await
        .expect("namespace created");

    let config = OperatorConfig::parse(&format!(
        "runner: {{image: '{image}', cudaImage: '{image}', imagePullPolicy: IfNotPresent}}\nartifactStore: '{artifacts}'\ntraining: {{cpu: '1', memory: 1Gi}}\nserving: {{cpu: 500m, memory: 512Mi, scrapeIntervalSeconds: 2}}\n"
    ))
    .expect("a valid configuration");
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    let operator = tokio::spawn(runtime::run(
        client.clone(),
        ConfigWatch::fixed(config),
        std::sync::Arc::new(Metrics::new()),
        Settings {
            namespaces: vec![namespace.clone()],
            ..Settings::default()
        },
        shutdown,
    ));

    let tjs: Api<TrainingJob> = Api::namespaced(client.clone(), &namespace);
    let tj: TrainingJob = serde_json::from_value(serde_json::json!({
        "apiVersion": "lepton.ai/v1alpha1", "kind": "TrainingJob",
        "metadata": {"name": "credit-default"},
        "spec": {"data": {"source": data, "target": "default"}, "model": {"family": "linear"}},
    }))
    .unwrap();
    tjs.create(&PostParams::default(), &tj)
        .await
        .expect("TrainingJob created");
    let trained = wait_for(&tjs, "credit-default", "Succeeded", |tj: &TrainingJob| {
        tj.status
            .as_ref()
            .is_some_and(|s| support::condition_true(&s.conditions, "Succeeded"))
    })
    .await;
    let status = trained.status.unwrap();
    assert!(status.metrics["auc"] > 0.9);
    assert!(
        status.progress.is_some(),
        "the runner's own status writes passed RBAC"
    );

    let mds: Api<ModelDeployment> = Api::namespaced(client.clone(), &namespace);
    let md: ModelDeployment = serde_json::from_value(serde_json::json!({
        "apiVersion": "lepton.ai/v1alpha1", "kind": "ModelDeployment",
        "metadata": {"name": "credit-default"},
        "spec": {"model": {"trainingJob": "credit-default"}},
    }))
    .unwrap();
    mds.create(&PostParams::default(), &md)
        .await
        .expect("ModelDeployment created");
    wait_for(&mds, "credit-default", "Ready", |md: &ModelDeployment| {
        md.status
            .as_ref()
            .is_some_and(|s| support::condition_true(&s.conditions, "Ready"))
    })
    .await;
    let request = http::Request::post(format!(
        "/api/v1/namespaces/{namespace}/services/credit-default:http/proxy/v2/models/credit-default/infer"
    ))
    .header("content-type", "application/json")
    .body(
        serde_json::json!({"inputs": [
            {"name": "student", "datatype": "BYTES", "shape": [1, 1], "data": ["No"]},
            {"name": "balance", "datatype": "FP64", "shape": [1, 1], "data": [1500.0]},
            {"name": "income", "datatype": "FP64", "shape": [1, 1], "data": [30000.0]},
        ]})
        .to_string()
        .into_bytes(),
    )
    .unwrap();
    let answer = client
        .request_text(request)
        .await
        .expect("an inference through the Service");
    assert!(answer.contains("outputs"), "{answer}");

    let _ = stop.send(true);
    let _ = operator.await;
    let _ = namespaces
        .delete(&namespace, &DeleteParams::background())
        .await;
}

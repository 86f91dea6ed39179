//! The objects a TrainingJob needs, built from its spec and the operator's configuration: the
//! batch/v1 Job that runs `lepton-runner train`, and the runner's service account with a Role
//! that lets it write only its own job's status. Pure functions; the tests below cover them.

use std::collections::BTreeMap;

use k8s_openapi::api::batch::v1::{Job, JobSpec};
use k8s_openapi::api::core::v1::{EnvVar, PodTemplateSpec, ServiceAccount};
use k8s_openapi::api::rbac::v1::{PolicyRule, Role, RoleBinding, RoleRef, Subject};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::{Resource, ResourceExt};
use lepton_crds::v1alpha1::TrainingJob;
use serde_json::json;

use crate::config::{NodePool, OperatorConfig};
use crate::names::{
    KUEUE_QUEUE_LABEL, MANAGED_BY, MAX_LABEL_NAME, OWNER_ANNOTATION, SPEC_DIGEST_ANNOTATION,
    SPEC_GENERATION_ANNOTATION, TRAINING_JOB_LABEL, child_name,
};
use crate::pod_spec::{self, Location, RunnerContainer, SpecProblem, env_value};

/// Name of the runner's container in the training pod.
pub const CONTAINER: &str = "runner";

/// Name of the Job (and of its pods' prefix): the TrainingJob's, cut to fit a label value.
pub fn job_name(tj: &TrainingJob) -> String {
    child_name(&tj.name_any(), "", MAX_LABEL_NAME)
}

/// Name of the runner's ServiceAccount, Role and RoleBinding.
pub fn runner_access_name(tj: &TrainingJob) -> String {
    child_name(&tj.name_any(), "lepton-runner", 253)
}

/// Where the model goes: `spec.output.uri`, else `<artifactStore>/<namespace>/<name>/`.
pub fn output_uri(tj: &TrainingJob, config: &OperatorConfig) -> String {
    match &tj.spec.output {
        Some(output) => output.uri.clone(),
        None => format!(
            "{}/{}/{}/",
            config.artifact_store.trim_end_matches('/'),
            tj.namespace().unwrap_or_default(),
            tj.name_any()
        ),
    }
}

/// Labels of every object made for `tj`.
pub fn labels(tj: &TrainingJob) -> BTreeMap<String, String> {
    BTreeMap::from([
        (
            "app.kubernetes.io/name".to_owned(),
            "lepton-runner".to_owned(),
        ),
        (
            "app.kubernetes.io/component".to_owned(),
            "training".to_owned(),
        ),
        (
            "app.kubernetes.io/managed-by".to_owned(),
            MANAGED_BY.to_owned(),
        ),
        (
            TRAINING_JOB_LABEL.to_owned(),
            child_name(&tj.name_any(), "", MAX_LABEL_NAME),
        ),
    ])
}

fn owned_meta(tj: &TrainingJob, name: String) -> ObjectMeta {
    ObjectMeta {
        name: Some(name),
        namespace: tj.namespace(),
        labels: Some(labels(tj)),
        owner_references: owner(tj).map(|o| vec![o]),
        ..ObjectMeta::default()
    }
}

fn owner(tj: &TrainingJob) -> Option<OwnerReference> {
    tj.controller_owner_ref(&())
}

/// The TrainingJob as the runner reads it from `LEPTON_TRAINING_JOB`: identity and spec,
/// without status or managed fields.
pub fn runner_manifest(tj: &TrainingJob) -> serde_json::Value {
    json!({
        "apiVersion": "lepton.ai/v1alpha1",
        "kind": "TrainingJob",
        "metadata": {
            "name": tj.name_any(),
            "namespace": tj.namespace(),
            "uid": tj.uid(),
            "generation": tj.metadata.generation,
        },
        "spec": tj.spec,
    })
}

/// The training Job. `suspend` is the Job's initial suspension: the spec's, and always true
/// for a Kueue-queued job (Kueue admits it by resuming it).
pub fn job(tj: &TrainingJob, config: &OperatorConfig, pool: &NodePool) -> Result<Job, SpecProblem> {
    let spec = &tj.spec;
    let overrides = spec.runner.as_ref();
    let gpu = spec.resources.gpus > 0;
    let resources = pod_spec::resources(
        &spec.resources,
        pool,
        &config.training.cpu,
        &config.training.memory,
    )?;
    let output = output_uri(tj, config);
    let (volumes, mounts) = pod_spec::volumes(
        &[
            Location {
                uri: &spec.data.source,
                writable: false,
            },
            Location {
                uri: &output,
                writable: true,
            },
        ],
        &config.pvc_mount_root,
    );
    let mut env = vec![
        env_value("LEPTON_TRAINING_JOB", runner_manifest(tj).to_string()),
        env_value("LEPTON_STATUS_REPORTING", "kubernetes"),
        env_value(
            "LEPTON_STATUS_INTERVAL_MS",
            format!(
                "{}",
                (config.training.progress_interval_seconds * 1000.0).round() as u64
            ),
        ),
        env_value("LEPTON_PVC_ROOT", config.pvc_mount_root.clone()),
        env_value("LEPTON_LOG_FORMAT", "json"),
        env_value("TMPDIR", "/tmp"),
    ];
    env.extend(s3_credentials(tj)?);
    env.extend(overrides.map(|o| o.env.clone()).unwrap_or_default());

    let mut pod = pod_spec::runner_pod(
        config,
        overrides,
        gpu,
        pool,
        RunnerContainer {
            name: CONTAINER,
            args: vec!["train".to_owned(), "--output".to_owned(), output],
            env,
            resources,
            mounts,
        },
        volumes,
    );
    pod.restart_policy = Some("Never".to_owned());
    pod.service_account_name = Some(service_account(tj));
    pod.automount_service_account_token = Some(true);
    pod.priority_class_name
        .clone_from(&spec.run_policy.priority_class_name);

    let mut job_labels = labels(tj);
    if let Some(queue) = tj.labels().get(KUEUE_QUEUE_LABEL) {
        job_labels.insert(KUEUE_QUEUE_LABEL.to_owned(), queue.clone());
    }
    let mut meta = owned_meta(tj, job_name(tj));
    meta.labels = Some(job_labels);
    meta.annotations = Some(BTreeMap::from([
        (SPEC_DIGEST_ANNOTATION.to_owned(), spec_digest(tj)),
        (
            SPEC_GENERATION_ANNOTATION.to_owned(),
            tj.metadata.generation.unwrap_or(0).to_string(),
        ),
    ]));
    Ok(Job {
        metadata: meta,
        spec: Some(JobSpec {
            backoff_limit: Some(spec.run_policy.backoff_limit),
            active_deadline_seconds: spec.run_policy.active_deadline_seconds,
            suspend: Some(initial_suspend(tj)),
            // ttlSecondsAfterFinished is applied by the operator, after it has read the
            // results from the finished pod, not by the Job controller.
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels(tj)),
                    annotations: Some(BTreeMap::from([(
                        OWNER_ANNOTATION.to_owned(),
                        tj.name_any(),
                    )])),
                    ..ObjectMeta::default()
                }),
                spec: Some(pod),
            },
            ..JobSpec::default()
        }),
        status: None,
    })
}

/// Digest of the parts of the spec a Job cannot follow once it exists: everything but
/// `runPolicy.suspend`, `activeDeadlineSeconds` and `ttlSecondsAfterFinished`, which the
/// operator keeps in step.
pub fn spec_digest(tj: &TrainingJob) -> String {
    let mut spec = tj.spec.clone();
    spec.run_policy.suspend = false;
    spec.run_policy.active_deadline_seconds = None;
    spec.run_policy.ttl_seconds_after_finished = None;
    crate::names::digest(serde_json::to_string(&spec).unwrap_or_default().as_bytes())
}

/// Whether the Job starts suspended.
pub fn initial_suspend(tj: &TrainingJob) -> bool {
    tj.spec.run_policy.suspend || is_queued(tj)
}

/// Whether Kueue admits this job (it carries a queue label), so that Kueue, not the
/// operator, resumes its Job.
pub fn is_queued(tj: &TrainingJob) -> bool {
    tj.labels().contains_key(KUEUE_QUEUE_LABEL)
}

/// The service account the runner runs as: the spec's, or the one the operator creates.
pub fn service_account(tj: &TrainingJob) -> String {
    tj.spec
        .runner
        .as_ref()
        .and_then(|r| r.service_account_name.clone())
        .unwrap_or_else(|| runner_access_name(tj))
}

/// What the runner may do, and as whom: a ServiceAccount (unless the spec names its own), a
/// Role allowing `get` and `patch` of this one TrainingJob's status and nothing else, and the
/// binding between them. Owned by the TrainingJob, and deleted once it has finished.
pub fn runner_access(tj: &TrainingJob) -> (Option<ServiceAccount>, Role, RoleBinding) {
    let name = runner_access_name(tj);
    let account = service_account(tj);
    let own_account = (account == name).then(|| ServiceAccount {
        metadata: owned_meta(tj, name.clone()),
        // Only the runner's container needs the token; nothing else mounts it by default.
        automount_service_account_token: Some(false),
        ..ServiceAccount::default()
    });
    let role = Role {
        metadata: owned_meta(tj, name.clone()),
        rules: Some(vec![PolicyRule {
            api_groups: Some(vec!["lepton.ai".to_owned()]),
            resources: Some(vec!["trainingjobs/status".to_owned()]),
            resource_names: Some(vec![tj.name_any()]),
            verbs: vec!["get".to_owned(), "patch".to_owned()],
            ..PolicyRule::default()
        }]),
    };
    let binding = RoleBinding {
        metadata: owned_meta(tj, name.clone()),
        role_ref: RoleRef {
            api_group: Some("rbac.authorization.k8s.io".to_owned()),
            kind: "Role".to_owned(),
            name,
        },
        subjects: Some(vec![Subject {
            kind: "ServiceAccount".to_owned(),
            name: account,
            namespace: tj.namespace(),
            ..Subject::default()
        }]),
    };
    (own_account, role, binding)
}

/// `AWS_*` variables from the Secret named in `s3.credentialsSecret`. The runner has one set
/// of credentials, so the data and the output must name the same Secret (or only one names one).
fn s3_credentials(tj: &TrainingJob) -> Result<Vec<EnvVar>, SpecProblem> {
    let data = tj
        .spec
        .data
        .s3
        .as_ref()
        .and_then(|s| s.credentials_secret.clone());
    let output = tj
        .spec
        .output
        .as_ref()
        .and_then(|o| o.s3.as_ref())
        .and_then(|s| s.credentials_secret.clone());
    let secret = match (data, output) {
        (Some(a), Some(b)) if a != b => {
            return Err(SpecProblem {
                field: "spec.output.s3.credentialsSecret".to_owned(),
                message: format!(
                    "names Secret `{b}` but spec.data.s3.credentialsSecret names `{a}`; the runner \
                     uses one set of S3 credentials: put both keys in one Secret or give \
                     credentials to the runner's service account"
                ),
            });
        }
        (Some(a), _) | (None, Some(a)) => a,
        (None, None) => return Ok(Vec::new()),
    };
    Ok(pod_spec::s3_credentials(&secret))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::training_job::tests::training_job;

    fn config() -> OperatorConfig {
        OperatorConfig::parse(
            "nodePools: [{name: gpu, nodeSelector: {pool: gpu}, pricePerGpuHour: 2}]\nartifactStore: s3://models/lepton",
        )
        .unwrap()
    }

    fn container(job: &Job) -> &k8s_openapi::api::core::v1::Container {
        &job.spec
            .as_ref()
            .unwrap()
            .template
            .spec
            .as_ref()
            .unwrap()
            .containers[0]
    }

    fn env<'a>(job: &'a Job, name: &str) -> Option<&'a EnvVar> {
        container(job)
            .env
            .as_ref()
            .unwrap()
            .iter()
            .find(|e| e.name == name)
    }

    #[test]
    fn the_job_runs_the_runner_with_the_spec_and_the_pools_scheduling() {
        let mut tj = training_job("credit", "");
        tj.spec.resources.gpus = 1;
        tj.spec.resources.node_pool = Some("gpu".into());
        let config = config();
        let job = job(&tj, &config, &config.pool(Some("gpu")).unwrap()).unwrap();
        let spec = job.spec.as_ref().unwrap();
        let pod = spec.template.spec.as_ref().unwrap();
        assert_eq!(job.metadata.name.as_deref(), Some("credit"));
        assert_eq!(spec.backoff_limit, Some(1));
        assert_eq!(spec.suspend, Some(false));
        assert_eq!(spec.ttl_seconds_after_finished, None);
        assert_eq!(pod.restart_policy.as_deref(), Some("Never"));
        assert_eq!(pod.node_selector.as_ref().unwrap()["pool"], "gpu");
        assert_eq!(
            pod.service_account_name.as_deref(),
            Some("credit-lepton-runner")
        );
        let c = container(&job);
        assert_eq!(c.image.as_deref(), Some(config.runner.cuda_image.as_str()));
        assert_eq!(c.command.as_ref().unwrap(), &["lepton-runner"]);
        assert_eq!(
            c.args.as_ref().unwrap(),
            &["train", "--output", "s3://models/lepton/ml/credit/"]
        );
        let limits = c.resources.as_ref().unwrap().limits.as_ref().unwrap();
        assert_eq!(limits["nvidia.com/gpu"].0, "1");
        let manifest: serde_json::Value = serde_json::from_str(
            env(&job, "LEPTON_TRAINING_JOB")
                .unwrap()
                .value
                .as_ref()
                .unwrap(),
        )
        .unwrap();
        assert_eq!(manifest["metadata"]["name"], "credit");
        assert_eq!(manifest["metadata"]["namespace"], "ml");
        assert_eq!(manifest["spec"]["data"]["target"], "default");
        assert_eq!(
            env(&job, "LEPTON_STATUS_REPORTING")
                .unwrap()
                .value
                .as_deref(),
            Some("kubernetes")
        );
        assert_eq!(
            env(&job, "LEPTON_STATUS_INTERVAL_MS")
                .unwrap()
                .value
                .as_deref(),
            Some("5000")
        );
        let owner = &job.metadata.owner_references.as_ref().unwrap()[0];
        assert_eq!(owner.kind, "TrainingJob");
        assert_eq!(owner.controller, Some(true));
    }

    #[test]
    fn run_policy_and_kueue_pass_through() {
        let mut tj = training_job("queued", "");
        tj.spec.run_policy.backoff_limit = 4;
        tj.spec.run_policy.active_deadline_seconds = Some(600);
        tj.spec.run_policy.priority_class_name = Some("batch-low".into());
        tj.metadata.labels = Some(BTreeMap::from([(
            KUEUE_QUEUE_LABEL.to_owned(),
            "team-a".to_owned(),
        )]));
        let config = config();
        let job = job(&tj, &config, &config.pool(None).unwrap()).unwrap();
        let spec = job.spec.as_ref().unwrap();
        assert_eq!(spec.backoff_limit, Some(4));
        assert_eq!(spec.active_deadline_seconds, Some(600));
        assert_eq!(
            spec.suspend,
            Some(true),
            "Kueue needs the Job created suspended"
        );
        assert_eq!(
            job.metadata.labels.as_ref().unwrap()[KUEUE_QUEUE_LABEL],
            "team-a"
        );
        assert_eq!(
            spec.template
                .spec
                .as_ref()
                .unwrap()
                .priority_class_name
                .as_deref(),
            Some("batch-low")
        );
    }

    #[test]
    fn pods_meet_the_restricted_profile_and_mount_their_claims() {
        let mut tj = training_job("pvc", "");
        tj.spec.data.source = "pvc://datasets/islp/Default.csv".into();
        let config = config();
        let job = job(&tj, &config, &config.pool(None).unwrap()).unwrap();
        let pod = job.spec.as_ref().unwrap().template.spec.as_ref().unwrap();
        assert_eq!(
            pod.security_context.as_ref().unwrap().run_as_non_root,
            Some(true)
        );
        let c = container(&job);
        let sc = c.security_context.as_ref().unwrap();
        assert_eq!(sc.read_only_root_filesystem, Some(true));
        let mounts = c.volume_mounts.as_ref().unwrap();
        assert!(
            mounts
                .iter()
                .any(|m| m.mount_path == "/mnt/lepton/pvc/datasets" && m.read_only == Some(true))
        );
        assert_eq!(
            env(&job, "LEPTON_PVC_ROOT").unwrap().value.as_deref(),
            Some("/mnt/lepton/pvc")
        );
    }

    #[test]
    fn s3_credentials_come_from_one_secret() {
        let mut tj = training_job("s3", "");
        tj.spec.data.s3 = Some(lepton_crds::v1alpha1::S3Options {
            credentials_secret: Some("store".into()),
            ..Default::default()
        });
        let config = config();
        let pool = config.pool(None).unwrap();
        let job = job(&tj, &config, &pool).unwrap();
        let key = env(&job, "AWS_SECRET_ACCESS_KEY").unwrap();
        let secret = key
            .value_from
            .as_ref()
            .unwrap()
            .secret_key_ref
            .as_ref()
            .unwrap();
        assert_eq!(secret.name, "store");
        assert!(key.value.is_none(), "credentials only by Secret reference");

        tj.spec.output = Some(lepton_crds::v1alpha1::OutputSpec {
            uri: "s3://out/x".into(),
            s3: Some(lepton_crds::v1alpha1::S3Options {
                credentials_secret: Some("other".into()),
                ..Default::default()
            }),
        });
        let err = super::job(&tj, &config, &pool).unwrap_err();
        assert_eq!(err.field, "spec.output.s3.credentialsSecret");
    }

    #[test]
    fn the_runner_may_patch_only_its_own_status() {
        let tj = training_job("credit", "");
        let (account, role, binding) = runner_access(&tj);
        assert_eq!(
            account.unwrap().metadata.name.as_deref(),
            Some("credit-lepton-runner")
        );
        let rules = role.rules.unwrap();
        assert_eq!(rules.len(), 1);
        assert_eq!(
            rules[0].resources.as_ref().unwrap(),
            &["trainingjobs/status"]
        );
        assert_eq!(rules[0].resource_names.as_ref().unwrap(), &["credit"]);
        assert_eq!(rules[0].verbs, vec!["get", "patch"]);
        assert_eq!(binding.subjects.unwrap()[0].name, "credit-lepton-runner");

        let mut own = training_job("own", "");
        own.spec.runner = Some(lepton_crds::v1alpha1::RunnerOverrides {
            service_account_name: Some("workload-identity".into()),
            ..Default::default()
        });
        let (account, _, binding) = runner_access(&own);
        assert!(account.is_none());
        assert_eq!(binding.subjects.unwrap()[0].name, "workload-identity");
    }
}

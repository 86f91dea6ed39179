//! Parts every runner pod shares: the Pod Security Standards "restricted" profile, node-pool
//! scheduling, resource requests, the runner image and the volumes behind `pvc://` locations.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Capabilities, EmptyDirVolumeSource, EnvVar, EnvVarSource, LocalObjectReference,
    PersistentVolumeClaimVolumeSource, PodSecurityContext, PodSpec, ResourceRequirements,
    SeccompProfile, SecretKeySelector, SecurityContext, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use lepton_crds::v1alpha1::{ComputeResources, ImagePullPolicy, RunnerOverrides};

use crate::config::{NodePool, OperatorConfig, is_quantity};

/// The user and group runner containers run as (not root, as "restricted" requires).
pub const RUNNER_UID: i64 = 65532;

/// A spec field that cannot be turned into a pod, with what to do about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpecProblem {
    /// The field, for example `spec.resources.cpu`.
    pub field: String,
    /// What is wrong and what to do.
    pub message: String,
}

impl std::fmt::Display for SpecProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// Pod-level security context of the "restricted" profile; `fsGroup` lets the non-root user
/// write to mounted claims.
pub fn pod_security_context() -> PodSecurityContext {
    PodSecurityContext {
        run_as_non_root: Some(true),
        run_as_user: Some(RUNNER_UID),
        run_as_group: Some(RUNNER_UID),
        fs_group: Some(RUNNER_UID),
        seccomp_profile: Some(SeccompProfile {
            type_: "RuntimeDefault".to_owned(),
            localhost_profile: None,
        }),
        ..PodSecurityContext::default()
    }
}

/// Container-level security context of the "restricted" profile.
pub fn container_security_context() -> SecurityContext {
    SecurityContext {
        allow_privilege_escalation: Some(false),
        read_only_root_filesystem: Some(true),
        run_as_non_root: Some(true),
        capabilities: Some(Capabilities {
            drop: Some(vec!["ALL".to_owned()]),
            add: None,
        }),
        seccomp_profile: Some(SeccompProfile {
            type_: "RuntimeDefault".to_owned(),
            localhost_profile: None,
        }),
        ..SecurityContext::default()
    }
}

/// Puts the pod on the pool's nodes.
pub fn schedule_on(pod: &mut PodSpec, pool: &NodePool) {
    if !pool.node_selector.is_empty() {
        pod.node_selector = Some(pool.node_selector.clone());
    }
    if !pool.tolerations.is_empty() {
        pod.tolerations = Some(pool.tolerations.clone());
    }
    pod.affinity.clone_from(&pool.affinity);
}

/// Requests equal to limits (the Guaranteed QoS class, so training is not evicted first), GPUs
/// as the pool's GPU resource.
pub fn resources(
    spec: &ComputeResources,
    pool: &NodePool,
    default_cpu: &Quantity,
    default_memory: &Quantity,
) -> Result<ResourceRequirements, SpecProblem> {
    let mut amounts = BTreeMap::new();
    for (name, field, value, default) in [
        ("cpu", "spec.resources.cpu", &spec.cpu, default_cpu),
        (
            "memory",
            "spec.resources.memory",
            &spec.memory,
            default_memory,
        ),
    ] {
        let value = value.as_ref().unwrap_or(default);
        if !is_quantity(&value.0) {
            return Err(SpecProblem {
                field: field.to_owned(),
                message: format!(
                    "`{}` is not a Kubernetes quantity; write for example 500m or 2 (CPU), 512Mi or 4Gi (memory)",
                    value.0
                ),
            });
        }
        amounts.insert(name.to_owned(), value.clone());
    }
    if spec.gpus > 0 {
        amounts.insert(pool.gpu_resource.clone(), Quantity(spec.gpus.to_string()));
    }
    Ok(ResourceRequirements {
        requests: Some(amounts.clone()),
        limits: Some(amounts),
        ..ResourceRequirements::default()
    })
}

/// The runner image: the resource's override, else the configured CPU or CUDA image.
pub fn runner_image(
    config: &OperatorConfig,
    overrides: Option<&RunnerOverrides>,
    gpu: bool,
) -> String {
    overrides.and_then(|o| o.image.clone()).unwrap_or_else(|| {
        if gpu {
            config.runner.cuda_image.clone()
        } else {
            config.runner.image.clone()
        }
    })
}

/// The pull policy: the resource's override, else the configured one.
pub fn pull_policy(config: &OperatorConfig, overrides: Option<&RunnerOverrides>) -> Option<String> {
    overrides
        .and_then(|o| o.image_pull_policy)
        .or(config.runner.image_pull_policy)
        .map(|p| {
            match p {
                ImagePullPolicy::Always => "Always",
                ImagePullPolicy::IfNotPresent => "IfNotPresent",
                ImagePullPolicy::Never => "Never",
            }
            .to_owned()
        })
}

/// Image pull Secrets from the configuration.
pub fn pull_secrets(config: &OperatorConfig) -> Option<Vec<LocalObjectReference>> {
    (!config.runner.image_pull_secrets.is_empty()).then(|| {
        config
            .runner
            .image_pull_secrets
            .iter()
            .map(|name| LocalObjectReference { name: name.clone() })
            .collect()
    })
}

/// The runner container of a pod.
pub struct RunnerContainer {
    /// Container name.
    pub name: &'static str,
    /// Arguments after the runner program (`train ...`, `serve`).
    pub args: Vec<String>,
    /// Environment.
    pub env: Vec<EnvVar>,
    /// Requests and limits.
    pub resources: ResourceRequirements,
    /// Volume mounts (see [`volumes`]).
    pub mounts: Vec<VolumeMount>,
}

/// A pod running the runner: the configured or overridden image (CUDA when `gpu`), the
/// "restricted" security contexts, the pool's scheduling, and a termination message that
/// falls back to the log's tail when the runner dies before writing its own.
pub fn runner_pod(
    config: &OperatorConfig,
    overrides: Option<&RunnerOverrides>,
    gpu: bool,
    pool: &NodePool,
    container: RunnerContainer,
    volumes: Vec<Volume>,
) -> PodSpec {
    let mut pod = PodSpec {
        security_context: Some(pod_security_context()),
        image_pull_secrets: pull_secrets(config),
        service_account_name: overrides.and_then(|o| o.service_account_name.clone()),
        volumes: Some(volumes),
        containers: vec![k8s_openapi::api::core::v1::Container {
            name: container.name.to_owned(),
            image: Some(runner_image(config, overrides, gpu)),
            image_pull_policy: pull_policy(config, overrides),
            command: Some(vec![config.runner.command.clone()]),
            args: Some(container.args),
            env: Some(container.env),
            resources: Some(container.resources),
            security_context: Some(container_security_context()),
            volume_mounts: Some(container.mounts),
            termination_message_policy: Some("FallbackToLogsOnError".to_owned()),
            ..k8s_openapi::api::core::v1::Container::default()
        }],
        ..PodSpec::default()
    };
    schedule_on(&mut pod, pool);
    pod
}

/// An environment variable with a literal value.
pub fn env_value(name: &str, value: impl Into<String>) -> EnvVar {
    EnvVar {
        name: name.to_owned(),
        value: Some(value.into()),
        value_from: None,
    }
}

/// The runner's S3 credentials (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, and the optional
/// `AWS_SESSION_TOKEN`) by reference to the keys of `secret`: the values never pass through
/// the operator.
pub fn s3_credentials(secret: &str) -> Vec<EnvVar> {
    [
        ("AWS_ACCESS_KEY_ID", false),
        ("AWS_SECRET_ACCESS_KEY", false),
        ("AWS_SESSION_TOKEN", true),
    ]
    .into_iter()
    .map(|(key, optional)| EnvVar {
        name: key.to_owned(),
        value: None,
        value_from: Some(EnvVarSource {
            secret_key_ref: Some(SecretKeySelector {
                name: secret.to_owned(),
                key: key.to_owned(),
                optional: optional.then_some(true),
            }),
            ..EnvVarSource::default()
        }),
    })
    .collect()
}

/// A location the pod reads or writes.
pub struct Location<'a> {
    /// The URI.
    pub uri: &'a str,
    /// Whether the pod writes there.
    pub writable: bool,
}

/// Volumes and mounts: a writable `/tmp` (the root file system is read-only) and one volume per
/// PersistentVolumeClaim named by a `pvc://claim/...` location, mounted at
/// `<pvcMountRoot>/<claim>`, writable when any location on it is written.
pub fn volumes(locations: &[Location<'_>], mount_root: &str) -> (Vec<Volume>, Vec<VolumeMount>) {
    let mut claims: BTreeMap<&str, bool> = BTreeMap::new();
    for location in locations {
        if let Some(claim) = location
            .uri
            .strip_prefix("pvc://")
            .and_then(|rest| rest.split('/').next())
            .filter(|claim| !claim.is_empty())
        {
            *claims.entry(claim).or_default() |= location.writable;
        }
    }
    let mut volumes = vec![Volume {
        name: "tmp".to_owned(),
        empty_dir: Some(EmptyDirVolumeSource::default()),
        ..Volume::default()
    }];
    let mut mounts = vec![VolumeMount {
        name: "tmp".to_owned(),
        mount_path: "/tmp".to_owned(),
        ..VolumeMount::default()
    }];
    for (i, (claim, writable)) in claims.into_iter().enumerate() {
        let name = format!("claim-{i}");
        volumes.push(Volume {
            name: name.clone(),
            persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                claim_name: claim.to_owned(),
                read_only: Some(!writable),
            }),
            ..Volume::default()
        });
        mounts.push(VolumeMount {
            name,
            mount_path: format!("{}/{claim}", mount_root.trim_end_matches('/')),
            read_only: Some(!writable),
            ..VolumeMount::default()
        });
    }
    (volumes, mounts)
}

/// What in `pod` breaks the Pod Security Standards "restricted" profile (empty when it meets
/// it), for tests of every pod the operator builds.
#[cfg(test)]
pub(crate) fn restricted_violations(pod: &PodSpec) -> Vec<String> {
    let mut problems = Vec::new();
    if pod.host_network == Some(true) || pod.host_pid == Some(true) || pod.host_ipc == Some(true) {
        problems.push("host namespaces".to_owned());
    }
    for volume in pod.volumes.iter().flatten() {
        let allowed = volume.config_map.is_some()
            || volume.csi.is_some()
            || volume.downward_api.is_some()
            || volume.empty_dir.is_some()
            || volume.ephemeral.is_some()
            || volume.persistent_volume_claim.is_some()
            || volume.projected.is_some()
            || volume.secret.is_some();
        if !allowed {
            problems.push(format!("volume {} has a disallowed type", volume.name));
        }
    }
    let pod_context = pod.security_context.clone().unwrap_or_default();
    let pod_seccomp = pod_context
        .seccomp_profile
        .as_ref()
        .map(|p| p.type_.as_str());
    for container in pod
        .containers
        .iter()
        .chain(pod.init_containers.iter().flatten())
    {
        let c = container.security_context.clone().unwrap_or_default();
        let name = &container.name;
        if c.privileged == Some(true) {
            problems.push(format!("{name}: privileged"));
        }
        if c.allow_privilege_escalation != Some(false) {
            problems.push(format!("{name}: allowPrivilegeEscalation is not false"));
        }
        if c.run_as_non_root.or(pod_context.run_as_non_root) != Some(true) {
            problems.push(format!("{name}: runAsNonRoot is not true"));
        }
        if c.run_as_user.or(pod_context.run_as_user) == Some(0) {
            problems.push(format!("{name}: runs as user 0"));
        }
        let seccomp = c
            .seccomp_profile
            .as_ref()
            .map(|p| p.type_.as_str())
            .or(pod_seccomp);
        if !matches!(seccomp, Some("RuntimeDefault" | "Localhost")) {
            problems.push(format!("{name}: no RuntimeDefault seccomp profile"));
        }
        let caps = c.capabilities.clone().unwrap_or_default();
        if !caps.drop.iter().flatten().any(|d| d == "ALL") {
            problems.push(format!("{name}: capabilities are not all dropped"));
        }
        if caps.add.iter().flatten().any(|a| a != "NET_BIND_SERVICE") {
            problems.push(format!("{name}: adds capabilities"));
        }
        if container
            .ports
            .iter()
            .flatten()
            .any(|p| p.host_port.is_some())
        {
            problems.push(format!("{name}: host ports"));
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool() -> NodePool {
        crate::config::OperatorConfig::parse(
            "nodePools: [{name: gpu, nodeSelector: {a: b}, gpuResource: amd.com/gpu, tolerations: [{key: k, operator: Exists}]}]",
        )
        .unwrap()
        .pool(Some("gpu"))
        .unwrap()
    }

    #[test]
    fn requests_equal_limits_and_gpus_use_the_pools_resource() {
        let spec = ComputeResources {
            node_pool: Some("gpu".into()),
            gpus: 2,
            cpu: Some(Quantity("4".into())),
            memory: None,
        };
        let r = resources(
            &spec,
            &pool(),
            &Quantity("1".into()),
            &Quantity("2Gi".into()),
        )
        .unwrap();
        assert_eq!(r.requests, r.limits);
        let requests = r.requests.unwrap();
        assert_eq!(requests["cpu"].0, "4");
        assert_eq!(requests["memory"].0, "2Gi");
        assert_eq!(requests["amd.com/gpu"].0, "2");
    }

    #[test]
    fn a_bad_quantity_names_the_field() {
        let spec = ComputeResources {
            memory: Some(Quantity("4GB".into())),
            ..ComputeResources::default()
        };
        let err = resources(
            &spec,
            &pool(),
            &Quantity("1".into()),
            &Quantity("1Gi".into()),
        )
        .unwrap_err();
        assert_eq!(err.field, "spec.resources.memory");
        assert!(err.message.contains("4GB"));
    }

    #[test]
    fn scheduling_comes_from_the_pool() {
        let mut pod = PodSpec::default();
        schedule_on(&mut pod, &pool());
        assert_eq!(pod.node_selector.unwrap()["a"], "b");
        assert_eq!(pod.tolerations.unwrap()[0].key.as_deref(), Some("k"));
    }

    #[test]
    fn one_volume_per_claim_writable_when_written() {
        let (volumes, mounts) = volumes(
            &[
                Location {
                    uri: "pvc://data/islp/Default.csv",
                    writable: false,
                },
                Location {
                    uri: "pvc://models/out/",
                    writable: true,
                },
                Location {
                    uri: "pvc://data/other.csv",
                    writable: false,
                },
                Location {
                    uri: "s3://bucket/key",
                    writable: true,
                },
            ],
            "/mnt/lepton/pvc/",
        );
        assert_eq!(volumes.len(), 3);
        assert_eq!(mounts[1].mount_path, "/mnt/lepton/pvc/data");
        assert_eq!(mounts[1].read_only, Some(true));
        assert_eq!(mounts[2].mount_path, "/mnt/lepton/pvc/models");
        assert_eq!(mounts[2].read_only, Some(false));
        assert_eq!(mounts[0].mount_path, "/tmp");
    }

    #[test]
    fn the_checker_sees_violations() {
        let mut pod = PodSpec {
            containers: vec![k8s_openapi::api::core::v1::Container {
                name: "c".into(),
                ..Default::default()
            }],
            ..PodSpec::default()
        };
        assert_eq!(restricted_violations(&pod).len(), 4);
        pod.security_context = Some(pod_security_context());
        pod.containers[0].security_context = Some(container_security_context());
        assert!(restricted_violations(&pod).is_empty());
        pod.host_network = Some(true);
        assert_eq!(restricted_violations(&pod), vec!["host namespaces"]);
    }

    #[test]
    fn security_contexts_meet_the_restricted_profile() {
        let pod = pod_security_context();
        assert_eq!(pod.run_as_non_root, Some(true));
        assert_eq!(pod.seccomp_profile.unwrap().type_, "RuntimeDefault");
        let container = container_security_context();
        assert_eq!(container.allow_privilege_escalation, Some(false));
        assert_eq!(container.read_only_root_filesystem, Some(true));
        assert_eq!(container.capabilities.unwrap().drop.unwrap(), vec!["ALL"]);
    }
}

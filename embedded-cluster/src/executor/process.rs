//! From a pod to a local process: which program runs (only Lepton's runner), with which
//! arguments, environment, working directory, port and log files; and how it is stopped and
//! what it leaves behind (exit code, termination message).

use k8s_openapi::api::core::v1::{ConfigMap, Container, EnvVar, Pod, Secret};
use kube::Api;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;
use tokio::process::{Child, Command};

use super::ExecutorConfig;

/// The most of a termination message kept, as the kubelet does.
const MESSAGE_LIMIT: usize = 4096;
/// How much of the log stands in for an empty message under `FallbackToLogsOnError`.
const LOG_TAIL: usize = 2048;

/// How a pod's container is restarted when it exits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Restart {
    Always,
    Never,
}

/// Everything needed to run a pod's container locally.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    pub container: String,
    pub image: String,
    pub program: PathBuf,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    pub working_dir: PathBuf,
    pub log: PathBuf,
    pub termination_log: PathBuf,
    /// The loopback port the container serves on, for pods that declare ports or probes.
    pub port: Option<u16>,
    /// The path polled for readiness, when the pod has one.
    pub readiness_path: Option<String>,
    pub restart: Restart,
    pub grace: Duration,
    pub fallback_to_logs: bool,
}

/// The last path segment of an image or command, without tag or digest.
fn program_name(reference: &str) -> &str {
    let last = reference.rsplit('/').next().unwrap_or(reference);
    let last = last.split('@').next().unwrap_or(last);
    last.split(':').next().unwrap_or(last)
}

/// Works out how to run a pod; the error says why it cannot run here.
pub(crate) async fn plan(
    client: &kube::Client,
    config: &ExecutorConfig,
    pod: &Pod,
) -> Result<Plan, String> {
    let spec = pod.spec.as_ref().ok_or("the pod has no spec")?;
    if spec.init_containers.as_ref().is_some_and(|c| !c.is_empty()) {
        return Err("init containers are not supported by the local executor".into());
    }
    let [container] = spec.containers.as_slice() else {
        return Err(format!(
            "the local executor runs pods of exactly one container, this one has {}",
            spec.containers.len()
        ));
    };
    let image = container.image.clone().unwrap_or_default();
    let is_runner = |name: &str| config.runner_names.iter().any(|r| r == program_name(name));
    let args: Vec<String> = match container.command.as_deref() {
        Some([program, rest @ ..]) if is_runner(program) => rest
            .iter()
            .chain(container.args.iter().flatten())
            .cloned()
            .collect(),
        Some([program, ..]) => {
            return Err(format!(
                "container {:?} runs {program:?}: the local executor runs only Lepton's runner ({}); \
                 run this workload on a real cluster",
                container.name,
                config.runner_names.join(", ")
            ));
        }
        _ if is_runner(&image) => container.args.clone().unwrap_or_default(),
        _ => {
            return Err(format!(
                "container {:?} uses image {image:?}: the local executor runs only Lepton's runner \
                 (an image or command named {}); run this workload on a real cluster",
                container.name,
                config.runner_names.join(", ")
            ));
        }
    };
    let meta = &pod.metadata;
    let namespace = meta.namespace.clone().unwrap_or_default();
    let name = meta.name.clone().unwrap_or_default();
    let dir = config.work_dir.join("pods").join(&namespace).join(&name);
    let readiness_path = container
        .readiness_probe
        .as_ref()
        .and_then(|p| p.http_get.as_ref())
        .map(|g| g.path.clone().unwrap_or_else(|| "/".into()))
        .or_else(|| {
            container
                .ports
                .as_ref()
                .filter(|p| !p.is_empty())
                .map(|_| config.readiness_path.clone())
        });
    let port =
        if readiness_path.is_some() || container.ports.as_ref().is_some_and(|p| !p.is_empty()) {
            Some(free_port().map_err(|e| format!("no free local port: {e}"))?)
        } else {
            None
        };
    let termination_log = dir.join(format!("{}.termination-log", container.name));
    let mut env = config.env.clone();
    env.push((super::PARENT_PID_ENV.into(), std::process::id().to_string()));
    env.extend(resolve_env(client, pod, container).await?);
    env.push((
        "LEPTON_TERMINATION_LOG".into(),
        termination_log.display().to_string(),
    ));
    env.push(("HOSTNAME".into(), name.clone()));
    if let Some(port) = port {
        env.push(("LEPTON_SERVE_ADDR".into(), format!("127.0.0.1:{port}")));
        env.push(("PORT".into(), port.to_string()));
    }
    if let Some(kubeconfig) = &config.pod_kubeconfig {
        env.push(("KUBECONFIG".into(), kubeconfig.display().to_string()));
    }
    let working_dir = container
        .working_dir
        .as_deref()
        .map(PathBuf::from)
        .filter(|d| d.is_dir())
        .unwrap_or_else(|| dir.clone());
    let restart = match spec.restart_policy.as_deref() {
        Some("Always") | None => Restart::Always,
        // OnFailure restarts in place on a real kubelet; here a failed container fails the pod,
        // and the Job controller creates the next one (see the README).
        _ => Restart::Never,
    };
    let grace =
        Duration::from_secs(spec.termination_grace_period_seconds.unwrap_or(30).max(0) as u64)
            .min(config.max_termination_grace);
    Ok(Plan {
        container: container.name.clone(),
        image,
        program: config.runner_binary.clone(),
        args,
        env,
        working_dir,
        log: dir.join(format!("{}.log", container.name)),
        termination_log,
        port,
        readiness_path,
        restart,
        grace,
        fallback_to_logs: container.termination_message_policy.as_deref()
            == Some("FallbackToLogsOnError"),
    })
}

fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind(("127.0.0.1", 0))?
        .local_addr()?
        .port())
}

/// The container's environment: plain values, `fieldRef`, `configMapKeyRef`, `secretKeyRef`,
/// and `envFrom` ConfigMaps and Secrets.
async fn resolve_env(
    client: &kube::Client,
    pod: &Pod,
    container: &Container,
) -> Result<Vec<(String, String)>, String> {
    let namespace = pod.metadata.namespace.clone().unwrap_or_default();
    let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), &namespace);
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &namespace);
    let mut env = Vec::new();
    for source in container.env_from.iter().flatten() {
        let prefix = source.prefix.clone().unwrap_or_default();
        if let Some(reference) = &source.config_map_ref {
            let optional = reference.optional == Some(true);
            match config_maps
                .get_opt(&reference.name)
                .await
                .map_err(|e| e.to_string())?
            {
                Some(cm) => env.extend(
                    cm.data
                        .unwrap_or_default()
                        .into_iter()
                        .map(|(k, v)| (format!("{prefix}{k}"), v)),
                ),
                None if optional => {}
                None => return Err(format!("envFrom: ConfigMap {:?} not found", reference.name)),
            }
        }
        if let Some(reference) = &source.secret_ref {
            let optional = reference.optional == Some(true);
            match secrets
                .get_opt(&reference.name)
                .await
                .map_err(|e| e.to_string())?
            {
                Some(secret) => {
                    env.extend(secret.data.unwrap_or_default().into_iter().map(|(k, v)| {
                        (
                            format!("{prefix}{k}"),
                            String::from_utf8_lossy(&v.0).into_owned(),
                        )
                    }))
                }
                None if optional => {}
                None => return Err(format!("envFrom: Secret {:?} not found", reference.name)),
            }
        }
    }
    for var in container.env.iter().flatten() {
        if let Some(value) = env_value(pod, var, &config_maps, &secrets).await? {
            env.push((var.name.clone(), value));
        }
    }
    Ok(env)
}

async fn env_value(
    pod: &Pod,
    var: &EnvVar,
    config_maps: &Api<ConfigMap>,
    secrets: &Api<Secret>,
) -> Result<Option<String>, String> {
    let Some(from) = &var.value_from else {
        return Ok(Some(var.value.clone().unwrap_or_default()));
    };
    if let Some(field) = &from.field_ref {
        return field_value(pod, &field.field_path)
            .map(Some)
            .ok_or_else(|| {
                format!(
                    "env {}: fieldRef {:?} is not supported",
                    var.name, field.field_path
                )
            });
    }
    if let Some(key) = &from.config_map_key_ref {
        let value = config_maps
            .get_opt(&key.name)
            .await
            .map_err(|e| e.to_string())?
            .and_then(|cm| cm.data?.get(&key.key).cloned());
        return match value {
            Some(v) => Ok(Some(v)),
            None if key.optional == Some(true) => Ok(None),
            None => Err(format!(
                "env {}: key {:?} of ConfigMap {:?} not found",
                var.name, key.key, key.name
            )),
        };
    }
    if let Some(key) = &from.secret_key_ref {
        let value = secrets
            .get_opt(&key.name)
            .await
            .map_err(|e| e.to_string())?
            .and_then(|s| {
                s.data?
                    .get(&key.key)
                    .map(|b| String::from_utf8_lossy(&b.0).into_owned())
            });
        return match value {
            Some(v) => Ok(Some(v)),
            None if key.optional == Some(true) => Ok(None),
            None => Err(format!(
                "env {}: key {:?} of Secret {:?} not found",
                var.name, key.key, key.name
            )),
        };
    }
    Err(format!(
        "env {}: only value, fieldRef, configMapKeyRef and secretKeyRef are supported by the local executor",
        var.name
    ))
}

fn field_value(pod: &Pod, path: &str) -> Option<String> {
    let meta = &pod.metadata;
    let keyed = |prefix: &str, map: Option<&std::collections::BTreeMap<String, String>>| {
        let key = path.strip_prefix(prefix)?.strip_suffix("']")?;
        Some(map.and_then(|m| m.get(key)).cloned().unwrap_or_default())
    };
    match path {
        "metadata.name" => meta.name.clone(),
        "metadata.namespace" => meta.namespace.clone(),
        "metadata.uid" => meta.uid.clone(),
        "spec.nodeName" => Some("local".into()),
        "spec.serviceAccountName" => Some(
            pod.spec
                .as_ref()
                .and_then(|s| s.service_account_name.clone())
                .unwrap_or_else(|| "default".into()),
        ),
        "status.podIP" | "status.hostIP" => Some("127.0.0.1".into()),
        _ => keyed("metadata.labels['", meta.labels.as_ref())
            .or_else(|| keyed("metadata.annotations['", meta.annotations.as_ref())),
    }
}

/// Starts the container's process, its output appended to the log file.
pub(crate) fn spawn(plan: &Plan) -> Result<Child, String> {
    let dir = plan.log.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let _ = std::fs::remove_file(&plan.termination_log);
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&plan.log)
        .map_err(|e| format!("cannot open {}: {e}", plan.log.display()))?;
    let err = log
        .try_clone()
        .map_err(|e| format!("cannot open {}: {e}", plan.log.display()))?;
    Command::new(&plan.program)
        .args(&plan.args)
        .envs(plan.env.iter().map(|(k, v)| (k, v)))
        .current_dir(&plan.working_dir)
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(err)
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", plan.program.display()))
}

/// Stops a process as the kubelet stops a container: SIGTERM, then SIGKILL after the grace
/// period.
pub(crate) async fn terminate(child: &mut Child, grace: Duration) -> Option<ExitStatus> {
    if let Some(pid) = child.id() {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(pid.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .await;
        if let Ok(Ok(status)) = tokio::time::timeout(grace, child.wait()).await {
            return Some(status);
        }
    }
    let _ = child.start_kill();
    child.wait().await.ok()
}

/// The exit code the kubelet reports: the code, or 128 + the signal that ended the process.
pub(crate) fn exit_code(status: Option<ExitStatus>) -> i32 {
    match status {
        Some(s) => s.code().unwrap_or_else(|| 128 + s.signal().unwrap_or(9)),
        None => 137,
    }
}

/// What the container wrote to its termination log, or, with `FallbackToLogsOnError` and a
/// failure, the end of its log.
pub(crate) fn termination_message(plan: &Plan, exit_code: i32) -> String {
    let read_tail = |path: &Path, limit: usize| -> String {
        let bytes = std::fs::read(path).unwrap_or_default();
        let start = bytes.len().saturating_sub(limit);
        String::from_utf8_lossy(&bytes[start..]).into_owned()
    };
    let message = {
        let bytes = std::fs::read(&plan.termination_log).unwrap_or_default();
        let end = bytes.len().min(MESSAGE_LIMIT);
        String::from_utf8_lossy(&bytes[..end]).into_owned()
    };
    if message.is_empty() && plan.fallback_to_logs && exit_code != 0 {
        read_tail(&plan.log, LOG_TAIL)
    } else {
        message
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn program_names_ignore_registry_tag_and_digest() {
        assert_eq!(
            program_name("ghcr.io/lepton-ai/lepton-runner:0.1.0"),
            "lepton-runner"
        );
        assert_eq!(program_name("lepton-runner@sha256:abc"), "lepton-runner");
        assert_eq!(
            program_name("/usr/local/bin/lepton-runner"),
            "lepton-runner"
        );
        assert_eq!(program_name("nginx"), "nginx");
    }

    #[test]
    fn exit_codes_of_signals_are_128_plus_the_signal() {
        assert_eq!(exit_code(Some(ExitStatus::from_raw(9))), 137);
        assert_eq!(exit_code(Some(ExitStatus::from_raw(1 << 8))), 1);
        assert_eq!(exit_code(None), 137);
    }
}

//! The stand-in for the Deployment and ReplicaSet controllers: `spec.replicas` pods from the
//! template, owned by the Deployment directly (no ReplicaSet), replaced all at once when the
//! template changes, and the status a Deployment gets (`observedGeneration`, `replicas`,
//! `updatedReplicas`, `readyReplicas`, `availableReplicas`, `unavailableReplicas`, and the
//! `Available` and `Progressing` conditions).

use futures::StreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams, ListParams, ObjectMeta, Patch, PatchParams, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::watcher;
use kube::{Resource, ResourceExt};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

use super::ExecutorConfig;

const MANAGER: &str = "lepton-local-deployment-controller";
const TEMPLATE_HASH: &str = "pod-template-hash";

struct Context {
    client: kube::Client,
}

/// Runs the Deployment controller until the task is aborted.
pub(crate) async fn run(client: kube::Client, config: Arc<ExecutorConfig>) {
    let (deployments, pods): (Api<Deployment>, Api<Pod>) = match &config.namespace {
        Some(ns) => (
            Api::namespaced(client.clone(), ns),
            Api::namespaced(client.clone(), ns),
        ),
        None => (Api::all(client.clone()), Api::all(client.clone())),
    };
    Controller::new(deployments, watcher::Config::default())
        .owns(pods, watcher::Config::default())
        .run(
            reconcile,
            |_, _, _| Action::requeue(Duration::from_millis(200)),
            Arc::new(Context { client }),
        )
        .for_each(|outcome| async move {
            if let Err(error) = outcome {
                tracing::debug!(%error, "deployment reconcile failed");
            }
        })
        .await;
}

/// A stable hash of the pod template, as the `pod-template-hash` label (FNV-1a).
fn template_hash(template: &Value) -> String {
    let text = template.to_string();
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in text.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    (0..10)
        .map(|i| char::from(ALPHABET[((hash >> (i * 6)) % ALPHABET.len() as u64) as usize]))
        .collect()
}

fn is_ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

fn is_terminal(pod: &Pod) -> bool {
    matches!(
        pod.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Succeeded" | "Failed")
    )
}

fn condition(old: &[Value], kind: &str, status: &str, reason: &str, message: &str) -> Value {
    super::condition(old, "lastUpdateTime", kind, status, reason, message)
}

async fn reconcile(deployment: Arc<Deployment>, ctx: Arc<Context>) -> Result<Action, kube::Error> {
    if deployment.metadata.deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    let ns = deployment.namespace().unwrap_or_default();
    let uid = deployment.uid().unwrap_or_default();
    let name = deployment.name_any();
    let spec = &deployment.spec;
    let replicas = spec.replicas.unwrap_or(1).max(0) as usize;
    let template = serde_json::to_value(&spec.template).unwrap_or_default();
    let hash = template_hash(&template);

    let pods_api: Api<Pod> = Api::namespaced(ctx.client.clone(), &ns);
    let selector = spec
        .selector
        .match_labels
        .iter()
        .flatten()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",");
    let pods: Vec<Pod> = pods_api
        .list(&ListParams::default().labels(&selector))
        .await?
        .items
        .into_iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .filter(|p| p.owner_references().iter().any(|r| r.uid == uid))
        .collect();
    let (current, outdated): (Vec<Pod>, Vec<Pod>) = pods
        .into_iter()
        .partition(|p| p.labels().get(TEMPLATE_HASH) == Some(&hash));
    for pod in &outdated {
        delete(&pods_api, pod).await;
    }
    let mut current = current;
    if current.len() > replicas {
        // Scale down: not-ready pods first, then the newest.
        current.sort_by_key(|p| {
            (
                is_ready(p),
                std::cmp::Reverse(p.creation_timestamp().map(|t| t.0)),
            )
        });
        for pod in current.drain(..current.len() - replicas) {
            delete(&pods_api, &pod).await;
        }
    }
    for _ in current.len()..replicas {
        let pod = pod_for(&deployment, &name, &hash);
        current.push(pods_api.create(&PostParams::default(), &pod).await?);
    }

    let ready = current
        .iter()
        .filter(|p| is_ready(p) && !is_terminal(p))
        .count();
    let old_status =
        serde_json::to_value(deployment.status.clone().unwrap_or_default()).unwrap_or_default();
    let old_conditions: Vec<Value> = old_status["conditions"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let available = ready >= replicas;
    let mut conditions = vec![if available {
        condition(
            &old_conditions,
            "Available",
            "True",
            "MinimumReplicasAvailable",
            "Deployment has minimum availability.",
        )
    } else {
        condition(
            &old_conditions,
            "Available",
            "False",
            "MinimumReplicasUnavailable",
            "Deployment does not have minimum availability.",
        )
    }];
    let complete = available && outdated.is_empty();
    conditions.push(if complete {
        condition(
            &old_conditions,
            "Progressing",
            "True",
            "NewReplicaSetAvailable",
            &format!("Deployment \"{name}\" has successfully progressed."),
        )
    } else {
        condition(
            &old_conditions,
            "Progressing",
            "True",
            "ReplicaSetUpdated",
            &format!("Deployment \"{name}\" is progressing."),
        )
    });
    let mut status = json!({
        "observedGeneration": deployment.metadata.generation.unwrap_or(1),
        "replicas": current.len() + outdated.len(),
        "updatedReplicas": current.len(),
        "readyReplicas": ready,
        "availableReplicas": ready,
        "conditions": conditions,
    });
    let unavailable = replicas.saturating_sub(ready);
    if unavailable > 0 {
        status["unavailableReplicas"] = Value::from(unavailable);
    }
    let body = json!({"apiVersion": "apps/v1", "kind": "Deployment", "status": status});
    let api: Api<Deployment> = Api::namespaced(ctx.client.clone(), &ns);
    api.patch_status(
        &name,
        &PatchParams::apply(MANAGER).force(),
        &Patch::Apply(&body),
    )
    .await?;
    Ok(Action::await_change())
}

fn pod_for(deployment: &Deployment, name: &str, hash: &str) -> Pod {
    let template = deployment.spec.template.clone();
    let template_meta = template.metadata.unwrap_or_default();
    let mut labels = template_meta.labels.unwrap_or_default();
    labels.insert(TEMPLATE_HASH.into(), hash.to_owned());
    Pod {
        metadata: ObjectMeta {
            generate_name: Some(format!("{name}-{hash}-")),
            labels: Some(labels),
            annotations: template_meta.annotations,
            owner_references: deployment.controller_owner_ref(&()).map(|r| vec![r]),
            ..ObjectMeta::default()
        },
        spec: template.spec,
        ..Pod::default()
    }
}

async fn delete(api: &Api<Pod>, pod: &Pod) {
    if let Err(error) = api
        .delete(&pod.name_any(), &DeleteParams::background())
        .await
    {
        tracing::debug!(%error, pod = %pod.name_any(), "pod not deleted");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_hashes_are_stable_and_differ_by_template() {
        let a = template_hash(&json!({"spec": {"containers": [{"name": "a"}]}}));
        assert_eq!(
            a,
            template_hash(&json!({"spec": {"containers": [{"name": "a"}]}}))
        );
        assert_ne!(
            a,
            template_hash(&json!({"spec": {"containers": [{"name": "b"}]}}))
        );
        assert_eq!(a.len(), 10);
    }
}

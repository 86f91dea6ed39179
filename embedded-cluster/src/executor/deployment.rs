//! The stand-in for the Deployment and ReplicaSet controllers: `spec.replicas` pods from the
//! template, owned by the Deployment directly (no ReplicaSet); a template change rolled out as
//! `spec.strategy` says (`RollingUpdate` within `maxSurge` and `maxUnavailable`, the default, or
//! `Recreate`); and the status a Deployment gets (`observedGeneration`, `replicas`,
//! `updatedReplicas`, `readyReplicas`, `availableReplicas`, `unavailableReplicas`, and the
//! `Available` and `Progressing` conditions).

use futures::StreamExt;
use k8s_openapi::api::apps::v1::{Deployment, DeploymentStrategy};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::api::{Api, DeleteParams, ListParams, ObjectMeta, Patch, PatchParams, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::watcher;
use kube::{Resource, ResourceExt};
use serde_json::{Value, json};
use std::cmp::Reverse;
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::ExecutorConfig;

const MANAGER: &str = "lepton-local-deployment-controller";
const TEMPLATE_HASH: &str = "pod-template-hash";
/// What the API server fills in for an unset `maxSurge` or `maxUnavailable`.
const DEFAULT_FENCEPOST: &str = "25%";

struct Context {
    client: kube::Client,
    /// Deployments (uid, generation) whose strategy has been warned about: reconciles run on
    /// every pod event, and one warning per spec is enough.
    warned: Mutex<HashSet<(String, i64)>>,
}

impl Context {
    fn warn_once(&self, deployment: &Deployment, warnings: Vec<String>) {
        if warnings.is_empty() {
            return;
        }
        let key = (
            deployment.uid().unwrap_or_default(),
            deployment.metadata.generation.unwrap_or_default(),
        );
        if self
            .warned
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key)
        {
            for warning in warnings {
                tracing::warn!(
                    deployment = %deployment.name_any(),
                    namespace = %deployment.namespace().unwrap_or_default(),
                    "{warning}"
                );
            }
        }
    }
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
    let context = Arc::new(Context {
        client,
        warned: Mutex::new(HashSet::new()),
    });
    // Owning the pods is what moves a rollout on: a new pod turning ready is a pod status
    // change, which wakes the reconcile of its controller (the Deployment).
    Controller::new(deployments, watcher::Config::default())
        .owns(pods, watcher::Config::default())
        .run(
            reconcile,
            |_, _, _| Action::requeue(Duration::from_millis(200)),
            context,
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

/// Whether the pod's `Ready` condition is true, as the kubelet last wrote it.
pub(super) fn is_ready(pod: &Pod) -> bool {
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

/// Ready and still running. Without `minReadySeconds`, available is ready.
fn is_available(pod: &Pod) -> bool {
    is_ready(pod) && !is_terminal(pod)
}

/// How far a rolling update may go above `replicas` (`surge`) and below it (`unavailable`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Fenceposts {
    surge: usize,
    unavailable: usize,
}

/// How a template change reaches the pods.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Strategy {
    /// Every old pod goes before the first new one is created.
    Recreate,
    /// New pods come and old ones go within the fenceposts.
    RollingUpdate(Fenceposts),
}

impl Strategy {
    /// How many of `replicas` may be unavailable before the Deployment is not `Available`;
    /// as in Kubernetes, none unless rolling.
    fn max_unavailable(self) -> usize {
        match self {
            Strategy::Recreate => 0,
            Strategy::RollingUpdate(f) => f.unavailable,
        }
    }
}

/// `spec.strategy` resolved against `replicas`. What the API server's validation would have
/// refused (an unknown type, a bad `maxSurge` or `maxUnavailable`) is replaced by its default
/// and described in the returned warnings, so a local run behaves safely and says why.
fn strategy(spec: Option<&DeploymentStrategy>, replicas: usize) -> (Strategy, Vec<String>) {
    let mut warnings = Vec::new();
    match spec.and_then(|s| s.type_.as_deref()) {
        Some("Recreate") => return (Strategy::Recreate, warnings),
        None | Some("RollingUpdate") => {}
        Some(other) => warnings.push(format!(
            "spec.strategy.type {other:?} is neither RollingUpdate nor Recreate; using RollingUpdate"
        )),
    }
    let rolling = spec.and_then(|s| s.rolling_update.as_ref());
    let (fenceposts, more) = fenceposts(
        rolling.and_then(|r| r.max_surge.as_ref()),
        rolling.and_then(|r| r.max_unavailable.as_ref()),
        replicas,
    );
    warnings.extend(more);
    (Strategy::RollingUpdate(fenceposts), warnings)
}

/// `maxSurge` and `maxUnavailable` resolved as the Deployment controller resolves them: unset
/// is 25%; a percent is of `replicas`, surge rounded up and unavailable down; when both come
/// to 0, unavailable is 1 (else nothing could move); unavailable is at most `replicas`. A
/// value that is neither a non-negative int nor a whole percent (`"25%"`) counts as unset,
/// with a warning.
fn fenceposts(
    max_surge: Option<&IntOrString>,
    max_unavailable: Option<&IntOrString>,
    replicas: usize,
) -> (Fenceposts, Vec<String>) {
    let mut warnings = Vec::new();
    let default = IntOrString::String(DEFAULT_FENCEPOST.into());
    let mut resolve = |field: &str, value: Option<&IntOrString>, round_up: bool| {
        scaled(value.unwrap_or(&default), replicas, round_up).unwrap_or_else(|why| {
            warnings.push(format!(
                "spec.strategy.rollingUpdate.{field}: {why}; using the default {DEFAULT_FENCEPOST}"
            ));
            scaled(&default, replicas, round_up).unwrap_or_default()
        })
    };
    let surge = resolve("maxSurge", max_surge, true);
    let mut unavailable = resolve("maxUnavailable", max_unavailable, false);
    if surge == 0 && unavailable == 0 {
        unavailable = 1;
    }
    let fenceposts = Fenceposts {
        surge,
        unavailable: unavailable.min(replicas),
    };
    (fenceposts, warnings)
}

/// An int as it is, or a percent of `replicas`, rounded up or down.
fn scaled(value: &IntOrString, replicas: usize, round_up: bool) -> Result<usize, String> {
    let percent = match value {
        IntOrString::Int(n) => return usize::try_from(*n).map_err(|_| format!("{n} is negative")),
        IntOrString::String(text) => text
            .strip_suffix('%')
            .and_then(|p| p.parse::<u32>().ok())
            .ok_or_else(|| format!("{text:?} is not a whole percent such as \"25%\""))?,
    };
    let product = u64::from(percent) * replicas as u64;
    let scaled = if round_up {
        product.div_ceil(100)
    } else {
        product / 100
    };
    Ok(usize::try_from(scaled).unwrap_or(usize::MAX))
}

/// What planning needs to know of one pod.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Member {
    /// From the current template.
    updated: bool,
    /// Counts towards availability (see [`is_available`]).
    available: bool,
}

/// What one reconcile does: how many pods to create from the current template, and which pods
/// to delete (indices into the members).
#[derive(Debug, Default, PartialEq, Eq)]
struct Plan {
    create: usize,
    delete: Vec<usize>,
}

/// The next step towards `replicas` pods of the current template. `members` are the
/// Deployment's pods that are not being deleted, in the order they should go when some must
/// (unavailable first, then the newest); `old_terminating` says whether old pods are still
/// being deleted (held by finalizers), which `Recreate` waits for.
///
/// A rolling update follows the Deployment controller: new pods are created while
/// `new <= replicas` and `total <= replicas + surge`; unavailable old pods are deleted while
/// what is left, less the new pods not available yet, stays at least `replicas - unavailable`;
/// available old pods while more than `replicas - unavailable` pods are available, so
/// availability never drops below that.
fn plan(replicas: usize, strategy: Strategy, members: &[Member], old_terminating: bool) -> Plan {
    let (new, old): (Vec<usize>, Vec<usize>) =
        (0..members.len()).partition(|&i| members[i].updated);
    let fenceposts = match strategy {
        Strategy::Recreate if !old.is_empty() || old_terminating => {
            return Plan {
                create: 0,
                delete: old,
            };
        }
        Strategy::RollingUpdate(f) if !old.is_empty() => f,
        _ => return scale(replicas, &new),
    };
    let mut plan = scale(replicas, &new);
    let room = (replicas + fenceposts.surge).saturating_sub(members.len());
    plan.create = plan.create.min(room);

    let kept_new: Vec<usize> = new
        .iter()
        .copied()
        .filter(|i| !plan.delete.contains(i))
        .collect();
    let new_available = kept_new.iter().filter(|&&i| members[i].available).count();
    let new_unavailable = kept_new.len() - new_available + plan.create;
    let total = old.len() + kept_new.len() + plan.create;
    let min_available = replicas.saturating_sub(fenceposts.unavailable);
    // Unavailable old pods may go first: they do not count, but they hold surge room. As in the
    // Deployment controller, new pods not available yet count as missing, which bounds how
    // many old pods may go while the new ones do not start.
    let max_scaled_down = total.saturating_sub(min_available + new_unavailable);
    plan.delete.extend(
        old.iter()
            .copied()
            .filter(|&i| !members[i].available)
            .take(max_scaled_down),
    );
    let old_available = old.iter().filter(|&&i| members[i].available).count();
    let excess = (old_available + new_available).saturating_sub(min_available);
    plan.delete.extend(
        old.iter()
            .copied()
            .filter(|&i| members[i].available)
            .take(excess),
    );
    plan
}

/// Scaling the current template's pods (`current`, indices in deletion order) to `replicas`.
fn scale(replicas: usize, current: &[usize]) -> Plan {
    Plan {
        create: replicas.saturating_sub(current.len()),
        delete: current[..current.len().saturating_sub(replicas)].to_vec(),
    }
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
    let (strategy, warnings) = strategy(spec.strategy.as_ref(), replicas);
    ctx.warn_once(&deployment, warnings);

    let pods_api: Api<Pod> = Api::namespaced(ctx.client.clone(), &ns);
    let selector = spec
        .selector
        .match_labels
        .iter()
        .flatten()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",");
    let is_updated = |p: &Pod| p.labels().get(TEMPLATE_HASH) == Some(&hash);
    let (mut pods, terminating): (Vec<Pod>, Vec<Pod>) = pods_api
        .list(&ListParams::default().labels(&selector))
        .await?
        .items
        .into_iter()
        .filter(|p| p.owner_references().iter().any(|r| r.uid == uid))
        .partition(|p| p.metadata.deletion_timestamp.is_none());
    pods.sort_by_key(|p| {
        (
            is_available(p),
            Reverse(p.creation_timestamp().map(|t| t.0)),
        )
    });
    let members: Vec<Member> = pods
        .iter()
        .map(|p| Member {
            updated: is_updated(p),
            available: is_available(p),
        })
        .collect();
    let old_terminating = terminating.iter().any(|p| !is_updated(p));
    let plan = plan(replicas, strategy, &members, old_terminating);
    for _ in 0..plan.create {
        let pod = pod_for(&deployment, &name, &hash);
        pods_api.create(&PostParams::default(), &pod).await?;
    }
    for &i in &plan.delete {
        delete(&pods_api, &pods[i]).await?;
    }

    let kept: Vec<&Member> = members
        .iter()
        .enumerate()
        .filter(|(i, _)| !plan.delete.contains(i))
        .map(|(_, m)| m)
        .collect();
    let total = kept.len() + plan.create;
    let updated = kept.iter().filter(|m| m.updated).count() + plan.create;
    let ready = kept.iter().filter(|m| m.available).count();
    let old_status =
        serde_json::to_value(deployment.status.clone().unwrap_or_default()).unwrap_or_default();
    let old_conditions: Vec<Value> = old_status["conditions"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let mut conditions = vec![
        if ready >= replicas.saturating_sub(strategy.max_unavailable()) {
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
        },
    ];
    let complete = updated == replicas && total == replicas && ready == replicas;
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
        "replicas": total,
        "updatedReplicas": updated,
        "readyReplicas": ready,
        "availableReplicas": ready,
        "conditions": conditions,
    });
    // As the Deployment controller counts it: every pod that exists and is not available,
    // surge pods included.
    let unavailable = total.saturating_sub(ready);
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

/// Deletes a pod; one already gone is fine. Other failures end the reconcile, which is then
/// retried, so a rollout does not stall on a lost request.
async fn delete(api: &Api<Pod>, pod: &Pod) -> Result<(), kube::Error> {
    match api
        .delete(&pod.name_any(), &DeleteParams::background())
        .await
    {
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
        other => other.map(|_| ()),
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

    fn int(n: i32) -> Option<IntOrString> {
        Some(IntOrString::Int(n))
    }

    fn text(s: &str) -> Option<IntOrString> {
        Some(IntOrString::String(s.into()))
    }

    fn resolve(
        surge: Option<IntOrString>,
        unavailable: Option<IntOrString>,
        replicas: usize,
    ) -> ((usize, usize), Vec<String>) {
        let (f, warnings) = fenceposts(surge.as_ref(), unavailable.as_ref(), replicas);
        ((f.surge, f.unavailable), warnings)
    }

    #[test]
    fn fenceposts_take_ints_as_they_are() {
        assert_eq!(resolve(int(2), int(1), 5), ((2, 1), vec![]));
        assert_eq!(resolve(int(0), int(3), 5), ((0, 3), vec![]));
        // maxSurge has no upper bound; maxUnavailable is at most replicas.
        assert_eq!(resolve(int(10), int(9), 4), ((10, 4), vec![]));
    }

    #[test]
    fn percents_round_surge_up_and_unavailable_down() {
        // The defaults: 25% of 1 is a surge of 1 and no unavailable pod.
        assert_eq!(resolve(None, None, 1), ((1, 0), vec![]));
        assert_eq!(resolve(None, None, 3), ((1, 0), vec![]));
        assert_eq!(resolve(None, None, 4), ((1, 1), vec![]));
        assert_eq!(resolve(None, None, 10), ((3, 2), vec![]));
        assert_eq!(resolve(text("50%"), text("50%"), 3), ((2, 1), vec![]));
        assert_eq!(resolve(text("100%"), text("100%"), 7), ((7, 7), vec![]));
        assert_eq!(resolve(text("200%"), int(0), 3), ((6, 0), vec![]));
        // Either may be set alone; the other keeps its default.
        assert_eq!(resolve(int(0), None, 8), ((0, 2), vec![]));
        assert_eq!(resolve(None, int(0), 8), ((2, 0), vec![]));
    }

    #[test]
    fn both_zero_makes_one_unavailable() {
        assert_eq!(resolve(int(0), int(0), 3), ((0, 1), vec![]));
        // 25% of 1 rounded down is 0, and a surge of 0% is 0.
        assert_eq!(resolve(text("0%"), None, 1), ((0, 1), vec![]));
        // With no replicas nothing may be unavailable.
        assert_eq!(resolve(int(0), int(0), 0), ((0, 0), vec![]));
    }

    #[test]
    fn bad_values_fall_back_to_the_default_with_a_warning() {
        let ((surge, unavailable), warnings) = resolve(text("two"), text("1.5%"), 8);
        assert_eq!((surge, unavailable), (2, 2));
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(
            warnings[0].contains("maxSurge") && warnings[0].contains("\"two\""),
            "{warnings:?}"
        );
        assert!(
            warnings[1].contains("maxUnavailable") && warnings[1].contains("default 25%"),
            "{warnings:?}"
        );
        // A number in a string is not a percent, as the API server sees it; nor is a negative one.
        let (resolved, warnings) = resolve(text("1"), int(-1), 4);
        assert_eq!((resolved, warnings.len()), ((1, 1), 2));
        let (resolved, warnings) = resolve(text("-5%"), None, 4);
        assert_eq!((resolved, warnings.len()), ((1, 1), 1));
    }

    #[test]
    fn the_strategy_type_picks_recreate_or_rolling() {
        let recreate: DeploymentStrategy =
            serde_json::from_value(json!({"type": "Recreate"})).unwrap();
        assert_eq!(strategy(Some(&recreate), 3), (Strategy::Recreate, vec![]));
        let rolling: DeploymentStrategy = serde_json::from_value(
            json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": "34%"}}),
        )
        .unwrap();
        let expected = Strategy::RollingUpdate(Fenceposts {
            surge: 1,
            unavailable: 1,
        });
        assert_eq!(strategy(Some(&rolling), 3), (expected, vec![]));
        let unknown: DeploymentStrategy =
            serde_json::from_value(json!({"type": "BlueGreen"})).unwrap();
        let (resolved, warnings) = strategy(Some(&unknown), 4);
        assert_eq!(
            resolved,
            Strategy::RollingUpdate(Fenceposts {
                surge: 1,
                unavailable: 1
            })
        );
        assert!(warnings[0].contains("BlueGreen"), "{warnings:?}");
        assert_eq!(strategy(None, 1).0, strategy(Some(&unknown), 1).0);
    }

    /// Plays a rollout to the end: each step applies a plan, then the pods it created turn
    /// available (the slowest case: new pods are unavailable when planned on). Returns, per
    /// step, (pods, available pods) after the step's deletions and creations.
    fn roll(replicas: usize, strategy: Strategy, old: usize) -> Vec<(usize, usize)> {
        let mut members = vec![
            Member {
                updated: false,
                available: true
            };
            old
        ];
        let mut seen = Vec::new();
        for _ in 0..100 {
            let plan = plan(replicas, strategy, &members, false);
            if plan == Plan::default() {
                assert!(members.iter().all(|m| m.updated && m.available));
                assert_eq!(members.len(), replicas);
                return seen;
            }
            let mut next: Vec<Member> = members
                .iter()
                .enumerate()
                .filter(|(i, _)| !plan.delete.contains(i))
                .map(|(_, m)| *m)
                .collect();
            let created = Member {
                updated: true,
                available: false,
            };
            // Not available members go first, as the controller orders them.
            for _ in 0..plan.create {
                next.insert(0, created);
            }
            seen.push((next.len(), next.iter().filter(|m| m.available).count()));
            for m in &mut next {
                m.available = true;
            }
            members = next;
        }
        panic!("the rollout does not finish: {seen:?}");
    }

    #[test]
    fn one_replica_surges_before_the_old_pod_goes() {
        let (defaults, _) = strategy(None, 1);
        let steps = roll(1, defaults, 1);
        assert_eq!(steps, [(2, 1), (1, 1)]);
    }

    #[test]
    fn a_rolling_update_stays_within_its_fenceposts() {
        for (replicas, surge, unavailable) in [(3, 1, 1), (4, 1, 0), (5, 0, 2), (10, 3, 2)] {
            let fenceposts = Fenceposts { surge, unavailable };
            let steps = roll(replicas, Strategy::RollingUpdate(fenceposts), replicas);
            for &(pods, available) in &steps {
                assert!(pods <= replicas + surge, "{replicas}: {steps:?}");
                assert!(available + unavailable >= replicas, "{replicas}: {steps:?}");
            }
        }
    }

    #[test]
    fn unavailable_old_pods_go_first_but_not_before_new_ones_are_available() {
        let fenceposts = Fenceposts {
            surge: 1,
            unavailable: 0,
        };
        let member = |updated, available| Member { updated, available };
        // One old pod never became ready; a new one is being created.
        let members = [
            member(false, false),
            member(false, true),
            member(false, true),
        ];
        let first = plan(3, Strategy::RollingUpdate(fenceposts), &members, false);
        assert_eq!(
            first,
            Plan {
                create: 1,
                delete: vec![]
            }
        );
        // Once a new pod is available, the unavailable old one goes; the available ones stay, as
        // none may be unavailable.
        let members = [
            member(false, false),
            member(false, true),
            member(false, true),
            member(true, true),
        ];
        let next = plan(3, Strategy::RollingUpdate(fenceposts), &members, false);
        assert_eq!(
            next,
            Plan {
                create: 0,
                delete: vec![0]
            }
        );
    }

    #[test]
    fn recreate_deletes_every_old_pod_before_creating() {
        let member = |updated| Member {
            updated,
            available: true,
        };
        let old = [member(false), member(false)];
        assert_eq!(
            plan(2, Strategy::Recreate, &old, false),
            Plan {
                create: 0,
                delete: vec![0, 1]
            }
        );
        assert_eq!(plan(2, Strategy::Recreate, &[], true), Plan::default());
        assert_eq!(
            plan(2, Strategy::Recreate, &[], false),
            Plan {
                create: 2,
                delete: vec![]
            }
        );
    }

    #[test]
    fn without_a_template_change_pods_are_scaled() {
        let member = Member {
            updated: true,
            available: true,
        };
        let (defaults, _) = strategy(None, 3);
        assert_eq!(
            plan(3, defaults, &[member], false),
            Plan {
                create: 2,
                delete: vec![]
            }
        );
        assert_eq!(
            plan(1, defaults, &[member; 3], false),
            Plan {
                create: 0,
                delete: vec![0, 1]
            }
        );
    }
}

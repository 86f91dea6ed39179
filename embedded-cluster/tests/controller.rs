//! A kube-runtime `Controller` with `.owns()` runs against the embedded cluster unchanged:
//! it reconciles on create, on a change to a child, and on delete through a finalizer; and it
//! survives a server restart in the middle of its watches without losing an event.

mod support;

use futures::StreamExt;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, DeleteParams, ObjectMeta, Patch, PatchParams, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::finalizer::{Event, finalizer};
use kube::runtime::watcher;
use kube::{Client, Resource, ResourceExt};
use lepton_crds::v1alpha1::TrainingJob;
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use support::{embedded, eventually};

const FINALIZER: &str = "lepton.ai/test-cleanup";
const WAIT: Duration = Duration::from_secs(20);

#[derive(Debug, thiserror::Error)]
enum ReconcileError {
    #[error(transparent)]
    Kube(#[from] kube::Error),
    #[error(transparent)]
    Finalizer(#[from] Box<kube::runtime::finalizer::Error<kube::Error>>),
}

struct Context {
    client: Client,
    log: Mutex<Vec<String>>,
}

impl Context {
    fn record(&self, entry: String) {
        self.log.lock().unwrap().push(entry);
    }

    fn count(&self, prefix: &str) -> usize {
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter(|e| e.starts_with(prefix))
            .count()
    }
}

/// Keeps one child ConfigMap per TrainingJob, copying its target into the child.
async fn reconcile(job: Arc<TrainingJob>, ctx: Arc<Context>) -> Result<Action, ReconcileError> {
    let ns = job.namespace().unwrap_or_default();
    let jobs: Api<TrainingJob> = Api::namespaced(ctx.client.clone(), &ns);
    let outcome = finalizer(&jobs, FINALIZER, job, |event| async {
        match event {
            Event::Apply(job) => {
                let children: Api<ConfigMap> = Api::namespaced(ctx.client.clone(), &ns);
                let child = ConfigMap {
                    metadata: ObjectMeta {
                        name: Some(format!("{}-child", job.name_any())),
                        owner_references: Some(vec![job.controller_owner_ref(&()).unwrap()]),
                        ..ObjectMeta::default()
                    },
                    data: Some(BTreeMap::from([(
                        "target".to_owned(),
                        job.spec.data.target.clone(),
                    )])),
                    ..ConfigMap::default()
                };
                let current = children
                    .get_opt(&format!("{}-child", job.name_any()))
                    .await?;
                ctx.record(format!(
                    "apply:{}:{}",
                    job.name_any(),
                    current
                        .as_ref()
                        .and_then(|c| c.data.as_ref()?.get("note").cloned())
                        .unwrap_or_default()
                ));
                children
                    .patch(
                        &child.name_any(),
                        &PatchParams::apply("test-controller").force(),
                        &Patch::Apply(&child),
                    )
                    .await?;
                Ok(Action::await_change())
            }
            Event::Cleanup(job) => {
                ctx.record(format!("cleanup:{}", job.name_any()));
                Ok(Action::await_change())
            }
        }
    })
    .await;
    outcome.map_err(|e| ReconcileError::Finalizer(Box::new(e)))
}

fn error_policy(_: Arc<TrainingJob>, _: &ReconcileError, _: Arc<Context>) -> Action {
    Action::requeue(Duration::from_millis(50))
}

fn training_job(name: &str) -> TrainingJob {
    serde_json::from_value(json!({
        "apiVersion": "lepton.ai/v1alpha1",
        "kind": "TrainingJob",
        "metadata": {"name": name},
        "spec": {"data": {"source": "pvc://datasets/a.csv", "target": "default"}},
    }))
    .expect("a TrainingJob")
}

fn start_controller(client: Client) -> Arc<Context> {
    let ctx = Arc::new(Context {
        client: client.clone(),
        log: Mutex::new(Vec::new()),
    });
    let controller = Controller::new(
        Api::<TrainingJob>::all(client.clone()),
        watcher::Config::default(),
    )
    .owns(Api::<ConfigMap>::all(client), watcher::Config::default())
    .run(reconcile, error_policy, ctx.clone())
    .for_each(|outcome| async move {
        if let Err(error) = outcome {
            eprintln!("reconcile failed: {error:?}");
        }
    });
    tokio::spawn(controller);
    ctx
}

#[tokio::test]
async fn controller_reconciles_on_create_child_change_and_delete() {
    let (_cluster, client) = embedded().await;
    let ctx = start_controller(client.clone());
    let jobs: Api<TrainingJob> = Api::namespaced(client.clone(), "default");
    let children: Api<ConfigMap> = Api::namespaced(client.clone(), "default");

    jobs.create(&PostParams::default(), &training_job("alpha"))
        .await
        .expect("create");
    let child = eventually(WAIT, "the child ConfigMap", || async {
        children.get_opt("alpha-child").await.ok().flatten()
    })
    .await;
    assert_eq!(child.data.unwrap()["target"], "default");
    assert_eq!(child.metadata.owner_references.unwrap()[0].name, "alpha");
    let job = jobs.get("alpha").await.unwrap();
    assert_eq!(job.finalizers(), [FINALIZER.to_owned()]);

    // A change to the child reconciles its owner.
    children
        .patch(
            "alpha-child",
            &PatchParams::default(),
            &Patch::Merge(json!({"data": {"note": "touched"}})),
        )
        .await
        .unwrap();
    eventually(WAIT, "a reconcile after the child changed", || async {
        (ctx.count("apply:alpha:touched") > 0).then_some(())
    })
    .await;

    // Deleting runs the cleanup, removes the finalizer, and the child is collected.
    jobs.delete("alpha", &DeleteParams::default())
        .await
        .unwrap();
    eventually(WAIT, "the cleanup and the job gone", || async {
        let gone = jobs.get_opt("alpha").await.ok()?.is_none();
        (gone && ctx.count("cleanup:alpha") == 1).then_some(())
    })
    .await;
    eventually(WAIT, "the child collected", || async {
        children
            .get_opt("alpha-child")
            .await
            .ok()?
            .is_none()
            .then_some(())
    })
    .await;
}

/// A controller that records every ConfigMap it sees, by name.
fn start_recorder(client: Client) -> Arc<Mutex<BTreeMap<String, usize>>> {
    let seen = Arc::new(Mutex::new(BTreeMap::new()));
    let record = seen.clone();
    let controller = Controller::new(
        Api::<ConfigMap>::namespaced(client, "default"),
        watcher::Config::default().labels("restart=test"),
    )
    .run(
        |cm: Arc<ConfigMap>, seen: Arc<Mutex<BTreeMap<String, usize>>>| async move {
            *seen.lock().unwrap().entry(cm.name_any()).or_default() += 1;
            Ok::<_, kube::Error>(Action::await_change())
        },
        |_, _, _| Action::requeue(Duration::from_millis(50)),
        record,
    )
    .for_each(|_| async {});
    tokio::spawn(controller);
    seen
}

async fn create_retrying(api: &Api<ConfigMap>, name: &str) {
    let mut cm = ConfigMap::default();
    cm.metadata.name = Some(name.to_owned());
    cm.metadata.labels = Some(BTreeMap::from([("restart".to_owned(), "test".to_owned())]));
    loop {
        match api.create(&PostParams::default(), &cm).await {
            Ok(_) => return,
            Err(kube::Error::Api(s)) if s.code == 409 => return,
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
}

#[tokio::test]
async fn controller_resumes_after_a_server_restart_without_losing_events() {
    let (cluster, client) = embedded().await;
    let seen = start_recorder(client.clone());
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    create_retrying(&api, "before").await;
    eventually(WAIT, "the first object", || async {
        seen.lock().unwrap().contains_key("before").then_some(())
    })
    .await;

    let writer = {
        let api = api.clone();
        tokio::spawn(async move {
            for i in 0..60 {
                create_retrying(&api, &format!("during-{i:02}")).await;
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
    };
    tokio::time::sleep(Duration::from_millis(150)).await;
    cluster
        .restart_after(Duration::from_millis(300))
        .await
        .expect("restart");
    writer.await.unwrap();
    let rv_after = cluster.resource_version();

    eventually(WAIT, "every object created around the restart", || async {
        let seen = seen.lock().unwrap();
        (0..60)
            .all(|i| seen.contains_key(&format!("during-{i:02}")))
            .then_some(())
    })
    .await;
    assert!(rv_after >= 61);
}

#[tokio::test]
async fn controller_relists_after_history_is_compacted() {
    let (cluster, client) = embedded().await;
    let seen = start_recorder(client.clone());
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    create_retrying(&api, "first").await;
    eventually(WAIT, "the first object", || async {
        seen.lock().unwrap().contains_key("first").then_some(())
    })
    .await;
    // Cut the watches and forget history: the controller's watcher gets 410 Gone on its
    // next watch and must relist to find what was created in between.
    cluster.pause().await;
    cluster.compact_history();
    cluster.resume().await.unwrap();
    create_retrying(&api, "second").await;
    eventually(WAIT, "the object created after compaction", || async {
        seen.lock().unwrap().contains_key("second").then_some(())
    })
    .await;
}

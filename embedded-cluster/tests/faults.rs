//! Fault injection: failed and delayed requests, and a controller that converges anyway;
//! restarts that keep state; the store file that outlives a run.

mod support;

use futures::StreamExt;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::watcher;
use kube::{Client, ResourceExt};
use lepton_embedded_cluster::{EmbeddedCluster, RequestMatcher};
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};

use support::{eventually, status_of};

fn cm(name: &str) -> ConfigMap {
    let mut cm = ConfigMap::default();
    cm.metadata.name = Some(name.to_owned());
    cm
}

#[tokio::test]
async fn the_next_matching_requests_fail_with_the_given_status() {
    let (cluster, client) = support::embedded().await;
    let api: Api<ConfigMap> = Api::namespaced(client, "default");
    api.create(&PostParams::default(), &cm("f")).await.unwrap();
    cluster.faults().fail_next(
        2,
        RequestMatcher::any()
            .method("PATCH")
            .path_contains("/configmaps/f"),
        500,
    );
    let patch = Patch::Merge(json!({"data": {"a": "1"}}));
    for _ in 0..2 {
        let failed = status_of(api.patch("f", &PatchParams::default(), &patch).await);
        assert_eq!(
            (failed.code, failed.reason.as_str()),
            (500, "InternalError")
        );
    }
    api.get("f").await.expect("other requests are untouched");
    api.patch("f", &PatchParams::default(), &patch)
        .await
        .expect("the third patch goes through");
    assert_eq!(cluster.faults().fired(), 2);

    // kube's client retries 503 (and 429, 504) by itself: the caller sees success.
    cluster
        .faults()
        .fail_next(2, RequestMatcher::any().path_contains("/configmaps/f"), 503);
    api.get("f").await.expect("retried past two 503s");
    assert_eq!(cluster.faults().fired(), 4);
}

#[tokio::test]
async fn matching_requests_are_delayed() {
    let (cluster, client) = support::embedded().await;
    let api: Api<ConfigMap> = Api::namespaced(client, "default");
    cluster.faults().delay_next(
        1,
        RequestMatcher::any().method("GET"),
        Duration::from_millis(300),
    );
    let started = Instant::now();
    api.list(&ListParams::default()).await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(300));
    let started = Instant::now();
    api.list(&ListParams::default()).await.unwrap();
    assert!(started.elapsed() < Duration::from_millis(300));
}

/// Copies `data.want` into `data.have`; fails while the server fails its writes.
async fn converge(cm: Arc<ConfigMap>, client: Arc<Client>) -> Result<Action, kube::Error> {
    let want = cm
        .data
        .as_ref()
        .and_then(|d| d.get("want"))
        .cloned()
        .unwrap_or_default();
    let api: Api<ConfigMap> =
        Api::namespaced((*client).clone(), &cm.namespace().unwrap_or_default());
    api.patch(
        &cm.name_any(),
        &PatchParams::apply("converger").force(),
        &Patch::Apply(json!({"apiVersion": "v1", "kind": "ConfigMap", "data": {"have": want}})),
    )
    .await?;
    Ok(Action::await_change())
}

#[tokio::test]
async fn a_controller_converges_through_injected_failures() {
    let (cluster, client) = support::embedded().await;
    cluster.faults().fail_next(
        5,
        RequestMatcher::any()
            .method("PATCH")
            .path_contains("fieldManager=converger"),
        500,
    );
    let controller = Controller::new(
        Api::<ConfigMap>::all(client.clone()),
        watcher::Config::default(),
    )
    .run(
        converge,
        |_, _, _| Action::requeue(Duration::from_millis(20)),
        Arc::new(client.clone()),
    )
    .for_each(|_| async {});
    tokio::spawn(controller);
    let api: Api<ConfigMap> = Api::namespaced(client, "default");
    let mut wanted = cm("c");
    wanted.data = Some([("want".to_owned(), "42".to_owned())].into());
    api.create(&PostParams::default(), &wanted).await.unwrap();
    eventually(
        Duration::from_secs(20),
        "the controller to converge",
        || async {
            let got = api.get("c").await.ok()?;
            (got.data?.get("have")? == "42").then_some(())
        },
    )
    .await;
    assert_eq!(cluster.faults().fired(), 5);
}

#[tokio::test]
async fn failed_watch_requests_are_retried_by_watchers() {
    let (cluster, client) = support::embedded().await;
    let api: Api<ConfigMap> = Api::namespaced(client, "default");
    cluster
        .faults()
        .fail_next(2, RequestMatcher::any().watch(true), 500);
    let mut events = watcher::watcher(api.clone(), watcher::Config::default()).boxed();
    api.create(&PostParams::default(), &cm("seen"))
        .await
        .unwrap();
    let found = tokio::time::timeout(Duration::from_secs(20), async {
        while let Some(event) = events.next().await {
            match event {
                Ok(watcher::Event::Apply(o) | watcher::Event::InitApply(o))
                    if o.metadata.name.as_deref() == Some("seen") =>
                {
                    return true;
                }
                _ => {}
            }
        }
        false
    })
    .await;
    assert_eq!(found, Ok(true));
}

#[tokio::test]
async fn a_restart_keeps_objects_versions_and_watch_history() {
    let (cluster, client) = support::embedded().await;
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let created = api
        .create(&PostParams::default(), &cm("kept"))
        .await
        .unwrap();
    let rv = created.metadata.resource_version.clone().unwrap();
    let port = cluster.addr().port();
    cluster.restart().await.unwrap();
    assert_eq!(cluster.addr().port(), port);
    let after = eventually(Duration::from_secs(5), "the server back", || async {
        api.get("kept").await.ok()
    })
    .await;
    assert_eq!(after.metadata.uid, created.metadata.uid);
    assert_eq!(
        after.metadata.resource_version,
        created.metadata.resource_version
    );
    api.create(&PostParams::default(), &cm("next"))
        .await
        .unwrap();
    let mut stream = api
        .watch(&WatchParams::default(), &rv)
        .await
        .unwrap()
        .boxed();
    match stream.next().await {
        Some(Ok(WatchEvent::Added(o))) => assert_eq!(o.metadata.name.as_deref(), Some("next")),
        other => panic!("expected the event after {rv}, got {other:?}"),
    }
}

#[tokio::test]
async fn the_store_file_outlives_the_run() {
    let dir = std::env::temp_dir().join(support::unique("lepton-store"));
    let file = dir.join("cluster.jsonl");
    let (uid, rv) = {
        let cluster = EmbeddedCluster::builder()
            .store_file(&file)
            .start()
            .await
            .unwrap();
        let api: Api<ConfigMap> = Api::namespaced(cluster.client().await.unwrap(), "team");
        api.create(&PostParams::default(), &cm("gone"))
            .await
            .unwrap();
        let kept = api
            .create(&PostParams::default(), &cm("kept"))
            .await
            .unwrap();
        api.delete("gone", &Default::default()).await.unwrap();
        cluster.shutdown().await.unwrap();
        (kept.metadata.uid.clone().unwrap(), cluster_rv(&kept))
    };
    let cluster = EmbeddedCluster::builder()
        .store_file(&file)
        .start()
        .await
        .unwrap();
    let api: Api<ConfigMap> = Api::namespaced(cluster.client().await.unwrap(), "team");
    let names: Vec<String> = api
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|c| c.name_any())
        .collect();
    assert_eq!(names, ["kept"]);
    let kept = api.get("kept").await.unwrap();
    assert_eq!(kept.metadata.uid.as_deref(), Some(uid.as_str()));
    assert!(
        cluster.resource_version() > rv,
        "versions continue after the last one"
    );
    let newer = api
        .create(&PostParams::default(), &cm("newer"))
        .await
        .unwrap();
    assert!(cluster_rv(&newer) > rv);
    // History is not persisted: watching from before the restart is 410 Gone.
    let mut stream = api
        .watch(&WatchParams::default(), &rv.to_string())
        .await
        .unwrap()
        .boxed();
    assert!(matches!(stream.next().await, Some(Ok(WatchEvent::Error(s))) if s.code == 410));
    drop(cluster);
    let _ = std::fs::remove_dir_all(dir);
}

fn cluster_rv(cm: &ConfigMap) -> u64 {
    cm.metadata
        .resource_version
        .as_deref()
        .unwrap()
        .parse()
        .unwrap()
}

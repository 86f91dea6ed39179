//! Watches: `ADDED`, `MODIFIED` and `DELETED` in order, from a version, selector transitions,
//! and `timeoutSeconds`.

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::Client;
use kube::api::{
    Api, DeleteParams, ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams,
};
use serde_json::json;
use std::time::{Duration, Instant};

use super::config_map;

/// `(type, name)` of the next `count` non-bookmark events.
async fn next_events(
    stream: &mut (impl futures::Stream<Item = Result<WatchEvent<ConfigMap>, kube::Error>> + Unpin),
    count: usize,
) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    while out.len() < count {
        let event = tokio::time::timeout(Duration::from_secs(30), stream.next())
            .await
            .expect("an event within 30 s")
            .expect("the stream is open")
            .expect("a well-formed event");
        let (kind, object) = match event {
            WatchEvent::Added(o) => ("ADDED", o),
            WatchEvent::Modified(o) => ("MODIFIED", o),
            WatchEvent::Deleted(o) => ("DELETED", o),
            WatchEvent::Bookmark(_) => continue,
            WatchEvent::Error(e) => panic!("watch error: {e:?}"),
        };
        out.push((
            kind.to_owned(),
            object.metadata.name.unwrap_or_default(),
            object.metadata.resource_version.unwrap_or_default(),
        ));
    }
    out
}

fn kinds(events: &[(String, String, String)]) -> Vec<(&str, &str)> {
    events
        .iter()
        .map(|(k, n, _)| (k.as_str(), n.as_str()))
        .collect()
}

pub async fn watch_sees_changes_in_order(client: Client, ns: String) {
    let api: Api<ConfigMap> = Api::namespaced(client, &ns);
    let list = api
        .list(&ListParams::default().labels("set=w"))
        .await
        .expect("list");
    let rv = list.metadata.resource_version.expect("list version");
    let params = WatchParams::default().labels("set=w").timeout(60);
    let mut stream = api.watch(&params, &rv).await.expect("watch").boxed();
    api.create(
        &PostParams::default(),
        &config_map("w1", &[("set", "w")], &[("a", "1")]),
    )
    .await
    .unwrap();
    api.patch(
        "w1",
        &PatchParams::default(),
        &Patch::Merge(json!({"data": {"a": "2"}})),
    )
    .await
    .unwrap();
    api.delete("w1", &DeleteParams::default()).await.unwrap();
    let events = next_events(&mut stream, 3).await;
    assert_eq!(
        kinds(&events),
        [("ADDED", "w1"), ("MODIFIED", "w1"), ("DELETED", "w1")]
    );
    let versions: Vec<u64> = events.iter().map(|(_, _, v)| v.parse().unwrap()).collect();
    assert!(versions.windows(2).all(|w| w[0] < w[1]), "{versions:?}");
}

pub async fn watch_resumes_from_a_version(client: Client, ns: String) {
    let api: Api<ConfigMap> = Api::namespaced(client, &ns);
    let pp = PostParams::default();
    let a = api
        .create(&pp, &config_map("ra", &[("set", "r")], &[]))
        .await
        .unwrap();
    let from = a.metadata.resource_version.unwrap();
    api.patch(
        "ra",
        &PatchParams::default(),
        &Patch::Merge(json!({"data": {"x": "1"}})),
    )
    .await
    .unwrap();
    api.create(&pp, &config_map("rb", &[("set", "r")], &[]))
        .await
        .unwrap();
    let params = WatchParams::default().labels("set=r").timeout(60);
    let mut stream = api.watch(&params, &from).await.expect("watch").boxed();
    let events = next_events(&mut stream, 2).await;
    assert_eq!(kinds(&events), [("MODIFIED", "ra"), ("ADDED", "rb")]);
}

pub async fn watch_with_selector_sees_objects_enter_and_leave(client: Client, ns: String) {
    let api: Api<ConfigMap> = Api::namespaced(client, &ns);
    let rv = api
        .list(&ListParams::default())
        .await
        .unwrap()
        .metadata
        .resource_version
        .unwrap();
    let params = WatchParams::default().labels("watched=yes").timeout(60);
    let mut stream = api.watch(&params, &rv).await.expect("watch").boxed();
    api.create(&PostParams::default(), &config_map("x", &[], &[]))
        .await
        .unwrap();
    let pp = PatchParams::default();
    api.patch(
        "x",
        &pp,
        &Patch::Merge(json!({"metadata": {"labels": {"watched": "yes"}}})),
    )
    .await
    .unwrap();
    api.patch("x", &pp, &Patch::Merge(json!({"data": {"k": "v"}})))
        .await
        .unwrap();
    api.patch(
        "x",
        &pp,
        &Patch::Merge(json!({"metadata": {"labels": {"watched": null}}})),
    )
    .await
    .unwrap();
    let events = next_events(&mut stream, 3).await;
    assert_eq!(
        kinds(&events),
        [("ADDED", "x"), ("MODIFIED", "x"), ("DELETED", "x")]
    );
}

pub async fn watch_ends_after_timeout_seconds(client: Client, ns: String) {
    let api: Api<ConfigMap> = Api::namespaced(client, &ns);
    let rv = api
        .list(&ListParams::default())
        .await
        .unwrap()
        .metadata
        .resource_version
        .unwrap();
    let started = Instant::now();
    let stream = api
        .watch(&WatchParams::default().timeout(1), &rv)
        .await
        .expect("watch");
    let events: Vec<_> =
        tokio::time::timeout(Duration::from_secs(20), stream.try_collect::<Vec<_>>())
            .await
            .expect("the watch ends by itself")
            .expect("no error");
    assert!(
        events.iter().all(|e| matches!(e, WatchEvent::Bookmark(_))),
        "{events:?}"
    );
    assert!(started.elapsed() >= Duration::from_millis(900));
}

//! Watch behaviour that a real cluster does not show on demand: bookmarks on an idle watch,
//! `410 Gone` after compaction or beyond the kept history, streaming lists
//! (`sendInitialEvents`), metadata-only watches, and watches cut by fault injection.

mod support;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, ListParams, PartialObjectMeta, PostParams, WatchEvent, WatchParams};
use kube::runtime::watcher::{self, Event};
use lepton_embedded_cluster::EmbeddedCluster;
use std::time::Duration;

fn cm(name: &str) -> ConfigMap {
    let mut cm = ConfigMap::default();
    cm.metadata.name = Some(name.to_owned());
    cm
}

async fn list_version(api: &Api<ConfigMap>) -> String {
    api.list(&ListParams::default())
        .await
        .unwrap()
        .metadata
        .resource_version
        .unwrap()
}

#[tokio::test]
async fn idle_watches_get_bookmarks_with_the_current_version() {
    let cluster = EmbeddedCluster::builder()
        .bookmark_interval(Duration::from_millis(100))
        .start()
        .await
        .unwrap();
    let api: Api<ConfigMap> = Api::namespaced(cluster.client().await.unwrap(), "default");
    api.create(&PostParams::default(), &cm("a")).await.unwrap();
    let rv = list_version(&api).await;
    let mut stream = api
        .watch(&WatchParams::default(), &rv)
        .await
        .unwrap()
        .boxed();
    let event = tokio::time::timeout(Duration::from_secs(5), stream.next())
        .await
        .expect("a bookmark")
        .unwrap()
        .unwrap();
    let WatchEvent::Bookmark(bookmark) = event else {
        panic!("expected a bookmark, got {event:?}");
    };
    assert!(bookmark.metadata.resource_version.parse::<u64>().unwrap() >= rv.parse().unwrap());

    // Without allowWatchBookmarks there are none: the watch stays silent until it times out.
    let quiet = api
        .watch(&WatchParams::default().disable_bookmarks().timeout(1), &rv)
        .await
        .unwrap();
    let events: Vec<_> = quiet.try_collect().await.unwrap();
    assert!(events.is_empty(), "{events:?}");
}

#[tokio::test]
async fn watching_from_a_compacted_version_is_gone() {
    let cluster = EmbeddedCluster::start().await.unwrap();
    let api: Api<ConfigMap> = Api::namespaced(cluster.client().await.unwrap(), "default");
    let old = api.create(&PostParams::default(), &cm("a")).await.unwrap();
    api.create(&PostParams::default(), &cm("b")).await.unwrap();
    cluster.compact_history();
    let rv = old.metadata.resource_version.unwrap();
    let mut stream = api
        .watch(&WatchParams::default(), &rv)
        .await
        .unwrap()
        .boxed();
    match stream.next().await {
        Some(Ok(WatchEvent::Error(status))) => {
            assert_eq!((status.code, status.reason.as_str()), (410, "Expired"));
            assert!(
                status.message.starts_with("too old resource version"),
                "{}",
                status.message
            );
        }
        other => panic!("expected a 410 ERROR event, got {other:?}"),
    }
    assert!(
        stream.next().await.is_none(),
        "the stream ends after the error"
    );
    // The current version still works.
    let current = list_version(&api).await;
    api.watch(&WatchParams::default().timeout(1), &current)
        .await
        .unwrap()
        .try_collect::<Vec<_>>()
        .await
        .unwrap();
}

#[tokio::test]
async fn history_beyond_the_limit_is_gone_and_continue_tokens_expire() {
    let cluster = EmbeddedCluster::builder()
        .history_limit(3)
        .start()
        .await
        .unwrap();
    let api: Api<ConfigMap> = Api::namespaced(cluster.client().await.unwrap(), "default");
    let first = api.create(&PostParams::default(), &cm("c0")).await.unwrap();
    api.create(&PostParams::default(), &cm("c1")).await.unwrap();
    let page = api.list(&ListParams::default().limit(1)).await.unwrap();
    let token = page.metadata.continue_.clone().expect("a second page");
    for i in 2..7 {
        api.create(&PostParams::default(), &cm(&format!("c{i}")))
            .await
            .unwrap();
    }
    let rv = first.metadata.resource_version.unwrap();
    let mut stream = api
        .watch(&WatchParams::default(), &rv)
        .await
        .unwrap()
        .boxed();
    assert!(matches!(
        stream.next().await,
        Some(Ok(WatchEvent::Error(s))) if s.code == 410
    ));
    let expired = api
        .list(&ListParams::default().limit(1).continue_token(&token))
        .await;
    assert!(matches!(expired, Err(kube::Error::Api(s)) if s.code == 410));
}

#[tokio::test]
async fn a_watch_without_version_starts_with_the_current_objects() {
    let cluster = EmbeddedCluster::start().await.unwrap();
    let api: Api<ConfigMap> = Api::namespaced(cluster.client().await.unwrap(), "default");
    api.create(&PostParams::default(), &cm("existing"))
        .await
        .unwrap();
    let mut stream = api
        .watch(&WatchParams::default(), "0")
        .await
        .unwrap()
        .boxed();
    match stream.next().await {
        Some(Ok(WatchEvent::Added(o))) => assert_eq!(o.metadata.name.as_deref(), Some("existing")),
        other => panic!("expected a synthetic ADDED, got {other:?}"),
    }
}

#[tokio::test]
async fn streaming_lists_send_initial_events_then_a_bookmark() {
    let cluster = EmbeddedCluster::start().await.unwrap();
    let api: Api<ConfigMap> = Api::namespaced(cluster.client().await.unwrap(), "default");
    api.create(&PostParams::default(), &cm("one"))
        .await
        .unwrap();
    api.create(&PostParams::default(), &cm("two"))
        .await
        .unwrap();
    let mut events =
        watcher::watcher(api.clone(), watcher::Config::default().streaming_lists()).boxed();
    let mut initial = Vec::new();
    loop {
        match tokio::time::timeout(Duration::from_secs(5), events.next())
            .await
            .unwrap()
        {
            Some(Ok(Event::Init)) => {}
            Some(Ok(Event::InitApply(o))) => initial.push(o.metadata.name.unwrap()),
            Some(Ok(Event::InitDone)) => break,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(initial, ["one", "two"]);
    api.create(&PostParams::default(), &cm("three"))
        .await
        .unwrap();
    match tokio::time::timeout(Duration::from_secs(5), events.next())
        .await
        .unwrap()
    {
        Some(Ok(Event::Apply(o))) => assert_eq!(o.metadata.name.as_deref(), Some("three")),
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test]
async fn metadata_watchers_see_partial_objects() {
    let cluster = EmbeddedCluster::start().await.unwrap();
    let client = cluster.client().await.unwrap();
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let mut labelled = cm("meta");
    labelled.metadata.labels = Some([("k".to_owned(), "v".to_owned())].into());
    api.create(&PostParams::default(), &labelled).await.unwrap();
    let partial: Api<PartialObjectMeta<ConfigMap>> = Api::namespaced(client, "default");
    let mut events = watcher::watcher(partial, watcher::Config::default()).boxed();
    loop {
        match tokio::time::timeout(Duration::from_secs(5), events.next())
            .await
            .unwrap()
        {
            Some(Ok(Event::InitApply(o))) => {
                assert_eq!(o.metadata.name.as_deref(), Some("meta"));
                assert_eq!(o.metadata.labels.unwrap()["k"], "v");
                break;
            }
            Some(Ok(_)) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    let meta = api.get_metadata("meta").await.expect("get metadata");
    assert_eq!(meta.metadata.name.as_deref(), Some("meta"));
}

#[tokio::test]
async fn dropped_watches_end_and_watchers_resume() {
    let cluster = EmbeddedCluster::start().await.unwrap();
    let api: Api<ConfigMap> = Api::namespaced(cluster.client().await.unwrap(), "default");
    let rv = list_version(&api).await;
    let stream = api.watch(&WatchParams::default(), &rv).await.unwrap();
    let collected = tokio::spawn(stream.try_collect::<Vec<_>>());
    tokio::time::sleep(Duration::from_millis(100)).await;
    cluster.faults().drop_watches();
    tokio::time::timeout(Duration::from_secs(5), collected)
        .await
        .expect("the watch ends when dropped")
        .unwrap()
        .unwrap();

    let mut events = watcher::watcher(api.clone(), watcher::Config::default()).boxed();
    while !matches!(events.next().await, Some(Ok(Event::InitDone))) {}
    cluster.faults().drop_watches();
    api.create(&PostParams::default(), &cm("after-drop"))
        .await
        .unwrap();
    match tokio::time::timeout(Duration::from_secs(10), events.next())
        .await
        .unwrap()
    {
        Some(Ok(Event::Apply(o))) => assert_eq!(o.metadata.name.as_deref(), Some("after-drop")),
        other => panic!("unexpected {other:?}"),
    }
}

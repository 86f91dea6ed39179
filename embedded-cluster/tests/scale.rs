//! Scale: 1,000 TrainingJobs created (each admitted against the CRD, CEL included) while a
//! kube-runtime watcher follows them. Timings go to `target/bench/embedded-cluster.txt`, not
//! into assertions: the test checks only that nothing is lost.

mod support;

use futures::{StreamExt, stream};
use kube::api::{Api, ListParams, PostParams};
use kube::runtime::watcher::{self, Event};
use lepton_crds::v1alpha1::TrainingJob;
use serde_json::json;
use std::collections::HashSet;
use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

const OBJECTS: usize = 1_000;

fn training_job(i: usize) -> TrainingJob {
    serde_json::from_value(json!({
        "apiVersion": "lepton.ai/v1alpha1",
        "kind": "TrainingJob",
        "metadata": {"name": format!("tj-{i:04}"), "labels": {"batch": "scale"}},
        "spec": {"data": {"source": "pvc://datasets/a.csv", "target": "y"}},
    }))
    .expect("a TrainingJob")
}

fn bench_file() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"));
    target.join("bench").join("embedded-cluster.txt")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_objects_are_created_and_watched() {
    let (_cluster, client) = support::embedded().await;
    let api: Api<TrainingJob> = Api::namespaced(client.clone(), "default");

    let (seen_tx, mut seen_rx) = tokio::sync::mpsc::unbounded_channel();
    let watched = Api::<TrainingJob>::all(client.clone());
    let watch_task = tokio::spawn(async move {
        let mut events = watcher::watcher(watched, watcher::Config::default()).boxed();
        while let Some(event) = events.next().await {
            if let Ok(Event::Apply(job) | Event::InitApply(job)) = event
                && seen_tx.send(job.metadata.name.unwrap_or_default()).is_err()
            {
                return;
            }
        }
    });

    let started = Instant::now();
    stream::iter(0..OBJECTS)
        .for_each_concurrent(16, |i| {
            let api = api.clone();
            async move {
                api.create(&PostParams::default(), &training_job(i))
                    .await
                    .expect("create");
            }
        })
        .await;
    let created = started.elapsed();

    let mut seen = HashSet::new();
    while seen.len() < OBJECTS {
        let name = tokio::time::timeout(Duration::from_secs(60), seen_rx.recv())
            .await
            .expect("the watcher keeps up")
            .expect("the watcher runs");
        seen.insert(name);
    }
    let watched_all = started.elapsed();
    watch_task.abort();

    let list_started = Instant::now();
    let all = api.list(&ListParams::default()).await.unwrap();
    let listed = list_started.elapsed();
    assert_eq!(all.items.len(), OBJECTS);

    let paged_started = Instant::now();
    let mut pages = 0;
    let mut params = ListParams::default().labels("batch=scale").limit(100);
    let mut count = 0;
    loop {
        let page = api.list(&params).await.unwrap();
        pages += 1;
        count += page.items.len();
        match page.metadata.continue_ {
            Some(token) if !token.is_empty() => params = params.continue_token(&token),
            _ => break,
        }
    }
    let paged = paged_started.elapsed();
    assert_eq!((count, pages), (OBJECTS, 10));

    let report = format!(
        "embedded-cluster scale: {OBJECTS} TrainingJobs, 16 concurrent creates: created in {:.0} ms ({:.0}/s), all seen by a watcher after {:.0} ms; full list {:.0} ms; 10 pages of 100 with a label selector {:.0} ms\n",
        created.as_secs_f64() * 1e3,
        OBJECTS as f64 / created.as_secs_f64(),
        watched_all.as_secs_f64() * 1e3,
        listed.as_secs_f64() * 1e3,
        paged.as_secs_f64() * 1e3,
    );
    eprint!("{report}");
    let path = bench_file();
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .unwrap();
    file.write_all(report.as_bytes()).unwrap();
}

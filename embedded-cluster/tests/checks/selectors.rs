//! Lists with label selectors (equality, `in`, `notin`, existence), field selectors on
//! `metadata.name` and `metadata.namespace`, and paging with `limit` and `continue`.

use k8s_openapi::api::core::v1::ConfigMap;
use kube::Client;
use kube::api::{Api, ListParams, PostParams};

use super::config_map;
use crate::support::status_of;

async fn names(api: &Api<ConfigMap>, params: ListParams) -> Vec<String> {
    let mut names: Vec<String> = api
        .list(&params)
        .await
        .unwrap_or_else(|e| panic!("list {params:?}: {e}"))
        .items
        .into_iter()
        .filter_map(|c| c.metadata.name)
        .collect();
    names.sort();
    names
}

pub async fn label_and_field_selectors(client: Client, ns: String) {
    let api: Api<ConfigMap> = Api::namespaced(client, &ns);
    let pp = PostParams::default();
    for (name, labels) in [
        ("a", vec![("app", "web"), ("tier", "front")]),
        ("b", vec![("app", "api"), ("tier", "back")]),
        ("c", vec![("app", "web")]),
        ("d", vec![]),
    ] {
        let mut labels = labels;
        labels.push(("set", "sel"));
        api.create(&pp, &config_map(name, &labels, &[]))
            .await
            .expect("create");
    }
    let by_labels = |selector: &str| ListParams::default().labels(&format!("set=sel,{selector}"));
    assert_eq!(names(&api, by_labels("app=web")).await, ["a", "c"]);
    assert_eq!(names(&api, by_labels("app==web")).await, ["a", "c"]);
    assert_eq!(names(&api, by_labels("app!=web")).await, ["b", "d"]);
    assert_eq!(
        names(&api, by_labels("app in (web,api)")).await,
        ["a", "b", "c"]
    );
    assert_eq!(names(&api, by_labels("app notin (web)")).await, ["b", "d"]);
    assert_eq!(names(&api, by_labels("!tier")).await, ["c", "d"]);
    assert_eq!(names(&api, by_labels("tier")).await, ["a", "b"]);
    assert_eq!(
        names(&api, by_labels("app,tier notin (back)")).await,
        ["a", "c"]
    );

    let by_fields = |selector: &str| ListParams::default().labels("set=sel").fields(selector);
    assert_eq!(names(&api, by_fields("metadata.name=b")).await, ["b"]);
    assert_eq!(
        names(&api, by_fields("metadata.name!=b")).await,
        ["a", "c", "d"]
    );
    assert_eq!(
        names(&api, by_fields(&format!("metadata.namespace={ns}"))).await,
        ["a", "b", "c", "d"]
    );
    assert!(
        names(&api, by_fields("metadata.namespace=elsewhere"))
            .await
            .is_empty()
    );

    let bad = status_of(api.list(&ListParams::default().labels("app in (web")).await);
    assert_eq!((bad.code, bad.reason.as_str()), (400, "BadRequest"));
    let bad = status_of(api.list(&ListParams::default().fields("data.x=1")).await);
    assert_eq!((bad.code, bad.reason.as_str()), (400, "BadRequest"));
}

pub async fn limit_and_continue_page_through_a_list(client: Client, ns: String) {
    let api: Api<ConfigMap> = Api::namespaced(client, &ns);
    for i in 0..5 {
        api.create(
            &PostParams::default(),
            &config_map(&format!("p{i}"), &[("set", "page")], &[]),
        )
        .await
        .expect("create");
    }
    let mut seen = Vec::new();
    let mut params = ListParams::default().labels("set=page").limit(2);
    let mut pages = 0;
    loop {
        let page = api.list(&params).await.expect("page");
        pages += 1;
        assert!(page.items.len() <= 2);
        seen.extend(page.items.into_iter().filter_map(|c| c.metadata.name));
        match page.metadata.continue_.filter(|c| !c.is_empty()) {
            Some(token) => {
                if pages == 1 {
                    assert_eq!(page.metadata.remaining_item_count, Some(3));
                }
                params = params.continue_token(&token);
            }
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, ["p0", "p1", "p2", "p3", "p4"]);
}

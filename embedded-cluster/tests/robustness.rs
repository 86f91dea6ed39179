//! Malformed and unexpected requests get Kubernetes `Status` errors, never a crash: the
//! server keeps serving after each. Also the discovery documents and delete-collection.

mod support;

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Sends one raw HTTP/1.1 request and returns the status code and the JSON body.
async fn raw(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    content_type: &str,
    body: &[u8],
) -> (u16, Value) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    // The server may answer (too large, bad header) and close before it has read the whole
    // body: a broken pipe here is that answer arriving early, and the answer is what counts.
    let _ = stream.write_all(body).await;
    let mut response = Vec::new();
    if let Err(error) = stream.read_to_end(&mut response).await {
        assert!(
            !response.is_empty(),
            "no answer to {method} {path}: {error}"
        );
    }
    let text = String::from_utf8_lossy(&response);
    let code = text.split_whitespace().nth(1).unwrap().parse().unwrap();
    let body = text.split("\r\n\r\n").nth(1).unwrap_or_default();
    (
        code,
        serde_json::from_str(body.trim()).unwrap_or(Value::Null),
    )
}

/// method, path, content type, body, expected code, expected reason.
type Case = (
    &'static str,
    String,
    &'static str,
    Vec<u8>,
    u16,
    &'static str,
);

#[tokio::test]
async fn malformed_requests_get_status_errors() {
    let (cluster, client) = support::embedded().await;
    let addr = cluster.addr();
    let cms = "/api/v1/namespaces/default/configmaps";
    let json = "application/json";
    let cases: Vec<Case> = vec![
        ("POST", cms.into(), json, b"{not json".to_vec(), 400, "BadRequest"),
        ("POST", cms.into(), json, b"[1,2]".to_vec(), 400, "BadRequest"),
        ("POST", cms.into(), json, br#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"a"}}"#.to_vec(), 400, "BadRequest"),
        ("POST", cms.into(), json, br#"{"apiVersion":"v2","kind":"ConfigMap","metadata":{"name":"a"}}"#.to_vec(), 400, "BadRequest"),
        ("POST", cms.into(), json, br#"{"kind":"ConfigMap","metadata":{"name":"a"}}"#.to_vec(), 400, "BadRequest"),
        ("POST", cms.into(), json, br#"{"apiVersion":"v1","kind":"ConfigMap","metadata":"x"}"#.to_vec(), 400, "BadRequest"),
        ("POST", cms.into(), json, br#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{}}"#.to_vec(), 422, "Invalid"),
        ("POST", cms.into(), json, br#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a","resourceVersion":"5"}}"#.to_vec(), 400, "BadRequest"),
        ("POST", cms.into(), "application/vnd.kubernetes.protobuf", b"k8s\x00".to_vec(), 415, "UnsupportedMediaType"),
        ("GET", "/apis/nope.example/v1/things".into(), json, vec![], 404, "NotFound"),
        ("GET", "/api/v1/namespaces/default/pods/p/exec".into(), json, vec![], 404, "NotFound"),
        ("GET", "/api/v1/namespaces/default/configmaps/a/status".into(), json, vec![], 404, "NotFound"),
        ("GET", "/totally/unknown/path/with/many/segments/here".into(), json, vec![], 404, "NotFound"),
        ("GET", format!("{cms}?labelSelector=a%20in%20(b"), json, vec![], 400, "BadRequest"),
        ("GET", format!("{cms}?fieldSelector=spec.x%3D1"), json, vec![], 400, "BadRequest"),
        ("GET", format!("{cms}?limit=-1"), json, vec![], 400, "BadRequest"),
        ("GET", format!("{cms}?continue=zzzz"), json, vec![], 400, "BadRequest"),
        ("GET", format!("{cms}?watch=true&resourceVersion=abc"), json, vec![], 400, "BadRequest"),
        ("PATCH", format!("{cms}/missing"), "text/plain", b"{}".to_vec(), 415, "UnsupportedMediaType"),
        ("PATCH", format!("{cms}/missing"), "application/merge-patch+json", b"{}".to_vec(), 404, "NotFound"),
        ("PUT", cms.into(), json, b"{}".to_vec(), 405, "MethodNotAllowed"),
        ("DELETE", format!("{cms}/missing"), json, b"{bad".to_vec(), 400, "BadRequest"),
        ("PATCH", format!("{cms}/x?fieldManager=m"), "application/apply-patch+yaml", b"kind: [unclosed".to_vec(), 400, "BadRequest"),
        ("PATCH", format!("{cms}/x"), "application/apply-patch+yaml", br#"{"apiVersion":"v1","kind":"ConfigMap"}"#.to_vec(), 422, "Invalid"),
    ];
    for (method, path, content_type, body, code, reason) in cases {
        let (got, status) = raw(addr, method, &path, content_type, &body).await;
        assert_eq!(got, code, "{method} {path}: {status}");
        assert_eq!(status["kind"], "Status", "{method} {path}: {status}");
        assert_eq!(status["reason"], reason, "{method} {path}: {status}");
        assert_eq!(status["code"], code, "{method} {path}");
        assert_eq!(status["status"], "Failure");
    }

    // Patches that cannot apply to the stored object.
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let mut cm = ConfigMap::default();
    cm.metadata.name = Some("target".into());
    api.create(&PostParams::default(), &cm).await.unwrap();
    let target = format!("{cms}/target");
    let (code, _) = raw(
        addr,
        "PATCH",
        &target,
        "application/json-patch+json",
        b"{\"op\":1}",
    )
    .await;
    assert_eq!(code, 400);
    let (code, _) = raw(
        addr,
        "PATCH",
        &target,
        "application/json-patch+json",
        br#"[{"op":"remove","path":"/data/none"}]"#,
    )
    .await;
    assert_eq!(code, 422);
    let (code, _) = raw(
        addr,
        "PATCH",
        &target,
        "application/merge-patch+json",
        b"[]",
    )
    .await;
    assert_eq!(code, 400);
    let (code, _) = raw(
        addr,
        "PATCH",
        &target,
        "application/merge-patch+json",
        br#"{"metadata":{"name":"other"}}"#,
    )
    .await;
    assert_eq!(code, 400, "renaming through a patch is refused");
    let too_big = vec![b' '; 4 * 1024 * 1024];
    let (code, _) = raw(addr, "POST", cms, json, &too_big).await;
    assert_eq!(code, 413);

    // Still serving.
    assert!(api.get("target").await.is_ok());
}

#[tokio::test]
async fn discovery_documents_describe_the_served_kinds() {
    let (cluster, client) = support::embedded().await;
    let version = client.apiserver_version().await.expect("/version");
    assert_eq!(version.major, "1");
    let addr = cluster.addr();
    let (code, core) = raw(addr, "GET", "/api", "application/json", b"").await;
    assert_eq!((code, core["versions"][0].as_str()), (200, Some("v1")));
    let (_, groups) = raw(addr, "GET", "/apis", "application/json", b"").await;
    let names: Vec<&str> = groups["groups"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|g| g["name"].as_str())
        .collect();
    for group in [
        "apps",
        "batch",
        "lepton.ai",
        "coordination.k8s.io",
        "events.k8s.io",
    ] {
        assert!(names.contains(&group), "{group} in {names:?}");
    }
    let (_, lepton) = raw(
        addr,
        "GET",
        "/apis/lepton.ai/v1alpha1",
        "application/json",
        b"",
    )
    .await;
    let resources: Vec<&str> = lepton["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["name"].as_str())
        .collect();
    assert!(resources.contains(&"trainingjobs") && resources.contains(&"trainingjobs/status"));
    let (code, _) = raw(addr, "GET", "/apis/nope/v1", "application/json", b"").await;
    assert_eq!(code, 404);

    // Aggregated discovery, which kubectl asks for first: every group in one answer, typed
    // by its Content-Type.
    let accept =
        "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json";
    let (head, aggregated) = get_with_accept(addr, "/apis", accept).await;
    assert!(
        head.to_ascii_lowercase().contains(
            "content-type: application/json;g=apidiscovery.k8s.io;v=v2;as=apigroupdiscoverylist"
        ),
        "{head}"
    );
    assert_eq!(aggregated["kind"], "APIGroupDiscoveryList");
    let lepton = aggregated["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["metadata"]["name"] == "lepton.ai")
        .expect("lepton.ai");
    let tj = lepton["versions"][0]["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["resource"] == "trainingjobs")
        .expect("trainingjobs");
    assert_eq!(
        (&tj["resource"], &tj["shortNames"][0], &tj["categories"][0]),
        (&"trainingjobs".into(), &"tj".into(), &"lepton".into()),
        "{lepton}"
    );
    let (_, core) = get_with_accept(addr, "/api", accept).await;
    assert_eq!(core["items"][0]["versions"][0]["version"], "v1");

    // OpenAPI v3, for kubectl explain and server-side field validation.
    let (_, index) = get_with_accept(addr, "/openapi/v3", "application/json").await;
    let url = index["paths"]["apis/lepton.ai/v1alpha1"]["serverRelativeURL"]
        .as_str()
        .expect("a document for lepton.ai/v1alpha1")
        .to_owned();
    let (_, document) = get_with_accept(addr, &url, "application/json").await;
    assert!(document["components"]["schemas"]["ai.lepton.v1alpha1.TuningSweep"].is_object());
}

/// A GET with an `Accept` header: the response head and the JSON body.
async fn get_with_accept(addr: std::net::SocketAddr, path: &str, accept: &str) -> (String, Value) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head =
        format!("GET {path} HTTP/1.1\r\nHost: x\r\nAccept: {accept}\r\nConnection: close\r\n\r\n");
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.unwrap();
    let text = String::from_utf8_lossy(&response);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or_default();
    (
        head.to_owned(),
        serde_json::from_str(body.trim()).unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn delete_collection_removes_what_the_selector_matches() {
    let (_cluster, client) = support::embedded().await;
    let api: Api<ConfigMap> = Api::namespaced(client, "default");
    for (name, group) in [("a", "x"), ("b", "x"), ("c", "y")] {
        let mut cm = ConfigMap::default();
        cm.metadata.name = Some(name.into());
        cm.metadata.labels = Some([("group".to_owned(), group.to_owned())].into());
        api.create(&PostParams::default(), &cm).await.unwrap();
    }
    let deleted = api
        .delete_collection(
            &DeleteParams::default(),
            &ListParams::default().labels("group=x"),
        )
        .await
        .expect("delete collection");
    let deleted = deleted.left().expect("the deleted objects");
    assert_eq!(deleted.items.len(), 2);
    let left: Vec<String> = api
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter_map(|c| c.metadata.name)
        .collect();
    assert_eq!(left, ["c"]);
}

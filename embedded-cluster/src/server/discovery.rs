//! The discovery documents clients read before talking to resources: `/version`, `/api`,
//! `/apis` and `/api/v1` or `/apis/GROUP/VERSION`, built from the served kinds, and the
//! aggregated form of `/api` and `/apis` (`apidiscovery.k8s.io/v2`, every group's resources
//! in one answer) that kubectl asks for first. The OpenAPI documents beside them are in
//! `openapi.rs`.

use http::Response;
use serde_json::{Value, json};
use std::collections::BTreeMap;

use super::response::{self, Body};
use super::router::Route;
use crate::resources::Registry;
use crate::status_error::StatusError;

const VERBS: [&str; 8] = [
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];

/// Answers a discovery route; `accept` may ask `/api` and `/apis` for the aggregated form.
pub(crate) fn serve(
    registry: &Registry,
    route: &Route,
    accept: Option<&str>,
) -> Result<Response<Body>, StatusError> {
    if matches!(route, Route::CoreVersions | Route::Groups)
        && let Some(version) = aggregated_version(accept)
    {
        let document = aggregated(registry, *route == Route::CoreVersions, version);
        let mut out = response::json(200, &document);
        let content_type =
            format!("application/json;g=apidiscovery.k8s.io;v={version};as=APIGroupDiscoveryList");
        if let Ok(value) = http::HeaderValue::from_str(&content_type) {
            out.headers_mut().insert(http::header::CONTENT_TYPE, value);
        }
        return Ok(out);
    }
    let document = match route {
        Route::Version => json!({
            "major": "1",
            "minor": "37",
            "gitVersion": "v1.37.0-lepton-embedded",
            "gitCommit": "",
            "gitTreeState": "clean",
            "buildDate": "",
            "goVersion": "",
            "compiler": "",
            "platform": "embedded",
        }),
        Route::CoreVersions => json!({
            "kind": "APIVersions",
            "versions": ["v1"],
            "serverAddressByClientCIDRs": [],
        }),
        Route::Groups => groups(registry),
        Route::Resources { group, version } => resources(registry, group, version)
            .ok_or_else(|| StatusError::no_route(&format!("{group}/{version}")))?,
        Route::OpenApiIndex => super::openapi::index(registry),
        Route::OpenApi(key) => super::openapi::document(registry, key)
            .ok_or_else(|| StatusError::no_route(&format!("/openapi/v3/{key}")))?,
        Route::Resource(_) => return Err(StatusError::no_route("discovery")),
    };
    Ok(response::json(200, &document))
}

fn groups(registry: &Registry) -> Value {
    let mut versions: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for rt in registry.all().iter().filter(|t| !t.group.is_empty()) {
        let list = versions.entry(&rt.group).or_default();
        if !list.contains(&rt.version.as_str()) {
            list.push(&rt.version);
        }
    }
    let groups: Vec<Value> = versions
        .into_iter()
        .map(|(group, versions)| {
            let listed: Vec<Value> = versions
                .iter()
                .map(|v| json!({"groupVersion": format!("{group}/{v}"), "version": v}))
                .collect();
            json!({"name": group, "versions": listed, "preferredVersion": listed[0]})
        })
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

fn resources(registry: &Registry, group: &str, version: &str) -> Option<Value> {
    let mut listed = Vec::new();
    for rt in registry
        .all()
        .iter()
        .filter(|t| t.group == group && t.version == version)
    {
        let mut entry = json!({
            "name": rt.plural,
            "singularName": rt.singular,
            "namespaced": rt.namespaced,
            "kind": rt.kind,
            "verbs": VERBS,
        });
        if !rt.short_names.is_empty() {
            entry["shortNames"] = json!(rt.short_names);
        }
        if !rt.categories.is_empty() {
            entry["categories"] = json!(rt.categories);
        }
        listed.push(entry);
        if rt.status {
            listed.push(json!({
                "name": format!("{}/status", rt.plural),
                "singularName": "",
                "namespaced": rt.namespaced,
                "kind": rt.kind,
                "verbs": ["get", "patch", "update"],
            }));
        }
    }
    if listed.is_empty() {
        return None;
    }
    let group_version = if group.is_empty() {
        version.to_owned()
    } else {
        format!("{group}/{version}")
    };
    Some(json!({
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": group_version,
        "resources": listed,
    }))
}

/// The `apidiscovery.k8s.io` version the first acceptable media range asks for, if it asks
/// for the aggregated form at all (`v2`, or `v2beta1` for older clients).
fn aggregated_version(accept: Option<&str>) -> Option<&'static str> {
    for range in accept?.split(',') {
        let mut parts = range.split(';').map(str::trim);
        if !matches!(parts.next(), Some("application/json" | "*/*")) {
            continue;
        }
        let params: Vec<(&str, &str)> = parts.filter_map(|p| p.split_once('=')).collect();
        let param = |key: &str| params.iter().find(|(k, _)| *k == key).map(|(_, v)| *v);
        match (param("as"), param("g"), param("v")) {
            (None, _, _) => return None,
            (Some("APIGroupDiscoveryList"), Some("apidiscovery.k8s.io"), Some("v2")) => {
                return Some("v2");
            }
            (Some("APIGroupDiscoveryList"), Some("apidiscovery.k8s.io"), Some("v2beta1")) => {
                return Some("v2beta1");
            }
            _ => {}
        }
    }
    None
}

/// `APIGroupDiscoveryList`: the core group (for `/api`) or every other group (for `/apis`),
/// each version with its resources.
fn aggregated(registry: &Registry, core: bool, version: &str) -> Value {
    let mut groups: BTreeMap<&str, BTreeMap<&str, Vec<Value>>> = BTreeMap::new();
    for rt in registry.all().iter().filter(|t| t.group.is_empty() == core) {
        let kind = json!({"group": rt.group, "version": rt.version, "kind": rt.kind});
        let mut entry = json!({
            "resource": rt.plural,
            "responseKind": kind,
            "scope": if rt.namespaced { "Namespaced" } else { "Cluster" },
            "singularResource": rt.singular,
            "verbs": VERBS,
        });
        if !rt.short_names.is_empty() {
            entry["shortNames"] = json!(rt.short_names);
        }
        if !rt.categories.is_empty() {
            entry["categories"] = json!(rt.categories);
        }
        if rt.status {
            entry["subresources"] = json!([{
                "subresource": "status",
                "responseKind": kind,
                "verbs": ["get", "patch", "update"],
            }]);
        }
        groups
            .entry(&rt.group)
            .or_default()
            .entry(&rt.version)
            .or_default()
            .push(entry);
    }
    let items: Vec<Value> = groups
        .into_iter()
        .map(|(group, versions)| {
            let versions: Vec<Value> = versions
                .into_iter()
                .map(|(version, resources)| {
                    json!({"version": version, "resources": resources, "freshness": "Current"})
                })
                .collect();
            json!({"metadata": {"name": group}, "versions": versions})
        })
        .collect();
    json!({
        "kind": "APIGroupDiscoveryList",
        "apiVersion": format!("apidiscovery.k8s.io/{version}"),
        "metadata": {},
        "items": items,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const KUBECTL: &str = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json";

    #[test]
    fn the_aggregated_form_is_served_when_asked_first() {
        assert_eq!(aggregated_version(Some(KUBECTL)), Some("v2"));
        assert_eq!(
            aggregated_version(Some(
                "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList"
            )),
            Some("v2beta1")
        );
        assert_eq!(aggregated_version(Some("application/json, */*")), None);
        assert_eq!(aggregated_version(None), None);
    }

    #[test]
    fn aggregated_groups_list_their_resources() {
        let registry = Registry::lepton();
        let apis = aggregated(&registry, false, "v2");
        let lepton = apis["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["metadata"]["name"] == "lepton.ai")
            .expect("the lepton.ai group");
        let resources = lepton["versions"][0]["resources"].as_array().unwrap();
        let tj = resources
            .iter()
            .find(|r| r["resource"] == "trainingjobs")
            .unwrap();
        assert_eq!(tj["shortNames"], json!(["tj"]));
        assert_eq!(tj["categories"], json!(["lepton"]));
        assert_eq!(tj["scope"], "Namespaced");
        assert_eq!(tj["subresources"][0]["subresource"], "status");
        let core = aggregated(&registry, true, "v2");
        assert_eq!(core["items"].as_array().unwrap().len(), 1);
        let namespaces = core["items"][0]["versions"][0]["resources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["resource"] == "namespaces")
            .unwrap();
        assert_eq!(namespaces["scope"], "Cluster");
    }
}

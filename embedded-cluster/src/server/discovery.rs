//! The discovery documents clients read before talking to resources: `/version`, `/api`,
//! `/apis` and `/api/v1` or `/apis/GROUP/VERSION`, built from the served kinds. (OpenAPI
//! documents are not served; see the README.)

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

/// Answers a discovery route.
pub(crate) fn serve(registry: &Registry, route: &Route) -> Result<Response<Body>, StatusError> {
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
        if rt.validator.is_some() {
            entry["categories"] = json!(["lepton"]);
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

//! `kubectl get`-style tables: the resource names a user types (`tj,ts,md`, `lepton`, `pods`)
//! resolved through discovery, and the server's own Table rendering of them (the
//! `additionalPrinterColumns` of Lepton's CRDs), printed as kubectl prints it.

use http::header::ACCEPT;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::APIResource;
use serde_json::Value;

use crate::error::CliError;
use crate::format;

/// A resource type found through discovery.
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceType {
    /// `""` for the core group.
    pub group: String,
    /// The version served.
    pub version: String,
    /// Plural name, as in URLs.
    pub plural: String,
    /// Kind.
    pub kind: String,
    /// Whether objects live in namespaces.
    pub namespaced: bool,
    short_names: Vec<String>,
    categories: Vec<String>,
    singular: String,
}

impl ResourceType {
    /// `plural` or `plural.group`, as kubectl names a type in mixed output.
    pub fn qualified(&self) -> String {
        if self.group.is_empty() {
            self.plural.clone()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }

    /// The kind in lower case, as in `trainingjob.lepton.ai/NAME`.
    pub fn kind_prefix(&self) -> String {
        if self.group.is_empty() {
            self.kind.to_lowercase()
        } else {
            format!("{}.{}", self.kind.to_lowercase(), self.group)
        }
    }

    fn matches(&self, word: &str) -> bool {
        let word = word.to_lowercase();
        [&self.plural, &self.singular, &self.kind.to_lowercase()]
            .into_iter()
            .any(|n| *n == word || format!("{n}.{}", self.group) == word)
            || self.short_names.contains(&word)
    }

    /// The collection URL in `namespace`, or across namespaces.
    pub fn url(&self, namespace: Option<&str>) -> String {
        let base = if self.group.is_empty() {
            format!("/api/{}", self.version)
        } else {
            format!("/apis/{}/{}", self.group, self.version)
        };
        match namespace.filter(|_| self.namespaced) {
            Some(ns) => format!("{base}/namespaces/{ns}/{}", self.plural),
            None => format!("{base}/{}", self.plural),
        }
    }
}

/// The groups `lepton get` looks in: Lepton's and those of the objects it creates.
const GROUPS: [&str; 5] = [
    "lepton.ai/v1alpha1",
    "v1",
    "batch/v1",
    "apps/v1",
    "autoscaling/v2",
];

/// Every resource type of [`GROUPS`] the server serves (sub-resources left out).
pub async fn discover(client: &kube::Client) -> Result<Vec<ResourceType>, CliError> {
    let mut types = Vec::new();
    for group_version in GROUPS {
        let list = if group_version == "v1" {
            client.list_core_api_resources(group_version).await
        } else {
            client.list_api_group_resources(group_version).await
        };
        let list = match list {
            Ok(list) => list,
            Err(kube::Error::Api(status)) if status.code == 404 => continue,
            Err(e) => return Err(e.into()),
        };
        let (group, version) = match group_version.split_once('/') {
            Some((g, v)) => (g.to_owned(), v.to_owned()),
            None => (String::new(), group_version.to_owned()),
        };
        types.extend(
            list.resources
                .into_iter()
                .filter(|r| !r.name.contains('/'))
                .map(|r: APIResource| ResourceType {
                    group: group.clone(),
                    version: version.clone(),
                    plural: r.name,
                    kind: r.kind,
                    namespaced: r.namespaced,
                    short_names: r.short_names.unwrap_or_default(),
                    categories: r.categories.unwrap_or_default(),
                    singular: r.singular_name,
                }),
        );
    }
    Ok(types)
}

/// The types a comma-separated list such as `tj,ts,md` or `lepton` stands for, in order.
pub fn resolve(types: &[ResourceType], list: &str) -> Result<Vec<ResourceType>, CliError> {
    let mut found: Vec<ResourceType> = Vec::new();
    for word in list.split(',').filter(|w| !w.is_empty()) {
        let mut hits: Vec<&ResourceType> = types.iter().filter(|t| t.matches(word)).collect();
        if hits.is_empty() {
            hits = types
                .iter()
                .filter(|t| t.categories.iter().any(|c| c == word))
                .collect();
        }
        if hits.is_empty() {
            return Err(CliError::usage(format!(
                "the server doesn't have a resource type {word:?}: try tj (trainingjobs), ts (tuningsweeps), md (modeldeployments), lepton (all three), pods, jobs, deployments, services or events"
            )));
        }
        // The same name in two groups (events): the first group wins, as kubectl's priority does.
        let chosen: Vec<&ResourceType> =
            if hits.iter().all(|h| h.categories.iter().any(|c| c == word)) {
                hits
            } else {
                vec![hits[0]]
            };
        for hit in chosen {
            if !found.contains(hit) {
                found.push(hit.clone());
            }
        }
    }
    if found.is_empty() {
        return Err(CliError::usage(
            "name a resource type, for example `tj,ts,md`",
        ));
    }
    Ok(found)
}

/// Options of a table.
#[derive(Debug, Clone, Default)]
pub struct TableOptions {
    /// Also the columns of priority above 0 (`-o wide`).
    pub wide: bool,
    /// Prefix names with the type (`trainingjob.lepton.ai/credit`), as kubectl does when
    /// several types are printed.
    pub with_kind: bool,
    /// A NAMESPACE column first (`-A`).
    pub with_namespace: bool,
}

/// Fetches the server's Table of `resource` (one object when `name` is given) and renders
/// it; `None` when there is nothing to show.
pub async fn fetch(
    client: &kube::Client,
    resource: &ResourceType,
    namespace: Option<&str>,
    name: Option<&str>,
    options: &TableOptions,
) -> Result<Option<String>, CliError> {
    let mut url = resource.url(namespace);
    if let Some(name) = name {
        url.push('/');
        url.push_str(name);
    }
    let request = http::Request::get(&url)
        .header(
            ACCEPT,
            "application/json;as=Table;v=v1;g=meta.k8s.io,application/json",
        )
        .body(Vec::new())
        .map_err(|e| CliError::Remote(e.to_string()))?;
    let text = client.request_text(request).await?;
    let value: Value =
        serde_json::from_str(&text).map_err(|e| CliError::Remote(format!("{url}: {e}")))?;
    let now = jiff::Timestamp::now();
    Ok(render(&value, resource, options, now))
}

/// Renders a `meta.k8s.io` Table (or, from a server without Table support, a plain list or
/// object as NAME and AGE).
pub fn render(
    value: &Value,
    resource: &ResourceType,
    options: &TableOptions,
    now: jiff::Timestamp,
) -> Option<String> {
    let (columns, rows) = if value["kind"] == "Table" {
        table_of(value, options.wide)
    } else {
        plain_of(value)
    };
    if rows.is_empty() {
        return None;
    }
    let mut out: Vec<Vec<String>> = Vec::new();
    let mut header: Vec<String> = columns.iter().map(|c| c.0.to_uppercase()).collect();
    if options.with_namespace {
        header.insert(0, "NAMESPACE".into());
    }
    out.push(header);
    for (namespace, cells) in rows {
        let mut line: Vec<String> = cells
            .iter()
            .zip(&columns)
            .map(|(cell, (_, kind))| cell_text(cell, kind, now))
            .collect();
        if options.with_kind
            && let Some(first) = line.first_mut()
        {
            *first = format!("{}/{first}", resource.kind_prefix());
        }
        if options.with_namespace {
            line.insert(0, namespace);
        }
        out.push(line);
    }
    Some(format::columns(&out))
}

type Columns = Vec<(String, String)>;
type Rows = Vec<(String, Vec<Value>)>;

fn table_of(value: &Value, wide: bool) -> (Columns, Rows) {
    let definitions = value["columnDefinitions"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let shown: Vec<usize> = definitions
        .iter()
        .enumerate()
        .filter(|(_, d)| wide || d["priority"].as_i64().unwrap_or(0) == 0)
        .map(|(i, _)| i)
        .collect();
    let columns = shown
        .iter()
        .map(|&i| {
            let d = &definitions[i];
            let kind = if d["format"] == "date" {
                "date".to_owned()
            } else {
                d["type"].as_str().unwrap_or("string").to_owned()
            };
            (d["name"].as_str().unwrap_or("").to_owned(), kind)
        })
        .collect();
    let rows = value["rows"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|row| {
            let cells = row["cells"].as_array().cloned().unwrap_or_default();
            let namespace = row["object"]["metadata"]["namespace"]
                .as_str()
                .unwrap_or("")
                .to_owned();
            (
                namespace,
                shown
                    .iter()
                    .map(|&i| cells.get(i).cloned().unwrap_or(Value::Null))
                    .collect(),
            )
        })
        .collect();
    (columns, rows)
}

fn plain_of(value: &Value) -> (Columns, Rows) {
    let items: Vec<&Value> = match value["items"].as_array() {
        Some(items) => items.iter().collect(),
        None if value["metadata"]["name"].is_string() => vec![value],
        None => Vec::new(),
    };
    let columns = vec![
        ("Name".into(), "string".into()),
        ("Age".into(), "date".into()),
    ];
    let rows = items
        .into_iter()
        .map(|item| {
            let meta = &item["metadata"];
            (
                meta["namespace"].as_str().unwrap_or("").to_owned(),
                vec![meta["name"].clone(), meta["creationTimestamp"].clone()],
            )
        })
        .collect();
    (columns, rows)
}

fn cell_text(cell: &Value, kind: &str, now: jiff::Timestamp) -> String {
    match cell {
        Value::Null => "<none>".into(),
        Value::String(s) if kind == "date" => match s.parse::<jiff::Timestamp>() {
            Ok(t) => format::age(now.duration_since(t).as_secs()),
            Err(_) => s.clone(),
        },
        Value::String(s) if s.is_empty() => "<none>".into(),
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        other => other.to_string(),
    }
}

#[cfg(test)]
#[path = "table_tests.rs"]
mod tests;

//! Request paths: resource URLs (`/api/v1/...`, `/apis/GROUP/VERSION/...`) and the discovery
//! endpoints beside them.

/// What a path names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Route {
    /// `/version`.
    Version,
    /// `/api`: the core group's versions.
    CoreVersions,
    /// `/apis`: every other group.
    Groups,
    /// `/api/v1` or `/apis/GROUP/VERSION`: the resources of one group version.
    Resources { group: String, version: String },
    /// A collection, an object or a subresource.
    Resource(ResourcePath),
    /// `/openapi/v3`: the list of OpenAPI documents.
    OpenApiIndex,
    /// `/openapi/v3/api/v1` or `/openapi/v3/apis/GROUP/VERSION`: one document.
    OpenApi(String),
}

/// A resource URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ResourcePath {
    pub group: String,
    pub version: String,
    pub namespace: Option<String>,
    pub plural: String,
    pub name: Option<String>,
    pub subresource: Option<String>,
}

/// Reads a path; `None` for anything the server does not know.
pub(crate) fn route(path: &str) -> Option<Route> {
    let segments: Vec<String> = path
        .trim_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .map(decode)
        .collect();
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    match segments.as_slice() {
        ["version"] => Some(Route::Version),
        ["openapi", "v3"] => Some(Route::OpenApiIndex),
        ["openapi", "v3", rest @ ..] => Some(Route::OpenApi(rest.join("/"))),
        ["api"] => Some(Route::CoreVersions),
        ["apis"] => Some(Route::Groups),
        ["api", version] => Some(Route::Resources {
            group: String::new(),
            version: (*version).to_owned(),
        }),
        ["apis", group, version] => Some(Route::Resources {
            group: (*group).to_owned(),
            version: (*version).to_owned(),
        }),
        ["api", version, rest @ ..] => resource("", version, rest),
        ["apis", group, version, rest @ ..] => resource(group, version, rest),
        _ => None,
    }
}

fn resource(group: &str, version: &str, rest: &[&str]) -> Option<Route> {
    let path = |namespace: Option<&str>, plural: &str, name: Option<&str>, sub: Option<&str>| {
        Some(Route::Resource(ResourcePath {
            group: group.to_owned(),
            version: version.to_owned(),
            namespace: namespace.map(str::to_owned),
            plural: plural.to_owned(),
            name: name.map(str::to_owned),
            subresource: sub.map(str::to_owned),
        }))
    };
    match rest {
        // `namespaces/NAME` is the Namespace object; `namespaces/NAME/PLURAL` a collection
        // inside it. `status` and `finalize` are the Namespace's own subresources.
        ["namespaces", ns, sub @ ("status" | "finalize")] if group.is_empty() => {
            path(None, "namespaces", Some(ns), Some(sub))
        }
        ["namespaces", ns, plural] => path(Some(ns), plural, None, None),
        ["namespaces", ns, plural, name] => path(Some(ns), plural, Some(name), None),
        ["namespaces", ns, plural, name, sub] => path(Some(ns), plural, Some(name), Some(sub)),
        [plural] => path(None, plural, None, None),
        [plural, name] => path(None, plural, Some(name), None),
        [plural, name, sub] => path(None, plural, Some(name), Some(sub)),
        _ => None,
    }
}

/// Percent-decodes one path segment.
fn decode(segment: &str) -> String {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn res(path: &str) -> ResourcePath {
        match route(path) {
            Some(Route::Resource(r)) => r,
            other => panic!("{path}: {other:?}"),
        }
    }

    #[test]
    fn resource_paths() {
        let pods = res("/api/v1/namespaces/default/pods");
        assert_eq!(
            (pods.namespace.as_deref(), pods.plural.as_str()),
            (Some("default"), "pods")
        );
        let status = res("/apis/lepton.ai/v1alpha1/namespaces/a/trainingjobs/tj/status");
        assert_eq!(status.group, "lepton.ai");
        assert_eq!(status.name.as_deref(), Some("tj"));
        assert_eq!(status.subresource.as_deref(), Some("status"));
        let all = res("/apis/batch/v1/jobs");
        assert_eq!((all.namespace, all.name), (None, None));
        let ns = res("/api/v1/namespaces/team");
        assert_eq!(
            (ns.plural.as_str(), ns.name.as_deref()),
            ("namespaces", Some("team"))
        );
        let ns_status = res("/api/v1/namespaces/team/status");
        assert_eq!(ns_status.subresource.as_deref(), Some("status"));
        let encoded = res("/apis/rbac.authorization.k8s.io/v1/namespaces/a/roles/system%3Aread");
        assert_eq!(encoded.name.as_deref(), Some("system:read"));
    }

    #[test]
    fn discovery_paths() {
        assert_eq!(route("/version"), Some(Route::Version));
        assert_eq!(route("/api"), Some(Route::CoreVersions));
        assert_eq!(route("/apis"), Some(Route::Groups));
        assert_eq!(
            route("/apis/apps/v1"),
            Some(Route::Resources {
                group: "apps".into(),
                version: "v1".into()
            })
        );
        assert_eq!(route("/healthz/x/y/z/w/v/u/t"), None);
        assert_eq!(route("/openapi/v3"), Some(Route::OpenApiIndex));
        assert_eq!(
            route("/openapi/v3/apis/lepton.ai/v1alpha1"),
            Some(Route::OpenApi("apis/lepton.ai/v1alpha1".into()))
        );
        assert_eq!(route("/openapi/v2"), None);
    }
}

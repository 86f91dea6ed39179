//! The kinds the server serves: the built-in ones Lepton's controllers use and the Lepton
//! kinds from their generated CRDs. Each entry carries what differs between kinds: its URL,
//! scope, status subresource, selectable fields, admission and default deletion propagation.
//! The same table will answer the discovery endpoints.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use lepton_crds::admission::{CrdValidator, lepton_validators};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};

use crate::table::Printer;

/// What happens to dependents when an owner is deleted without a `propagationPolicy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Propagation {
    Background,
    Foreground,
    Orphan,
}

impl Propagation {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "Background" => Some(Self::Background),
            "Foreground" => Some(Self::Foreground),
            "Orphan" => Some(Self::Orphan),
            _ => None,
        }
    }
}

/// One served kind.
pub(crate) struct ResourceType {
    pub group: String,
    pub version: String,
    pub kind: String,
    pub plural: String,
    pub singular: String,
    pub short_names: Vec<String>,
    /// Discovery categories: `kubectl get lepton` lists the Lepton kinds, `kubectl get all`
    /// the workloads and Services.
    pub categories: Vec<String>,
    pub namespaced: bool,
    /// Served with a `/status` subresource: status is ignored on the main resource.
    pub status: bool,
    /// `metadata.generation` is kept and bumped on changes outside metadata and status.
    pub generation: bool,
    /// Field-selector paths besides `metadata.name` and `metadata.namespace`.
    pub selectable_fields: Vec<String>,
    pub default_propagation: Propagation,
    /// CRD admission for Lepton kinds. The CEL context inside is not `Sync`, and admission is
    /// quick, so one lock per kind is enough.
    pub validator: Option<Mutex<CrdValidator>>,
    /// Admission of `status` writes for Lepton kinds (see [`status_validator`]).
    pub status_validator: Option<Mutex<CrdValidator>>,
    /// The columns `kubectl get` prints (the `Table` form of lists and objects).
    pub printer: Printer,
    /// The CRD version's `openAPIV3Schema`, published for `kubectl explain`.
    pub schema: Option<Value>,
}

impl std::fmt::Debug for ResourceType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.group_resource())
    }
}

impl ResourceType {
    fn builtin(group: &str, version: &str, kind: &str, plural: &str) -> Self {
        Self {
            group: group.into(),
            version: version.into(),
            kind: kind.into(),
            plural: plural.into(),
            singular: kind.to_lowercase(),
            short_names: Vec::new(),
            categories: Vec::new(),
            namespaced: true,
            status: false,
            generation: false,
            selectable_fields: Vec::new(),
            default_propagation: Propagation::Background,
            validator: None,
            status_validator: None,
            printer: Printer::for_builtin(group, kind),
            schema: None,
        }
    }

    fn with_status(mut self) -> Self {
        self.status = true;
        self.generation = true;
        self
    }

    fn with_fields(mut self, fields: &[&str]) -> Self {
        self.selectable_fields = fields.iter().map(|f| (*f).to_owned()).collect();
        self
    }

    fn with_short_names(mut self, names: &[&str]) -> Self {
        self.short_names = names.iter().map(|f| (*f).to_owned()).collect();
        self
    }

    /// In the `all` category, as the API server puts its workloads and Services.
    fn in_all(mut self) -> Self {
        self.categories = vec!["all".to_owned()];
        self
    }

    fn from_crd(crd: &CustomResourceDefinition, validator: CrdValidator) -> Self {
        let version = &crd.spec.versions[0];
        let names = &crd.spec.names;
        Self {
            group: crd.spec.group.clone(),
            version: version.name.clone(),
            kind: names.kind.clone(),
            plural: names.plural.clone(),
            singular: names
                .singular
                .clone()
                .unwrap_or_else(|| names.kind.to_lowercase()),
            short_names: names.short_names.clone().unwrap_or_default(),
            categories: names.categories.clone().unwrap_or_default(),
            namespaced: crd.spec.scope == "Namespaced",
            status: version
                .subresources
                .as_ref()
                .is_some_and(|s| s.status.is_some()),
            generation: true,
            selectable_fields: version
                .selectable_fields
                .iter()
                .flatten()
                .map(|f| f.json_path.trim_start_matches('.').to_owned())
                .collect(),
            default_propagation: Propagation::Background,
            validator: Some(Mutex::new(validator)),
            status_validator: status_validator(crd),
            printer: Printer::for_crd(version.additional_printer_columns.as_deref()),
            schema: version
                .schema
                .as_ref()
                .and_then(|s| s.open_api_v3_schema.as_ref())
                .and_then(|s| serde_json::to_value(s).ok()),
        }
    }

    /// `group/version`, or `version` for the core group.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// `plural.group` (`pods` for the core group), as error messages name a resource.
    pub fn group_resource(&self) -> String {
        if self.group.is_empty() {
            self.plural.clone()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }

    /// `Kind.group`, as validation errors name a kind.
    pub fn kind_group(&self) -> String {
        if self.group.is_empty() {
            self.kind.clone()
        } else {
            format!("{}.{}", self.kind, self.group)
        }
    }

    /// `details` of a `Status` about one object.
    pub fn details(&self, name: &str) -> Value {
        json!({"name": name, "group": self.group, "kind": self.plural})
    }

    /// Whether a field selector may use `field`.
    pub fn selectable(&self, field: &str) -> bool {
        matches!(field, "metadata.name" | "metadata.namespace")
            || self.selectable_fields.iter().any(|f| f == field)
    }
}

/// A validator for the `status` of a CRD's objects. The crate's admission checks `spec` (and
/// drops `status`), so the status schema is checked by a second validator built from a copy
/// of the CRD whose `spec` is the status schema: the same types, bounds, enums, defaults and
/// strict field checks, with field paths renamed back to `status`.
fn status_validator(crd: &CustomResourceDefinition) -> Option<Mutex<CrdValidator>> {
    let mut copy = lepton_crds::generate::crd_json(crd);
    let root = &mut copy["spec"]["versions"][0]["schema"]["openAPIV3Schema"];
    let status = root.pointer("/properties/status")?.clone();
    *root = json!({
        "type": "object",
        "properties": {
            "apiVersion": {"type": "string"},
            "kind": {"type": "string"},
            "metadata": {"type": "object"},
            "spec": status,
        },
    });
    let copy: CustomResourceDefinition = serde_json::from_value(copy).ok()?;
    match CrdValidator::new(&copy) {
        Ok(validator) => Some(Mutex::new(validator)),
        Err(error) => {
            tracing::warn!(%error, "status of {} is not validated", crd.spec.names.kind);
            None
        }
    }
}

/// Every served kind; looked up by URL or by `apiVersion` and `kind`.
#[derive(Debug)]
pub(crate) struct Registry {
    types: Vec<Arc<ResourceType>>,
}

impl Registry {
    /// The built-in kinds and the Lepton kinds.
    pub fn lepton() -> Self {
        let mut types = builtin_types();
        let crds = lepton_crds::generate::crds();
        for validator in lepton_validators() {
            if let Some(crd) = crds.iter().find(|c| c.spec.names.kind == validator.kind()) {
                types.push(ResourceType::from_crd(crd, validator));
            }
        }
        Self {
            types: types.into_iter().map(Arc::new).collect(),
        }
    }

    /// The kind served at `/apis/group/version/plural` (or `/api/version/plural`).
    pub fn by_plural(&self, group: &str, version: &str, plural: &str) -> Option<Arc<ResourceType>> {
        self.types
            .iter()
            .find(|t| t.group == group && t.version == version && t.plural == plural)
            .cloned()
    }

    /// The kind with this `group_resource` (`pods`, `jobs.batch`), as store keys name it.
    pub fn by_group_resource(&self, group_resource: &str) -> Option<Arc<ResourceType>> {
        self.types
            .iter()
            .find(|t| t.group_resource() == group_resource)
            .cloned()
    }

    /// Every served kind.
    pub fn all(&self) -> &[Arc<ResourceType>] {
        &self.types
    }
}

fn builtin_types() -> Vec<ResourceType> {
    let event_fields = [
        "involvedObject.kind",
        "involvedObject.namespace",
        "involvedObject.name",
        "involvedObject.uid",
        "involvedObject.apiVersion",
        "involvedObject.resourceVersion",
        "involvedObject.fieldPath",
        "reason",
        "reportingComponent",
        "source",
        "type",
    ];
    let mut namespace = ResourceType::builtin("", "v1", "Namespace", "namespaces")
        .with_status()
        .with_fields(&["status.phase"])
        .with_short_names(&["ns"]);
    namespace.namespaced = false;
    namespace.generation = false;
    let mut job = ResourceType::builtin("batch", "v1", "Job", "jobs")
        .with_status()
        .in_all();
    // batch/v1 Jobs orphan their pods unless told otherwise, for compatibility with old
    // clients; a controller must ask for Background explicitly.
    job.default_propagation = Propagation::Orphan;
    job.selectable_fields = vec!["status.successful".into()];
    vec![
        namespace,
        ResourceType::builtin("", "v1", "Pod", "pods")
            .with_status()
            .with_fields(&[
                "spec.nodeName",
                "spec.restartPolicy",
                "spec.schedulerName",
                "spec.serviceAccountName",
                "spec.hostNetwork",
                "status.phase",
                "status.podIP",
                "status.nominatedNodeName",
            ])
            .with_short_names(&["po"])
            .in_all(),
        ResourceType::builtin("", "v1", "Service", "services")
            .with_status()
            .with_short_names(&["svc"])
            .in_all(),
        ResourceType::builtin("", "v1", "ConfigMap", "configmaps").with_short_names(&["cm"]),
        ResourceType::builtin("", "v1", "Secret", "secrets").with_fields(&["type"]),
        ResourceType::builtin("", "v1", "ServiceAccount", "serviceaccounts")
            .with_short_names(&["sa"]),
        ResourceType::builtin("", "v1", "Event", "events")
            .with_fields(&event_fields)
            .with_short_names(&["ev"]),
        job,
        ResourceType::builtin("apps", "v1", "Deployment", "deployments")
            .with_status()
            .with_short_names(&["deploy"])
            .in_all(),
        ResourceType::builtin(
            "autoscaling",
            "v2",
            "HorizontalPodAutoscaler",
            "horizontalpodautoscalers",
        )
        .with_status()
        .with_short_names(&["hpa"])
        .in_all(),
        ResourceType::builtin("coordination.k8s.io", "v1", "Lease", "leases"),
        ResourceType::builtin("rbac.authorization.k8s.io", "v1", "Role", "roles"),
        ResourceType::builtin(
            "rbac.authorization.k8s.io",
            "v1",
            "RoleBinding",
            "rolebindings",
        ),
        ResourceType::builtin("events.k8s.io", "v1", "Event", "events").with_fields(&[
            "regarding.kind",
            "regarding.namespace",
            "regarding.name",
            "regarding.uid",
            "reason",
            "reportingController",
            "type",
        ]),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lepton_kinds_come_from_their_crds() {
        let registry = Registry::lepton();
        let tj = registry
            .by_plural("lepton.ai", "v1alpha1", "trainingjobs")
            .expect("trainingjobs served");
        assert_eq!(tj.kind, "TrainingJob");
        assert!(tj.status && tj.namespaced && tj.validator.is_some());
        assert!(tj.status_validator.is_some());
        assert!(tj.selectable("status.phase"));
        assert_eq!(tj.categories, ["lepton"]);
        assert!(!tj.selectable("spec.data"));
        assert_eq!(tj.group_resource(), "trainingjobs.lepton.ai");
        let pod = registry.by_plural("", "v1", "pods").expect("pods served");
        assert_eq!(pod.group_resource(), "pods");
        assert!(registry.by_group_resource("jobs.batch").is_some());
        assert!(
            registry
                .by_group_resource("modeldeployments.lepton.ai")
                .is_some()
        );
        assert!(
            registry
                .by_group_resource("tuningsweeps.lepton.ai")
                .is_some()
        );
    }
}

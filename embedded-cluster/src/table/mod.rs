//! Server-side printing: the `meta.k8s.io` `Table` form that `kubectl get` asks for
//! (`Accept: application/json;as=Table;v=v1;g=meta.k8s.io`). The server, not kubectl, knows
//! each kind's columns: custom resources print their CRD's `additionalPrinterColumns`,
//! built-in kinds the API server's own columns. Cells are computed when the request is
//! answered, ages included, so kubectl prints them as they come.

mod age;
mod builtin;
mod crd;
mod events;
mod jsonpath;
mod workloads;

use jiff::Timestamp;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceColumnDefinition;
use serde_json::{Map, Value, json};

use crd::CrdColumn;

/// The description of every `Name` column, from `ObjectMeta`.
const NAME_DESCRIPTION: &str = "The object's name, unique among objects of its kind in its namespace; set at creation and never changed.";

/// The description of every `Age` column, from `ObjectMeta`.
const AGE_DESCRIPTION: &str =
    "How long ago the server created the object (from metadata.creationTimestamp).";

/// One column definition of a Table.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Column {
    /// The header, which kubectl upper-cases.
    pub name: String,
    /// `string`, `integer`, `number`, `boolean` or `date`.
    pub type_: String,
    /// `name` marks the column kubectl prefixes with the kind when it prints several kinds.
    pub format: String,
    /// What the column shows (for API clients; kubectl does not print it).
    pub description: String,
    /// Columns above 0 are shown only by `kubectl get -o wide`.
    pub priority: i32,
}

impl Column {
    fn new(name: &str, type_: &str, description: &str) -> Self {
        Self {
            name: name.to_owned(),
            type_: type_.to_owned(),
            format: String::new(),
            description: description.to_owned(),
            priority: 0,
        }
    }

    fn name() -> Self {
        let mut column = Self::new("Name", "string", NAME_DESCRIPTION);
        column.format = "name".into();
        column
    }

    fn age() -> Self {
        Self::new("Age", "string", AGE_DESCRIPTION)
    }

    fn wide(mut self) -> Self {
        self.priority = 1;
        self
    }

    fn to_json(&self) -> Value {
        json!({
            "name": self.name,
            "type": self.type_,
            "format": self.format,
            "description": self.description,
            "priority": self.priority,
        })
    }
}

/// How a kind's objects become Table rows.
#[derive(Debug, Clone)]
pub(crate) enum Printer {
    /// `NAME` and a CRD's printer columns.
    Crd(Vec<CrdColumn>),
    /// A built-in kind's columns.
    Builtin(builtin::Kind),
}

impl Printer {
    /// The printer of a CRD version with these `additionalPrinterColumns`.
    pub fn for_crd(columns: Option<&[CustomResourceColumnDefinition]>) -> Self {
        Self::Crd(crd::columns(columns))
    }

    /// The printer of a built-in kind (`NAME` and `AGE` for kinds without columns of their
    /// own).
    pub fn for_builtin(group: &str, kind: &str) -> Self {
        Self::Builtin(builtin::Kind::of(group, kind))
    }

    fn columns(&self) -> Vec<Column> {
        match self {
            Self::Crd(columns) => std::iter::once(Column::name())
                .chain(columns.iter().map(|c| c.column.clone()))
                .collect(),
            Self::Builtin(kind) => kind.columns(),
        }
    }

    fn row(&self, object: &Value, now: Timestamp) -> Row {
        match self {
            Self::Crd(columns) => Row {
                cells: std::iter::once(Value::from(crate::meta::name(object)))
                    .chain(columns.iter().map(|c| c.cell(object, now)))
                    .collect(),
                conditions: None,
            },
            Self::Builtin(kind) => kind.row(object, now),
        }
    }
}

/// The cells of one object, and the row conditions kubectl reads (a finished Pod is
/// `Completed`).
struct Row {
    cells: Vec<Value>,
    conditions: Option<Value>,
}

impl Row {
    fn plain(cells: Vec<Value>) -> Self {
        Self {
            cells,
            conditions: None,
        }
    }
}

/// What each row carries besides its cells (`includeObject`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Include {
    /// The object's metadata as a `PartialObjectMetadata` (the default).
    Metadata,
    /// The whole object.
    Object,
    /// Nothing.
    None,
}

impl Include {
    /// Reads `includeObject`; the error is the message of a 400 response.
    pub fn parse(text: Option<&str>) -> Result<Self, String> {
        match text {
            None | Some("" | "Metadata") => Ok(Self::Metadata),
            Some("Object") => Ok(Self::Object),
            Some("None") => Ok(Self::None),
            Some(other) => Err(format!("unrecognized includeObject value: {other:?}")),
        }
    }
}

/// A Table answer: which `meta.k8s.io` version and what each row carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TableForm {
    /// `meta.k8s.io/v1` or, for old clients, `meta.k8s.io/v1beta1`.
    pub api_version: &'static str,
    pub include: Include,
}

impl TableForm {
    /// A Table of `objects`, with the column definitions when `headers` is set (a watch sends
    /// them with its first event only) and `metadata` as the list's (`resourceVersion`,
    /// `continue`, `remainingItemCount`).
    pub fn table<'a>(
        self,
        printer: &Printer,
        objects: impl IntoIterator<Item = &'a Value>,
        headers: bool,
        metadata: Value,
    ) -> Value {
        let now = Timestamp::now();
        let rows: Vec<Value> = objects
            .into_iter()
            .map(|object| {
                let row = printer.row(object, now);
                let mut out = Map::new();
                out.insert("cells".into(), Value::Array(row.cells));
                if let Some(conditions) = row.conditions {
                    out.insert("conditions".into(), conditions);
                }
                let embedded = match self.include {
                    Include::Metadata => partial_object_metadata(object),
                    Include::Object => object.clone(),
                    Include::None => Value::Null,
                };
                out.insert("object".into(), embedded);
                Value::Object(out)
            })
            .collect();
        let columns: Vec<Value> = if headers {
            printer.columns().iter().map(Column::to_json).collect()
        } else {
            Vec::new()
        };
        json!({
            "kind": "Table",
            "apiVersion": self.api_version,
            "metadata": metadata,
            "columnDefinitions": columns,
            "rows": rows,
        })
    }

    /// A Table of one object, with its `resourceVersion`.
    pub fn single(self, printer: &Printer, object: &Value, headers: bool) -> Value {
        let rv = crate::meta::meta_str(object, "resourceVersion").unwrap_or_default();
        self.table(printer, [object], headers, json!({"resourceVersion": rv}))
    }
}

/// An object reduced to its metadata, as `PartialObjectMetadata`.
pub(crate) fn partial_object_metadata(object: &Value) -> Value {
    json!({
        "apiVersion": "meta.k8s.io/v1",
        "kind": "PartialObjectMetadata",
        "metadata": object.get("metadata").cloned().unwrap_or_else(|| json!({})),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lepton_printer(kind: &str) -> Printer {
        let crd = lepton_crds::generate::crds()
            .into_iter()
            .find(|c| c.spec.names.kind == kind)
            .expect("a Lepton CRD");
        Printer::for_crd(crd.spec.versions[0].additional_printer_columns.as_deref())
    }

    fn form(include: Include) -> TableForm {
        TableForm {
            api_version: "meta.k8s.io/v1",
            include,
        }
    }

    #[test]
    fn a_training_job_table_has_its_crd_columns() {
        let printer = lepton_printer("TrainingJob");
        let job = json!({
            "apiVersion": "lepton.ai/v1alpha1",
            "kind": "TrainingJob",
            "metadata": {"name": "credit", "namespace": "default", "resourceVersion": "7",
                         "creationTimestamp": "2024-01-01T00:00:00Z"},
            "status": {"phase": "Succeeded", "objective": {"metric": "auc", "value": 0.93},
                       "model": {"family": "gbdt", "latencyP50Ms": 1.5}},
        });
        let table = form(Include::Metadata).single(&printer, &job, true);
        assert_eq!(table["kind"], "Table");
        assert_eq!(table["metadata"]["resourceVersion"], "7");
        let columns = table["columnDefinitions"].as_array().unwrap();
        let names: Vec<&str> = columns
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            names,
            [
                "Name", "Phase", "Metric", "Score", "Cost", "Family", "P50-ms", "Age"
            ]
        );
        assert_eq!(columns[0]["format"], "name");
        assert_eq!(columns[5]["priority"], 1);
        assert_eq!(columns[7]["type"], "date");
        let row = &table["rows"][0];
        assert_eq!(row["cells"][0], "credit");
        assert_eq!(row["cells"][1], "Succeeded");
        assert_eq!(row["cells"][2], "auc");
        assert_eq!(row["cells"][3], 0.93);
        assert_eq!(row["cells"][4], Value::Null, "no cost yet");
        assert_eq!(row["cells"][5], "gbdt");
        assert_eq!(row["cells"][6], 1.5);
        assert!(row["cells"][7].as_str().unwrap().ends_with('d'), "{row}");
        assert_eq!(row["object"]["kind"], "PartialObjectMetadata");
        assert_eq!(row["object"]["metadata"]["name"], "credit");
        assert!(row["object"].get("status").is_none());
    }

    #[test]
    fn a_model_deployment_reads_its_ready_condition() {
        let printer = lepton_printer("ModelDeployment");
        let md = json!({
            "metadata": {"name": "m"},
            "status": {"readyReplicas": 2, "url": "http://127.0.0.1:9000",
                       "conditions": [{"type": "Progressing", "status": "False"},
                                      {"type": "Ready", "status": "True"}]},
        });
        let table = form(Include::None).table(&printer, [&md], true, json!({}));
        let cells = &table["rows"][0]["cells"];
        assert_eq!(cells[1], "True");
        assert_eq!(cells[2], 2);
        assert_eq!(cells[3], "http://127.0.0.1:9000");
        assert_eq!(table["rows"][0]["object"], Value::Null);
    }

    #[test]
    fn rows_carry_the_object_asked_for_and_headers_only_when_asked() {
        let printer = Printer::for_builtin("", "ConfigMap");
        let cm = json!({"kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "1"}});
        let table = form(Include::Object).table(&printer, [&cm], false, json!({}));
        assert_eq!(table["columnDefinitions"], json!([]));
        assert_eq!(table["rows"][0]["object"], cm);
        assert_eq!(table["rows"][0]["cells"][1], 1);
        assert_eq!(Include::parse(None), Ok(Include::Metadata));
        assert_eq!(Include::parse(Some("Object")), Ok(Include::Object));
        assert!(Include::parse(Some("Everything")).is_err());
    }
}

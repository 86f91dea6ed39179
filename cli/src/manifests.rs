//! Reading the manifests a run applies: files or directories of multi-document YAML, the
//! same a user gives `kubectl apply -f`. Each document is admitted as the API server would
//! admit it (schema, defaults, CEL rules) before anything starts, and references between them
//! are checked, so a mistake costs seconds, not a half-finished pipeline.

use lepton_crds::admission::{CrdValidator, lepton_validators};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::error::CliError;

/// The kinds a run applies, in the order they are applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// `TrainingJob`.
    TrainingJob,
    /// `TuningSweep`.
    TuningSweep,
    /// `ModelDeployment`.
    ModelDeployment,
}

impl Kind {
    /// The kind's name as in `kind:`.
    pub fn name(self) -> &'static str {
        match self {
            Kind::TrainingJob => "TrainingJob",
            Kind::TuningSweep => "TuningSweep",
            Kind::ModelDeployment => "ModelDeployment",
        }
    }

    /// The lower-case name kubectl prints before a slash (`trainingjob/credit`).
    pub fn resource(self) -> &'static str {
        match self {
            Kind::TrainingJob => "trainingjob",
            Kind::TuningSweep => "tuningsweep",
            Kind::ModelDeployment => "modeldeployment",
        }
    }

    fn parse(kind: &str) -> Option<Kind> {
        [Kind::TrainingJob, Kind::TuningSweep, Kind::ModelDeployment]
            .into_iter()
            .find(|k| k.name() == kind)
    }
}

/// One admitted document.
#[derive(Debug, Clone)]
pub struct Manifest {
    /// Where it came from: `file.yaml` or `file.yaml (document 2)`.
    pub origin: String,
    /// Its kind.
    pub kind: Kind,
    /// `metadata.name`.
    pub name: String,
    /// The object as admitted (defaults applied, namespace set).
    pub object: Value,
}

/// The YAML files a path stands for: the file, or a directory's `*.yaml` and `*.yml` files
/// (not its subdirectories), sorted by name as kubectl does.
pub fn files(path: &Path) -> Result<Vec<PathBuf>, CliError> {
    let meta = std::fs::metadata(path)
        .map_err(|e| CliError::Input(format!("-f {}: {e}", path.display())))?;
    if meta.is_file() {
        return Ok(vec![path.to_owned()]);
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(path)
        .map_err(|e| CliError::Input(format!("-f {}: {e}", path.display())))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.is_file()
                && p.extension()
                    .is_some_and(|x| x == "yaml" || x == "yml" || x == "json")
        })
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(CliError::Input(format!(
            "-f {}: the directory holds no .yaml, .yml or .json file",
            path.display()
        )));
    }
    Ok(files)
}

/// Reads and admits every document of `paths` into `namespace` (where a document names
/// none). Every problem of every document is reported together.
pub fn load(paths: &[PathBuf], namespace: &str) -> Result<Vec<Manifest>, CliError> {
    let validators = lepton_validators();
    let mut manifests = Vec::new();
    let mut problems = Vec::new();
    for path in paths {
        for file in files(path)? {
            let text = std::fs::read_to_string(&file)
                .map_err(|e| CliError::Input(format!("{}: {e}", file.display())))?;
            match documents(&text) {
                Ok(docs) => {
                    let several = docs.len() > 1;
                    for (i, doc) in docs.into_iter().enumerate() {
                        let origin = if several {
                            format!("{} (document {})", file.display(), i + 1)
                        } else {
                            file.display().to_string()
                        };
                        match admit(&validators, doc, namespace, &origin) {
                            Ok(m) => manifests.push(m),
                            Err(problem) => problems.push(problem),
                        }
                    }
                }
                Err(e) => problems.push(format!("{}: not valid YAML: {e}", file.display())),
            }
        }
    }
    problems.extend(
        manifests
            .iter()
            .filter(|m| namespace_of(m) != namespace)
            .map(|m| {
                format!(
                    "{}: metadata.namespace {:?}: a run follows one namespace, {namespace:?}; run with -n {} or remove the field",
                    m.origin,
                    namespace_of(m),
                    namespace_of(m)
                )
            }),
    );
    problems.extend(duplicates(&manifests));
    problems.extend(dangling_references(&manifests));
    if manifests.is_empty() && problems.is_empty() {
        problems.push("the files hold no TrainingJob, TuningSweep or ModelDeployment".into());
    }
    if problems.is_empty() {
        manifests.sort_by_key(|m| m.kind);
        Ok(manifests)
    } else {
        Err(CliError::Input(problems.join("\n")))
    }
}

/// The non-empty documents of a multi-document YAML text.
fn documents(text: &str) -> Result<Vec<Value>, serde_yaml_ng::Error> {
    let mut docs = Vec::new();
    for doc in serde_yaml_ng::Deserializer::from_str(text) {
        let value: Value = serde::Deserialize::deserialize(doc)?;
        if !value.is_null() {
            docs.push(value);
        }
    }
    Ok(docs)
}

fn admit(
    validators: &[CrdValidator],
    mut doc: Value,
    namespace: &str,
    origin: &str,
) -> Result<Manifest, String> {
    let kind_name = doc.get("kind").and_then(Value::as_str).unwrap_or_default();
    let Some(kind) = Kind::parse(kind_name) else {
        let shown = if kind_name.is_empty() {
            "no kind".to_owned()
        } else {
            format!("kind {kind_name}")
        };
        return Err(format!(
            "{origin}: {shown}: `lepton run` runs TrainingJob, TuningSweep and ModelDeployment \
             (apiVersion lepton.ai/v1alpha1); apply other objects to a cluster with kubectl"
        ));
    };
    if let Some(meta) = doc.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.entry("namespace")
            .or_insert_with(|| Value::from(namespace));
    }
    let validator = validators
        .iter()
        .find(|v| v.kind() == kind.name())
        .expect("a validator for each Lepton kind");
    let object = validator
        .admit_create(&doc)
        .map_err(|rejection| format!("{origin}: {rejection}"))?;
    let name = object
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    if name.is_empty() {
        return Err(format!(
            "{origin}: metadata.name: Required value: `lepton run` needs a name, not generateName, to follow the {}",
            kind.name()
        ));
    }
    Ok(Manifest {
        origin: origin.to_owned(),
        kind,
        name,
        object,
    })
}

fn namespace_of(m: &Manifest) -> &str {
    m.object
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .unwrap_or_default()
}

fn duplicates(manifests: &[Manifest]) -> Vec<String> {
    let mut seen = BTreeSet::new();
    manifests
        .iter()
        .filter(|m| !seen.insert((m.kind, namespace_of(m), m.name.as_str())))
        .map(|m| {
            format!(
                "{}: a second {} named {:?}: names are unique per kind and namespace",
                m.origin,
                m.kind.name(),
                m.name
            )
        })
        .collect()
}

/// A ModelDeployment whose model comes from a TrainingJob or TuningSweep that no manifest
/// defines would wait forever in a fresh local cluster.
fn dangling_references(manifests: &[Manifest]) -> Vec<String> {
    let defined = |kind: Kind, ns: &str, name: &str| {
        manifests
            .iter()
            .any(|m| m.kind == kind && namespace_of(m) == ns && m.name == name)
    };
    let mut problems = Vec::new();
    for md in manifests.iter().filter(|m| m.kind == Kind::ModelDeployment) {
        let ns = namespace_of(md);
        for (path, kind) in [
            ("/spec/model/trainingJob", Kind::TrainingJob),
            ("/spec/model/tuningSweep/name", Kind::TuningSweep),
            ("/spec/canary/model/trainingJob", Kind::TrainingJob),
            ("/spec/canary/model/tuningSweep/name", Kind::TuningSweep),
        ] {
            if let Some(name) = md.object.pointer(path).and_then(Value::as_str)
                && !defined(kind, ns, name)
            {
                let field = path.trim_start_matches('/').replace('/', ".");
                problems.push(format!(
                    "{}: {field}: the {} {name:?} is in none of the files; add its manifest to this run",
                    md.origin,
                    kind.name()
                ));
            }
        }
    }
    problems
}

#[cfg(test)]
#[path = "manifests_tests.rs"]
mod tests;

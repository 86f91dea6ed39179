//! The optional store file: JSON lines, one per change, so a run can be inspected (or resumed)
//! after it ends and a crash loses at most the line being written. Opening a file replays it
//! and writes it afresh with one line per live object.
//!
//! Lines: `{"rv":N,"resource":R,"object":{..}}` for a write, `{"rv":N,"resource":R,
//! "delete":{"namespace":..,"name":..}}` for a deletion, `{"rv":N}` for the counter alone.

use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use super::ObjectKey;
use crate::Error;
use crate::meta;

/// The open store file.
#[derive(Debug)]
pub(crate) struct Persist {
    path: PathBuf,
    file: File,
}

fn io_error(path: &Path, source: std::io::Error) -> Error {
    Error::Persist {
        path: path.to_owned(),
        source,
    }
}

/// Objects (with their resource) and the latest version recorded in a store file; a missing
/// file is an empty store.
pub(crate) fn load(path: &Path) -> Result<(u64, Vec<(String, Value)>), Error> {
    let file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((0, Vec::new())),
        Err(e) => return Err(io_error(path, e)),
    };
    let mut rv = 0u64;
    let mut objects: BTreeMap<(String, String, String), Value> = BTreeMap::new();
    for (number, line) in BufReader::new(file).lines().enumerate() {
        let line = line.map_err(|e| io_error(path, e))?;
        if line.trim().is_empty() {
            continue;
        }
        let Ok(entry) = serde_json::from_str::<Value>(&line) else {
            // A torn last line after a crash: everything before it is intact.
            tracing::warn!(path = %path.display(), line = number + 1, "skipping an unreadable line of the store file");
            continue;
        };
        rv = rv.max(entry.get("rv").and_then(Value::as_u64).unwrap_or_default());
        let resource = entry
            .get("resource")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if let Some(object) = entry.get("object") {
            let key = (
                resource.to_owned(),
                meta::namespace(object).to_owned(),
                meta::name(object).to_owned(),
            );
            objects.insert(key, object.clone());
        } else if let Some(deleted) = entry.get("delete") {
            let field = |f: &str| {
                deleted
                    .get(f)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned()
            };
            objects.remove(&(resource.to_owned(), field("namespace"), field("name")));
        }
    }
    Ok((
        rv,
        objects
            .into_iter()
            .map(|((resource, _, _), object)| (resource, object))
            .collect(),
    ))
}

impl Persist {
    /// Replaces the file with the given objects and opens it for appending.
    pub fn rewrite<'a>(
        path: &Path,
        rv: u64,
        objects: impl Iterator<Item = (&'a str, &'a Value)>,
    ) -> Result<Self, Error> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| io_error(path, e))?;
        }
        let fresh = path.with_extension("tmp");
        {
            let mut out =
                std::io::BufWriter::new(File::create(&fresh).map_err(|e| io_error(&fresh, e))?);
            for (resource, object) in objects {
                let rv_of = meta::meta_str(object, "resourceVersion")
                    .and_then(|v| v.parse::<u64>().ok())
                    .unwrap_or_default();
                writeln!(
                    out,
                    "{}",
                    json!({"rv": rv_of, "resource": resource, "object": object})
                )
                .map_err(|e| io_error(&fresh, e))?;
            }
            writeln!(out, "{}", json!({"rv": rv})).map_err(|e| io_error(&fresh, e))?;
            out.flush().map_err(|e| io_error(&fresh, e))?;
        }
        std::fs::rename(&fresh, path).map_err(|e| io_error(path, e))?;
        let file = OpenOptions::new()
            .append(true)
            .open(path)
            .map_err(|e| io_error(path, e))?;
        Ok(Self {
            path: path.to_owned(),
            file,
        })
    }

    fn append(&mut self, line: Value) -> Result<(), Error> {
        let mut text = line.to_string();
        text.push('\n');
        self.file
            .write_all(text.as_bytes())
            .map_err(|e| io_error(&self.path, e))
    }

    /// Records a write.
    pub fn append_put(&mut self, rv: u64, resource: &str, object: &Value) -> Result<(), Error> {
        self.append(json!({"rv": rv, "resource": resource, "object": object}))
    }

    /// Records a deletion.
    pub fn append_delete(&mut self, rv: u64, key: &ObjectKey) -> Result<(), Error> {
        self.append(json!({
            "rv": rv,
            "resource": key.resource,
            "delete": {"namespace": key.namespace, "name": key.name},
        }))
    }

    /// Pushes written lines to the disk.
    pub fn flush(&mut self) -> Result<(), Error> {
        self.file.sync_data().map_err(|e| io_error(&self.path, e))
    }
}

//! The data report: rows in and out of each step, each column's fate and why, the task and the
//! class balance. It goes to the logs and into `model.json`.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::dataset::{ColumnKind, ColumnPlan, Target};
use crate::metrics::{Targets, TaskKind};
use crate::preprocess::{InputEncoder, Preprocessor};

/// Accumulates what preprocessing did.
#[derive(Clone, Debug)]
pub struct DataReport {
    /// Data rows read.
    pub rows_read: usize,
    columns_read: usize,
    steps: Vec<Value>,
    columns: Vec<Value>,
    task: Value,
    classes: Value,
}

impl DataReport {
    /// A report for a table of `rows` rows and `columns` columns.
    pub fn new(rows: usize, columns: usize) -> Self {
        Self {
            rows_read: rows,
            columns_read: columns,
            steps: Vec::new(),
            columns: Vec::new(),
            task: Value::Null,
            classes: Value::Null,
        }
    }

    /// Records a step that took `rows_in` rows to `rows_out`.
    pub fn step(&mut self, name: &str, rows_in: usize, rows_out: usize, detail: &str) {
        self.steps
            .push(json!({"step": name, "rowsIn": rows_in, "rowsOut": rows_out, "detail": detail}));
    }

    /// Records the task and how it was decided.
    pub fn task(&mut self, target: &Target) {
        self.task = json!({"target": target.name, "task": task_name(target.task), "reason": target.task_reason, "classes": target.classes});
    }

    /// Records each column's kind or drop reason, and the features it became.
    pub fn columns(&mut self, plans: &[ColumnPlan], preprocessor: &Preprocessor) {
        for plan in plans {
            let encoder = preprocessor.inputs.iter().find(|i| i.name() == plan.name);
            let mut entry =
                json!({"name": plan.name, "missing": plan.missing, "distinct": plan.distinct});
            match (&plan.kind, encoder) {
                (ColumnKind::Dropped(reason), _) => {
                    entry["action"] = json!("dropped");
                    entry["reason"] = json!(reason);
                    entry["why"] = json!(reason.describe());
                }
                (_, Some(encoder)) => {
                    entry["action"] = json!("kept");
                    entry["kind"] = json!(match encoder {
                        InputEncoder::Numeric { .. } => "numeric",
                        InputEncoder::Boolean { .. } => "boolean",
                        InputEncoder::Categorical { .. } => "categorical",
                    });
                    entry["encoding"] = serde_json::to_value(encoder).unwrap_or_default();
                }
                (_, None) => entry["action"] = json!("dropped"),
            }
            self.columns.push(entry);
        }
    }

    /// Records class counts and the weights used in the loss.
    pub fn class_balance(&mut self, target: &Target, train_y: &Targets, weights: &[f32]) {
        if let Targets::Classes(c) = train_y {
            let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
            let mut weight_of: BTreeMap<&str, f32> = BTreeMap::new();
            for (&k, &w) in c.iter().zip(weights) {
                let name = target.classes[k].as_str();
                *counts.entry(name).or_insert(0) += 1;
                weight_of.insert(name, w);
            }
            self.classes = json!({"trainingCounts": counts, "weights": weight_of});
        }
    }

    /// The report as JSON.
    pub fn to_json(&self) -> Value {
        json!({
            "rowsRead": self.rows_read,
            "columnsRead": self.columns_read,
            "task": self.task,
            "steps": self.steps,
            "columns": self.columns,
            "classBalance": self.classes,
        })
    }

    /// Logs the report, one line per step and per column.
    pub fn log(&self) {
        tracing::info!(rows = self.rows_read, columns = self.columns_read, task = %self.task, "data read");
        for step in &self.steps {
            tracing::info!(step = %step["step"], rows_in = %step["rowsIn"], rows_out = %step["rowsOut"], "{}", step["detail"].as_str().unwrap_or_default());
        }
        for column in &self.columns {
            tracing::info!(column = %column["name"], action = %column["action"], kind = %column["kind"], why = %column["why"], "column");
        }
    }
}

/// Why every column was dropped, for the no-features error.
pub fn describe_drops(plans: &[ColumnPlan]) -> String {
    if plans.is_empty() {
        return "the data has no columns besides the target".into();
    }
    plans
        .iter()
        .map(|p| match &p.kind {
            ColumnKind::Dropped(r) => format!("`{}` was dropped because {}", p.name, r.describe()),
            _ => format!("`{}` was kept", p.name),
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// Manifest name of a task.
pub fn task_name(task: TaskKind) -> &'static str {
    match task {
        TaskKind::Binary => "binary",
        TaskKind::Multiclass { .. } => "multiclass",
        TaskKind::Regression => "regression",
    }
}

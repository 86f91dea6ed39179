//! How the runner reports what it is doing. Training code talks to a [`Reporter`]; the JSON-lines
//! reporter writes one event per line to stdout (for logs and local mode), and
//! [`crate::status_report::StatusReporter`] pushes progress and results to the job's own
//! TrainingJob status. [`FanOut`] hands every event to several of them.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::Mutex;

use serde::Serialize;

use crate::results::RunResults;

/// Stage of a training run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Stage {
    /// Fetching and parsing the data.
    Loading,
    /// Typing columns, splitting, fitting the preprocessing.
    Preprocessing,
    /// Fitting a model.
    Training,
    /// Writing and checking the ONNX model.
    Exporting,
    /// Writing artifacts and results.
    Finishing,
}

/// One progress event.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Progress {
    /// Stage.
    pub stage: Stage,
    /// Model family being trained, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub family: Option<&'static str>,
    /// Completed epochs (dense models) or trees (gbdt).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step: Option<u64>,
    /// Most steps this family may take.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total_steps: Option<u64>,
    /// Latest validation metrics.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub metrics: BTreeMap<String, f64>,
    /// Name of the objective metric among `metrics` (the one early stopping and model choice
    /// use), so that consumers can draw its learning curve.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub objective: Option<&'static str>,
    /// A human-readable note.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl Progress {
    /// An event for `stage` with a message.
    pub fn stage(stage: Stage, message: impl Into<String>) -> Self {
        Self {
            stage,
            family: None,
            step: None,
            total_steps: None,
            metrics: BTreeMap::new(),
            objective: None,
            message: Some(message.into()),
        }
    }
}

/// Receives progress. Reporting must never fail training: implementations swallow and log their
/// own errors, because the final results are also written where a lost update cannot lose them.
pub trait Reporter: Send + Sync {
    /// Reports one event.
    fn report(&self, progress: &Progress);

    /// The run is over with `results` (succeeded or failed); no event follows. Reporters that
    /// send in the background deliver what is left here, waiting a bounded time, because the
    /// process exits right after. The default does nothing.
    fn finish(&self, results: &RunResults) {
        let _ = results;
    }
}

/// Hands every event, and the end of the run, to each of several reporters in order.
pub struct FanOut {
    reporters: Vec<Box<dyn Reporter>>,
}

impl FanOut {
    /// A reporter feeding `reporters`.
    pub fn new(reporters: Vec<Box<dyn Reporter>>) -> Self {
        Self { reporters }
    }
}

impl Reporter for FanOut {
    fn report(&self, progress: &Progress) {
        for reporter in &self.reporters {
            reporter.report(progress);
        }
    }

    fn finish(&self, results: &RunResults) {
        for reporter in &self.reporters {
            reporter.finish(results);
        }
    }
}

/// Writes each event as one JSON object per line.
pub struct JsonLinesReporter<W: Write + Send> {
    out: Mutex<W>,
}

impl<W: Write + Send> JsonLinesReporter<W> {
    /// A reporter writing to `out`.
    pub fn new(out: W) -> Self {
        Self {
            out: Mutex::new(out),
        }
    }

    /// The writer back, for tests.
    pub fn into_inner(self) -> W {
        self.out
            .into_inner()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl<W: Write + Send> Reporter for JsonLinesReporter<W> {
    fn report(&self, progress: &Progress) {
        #[derive(Serialize)]
        struct Line<'a> {
            event: &'static str,
            #[serde(flatten)]
            progress: &'a Progress,
        }
        let Ok(line) = serde_json::to_string(&Line {
            event: "progress",
            progress,
        }) else {
            return;
        };
        let mut out = self
            .out
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        // A closed stdout must not stop training; the results file still gets written.
        let _ = writeln!(out, "{line}").and_then(|()| out.flush());
    }
}

/// Discards events.
pub struct NullReporter;

impl Reporter for NullReporter {
    fn report(&self, _: &Progress) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_lines_are_one_object_per_event() {
        let r = JsonLinesReporter::new(Vec::new());
        r.report(&Progress::stage(Stage::Loading, "reading"));
        let mut p = Progress::stage(Stage::Training, "epoch");
        p.family = Some("mlp");
        p.step = Some(3);
        p.metrics.insert("auc".into(), 0.9);
        r.report(&p);
        let text = String::from_utf8(r.into_inner()).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["stage"], "loading");
        assert_eq!(lines[1]["event"], "progress");
        assert_eq!(lines[1]["family"], "mlp");
        assert_eq!(lines[1]["metrics"]["auc"], 0.9);
    }

    #[test]
    fn fan_out_passes_events_and_the_end_to_every_reporter() {
        #[derive(Default)]
        struct Counting(Mutex<(usize, Vec<String>)>);
        impl Reporter for std::sync::Arc<Counting> {
            fn report(&self, _: &Progress) {
                self.0.lock().unwrap().0 += 1;
            }
            fn finish(&self, results: &RunResults) {
                self.0.lock().unwrap().1.push(results.phase.clone());
            }
        }
        let (a, b) = (
            std::sync::Arc::new(Counting::default()),
            std::sync::Arc::new(Counting::default()),
        );
        let fan_out = FanOut::new(vec![Box::new(a.clone()), Box::new(b.clone())]);
        fan_out.report(&Progress::stage(Stage::Loading, "reading"));
        fan_out.report(&Progress::stage(Stage::Training, "epoch"));
        fan_out.finish(&RunResults::failed("TooFewRows", "few".into(), 1.0));
        for counting in [a, b] {
            assert_eq!(*counting.0.lock().unwrap(), (2, vec!["Failed".to_string()]));
        }
    }
}

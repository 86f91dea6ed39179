//! What a run shows while it works: one line per resource (a bar and the latest metric for a
//! TrainingJob, trial counts and the best so far for a sweep, readiness and live figures for
//! a deployment), with a sweep's running trials beneath it. On a terminal the block is redrawn
//! in place; elsewhere (CI logs, pipes) a line is printed only when something a person would
//! notice has changed.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};

use kube::ResourceExt;
use lepton_crds::v1alpha1::{ModelDeployment, TrainingJob, TrainingJobPhase, TuningSweep};
use lepton_operator::names::TUNING_SWEEP_LABEL;

use super::outcome::Observed;
use crate::format;
use crate::manifests::Kind;

/// One line of the display.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    /// The resource it is about.
    pub key: String,
    /// What is printed.
    pub text: String,
    /// A coarse summary: plain output prints the line when this changes.
    pub milestone: String,
}

const BAR: usize = 16;

/// The lines for the resources a run applied.
pub fn lines(applied: &[(Kind, String)], observed: &Observed) -> Vec<Line> {
    let width = applied
        .iter()
        .map(|(k, n)| k.resource().len() + 1 + n.len())
        .max()
        .unwrap_or(0);
    let mut out = Vec::new();
    for (kind, name) in applied {
        let key = format!("{}/{name}", kind.resource());
        let head = format!("{key:width$}");
        match kind {
            Kind::TrainingJob => {
                let job = observed.jobs.iter().find(|j| &j.name_any() == name);
                let (text, milestone) = job.map_or_else(waiting, job_summary);
                out.push(Line {
                    key,
                    text: format!("{head}  {text}"),
                    milestone,
                });
            }
            Kind::TuningSweep => {
                let sweep = observed.sweeps.iter().find(|s| &s.name_any() == name);
                let (text, milestone) = sweep.map_or_else(waiting, sweep_summary);
                out.push(Line {
                    key,
                    text: format!("{head}  {text}"),
                    milestone,
                });
                out.extend(running_trials(name, observed));
            }
            Kind::ModelDeployment => {
                let md = observed.deployments.iter().find(|m| &m.name_any() == name);
                let (text, milestone) = md.map_or_else(waiting, deployment_summary);
                out.push(Line {
                    key,
                    text: format!("{head}  {text}"),
                    milestone,
                });
            }
        }
    }
    out
}

fn waiting() -> (String, String) {
    ("Pending".into(), "Pending".into())
}

fn bar(done: i64, total: i64) -> String {
    let filled = if total > 0 {
        ((done.clamp(0, total) as f64 / total as f64) * BAR as f64).round() as usize
    } else {
        0
    };
    format!("[{}{}]", "█".repeat(filled), "░".repeat(BAR - filled))
}

fn phase_of<P: std::fmt::Debug>(phase: Option<&P>) -> String {
    phase.map_or_else(|| "Pending".to_owned(), |p| format!("{p:?}"))
}

fn job_summary(job: &TrainingJob) -> (String, String) {
    let Some(status) = job.status.as_ref() else {
        return waiting();
    };
    let phase = phase_of(status.phase.as_ref());
    let mut parts = vec![format!("{phase:<10}")];
    let mut milestone = phase.clone();
    let working = matches!(phase.as_str(), "Running" | "Pending");
    if let Some(p) = status.progress.as_ref().filter(|_| working)
        && let (Some(step), Some(total)) = (p.step, p.total_steps)
    {
        parts.push(format!("{} {step}/{total}", bar(step, total)));
        let quarter = if total > 0 { step * 4 / total } else { 0 };
        milestone.push_str(&format!(" {quarter}/4"));
    }
    let objective = status
        .objective
        .as_ref()
        .map(|o| (format::metric_name(&o.metric), o.value))
        .or_else(|| {
            let metrics = &status.progress.as_ref()?.metrics;
            let wanted = job.spec.model.metric.as_ref().map(format::metric_name);
            wanted
                .and_then(|m| metrics.get(&m).map(|v| (m, *v)))
                .or_else(|| metrics.iter().next().map(|(k, v)| (k.clone(), *v)))
        });
    if let Some((metric, value)) = objective {
        parts.push(format!("{metric} {}", format::metric(value)));
    }
    // A cost of zero only says that no time has been billed yet.
    if let Some(cost) = status
        .cost
        .as_ref()
        .and_then(|c| c.total)
        .filter(|c| *c > 0.0)
    {
        parts.push(format::money(
            cost,
            status.cost.as_ref().and_then(|c| c.currency.as_deref()),
        ));
    }
    (parts.join("  ").trim_end().to_owned(), milestone)
}

fn sweep_summary(sweep: &TuningSweep) -> (String, String) {
    let Some(status) = sweep.status.as_ref() else {
        return waiting();
    };
    let phase = phase_of(status.phase.as_ref());
    let t = &status.trials;
    let done = t.succeeded + t.failed + t.early_stopped + t.stopped;
    let max = sweep.spec.max_trials;
    let mut counts = format!(
        "{} {done}/{max} trials: {} ok",
        bar(i64::from(done), i64::from(max)),
        t.succeeded
    );
    for (n, what) in [
        (t.running + t.pending, "running"),
        (t.early_stopped + t.stopped, "stopped"),
        (t.failed, "failed"),
    ] {
        if n > 0 {
            counts.push_str(&format!(", {n} {what}"));
        }
    }
    let mut parts = vec![format!("{phase:<10}"), counts];
    let metric = format::metric_name(&sweep.spec.objective.metric);
    if let Some(best) = &status.best_trial
        && let Some(value) = best.objective
    {
        parts.push(format!(
            "best {metric} {} ({})",
            format::metric(value),
            best.name
        ));
    }
    if let Some(cost) = status.total_cost {
        parts.push(format::money(cost, None));
    }
    let milestone = format!(
        "{phase} {done} {} {}",
        t.running,
        status
            .best_trial
            .as_ref()
            .map(|b| b.name.as_str())
            .unwrap_or("")
    );
    (parts.join("  ").trim_end().to_owned(), milestone)
}

fn running_trials(sweep: &str, observed: &Observed) -> Vec<Line> {
    let mut trials: BTreeMap<String, &TrainingJob> = BTreeMap::new();
    for job in &observed.jobs {
        let running = job
            .status
            .as_ref()
            .and_then(|s| s.phase.as_ref())
            .is_some_and(|p| *p == TrainingJobPhase::Running);
        if running && job.labels().get(TUNING_SWEEP_LABEL).map(String::as_str) == Some(sweep) {
            trials.insert(job.name_any(), job);
        }
    }
    trials
        .into_iter()
        .map(|(name, job)| {
            let (text, _) = job_summary(job);
            Line {
                key: format!("trial/{name}"),
                text: format!("    ↳ {name}  {text}"),
                // Trials come and go quickly; plain output follows them through the sweep line.
                milestone: String::new(),
            }
        })
        .collect()
}

fn deployment_summary(md: &ModelDeployment) -> (String, String) {
    let Some(status) = md.status.as_ref() else {
        return waiting();
    };
    let phase = phase_of(status.phase.as_ref());
    let ready = status.conditions.iter().find(|c| c.type_ == "Ready");
    let mut parts = vec![format!("{phase:<10}")];
    let ready_now = ready.is_some_and(|c| c.status == "True");
    if ready_now {
        parts.push(format!(
            "{}/{} replicas",
            status.ready_replicas.unwrap_or(0),
            status.replicas.unwrap_or(0)
        ));
        if let Some(source) = status.model.as_ref().and_then(|m| m.source.as_deref()) {
            parts.push(source.to_owned());
        }
        if let Some(m) = &status.metrics {
            if let (Some(p50), Some(p99)) = (m.latency_p50_ms, m.latency_p99_ms) {
                parts.push(format!(
                    "p50 {} p99 {}",
                    format::millis(p50),
                    format::millis(p99)
                ));
            }
            if let Some(drift) = m.drift_score {
                parts.push(format!("drift {drift:.3}"));
            }
        }
    } else if let Some(c) = ready {
        parts.push(format!("{}: {}", c.reason, c.message));
    }
    let milestone = format!("{phase} {}", ready.map(|c| c.reason.as_str()).unwrap_or(""));
    (parts.join("  ").trim_end().to_owned(), milestone)
}

/// Where progress goes: redrawn in place on a terminal, as changed lines elsewhere, or
/// nowhere.
pub struct Display {
    mode: Mode,
    drawn: usize,
    printed: BTreeMap<String, String>,
    width: usize,
}

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Redrawn in place (a terminal).
    Live,
    /// A line per change (logs).
    Plain,
    /// Nothing.
    Quiet,
}

impl Mode {
    /// `Live` when standard error is a terminal, else `Plain`.
    pub fn detect() -> Mode {
        if std::io::stderr().is_terminal() {
            Mode::Live
        } else {
            Mode::Plain
        }
    }
}

impl Display {
    /// A display in `mode`.
    pub fn new(mode: Mode) -> Display {
        Display {
            mode,
            drawn: 0,
            printed: BTreeMap::new(),
            width: terminal_width(),
        }
    }

    /// Shows `lines` after `elapsed` seconds.
    pub fn show(&mut self, elapsed: u64, lines: &[Line]) {
        let mut err = std::io::stderr().lock();
        match self.mode {
            Mode::Quiet => {}
            Mode::Live => {
                let mut frame = String::new();
                if self.drawn > 0 {
                    frame.push_str(&format!("\x1b[{}A\x1b[J", self.drawn));
                }
                frame.push_str(&format!("lepton run · {}\n", format::clock(elapsed)));
                for line in lines {
                    frame.push_str(&format::fit(&format!("  {}", line.text), self.width));
                    frame.push('\n');
                }
                self.drawn = lines.len() + 1;
                let _ = err.write_all(frame.as_bytes());
            }
            Mode::Plain => {
                for line in lines.iter().filter(|l| !l.milestone.is_empty()) {
                    if self.printed.get(&line.key) != Some(&line.milestone) {
                        self.printed
                            .insert(line.key.clone(), line.milestone.clone());
                        let _ = writeln!(err, "[{}] {}", format::clock(elapsed), line.text);
                    }
                }
            }
        }
        let _ = err.flush();
    }

    /// Leaves the last frame on screen; what is printed next goes below it.
    pub fn finish(&mut self) {
        self.drawn = 0;
    }
}

/// The terminal's width, from `COLUMNS` or `stty size`; 120 when neither says.
fn terminal_width() -> usize {
    if let Some(cols) = std::env::var("COLUMNS").ok().and_then(|c| c.parse().ok()) {
        return cols;
    }
    std::fs::File::open("/dev/tty")
        .ok()
        .and_then(|tty| {
            std::process::Command::new("stty")
                .arg("size")
                .stdin(tty)
                .output()
                .ok()
        })
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .split_whitespace()
                .nth(1)
                .and_then(|c| c.parse().ok())
        })
        .unwrap_or(120)
}

#[cfg(test)]
#[path = "progress_tests.rs"]
mod tests;

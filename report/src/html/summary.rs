//! The page's header: title, time, and one card per resource with its phase, its headline
//! figure and its cost.

use std::fmt::Write;

use crate::escape::esc;
use crate::format;
use crate::model::{Deployment, Job, State, Sweep, View};

use super::{badge, empty};

/// The header.
pub(crate) fn header(view: &View) -> String {
    let title = if view.title.trim().is_empty() {
        "Lepton run report"
    } else {
        view.title.as_str()
    };
    let mut html = format!("<header>\n<h1>{}</h1>\n", esc(title));
    if !view.generated_at.is_empty() {
        let _ = writeln!(
            html,
            "<p class=\"when\">Recorded <time datetime=\"{0}\">{1}</time></p>",
            esc(&view.generated_at),
            esc(&readable_time(&view.generated_at))
        );
    }
    let mut cards = String::new();
    for sweep in &view.sweeps {
        cards.push_str(&sweep_card(sweep));
    }
    for job in &view.jobs {
        cards.push_str(&job_card(job));
    }
    for deployment in &view.deployments {
        cards.push_str(&deployment_card(deployment));
    }
    if cards.is_empty() {
        html.push_str(&empty(
            "the record holds no TrainingJob, TuningSweep or ModelDeployment.",
        ));
    } else {
        let _ = write!(html, "<div class=\"cards\">\n{cards}</div>\n");
    }
    html + "</header>\n"
}

fn card(kind: &str, name: &str, phase: Option<&str>, figure: &str, lines: &[String]) -> String {
    let mut html = format!(
        "<div class=\"card\">\n<div class=\"kind\">{kind}</div>\n<div class=\"name\">{} {}</div>\n",
        esc(name),
        badge(phase)
    );
    if !figure.is_empty() {
        let _ = writeln!(html, "<div class=\"figure\">{}</div>", esc(figure));
    }
    for line in lines.iter().filter(|l| !l.is_empty()) {
        let _ = writeln!(html, "<div class=\"line\">{}</div>", esc(line));
    }
    html + "</div>\n"
}

fn sweep_card(sweep: &Sweep) -> String {
    // The sweep's own counts cover trials whose TrainingJobs the record may lack.
    let c = &sweep.counts;
    let from_status =
        usize::try_from(c.created).unwrap_or(0) >= sweep.trials.len() && c.created > 0;
    let count = |state: State| {
        let status = match state {
            State::Succeeded => c.succeeded,
            State::Running => c.running,
            State::Pending => c.pending,
            State::EarlyStopped => c.early_stopped,
            State::Stopped => c.stopped,
            _ => c.failed,
        };
        if from_status {
            usize::try_from(status).unwrap_or(0)
        } else {
            sweep.trials.iter().filter(|t| t.state == state).count()
        }
    };
    let total = if from_status {
        usize::try_from(c.created).unwrap_or(0)
    } else {
        sweep.trials.len()
    };
    let parts: Vec<String> = [
        State::Succeeded,
        State::Running,
        State::Pending,
        State::EarlyStopped,
        State::Stopped,
        State::Failed,
    ]
    .into_iter()
    .filter(|s| count(*s) > 0)
    .map(|s| format!("{} {}", count(s), s.label()))
    .collect();
    let trials = format!(
        "{total} of {} trials: {}",
        sweep.max_trials,
        if parts.is_empty() {
            "none yet".to_owned()
        } else {
            parts.join(" · ")
        }
    );
    let best = sweep
        .best
        .as_ref()
        .and_then(|b| sweep.trials.iter().find(|t| &t.name == b));
    let figure = match best {
        Some(t) => format!(
            "best {} {}",
            sweep.metric.as_str(),
            format::opt(t.objective)
        ),
        None => String::new(),
    };
    let mut lines = vec![trials];
    if let Some(t) = best {
        lines.push(format!("best trial {}", t.name));
    }
    let total = sweep.total_cost.or_else(|| {
        sweep
            .trials
            .iter()
            .filter_map(|t| t.cost)
            .reduce(|a, b| a + b)
    });
    lines.push(format!(
        "total cost {}",
        format::cost(total, sweep.currency())
    ));
    if let Some(reason) = &sweep.finish_reason {
        lines.push(format!("finished: {reason}"));
    }
    card(
        "TuningSweep",
        &sweep.name,
        sweep.phase.as_deref(),
        &figure,
        &lines,
    )
}

fn job_card(job: &Job) -> String {
    let figure = match (job.metric, job.objective) {
        (Some(m), Some(v)) => format!("{} {}", m.as_str(), format::num(v)),
        _ => String::new(),
    };
    let mut figures = Vec::new();
    if job.cost.is_some() {
        figures.push(format!(
            "cost {}",
            format::cost(job.cost, job.currency.as_deref())
        ));
    }
    if job.latency_ms.is_some() {
        figures.push(format!("p50 {}", format::ms(job.latency_ms)));
    }
    let mut lines = vec![figures.join(" · ")];
    if let Some(reason) = &job.reason {
        lines.push(format!("reason: {reason}"));
    }
    let phase = capitalised(job.state.label());
    card("TrainingJob", &job.name, Some(&phase), &figure, &lines)
}

fn deployment_card(d: &Deployment) -> String {
    let latest = d.latest.clone().unwrap_or_default();
    let figure = match latest.latency_p99_ms.filter(|v| v.is_finite()) {
        Some(v) => format!("p99 {}", format::ms(Some(v))),
        None => String::new(),
    };
    let mut lines = Vec::new();
    if let Some(served) = &d.served {
        lines.push(format!("serves {}", served.model_name()));
    }
    let replicas = match (d.ready_replicas, d.replicas) {
        (Some(r), Some(n)) => format!("{r}/{n} replicas ready"),
        (None, Some(n)) => format!("0/{n} replicas ready"),
        _ => String::new(),
    };
    let rps = latest
        .requests_per_second
        .filter(|v| v.is_finite())
        .map(|v| format!("{} req/s", format::num(v)))
        .unwrap_or_default();
    lines.push(
        [replicas, rps]
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(" · "),
    );
    if let Some(drift) = latest.drift_score.filter(|v| v.is_finite()) {
        let column = latest
            .most_drifted_column
            .as_deref()
            .map(|c| format!(" ({c})"))
            .unwrap_or_default();
        lines.push(format!("drift {}{column}", format::num(drift)));
    }
    if !d.listed {
        lines.push("known only from serving samples".to_owned());
    }
    card(
        "ModelDeployment",
        &d.name,
        d.phase.as_deref(),
        &figure,
        &lines,
    )
}

fn capitalised(word: &str) -> String {
    let mut chars = word.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// An RFC 3339 time as people write it: `2025-05-01 10:42:00 UTC`. Anything else is shown
/// as given.
fn readable_time(time: &str) -> String {
    match time.split_once('T') {
        Some((date, rest)) if date.len() == 10 => {
            let rest = rest
                .strip_suffix('Z')
                .map_or_else(|| rest.to_owned(), |t| format!("{t} UTC"));
            format!("{date} {rest}")
        }
        _ => time.to_owned(),
    }
}

//! The page: a header of resource cards, then learning curves, the sweeps' trade-offs with
//! their trial tables, and the deployments' serving figures. Every section says so when it
//! has nothing to show instead of disappearing.

mod serving;
mod summary;
mod sweeps;

use std::collections::BTreeSet;
use std::fmt::Write;

use lepton_crds::v1alpha1::Metric;

use crate::RunRecord;
use crate::charts::{Chart, curves};
use crate::escape::esc;
use crate::model::{Job, View};
use crate::style::CSS;

/// The rendered page and the charts it contains, each also to be written as a file.
pub(crate) struct Page {
    pub(crate) html: String,
    pub(crate) charts: Vec<Chart>,
}

/// Renders `record`.
pub(crate) fn render(record: &RunRecord) -> Page {
    let view = View::read(record);
    let mut gallery = Gallery::default();
    let mut body = String::new();
    body.push_str(&summary::header(&view));
    body.push_str(&curves_section(&view, &mut gallery));
    body.push_str(&sweeps::section(&view, &mut gallery));
    body.push_str(&serving::section(&view, &mut gallery));
    let title = if view.title.trim().is_empty() {
        "Lepton run report"
    } else {
        view.title.as_str()
    };
    let html = format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<main>\n{body}\
         <footer>Lepton run report · {} chart{} · all figures as last seen when the record was taken</footer>\n\
         </main>\n</body>\n</html>\n",
        esc(title),
        gallery.charts.len(),
        if gallery.charts.len() == 1 { "" } else { "s" },
    );
    Page {
        html,
        charts: gallery.charts,
    }
}

/// Collects the page's charts, keeping their file names unique.
#[derive(Default)]
pub(crate) struct Gallery {
    charts: Vec<Chart>,
    stems: BTreeSet<String>,
}

impl Gallery {
    /// A `<figure>` holding `chart` inline, with its note as caption.
    pub(crate) fn figure(&mut self, mut chart: Chart) -> String {
        // Two names can map to one file stem once unsafe characters are replaced.
        let mut stem = chart.stem.clone();
        let mut n = 2;
        while !self.stems.insert(stem.clone()) {
            stem = format!("{}-{n}", chart.stem);
            n += 1;
        }
        chart.stem = stem;
        let mut html = format!("<figure>\n{}", chart.svg);
        if let Some(note) = &chart.note {
            let _ = writeln!(html, "<figcaption>{}</figcaption>", esc(note));
        }
        html.push_str("</figure>\n");
        self.charts.push(chart);
        html
    }
}

/// A paragraph saying a part of the page has nothing to show, and why.
pub(crate) fn empty(why: &str) -> String {
    format!("<p class=\"empty\">Nothing to show: {}</p>\n", esc(why))
}

/// A phase as a coloured badge.
pub(crate) fn badge(phase: Option<&str>) -> String {
    let Some(phase) = phase else {
        return "<span class=\"badge\">unknown</span>".to_owned();
    };
    let class = match phase.to_ascii_lowercase().as_str() {
        "succeeded" | "ready" => "good",
        "running" | "progressing" | "pending" => "busy",
        "degraded" | "stopped" | "early-stopped" | "suspended" => "warn",
        "failed" => "bad",
        _ => "",
    };
    format!("<span class=\"badge {class}\">{}</span>", esc(phase))
}

fn curves_section(view: &View, gallery: &mut Gallery) -> String {
    let mut html = String::from("<section>\n<h2>Learning curves</h2>\n");
    if view.sweeps.is_empty() && view.jobs.is_empty() {
        html.push_str(&empty("there is no TrainingJob in this run."));
        return html + "</section>\n";
    }
    let mut figures = String::new();
    let mut notes = String::new();
    for sweep in &view.sweeps {
        match curves::sweep(sweep) {
            Some(chart) => figures.push_str(&gallery.figure(chart)),
            None => notes.push_str(&empty(&format!(
                "no trial of sweep {} has reported a learning curve yet.",
                sweep.name
            ))),
        }
    }
    // Jobs that optimise different metrics cannot share an axis.
    let mut metrics: Vec<Option<Metric>> = Vec::new();
    for job in &view.jobs {
        if !metrics.contains(&job.metric) {
            metrics.push(job.metric);
        }
    }
    for metric in metrics {
        let jobs: Vec<&Job> = view.jobs.iter().filter(|j| j.metric == metric).collect();
        let deployed = |name: &str| view.deployment_of_job(name).map(|d| d.name.clone());
        if let Some(chart) = curves::jobs(metric, &jobs, deployed) {
            figures.push_str(&gallery.figure(chart));
        }
    }
    let without: Vec<String> = view
        .jobs
        .iter()
        .filter(|j| j.curve.is_empty())
        .map(|j| match &j.reason {
            Some(reason) => format!("{} ({}: {reason})", j.name, j.state.label()),
            None => format!("{} ({})", j.name, j.state.label()),
        })
        .collect();
    if !without.is_empty() {
        let all = without.len() == view.jobs.len() && view.sweeps.is_empty();
        let text = format!("no learning curve reported by {}.", without.join(", "));
        if all {
            notes.push_str(&empty(&text));
        } else {
            let _ = writeln!(
                notes,
                "<p class=\"note\">No learning curve reported by {}.</p>",
                esc(&without.join(", "))
            );
        }
    }
    if !figures.is_empty() {
        // Learning curves are wide: many trials over many steps need the whole page width.
        let _ = write!(html, "<div class=\"charts wide\">\n{figures}</div>\n");
    }
    html.push_str(&notes);
    html + "</section>\n"
}

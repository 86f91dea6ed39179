//! Learning curves: the objective metric by step, for a sweep's trials or for the jobs that
//! belong to no sweep.

use lepton_crds::v1alpha1::{ConcreteModelFamily, Metric};

use super::svg::{Overlay, Stroke};
use super::{Axis, Chart, Frame, Key, Swatch, failed};
use crate::escape::file_stem;
use crate::format::num;
use crate::model::{Job, State, Sweep, direction};
use crate::style;

const SIZE: (u32, u32) = (960, 420);

/// A curve to draw, with what marks its end.
struct Curve<'a> {
    job: &'a Job,
    stroke: Stroke,
    /// Curves with a higher layer are drawn later, on top.
    layer: u8,
    end: End,
}

enum End {
    None,
    Dot(&'static str),
    Diamond,
    Cross(&'static str),
}

/// What a trial's curve stands for in a sweep's chart, in legend order.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Role {
    Best,
    Deployed,
    Front,
    Other,
    Cut,
    Failed,
}

impl Role {
    fn of(sweep: &Sweep, job: &Job) -> Role {
        if sweep.best.as_deref() == Some(job.name.as_str()) {
            Role::Best
        } else if sweep.choice_of(&job.name).is_some() {
            Role::Deployed
        } else if job.state == State::Failed {
            Role::Failed
        } else if job.state.cut_short() {
            Role::Cut
        } else if sweep.front.contains(&job.name) {
            Role::Front
        } else {
            Role::Other
        }
    }

    fn stroke(self) -> Stroke {
        match self {
            Role::Best => Stroke::solid(style::BEST, 2.6),
            Role::Deployed => Stroke::solid(style::CHOSEN, 2.2),
            Role::Front => Stroke::solid(style::FRONT, 1.6),
            Role::Other => Stroke::solid(style::TRIAL, 1.3),
            Role::Cut => Stroke::dashed(style::CUT, 1.3),
            Role::Failed => Stroke::dashed(style::FAILED, 1.3),
        }
    }

    /// Muted curves first, so that the ones a reader looks for stay on top.
    fn layer(self) -> u8 {
        match self {
            Role::Cut | Role::Failed => 0,
            Role::Other => 1,
            Role::Front => 2,
            Role::Deployed => 3,
            Role::Best => 4,
        }
    }

    /// The legend names the trials a reader looks for; the curves' ends carry their marks.
    fn label(self, sweep: &Sweep) -> String {
        match self {
            Role::Best => match (
                &sweep.best,
                sweep.best.as_deref().and_then(|b| sweep.choice_of(b)),
            ) {
                (Some(best), Some(c)) => format!("best: {best}, deployed by {}", c.deployment),
                (Some(best), None) => format!("best: {best}"),
                (None, _) => "best".to_owned(),
            },
            Role::Deployed => match sweep.choices.as_slice() {
                [one] => format!("deployed by {}: {}", one.deployment, one.trial),
                _ => "deployed".to_owned(),
            },
            Role::Front => "Pareto front".to_owned(),
            Role::Other => "other trials".to_owned(),
            Role::Cut => "stopped early".to_owned(),
            Role::Failed => "failed".to_owned(),
        }
    }
}

/// The curves of `sweep`'s trials: the best trial in blue, the deployed one in amber, front
/// members in teal, trials cut short dashed and grey; `None` when no trial has a curve.
pub(crate) fn sweep(sweep: &Sweep) -> Option<Chart> {
    let mut curves = Vec::new();
    let mut roles = Vec::new();
    for job in sweep.trials.iter().filter(|t| !t.curve.is_empty()) {
        let role = Role::of(sweep, job);
        let deployed = sweep.choice_of(&job.name).is_some();
        let end = match role {
            _ if deployed => End::Diamond,
            Role::Best => End::Dot(style::BEST),
            Role::Cut => End::Cross(style::CUT),
            Role::Failed => End::Cross(style::FAILED),
            _ => End::None,
        };
        curves.push(Curve {
            job,
            stroke: role.stroke(),
            layer: role.layer(),
            end,
        });
        roles.push(role);
    }
    if curves.is_empty() {
        return None;
    }
    roles.sort();
    roles.dedup();
    let legend: Vec<Key> = roles
        .into_iter()
        .map(|role| Key::new(Swatch::Line(role.stroke()), role.label(sweep)))
        .collect();
    let missing: Vec<String> = sweep
        .trials
        .iter()
        .filter(|t| t.curve.is_empty())
        .map(|t| format!("{} ({})", t.name, t.state.label()))
        .collect();
    let note =
        (!missing.is_empty()).then(|| format!("No curve reported by {}.", missing.join(", ")));
    let title = format!("{}: {} by step", sweep.name, sweep.metric.as_str());
    let y_title = format!("{} ({})", sweep.metric.as_str(), direction(sweep.goal));
    draw(
        format!("curves-{}", file_stem(&sweep.name)),
        &title,
        y_title,
        curves,
        legend,
        note,
    )
}

/// The curves of jobs outside any sweep that share `metric`, one colour each; `deployed`
/// names the deployment serving a job, if any.
pub(crate) fn jobs(
    metric: Option<Metric>,
    jobs: &[&Job],
    deployed: impl Fn(&str) -> Option<String>,
) -> Option<Chart> {
    let mut curves = Vec::new();
    let mut legend = Vec::new();
    for (i, job) in jobs.iter().filter(|j| !j.curve.is_empty()).enumerate() {
        let color = style::SERIES[i % style::SERIES.len()];
        let stroke = if job.state.cut_short() {
            Stroke::dashed(color, 1.8)
        } else {
            Stroke::solid(color, 2.2)
        };
        let by = deployed(&job.name);
        let label = match &by {
            Some(d) => format!("{} ({}, deployed by {d})", job.name, job.state.label()),
            None => format!("{} ({})", job.name, job.state.label()),
        };
        legend.push(Key::new(Swatch::Line(stroke), label));
        curves.push(Curve {
            job,
            stroke,
            layer: u8::from(by.is_some()),
            end: match (&by, job.state.cut_short()) {
                (Some(_), _) => End::Diamond,
                (None, true) => End::Cross(color),
                (None, false) => End::Dot(color),
            },
        });
    }
    if curves.is_empty() {
        return None;
    }
    let name = metric.map_or("objective", Metric::as_str);
    let y_title = match metric {
        Some(m) => format!("{name} ({})", direction(m.goal())),
        None => name.to_owned(),
    };
    let title = format!("Training jobs: {name} by step");
    draw(
        format!("curves-jobs-{}", file_stem(name)),
        &title,
        y_title,
        curves,
        legend,
        None,
    )
}

fn draw(
    stem: String,
    title: &str,
    y_title: String,
    mut curves: Vec<Curve>,
    legend: Vec<Key>,
    note: Option<String>,
) -> Option<Chart> {
    let points = || curves.iter().flat_map(|c| c.job.curve.iter());
    let jobs: Vec<&Job> = curves.iter().map(|c| c.job).collect();
    let x = Axis::fit(points().map(|p| p.0), 0.0, step_word(&jobs).to_owned())?.whole();
    let y = Axis::fit(points().map(|p| p.1), 0.06, y_title)?;
    let frame = match Frame::draw(stem.clone(), SIZE, title, &x, &y, &legend) {
        Ok(frame) => frame,
        Err(why) => return Some(failed(stem, title, &why)),
    };
    curves.sort_by_key(|c| c.layer);
    let mut out = Overlay::default();
    for curve in &curves {
        let pixels: Vec<(f64, f64)> = curve
            .job
            .curve
            .iter()
            .map(|&(s, v)| frame.at(s, v))
            .collect();
        let last = curve.job.curve.last().copied();
        let hover = match last {
            Some((step, value)) => format!(
                "{} ({}): {} at step {step}",
                curve.job.name,
                curve.job.state.label(),
                num(value)
            ),
            None => curve.job.name.clone(),
        };
        out.line(&pixels, curve.stroke, Some(&hover));
        let Some(&end) = pixels.last() else { continue };
        if pixels.len() == 1 {
            // A polyline of one point draws nothing; a dot shows the lone reading.
            out.circle(
                end,
                2.5,
                Some(curve.stroke.color),
                curve.stroke,
                Some(&hover),
            );
        }
        match curve.end {
            End::None => {}
            End::Dot(color) => out.circle(
                end,
                3.5,
                Some(color),
                Stroke::solid("#ffffff", 1.0),
                Some(&hover),
            ),
            End::Diamond => out.diamond(end, 6.5, style::CHOSEN, Some(&hover)),
            End::Cross(color) => out.cross(end, 3.5, color),
        }
    }
    Some(frame.finish(out, &legend, note))
}

/// What a step counts for these jobs: trees for boosted trees, epochs for the rest.
fn step_word(jobs: &[&Job]) -> &'static str {
    let trees = jobs
        .iter()
        .filter(|j| j.family == Some(ConcreteModelFamily::Gbdt))
        .count();
    let epochs = jobs
        .iter()
        .filter(|j| {
            matches!(
                j.family,
                Some(ConcreteModelFamily::Linear | ConcreteModelFamily::Mlp)
            )
        })
        .count();
    if trees == jobs.len() {
        "trees"
    } else if epochs == jobs.len() {
        "epoch"
    } else {
        "step (epoch or trees)"
    }
}

//! The sweep's trade-off: the objective against training cost or inference latency, with the
//! Pareto front, the best trial and the deployed model marked.

use std::cmp::Ordering;

use lepton_crds::v1alpha1::Goal;

use super::svg::{Anchor, Overlay, Stroke};
use super::{Axis, Chart, Frame, Key, Labels, Swatch, failed, text_width};
use crate::escape::file_stem;
use crate::format;
use crate::model::{Job, State, Sweep, compare, direction};
use crate::style;

const SIZE: (u32, u32) = (560, 400);
const LABEL_SIZE: f64 = 12.5;

/// The secondary objective on the x axis.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Against {
    Cost,
    Latency,
}

impl Against {
    fn value(self, job: &Job) -> Option<f64> {
        match self {
            Against::Cost => job.cost,
            Against::Latency => job.latency_ms,
        }
    }

    fn word(self) -> &'static str {
        match self {
            Against::Cost => "cost",
            Against::Latency => "latency",
        }
    }
}

/// A succeeded trial placed on the chart.
struct Point<'a> {
    job: &'a Job,
    x: f64,
    y: f64,
}

/// The objective of every succeeded trial against `against`; `None` when no succeeded trial
/// has both figures.
pub(crate) fn chart(sweep: &Sweep, against: Against) -> Option<Chart> {
    let succeeded: Vec<&Job> = sweep
        .trials
        .iter()
        .filter(|t| t.state == State::Succeeded && t.objective.is_some())
        .collect();
    let points: Vec<Point> = succeeded
        .iter()
        .filter_map(|&job| {
            Some(Point {
                job,
                x: against.value(job)?,
                y: job.objective?,
            })
        })
        .collect();
    if points.is_empty() {
        return None;
    }
    let x_title = match (against, sweep.currency()) {
        (Against::Cost, Some(c)) => format!("training cost ({c})"),
        (Against::Cost, None) => "training cost".to_owned(),
        (Against::Latency, _) => "inference latency p50 (ms)".to_owned(),
    };
    let metric = sweep.metric.as_str();
    let y_title = format!("{metric} ({})", direction(sweep.goal));
    let x = Axis::fit(points.iter().map(|p| p.x), 0.1, x_title)?;
    let y = Axis::fit(points.iter().map(|p| p.y), 0.12, y_title)?;
    let stem = format!("pareto-{}-{}", file_stem(&sweep.name), against.word());
    let title = match against {
        Against::Cost => format!("{}: {metric} against training cost", sweep.name),
        Against::Latency => format!("{}: {metric} against inference latency", sweep.name),
    };
    let legend = legend(sweep, &points);
    let frame = match Frame::draw(stem.clone(), SIZE, &title, &x, &y, &legend) {
        Ok(frame) => frame,
        Err(why) => return Some(failed(stem, &title, &why)),
    };
    let mut out = Overlay::default();
    let mut labels = Labels::default();
    better_hint(&mut out, &mut labels, &frame, sweep.goal);
    let pixels: Vec<(f64, f64)> = points.iter().map(|p| frame.at(p.x, p.y)).collect();
    let members: Vec<(f64, f64)> = points
        .iter()
        .filter(|p| sweep.front.contains(&p.job.name))
        .map(|p| (p.x, p.y))
        .collect();
    let steps: Vec<(f64, f64)> = staircase(sweep.goal, members, x.hi)
        .into_iter()
        .map(|(a, b)| frame.at(a, b))
        .collect();
    let front_line = Stroke {
        opacity: 0.75,
        ..Stroke::solid(style::FRONT, 1.8)
    };
    out.line(&steps, front_line, Some("Pareto front"));
    for point in points.iter().filter(|p| !sweep.front.contains(&p.job.name)) {
        let hover = hover(sweep, point.job);
        let at = frame.at(point.x, point.y);
        out.circle(
            at,
            4.5,
            Some("#ffffff"),
            Stroke::solid(style::TRIAL, 1.6),
            Some(&hover),
        );
    }
    for point in points.iter().filter(|p| sweep.front.contains(&p.job.name)) {
        let hover = hover(sweep, point.job);
        let at = frame.at(point.x, point.y);
        out.circle(
            at,
            5.5,
            Some(style::FRONT),
            Stroke::solid("#ffffff", 1.2),
            Some(&hover),
        );
    }
    if let Some(best) = points
        .iter()
        .find(|p| sweep.best.as_deref() == Some(p.job.name.as_str()))
    {
        let at = frame.at(best.x, best.y);
        let text = format!("best · {}", best.job.name);
        out.open("best");
        out.circle(
            at,
            9.5,
            None,
            Stroke::solid(style::BEST, 2.2),
            Some(&hover(sweep, best.job)),
        );
        label(
            &mut out,
            &mut labels,
            &frame,
            at,
            &text,
            style::BEST,
            &pixels,
        );
        out.close();
    }
    let mut notes = Vec::new();
    for choice in &sweep.choices {
        let Some(point) = points.iter().find(|p| p.job.name == choice.trial) else {
            notes.push(format!(
                "{} (served by {}) has no {} to place it.",
                choice.trial,
                choice.deployment,
                against.word()
            ));
            continue;
        };
        let at = frame.at(point.x, point.y);
        let text = format!("{} serves {}", choice.deployment, choice.trial);
        out.open("chosen");
        out.diamond(at, 8.0, style::CHOSEN, Some(&hover(sweep, point.job)));
        label(
            &mut out,
            &mut labels,
            &frame,
            at,
            &text,
            style::CHOSEN,
            &pixels,
        );
        out.close();
    }
    let left_out = succeeded.len() - points.len();
    if left_out > 0 {
        notes.push(format!(
            "{left_out} succeeded trial{} without a {} figure not shown.",
            if left_out == 1 { "" } else { "s" },
            against.word()
        ));
    }
    let note = (!notes.is_empty()).then(|| notes.join(" "));
    Some(frame.finish(out, &legend, note))
}

/// Writes `text` by the point at `at`, with a thin leader line when it had to go further off.
fn label(
    out: &mut Overlay,
    labels: &mut Labels,
    frame: &Frame,
    at: (f64, f64),
    text: &str,
    color: &'static str,
    points: &[(f64, f64)],
) {
    let placed = labels.place(frame, at, text, LABEL_SIZE, points);
    if let Some(end) = placed.leader(at) {
        let stroke = Stroke {
            opacity: 0.7,
            ..Stroke::solid(color, 1.0)
        };
        out.line(&[at, end], stroke, None);
    }
    out.text(
        placed.baseline,
        text,
        LABEL_SIZE,
        color,
        Anchor::Start,
        true,
    );
}

fn legend(sweep: &Sweep, points: &[Point]) -> Vec<Key> {
    let mut keys = vec![Key::new(Swatch::Ring(style::TRIAL), "trial")];
    if points.iter().any(|p| sweep.front.contains(&p.job.name)) {
        keys.push(Key::new(Swatch::Dot(style::FRONT), "Pareto front"));
    }
    if points
        .iter()
        .any(|p| sweep.best.as_deref() == Some(p.job.name.as_str()))
    {
        keys.push(Key::new(Swatch::Ring(style::BEST), "best objective"));
    }
    if points
        .iter()
        .any(|p| sweep.choice_of(&p.job.name).is_some())
    {
        keys.push(Key::new(Swatch::Diamond(style::CHOSEN), "deployed"));
    }
    keys
}

/// What a point says on hover: the trial and its figures.
fn hover(sweep: &Sweep, job: &Job) -> String {
    let currency = sweep.currency();
    let mut text = format!(
        "{}: {} {} · cost {} · p50 {}",
        job.name,
        sweep.metric.as_str(),
        format::opt(job.objective),
        format::cost(job.cost, currency),
        format::ms(job.latency_ms)
    );
    for (name, value) in &job.parameters {
        text.push_str(&format!("\n{name} = {}", format::parameter(value)));
    }
    text
}

/// Writes which corner is better: up for a metric to maximise, down for one to minimise,
/// and always left, where cost and latency are low.
fn better_hint(out: &mut Overlay, labels: &mut Labels, frame: &Frame, goal: Goal) {
    let (left, top, _, bottom) = frame.plot_box();
    let (at, text) = match goal {
        Goal::Maximize => ((left + 8.0, top + 16.0), "↖ better"),
        Goal::Minimize => ((left + 8.0, bottom - 8.0), "↙ better"),
    };
    labels.reserve([at.0, at.1 - 12.0, at.0 + text_width(text, 12.0), at.1 + 3.0]);
    out.text(at, text, 12.0, style::MUTED, Anchor::Start, false);
}

/// The front as a step line through `members` (x: lower is better; y: by `goal`), from the
/// leftmost member to `x_end`. A member below the line is on the front for another
/// objective than this chart's.
pub(crate) fn staircase(goal: Goal, mut members: Vec<(f64, f64)>, x_end: f64) -> Vec<(f64, f64)> {
    members.sort_by(|a, b| a.0.total_cmp(&b.0).then(compare(goal, a.1, b.1)));
    let mut line = Vec::new();
    let mut level: Option<f64> = None;
    for (x, y) in members {
        match level {
            None => line.push((x, y)),
            Some(current) if compare(goal, y, current) == Ordering::Less => {
                line.push((x, current));
                line.push((x, y));
            }
            Some(_) => continue,
        }
        level = Some(y);
    }
    if let Some(current) = level {
        line.push((x_end, current));
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn staircase_climbs_when_maximizing() {
        let members = vec![(3.0, 0.9), (1.0, 0.8), (2.0, 0.85), (2.5, 0.82)];
        assert_eq!(
            staircase(Goal::Maximize, members, 4.0),
            vec![
                (1.0, 0.8),
                (2.0, 0.8),
                (2.0, 0.85),
                (3.0, 0.85),
                (3.0, 0.9),
                (4.0, 0.9)
            ]
        );
    }

    #[test]
    fn staircase_descends_when_minimizing() {
        let members = vec![(1.0, 5.0), (2.0, 3.0), (3.0, 4.0)];
        assert_eq!(
            staircase(Goal::Minimize, members, 3.5),
            vec![(1.0, 5.0), (2.0, 5.0), (2.0, 3.0), (3.5, 3.0)]
        );
        assert!(staircase(Goal::Minimize, Vec::new(), 1.0).is_empty());
    }
}

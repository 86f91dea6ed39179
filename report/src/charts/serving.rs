//! The deployment over time: request latency against its objective, and input drift against
//! its threshold.

use lepton_crds::v1alpha1::ServingMetrics;

use super::svg::{Anchor, Overlay, Stroke};
use super::{Axis, Chart, Frame, Key, Swatch, failed};
use crate::escape::file_stem;
use crate::format::num;
use crate::model::Deployment;
use crate::style;

const SIZE: (u32, u32) = (560, 320);

/// One series: a name, a colour and how to read it from a sample.
struct Series {
    name: &'static str,
    color: &'static str,
    read: fn(&ServingMetrics) -> Option<f64>,
}

/// A horizontal limit line.
struct Limit {
    value: f64,
    label: String,
    /// Shade the side above the line (where the limit is exceeded).
    shade: bool,
}

/// p50 and p99 latency over time with the latency objective; `None` without samples.
pub(crate) fn latency(d: &Deployment) -> Option<Chart> {
    let series = [
        Series {
            name: "p50",
            color: style::P50,
            read: |m| m.latency_p50_ms,
        },
        Series {
            name: "p99",
            color: style::P99,
            read: |m| m.latency_p99_ms,
        },
    ];
    let limit = d.latency_slo_ms.map(|v| Limit {
        value: v,
        label: format!("p99 objective {} ms", num(v)),
        shade: false,
    });
    let title = format!("{}: request latency", d.name);
    let stem = format!("serving-{}-latency", file_stem(&d.name));
    draw(d, stem, &title, "latency (ms)", &series, limit)
}

/// The drift score over time with the drift threshold; `None` without samples.
pub(crate) fn drift(d: &Deployment) -> Option<Chart> {
    let series = [Series {
        name: "drift score (PSI)",
        color: style::DRIFT,
        read: |m| m.drift_score,
    }];
    let limit = d.drift_threshold.map(|v| Limit {
        value: v,
        label: format!("threshold {}", num(v)),
        shade: true,
    });
    let title = format!("{}: input drift", d.name);
    let stem = format!("serving-{}-drift", file_stem(&d.name));
    draw(d, stem, &title, "drift score", &series, limit)
}

fn draw(
    d: &Deployment,
    stem: String,
    title: &str,
    y_title: &str,
    series: &[Series],
    limit: Option<Limit>,
) -> Option<Chart> {
    let values = || {
        series
            .iter()
            .flat_map(|s| d.samples.iter().filter_map(|(_, m)| (s.read)(m)))
            .filter(|v| v.is_finite())
    };
    values().next()?;
    let span = d.samples.last().map_or(0.0, |s| s.0) - d.samples.first().map_or(0.0, |s| s.0);
    // Minutes read better than hundreds of seconds.
    let (scale, unit) = if span > 600.0 {
        (60.0, "min")
    } else {
        (1.0, "s")
    };
    let x = Axis::fit(
        d.samples.iter().map(|s| s.0 / scale),
        0.0,
        format!("time since start ({unit})"),
    )?;
    let y = Axis::from_zero(
        values().chain(limit.as_ref().map(|l| l.value)),
        y_title.to_owned(),
    )?;
    let mut legend: Vec<Key> = series
        .iter()
        .filter(|s| {
            d.samples
                .iter()
                .any(|(_, m)| (s.read)(m).is_some_and(f64::is_finite))
        })
        .map(|s| Key::new(Swatch::Line(Stroke::solid(s.color, 2.0)), s.name))
        .collect();
    if let Some(l) = &limit {
        legend.push(Key::new(
            Swatch::Line(Stroke::dashed(style::LIMIT, 1.6)),
            l.label.clone(),
        ));
    }
    let frame = match Frame::draw(stem.clone(), SIZE, title, &x, &y, &legend) {
        Ok(frame) => frame,
        Err(why) => return Some(failed(stem, title, &why)),
    };
    let mut out = Overlay::default();
    let (left, top, right, _) = frame.plot_box();
    if let Some(l) = &limit {
        let (_, ly) = frame.at(x.lo, l.value);
        if l.shade {
            out.rect((left, top), (right, ly), style::LIMIT, 0.06);
        }
        out.line(
            &[(left, ly), (right, ly)],
            Stroke::dashed(style::LIMIT, 1.6),
            Some(&l.label),
        );
        out.text(
            (right - 4.0, ly - 6.0),
            &l.label,
            12.0,
            style::LIMIT,
            Anchor::End,
            false,
        );
    }
    let dots = d.samples.len() <= 24;
    for s in series {
        // A missing figure breaks the line rather than bridging the gap.
        let mut run: Vec<(f64, f64)> = Vec::new();
        let mut runs = Vec::new();
        for (seconds, m) in &d.samples {
            match (s.read)(m).filter(|v| v.is_finite()) {
                Some(v) => run.push((seconds / scale, v)),
                None if !run.is_empty() => runs.push(std::mem::take(&mut run)),
                None => {}
            }
        }
        if !run.is_empty() {
            runs.push(run);
        }
        for run in runs {
            let pixels: Vec<(f64, f64)> = run.iter().map(|&(t, v)| frame.at(t, v)).collect();
            out.line(&pixels, Stroke::solid(s.color, 2.0), Some(s.name));
            if dots || pixels.len() == 1 {
                for (&(t, v), &at) in run.iter().zip(&pixels) {
                    let hover = format!("{} {} at {} {unit}", s.name, num(v), num(t));
                    out.circle(
                        at,
                        2.8,
                        Some(s.color),
                        Stroke::solid("#ffffff", 0.8),
                        Some(&hover),
                    );
                }
            }
        }
    }
    Some(frame.finish(out, &legend, None))
}

//! The deployments: their latest figures as tiles, and latency and drift over time.

use std::fmt::Write;

use crate::charts::serving;
use crate::escape::esc;
use crate::format;
use crate::model::{Deployment, View};

use super::{Gallery, badge, empty};

/// The serving section.
pub(crate) fn section(view: &View, gallery: &mut Gallery) -> String {
    let mut html = String::from("<section>\n<h2>Serving</h2>\n");
    if view.deployments.is_empty() {
        html.push_str(&empty("there is no ModelDeployment in this run."));
    }
    for d in &view.deployments {
        let _ = writeln!(
            html,
            "<h3>{} {}</h3>",
            esc(&d.name),
            badge(d.phase.as_deref())
        );
        if let Some(served) = &d.served {
            let policy = d
                .policy
                .as_ref()
                .map(|p| format!(" (selected by {p})"))
                .unwrap_or_default();
            let _ = writeln!(
                html,
                "<p class=\"note\">Serves {}{}.</p>",
                esc(served.model_name()),
                esc(&policy)
            );
        }
        html.push_str(&tiles(d));
        let figures: String = [serving::latency(d), serving::drift(d)]
            .into_iter()
            .flatten()
            .map(|chart| gallery.figure(chart))
            .collect();
        if figures.is_empty() {
            html.push_str(&empty(&format!(
                "no serving figures were sampled for {} during the run.",
                d.name
            )));
        } else {
            let _ = write!(html, "<div class=\"charts\">\n{figures}</div>\n");
        }
    }
    html + "</section>\n"
}

/// The latest figures; a tile turns red when its figure is past the deployment's limit.
fn tiles(d: &Deployment) -> String {
    let Some(m) = &d.latest else {
        return String::new();
    };
    let over = |value: Option<f64>, limit: Option<f64>| match (value, limit) {
        (Some(v), Some(l)) => v.is_finite() && v > l,
        _ => false,
    };
    let slo = d
        .latency_slo_ms
        .map(|v| format!("objective {}", format::ms(Some(v))));
    let threshold = d
        .drift_threshold
        .map(|v| format!("threshold {}", format::num(v)));
    // The last tile holds a column name, not a figure, and gets a smaller font.
    let tiles = [
        (
            "requests / s",
            format::opt(m.requests_per_second),
            None,
            false,
        ),
        ("latency p50", format::ms(m.latency_p50_ms), None, false),
        (
            "latency p99",
            format::ms(m.latency_p99_ms),
            slo,
            over(m.latency_p99_ms, d.latency_slo_ms),
        ),
        ("error rate", format::percent(m.error_rate), None, false),
        (
            "drift score",
            format::opt(m.drift_score),
            threshold,
            over(m.drift_score, d.drift_threshold),
        ),
        (
            "most drifted column",
            m.most_drifted_column
                .clone()
                .unwrap_or_else(|| format::MISSING.to_owned()),
            None,
            false,
        ),
    ];
    let mut html = String::from("<div class=\"tiles\">\n");
    let last = tiles.len() - 1;
    for (i, (label, value, limit, alert)) in tiles.into_iter().enumerate() {
        let limit = limit.map(|l| format!(" · {l}")).unwrap_or_default();
        let _ = writeln!(
            html,
            "<div class=\"tile{}{}\"><div class=\"label\">{}{}</div><div class=\"value{}\">{}</div></div>",
            if alert { " alert" } else { "" },
            if i == last { " wide" } else { "" },
            label,
            esc(&limit),
            if i == last { " text" } else { "" },
            esc(&value)
        );
    }
    html + "</div>\n"
}

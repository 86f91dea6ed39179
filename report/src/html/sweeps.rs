//! Each sweep's trade-offs: the Pareto charts, what the deployment gave up for what it
//! gained, and the table of trials.

use std::fmt::Write;

use crate::charts::pareto::{self, Against};
use crate::escape::esc;
use crate::format;
use crate::model::{Job, Sweep, View, direction};

use super::{Gallery, badge, empty};

/// The trade-offs section.
pub(crate) fn section(view: &View, gallery: &mut Gallery) -> String {
    let mut html = String::from("<section>\n<h2>Quality, cost and latency</h2>\n");
    if view.sweeps.is_empty() {
        html.push_str(&empty(
            "there is no TuningSweep in this run, so no trade-off to compare.",
        ));
    }
    for sweep in &view.sweeps {
        let _ = writeln!(
            html,
            "<h3>{} <span class=\"sub\">{}, {} · {} trials</span></h3>",
            esc(&sweep.name),
            sweep.metric.as_str(),
            direction(sweep.goal),
            sweep.trials.len()
        );
        let mut figures = String::new();
        for against in [Against::Cost, Against::Latency] {
            if let Some(chart) = pareto::chart(sweep, against) {
                figures.push_str(&gallery.figure(chart));
            }
        }
        if figures.is_empty() {
            html.push_str(&empty(&format!(
                "no succeeded trial of {} has an objective with a cost or a latency yet.",
                sweep.name
            )));
        } else {
            let _ = write!(html, "<div class=\"charts\">\n{figures}</div>\n");
        }
        if sweep.front.is_empty() && !sweep.trials.is_empty() {
            html.push_str("<p class=\"note\">The sweep has not reported a Pareto front yet.</p>\n");
        }
        html.push_str(&choices(sweep));
        html.push_str(&table(sweep));
    }
    html + "</section>\n"
}

/// One sentence per deployment of this sweep: what its pick costs in quality against the
/// best trial, and what it saves.
fn choices(sweep: &Sweep) -> String {
    let mut html = String::new();
    let best = sweep
        .best
        .as_ref()
        .and_then(|b| sweep.trials.iter().find(|t| &t.name == b));
    for choice in &sweep.choices {
        let chosen = sweep.trials.iter().find(|t| t.name == choice.trial);
        let mut text = format!("{} serves {}", choice.deployment, choice.trial);
        if let Some(policy) = &choice.policy {
            let _ = write!(text, ", chosen by {policy}");
        }
        if let (Some(c), Some(b)) = (chosen, best)
            && c.name != b.name
        {
            let _ = write!(
                text,
                ": {} {} against the best {} ({})",
                sweep.metric.as_str(),
                format::opt(c.objective),
                format::opt(b.objective),
                b.name
            );
            if let Some(ratio) = ratio(b.latency_ms, c.latency_ms) {
                let _ = write!(text, ", {ratio} the latency");
            }
            if let Some(ratio) = ratio(b.cost, c.cost) {
                let _ = write!(text, ", {ratio} the training cost");
            }
        } else if chosen.is_some() && best.is_some() {
            text.push_str(", the best trial");
        }
        let _ = writeln!(html, "<p class=\"note\">{}.</p>", esc(&text));
    }
    html
}

/// How `chosen` compares with `best`, to two significant digits, for example `0.38×`.
fn ratio(best: Option<f64>, chosen: Option<f64>) -> Option<String> {
    let (b, c) = (best?, chosen?);
    let r = c / b;
    if !(b > 0.0 && r.is_finite() && r > 0.0) {
        return None;
    }
    let decimals = (1 - r.log10().floor() as i32).clamp(0, 6) as usize;
    Some(format!("{r:.decimals$}×"))
}

/// Trials best objective first, front members marked.
fn table(sweep: &Sweep) -> String {
    if sweep.trials.is_empty() {
        return empty(&format!("sweep {} has no trials yet.", sweep.name));
    }
    let currency = sweep
        .currency()
        .map(|c| format!(" {c}"))
        .unwrap_or_default();
    let objective = format::column_decimals(sweep.trials.iter().filter_map(|t| t.objective), 4);
    let cost = format::column_decimals(sweep.trials.iter().filter_map(|t| t.cost), 2);
    let latency = format::column_decimals(sweep.trials.iter().filter_map(|t| t.latency_ms), 2);
    let mut html = format!(
        "<table>\n<thead><tr><th class=\"num\">#</th><th>Trial</th><th>Parameters</th>\
         <th class=\"num\">{}</th><th class=\"num\">Cost{}</th><th class=\"num\">Latency p50</th>\
         <th class=\"num\">Size</th><th>State</th></tr></thead>\n<tbody>\n",
        sweep.metric.as_str(),
        esc(&currency)
    );
    for (rank, trial) in sweep.ranked().into_iter().enumerate() {
        let front = sweep.front.contains(&trial.name);
        let class = match (front, trial.state.cut_short()) {
            (true, _) => " class=\"front\"",
            (false, true) => " class=\"cut\"",
            (false, false) => "",
        };
        let rank = if trial.objective.is_some() {
            (rank + 1).to_string()
        } else {
            String::new()
        };
        let _ = writeln!(
            html,
            "<tr{class}><td class=\"num\">{rank}</td><td>{}{}</td><td>{}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td></tr>",
            esc(&trial.name),
            marks(sweep, trial),
            parameters(trial),
            format::fixed(trial.objective, objective),
            format::fixed(trial.cost, cost),
            match trial.latency_ms {
                Some(_) => format!("{} ms", format::fixed(trial.latency_ms, latency)),
                None => format::MISSING.to_owned(),
            },
            format::bytes(trial.size_bytes),
            state(trial)
        );
    }
    html + "</tbody>\n</table>\n"
}

fn marks(sweep: &Sweep, trial: &Job) -> String {
    let mut html = String::new();
    if sweep.best.as_deref() == Some(trial.name.as_str()) {
        html.push_str(" <span class=\"badge best\">best</span>");
    }
    if sweep.front.contains(&trial.name) {
        html.push_str(" <span class=\"badge front\">front</span>");
    }
    if let Some(choice) = sweep.choice_of(&trial.name) {
        let _ = write!(
            html,
            " <span class=\"badge chosen\">deployed · {}</span>",
            esc(&choice.deployment)
        );
    }
    html
}

fn parameters(trial: &Job) -> String {
    if trial.parameters.is_empty() {
        return format::MISSING.to_owned();
    }
    trial
        .parameters
        .iter()
        .map(|(k, v)| format!("<code>{} {}</code>", esc(k), esc(&format::parameter(v))))
        .collect()
}

fn state(trial: &Job) -> String {
    let mut html = badge(Some(trial.state.label()));
    if let Some(reason) = &trial.reason {
        let _ = write!(html, " <span class=\"muted\">{}</span>", esc(reason));
    }
    html
}

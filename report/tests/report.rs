//! The report of realistic, partial, empty and hostile run records.

mod fixtures;

use std::fs;
use std::path::{Path, PathBuf};

use fixtures::{Names, best, chosen, front, record, record_named, trials};
use lepton_report::{ReportError, RunRecord, ServingSample, html, write};
use serde_json::json;

/// Fails when `text` shows a non-finite number as Rust prints it (`NaN`, `inf`, `-inf`).
fn assert_no_non_finite(text: &str) {
    assert!(!text.contains("NaN"), "shows NaN");
    for (at, _) in text.match_indices("inf") {
        let next = text[at + 3..].chars().next();
        assert!(
            next.is_some_and(char::is_alphabetic),
            "shows inf: …{}…",
            &text[at.saturating_sub(40)..at + 3]
        );
    }
}

/// A fresh directory for one test's files.
fn scratch(test: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("lepton-report")
        .join(test);
    let _ = fs::remove_dir_all(&dir);
    dir
}

fn svg_named(paths: &[PathBuf], stem: &str) -> String {
    let path = paths
        .iter()
        .find(|p| {
            p.file_name()
                .is_some_and(|n| n == format!("{stem}.svg").as_str())
        })
        .unwrap_or_else(|| panic!("no {stem}.svg among {paths:?}"));
    fs::read_to_string(path).unwrap()
}

/// The text of the first `<g class="…">` group of `class` in `svg`.
fn group<'a>(svg: &'a str, class: &str) -> &'a str {
    let open = format!("<g class=\"{class}\">");
    let start = svg
        .find(&open)
        .unwrap_or_else(|| panic!("no {class} group"));
    let end = svg[start..].find("</g>").unwrap() + start;
    &svg[start..end]
}

#[test]
fn a_twelve_trial_run_has_every_chart_inline_and_as_a_file() {
    let record = record();
    let page = html(&record);
    let dir = scratch("every-chart");
    let paths = write(&record, &dir).unwrap();
    let stems: Vec<String> = paths
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        stems,
        [
            "report.html",
            "curves-churn-sweep.svg",
            "curves-jobs-auc.svg",
            "pareto-churn-sweep-cost.svg",
            "pareto-churn-sweep-latency.svg",
            "serving-churn-api-latency.svg",
            "serving-churn-api-drift.svg",
        ]
    );
    assert_eq!(
        page.matches("<svg").count(),
        6,
        "one inline <svg> per chart"
    );
    assert_eq!(fs::read_to_string(&paths[0]).unwrap(), page);
    for path in &paths[1..] {
        let svg = fs::read_to_string(path).unwrap();
        assert!(svg.starts_with("<svg"), "{path:?}");
        assert!(svg.trim_end().ends_with("</svg>"), "{path:?}");
        assert!(
            page.contains(&svg),
            "{path:?} is inline in the page as written"
        );
    }
    // Self-contained: nothing fetched, nothing run.
    for banned in ["<script", "http://", "https://", "<link", "@import", "src="] {
        let allowed = banned == "http://"
            && page.matches(banned).count() == page.matches("http://www.w3.org/2000/svg").count();
        assert!(!page.contains(banned) || allowed, "page contains {banned}");
    }
    // Axis titles name the metric and its direction.
    assert!(page.contains("No learning curve reported by churn-mlp (failed: DeadlineExceeded)."));
    assert_no_non_finite(&page);
    let curves = svg_named(&paths, "curves-churn-sweep");
    assert!(curves.contains("auc (higher is better)"));
    assert!(
        curves.contains(">\ntrees\n<") || curves.contains(">trees<"),
        "x axis counts trees"
    );
}

#[test]
fn the_pareto_chart_marks_the_deployed_trial_apart_from_the_best() {
    let trials = trials();
    let (best, chosen) = (best(&trials), chosen(&trials));
    assert_ne!(
        best, chosen,
        "the fixture deploys a trial other than the best"
    );
    let paths = write(&record(), &scratch("pareto")).unwrap();
    for stem in ["pareto-churn-sweep-cost", "pareto-churn-sweep-latency"] {
        let svg = svg_named(&paths, stem);
        let deployed = group(&svg, "chosen");
        assert!(
            deployed.contains("<polygon"),
            "the deployed trial is a diamond"
        );
        assert!(deployed.contains("#d97706"), "in the deployed colour");
        assert!(deployed.contains(&format!("churn-api serves churn-sweep-t{chosen}")));
        let best_mark = group(&svg, "best");
        assert!(best_mark.contains(&format!("best · churn-sweep-t{best}")));
        assert!(!best_mark.contains("<polygon"));
        // Every succeeded trial is a point with its name on hover: 9 succeeded.
        let points = (0..12)
            .filter(|i| svg.contains(&format!("<title>churn-sweep-t{i}: auc")))
            .count();
        assert_eq!(points, 9);
        assert!(svg.contains("↖ better"), "AUC is better up and to the left");
        assert!(svg.contains("<title>Pareto front</title>"));
    }
    let cost = svg_named(&paths, "pareto-churn-sweep-cost");
    assert!(cost.contains("training cost (USD)"));
    let latency = svg_named(&paths, "pareto-churn-sweep-latency");
    assert!(latency.contains("inference latency p50 (ms)"));
}

#[test]
fn the_trial_table_lists_every_trial_best_first_with_the_front_marked() {
    let page = html(&record());
    let table = &page[page.find("<table>").unwrap()..page.find("</table>").unwrap()];
    let trials = trials();
    let mut order: Vec<(usize, usize)> = (0..trials.len())
        .map(|i| {
            let at = table
                .find(&format!(">churn-sweep-t{i} <").to_string())
                .or_else(|| table.find(&format!(">churn-sweep-t{i}<")))
                .unwrap_or_else(|| panic!("trial {i} missing from the table"));
            (at, i)
        })
        .collect();
    order.sort();
    let ranked: Vec<usize> = order.into_iter().map(|(_, i)| i).collect();
    assert_eq!(ranked[0], best(&trials));
    let aucs: Vec<f64> = ranked
        .iter()
        .filter(|&&i| trials[i].end == fixtures::End::Succeeded)
        .map(|&i| trials[i].auc)
        .collect();
    assert!(
        aucs.windows(2).all(|w| w[0] >= w[1]),
        "best AUC first: {aucs:?}"
    );
    assert_eq!(
        ranked[11], 9,
        "the failed trial, with no objective, comes last"
    );
    assert_eq!(
        table.matches("<tr class=\"front\">").count(),
        front(&trials).len()
    );
    assert_eq!(table.matches("badge front").count(), front(&trials).len());
    assert!(table.contains("<code>learningRate 0.06</code>"));
    assert!(table.contains("OutOfMemory"));
    assert!(table.contains("deployed · churn-api"));
    // The sentence that says what the deployment traded.
    assert!(page.contains("churn-api serves churn-sweep-t4, chosen by fastestWithin 0.01: auc 0.9231 against the best 0.9317"));
}

#[test]
fn user_text_is_escaped_everywhere() {
    let names = Names {
        title: "run <script>alert('t')</script> & co".to_owned(),
        sweep: "sw<script>alert(1)</script>".to_owned(),
        deployment: "api\"><script>x</script>".to_owned(),
    };
    let mut record = record_named(&names);
    record.generated_at = "<script>now</script>".to_owned();
    record.serving_samples[0].metrics.most_drifted_column = Some("<b>col</b>".to_owned());
    let page = html(&record);
    assert!(!page.contains("<script"), "raw script tag in the page");
    assert!(!page.contains("<b>col"));
    assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(page.contains("run &lt;script&gt;alert(&#39;t&#39;)&lt;/script&gt; &amp; co"));
    let dir = scratch("escaped");
    let paths = write(&record, &dir).unwrap();
    for path in &paths {
        let name = path.file_name().unwrap().to_string_lossy();
        assert!(
            name.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)),
            "unsafe file name {name}"
        );
        assert_eq!(path.parent(), Some(dir.as_path()));
        let text = fs::read_to_string(path).unwrap();
        assert!(!text.contains("<script"), "raw script tag in {name}");
    }
    assert_eq!(paths.len(), 7);
}

#[test]
fn an_empty_record_gives_a_page_that_says_there_is_nothing_to_show() {
    let record = RunRecord::default();
    let page = html(&record);
    assert!(page.starts_with("<!DOCTYPE html>"));
    assert!(page.contains("<h1>Lepton run report</h1>"));
    assert_eq!(
        page.matches("class=\"empty\">Nothing to show").count(),
        4,
        "header, curves, sweeps, serving"
    );
    assert!(page.contains("there is no TrainingJob in this run"));
    assert!(page.contains("there is no TuningSweep in this run"));
    assert!(page.contains("there is no ModelDeployment in this run"));
    assert!(!page.contains("<svg"));
    let paths = write(&record, &scratch("empty")).unwrap();
    assert_eq!(paths.len(), 1);
    assert!(paths[0].ends_with("report.html"));
}

#[test]
fn non_finite_figures_never_panic_or_show() {
    let mut record = record();
    for tj in &mut record.training_jobs {
        let status = tj.status.as_mut().unwrap();
        if let Some(o) = status.objective.as_mut() {
            o.value = f64::NAN;
        }
        if let Some(c) = status.cost.as_mut() {
            c.total = Some(f64::INFINITY);
        }
        if let Some(m) = status.model.as_mut() {
            m.latency_p50_ms = Some(f64::NAN);
        }
        if let Some(p) = status.progress.as_mut() {
            for (i, point) in p.objective_curve.iter_mut().enumerate() {
                if i % 3 == 0 {
                    point.value = f64::NAN;
                }
            }
        }
    }
    let status = record.tuning_sweeps[0].status.as_mut().unwrap();
    status.total_cost = Some(f64::NAN);
    for t in status
        .pareto_front
        .iter_mut()
        .chain(status.best_trial.as_mut())
    {
        t.objective = Some(f64::NAN);
        t.cost = Some(f64::NEG_INFINITY);
    }
    for s in &mut record.serving_samples[..10] {
        s.metrics.latency_p99_ms = Some(f64::NAN);
        s.metrics.drift_score = None;
    }
    record.serving_samples[11].seconds = f64::NAN;
    let md = record.model_deployments[0].status.as_mut().unwrap();
    md.metrics.as_mut().unwrap().error_rate = Some(f64::NAN);
    let page = html(&record);
    assert_no_non_finite(&page);
    assert!(page.contains("curves-") || page.contains("by step"));
    // Every trial lost its objective, so no trade-off chart can be drawn.
    assert!(page.contains("no succeeded trial of churn-sweep has an objective"));

    // A record of nothing but non-finite figures still renders.
    let mut all_nan = RunRecord::default();
    all_nan.serving_samples.push(ServingSample {
        deployment: "ghost".to_owned(),
        seconds: f64::NAN,
        metrics: Default::default(),
    });
    let page = html(&all_nan);
    assert!(page.contains("no serving figures were sampled for ghost"));
}

#[test]
fn write_creates_the_directory_and_every_file() {
    let dir = scratch("nested").join("a").join("b");
    let paths = write(&record(), &dir).unwrap();
    assert_eq!(paths.len(), 7);
    for path in &paths {
        assert!(path.is_file(), "{path:?}");
        assert!(path.starts_with(&dir));
    }
}

#[test]
fn write_names_the_path_it_could_not_create() {
    let dir = scratch("blocked");
    fs::create_dir_all(&dir).unwrap();
    let blocker = dir.join("not-a-directory");
    fs::write(&blocker, "a file where the report's directory should go").unwrap();
    let target = blocker.join("report");
    let err = write(&record(), &target).unwrap_err();
    let ReportError::Io { path, .. } = &err;
    assert_eq!(path, &target);
    assert!(
        err.to_string().contains(&target.display().to_string()),
        "{err}"
    );
}

#[test]
fn a_metric_to_minimise_ranks_and_points_the_other_way() {
    let trial = |i: i64, rmse: f64, cost: f64| {
        json!({
            "apiVersion": "lepton.ai/v1alpha1", "kind": "TrainingJob",
            "metadata": {"name": format!("price-t{i}"), "labels": {"lepton.ai/tuning-sweep": "price", "lepton.ai/trial-index": i.to_string()}},
            "spec": {"data": {"source": "file:///p.csv", "target": "price"}, "model": {"metric": "rmse"}},
            "status": {
                "phase": "Succeeded", "objective": {"metric": "rmse", "value": rmse},
                "cost": {"total": cost}, "model": {"latencyP50Ms": cost * 2.0},
                "progress": {"objectiveCurve": [{"step": 1, "value": rmse * 2.0}, {"step": 2, "value": rmse}]},
            },
        })
    };
    let record: RunRecord = serde_json::from_value(json!({
        "title": "regression", "generatedAt": "2025-05-01T00:00:00Z",
        "trainingJobs": [trial(0, 3.5, 0.1), trial(1, 2.9, 0.3), trial(2, 4.1, 0.05)],
        "tuningSweeps": [{
            "apiVersion": "lepton.ai/v1alpha1", "kind": "TuningSweep",
            "metadata": {"name": "price"},
            "spec": {
                "objective": {"metric": "rmse"},
                "parameters": [{"name": "maxDepth", "type": "int", "min": 2, "max": 8}],
                "template": {"spec": {"data": {"source": "file:///p.csv", "target": "price"}}},
            },
            "status": {"bestTrial": {"name": "price-t1", "objective": 2.9}},
        }],
    }))
    .unwrap();
    let page = html(&record);
    let table = &page[page.find("<table>").unwrap()..];
    let at = |name: &str| table.find(name).unwrap();
    assert!(
        at("price-t1") < at("price-t0") && at("price-t0") < at("price-t2"),
        "lowest RMSE first"
    );
    assert!(page.contains("rmse (lower is better)"));
    assert!(page.contains("↙ better"));
    assert!(page.contains("The sweep has not reported a Pareto front yet."));
}

#[test]
fn a_sweep_known_only_from_its_status_still_shows_its_front() {
    let mut record = record();
    record.training_jobs.clear();
    record.serving_samples.clear();
    let page = html(&record);
    assert!(page.contains("no trial of sweep churn-sweep has reported a learning curve yet"));
    assert!(page.contains("pareto") || page.contains("against training cost"));
    assert_eq!(page.matches("<svg").count(), 2, "the two trade-off charts");
    assert!(page.contains("no serving figures were sampled for churn-api"));
    // The deployment's latest figures still show, from its status.
    assert!(page.contains("tenure_months"));
}

#[test]
fn a_sweep_that_has_just_started_and_a_job_deployed_directly() {
    let record: RunRecord = serde_json::from_value(json!({
        "title": "starting", "generatedAt": "2025-05-01T00:00:00Z",
        "trainingJobs": [
            {
                "apiVersion": "lepton.ai/v1alpha1", "kind": "TrainingJob",
                "metadata": {"name": "fresh-t0", "labels": {"lepton.ai/tuning-sweep": "fresh", "lepton.ai/trial-index": "0"}},
                "spec": {"data": {"source": "file:///d.csv", "target": "y"}},
                "status": {"phase": "Running", "progress": {"objectiveCurve": [{"step": 1, "value": 0.6}]}},
            },
            {
                "apiVersion": "lepton.ai/v1alpha1", "kind": "TrainingJob",
                "metadata": {"name": "solo"},
                "spec": {"data": {"source": "file:///d.csv", "target": "y"}, "model": {"family": "mlp", "metric": "f1"}},
                "status": {
                    "phase": "Succeeded", "objective": {"metric": "f1", "value": 0.71},
                    "progress": {"objectiveCurve": [{"step": 1, "value": 0.5}, {"step": 2, "value": 0.71}]},
                },
            },
        ],
        "tuningSweeps": [{
            "apiVersion": "lepton.ai/v1alpha1", "kind": "TuningSweep",
            "metadata": {"name": "fresh"},
            "spec": {
                "objective": {"metric": "auc"},
                "parameters": [{"name": "maxDepth", "type": "int", "min": 2, "max": 8}],
                "template": {"spec": {"data": {"source": "file:///d.csv", "target": "y"}}},
            },
        }],
        "modelDeployments": [{
            "apiVersion": "lepton.ai/v1alpha1", "kind": "ModelDeployment",
            "metadata": {"name": "solo-api"},
            "spec": {"model": {"trainingJob": "solo"}},
            "status": {"phase": "Progressing", "model": {"source": "trainingJob/solo"}},
        }],
    }))
    .unwrap();
    let dir = scratch("just-started");
    let paths = write(&record, &dir).unwrap();
    let page = fs::read_to_string(&paths[0]).unwrap();
    // A single-point curve still draws, on an axis widened around its one step.
    let sweep_curves = svg_named(&paths, "curves-fresh");
    assert!(sweep_curves.contains("fresh-t0 (running)"));
    let jobs = svg_named(&paths, "curves-jobs-f1");
    assert!(jobs.contains("solo (succeeded, deployed by solo-api)"));
    assert!(jobs.contains("f1 (higher is better)"));
    assert!(jobs.contains(">\nepoch\n<") || jobs.contains(">epoch<"));
    assert!(
        page.contains("no succeeded trial of fresh has an objective with a cost or a latency yet")
    );
    assert!(page.contains("no serving figures were sampled for solo-api"));
    assert!(page.contains("Serves solo."));
    assert_eq!(paths.len(), 3);
}

#[test]
fn extreme_magnitudes_draw_without_panicking() {
    for (low, high) in [
        (1e-300, 2e-300),
        (-1e300, 1e300),
        (1e15, 1e15 + 1.0),
        (0.0, 0.0),
        (-f64::MAX, f64::MAX),
    ] {
        let mut record = record();
        for (i, tj) in record.training_jobs.iter_mut().enumerate() {
            let status = tj.status.as_mut().unwrap();
            let value = if i % 2 == 0 { low } else { high };
            if let Some(o) = status.objective.as_mut() {
                o.value = value;
            }
            if let Some(c) = status.cost.as_mut() {
                c.total = Some(value.abs());
            }
            if let Some(p) = status.progress.as_mut() {
                for point in &mut p.objective_curve {
                    point.value = value;
                    point.step += i64::MAX / 2;
                }
            }
        }
        for s in &mut record.serving_samples {
            s.metrics.latency_p99_ms = Some(high);
            s.seconds = 1e18;
        }
        let page = html(&record);
        assert!(page.contains("</html>"), "{low}..{high}");
        if let Some(at) = page.find("0000000000") {
            panic!(
                "a long figure for {low:e}..{high:e}: {}",
                &page[at.saturating_sub(300)..at + 20]
            );
        }
        assert_no_non_finite(&page);
    }
}

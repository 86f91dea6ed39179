//! `lepton-sweep-bench`: scores hyperparameter-search trials in-process with the runner's own
//! preprocessing, models and metrics, for `make bench-sweep` (bench/sweep_bench.py).
//!
//! ```text
//! lepton-sweep-bench space  --sweep FILE
//! lepton-sweep-bench search --sweep FILE --data DIR --method random|tpe|asha|hyperband|grid
//!                           --seed S --trials N [VALIDATION]
//! lepton-sweep-bench serve  --sweep FILE --data DIR [VALIDATION]
//! VALIDATION: [--folds K | --holdout FRACTION] [--fold-seed S] [--test-seed S]
//! ```
//!
//! `space` prints the sweep's objective and parameters as JSON; `search` runs Lepton's algorithm
//! and prints every trial; `serve` reads one JSON object per line (`{"params": {...},
//! "fidelity": n}`) and answers each with the trial's record, so other search libraries are
//! scored by exactly the same code.

mod problem;
mod search;
mod sweep;
mod trial;

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use lepton_crds::v1alpha1::AlgorithmType;
use serde_json::{Value, json};

use problem::{Problem, Validation};
use sweep::Sweep;

const USAGE: &str = "usage: lepton-sweep-bench space|search|serve --sweep FILE [--data DIR] \
[--method random|tpe|asha|hyperband|grid] [--seed S] [--trials N] \
[--folds K | --holdout FRACTION] [--fold-seed S] [--test-seed S]";

/// Seed of the test split unless `--test-seed` says otherwise.
const DEFAULT_TEST_SEED: u64 = 2026;
/// Validation folds unless `--folds` or `--holdout` say otherwise.
const DEFAULT_FOLDS: usize = 5;

struct Args {
    command: String,
    sweep: PathBuf,
    data: PathBuf,
    method: AlgorithmType,
    seed: i64,
    trials: u32,
    validation: Validation,
    test_seed: u64,
}

fn main() -> ExitCode {
    match parse(std::env::args().skip(1).collect()).and_then(|a| run(&a)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lepton-sweep-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

fn parse(argv: Vec<String>) -> Result<Args, String> {
    let mut it = argv.into_iter();
    let command = it.next().ok_or(USAGE)?;
    let mut sweep = None;
    let mut data = PathBuf::from("examples/data");
    let mut method = AlgorithmType::Random;
    let mut seed = 0;
    let mut trials = 50;
    let mut folds = DEFAULT_FOLDS;
    let mut holdout = None;
    let mut fold_seed = 0;
    let mut test_seed = DEFAULT_TEST_SEED;
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--sweep" => sweep = Some(PathBuf::from(value()?)),
            "--data" => data = PathBuf::from(value()?),
            "--method" => {
                method = serde_json::from_value(json!(value()?)).map_err(|_| {
                    format!("--method: expected random, tpe, asha, hyperband or grid\n{USAGE}")
                })?
            }
            "--seed" => seed = number(&flag, &value()?)?,
            "--trials" => trials = number(&flag, &value()?)?,
            "--folds" => folds = number(&flag, &value()?)?,
            "--holdout" => holdout = Some(number(&flag, &value()?)?),
            "--fold-seed" => fold_seed = number(&flag, &value()?)?,
            "--test-seed" => test_seed = number(&flag, &value()?)?,
            other => return Err(format!("unknown argument {other}\n{USAGE}")),
        }
    }
    let validation = match holdout {
        Some(fraction) => Validation::Holdout {
            fraction,
            seed: fold_seed,
        },
        None => Validation::KFold {
            k: folds,
            seed: fold_seed,
        },
    };
    Ok(Args {
        command,
        sweep: sweep.ok_or_else(|| format!("--sweep is required\n{USAGE}"))?,
        data,
        method,
        seed,
        trials,
        validation,
        test_seed,
    })
}

fn number<T: std::str::FromStr>(flag: &str, text: &str) -> Result<T, String> {
    text.parse()
        .map_err(|_| format!("{flag}: {text:?} is not a valid number"))
}

fn run(args: &Args) -> Result<(), String> {
    let sweep = Sweep::read(&args.sweep)?;
    let out = std::io::stdout();
    match args.command.as_str() {
        "space" => {
            let spec = &sweep.spec;
            let doc = json!({
                "name": sweep.name,
                "metric": spec.objective.metric,
                "maximize": sweep.maximize(),
                "parameters": spec.parameters,
                "fidelity": spec.algorithm.fidelity,
                "tpe": spec.algorithm.tpe,
                "template": spec.template.spec.model,
            });
            writeln!(out.lock(), "{doc}").map_err(|e| e.to_string())
        }
        "search" => {
            let problem = load(&sweep, args)?;
            let trials = search::run(&sweep, &problem, args.method, args.seed, args.trials)?;
            let doc = json!({
                "sweep": sweep.name,
                "method": args.method,
                "seed": args.seed,
                "metric": problem.metric(),
                "validation": args.validation.describe(),
                "searchRows": problem.search_rows,
                "testRows": problem.test_rows,
                "trials": trials,
            });
            writeln!(out.lock(), "{doc}").map_err(|e| e.to_string())
        }
        "serve" => serve(&sweep, &load(&sweep, args)?, args),
        other => Err(format!("unknown command {other}\n{USAGE}")),
    }
}

fn load(sweep: &Sweep, args: &Args) -> Result<Problem, String> {
    let template = &sweep.spec.template.spec;
    Problem::load(
        &data_file(&args.data, &template.data.source),
        template,
        args.validation,
        args.test_seed,
    )
}

/// The local copy of the template's data: its file name in `dir`.
fn data_file(dir: &Path, source: &str) -> PathBuf {
    dir.join(source.rsplit('/').next().unwrap_or(source))
}

/// Answers one trial per input line until stdin closes. The first line out says the data is
/// ready.
fn serve(sweep: &Sweep, problem: &Problem, args: &Args) -> Result<(), String> {
    let mut out = std::io::stdout().lock();
    let ready = json!({
        "ready": true,
        "metric": problem.metric(),
        "validation": args.validation.describe(),
        "searchRows": problem.search_rows,
        "testRows": problem.test_rows,
    });
    writeln!(out, "{ready}").map_err(|e| e.to_string())?;
    out.flush().map_err(|e| e.to_string())?;
    for line in std::io::stdin().lock().lines() {
        let line = line.map_err(|e| e.to_string())?;
        if line.trim().is_empty() {
            continue;
        }
        let answer = match serde_json::from_str::<Value>(&line) {
            Ok(request) => {
                let params = request
                    .get("params")
                    .and_then(Value::as_object)
                    .cloned()
                    .unwrap_or_default();
                let fidelity = request
                    .get("fidelity")
                    .and_then(Value::as_u64)
                    .map(|f| f as u32);
                trial::run(sweep, problem, &params, fidelity).record(&params, fidelity)
            }
            Err(e) => json!({"state": "failed", "error": format!("not a JSON request: {e}")}),
        };
        writeln!(out, "{answer}").map_err(|e| e.to_string())?;
        out.flush().map_err(|e| e.to_string())?;
    }
    Ok(())
}

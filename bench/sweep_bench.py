"""`make bench-sweep`: Lepton's search algorithms next to Optuna's samplers on the same trials.

Every trial, whoever proposes it, is trained and scored by `lepton-sweep-bench` (bench/sweep/),
which runs the runner's own preprocessing, model and metric code in-process:

* each data set's rows are split once: 20 % are test rows that no search ever sees; the other
  80 % (the search rows) are split into k validation folds;
* a trial trains the model of its hyperparameters on every fold (the TrainingJob template's
  early stopping, seed and metric apply) and reports the validation objective (mean over folds)
  and the test objective (mean over the fold models, each the model a TrainingJob with these
  hyperparameters would produce);
* Lepton's random, TPE and ASHA run through `lepton_tuning::search::suggest` inside the Rust
  binary (`search`); Optuna's TPESampler and RandomSampler run here and send each trial to the
  same binary (`serve`, JSON lines), over the same search space, read from the same
  TuningSweep manifests (bench/sweep/*-sweep.yaml).

A method's anytime result after n trials is the test objective of the trial it would pick then:
the best validation objective among its first n finished trials. Ten seeds per method give the
spread. Before the searches, the script checks that validation is not noise (the spread of a
fixed configuration's validation objective over split seeds against the spread between
configurations, and how often validation picks the configuration that is best on test).

Results go to bench/results/sweep.json and docs/benchmarks/sweep.md.
"""
import json
import math
import os
import platform
import random
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone

import numpy as np
import optuna

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.environ.get("LEPTON_SWEEP_BENCH", os.path.join(ROOT, "target", "release", "lepton-sweep-bench"))
DATA = os.environ.get("LEPTON_SWEEP_DATA", os.path.join(ROOT, "examples", "data"))
JOBS = int(os.environ.get("SWEEP_JOBS", os.cpu_count() or 1))
SEEDS = list(range(int(os.environ.get("SWEEP_SEEDS", "10"))))
TRIALS = int(os.environ.get("SWEEP_TRIALS", "50"))
CHECKPOINTS = [n for n in (10, 20, 50) if n <= TRIALS]
# ASHA's trials are cheap: it runs longer so that its epochs can be compared with the
# full-fidelity searches' at equal final quality. Its first TRIALS trials are exactly those of a
# TRIALS-trial run (a trial depends only on the trials before it).
ASHA_TRIALS = 4 * TRIALS
ASHA_BUDGETS = [TRIALS * k for k in (1, 2, 3, 4)]
# Validation noise check: random configurations scored under each validation scheme with
# several split seeds.
NOISE_CONFIGS = 16
NOISE_SPLITS = 5
NOISE_CONFIG_SEED = 20260

DATASETS = [
    {"name": "Default", "sweep": "bench/sweep/default-sweep.yaml", "folds": 5,
     "about": "Default.csv, target `default` (binary, about 3 % Yes), objective AUC"},
    {"name": "Credit", "sweep": "bench/sweep/credit-sweep.yaml", "folds": 5,
     "about": "Credit.csv, target `Balance` (regression, `ID` dropped), objective RMSE"},
]
if os.environ.get("SWEEP_DATASETS"):
    DATASETS = [d for d in DATASETS if d["name"] in os.environ["SWEEP_DATASETS"].split(",")]
METHODS = [
    ("lepton-random", "Lepton random"),
    ("lepton-tpe", "Lepton TPE"),
    ("lepton-asha", "Lepton ASHA"),
    ("optuna-tpe", "Optuna TPESampler"),
    ("optuna-random", "Optuna RandomSampler"),
]
# Each trial's child process trains on one core; JOBS of them run at once.
ENV = dict(os.environ, MATMUL_NUM_THREADS="1", RAYON_NUM_THREADS="1")
PRINT = threading.Lock()


def say(*args):
    with PRINT:
        print(*args, flush=True)


def bench(*args):
    proc = subprocess.run([BENCH, *args], capture_output=True, text=True, env=ENV, cwd=ROOT)
    if proc.returncode != 0:
        sys.exit(f"lepton-sweep-bench {' '.join(args)} failed: {proc.stderr[-2000:]}")
    return json.loads(proc.stdout)


class Evaluator:
    """A `lepton-sweep-bench serve` process: one trial per request."""

    def __init__(self, sweep, *args):
        self.proc = subprocess.Popen([BENCH, "serve", "--sweep", sweep, "--data", DATA, *args],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                     env=ENV, cwd=ROOT)
        self.ready = self._read()

    def _read(self):
        line = self.proc.stdout.readline()
        if not line:
            sys.exit(f"lepton-sweep-bench serve stopped (exit {self.proc.wait()})")
        return json.loads(line)

    def __call__(self, params, fidelity=None):
        self.proc.stdin.write(json.dumps({"params": params, "fidelity": fidelity}) + "\n")
        self.proc.stdin.flush()
        return self._read()

    def close(self):
        self.proc.stdin.close()
        self.proc.wait()


def validation_args(ds, seed=0):
    return ["--folds", str(ds["folds"]), "--fold-seed", str(seed)]


# ---- searches -------------------------------------------------------------------------------

def lepton_search(ds, algorithm, seed):
    trials = ASHA_TRIALS if algorithm == "asha" else TRIALS
    doc = bench("search", "--sweep", ds["sweep"], "--data", DATA, "--method", algorithm,
                "--seed", str(seed), "--trials", str(trials), *validation_args(ds))
    return doc["trials"]


def optuna_suggest(trial, p):
    log = p.get("scale") == "log"
    if p.get("families"):
        raise SystemExit("conditional parameters (families) are not mapped to Optuna here")
    if p["type"] == "double":
        return trial.suggest_float(p["name"], p["min"], p["max"], log=log)
    if p["type"] == "int":
        return trial.suggest_int(p["name"], int(p["min"]), int(p["max"]), log=log)
    return trial.suggest_categorical(p["name"], p["values"])


def optuna_search(ds, space, sampler_name, seed):
    evaluate = Evaluator(ds["sweep"], *validation_args(ds))
    sampler = (optuna.samplers.TPESampler(seed=seed) if sampler_name == "tpe"
               else optuna.samplers.RandomSampler(seed=seed))
    study = optuna.create_study(direction="maximize" if space["maximize"] else "minimize", sampler=sampler)
    records = []

    def objective(trial):
        params = {p["name"]: optuna_suggest(trial, p) for p in space["parameters"]}
        record = evaluate(params)
        record["index"] = trial.number
        records.append(record)
        # NaN marks the trial failed, as a failed TrainingJob is for Lepton.
        return record["validation"] if record["state"] == "succeeded" else float("nan")

    study.optimize(objective, n_trials=TRIALS)
    evaluate.close()
    return records


def run_search(ds, space, method, seed):
    started = time.perf_counter()
    library, algorithm = method.split("-")
    if library == "lepton":
        trials = lepton_search(ds, algorithm, seed)
    else:
        trials = optuna_search(ds, space, algorithm, seed)
    seconds = time.perf_counter() - started
    picked = anytime(trials, space["maximize"])
    say(f"  {ds['name']:8} {method:14} seed {seed}: test {fmt(picked[TRIALS]['test'])} after {TRIALS} trials, "
        f"{sum(trial_epochs(t, space) for t in trials[:TRIALS]):.0f} epochs; {len(trials)} trials in {seconds:.1f} s")
    return {"dataset": ds["name"], "method": method, "seed": seed, "seconds": seconds, "trials": trials}


# ---- validation noise -----------------------------------------------------------------------

def random_configs(space, n, seed):
    rng = random.Random(seed)
    configs = []
    for _ in range(n):
        params = {}
        for p in space["parameters"]:
            if p["type"] == "categorical":
                params[p["name"]] = rng.choice(p["values"])
                continue
            lo, hi = p["min"], p["max"]
            if p["type"] == "int":
                hi += 1  # uniform over the whole numbers lo..hi
            u = rng.random()
            x = math.exp(math.log(lo) + u * (math.log(hi) - math.log(lo))) if p.get("scale") == "log" \
                else lo + u * (hi - lo)
            params[p["name"]] = min(int(x), int(p["max"])) if p["type"] == "int" else x
        configs.append(params)
    return configs


def noise_scheme_runs(ds, space):
    """(scheme, split seed, serve arguments) of every validation scheme checked."""
    schemes = [("holdout 20 %", ["--holdout", "0.2"]), (f"{ds['folds']}-fold", ["--folds", str(ds["folds"])])]
    return [(name, s, [*args, "--fold-seed", str(s)]) for name, args in schemes for s in range(NOISE_SPLITS)]


def noise_run(ds, configs, scheme, split_seed, args):
    evaluate = Evaluator(ds["sweep"], *args)
    records = [evaluate(c) for c in configs]
    evaluate.close()
    say(f"  {ds['name']:8} noise check {scheme}, split seed {split_seed} done")
    return {"scheme": scheme, "splitSeed": split_seed, "records": records}


def rank(x):
    order = np.argsort(x, kind="stable")
    ranks = np.empty(len(x))
    ranks[order] = np.arange(len(x))
    # average ranks of ties
    values = np.asarray(x)
    for v in np.unique(values):
        tie = values == v
        if tie.sum() > 1:
            ranks[tie] = ranks[tie].mean()
    return ranks


def spearman(a, b):
    if len(a) < 3:
        return float("nan")
    ra, rb = rank(a), rank(b)
    if ra.std() == 0 or rb.std() == 0:
        return float("nan")
    return float(np.corrcoef(ra, rb)[0, 1])


def noise_summary(runs, maximize):
    by_scheme = {}
    for run in runs:
        by_scheme.setdefault(run["scheme"], []).append(run)
    ok = [all(r["state"] == "succeeded" for r in run["records"]) for run in runs]
    n_configs = len(runs[0]["records"])
    usable = [c for c in range(n_configs)
              if all(run["records"][c]["state"] == "succeeded" for run in runs)]
    # A configuration's true quality: its test objective averaged over every model trained for
    # it in the check (all schemes, all split seeds).
    truth = np.array([np.mean([run["records"][c]["test"] for run in runs]) for c in usable])
    sign = 1.0 if maximize else -1.0
    best_true = (sign * truth).max()
    order = np.argsort(-sign * truth)
    top = set(order[: max(3, len(usable) // 2)].tolist())
    out = {"configs": n_configs, "usableConfigs": len(usable), "allSucceeded": all(ok), "schemes": {}}
    for scheme, scheme_runs in by_scheme.items():
        val = np.array([[run["records"][c]["validation"] for run in scheme_runs] for c in usable])
        test = np.array([[run["records"][c]["test"] for run in scheme_runs] for c in usable])
        raw_noise = float(np.sqrt(val.var(axis=1, ddof=1).mean()))
        # A split moves every configuration's validation objective alike (an easy or a hard
        # fold); that offset does not change which configuration a search picks, so the noise
        # that matters is what is left once each split's mean over configurations is removed.
        centred = val - val.mean(axis=0, keepdims=True)
        noise = float(np.sqrt(centred.var(axis=1, ddof=1).mean()))
        means = val.mean(axis=1)
        top_idx = sorted(top)
        signal = float(means.std(ddof=1))
        signal_top = float(means[top_idx].std(ddof=1))
        rho = [spearman(val[:, s], truth) for s in range(val.shape[1])]
        rho_top = [spearman(val[top_idx, s], truth[top_idx]) for s in range(val.shape[1])]
        regret = [float(best_true - sign * truth[int(np.argmax(sign * val[:, s]))]) for s in range(val.shape[1])]
        out["schemes"][scheme] = {
            "splitSeeds": val.shape[1],
            "noiseStd": noise,
            "noiseStdRaw": raw_noise,
            "testStdAcrossSplits": float(np.sqrt(test.var(axis=1, ddof=1).mean())),
            "configStd": signal,
            "configStdTopHalf": signal_top,
            "noiseToSignal": noise / signal if signal else None,
            "noiseToSignalTopHalf": noise / signal_top if signal_top else None,
            "spearmanValidationTest": float(np.nanmean(rho)),
            "spearmanValidationTestTopHalf": float(np.nanmean(rho_top)),
            "pickRegretMean": float(np.mean(regret)),
            "pickRegretMax": float(np.max(regret)),
        }
    return out


# ---- summaries ------------------------------------------------------------------------------

def trial_epochs(trial, space):
    """Epochs a trial's TrainingJob trained (mean over folds); a failed trial counts its whole
    fidelity, since it ran until it failed."""
    if trial.get("state") == "succeeded":
        return trial["epochs"]
    return trial.get("fidelity") or space["template"]["hyperparameters"].get("epochs", 0)


def anytime(trials, maximize):
    """For each n, the trial picked after the first n: best validation so far (first on ties),
    and the cumulative epochs until it was found."""
    best = None
    out = {}
    for n, t in enumerate(trials, 1):
        if t["state"] == "succeeded":
            v = t["validation"]
            if best is None or (v > best["validation"] if maximize else v < best["validation"]):
                best = {"validation": v, "test": t["test"], "index": n - 1, "fidelity": t.get("fidelity")}
        out[n] = dict(best) if best else {"validation": None, "test": None, "index": None}
    return out


def stats(values):
    values = np.array([v for v in values if v is not None], dtype=float)
    if len(values) == 0:
        return None
    q1, median, q3 = np.percentile(values, [25, 50, 75])
    return {"mean": float(values.mean()), "std": float(values.std(ddof=1)) if len(values) > 1 else 0.0,
            "min": float(values.min()), "max": float(values.max()), "median": float(median),
            "q1": float(q1), "q3": float(q3), "n": int(len(values))}


def budget_stats(runs, space, n):
    """Per seed: the pick after the first n trials, and the epochs spent on those trials (all of
    them, and up to the pick)."""
    per_seed = []
    for run in runs:
        trials = run["trials"][:n]
        pick = anytime(trials, space["maximize"])[len(trials)]
        epochs = [trial_epochs(t, space) for t in trials]
        per_seed.append({
            "seed": run["seed"],
            "trials": len(trials),
            "pick": pick,
            "epochsTotal": float(sum(epochs)),
            "epochsToPick": float(sum(epochs[: pick["index"] + 1])) if pick["index"] is not None else None,
            "trialSeconds": float(sum(t.get("seconds", 0.0) for t in trials)),
            "failedTrials": sum(t["state"] != "succeeded" for t in trials),
            "distinctConfigs": len({json.dumps(t["params"], sort_keys=True) for t in trials}),
        })
    return {
        "test": stats([s["pick"]["test"] for s in per_seed]),
        "validation": stats([s["pick"]["validation"] for s in per_seed]),
        "epochsTotal": stats([s["epochsTotal"] for s in per_seed]),
        "epochsToPick": stats([s["epochsToPick"] for s in per_seed]),
        "trialSeconds": stats([s["trialSeconds"] for s in per_seed]),
        "failedTrials": int(sum(s["failedTrials"] for s in per_seed)),
        "distinctConfigs": stats([s["distinctConfigs"] for s in per_seed]),
        "pickedFidelity": [s["pick"].get("fidelity") for s in per_seed],
        "perSeed": per_seed,
    }


def method_summary(runs, space, method):
    """Anytime results at the checkpoints; the cost columns are those of the first TRIALS
    trials; ASHA also at its longer budgets."""
    budgets = sorted(set(CHECKPOINTS) | (set(ASHA_BUDGETS) if method == "lepton-asha" else set()))
    at = {str(n): budget_stats(runs, space, n) for n in budgets}
    main = at[str(TRIALS)]
    return {
        "checkpoints": {str(n): at[str(n)]["test"] for n in CHECKPOINTS},
        "validationAtCheckpoints": {str(n): at[str(n)]["validation"] for n in CHECKPOINTS},
        "epochsTotal": main["epochsTotal"],
        "epochsToPick": main["epochsToPick"],
        "trialSeconds": main["trialSeconds"],
        "failedTrials": main["failedTrials"],
        "distinctConfigs": main["distinctConfigs"],
        "budgets": at,
    }


def better(a, b, maximize):
    """How much mean a beats mean b (positive: a is better)."""
    return a - b if maximize else b - a


def asha_at_equal_quality(asha, ref, maximize):
    """The smallest ASHA budget (in trials) whose mean final test objective is within the seeds'
    spread (one std) of the full-fidelity method's after TRIALS trials, and the epochs saved
    there: to the final pick, and over all trials."""
    target = ref["budgets"][str(TRIALS)]
    tolerance = target["test"]["std"]
    tried = []
    for n in ASHA_BUDGETS:
        b = asha["budgets"][str(n)]
        d = better(b["test"]["mean"], target["test"]["mean"], maximize)
        row = {
            "ashaTrials": n, "qualityAdvantage": d, "tolerance": tolerance, "qualityWithinSpread": d >= -tolerance,
            "savingToPick": 1.0 - b["epochsToPick"]["mean"] / target["epochsToPick"]["mean"],
            "savingTotal": 1.0 - b["epochsTotal"]["mean"] / target["epochsTotal"]["mean"],
        }
        tried.append(row)
        if row["qualityWithinSpread"]:
            return {"reached": True, **row, "budgets": tried}
    return {"reached": False, **tried[-1], "budgets": tried}


def goals(methods, maximize):
    out = {"tpeVsOptunaTpe": [], "tpeVsRandom": [], "ashaEpochs": {}}
    for n in CHECKPOINTS:
        lep, opt, rnd = (methods[m]["checkpoints"][str(n)] for m in ("lepton-tpe", "optuna-tpe", "lepton-random"))
        d = better(lep["mean"], opt["mean"], maximize)
        tolerance = max(lep["std"], opt["std"])
        se = math.sqrt(lep["std"] ** 2 / lep["n"] + opt["std"] ** 2 / opt["n"])
        out["tpeVsOptunaTpe"].append({"trials": n, "advantage": d, "tolerance": tolerance,
                                      "standardError": se, "met": d >= -tolerance})
        d = better(lep["mean"], rnd["mean"], maximize)
        se = math.sqrt(lep["std"] ** 2 / lep["n"] + rnd["std"] ** 2 / rnd["n"])
        orand = methods["optuna-random"]["checkpoints"][str(n)]
        out["tpeVsRandom"].append({"trials": n, "advantage": d, "standardError": se, "met": d > 0,
                                   "advantageOverOptunaRandom": better(lep["mean"], orand["mean"], maximize)})
    for ref in ("lepton-random", "lepton-tpe"):
        a = asha_at_equal_quality(methods["lepton-asha"], methods[ref], maximize)
        a["met"] = a["reached"] and a["savingToPick"] >= 0.4
        out["ashaEpochs"][ref] = a
    out["tpeVsOptunaTpeMet"] = all(g["met"] for g in out["tpeVsOptunaTpe"])
    out["tpeVsRandomMet"] = all(g["met"] for g in out["tpeVsRandom"])
    return out


# ---- main -----------------------------------------------------------------------------------

def main():
    started = time.perf_counter()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if not os.path.exists(BENCH):
        sys.exit(f"{BENCH} is missing: build it with cargo build --release -p lepton-sweep-bench")
    spaces = {ds["name"]: bench("space", "--sweep", ds["sweep"]) for ds in DATASETS}

    # One trial's cost, measured before launching everything: the template's defaults.
    references = {}
    for ds in DATASETS:
        evaluate = Evaluator(ds["sweep"], *validation_args(ds))
        t0 = time.perf_counter()
        record = evaluate({})
        evaluate.close()
        references[ds["name"]] = {"record": record, "setup": evaluate.ready}
        say(f"{ds['name']}: {evaluate.ready['searchRows']} search rows, {evaluate.ready['testRows']} test rows; "
            f"the template's default MLP: validation {fmt(record['validation'])}, test {fmt(record['test'])}, "
            f"{record['seconds']:.2f} s for {ds['folds']} folds ({time.perf_counter() - t0:.2f} s with start-up)")

    pool = ThreadPoolExecutor(max_workers=JOBS)
    say(f"validation noise check ({NOISE_CONFIGS} random configurations x {NOISE_SPLITS} split seeds per scheme)")
    noise_jobs = {}
    for ds in DATASETS:
        configs = random_configs(spaces[ds["name"]], NOISE_CONFIGS, NOISE_CONFIG_SEED)
        noise_jobs[ds["name"]] = (configs, [pool.submit(noise_run, ds, configs, *run)
                                            for run in noise_scheme_runs(ds, spaces[ds["name"]])])
    noise = {}
    for ds in DATASETS:
        configs, futures = noise_jobs[ds["name"]]
        runs = [f.result() for f in futures]
        noise[ds["name"]] = {"summary": noise_summary(runs, spaces[ds["name"]]["maximize"]),
                             "configs": configs, "runs": runs}
    noise_seconds = time.perf_counter() - started

    say(f"searches: {len(DATASETS)} data sets x {len(METHODS)} methods x {len(SEEDS)} seeds x {TRIALS} trials, "
        f"{JOBS} at a time")
    # Longest first: full-fidelity searches of the larger data set.
    jobs = [(ds, m, s) for ds in DATASETS for m, _ in METHODS for s in SEEDS]
    jobs.sort(key=lambda j: (j[0]["name"] != "Default", j[1] == "lepton-asha"))
    futures = [pool.submit(run_search, ds, spaces[ds["name"]], m, s) for ds, m, s in jobs]
    runs = [f.result() for f in futures]
    pool.shutdown()
    total_seconds = time.perf_counter() - started

    results = {"datasets": {}}
    for ds in DATASETS:
        space = spaces[ds["name"]]
        methods = {m: method_summary([r for r in runs if r["dataset"] == ds["name"] and r["method"] == m], space, m)
                   for m, _ in METHODS}
        full = [t for r in runs if r["dataset"] == ds["name"] and r["method"] != "lepton-asha"
                for t in r["trials"] if t["state"] == "succeeded"]
        everything = [t for r in runs if r["dataset"] == ds["name"] for t in r["trials"] if t["state"] == "succeeded"]
        best_test = (max if space["maximize"] else min)(t["test"] for t in full)
        results["datasets"][ds["name"]] = {
            "about": ds["about"],
            "sweep": ds["sweep"],
            "space": space,
            "validation": {"kind": "kfold", "folds": ds["folds"], "seed": 0},
            "searchRows": references[ds["name"]]["setup"]["searchRows"],
            "testRows": references[ds["name"]]["setup"]["testRows"],
            "templateDefault": references[ds["name"]]["record"],
            "bestTestOfAnyFullTrial": best_test,
            "spearmanValidationTestFullTrials": spearman([t["validation"] for t in full], [t["test"] for t in full]),
            "fullTrials": len(full),
            "trialsScored": len(everything),
            "noise": noise[ds["name"]]["summary"],
            "methods": methods,
            "goals": goals(methods, space["maximize"]),
        }
    results["run"] = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": f"{os.cpu_count()} CPUs ({platform.machine()})",
        "python": platform.python_version(),
        "optuna": optuna.__version__,
        "jobs": JOBS,
        "seeds": SEEDS,
        "trials": TRIALS,
        "checkpoints": CHECKPOINTS,
        "ashaBudgets": ASHA_BUDGETS,
        "noiseCheckSeconds": noise_seconds,
        "totalSeconds": total_seconds,
    }
    raw = {"searches": runs, "noiseChecks": {k: {"configs": v["configs"], "runs": v["runs"]} for k, v in noise.items()}}
    write(results, raw)
    say(f"done in {total_seconds / 60:.1f} min: bench/results/sweep.json, docs/benchmarks/sweep.md")


# ---- output ---------------------------------------------------------------------------------

def rounded(x):
    if isinstance(x, float):
        return float(f"{x:.6g}") if math.isfinite(x) else None
    if isinstance(x, dict):
        return {k: rounded(v) for k, v in x.items()}
    if isinstance(x, list):
        return [rounded(v) for v in x]
    return x


def fmt(x, digits=4):
    if x is None:
        return "n/a"
    return f"{x:.{digits}f}"


def write(results, raw):
    os.makedirs(os.path.join(ROOT, "bench", "results"), exist_ok=True)
    with open(os.path.join(ROOT, "bench", "results", "sweep.json"), "w") as f:
        json.dump(rounded({**results, "raw": raw}), f, separators=(",", ":"))
        f.write("\n")
    with open(os.path.join(ROOT, "docs", "benchmarks", "sweep.md"), "w") as f:
        f.write(markdown(results))


def markdown(results):
    run = results["run"]
    first = next(iter(results["datasets"].values()))
    lines = [
        "# Sweep benchmark",
        "",
        "Written by `make bench-sweep` (bench/sweep_bench.py); do not edit by hand.",
        "",
        "Lepton's search algorithms (random, TPE and ASHA from `lepton-tuning`) next to Optuna's",
        "TPESampler and RandomSampler on the same search space, every trial trained and scored by",
        "the same code: `lepton-sweep-bench` (bench/sweep/) runs the runner's preprocessing, MLP",
        "and metrics in-process, exactly as a TrainingJob with the trial's hyperparameters would",
        "(ONNX export left out).",
        "",
        "## Set-up",
        "",
        "* Data: Default.csv and Credit.csv from the data folder of the `ISLP` package (\"An",
        "  Introduction to Statistical Learning\", James, Witten, Hastie, Tibshirani, Taylor).",
        "* Each data set's rows are split once (the runner's stratified split, fixed seed): 20 % are",
        "  **test rows that no search sees**; the other 80 % are the search rows, split into",
        f"  {first['validation']['folds']} validation folds (stratified for classification). Preprocessing is fitted on each",
        "  fold's training rows, as the runner fits it on a TrainingJob's training split.",
        "* A trial trains the model of its hyperparameters on every fold (the template's early",
        "  stopping, patience 10, and seed apply). Its **validation** objective is the mean over folds;",
        "  its **test** objective is the mean over the fold models of each one's objective on the test",
        "  rows (each fold model is the model a TrainingJob with these hyperparameters would train).",
        "* The search space is the `parameters` of bench/sweep/default-sweep.yaml and",
        "  credit-sweep.yaml, read as TuningSweep manifests: an MLP whose other settings are the",
        "  runner's defaults (Adam, ReLU; balanced class weights on Default), with `epochs: 27` from the",
        "  template for every method but ASHA:",
        "",
        "| parameter | type | range or values | scale |",
        "|---|---|---|---|",
    ]
    for p in first["space"]["parameters"]:
        if p["type"] == "categorical":
            lines.append(f"| {p['name']} | categorical | " + ", ".join(f"`{v}`" for v in p["values"]) + " | |")
        else:
            lines.append(f"| {p['name']} | {p['type']} | [{p['min']:g}, {p['max']:g}] | {p.get('scale', 'linear')} |")
    fid = first["space"]["fidelity"]
    lines += [
        "",
        f"* ASHA's fidelity is `{fid['parameter']}`: minResource {fid['minResource']}, maxResource "
        f"{fid['maxResource']}, reductionFactor {fid['reductionFactor']}; new configurations from the "
        f"`{fid.get('sampler', 'random')}` sampler. A promoted trial is a new TrainingJob",
        "  that trains from scratch with the higher epoch count (the runner does not resume).",
        f"* Lepton's algorithms run with their defaults (TPE: {first['space']['tpe']['startupTrials']} random start-up trials, "
        f"{first['space']['tpe']['candidates']} candidates,",
        f"  gamma {first['space']['tpe']['gamma']:g}); Optuna {run['optuna']} with its defaults (TPESampler: 10 start-up trials, 24",
        "  candidates, multivariate TPE, which Optuna uses by default for one objective). Trials run",
        "  one at a time (`parallelTrials: 1`), so every search is deterministic given its seed.",
        f"* {len(run['seeds'])} seeds per method (0..{run['seeds'][-1]}), {run['trials']} trials each. After n trials a",
        "  method's result is the **test** objective of the trial it would pick then: the best",
        "  validation objective among its first n finished trials (for ASHA, trials of every",
        "  fidelity compete).",
        "",
    ]
    lines += ["## Summary", ""]
    for name, ds in results["datasets"].items():
        g = ds["goals"]
        sig = significant_at(g)
        sig_text = f"at {', '.join(str(n) for n in sig)} trials" if sig else "at no trial count"
        lines.append(f"* {name}: Lepton TPE at least as good as Optuna's TPE at {', '.join(str(n) for n in CHECKPOINTS)} "
                     f"trials (within the seeds' spread): **{met(g['tpeVsOptunaTpeMet'])}**; Lepton TPE better than random "
                     f"at each: **{met(g['tpeVsRandomMet'])}** (by more than 2 standard errors {sig_text}); ASHA at least "
                     f"40 % fewer epochs at equal final quality: vs random **{met(g['ashaEpochs']['lepton-random']['met'])}**, "
                     f"vs TPE **{met(g['ashaEpochs']['lepton-tpe']['met'])}**." + flat_note(name, ds))
    lines += [""]
    for name, ds in results["datasets"].items():
        lines += dataset_section(name, ds, run)
    lines += noise_section(results)
    lines += [
        "## Run",
        "",
        f"Run {run['date']} on {run['machine']}, Python {run['python']}, Optuna {run['optuna']}; {run['jobs']} trials",
        f"trained at a time. The validation check took {run['noiseCheckSeconds'] / 60:.1f} min and the whole benchmark",
        f"{run['totalSeconds'] / 60:.1f} min. The benchmark measures search quality, not speed: it shared the machine",
        "with other work, so its seconds are only a guide to its cost.",
        "",
    ]
    return "\n".join(lines)


def cell(s, digits):
    if s is None:
        return "n/a"
    return f"{s['mean']:.{digits}f} ± {s['std']:.{digits}f} [{s['min']:.{digits}f}, {s['max']:.{digits}f}]"


def dataset_section(name, ds, run):
    maximize = ds["space"]["maximize"]
    metric = ds["space"]["metric"]
    label = {"auc": "AUC", "rmse": "RMSE"}.get(metric, metric)
    digits = 4 if metric in ("auc",) else 2
    direction = "higher is better" if maximize else "lower is better"
    g = ds["goals"]
    lines = [
        f"## {name}: test {label} ({direction})",
        "",
        f"{ds['about']}; {ds['searchRows']} search rows ({ds['validation']['folds']} validation folds), "
        f"{ds['testRows']} test rows.",
        "Test " + label + " of the picked trial, mean ± std [min, max] over the seeds; epochs are per trial "
        "(mean over folds), summed over the search.",
        "",
        "| method | " + " | ".join(f"{n} trials" for n in run["checkpoints"]) + " | epochs to the final pick | epochs, all trials |",
        "|---|" + "---|" * len(run["checkpoints"]) + "---|---|",
    ]
    for key, title in METHODS:
        m = ds["methods"][key]
        e_pick, e_all = m["epochsToPick"], m["epochsTotal"]
        lines.append(f"| {title} | " + " | ".join(cell(m["checkpoints"][str(n)], digits) for n in run["checkpoints"])
                     + f" | {e_pick['mean']:.0f} ± {e_pick['std']:.0f} | {e_all['mean']:.0f} ± {e_all['std']:.0f} |")
    ref = ds["templateDefault"]
    lines += [
        "",
        f"For scale: the template's MLP with the runner's default hyperparameters scores test {label} "
        f"{fmt(ref.get('test'), digits)} (validation {fmt(ref.get('validation'), digits)}); the best test {label} of any "
        f"full-fidelity trial in this benchmark ({ds['fullTrials']} of them) is {fmt(ds['bestTestOfAnyFullTrial'], digits)}. "
        f"Failed trials: " + ", ".join(f"{t} {ds['methods'][k]['failedTrials']}" for k, t in METHODS) + ".",
        "",
    ]
    kfold = ds["noise"]["schemes"][f"{ds['validation']['folds']}-fold"]
    resolution = 2 * kfold["testStdAcrossSplits"]
    lines.append(f"Resolution: a configuration's own test {label} moves by {kfold['testStdAcrossSplits']:.{digits}f} (std) when "
                 f"its models train on other rows, so differences below about {resolution:.{digits}f} between cells are "
                 "within what retraining alone moves.")
    if kfold["noiseToSignalTopHalf"] > 0.5:
        lines.append(f"On {name}, validation noise is {kfold['noiseToSignalTopHalf']:.2f} of the spread among the better half "
                     "of the configurations (see the validation check below): searches tell bad configurations from good "
                     "ones, but which good one they pick is close to chance, so the methods' rows differ by little more "
                     "than that resolution.")
    lines += [
        "",
        "Goals:",
        "",
    ]
    for x in g["tpeVsOptunaTpe"]:
        lines.append(f"* {x['trials']} trials, Lepton TPE vs Optuna TPESampler: {signed(x['advantage'], digits)} "
                     f"(positive = Lepton better; standard error {x['standardError']:.{digits}f}; allowed shortfall, "
                     f"the larger seed std: {x['tolerance']:.{digits}f}): **{'met' if x['met'] else 'not met'}**.")
    for x in g["tpeVsRandom"]:
        lines.append(f"* {x['trials']} trials, Lepton TPE vs Lepton random: {signed(x['advantage'], digits)} "
                     f"(standard error {x['standardError']:.{digits}f}; vs Optuna random "
                     f"{signed(x['advantageOverOptunaRandom'], digits)}): **{verdict(x)}**.")
    lines += [
        "",
        f"Trial-epochs at equal final quality. ASHA ran {run['ashaBudgets'][-1]} trials per seed (its first {run['trials']} are "
        "the row above); after n of them:",
        "",
        f"| ASHA trials | test {label} | epochs to the final pick | epochs, all trials | picked trial's fidelity (per seed) |",
        "|---|---|---|---|---|",
    ]
    asha = ds["methods"]["lepton-asha"]["budgets"]
    for n in run["ashaBudgets"]:
        b = asha[str(n)]
        lines.append(f"| {n} | {cell(b['test'], digits)} | {b['epochsToPick']['mean']:.0f} ± {b['epochsToPick']['std']:.0f} | "
                     f"{b['epochsTotal']['mean']:.0f} ± {b['epochsTotal']['std']:.0f} | "
                     f"{', '.join(str(f) for f in b['pickedFidelity'])} |")
    lines += [
        "",
        f"ASHA's budget is the smallest of these whose mean test {label} is within the seeds' spread (one std) of the",
        f"full-fidelity method's after {run['trials']} trials; the saving is one minus ASHA's mean epochs there over the",
        "full-fidelity method's (to the final pick: the epochs each spent to reach its final test result, the",
        "issue's measure; all trials: what the whole search cost).",
        "",
    ]
    for ref_key, title in (("lepton-random", "Lepton random"), ("lepton-tpe", "Lepton TPE")):
        a = g["ashaEpochs"][ref_key]
        if a["reached"]:
            lines.append(f"* vs {title}: ASHA reaches its quality after {a['ashaTrials']} trials (test {label} "
                         f"{signed(a['qualityAdvantage'], digits)} vs {title}, allowed shortfall {a['tolerance']:.{digits}f}) with "
                         f"{100 * a['savingToPick']:.0f} % fewer epochs to the final pick and {100 * a['savingTotal']:.0f} % fewer "
                         f"over all trials: **{'met' if a['met'] else 'not met'}** (goal: at least 40 % fewer to the final pick).")
        else:
            lines.append(f"* vs {title}: ASHA does not reach its quality within {a['ashaTrials']} trials (test {label} "
                         f"{signed(a['qualityAdvantage'], digits)}, allowed shortfall {a['tolerance']:.{digits}f}; epochs to the final "
                         f"pick {100 * a['savingToPick']:.0f} % fewer, over all trials {100 * a['savingTotal']:.0f} % fewer): "
                         "**not met**.")
    lines += [
        "",
        f"Goal summary for {name}: Lepton TPE at least as good as Optuna's TPE at every trial count "
        f"(within the seeds' spread): **{'met' if g['tpeVsOptunaTpeMet'] else 'not met'}**; better than random at every "
        f"trial count: **{'met' if g['tpeVsRandomMet'] else 'not met'}**; ASHA saves at least 40 % of the epochs "
        f"to the final pick at equal final quality: vs random **{'met' if g['ashaEpochs']['lepton-random']['met'] else 'not met'}**, "
        f"vs TPE **{'met' if g['ashaEpochs']['lepton-tpe']['met'] else 'not met'}**.",
        "",
    ]
    return lines


def flat_note(name, ds):
    """A warning for a data set on which validation cannot rank the good configurations."""
    kfold = ds["noise"]["schemes"][f"{ds['validation']['folds']}-fold"]
    if kfold["noiseToSignalTopHalf"] <= 0.5:
        return ""
    digits = 4 if ds["space"]["metric"] == "auc" else 2
    means = [c["mean"] for m in ds["methods"].values() for c in m["checkpoints"].values()]
    spread, resolution = max(means) - min(means), 2 * kfold["testStdAcrossSplits"]
    return (f" On {name} these verdicts rest on small differences: every method's mean at every trial count lies "
            f"within {spread:.{digits}f} of the others, {spread / resolution:.1f} times the resolution "
            f"({resolution:.{digits}f}, see below).")


def met(ok):
    return "met" if ok else "not met"


def verdict(x):
    if not x["met"]:
        return "not better"
    if x["advantage"] > 2 * x["standardError"]:
        return "better, by more than 2 standard errors"
    return "better in the mean only (less than 2 standard errors)"


def significant_at(g):
    """Trial counts at which Lepton TPE beats Lepton random by more than 2 standard errors."""
    return [x["trials"] for x in g["tpeVsRandom"] if x["met"] and x["advantage"] > 2 * x["standardError"]]


def signed(x, digits):
    return f"{x:+.{digits}f}"


def noise_section(results):
    lines = [
        "## Is validation noise small enough?",
        "",
        f"Before the searches, {NOISE_CONFIGS} random configurations of the space were each scored under two "
        "validation schemes with",
        f"{NOISE_SPLITS} different split seeds: one 20 % hold-out of the search rows (what a single TrainingJob",
        "does with the default `validationFraction`), and the k folds the benchmark uses. For each scheme:",
        "",
        "* **noise**: the std across split seeds of one configuration's validation objective, after",
        "  removing each split's mean over the configurations (a split that is easy or hard for every",
        "  configuration alike does not change which one a search picks), root mean square over",
        "  configurations; the raw std, with that offset, is beside it;",
        "* **spread**: the std across configurations of their validation objective (mean over seeds), for all",
        "  configurations and for the better half (by test objective);",
        "* **Spearman**: rank correlation, across configurations, of one split's validation objective with",
        "  the configuration's test objective (averaged over all its models in the check), mean over seeds;",
        "* **pick regret**: how much worse on test the configuration that validation picks is than the",
        "  best one, mean over seeds.",
        "",
        "| data | scheme | noise (raw) | spread (all) | spread (better half) | noise / spread (all, better half) | Spearman (all, better half) | pick regret |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, ds in results["datasets"].items():
        digits = 4 if ds["space"]["metric"] == "auc" else 2
        for scheme, s in ds["noise"]["schemes"].items():
            lines.append(f"| {name} | {scheme} | {s['noiseStd']:.{digits}f} ({s['noiseStdRaw']:.{digits}f}) | "
                         f"{s['configStd']:.{digits}f} | {s['configStdTopHalf']:.{digits}f} | "
                         f"{s['noiseToSignal']:.2f}, {s['noiseToSignalTopHalf']:.2f} | "
                         f"{s['spearmanValidationTest']:.2f}, {s['spearmanValidationTestTopHalf']:.2f} | "
                         f"{s['pickRegretMean']:.{digits}f} |")
    lines += [""]
    for name, ds in results["datasets"].items():
        digits = 4 if ds["space"]["metric"] == "auc" else 2
        schemes = ds["noise"]["schemes"]
        kfold = schemes[f"{ds['validation']['folds']}-fold"]
        hold = schemes["holdout 20 %"]
        lines.append(f"{name}: with {ds['validation']['folds']}-fold validation the noise is {kfold['noiseToSignal']:.2f} of the "
                     f"spread between all configurations and {kfold['noiseToSignalTopHalf']:.2f} of the spread within the better "
                     f"half (one 20 % hold-out: {hold['noiseToSignal']:.2f} and {hold['noiseToSignalTopHalf']:.2f}). A configuration's "
                     f"own test objective moves by {kfold['testStdAcrossSplits']:.{digits}f} (std) when its models are trained on "
                     "other rows, which is the resolution of the tables above.")
    lines += [""]
    for name, ds in results["datasets"].items():
        lines.append(f"Across all {ds['fullTrials']} full-fidelity trials of the searches on {name}, the Spearman "
                     f"correlation of validation and test objective is {ds['spearmanValidationTestFullTrials']:.2f}.")
    lines += [""]
    return lines


def doc_only():
    """Rewrites docs/benchmarks/sweep.md from bench/results/sweep.json (after a change of wording)."""
    with open(os.path.join(ROOT, "bench", "results", "sweep.json")) as f:
        results = json.load(f)
    results.pop("raw", None)
    with open(os.path.join(ROOT, "docs", "benchmarks", "sweep.md"), "w") as f:
        f.write(markdown(results))


if __name__ == "__main__":
    if sys.argv[1:] == ["--doc-only"]:
        doc_only()
    else:
        main()

//! `lepton get`, `describe`, `predict` and `report`: reading and calling what a local
//! session (or a cluster) runs.

use std::path::PathBuf;

use kube::ResourceExt;
use kube::api::{Api, ListParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use lepton_crds::v1alpha1::{ModelDeployment, TrainingJob, TuningSweep};

use crate::args::{self, Spec};
use crate::error::CliError;
use crate::session::{self, SessionDir};
use crate::table::{self, TableOptions};

mod describe;

/// Usage of `lepton get`.
pub const GET_USAGE: &str = "usage: lepton get TYPE[,TYPE...] [NAME] [options]

TYPE: tj (trainingjobs), ts (tuningsweeps), md (modeldeployments), lepton (all three),
pods, jobs, deployments, services, events.

options:
  -o wide                the columns of lower priority too
  -A, --all-namespaces   every namespace
  -n, --namespace NS     the namespace (default: the kubeconfig's, or default)
  --kubeconfig FILE      a cluster (default: the local session, then KUBECONFIG)
  --session-dir DIR      the local session's directory (default .lepton)";

/// Usage of `lepton describe`.
pub const DESCRIBE_USAGE: &str = "usage: lepton describe TYPE [NAME] [options]

TYPE: tj, ts or md (or their full names). Shows the spec, the status figures, conditions,
a sweep's trials and front, and the object's events; without NAME, every object of the type.

options: -n NS, --kubeconfig FILE, --session-dir DIR (as for `lepton get`)";

/// Usage of `lepton predict`.
pub const PREDICT_USAGE: &str = "usage: lepton predict NAME [--row JSON | --file FILE] [options]

Sends rows to the ModelDeployment NAME (KServe v1 :predict, one object per row) and prints
the predictions.

options:
  --row JSON             one row ({\"balance\": 1500, \"student\": \"No\"}) or an array of rows
  --file FILE            rows from a CSV file (a header row; extra columns such as the
                         target are left out) or a JSON file (an array of row objects)
  --rows N               how many rows of --file to send (default 5)
  -n NS, --kubeconfig FILE, --session-dir DIR (as for `lepton get`)";

/// Usage of `lepton report`.
pub const REPORT_USAGE: &str = "usage: lepton report [options]

Writes report.html (learning curves, each sweep's Pareto front with the deployed model,
serving latency and drift) from the running session or cluster namespace, or, when none
runs, from the last run recorded in the session directory.

options:
  --output DIR           where to write (default: the session's report/ directory)
  -n NS, --kubeconfig FILE, --session-dir DIR (as for `lepton get`)";

const CONNECTION: [&str; 5] = [
    "--kubeconfig",
    "--session-dir",
    "-n",
    "--namespace",
    "--context",
];

fn spec<'a>(valued: &'a [&'a str], switches: &'a [&'a str]) -> Spec<'a> {
    Spec { valued, switches }
}

/// The valued flags of a command that reads a session or cluster: the connection's and `extra`.
fn with_connection(extra: &[&'static str]) -> Vec<&'static str> {
    [CONNECTION.as_slice(), extra].concat()
}

/// A client and the namespace to use: `--kubeconfig`, else the running local session, else
/// the usual kubeconfig.
pub async fn connect(parsed: &args::Parsed) -> Result<(kube::Client, String), CliError> {
    let session_dir = SessionDir::at(
        &parsed
            .value(&["--session-dir"])
            .map_or_else(|| PathBuf::from(session::DEFAULT_DIR), PathBuf::from),
    );
    let options = KubeConfigOptions {
        context: parsed.value(&["--context"]),
        ..KubeConfigOptions::default()
    };
    let file = parsed
        .value(&["--kubeconfig"])
        .map(PathBuf::from)
        .or_else(|| session_dir.running().map(|_| session_dir.kubeconfig()));
    let config = match &file {
        Some(file) => {
            let kubeconfig = Kubeconfig::read_from(file)
                .map_err(|e| CliError::Setup(format!("{}: {e}", file.display())))?;
            kube::Config::from_custom_kubeconfig(kubeconfig, &options)
                .await
                .map_err(|e| CliError::Setup(format!("{}: {e}", file.display())))?
        }
        None => kube::Config::infer().await.map_err(|e| {
            CliError::Setup(format!(
                "no local session runs in {} and no cluster is configured ({e}): start one with `lepton run -f FILE --keep`, or pass --kubeconfig",
                session_dir.root.display()
            ))
        })?,
    };
    let namespace = parsed
        .value(&["-n", "--namespace"])
        .unwrap_or_else(|| config.default_namespace.clone());
    let client = kube::Client::try_from(config).map_err(|e| CliError::Setup(e.to_string()))?;
    Ok((client, namespace))
}

fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| CliError::Setup(format!("cannot start the async runtime: {e}")))
}

/// `lepton get`.
pub fn get(args: &[String]) -> Result<(), CliError> {
    let valued = with_connection(&["-o", "--output"]);
    let parsed = args::parse(args, &spec(&valued, &["-A", "--all-namespaces"]))?;
    let wide = match parsed.value(&["-o", "--output"]).as_deref() {
        None => false,
        Some("wide") => true,
        Some(other) => {
            return Err(CliError::usage(format!(
                "-o {other:?}: lepton get prints tables (-o wide); for YAML or JSON use kubectl --kubeconfig .lepton/kubeconfig get -o yaml"
            )));
        }
    };
    let (types, name) = match parsed.positional.as_slice() {
        [types] => (types.clone(), None),
        [types, name] => (types.clone(), Some(name.clone())),
        [] => {
            return Err(CliError::usage(
                "name a resource type, for example `lepton get tj,ts,md`",
            ));
        }
        _ => return Err(CliError::usage("give a type and at most one name")),
    };
    let all = parsed.has(&["-A", "--all-namespaces"]);
    runtime()?.block_on(async {
        let (client, namespace) = connect(&parsed).await?;
        let found = table::resolve(&table::discover(&client).await?, &types)?;
        let options = TableOptions {
            wide,
            with_kind: found.len() > 1,
            with_namespace: all,
        };
        let scope = (!all).then_some(namespace.as_str());
        let mut blocks = Vec::new();
        for resource in &found {
            if let Some(text) =
                table::fetch(&client, resource, scope, name.as_deref(), &options).await?
            {
                blocks.push(text);
            }
        }
        if blocks.is_empty() {
            if all {
                eprintln!("No resources found");
            } else {
                eprintln!("No resources found in {namespace} namespace.");
            }
        } else {
            print!("{}", blocks.join("\n"));
        }
        Ok(())
    })
}

/// `lepton describe`.
pub fn describe(args: &[String]) -> Result<(), CliError> {
    let parsed = args::parse(args, &spec(&CONNECTION, &[]))?;
    let (kind, name) = match parsed.positional.as_slice() {
        [kind] => (kind.clone(), None),
        [kind, name] => (kind.clone(), Some(name.clone())),
        _ => {
            return Err(CliError::usage(
                "give a type and optionally a name, for example `lepton describe ts credit-default-sweep`",
            ));
        }
    };
    runtime()?.block_on(async {
        let (client, namespace) = connect(&parsed).await?;
        let names = match name {
            Some(name) => vec![name],
            None => describe::names(&client, &namespace, &kind).await?,
        };
        if names.is_empty() {
            eprintln!("No resources found in {namespace} namespace.");
        }
        let mut texts = Vec::new();
        for name in &names {
            texts.push(describe::describe(&client, &namespace, &kind, name).await?);
        }
        print!("{}", texts.join("\n\n"));
        Ok(())
    })
}

/// `lepton predict`.
pub fn predict(args: &[String]) -> Result<(), CliError> {
    use crate::predict as oip;
    let valued = with_connection(&["--row", "--file", "--rows"]);
    let parsed = args::parse(args, &spec(&valued, &[]))?;
    let [name] = parsed.positional.as_slice() else {
        return Err(CliError::usage(
            "give the ModelDeployment's name, for example `lepton predict credit-default --row '{...}'`",
        ));
    };
    let max_rows: usize = match parsed.value(&["--rows"]) {
        Some(n) => n
            .parse()
            .map_err(|_| CliError::usage(format!("--rows {n:?} is not a whole number")))?,
        None => 5,
    };
    enum Rows {
        Inline(Vec<serde_json::Value>),
        Csv(PathBuf),
    }
    let rows = match (parsed.value(&["--row"]), parsed.value(&["--file"])) {
        (Some(_), Some(_)) => return Err(CliError::usage("give --row or --file, not both")),
        (Some(row), None) => Rows::Inline(oip::inline_rows(&row)?),
        (None, Some(file)) if file.ends_with(".json") => {
            Rows::Inline(oip::json_rows(std::path::Path::new(&file))?)
        }
        (None, Some(file)) => Rows::Csv(PathBuf::from(file)),
        (None, None) => return Err(CliError::usage("give the rows: --row JSON or --file FILE")),
    };
    runtime()?.block_on(async {
        let (client, namespace) = connect(&parsed).await?;
        let md = Api::<ModelDeployment>::namespaced(client, &namespace)
            .get_opt(name)
            .await?
            .ok_or_else(|| {
                CliError::Input(format!(
                    "no ModelDeployment {name:?} in namespace {namespace}"
                ))
            })?;
        let status = md.status.clone().unwrap_or_default();
        let ready = status.conditions.iter().find(|c| c.type_ == "Ready");
        let url = match (status.url.clone(), ready) {
            (Some(url), Some(c)) if c.status == "True" => url,
            (_, Some(c)) => {
                return Err(CliError::Remote(format!(
                    "modeldeployment/{name} is not Ready ({}: {})",
                    c.reason, c.message
                )));
            }
            _ => {
                return Err(CliError::Remote(format!(
                    "modeldeployment/{name} is not Ready yet"
                )));
            }
        };
        let http = oip::http();
        let rows = match rows {
            Rows::Inline(rows) => rows.into_iter().take(max_rows.max(1)).collect(),
            Rows::Csv(file) => {
                let inputs = oip::model_inputs(&http, &url, name).await?;
                oip::only_inputs(oip::csv_rows(&file, max_rows.max(1))?, &inputs)
            }
        };
        let answer = oip::predict(&http, &url, name, &rows).await?;
        let predictions = answer["predictions"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        if predictions.len() == rows.len() {
            for (row, prediction) in rows.iter().zip(&predictions) {
                println!("{row} -> {prediction}");
            }
        } else {
            println!(
                "{}",
                serde_json::to_string_pretty(&answer).unwrap_or_default()
            );
        }
        Ok(())
    })
}

/// `lepton report`.
pub fn report(args: &[String]) -> Result<(), CliError> {
    let valued = with_connection(&["--output"]);
    let parsed = args::parse(args, &spec(&valued, &[]))?;
    let session_dir = SessionDir::at(
        &parsed
            .value(&["--session-dir"])
            .map_or_else(|| PathBuf::from(session::DEFAULT_DIR), PathBuf::from),
    );
    let output = parsed
        .value(&["--output"])
        .map_or_else(|| session_dir.report(), PathBuf::from);
    let saved: Option<lepton_report::RunRecord> = std::fs::read_to_string(session_dir.record())
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok());
    let live_wanted = parsed.value(&["--kubeconfig"]).is_some() || session_dir.running().is_some();
    let record = if live_wanted || saved.is_none() {
        runtime()?.block_on(async {
            let (client, namespace) = connect(&parsed).await?;
            let params = ListParams::default();
            let jobs = Api::<TrainingJob>::namespaced(client.clone(), &namespace)
                .list(&params)
                .await?;
            let sweeps = Api::<TuningSweep>::namespaced(client.clone(), &namespace)
                .list(&params)
                .await?;
            let mds = Api::<ModelDeployment>::namespaced(client, &namespace)
                .list(&params)
                .await?;
            let mut record = saved.clone().unwrap_or_default();
            record.title = format!("namespace {namespace}");
            record.generated_at = jiff::Timestamp::now().to_string();
            record.training_jobs = jobs.items;
            record.tuning_sweeps = sweeps.items;
            record.model_deployments = mds.items;
            // Samples of deployments that are gone would only confuse the charts.
            let names: Vec<String> = record
                .model_deployments
                .iter()
                .map(|m| m.name_any())
                .collect();
            record
                .serving_samples
                .retain(|s| names.contains(&s.deployment));
            Ok::<_, CliError>(record)
        })?
    } else {
        saved.unwrap_or_default()
    };
    let written = crate::report::write(&record, &output).map_err(CliError::Setup)?;
    println!("{}", output.join("report.html").display());
    for path in written
        .iter()
        .filter(|p| p.extension().is_some_and(|x| x == "svg"))
    {
        println!("{}", path.display());
    }
    Ok(())
}

//! The `lepton-operator` command line.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use crate::config;
use crate::leader::LeaseSettings;
use crate::runtime::{self, Settings};
use crate::telemetry::{self, Metrics};

const USAGE: &str = "usage: lepton-operator <command> [options]

commands:
  run        run the controllers (in a cluster, or against $KUBECONFIG)
  crd        print the CustomResourceDefinitions of TrainingJob, TuningSweep and
             ModelDeployment as YAML (for `kubectl apply --server-side -f -`)
  rbac       print the operator's ClusterRole and leader-election Role as YAML
  --version  print the version

run options (each also from the environment variable shown):
  --config FILE          operator configuration: runner images, node pools and prices
                         (LEPTON_OPERATOR_CONFIG); reloaded when the file changes
  --namespaces a,b       namespaces to watch (LEPTON_WATCH_NAMESPACES); default: all
  --metrics-addr ADDR    where /metrics, /livez and /readyz listen (default 0.0.0.0:8080)
  --leader-elect BOOL    elect a leader through a Lease, for several replicas (default true)
  --lease-namespace NS   namespace of the Lease (POD_NAMESPACE; default lepton-system)
  --concurrency N        reconciles of one kind at once (default 16)
  --log-format FMT       json or text (LEPTON_LOG_FORMAT; default json)

rbac options:
  --namespace NS         namespace of the leader-election Role (default lepton-system)";

/// Runs the command line; returns the process exit code (0 ok, 1 failure, 2 usage).
pub fn main(args: &[String]) -> ExitCode {
    match args.first().map(String::as_str) {
        Some("crd") => {
            let documents: Vec<String> = lepton_crds::generate::crds()
                .iter()
                .map(lepton_crds::generate::crd_yaml)
                .collect();
            print!("{}", documents.join("---\n"));
            ExitCode::SUCCESS
        }
        Some("rbac") => {
            let namespace = match args.get(1).map(String::as_str) {
                None => "lepton-system".to_owned(),
                Some("--namespace") => match args.get(2) {
                    Some(ns) => ns.clone(),
                    None => return usage_error("--namespace needs a value"),
                },
                Some(other) => return usage_error(&format!("unknown rbac option `{other}`")),
            };
            print!("{}", crate::rbac::manifests(&namespace));
            ExitCode::SUCCESS
        }
        Some("run") => match parse_run(&args[1..]) {
            Ok(options) => run(options),
            Err(message) => usage_error(&message),
        },
        Some("--version") => {
            println!("lepton-operator {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        Some("-h" | "--help") => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        Some(other) => usage_error(&format!("unknown command `{other}`")),
        None => {
            eprintln!("{USAGE}");
            ExitCode::from(2)
        }
    }
}

fn usage_error(message: &str) -> ExitCode {
    eprintln!("lepton-operator: {message}\n\n{USAGE}");
    ExitCode::from(2)
}

/// Options of `run`.
#[derive(Debug, PartialEq)]
struct RunOptions {
    config: Option<PathBuf>,
    namespaces: Vec<String>,
    metrics_addr: SocketAddr,
    leader_elect: bool,
    lease_namespace: String,
    concurrency: u16,
    json_logs: bool,
}

fn parse_run(args: &[String]) -> Result<RunOptions, String> {
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    let mut options = RunOptions {
        config: env("LEPTON_OPERATOR_CONFIG").map(PathBuf::from),
        namespaces: env("LEPTON_WATCH_NAMESPACES")
            .map(|v| split_list(&v))
            .unwrap_or_default(),
        metrics_addr: SocketAddr::from(([0, 0, 0, 0], 8080)),
        leader_elect: true,
        lease_namespace: env("POD_NAMESPACE").unwrap_or_else(|| "lepton-system".to_owned()),
        concurrency: 16,
        json_logs: env("LEPTON_LOG_FORMAT").is_none_or(|f| f != "text"),
    };
    let mut args = args.iter();
    while let Some(flag) = args.next() {
        let mut value = || {
            args.next()
                .cloned()
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        match flag.as_str() {
            "--config" => options.config = Some(PathBuf::from(value()?)),
            "--namespaces" => options.namespaces = split_list(&value()?),
            "--metrics-addr" => {
                let v = value()?;
                options.metrics_addr = v.parse().map_err(|_| {
                    format!("--metrics-addr takes host:port, for example 0.0.0.0:8080, not `{v}`")
                })?;
            }
            "--leader-elect" => {
                let v = value()?;
                options.leader_elect = v
                    .parse()
                    .map_err(|_| format!("--leader-elect takes true or false, not `{v}`"))?;
            }
            "--lease-namespace" => options.lease_namespace = value()?,
            "--concurrency" => {
                let v = value()?;
                options.concurrency = v.parse().ok().filter(|n| *n > 0).ok_or_else(|| {
                    format!("--concurrency takes a number from 1 to 65535, not `{v}`")
                })?;
            }
            "--log-format" => {
                options.json_logs = match value()?.as_str() {
                    "json" => true,
                    "text" => false,
                    other => return Err(format!("--log-format takes json or text, not `{other}`")),
                }
            }
            other => return Err(format!("unknown run option `{other}`")),
        }
    }
    for namespace in &options.namespaces {
        if !config::is_dns_label(namespace) {
            return Err(format!(
                "`{namespace}` in --namespaces is not a namespace name"
            ));
        }
    }
    Ok(options)
}

fn split_list(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

fn run(options: RunOptions) -> ExitCode {
    telemetry::init_logs(options.json_logs);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("lepton-operator: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        let metrics = Arc::new(Metrics::new());
        let reload_metrics = metrics.clone();
        let config = config::watch(options.config.clone(), Duration::from_secs(10), move |r| {
            reload_metrics.config_reloaded(match r {
                Ok(()) => "ok",
                Err("invalid") => "invalid",
                Err(_) => "unreadable",
            });
        })
        .await?;
        let client = kube::Client::try_default().await.map_err(|e| {
            format!("cannot reach the Kubernetes API server (in-cluster config or KUBECONFIG): {e}")
        })?;
        let (stop, shutdown) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            wait_for_signal().await;
            tracing::info!("shutting down: finishing the reconciles in progress");
            let _ = stop.send(true);
        });
        let settings = Settings {
            namespaces: options.namespaces,
            leader_election: options.leader_elect.then(|| {
                LeaseSettings::new(
                    options.lease_namespace,
                    LeaseSettings::identity_from_environment(),
                )
            }),
            metrics_addr: Some(options.metrics_addr),
            concurrency: options.concurrency,
        };
        runtime::run(client, config, metrics, settings, shutdown).await
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            tracing::error!(%message, "lepton-operator stopped");
            eprintln!("lepton-operator: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let (Ok(mut term), Ok(mut int)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn run_options_parse_and_bad_ones_name_the_flag() {
        let options = parse_run(&args(&[
            "--config",
            "/etc/lepton/config.yaml",
            "--namespaces",
            "ml, research",
            "--metrics-addr",
            "127.0.0.1:9090",
            "--leader-elect",
            "false",
            "--concurrency",
            "4",
            "--log-format",
            "text",
        ]))
        .unwrap();
        assert_eq!(options.namespaces, vec!["ml", "research"]);
        assert_eq!(options.metrics_addr.port(), 9090);
        assert!(!options.leader_elect && !options.json_logs);
        assert_eq!(options.concurrency, 4);
        for (bad, flag) in [
            (vec!["--metrics-addr", "8080"], "--metrics-addr"),
            (vec!["--leader-elect", "yes"], "--leader-elect"),
            (vec!["--concurrency", "0"], "--concurrency"),
            (vec!["--log-format", "xml"], "--log-format"),
            (vec!["--namespaces", "Bad_NS"], "--namespaces"),
            (vec!["--config"], "--config needs a value"),
            (vec!["--verbose"], "--verbose"),
        ] {
            let err = parse_run(&args(&bad)).unwrap_err();
            assert!(err.contains(flag), "{bad:?}: {err}");
        }
    }
}

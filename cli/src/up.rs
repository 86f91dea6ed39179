//! `lepton up`: a local cluster with nothing applied, for `kubectl apply` and scripts. The
//! same API server, controllers and executor as `lepton run`, kept until Ctrl-C.

use std::path::PathBuf;

use crate::args::{self, Spec};
use crate::error::CliError;
use crate::run::local::{LocalCluster, Start};
use crate::run::{self, LocalOptions};
use crate::setup;

/// The usage text of `lepton up`.
pub const USAGE: &str = "usage: lepton up [options]

Starts a local cluster on this machine (an embedded API server, Lepton's controllers and a
local executor that runs pods as processes) and keeps it until Ctrl-C. Apply manifests with
kubectl and the session's kubeconfig:

  lepton up --volume lepton-datasets=examples/data &
  export KUBECONFIG=.lepton/kubeconfig
  kubectl apply --server-side -f examples/credit-default/

options:
  --volume CLAIM=DIR      the local directory behind pvc://CLAIM/... (repeatable)
  --config FILE           operator configuration (node pools, prices); default: local pools
  -n, --namespace NS      the session's default namespace (default: default)
  --session-dir DIR       where the session's files go (default: .lepton)
  --port PORT             the API server's port (default: a free one)
  --runner PATH           the runner program (default: lepton-runner beside lepton)
  --ort-lib PATH          ONNX Runtime's library (default: LEPTON_ORT_LIB, or the
                          onnxruntime package of ./.venv or python3)";

/// Runs `lepton up`.
pub fn command(args: &[String]) -> Result<(), CliError> {
    let parsed = args::parse(
        args,
        &Spec {
            valued: &[
                "--volume",
                "--config",
                "-n",
                "--namespace",
                "--session-dir",
                "--port",
                "--runner",
                "--ort-lib",
            ],
            switches: &[],
        },
    )?;
    if let Some(extra) = parsed.positional.first() {
        return Err(CliError::usage(format!(
            "unexpected argument {extra:?}: `lepton up` applies nothing; use kubectl, or `lepton run -f`"
        )));
    }
    let volumes = parsed
        .values(&["--volume"])
        .iter()
        .map(|v| setup::parse_volume(v))
        .collect::<Result<Vec<_>, _>>()?;
    let port = match parsed.value(&["--port"]) {
        None => 0,
        Some(v) => v
            .parse::<u16>()
            .map_err(|_| CliError::usage(format!("--port {v:?} is not a port number")))?,
    };
    let session_dir = parsed
        .value(&["--session-dir"])
        .map_or_else(|| PathBuf::from(crate::session::DEFAULT_DIR), PathBuf::from);
    let config = parsed.value(&["--config"]).map(PathBuf::from);
    let namespace = parsed
        .value(&["-n", "--namespace"])
        .unwrap_or_else(|| "default".into());
    let prepared = run::prepare_local(&LocalOptions {
        session_dir: &session_dir,
        config: config.as_deref(),
        volumes: &volumes,
        runner: parsed.value(&["--runner"]).as_deref(),
        ort_lib: parsed.value(&["--ort-lib"]).as_deref(),
    })?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::Setup(format!("cannot start the async runtime: {e}")))?;
    runtime.block_on(async move {
        let mut interrupt = run::signals::listen();
        let session = prepared.session;
        let local = LocalCluster::start(Start {
            session: &session,
            config: prepared.config,
            runner: prepared.runner,
            ort: &prepared.ort,
            port,
            namespace: &namespace,
        })
        .await?;
        let kubeconfig = session.kubeconfig();
        eprintln!(
            "lepton up: API server {}; Lepton's controllers are running\n\n  export KUBECONFIG={}\n  kubectl apply --server-side -f examples/credit-default/\n\nCtrl-C stops the cluster and every process it started.",
            local.url(),
            kubeconfig.display()
        );
        let _ = interrupt.wait_for(|i| *i).await;
        eprintln!("\nstopping: every process this cluster started is being terminated");
        local.stop().await;
        session.retire();
        Ok(())
    })
}

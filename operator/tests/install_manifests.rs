//! The plain install manifests (`deploy/install.yaml`, rendered from the Helm chart) agree
//! with the operator: the chart grants exactly the permissions the operator's calls need, its
//! configuration parses and validates, its command line is one the operator accepts, and its
//! prices are what the operator charges.

use std::process::Command;

use lepton_operator::config::{OperatorConfig, Price};
use lepton_operator::rbac;
use serde::Deserialize;

fn install_manifests() -> Vec<serde_json::Value> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/install.yaml");
    let text = std::fs::read_to_string(&path).expect("deploy/install.yaml");
    serde_yaml_ng::Deserializer::from_str(&text)
        .map(|doc| serde_json::Value::deserialize(doc).expect("a YAML document"))
        .filter(|doc| !doc.is_null())
        .collect()
}

fn object<'a>(objects: &'a [serde_json::Value], kind: &str, name: &str) -> &'a serde_json::Value {
    objects
        .iter()
        .find(|o| o["kind"] == kind && o["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("deploy/install.yaml has no {kind} {name}"))
}

/// The chart grants exactly what the operator's calls need: no more, no less.
#[test]
fn the_chart_grants_exactly_the_operators_rules() {
    let objects = install_manifests();
    assert_eq!(
        object(&objects, "ClusterRole", rbac::NAME)["rules"],
        serde_json::to_value(rbac::cluster_role().rules).unwrap(),
        "charts/lepton/templates/_helpers.tpl (lepton.operatorRules) differs from \
         operator/src/rbac.rs; change both, then run `make manifests`"
    );
    assert_eq!(
        object(&objects, "Role", &format!("{}-leader-election", rbac::NAME))["rules"],
        serde_json::to_value(rbac::leader_election_role("lepton-system").rules).unwrap()
    );
}

#[test]
fn the_charts_configuration_is_one_the_operator_accepts() {
    let objects = install_manifests();
    let text = object(&objects, "ConfigMap", "lepton-operator-config")["data"]["config.yaml"]
        .as_str()
        .expect("config.yaml is a string");
    let config = OperatorConfig::parse(text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let prices: Vec<(String, Option<Price>)> = config
        .node_pools
        .iter()
        .map(|p| (p.name.clone(), p.price()))
        .collect();
    assert_eq!(
        prices,
        vec![
            ("cpu-small".to_owned(), Some(Price::PerNodeHour(0.085))),
            ("cpu".to_owned(), Some(Price::PerNodeHour(0.34))),
            ("gpu".to_owned(), Some(Price::PerGpuHour(1.01))),
        ]
    );
    assert_eq!(config.default_node_pool.as_deref(), Some("cpu-small"));
    let version = env!("CARGO_PKG_VERSION");
    assert_eq!(
        config.runner.image,
        format!("ghcr.io/lepton-ai/lepton-runner:{version}"),
        "the chart's appVersion and the operator's version differ: bump charts/lepton/Chart.yaml"
    );
    assert_eq!(
        config.runner.cuda_image,
        format!("ghcr.io/lepton-ai/lepton-runner:{version}-cuda")
    );
    // What the chart leaves out takes the operator's defaults.
    assert_eq!(config.training, OperatorConfig::default().training);
}

#[test]
fn the_deployments_command_line_is_one_the_operator_accepts() {
    let objects = install_manifests();
    let deployment = object(&objects, "Deployment", "lepton-operator");
    let container = &deployment["spec"]["template"]["spec"]["containers"][0];
    let args: Vec<&str> = container["args"]
        .as_array()
        .expect("args")
        .iter()
        .map(|a| a.as_str().expect("a string"))
        .collect();
    assert_eq!(args[0], "run");
    let help = Command::new(env!("CARGO_BIN_EXE_lepton-operator"))
        .arg("--help")
        .output()
        .expect("lepton-operator runs");
    let usage = String::from_utf8_lossy(&help.stdout);
    for arg in &args[1..] {
        let flag = arg.split('=').next().unwrap_or(arg);
        assert!(
            usage.contains(&format!("  {flag} ")),
            "the chart passes {flag}, which `lepton-operator run` does not take:\n{usage}"
        );
    }
    let mount = &container["volumeMounts"][0]["mountPath"];
    assert!(
        args.contains(&format!("--config={}/config.yaml", mount.as_str().unwrap()).as_str()),
        "--config must name the file in the mounted ConfigMap: {args:?}"
    );
    let image = container["image"].as_str().unwrap();
    assert_eq!(
        image,
        format!(
            "ghcr.io/lepton-ai/lepton-operator:{}",
            env!("CARGO_PKG_VERSION")
        )
    );
}

//! The committed CRD YAML (in `crds/` and the Helm chart) and `docs/api.md` are exactly what
//! the generator writes from the Rust types. When this fails, run `make crds` and commit.

mod support;

use support::repo_root;

#[test]
fn committed_generated_files_are_current() {
    let root = repo_root();
    let mut stale = Vec::new();
    for (relative, expected) in lepton_crds::generate::generated_files() {
        match std::fs::read_to_string(root.join(&relative)) {
            Ok(actual) if actual == expected => {}
            Ok(_) => stale.push(format!("{relative} differs from the generator's output")),
            Err(e) => stale.push(format!("{relative} cannot be read: {e}")),
        }
    }
    assert!(
        stale.is_empty(),
        "{}\nrun `make crds` and commit the result",
        stale.join("\n")
    );
}

#[test]
fn the_chart_and_crds_dir_hold_the_same_crds_and_nothing_else() {
    let root = repo_root();
    let listed = |dir: &str| -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(root.join(dir))
            .unwrap_or_else(|e| panic!("{dir}: {e}"))
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".yaml"))
            .collect();
        names.sort();
        names
    };
    let mut expected: Vec<String> = lepton_crds::generate::crds()
        .iter()
        .map(lepton_crds::generate::crd_file_name)
        .collect();
    expected.sort();
    assert_eq!(listed("crds"), expected);
    assert_eq!(listed("charts/lepton/crds"), expected);
}

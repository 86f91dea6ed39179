use super::*;

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(path)
}

fn scratch(name: &str, files: &[(&str, &str)]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("lepton-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for (file, text) in files {
        std::fs::write(dir.join(file), text).unwrap();
    }
    dir
}

const JOB: &str = "apiVersion: lepton.ai/v1alpha1
kind: TrainingJob
metadata: {name: job}
spec:
  data: {source: file:///data/Default.csv, target: default}
";

#[test]
fn every_invalid_fixture_is_refused_with_the_crd_validation_message() {
    let dir = repo("tests/fixtures/invalid");
    let mut checked = 0;
    for file in files(&dir).unwrap() {
        let text = std::fs::read_to_string(&file).unwrap();
        if text.contains("\n---") {
            // An update of an earlier document (a transition rule): a run applies each name once.
            continue;
        }
        let expected = text
            .lines()
            .find_map(|l| l.strip_prefix("# expect: "))
            .expect("each fixture says what it expects");
        let error = load(std::slice::from_ref(&file), "default").unwrap_err();
        assert!(matches!(error, CliError::Input(_)));
        let message = error.to_string();
        assert!(
            message.contains(expected) && message.contains(&file.display().to_string()),
            "{}: {message}",
            file.display()
        );
        checked += 1;
    }
    assert!(checked > 20, "{checked}");
}

#[test]
fn the_examples_are_admitted_in_apply_order() {
    let manifests = load(&[repo("examples/credit-default")], "default").unwrap();
    let kinds: Vec<Kind> = manifests.iter().map(|m| m.kind).collect();
    assert!(kinds.windows(2).all(|w| w[0] <= w[1]), "{kinds:?}");
    assert!(kinds.contains(&Kind::ModelDeployment));
    for m in &manifests {
        assert_eq!(m.object["metadata"]["namespace"], "default");
    }
}

#[test]
fn multi_document_files_name_the_document() {
    let bad = format!("{JOB}---\n{}", JOB.replace("name: job", "name: Bad_Name"));
    let dir = scratch("multi", &[("pipeline.yaml", &bad)]);
    let message = load(std::slice::from_ref(&dir), "default")
        .unwrap_err()
        .to_string();
    assert!(message.contains("pipeline.yaml (document 2)"), "{message}");
    assert!(
        message.contains("metadata.name: Invalid value: \"Bad_Name\""),
        "{message}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn other_kinds_duplicates_and_dangling_references_are_refused_together() {
    let md = "apiVersion: lepton.ai/v1alpha1
kind: ModelDeployment
metadata: {name: serve}
spec:
  model:
    tuningSweep: {name: missing-sweep, select: best}
";
    let pod = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n";
    let dir = scratch(
        "refs",
        &[
            ("a.yaml", JOB),
            ("b.yaml", JOB),
            ("c.yaml", md),
            ("d.yaml", pod),
        ],
    );
    let message = load(std::slice::from_ref(&dir), "default")
        .unwrap_err()
        .to_string();
    assert!(
        message.contains("b.yaml: a second TrainingJob named \"job\""),
        "{message}"
    );
    assert!(
        message.contains(
            "spec.model.tuningSweep.name: the TuningSweep \"missing-sweep\" is in none of the files"
        ),
        "{message}"
    );
    assert!(message.contains("d.yaml: kind Pod"), "{message}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn unreadable_or_empty_input_says_which() {
    let message = load(&[PathBuf::from("/nonexistent/x.yaml")], "default")
        .unwrap_err()
        .to_string();
    assert!(message.starts_with("-f /nonexistent/x.yaml"), "{message}");
    let dir = scratch("empty", &[("notes.txt", "hi")]);
    let message = load(std::slice::from_ref(&dir), "default")
        .unwrap_err()
        .to_string();
    assert!(message.contains("holds no .yaml"), "{message}");
    std::fs::write(dir.join("broken.yaml"), "kind: [unclosed").unwrap();
    let message = load(std::slice::from_ref(&dir), "default")
        .unwrap_err()
        .to_string();
    assert!(message.contains("broken.yaml: not valid YAML"), "{message}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_run_follows_one_namespace() {
    let other = JOB.replace(
        "metadata: {name: job}",
        "metadata: {name: job, namespace: ml}",
    );
    let dir = scratch("namespace", &[("job.yaml", &other)]);
    let message = load(std::slice::from_ref(&dir), "default")
        .unwrap_err()
        .to_string();
    assert!(
        message.contains("metadata.namespace \"ml\"") && message.contains("run with -n ml"),
        "{message}"
    );
    assert_eq!(load(std::slice::from_ref(&dir), "ml").unwrap().len(), 1);
    let _ = std::fs::remove_dir_all(dir);
}

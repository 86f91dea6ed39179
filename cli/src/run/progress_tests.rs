use super::*;
use serde_json::json;

fn observed() -> Observed {
    let job = |name: &str, labels: serde_json::Value, status: serde_json::Value| -> TrainingJob {
        serde_json::from_value(json!({
            "apiVersion": "lepton.ai/v1alpha1", "kind": "TrainingJob",
            "metadata": {"name": name, "namespace": "default", "labels": labels},
            "spec": {"data": {"source": "file:///d.csv", "target": "y"}},
            "status": status,
        }))
        .unwrap()
    };
    Observed {
        jobs: vec![
            job("train", json!({}), json!({"phase": "Running",
                "progress": {"step": 12, "totalSteps": 24, "metrics": {"auc": 0.95123}},
                "cost": {"total": 0.00042, "currency": "USD"}})),
            job("sweep-t3", json!({"lepton.ai/tuning-sweep": "sweep"}),
                json!({"phase": "Running", "progress": {"step": 1, "totalSteps": 3}})),
            job("sweep-t1", json!({"lepton.ai/tuning-sweep": "sweep"}), json!({"phase": "Succeeded"})),
        ],
        sweeps: vec![serde_json::from_value(json!({
            "apiVersion": "lepton.ai/v1alpha1", "kind": "TuningSweep",
            "metadata": {"name": "sweep", "namespace": "default"},
            "spec": {
                "objective": {"metric": "auc", "goal": "maximize"},
                "algorithm": {"type": "random"},
                "parameters": [{"name": "learningRate", "type": "double", "min": 0.001, "max": 0.1}],
                "maxTrials": 12,
                "template": {"spec": {"data": {"source": "file:///d.csv", "target": "y"}}},
            },
            "status": {"phase": "Running",
                "trials": {"created": 5, "running": 1, "succeeded": 3, "earlyStopped": 1},
                "bestTrial": {"name": "sweep-t1", "objective": 0.9561}},
        }))
        .unwrap()],
        deployments: vec![serde_json::from_value(json!({
            "apiVersion": "lepton.ai/v1alpha1", "kind": "ModelDeployment",
            "metadata": {"name": "serve", "namespace": "default"},
            "spec": {"model": {"trainingJob": "train"}},
            "status": {"phase": "Ready", "replicas": 1, "readyReplicas": 1,
                "model": {"source": "trainingJob/train"},
                "metrics": {"latencyP50Ms": 0.21, "latencyP99Ms": 0.9, "driftScore": 0.0123},
                "conditions": [{"type": "Ready", "status": "True", "reason": "EndpointReady",
                    "message": "", "lastTransitionTime": "2026-01-01T00:00:00Z"}]},
        }))
        .unwrap()],
    }
}

fn applied() -> Vec<(Kind, String)> {
    vec![
        (Kind::TrainingJob, "train".into()),
        (Kind::TuningSweep, "sweep".into()),
        (Kind::ModelDeployment, "serve".into()),
    ]
}

#[test]
fn each_resource_shows_what_a_person_checks_first() {
    let lines = lines(&applied(), &observed());
    let texts: Vec<&str> = lines.iter().map(|l| l.text.as_str()).collect();
    assert_eq!(lines.len(), 4, "{texts:#?}");
    assert!(texts[0].starts_with("trainingjob/train "), "{}", texts[0]);
    assert!(texts[0].contains("████████░░░░░░░░] 12/24"), "{}", texts[0]);
    assert!(
        texts[0].contains("auc 0.9512") && texts[0].contains("$0.000420"),
        "{}",
        texts[0]
    );
    assert!(
        texts[1].contains("4/12 trials: 3 ok, 1 running, 1 stopped"),
        "{}",
        texts[1]
    );
    assert!(
        texts[1].contains("best auc 0.9561 (sweep-t1)"),
        "{}",
        texts[1]
    );
    assert!(
        texts[2].contains("↳ sweep-t3") && texts[2].contains("1/3"),
        "{}",
        texts[2]
    );
    assert!(
        texts[3].contains("1/1 replicas") && texts[3].contains("p50 0.210 ms"),
        "{}",
        texts[3]
    );
    assert!(texts[3].contains("drift 0.012"), "{}", texts[3]);
}

#[test]
fn plain_output_changes_only_at_milestones() {
    let mut observed = observed();
    let before = lines(&applied(), &observed);
    observed.jobs[0]
        .status
        .as_mut()
        .unwrap()
        .progress
        .as_mut()
        .unwrap()
        .step = Some(13);
    let after = lines(&applied(), &observed);
    assert_ne!(before[0].text, after[0].text);
    assert_eq!(
        before[0].milestone, after[0].milestone,
        "13/24 is still the second quarter"
    );
    observed.jobs[0]
        .status
        .as_mut()
        .unwrap()
        .progress
        .as_mut()
        .unwrap()
        .step = Some(18);
    assert_ne!(
        before[0].milestone,
        lines(&applied(), &observed)[0].milestone
    );
    assert!(
        after[2].milestone.is_empty(),
        "trial lines are not printed in plain output"
    );
}

#[test]
fn resources_not_yet_seen_are_pending() {
    let lines = lines(&applied(), &Observed::default());
    assert!(
        lines.iter().all(|l| l.text.ends_with("Pending")),
        "{lines:#?}"
    );
}

//! The Lepton kinds: admission against their CRD (types, bounds, required fields, enums,
//! defaults, CEL rules with `oldSelf`), the status subresource and generation.

use kube::Client;
use kube::api::{Api, ApiResource, DynamicObject, Patch, PatchParams, PostParams};
use lepton_crds::admission::lepton_validators;
use lepton_crds::v1alpha1::TrainingJob;
use serde_json::{Value, json};

use crate::support::status_of;

fn training_job(name: &str, data: Value) -> Value {
    json!({
        "apiVersion": "lepton.ai/v1alpha1",
        "kind": "TrainingJob",
        "metadata": {"name": name},
        "spec": {"data": data},
    })
}

fn dynamic(value: Value) -> DynamicObject {
    serde_json::from_value(value).expect("a dynamic object")
}

fn api(client: Client, ns: &str) -> Api<DynamicObject> {
    Api::namespaced_with(client, ns, &ApiResource::erase::<TrainingJob>(&()))
}

pub async fn lepton_kinds_are_admitted_against_their_crd(client: Client, ns: String) {
    let api = api(client, &ns);
    let pp = PostParams::default();
    let valid = training_job(
        "tj",
        json!({"source": "pvc://datasets/islp/Default.csv", "target": "default"}),
    );
    let created = api
        .create(&pp, &dynamic(valid.clone()))
        .await
        .expect("a valid TrainingJob");
    let validators = lepton_validators();
    let offline = validators
        .iter()
        .find(|v| v.kind() == "TrainingJob")
        .unwrap()
        .admit_create(&valid)
        .unwrap();
    assert_eq!(
        created.data["spec"], offline["spec"],
        "defaults are applied as the CRD says"
    );
    assert!(
        created.data["spec"]["model"].is_object(),
        "{}",
        created.data["spec"]
    );

    let missing = status_of(
        api.create(
            &pp,
            &dynamic(training_job(
                "no-target",
                json!({"source": "pvc://d/x.csv"}),
            )),
        )
        .await,
    );
    assert_eq!((missing.code, missing.reason.as_str()), (422, "Invalid"));
    let causes = missing.details.expect("details").causes;
    assert!(
        causes.iter().any(|c| c.field == "spec.data.target"),
        "{causes:?}"
    );

    let mut bad_enum = training_job(
        "bad-enum",
        json!({"source": "pvc://d/x.csv", "target": "y"}),
    );
    bad_enum["spec"]["model"] = json!({"family": "xgboost"});
    let refused = status_of(api.create(&pp, &dynamic(bad_enum)).await);
    assert_eq!(refused.code, 422);
    let causes = refused.details.expect("details").causes;
    assert!(
        causes.iter().any(|c| c.field == "spec.model.family"),
        "{causes:?}"
    );

    let out_of_bounds = training_job(
        "bounds",
        json!({"source": "pvc://d/x.csv", "target": "y", "validationFraction": 0.9}),
    );
    let refused = status_of(api.create(&pp, &dynamic(out_of_bounds)).await);
    assert_eq!(refused.code, 422);
    assert!(
        refused.message.contains("spec.data.validationFraction"),
        "{}",
        refused.message
    );

    // CEL transition rule: the target is immutable.
    let mut changed = created.clone();
    changed.data["spec"]["data"]["target"] = json!("student");
    let refused = status_of(api.replace("tj", &pp, &changed).await);
    assert_eq!(refused.code, 422);
    assert!(refused.message.contains("immutable"), "{}", refused.message);

    // Custom resources refuse updates without a resourceVersion.
    let mut unconditional = created.clone();
    unconditional.metadata.resource_version = None;
    let refused = status_of(api.replace("tj", &pp, &unconditional).await);
    assert_eq!(refused.code, 422);
}

pub async fn lepton_status_and_generation(client: Client, ns: String) {
    let api = api(client, &ns);
    let pp = PostParams::default();
    let mut with_status = training_job("st", json!({"source": "pvc://d/x.csv", "target": "y"}));
    with_status["status"] = json!({"phase": "Running"});
    let created = api
        .create(&pp, &dynamic(with_status))
        .await
        .expect("create");
    assert!(
        created
            .data
            .get("status")
            .is_none_or(|s| s.get("phase").is_none())
    );
    assert_eq!(created.metadata.generation, Some(1));

    let patched = api
        .patch_status(
            "st",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"phase": "Running"}})),
        )
        .await
        .expect("patch status");
    assert_eq!(patched.data["status"]["phase"], "Running");
    assert_eq!(
        patched.metadata.generation,
        Some(1),
        "status changes keep the generation"
    );

    // Status writes are held to the status schema too.
    let bogus = json!({"status": {"phase": "Bogus"}});
    let refused = status_of(
        api.patch_status("st", &PatchParams::default(), &Patch::Merge(&bogus))
            .await,
    );
    assert_eq!((refused.code, refused.reason.as_str()), (422, "Invalid"));
    let causes = refused.details.expect("details").causes;
    assert!(
        causes.iter().any(|c| c.field == "status.phase"),
        "{causes:?}"
    );

    let mut main = patched.clone();
    main.data["status"] = json!({"phase": "Failed"});
    main.metadata.labels = Some([("seen".to_owned(), "yes".to_owned())].into());
    let replaced = api.replace("st", &pp, &main).await.expect("replace");
    assert_eq!(
        replaced.data["status"]["phase"], "Running",
        "status is ignored on the main resource"
    );
    assert_eq!(replaced.metadata.generation, Some(1));

    let respec = api
        .patch(
            "st",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"model": {"seed": 7}}})),
        )
        .await
        .expect("spec change");
    assert_eq!(respec.metadata.generation, Some(2));
}

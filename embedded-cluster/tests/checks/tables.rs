//! Server-side printing: `Accept: application/json;as=Table;g=meta.k8s.io;v=v1`, as
//! `kubectl get` sends it, answers a `Table` with the kind's columns, one row per object and
//! the object (by default its metadata) in each row.

use k8s_openapi::api::core::v1::ConfigMap;
use kube::Client;
use kube::api::{Api, ApiResource, DynamicObject, Patch, PatchParams, PostParams};
use lepton_crds::v1alpha1::TrainingJob;
use serde_json::{Value, json};

const TABLE: &str = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";

async fn table(client: &Client, path: &str) -> Value {
    let request = http::Request::get(path)
        .header(http::header::ACCEPT, TABLE)
        .body(Vec::new())
        .expect("a request");
    client.request::<Value>(request).await.expect("a Table")
}

fn column_names(table: &Value) -> Vec<&str> {
    table["columnDefinitions"]
        .as_array()
        .expect("column definitions")
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect()
}

pub async fn tables_print_the_printer_columns(client: Client, ns: String) {
    let jobs: Api<DynamicObject> =
        Api::namespaced_with(client.clone(), &ns, &ApiResource::erase::<TrainingJob>(&()));
    let job: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "lepton.ai/v1alpha1",
        "kind": "TrainingJob",
        "metadata": {"name": "printed"},
        "spec": {"data": {"source": "pvc://d/x.csv", "target": "y"}},
    }))
    .unwrap();
    jobs.create(&PostParams::default(), &job).await.unwrap();
    let status =
        json!({"status": {"phase": "Succeeded", "objective": {"metric": "auc", "value": 0.93}}});
    jobs.patch_status("printed", &PatchParams::default(), &Patch::Merge(status))
        .await
        .unwrap();

    let collection = format!("/apis/lepton.ai/v1alpha1/namespaces/{ns}/trainingjobs");
    let list = table(&client, &collection).await;
    assert_eq!(
        (&list["kind"], &list["apiVersion"]),
        (&json!("Table"), &json!("meta.k8s.io/v1"))
    );
    assert!(list["metadata"]["resourceVersion"].is_string(), "{list}");
    assert_eq!(
        column_names(&list),
        [
            "Name", "Phase", "Metric", "Score", "Cost", "Family", "P50-ms", "Age"
        ]
    );
    let columns = &list["columnDefinitions"];
    assert_eq!(
        (&columns[0]["format"], &columns[0]["type"]),
        (&json!("name"), &json!("string"))
    );
    assert_eq!(
        (&columns[3]["type"], &columns[5]["priority"]),
        (&json!("number"), &json!(1))
    );
    assert_eq!(
        (&columns[7]["type"], &columns[1]["priority"]),
        (&json!("date"), &json!(0))
    );
    let row = &list["rows"][0];
    let cells = row["cells"].as_array().expect("cells");
    assert_eq!(cells.len(), 8);
    assert_eq!(
        cells[..4],
        [
            json!("printed"),
            json!("Succeeded"),
            json!("auc"),
            json!(0.93)
        ]
    );
    assert_eq!(cells[4], Value::Null, "no cost");
    let age = cells[7].as_str().expect("the age, worded by the server");
    assert!(age.ends_with('s'), "{age}");
    assert_eq!(row["object"]["kind"], "PartialObjectMetadata");
    assert_eq!(row["object"]["metadata"]["name"], "printed");
    assert!(row["object"].get("spec").is_none());

    let whole = table(&client, &format!("{collection}?includeObject=Object")).await;
    assert_eq!(whole["rows"][0]["object"]["spec"]["data"]["target"], "y");
    let bare = table(&client, &format!("{collection}?includeObject=None")).await;
    assert!(
        bare["rows"][0].get("object").is_none_or(Value::is_null),
        "{bare}"
    );
    let one = table(&client, &format!("{collection}/printed")).await;
    assert_eq!(one["rows"].as_array().map(Vec::len), Some(1));
    assert_eq!(one["rows"][0]["cells"][1], "Succeeded");

    let maps: Api<ConfigMap> = Api::namespaced(client.clone(), &ns);
    maps.create(
        &PostParams::default(),
        &super::config_map("settings", &[], &[("a", "1"), ("b", "2")]),
    )
    .await
    .unwrap();
    let maps = table(
        &client,
        &format!("/api/v1/namespaces/{ns}/configmaps?fieldSelector=metadata.name%3Dsettings"),
    )
    .await;
    assert_eq!(column_names(&maps), ["Name", "Data", "Age"]);
    let cells = maps["rows"][0]["cells"].as_array().expect("cells");
    assert_eq!(cells[..2], [json!("settings"), json!(2)]);
}

//! The embedded API server held to the Kubernetes API conventions. Every check in `checks/`
//! runs against the embedded cluster; with `LEPTON_E2E_KUBECONFIG` set, the same checks also
//! run against that (real) cluster, so the fake is held against the real thing. Without it
//! the real-cluster test is skipped, unless `LEPTON_E2E_REQUIRE=1`, when it fails.

mod checks;
mod support;

use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DeleteParams, ObjectMeta, Patch, PatchParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};
use std::time::Duration;

/// A client for the real cluster, or `None` when none is configured and none is required.
async fn real_cluster() -> Option<Client> {
    let required = std::env::var("LEPTON_E2E_REQUIRE").is_ok_and(|v| v == "1");
    let Ok(path) = std::env::var("LEPTON_E2E_KUBECONFIG") else {
        assert!(
            !required,
            "LEPTON_E2E_REQUIRE=1 but LEPTON_E2E_KUBECONFIG is not set"
        );
        eprintln!("skipping the real-cluster conformance run: LEPTON_E2E_KUBECONFIG is not set");
        return None;
    };
    let kubeconfig = Kubeconfig::read_from(&path).expect("LEPTON_E2E_KUBECONFIG is readable");
    let config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .expect("a usable kubeconfig");
    Some(Client::try_from(config).expect("a client for the real cluster"))
}

/// Installs (or updates) Lepton's CRDs and waits until they are served.
async fn install_crds(client: &Client) {
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    let apply = PatchParams::apply("lepton-conformance").force();
    for crd in lepton_crds::generate::crds() {
        let name = crd.metadata.name.clone().unwrap();
        let body = lepton_crds::generate::crd_json(&crd);
        api.patch(&name, &apply, &Patch::Apply(&body))
            .await
            .expect("install CRD");
        support::eventually(
            Duration::from_secs(60),
            "the CRD to be established",
            || async {
                let crd = api.get(&name).await.ok()?;
                crd.status?
                    .conditions?
                    .iter()
                    .any(|c| c.type_ == "Established" && c.status == "True")
                    .then_some(())
            },
        )
        .await;
    }
}

async fn create_namespace(client: &Client, name: &str) {
    let api: Api<Namespace> = Api::all(client.clone());
    let ns = Namespace {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            ..ObjectMeta::default()
        },
        ..Namespace::default()
    };
    api.create(&PostParams::default(), &ns)
        .await
        .expect("create namespace");
}

async fn delete_namespace(client: &Client, name: &str) {
    let api: Api<Namespace> = Api::all(client.clone());
    let _ = api.delete(name, &DeleteParams::background()).await;
}

macro_rules! conformance {
    ($($module:ident :: $check:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $check() {
                let (_cluster, client) = support::embedded().await;
                let ns = support::unique(stringify!($check).split('_').next().unwrap_or("check"));
                create_namespace(&client, &ns).await;
                checks::$module::$check(client, ns).await;
            }
        )*

        #[tokio::test]
        async fn every_check_against_a_real_cluster() {
            let Some(client) = real_cluster().await else { return };
            install_crds(&client).await;
            $(
                let ns = support::unique("lepton-conformance");
                create_namespace(&client, &ns).await;
                eprintln!("real cluster: {} in {ns}", stringify!($check));
                checks::$module::$check(client.clone(), ns.clone()).await;
                delete_namespace(&client, &ns).await;
            )*
        }
    };
}

conformance!(
    crud::create_get_list_replace_delete,
    crud::generate_name_and_invalid_names,
    crud::stale_resource_version_conflicts,
    crud::generation_tracks_spec_changes_only,
    crud::status_subresource_separates_spec_and_status,
    selectors::label_and_field_selectors,
    selectors::limit_and_continue_page_through_a_list,
    watch::watch_sees_changes_in_order,
    watch::watch_resumes_from_a_version,
    watch::watch_with_selector_sees_objects_enter_and_leave,
    watch::watch_ends_after_timeout_seconds,
    patch::merge_patch_sets_and_removes_fields,
    patch::json_patch_applies_all_or_nothing,
    apply::apply_tracks_managers_and_conflicts,
    apply::apply_to_status_leaves_spec_alone,
    lifecycle::finalizers_hold_deletion_until_removed,
    lifecycle::background_deletion_collects_dependents,
    lifecycle::foreground_deletion_waits_for_dependents,
    lifecycle::orphan_deletion_keeps_dependents,
    lepton::lepton_kinds_are_admitted_against_their_crd,
    lepton::lepton_status_and_generation,
    tables::tables_print_the_printer_columns,
);

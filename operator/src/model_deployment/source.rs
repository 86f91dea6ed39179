//! Which model a ModelDeployment serves: resolved from a TrainingJob's results, or a URI with
//! its digest. Pure; the reconcile looks the TrainingJob up and passes it in.

use lepton_crds::status::model_deployment::reasons;
use lepton_crds::v1alpha1::{
    ConcreteModelFamily, ModelSource, S3Options, ServedModel, TrainingJob, TrainingJobPhase,
    TuningSweep,
};

/// A model that can be served.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelRef {
    /// `trainingJob/<name>` or `uri`.
    pub source: String,
    /// Location of `model.onnx`.
    pub uri: String,
    /// Its expected SHA-256, when known.
    pub sha256: Option<String>,
    /// Its family, when known.
    pub family: Option<ConcreteModelFamily>,
    /// Object-store settings for an `s3://` uri.
    pub s3: Option<S3Options>,
}

impl ModelRef {
    /// As shown in the status.
    pub fn served(&self) -> ServedModel {
        ServedModel {
            source: Some(self.source.clone()),
            uri: Some(self.uri.clone()),
            sha256: self.sha256.clone(),
            family: self.family,
        }
    }
}

/// The outcome of resolving a model source.
#[derive(Clone, Debug, PartialEq)]
pub enum Resolution {
    /// Serve this.
    Ready(ModelRef),
    /// Not yet: the message says what it waits for.
    Waiting(String),
    /// Cannot be served (`reason` is a ModelLoaded reason).
    Unavailable {
        /// Condition reason.
        reason: &'static str,
        /// What is wrong and what to do.
        message: String,
    },
}

/// What the cluster holds for a `tuningSweep` source.
#[derive(Clone, Copy, Debug, Default)]
pub struct SweepView<'a> {
    /// The sweep, if it exists.
    pub sweep: Option<&'a TuningSweep>,
    /// Its trials.
    pub trials: &'a [TrainingJob],
    /// The model the deployment (or its canary) serves now.
    pub serving: Option<&'a ServedModel>,
}

/// Resolves `source` (the spec field at `field`) given the TrainingJob or the TuningSweep it
/// names, if any.
pub fn resolve(
    source: &ModelSource,
    field: &str,
    training_job: Option<&TrainingJob>,
    sweep: SweepView<'_>,
) -> Resolution {
    if let Some(name) = &source.training_job {
        return from_training_job(name, field, training_job);
    }
    if let Some(selection) = &source.tuning_sweep {
        return super::sweep_source::resolve(
            selection,
            field,
            sweep.sweep,
            sweep.trials,
            sweep.serving,
        );
    }
    match &source.uri {
        Some(uri) => Resolution::Ready(ModelRef {
            source: "uri".to_owned(),
            uri: uri.clone(),
            sha256: source.sha256.clone(),
            family: None,
            s3: source.s3.clone(),
        }),
        None => Resolution::Unavailable {
            reason: reasons::INVALID_SPEC,
            message: format!("{field} names no model: set trainingJob, tuningSweep or uri"),
        },
    }
}

fn from_training_job(name: &str, field: &str, tj: Option<&TrainingJob>) -> Resolution {
    let Some(tj) = tj else {
        return Resolution::Waiting(format!(
            "waiting for TrainingJob {name} ({field}.trainingJob), which does not exist yet"
        ));
    };
    let status = tj.status.clone().unwrap_or_default();
    match status.phase {
        Some(TrainingJobPhase::Succeeded) => {}
        Some(TrainingJobPhase::Failed) => {
            let why = status
                .conditions
                .iter()
                .find(|c| c.type_ == "Failed")
                .map(|c| format!("{}: {}", c.reason, c.message))
                .unwrap_or_default();
            return Resolution::Unavailable {
                reason: reasons::MODEL_UNAVAILABLE,
                message: format!(
                    "TrainingJob {name} failed ({why}); fix and recreate it, or point \
                     {field} at another model"
                ),
            };
        }
        phase => {
            let phase = phase.map_or("Pending".to_owned(), |p| format!("{p:?}"));
            return Resolution::Waiting(format!(
                "waiting for TrainingJob {name} to finish (it is {phase})"
            ));
        }
    }
    let model = status.model.unwrap_or_default();
    match model.uri {
        Some(uri) => Resolution::Ready(ModelRef {
            source: format!("trainingJob/{name}"),
            uri,
            sha256: model.sha256,
            family: model.family,
            s3: tj.spec.output.as_ref().and_then(|o| o.s3.clone()),
        }),
        None => Resolution::Unavailable {
            reason: reasons::MODEL_UNAVAILABLE,
            message: format!(
                "TrainingJob {name} succeeded but its status has no model.uri (its results were \
                 lost); retrain it"
            ),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::training_job::tests::training_job;
    use lepton_crds::v1alpha1::{ModelArtifact, TrainingJobStatus};

    fn by_job(name: &str) -> ModelSource {
        ModelSource {
            training_job: Some(name.into()),
            ..ModelSource::default()
        }
    }

    fn job_in(phase: TrainingJobPhase, model: Option<ModelArtifact>) -> TrainingJob {
        let mut tj = training_job(
            "credit",
            "output: {uri: 's3://m/x/', s3: {endpoint: 'http://minio:9000'}}",
        );
        tj.status = Some(TrainingJobStatus {
            phase: Some(phase),
            model,
            ..TrainingJobStatus::default()
        });
        tj
    }

    #[test]
    fn a_succeeded_job_gives_its_model_and_digest() {
        let tj = job_in(
            TrainingJobPhase::Succeeded,
            Some(ModelArtifact {
                uri: Some("s3://m/x/model.onnx".into()),
                sha256: Some("ab".repeat(32)),
                family: Some(ConcreteModelFamily::Gbdt),
                ..ModelArtifact::default()
            }),
        );
        let Resolution::Ready(model) = resolve(
            &by_job("credit"),
            "spec.model",
            Some(&tj),
            SweepView::default(),
        ) else {
            panic!("not ready");
        };
        assert_eq!(model.source, "trainingJob/credit");
        assert_eq!(model.uri, "s3://m/x/model.onnx");
        assert_eq!(model.sha256.as_deref(), Some(&*"ab".repeat(32)));
        assert_eq!(
            model.s3.unwrap().endpoint.as_deref(),
            Some("http://minio:9000")
        );
    }

    #[test]
    fn a_missing_or_running_job_is_waited_for() {
        let missing = resolve(&by_job("credit"), "spec.model", None, SweepView::default());
        assert!(matches!(missing, Resolution::Waiting(m) if m.contains("does not exist yet")));
        let running = job_in(TrainingJobPhase::Running, None);
        let waiting = resolve(
            &by_job("credit"),
            "spec.model",
            Some(&running),
            SweepView::default(),
        );
        assert!(matches!(waiting, Resolution::Waiting(m) if m.contains("it is Running")));
    }

    #[test]
    fn failed_jobs_lost_results_and_empty_sources_are_unavailable_and_missing_sweeps_awaited() {
        let failed = job_in(TrainingJobPhase::Failed, None);
        assert!(matches!(
            resolve(
                &by_job("credit"),
                "spec.model",
                Some(&failed),
                SweepView::default()
            ),
            Resolution::Unavailable {
                reason: reasons::MODEL_UNAVAILABLE,
                ..
            }
        ));
        let no_model = job_in(TrainingJobPhase::Succeeded, None);
        assert!(matches!(
            resolve(&by_job("credit"), "spec.model", Some(&no_model), SweepView::default()),
            Resolution::Unavailable { message, .. } if message.contains("no model.uri")
        ));
        let sweep: ModelSource =
            serde_json::from_value(serde_json::json!({"tuningSweep": {"name": "s"}})).unwrap();
        assert!(matches!(
            resolve(&sweep, "spec.canary.model", None, SweepView::default()),
            Resolution::Waiting(message) if message.contains("spec.canary.model.tuningSweep")
        ));
        assert!(matches!(
            resolve(
                &ModelSource::default(),
                "spec.model",
                None,
                SweepView::default()
            ),
            Resolution::Unavailable {
                reason: reasons::INVALID_SPEC,
                ..
            }
        ));
    }

    #[test]
    fn a_uri_is_served_as_given() {
        let source = ModelSource {
            uri: Some("https://models.example.com/m.onnx".into()),
            sha256: Some("cd".repeat(32)),
            ..ModelSource::default()
        };
        let Resolution::Ready(model) = resolve(&source, "spec.model", None, SweepView::default())
        else {
            panic!()
        };
        assert_eq!(model.source, "uri");
        assert_eq!(model.served().sha256.as_deref(), Some(&*"cd".repeat(32)));
    }
}

//! A ModelDeployment with its serving figures over time.

use lepton_crds::v1alpha1::{ModelDeployment, SelectionPolicy, ServingMetrics};

use crate::ServingSample;

/// Where the served model came from, parsed from `status.model.source`.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Served {
    Trial { sweep: String, trial: String },
    Job(String),
    Other(String),
}

impl Served {
    fn parse(source: &str) -> Served {
        match source.split_once('/') {
            Some(("tuningSweep", rest)) => match rest.split_once('/') {
                Some((sweep, trial)) => Served::Trial {
                    sweep: sweep.to_owned(),
                    trial: trial.to_owned(),
                },
                None => Served::Other(source.to_owned()),
            },
            Some(("trainingJob", name)) => Served::Job(name.to_owned()),
            _ => Served::Other(source.to_owned()),
        }
    }

    /// The model's name as a reader knows it: the trial or job, or the source as written.
    pub(crate) fn model_name(&self) -> &str {
        match self {
            Served::Trial { trial, .. } => trial,
            Served::Job(name) | Served::Other(name) => name,
        }
    }
}

/// A deployment as the report draws it.
#[derive(Clone, Debug)]
pub(crate) struct Deployment {
    pub(crate) name: String,
    /// False for a name known only from serving samples.
    pub(crate) listed: bool,
    pub(crate) phase: Option<String>,
    pub(crate) replicas: Option<i32>,
    pub(crate) ready_replicas: Option<i32>,
    pub(crate) served: Option<Served>,
    pub(crate) policy: Option<String>,
    pub(crate) latency_slo_ms: Option<f64>,
    pub(crate) drift_threshold: Option<f64>,
    /// `status.metrics`, or else the last sample's.
    pub(crate) latest: Option<ServingMetrics>,
    /// (seconds, figures), oldest first.
    pub(crate) samples: Vec<(f64, ServingMetrics)>,
}

impl Deployment {
    /// Reads `md` with the samples taken of it.
    pub(crate) fn read(md: &ModelDeployment, samples: &[ServingSample]) -> Deployment {
        let name = md
            .metadata
            .name
            .clone()
            .unwrap_or_else(|| "(unnamed)".to_owned());
        let status = md.status.clone().unwrap_or_default();
        let monitoring = &md.spec.monitoring;
        let policy = md.spec.model.tuning_sweep.as_ref().map(|s| {
            let select = match s.select {
                SelectionPolicy::Best => "best",
                SelectionPolicy::FastestWithin => "fastestWithin",
                SelectionPolicy::CheapestWithin => "cheapestWithin",
            };
            match s.tolerance.filter(|t| t.is_finite()) {
                Some(t) => format!("{select} {}", crate::format::num(t)),
                None => select.to_owned(),
            }
        });
        let samples = samples_of(&name, samples);
        Deployment {
            listed: true,
            phase: status.phase.map(|p| format!("{p:?}")),
            replicas: status.replicas,
            ready_replicas: status.ready_replicas,
            served: status
                .model
                .and_then(|m| m.source)
                .map(|s| Served::parse(&s)),
            policy,
            latency_slo_ms: monitoring.latency_slo_ms.filter(|v| v.is_finite()),
            drift_threshold: Some(monitoring.drift_threshold).filter(|v| v.is_finite()),
            latest: status
                .metrics
                .or_else(|| samples.last().map(|(_, m)| m.clone())),
            samples,
            name,
        }
    }

    /// A deployment seen only in the samples (the record lacks its resource).
    pub(crate) fn unlisted(name: &str, samples: &[ServingSample]) -> Deployment {
        let samples = samples_of(name, samples);
        Deployment {
            name: name.to_owned(),
            listed: false,
            phase: None,
            replicas: None,
            ready_replicas: None,
            served: None,
            policy: None,
            latency_slo_ms: None,
            drift_threshold: None,
            latest: samples.last().map(|(_, m)| m.clone()),
            samples,
        }
    }
}

fn samples_of(name: &str, samples: &[ServingSample]) -> Vec<(f64, ServingMetrics)> {
    let mut out: Vec<(f64, ServingMetrics)> = samples
        .iter()
        .filter(|s| s.deployment == name && s.seconds.is_finite())
        .map(|s| (s.seconds, s.metrics.clone()))
        .collect();
    out.sort_by(|a, b| a.0.total_cmp(&b.0));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources() {
        assert_eq!(
            Served::parse("tuningSweep/s/s-t3"),
            Served::Trial {
                sweep: "s".into(),
                trial: "s-t3".into()
            }
        );
        assert_eq!(Served::parse("trainingJob/j"), Served::Job("j".into()));
        assert_eq!(Served::parse("uri"), Served::Other("uri".into()));
        assert_eq!(
            Served::parse("tuningSweep/s"),
            Served::Other("tuningSweep/s".into())
        );
    }
}

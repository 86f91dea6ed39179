//! The benchmark's sweeps: TuningSweep manifests read with serde, and a trial's parameters
//! applied to the template's hyperparameters.

use std::path::Path;

use lepton_crds::v1alpha1::{
    ConcreteModelFamily, FidelityParameter, Goal, Hyperparameters, ModelFamily, TuningSweep,
    TuningSweepSpec,
};
use serde_json::{Map, Value};

/// A parsed sweep manifest.
#[derive(Clone, Debug)]
pub struct Sweep {
    /// `metadata.name`.
    pub name: String,
    /// The spec, exactly as a TuningSweep holds it.
    pub spec: TuningSweepSpec,
}

impl Sweep {
    /// Reads a TuningSweep manifest (YAML).
    pub fn read(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let sweep: TuningSweep = serde_yaml_ng::from_str(&text)
            .map_err(|e| format!("{} is not a TuningSweep: {e}", path.display()))?;
        Ok(Self {
            name: sweep.metadata.name.unwrap_or_default(),
            spec: sweep.spec,
        })
    }

    /// Whether the objective is maximised (its `goal`, else the metric's own direction).
    pub fn maximize(&self) -> bool {
        self.spec
            .objective
            .goal
            .unwrap_or_else(|| self.spec.objective.metric.goal())
            == Goal::Maximize
    }

    /// The objective value as a loss (lower is better), as search algorithms take it.
    pub fn loss(&self, value: f64) -> f64 {
        if self.maximize() { -value } else { value }
    }

    /// The template's family when it names one (`None` for auto).
    pub fn template_family(&self) -> Option<ConcreteModelFamily> {
        concrete(self.spec.template.spec.model.family)
    }

    /// The manifest name of the fidelity hyperparameter (`epochs` or `numTrees`).
    pub fn fidelity_name(&self) -> &'static str {
        match self.spec.algorithm.fidelity.parameter {
            FidelityParameter::Epochs => "epochs",
            FidelityParameter::NumTrees => "numTrees",
        }
    }

    /// The model family and hyperparameters of one trial: the template's, with `params`
    /// (manifest names; numbers, or strings for categorical values) set over them, and the
    /// fidelity hyperparameter set to `fidelity` when given. `hiddenLayers` values are
    /// comma-separated widths and `family` sets the model family, as in a trial TrainingJob.
    pub fn trial(
        &self,
        params: &Map<String, Value>,
        fidelity: Option<u32>,
    ) -> Result<(ConcreteModelFamily, Hyperparameters), String> {
        let template = &self.spec.template.spec.model;
        let mut family = concrete(template.family);
        let mut hyper = match serde_json::to_value(&template.hyperparameters) {
            Ok(Value::Object(m)) => m,
            _ => Map::new(),
        };
        for (name, value) in params {
            match name.as_str() {
                "family" => {
                    let parsed: ConcreteModelFamily = serde_json::from_value(value.clone())
                        .map_err(|e| format!("family: {e}"))?;
                    family = Some(parsed);
                }
                "hiddenLayers" => {
                    let text = value
                        .as_str()
                        .ok_or_else(|| format!("hiddenLayers: expected a string, got {value}"))?;
                    let widths = text
                        .split(',')
                        .map(|w| w.trim().parse::<u32>())
                        .collect::<Result<Vec<_>, _>>()
                        .map_err(|e| format!("hiddenLayers {text:?}: {e}"))?;
                    hyper.insert(name.clone(), widths.into());
                }
                _ => {
                    hyper.insert(name.clone(), value.clone());
                }
            }
        }
        if let Some(f) = fidelity {
            hyper.insert(self.fidelity_name().into(), f.into());
        }
        let family =
            family.ok_or("the template's family is auto and no `family` parameter set one")?;
        let hyper: Hyperparameters = serde_json::from_value(Value::Object(hyper))
            .map_err(|e| format!("hyperparameters: {e}"))?;
        Ok((family, hyper))
    }
}

fn concrete(family: ModelFamily) -> Option<ConcreteModelFamily> {
    match family {
        ModelFamily::Linear => Some(ConcreteModelFamily::Linear),
        ModelFamily::Mlp => Some(ConcreteModelFamily::Mlp),
        ModelFamily::Gbdt => Some(ConcreteModelFamily::Gbdt),
        ModelFamily::Auto => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn manifest(name: &str) -> Sweep {
        Sweep::read(&Path::new(env!("CARGO_MANIFEST_DIR")).join(name)).unwrap()
    }

    #[test]
    fn the_benchmark_manifests_are_tuning_sweeps_over_an_mlp() {
        for (file, maximize) in [("default-sweep.yaml", true), ("credit-sweep.yaml", false)] {
            let sweep = manifest(file);
            assert_eq!(sweep.maximize(), maximize, "{file}");
            assert_eq!(sweep.template_family(), Some(ConcreteModelFamily::Mlp));
            assert_eq!(sweep.spec.parameters.len(), 5);
            assert_eq!(sweep.fidelity_name(), "epochs");
        }
        assert_eq!(manifest("default-sweep.yaml").loss(0.9), -0.9);
        assert_eq!(manifest("credit-sweep.yaml").loss(40.0), 40.0);
    }

    #[test]
    fn a_trial_sets_its_parameters_and_fidelity_over_the_template() {
        let sweep = manifest("credit-sweep.yaml");
        let params = json!({"learningRate": 0.01, "hiddenLayers": "64, 32", "batchSize": 40});
        let (family, hyper) = sweep.trial(params.as_object().unwrap(), None).unwrap();
        assert_eq!(family, ConcreteModelFamily::Mlp);
        assert_eq!(hyper.learning_rate, Some(0.01));
        assert_eq!(hyper.hidden_layers, Some(vec![64, 32]));
        assert_eq!(hyper.batch_size, Some(40));
        assert_eq!(hyper.epochs, Some(27), "the template's epochs stay");
        let (_, hyper) = sweep.trial(&Map::new(), Some(3)).unwrap();
        assert_eq!(hyper.epochs, Some(3), "the fidelity sets epochs");
        let family = json!({"family": "gbdt"});
        assert_eq!(
            sweep.trial(family.as_object().unwrap(), None).unwrap().0,
            ConcreteModelFamily::Gbdt
        );
        let bad = json!({"hiddenLayers": "64,x"});
        let err = sweep.trial(bad.as_object().unwrap(), None).unwrap_err();
        assert!(err.contains("hiddenLayers"), "{err}");
    }
}

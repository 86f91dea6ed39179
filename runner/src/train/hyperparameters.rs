//! Family defaults for every hyperparameter the spec leaves unset.

use lepton_crds::v1alpha1::{Activation, ConcreteModelFamily, Hyperparameters, Optimizer};

use crate::models::dense::DenseConfig;
use crate::models::gbdt::GbdtConfig;

/// Dense network settings for `family` (linear or mlp).
pub fn dense_config(family: ConcreteModelFamily, h: &Hyperparameters, rows: usize) -> DenseConfig {
    let linear = family == ConcreteModelFamily::Linear;
    DenseConfig {
        hidden_layers: if linear {
            Vec::new()
        } else {
            h.hidden_layers.clone().map_or_else(
                || vec![64, 32],
                |l| l.into_iter().map(|w| w as usize).collect(),
            )
        },
        activation: h.activation.unwrap_or(Activation::Relu),
        dropout: if linear {
            0.0
        } else {
            h.dropout.unwrap_or(0.1) as f32
        },
        learning_rate: h.learning_rate.unwrap_or(if linear { 0.05 } else { 0.001 }) as f32,
        weight_decay: h.weight_decay.unwrap_or(1e-4) as f32,
        epochs: h.epochs.unwrap_or(if linear { 100 } else { 50 }),
        batch_size: h.batch_size.map_or(256, |b| b as usize).min(rows.max(1)),
        optimizer: h.optimizer.unwrap_or(Optimizer::Adam),
    }
}

/// Boosted tree settings.
pub fn gbdt_config(h: &Hyperparameters) -> GbdtConfig {
    GbdtConfig {
        num_trees: h.num_trees.unwrap_or(300),
        max_depth: h.max_depth.unwrap_or(6),
        min_samples_leaf: h.min_samples_leaf.unwrap_or(20),
        learning_rate: h.learning_rate.unwrap_or(0.1) as f32,
        l2: h.weight_decay.unwrap_or(1.0),
        subsample: h.subsample.unwrap_or(1.0),
        feature_fraction: h.feature_fraction.unwrap_or(1.0),
        max_bins: h.max_bins.map_or(255, |b| b as usize),
    }
}

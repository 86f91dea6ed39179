//! Lepton's hyperparameter search, as pure functions the operator calls on every reconcile.
//!
//! - [`space`]: the search space built from `spec.parameters`, assignments and their string form.
//! - [`trial`]: what the operator observed of each trial.
//! - [`search`]: [`suggest`] (what trial `index` should be) for grid, random, TPE, ASHA and
//!   Hyperband, and the [`SearchConfig`] read from `spec.algorithm`.
//! - [`early_stop`]: the median stopping rule.
//! - [`pareto`]: the Pareto front of quality against cost, latency and size, and the selection
//!   policies of ModelDeployments.
//!
//! Everything is deterministic: randomness comes from [`rng::Rng`], seeded from the sweep's
//! seed and the trial index, so a restarted operator proposes exactly what it would have
//! proposed before. Nothing here reads a clock or does I/O.

#![deny(missing_docs)]

mod asha;
pub mod early_stop;
mod grid;
pub mod pareto;
mod random;
pub mod rng;
pub mod search;
pub mod space;
#[cfg(test)]
mod testfns;
mod tpe;
pub mod trial;

pub use early_stop::{MedianStopRule, median_stop};
pub use pareto::{Candidate, Point, Selection, bounded_front, front, select};
pub use search::{
    FidelityConfig, Proposal, SearchConfig, Suggestion, TpeConfig, grid_size, suggest,
};
pub use space::{Assignment, Dimension, Domain, SearchSpace, SpaceError, Value};
pub use trial::{ObservedTrial, TrialState};

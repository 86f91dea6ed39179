//! Lepton's Kubernetes API, group `lepton.ai`, version `v1alpha1`.
//!
//! - [`v1alpha1`]: the Rust types of `TrainingJob`, `TuningSweep` and `ModelDeployment`; their
//!   doc comments are the schema descriptions `kubectl explain` prints.
//! - [`generate`]: the one generator of every copy of the CRD YAML and of `docs/api.md`.
//! - [`admission`]: validation of a manifest against a generated CRD as the API server does it
//!   (defaults, structural schema, CEL rules), without a cluster.
//! - [`status`]: condition bookkeeping, reasons and phases shared by the controllers.
//! - [`runner`]: the results a training pod hands the operator through its termination message.

#![deny(missing_docs)]

pub mod admission;
pub mod generate;
pub mod runner;
pub mod status;
pub mod v1alpha1;

/// API group of every Lepton kind.
pub const GROUP: &str = "lepton.ai";

/// API version of the kinds in [`v1alpha1`].
pub const VERSION: &str = "v1alpha1";

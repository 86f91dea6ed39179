//! The run's final results ([`RunResults`], the contract shared with the operator), written to
//! a results file and, compactly, to the container's termination message, so that a failed
//! status update loses nothing.

use std::path::Path;

pub use lepton_crds::runner::{RunResults, TERMINATION_MESSAGE_LIMIT};

/// Default termination message path in a pod.
pub const DEFAULT_TERMINATION_LOG: &str = "/dev/termination-log";

/// Writes the full results to `results_file` and the compact form to `termination_log`;
/// failures are logged, not returned, because there is nowhere else to report them.
pub fn write(results: &RunResults, results_file: Option<&Path>, termination_log: Option<&Path>) {
    if let Some(path) = results_file {
        let text = serde_json::to_string_pretty(results).unwrap_or_default();
        if let Err(e) = std::fs::write(path, text + "\n") {
            tracing::error!(path = %path.display(), error = %e, "could not write the results file");
        }
    }
    if let Some(path) = termination_log
        && let Err(e) = std::fs::write(path, results.termination_message())
    {
        tracing::warn!(path = %path.display(), error = %e, "could not write the termination message");
    }
}

//! Names and labels of the objects the operator creates.

/// Field manager of every write the operator makes (server-side apply and patches).
pub const FIELD_MANAGER: &str = "lepton-operator";

/// `app.kubernetes.io/managed-by` value on every child object.
pub const MANAGED_BY: &str = "lepton-operator";

/// Label naming the TrainingJob a Job, pod or RBAC object belongs to.
pub const TRAINING_JOB_LABEL: &str = "lepton.ai/training-job";
/// Label naming the ModelDeployment a Deployment, Service or pod belongs to.
pub const MODEL_DEPLOYMENT_LABEL: &str = "lepton.ai/model-deployment";
/// Label telling a deployment's primary pods from its canary's.
pub const TRACK_LABEL: &str = "lepton.ai/track";
/// Label naming the TuningSweep a trial TrainingJob belongs to.
pub const TUNING_SWEEP_LABEL: &str = "lepton.ai/tuning-sweep";
/// Label with a trial's index within its sweep.
pub const TRIAL_INDEX_LABEL: &str = "lepton.ai/trial-index";
/// Annotation on a trial with its parameter values (a JSON object of strings).
pub const TRIAL_PARAMETERS_ANNOTATION: &str = "lepton.ai/trial-parameters";
/// Annotation on an ASHA or Hyperband trial with its fidelity (epochs or trees).
pub const TRIAL_FIDELITY_ANNOTATION: &str = "lepton.ai/trial-fidelity";
/// Annotation on a promoted ASHA or Hyperband trial with the index of the trial it continues.
pub const TRIAL_PROMOTED_FROM_ANNOTATION: &str = "lepton.ai/trial-promoted-from";
/// Annotation on a Hyperband trial with its bracket.
pub const TRIAL_BRACKET_ANNOTATION: &str = "lepton.ai/trial-bracket";
/// Annotation asking a TrainingJob to stop; its value says why and becomes the Stopped
/// condition's message. Set by a TuningSweep (early stopping, budget, goal) or by hand.
pub const STOP_ANNOTATION: &str = "lepton.ai/stop";
/// Annotation on a trial stopped by the sweep's early-stopping rule (value: the rule), as
/// opposed to one stopped because the sweep finished.
pub const EARLY_STOPPED_ANNOTATION: &str = "lepton.ai/early-stopped";

/// The Kueue label, passed from a TrainingJob to its Job.
pub const KUEUE_QUEUE_LABEL: &str = "kueue.x-k8s.io/queue-name";

/// Annotation on pods with the full name of the resource they belong to (label values are cut
/// to 63 characters).
pub const OWNER_ANNOTATION: &str = "lepton.ai/owner";

/// Annotation on a Job with the digest of the TrainingJob spec it was built from.
pub const SPEC_DIGEST_ANNOTATION: &str = "lepton.ai/spec-digest";
/// Annotation on a Job with the TrainingJob generation it was built from.
pub const SPEC_GENERATION_ANNOTATION: &str = "lepton.ai/spec-generation";

/// Labels that must not exceed a DNS label's 63 characters (Job names end up in pod labels).
pub const MAX_LABEL_NAME: usize = 63;

/// A child's name: `base` plus `suffix`, cut to `max` characters. A cut name ends in a hash of
/// the whole name so that two long names that share a prefix still get different children.
pub fn child_name(base: &str, suffix: &str, max: usize) -> String {
    let full = if suffix.is_empty() {
        base.to_owned()
    } else {
        format!("{base}-{suffix}")
    };
    if full.len() <= max {
        return full;
    }
    let hash = format!("{:08x}", fnv1a(full.as_bytes()) as u32);
    let keep = max.saturating_sub(hash.len() + 1);
    let prefix = full[..keep].trim_end_matches(['-', '.']);
    format!("{prefix}-{hash}")
}

/// A short, stable digest of `bytes` (FNV-1a, 16 hex digits): enough to tell two specs apart,
/// not a security measure.
pub fn digest(bytes: &[u8]) -> String {
    format!("{:016x}", fnv1a(bytes))
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_names_are_kept_and_long_ones_cut_with_a_hash() {
        assert_eq!(child_name("credit", "", 63), "credit");
        assert_eq!(child_name("credit", "runner", 63), "credit-runner");
        let long = "a".repeat(70);
        let cut = child_name(&long, "", 63);
        assert_eq!(cut.len(), 63);
        assert_ne!(cut, child_name(&format!("{long}b"), "", 63));
        assert_eq!(cut, child_name(&long, "", 63));
        let dotted = format!("{}.-{}", "b".repeat(53), "x".repeat(20));
        assert!(!child_name(&dotted, "", 63).contains(".-"));
    }
}

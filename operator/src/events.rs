//! Events on important transitions, derived from how conditions changed, so that every event
//! has a condition behind it and its reason is one a user can search for.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;

/// One event to publish.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Note {
    /// Warning rather than Normal.
    pub warning: bool,
    /// The condition's reason.
    pub reason: String,
    /// The condition's message.
    pub message: String,
    /// The condition type the event is about.
    pub action: String,
}

/// What makes a transition worth an event, per kind.
pub struct EventPolicy {
    /// Condition types whose becoming True is a warning (Failed, Degraded).
    pub warning_types: &'static [&'static str],
    /// Reasons that are warnings whatever the condition's status (UnknownNodePool, ...).
    pub warning_reasons: &'static [&'static str],
}

/// Events for the conditions in `new` whose status or reason differ from `old`: each one that
/// became True, and each with a warning reason.
pub fn transitions(old: &[Condition], new: &[Condition], policy: &EventPolicy) -> Vec<Note> {
    new.iter()
        .filter(|c| {
            let before = old.iter().find(|o| o.type_ == c.type_);
            before.is_none_or(|b| b.status != c.status || b.reason != c.reason)
        })
        .filter_map(|c| {
            let warning_reason = policy.warning_reasons.contains(&c.reason.as_str());
            let warning_type =
                c.status == "True" && policy.warning_types.contains(&c.type_.as_str());
            (c.status == "True" || warning_reason).then(|| Note {
                warning: warning_reason || warning_type,
                reason: c.reason.clone(),
                message: c.message.clone(),
                action: c.type_.clone(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
    use k8s_openapi::jiff::Timestamp;

    fn c(type_: &str, status: &str, reason: &str) -> Condition {
        Condition {
            type_: type_.into(),
            status: status.into(),
            reason: reason.into(),
            message: format!("{type_} {reason}"),
            observed_generation: Some(1),
            last_transition_time: Time(Timestamp::UNIX_EPOCH),
        }
    }

    const POLICY: EventPolicy = EventPolicy {
        warning_types: &["Failed"],
        warning_reasons: &["UnknownNodePool"],
    };

    #[test]
    fn only_changes_make_events() {
        let old = vec![
            c("Created", "True", "JobCreated"),
            c("Running", "False", "PodPending"),
        ];
        let new = vec![
            c("Created", "True", "JobCreated"),
            c("Running", "True", "Training"),
        ];
        let notes = transitions(&old, &new, &POLICY);
        assert_eq!(notes.len(), 1);
        assert_eq!(notes[0].reason, "Training");
        assert!(!notes[0].warning);
        assert!(transitions(&new, &new, &POLICY).is_empty());
    }

    #[test]
    fn failures_and_warning_reasons_are_warnings() {
        let notes = transitions(
            &[],
            &[
                c("Failed", "True", "UnknownColumn"),
                c("Created", "False", "UnknownNodePool"),
            ],
            &POLICY,
        );
        assert_eq!(notes.len(), 2);
        assert!(notes.iter().all(|n| n.warning));
        // A condition turning False for an ordinary reason is not an event.
        assert!(
            transitions(&[], &[c("Running", "False", "TrainingCompleted")], &POLICY).is_empty()
        );
    }
}

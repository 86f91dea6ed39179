//! metav1.Condition bookkeeping shared by every controller.
//!
//! The rules follow the Kubernetes API conventions: one condition per type; a condition's
//! `lastTransitionTime` moves only when its `status` changes (a new reason or message alone is
//! not a transition); `observedGeneration` is always set to the generation the controller acted
//! on.

use std::borrow::Cow;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

/// Status of a condition, as the API spells it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConditionStatus {
    /// The condition holds.
    True,
    /// The condition does not hold.
    False,
    /// The controller cannot tell.
    Unknown,
}

impl ConditionStatus {
    /// The API's spelling: `True`, `False` or `Unknown`.
    pub fn as_str(self) -> &'static str {
        match self {
            ConditionStatus::True => "True",
            ConditionStatus::False => "False",
            ConditionStatus::Unknown => "Unknown",
        }
    }

    /// `True` for `true`, `False` for `false`.
    pub fn from_bool(value: bool) -> Self {
        if value {
            ConditionStatus::True
        } else {
            ConditionStatus::False
        }
    }
}

/// What a controller decided a condition should say.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DesiredCondition {
    /// Condition type, for example `Succeeded`.
    pub type_: &'static str,
    /// Its status.
    pub status: ConditionStatus,
    /// CamelCase reason: one of the constants in this crate's `status` module, or a reason
    /// passed on from a runner (checked with [`super::is_valid_reason`] by whoever passes it).
    pub reason: Cow<'static, str>,
    /// Sentence for humans; what happened and, for failures, what to do.
    pub message: String,
}

impl DesiredCondition {
    /// A condition of `type_` with the given status, reason and message.
    pub fn new(
        type_: &'static str,
        status: ConditionStatus,
        reason: impl Into<Cow<'static, str>>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            type_,
            status,
            reason: reason.into(),
            message: message.into(),
        }
    }
}

/// The condition of `type_`, if present.
pub fn find<'a>(conditions: &'a [Condition], type_: &str) -> Option<&'a Condition> {
    conditions.iter().find(|c| c.type_ == type_)
}

/// Whether the condition of `type_` is present with status `True`.
pub fn is_true(conditions: &[Condition], type_: &str) -> bool {
    find(conditions, type_).is_some_and(|c| c.status == ConditionStatus::True.as_str())
}

/// Whether the condition of `type_` is present with status `False`.
pub fn is_false(conditions: &[Condition], type_: &str) -> bool {
    find(conditions, type_).is_some_and(|c| c.status == ConditionStatus::False.as_str())
}

/// Sets one condition in `conditions`, following the API conventions: `lastTransitionTime`
/// becomes `now` only when the condition is new or its status changes; reason, message and
/// `observedGeneration` are always brought up to date. Returns whether anything changed, so a
/// controller writes status only when it has to.
pub fn set(
    conditions: &mut Vec<Condition>,
    desired: &DesiredCondition,
    observed_generation: Option<i64>,
    now: &Time,
) -> bool {
    let status = desired.status.as_str();
    match conditions.iter_mut().find(|c| c.type_ == desired.type_) {
        None => {
            conditions.push(Condition {
                type_: desired.type_.to_owned(),
                status: status.to_owned(),
                reason: desired.reason.clone().into_owned(),
                message: desired.message.clone(),
                observed_generation,
                last_transition_time: now.clone(),
            });
            true
        }
        Some(existing) => {
            let mut changed = false;
            if existing.status != status {
                existing.status = status.to_owned();
                existing.last_transition_time = now.clone();
                changed = true;
            }
            if existing.reason != desired.reason {
                existing.reason = desired.reason.clone().into_owned();
                changed = true;
            }
            if existing.message != desired.message {
                existing.message.clone_from(&desired.message);
                changed = true;
            }
            if existing.observed_generation != observed_generation {
                existing.observed_generation = observed_generation;
                changed = true;
            }
            changed
        }
    }
}

/// Removes the condition of `type_`; returns whether it was present.
pub fn remove(conditions: &mut Vec<Condition>, type_: &str) -> bool {
    let before = conditions.len();
    conditions.retain(|c| c.type_ != type_);
    conditions.len() != before
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::jiff::Timestamp;

    fn at(seconds: i64) -> Time {
        Time(Timestamp::from_second(seconds).unwrap())
    }

    fn running(status: ConditionStatus, reason: &'static str, message: &str) -> DesiredCondition {
        DesiredCondition::new("Running", status, reason, message)
    }

    #[test]
    fn a_new_condition_is_added_with_now_and_the_generation() {
        let mut conditions = Vec::new();
        let changed = set(
            &mut conditions,
            &running(ConditionStatus::True, "PodRunning", "pod started"),
            Some(3),
            &at(100),
        );
        assert!(changed);
        assert_eq!(conditions.len(), 1);
        let c = &conditions[0];
        assert_eq!(
            (c.type_.as_str(), c.status.as_str(), c.reason.as_str()),
            ("Running", "True", "PodRunning")
        );
        assert_eq!(c.message, "pod started");
        assert_eq!(c.observed_generation, Some(3));
        assert_eq!(c.last_transition_time, at(100));
    }

    #[test]
    fn the_same_condition_again_changes_nothing() {
        let mut conditions = Vec::new();
        let desired = running(ConditionStatus::True, "PodRunning", "pod started");
        set(&mut conditions, &desired, Some(1), &at(100));
        let before = conditions.clone();
        assert!(!set(&mut conditions, &desired, Some(1), &at(200)));
        assert_eq!(conditions, before);
    }

    #[test]
    fn a_new_reason_or_message_keeps_the_transition_time() {
        let mut conditions = Vec::new();
        set(
            &mut conditions,
            &running(ConditionStatus::True, "PodRunning", "epoch 1"),
            Some(1),
            &at(100),
        );
        let changed = set(
            &mut conditions,
            &running(ConditionStatus::True, "Training", "epoch 2"),
            Some(1),
            &at(200),
        );
        assert!(changed);
        assert_eq!(conditions[0].reason, "Training");
        assert_eq!(conditions[0].message, "epoch 2");
        assert_eq!(conditions[0].last_transition_time, at(100));
    }

    #[test]
    fn a_status_change_moves_the_transition_time() {
        let mut conditions = Vec::new();
        set(
            &mut conditions,
            &running(ConditionStatus::True, "PodRunning", "x"),
            Some(1),
            &at(100),
        );
        set(
            &mut conditions,
            &running(ConditionStatus::False, "Completed", "x"),
            Some(1),
            &at(300),
        );
        assert_eq!(conditions[0].status, "False");
        assert_eq!(conditions[0].last_transition_time, at(300));
    }

    #[test]
    fn a_new_generation_is_recorded_without_a_transition() {
        let mut conditions = Vec::new();
        let desired = running(ConditionStatus::True, "PodRunning", "x");
        set(&mut conditions, &desired, Some(1), &at(100));
        assert!(set(&mut conditions, &desired, Some(2), &at(200)));
        assert_eq!(conditions[0].observed_generation, Some(2));
        assert_eq!(conditions[0].last_transition_time, at(100));
    }

    #[test]
    fn conditions_of_other_types_are_left_alone() {
        let mut conditions = Vec::new();
        set(
            &mut conditions,
            &DesiredCondition::new("Created", ConditionStatus::True, "JobCreated", "ok"),
            Some(1),
            &at(100),
        );
        set(
            &mut conditions,
            &running(ConditionStatus::True, "PodRunning", "x"),
            Some(1),
            &at(200),
        );
        assert_eq!(conditions.len(), 2);
        assert_eq!(
            find(&conditions, "Created").unwrap().last_transition_time,
            at(100)
        );
        assert!(is_true(&conditions, "Running"));
        assert!(!is_false(&conditions, "Running"));
        assert!(!is_true(&conditions, "Missing"));
    }

    #[test]
    fn remove_drops_only_that_type() {
        let mut conditions = Vec::new();
        let now = at(1);
        set(
            &mut conditions,
            &running(ConditionStatus::True, "A", ""),
            None,
            &now,
        );
        set(
            &mut conditions,
            &DesiredCondition::new("Suspended", ConditionStatus::True, "B", ""),
            None,
            &now,
        );
        assert!(remove(&mut conditions, "Suspended"));
        assert!(!remove(&mut conditions, "Suspended"));
        assert_eq!(conditions.len(), 1);
    }
}

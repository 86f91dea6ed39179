//! What the operator observed of each trial, as the algorithms read it.

use crate::space::Assignment;

/// Lifecycle state of a trial.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TrialState {
    /// Created, not started.
    Pending,
    /// Training.
    Running,
    /// Finished with a model and its metrics.
    Succeeded,
    /// Finished without a usable model.
    Failed,
    /// Stopped by the early-stopping rule, ASHA/Hyperband or a budget before it finished.
    EarlyStopped,
}

impl TrialState {
    /// Whether the trial will not change any more.
    pub fn is_finished(self) -> bool {
        matches!(
            self,
            TrialState::Succeeded | TrialState::Failed | TrialState::EarlyStopped
        )
    }
}

/// One trial as observed by the operator.
#[derive(Clone, Debug, PartialEq)]
pub struct ObservedTrial {
    /// Trial index (name `<sweep>-t<index>`).
    pub index: u32,
    /// Its parameter values.
    pub assignment: Assignment,
    /// Its state.
    pub state: TrialState,
    /// Final objective as a loss (the caller negates maximised metrics).
    pub loss: Option<f64>,
    /// asha/hyperband: epochs or trees this trial ran with.
    pub fidelity: Option<u32>,
    /// asha/hyperband: index of the trial at the rung below.
    pub promoted_from: Option<u32>,
    /// Hyperband bracket.
    pub bracket: Option<u32>,
    /// Intermediate losses by step (epoch/tree), ascending steps.
    pub curve: Vec<(u32, f64)>,
}

impl ObservedTrial {
    /// A trial with only an index, an assignment and a state; the rest empty.
    pub fn new(index: u32, assignment: Assignment, state: TrialState) -> Self {
        Self {
            index,
            assignment,
            state,
            loss: None,
            fidelity: None,
            promoted_from: None,
            bracket: None,
            curve: Vec::new(),
        }
    }

    /// The final loss of a succeeded trial, when it is a number.
    pub fn succeeded_loss(&self) -> Option<f64> {
        match (self.state, self.loss) {
            (TrialState::Succeeded, Some(l)) if !l.is_nan() => Some(l),
            _ => None,
        }
    }
}

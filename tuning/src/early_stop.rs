//! The median stopping rule (Golovin et al., 2017, "Google Vizier"): stop a trial whose best
//! result so far is worse than what the other trials had typically reached by the same step.

use crate::trial::ObservedTrial;

/// Settings of the median stopping rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MedianStopRule {
    /// Other trials that must have reported the step before the rule compares against them.
    pub min_trials: u32,
    /// First step at which the rule applies.
    pub start_step: u32,
}

/// Mean of the values a curve reported up to and including `step`.
fn running_average(curve: &[(u32, f64)], step: u32) -> Option<f64> {
    let vals: Vec<f64> = curve
        .iter()
        .filter(|(s, v)| *s <= step && !v.is_nan())
        .map(|(_, v)| *v)
        .collect();
    (!vals.is_empty()).then(|| vals.iter().sum::<f64>() / vals.len() as f64)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// A number for a message: four significant digits, no trailing zeros.
pub(crate) fn short(x: f64) -> String {
    if x == 0.0 || !x.is_finite() {
        return format!("{x}");
    }
    let decimals = (3 - x.abs().log10().floor() as i32).clamp(0, 15) as usize;
    let s = format!("{x:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// `Some(message)` when `trial` (running, its curve so far) should stop: its best loss so far
/// is worse than the median of the other trials' running-average losses at the same step,
/// counting only other trials that reported that step (at least min_trials of them), from
/// start_step on. The message names the rule and the numbers, e.g.
/// "medianStop: best logLoss 0.31 at step 7 is worse than the median 0.24 of 5 trials' running averages".
///
/// `others` may include `trial` itself (every trial of a sweep, say): it is left out.
///
/// "Reported that step" means reached it: an other trial whose curve goes to step `s` or
/// beyond counts, even if it skipped logging exactly `s`. Losses are compared as given; the
/// caller negates maximised metrics, and `metric_name` only labels the message.
pub fn median_stop(
    rule: &MedianStopRule,
    metric_name: &str,
    trial: &ObservedTrial,
    others: &[ObservedTrial],
) -> Option<String> {
    let &(step, _) = trial.curve.iter().rfind(|(_, v)| !v.is_nan())?;
    if step < rule.start_step {
        return None;
    }
    let best = trial
        .curve
        .iter()
        .filter(|(s, v)| *s <= step && !v.is_nan())
        .map(|(_, v)| *v)
        .fold(f64::INFINITY, f64::min);
    let averages: Vec<f64> = others
        .iter()
        .filter(|o| o.index != trial.index)
        .filter(|o| o.curve.iter().any(|(s, v)| *s >= step && !v.is_nan()))
        .filter_map(|o| running_average(&o.curve, step))
        .collect();
    let n = averages.len();
    if n == 0 || n < rule.min_trials as usize {
        return None;
    }
    let m = median(averages);
    (best > m).then(|| {
        format!(
            "medianStop: best {metric_name} {} at step {step} is worse than the median {} of {n} trials' running averages",
            short(best),
            short(m)
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::space::Assignment;
    use crate::trial::TrialState;

    fn t(index: u32, curve: &[f64]) -> ObservedTrial {
        let mut t = ObservedTrial::new(index, Assignment::new(), TrialState::Running);
        t.curve = curve
            .iter()
            .enumerate()
            .map(|(i, v)| (i as u32 + 1, *v))
            .collect();
        t
    }

    fn others() -> Vec<ObservedTrial> {
        // Running averages at step 6: 0.4, 0.3, 0.2, 0.35, 0.25 -> median 0.3.
        vec![
            t(0, &[0.4; 8]),
            t(1, &[0.3; 8]),
            t(2, &[0.2; 10]),
            t(3, &[0.5, 0.4, 0.3, 0.3, 0.3, 0.3]),
            t(4, &[0.25; 7]),
        ]
    }

    const RULE: MedianStopRule = MedianStopRule {
        min_trials: 3,
        start_step: 5,
    };

    #[test]
    fn stops_a_clearly_worse_trial_and_names_the_numbers() {
        let bad = t(9, &[0.9, 0.8, 0.7, 0.65, 0.62, 0.61]);
        let msg = median_stop(&RULE, "logLoss", &bad, &others()).expect("should stop");
        assert_eq!(
            msg,
            "medianStop: best logLoss 0.61 at step 6 is worse than the median 0.3 of 5 trials' running averages"
        );
    }

    #[test]
    fn keeps_a_better_or_equal_trial() {
        let good = t(9, &[0.9, 0.5, 0.3, 0.28, 0.27, 0.26]);
        assert_eq!(median_stop(&RULE, "logLoss", &good, &others()), None);
        // Equal to the median is not strictly worse.
        let tie = t(9, &[0.9, 0.5, 0.3, 0.3, 0.3, 0.3]);
        assert_eq!(median_stop(&RULE, "logLoss", &tie, &others()), None);
        // The best so far counts, not the latest value.
        let dipped = t(9, &[0.9, 0.2, 0.5, 0.5, 0.5, 0.5]);
        assert_eq!(median_stop(&RULE, "logLoss", &dipped, &others()), None);
    }

    #[test]
    fn not_before_start_step() {
        let bad = t(9, &[0.9, 0.8, 0.7, 0.65]);
        assert_eq!(median_stop(&RULE, "logLoss", &bad, &others()), None);
        let bad = t(9, &[0.9, 0.8, 0.7, 0.65, 0.64]);
        assert!(median_stop(&RULE, "logLoss", &bad, &others()).is_some());
    }

    #[test]
    fn needs_min_trials_that_reached_the_step() {
        let bad = t(9, &[0.9; 9]);
        // Only trial 2 reached step 9, and the trial itself is never counted.
        let mut o = others();
        o.push(bad.clone());
        assert_eq!(median_stop(&RULE, "logLoss", &bad, &o), None);
        o.push(t(5, &[0.3; 9]));
        o.push(t(6, &[0.3; 12]));
        let msg = median_stop(&RULE, "logLoss", &bad, &o).expect("three trials reached step 9");
        assert!(
            msg.ends_with("the median 0.3 of 3 trials' running averages"),
            "{msg}"
        );
    }

    #[test]
    fn short_numbers() {
        assert_eq!(short(0.31), "0.31");
        assert_eq!(short(0.240_123_4), "0.2401");
        assert_eq!(short(123.456), "123.5");
        assert_eq!(short(-0.5), "-0.5");
        assert_eq!(short(12_345.6), "12346");
        assert_eq!(short(0.0), "0");
    }
}

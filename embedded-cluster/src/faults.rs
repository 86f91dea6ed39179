//! Fault injection: make the server fail or slow down chosen requests, and cut watches, so
//! tests can check that controllers retry, resume and converge.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::watch;

/// Which requests a fault applies to. Every condition set must hold; the default matches
/// every request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestMatcher {
    method: Option<String>,
    path_contains: Option<String>,
    watch: Option<bool>,
}

impl RequestMatcher {
    /// Matches every request.
    pub fn any() -> Self {
        Self::default()
    }

    /// Only requests with this HTTP method (`GET`, `POST`, `PUT`, `PATCH`, `DELETE`), in any
    /// case.
    pub fn method(mut self, method: &str) -> Self {
        self.method = Some(method.to_ascii_uppercase());
        self
    }

    /// Only requests whose path and query contain `text`, for example `/trainingjobs/`,
    /// `/status` or `fieldManager=lepton`.
    pub fn path_contains(mut self, text: &str) -> Self {
        self.path_contains = Some(text.to_owned());
        self
    }

    /// Only watch requests (`true`) or only other requests (`false`).
    pub fn watch(mut self, watch: bool) -> Self {
        self.watch = Some(watch);
        self
    }

    fn matches(&self, method: &str, path_and_query: &str, watch: bool) -> bool {
        self.method.as_deref().is_none_or(|m| m == method)
            && self
                .path_contains
                .as_deref()
                .is_none_or(|p| path_and_query.contains(p))
            && self.watch.is_none_or(|w| w == watch)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Fail(u16),
    Delay(Duration),
}

#[derive(Debug)]
struct Rule {
    matcher: RequestMatcher,
    action: Action,
    /// How many more requests it applies to; `None` until cleared.
    remaining: Option<usize>,
}

/// What the server does to one request.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Injected {
    pub fail: Option<u16>,
    pub delay: Option<Duration>,
}

/// The faults of one embedded cluster, shared by every connection.
#[derive(Debug)]
pub struct Faults {
    rules: Mutex<Vec<Rule>>,
    fired: AtomicUsize,
    watch_drops: watch::Sender<u64>,
}

impl Default for Faults {
    fn default() -> Self {
        Self {
            rules: Mutex::new(Vec::new()),
            fired: AtomicUsize::new(0),
            watch_drops: watch::Sender::new(0),
        }
    }
}

impl Faults {
    fn add(&self, matcher: RequestMatcher, action: Action, remaining: Option<usize>) {
        if let Ok(mut rules) = self.rules.lock() {
            rules.push(Rule {
                matcher,
                action,
                remaining,
            });
        }
    }

    /// Answers the next `count` matching requests with `status` (a Kubernetes `Status` body
    /// with the matching reason: 409 `Conflict`, 429 `TooManyRequests`, 500 `InternalError`,
    /// 503 `ServiceUnavailable`, ...) without running them.
    pub fn fail_next(&self, count: usize, matcher: RequestMatcher, status: u16) {
        self.add(matcher, Action::Fail(status), Some(count));
    }

    /// Delays the next `count` matching requests by `delay` before running them.
    pub fn delay_next(&self, count: usize, matcher: RequestMatcher, delay: Duration) {
        self.add(matcher, Action::Delay(delay), Some(count));
    }

    /// Delays every matching request by `delay` until [`Faults::clear`].
    pub fn delay_all(&self, matcher: RequestMatcher, delay: Duration) {
        self.add(matcher, Action::Delay(delay), None);
    }

    /// Ends every open watch stream now, as a load balancer or an API server restart does;
    /// clients must watch again from their last version.
    pub fn drop_watches(&self) {
        self.watch_drops.send_modify(|n| *n += 1);
    }

    /// Removes every rule not yet used up.
    pub fn clear(&self) {
        if let Ok(mut rules) = self.rules.lock() {
            rules.clear();
        }
    }

    /// How many requests a fault has been applied to so far.
    pub fn fired(&self) -> usize {
        self.fired.load(Ordering::Relaxed)
    }

    pub(crate) fn watch_drops(&self) -> watch::Receiver<u64> {
        self.watch_drops.subscribe()
    }

    /// The faults for one request, using up counted rules.
    pub(crate) fn check(&self, method: &str, path_and_query: &str, watch: bool) -> Injected {
        let mut injected = Injected::default();
        let Ok(mut rules) = self.rules.lock() else {
            return injected;
        };
        for rule in rules.iter_mut() {
            if rule.remaining == Some(0) || !rule.matcher.matches(method, path_and_query, watch) {
                continue;
            }
            let applied = match rule.action {
                Action::Fail(code) if injected.fail.is_none() => {
                    injected.fail = Some(code);
                    true
                }
                Action::Delay(d) => {
                    injected.delay = Some(injected.delay.unwrap_or_default() + d);
                    true
                }
                Action::Fail(_) => false,
            };
            if applied && let Some(n) = &mut rule.remaining {
                *n -= 1;
            }
        }
        rules.retain(|r| r.remaining != Some(0));
        if injected != Injected::default() {
            self.fired.fetch_add(1, Ordering::Relaxed);
        }
        injected
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counted_failures_are_used_up() {
        let faults = Faults::default();
        faults.fail_next(
            2,
            RequestMatcher::any()
                .method("patch")
                .path_contains("/status"),
            500,
        );
        assert_eq!(
            faults.check("GET", "/api/v1/pods", false),
            Injected::default()
        );
        assert_eq!(
            faults
                .check("PATCH", "/api/v1/namespaces/a/pods/p/status", false)
                .fail,
            Some(500)
        );
        assert_eq!(
            faults
                .check("PATCH", "/api/v1/namespaces/a/pods/p/status", false)
                .fail,
            Some(500)
        );
        assert_eq!(
            faults
                .check("PATCH", "/api/v1/namespaces/a/pods/p/status", false)
                .fail,
            None
        );
        assert_eq!(faults.fired(), 2);
    }

    #[test]
    fn delays_add_up_and_last_until_cleared() {
        let faults = Faults::default();
        faults.delay_all(RequestMatcher::any().watch(true), Duration::from_millis(5));
        faults.delay_next(1, RequestMatcher::any(), Duration::from_millis(1));
        assert_eq!(
            faults.check("GET", "/x", true).delay,
            Some(Duration::from_millis(6))
        );
        assert_eq!(
            faults.check("GET", "/x", true).delay,
            Some(Duration::from_millis(5))
        );
        assert_eq!(faults.check("GET", "/x", false).delay, None);
        faults.clear();
        assert_eq!(faults.check("GET", "/x", true).delay, None);
    }
}

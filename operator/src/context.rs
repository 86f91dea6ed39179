//! What every reconcile shares: the API client, the configuration, metrics, the event recorder,
//! an HTTP client for the model servers, and the per-object retry counts behind the back-off.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use k8s_openapi::api::core::v1::ObjectReference;
use kube::runtime::controller::Action;
use kube::runtime::events::{Event, EventType, Recorder, Reporter};

use crate::config::ConfigWatch;
use crate::error::Error;
use crate::events::Note;
use crate::telemetry::Metrics;

/// Shared state of the controllers.
pub struct Context {
    /// The API client.
    pub client: kube::Client,
    /// The current configuration.
    pub config: ConfigWatch,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// Client for reading the serving pods' live figures.
    pub http: reqwest::Client,
    recorder: Recorder,
    retries: Mutex<HashMap<String, u32>>,
}

/// First retry after a failed reconcile; doubled on each further failure up to [`MAX_RETRY`].
pub const FIRST_RETRY: Duration = Duration::from_millis(500);
/// Longest wait between retries of a failing reconcile.
pub const MAX_RETRY: Duration = Duration::from_secs(300);

impl Context {
    /// A context for `client` with `config`; `instance` tells this replica's events apart.
    pub fn new(
        client: kube::Client,
        config: ConfigWatch,
        metrics: Arc<Metrics>,
        instance: Option<String>,
    ) -> Context {
        let reporter = Reporter {
            controller: crate::names::FIELD_MANAGER.to_owned(),
            instance,
        };
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .connect_timeout(Duration::from_secs(1))
            .build()
            .unwrap_or_default();
        Context {
            recorder: Recorder::new(client.clone(), reporter),
            client,
            config,
            metrics,
            http,
            retries: Mutex::new(HashMap::new()),
        }
    }

    /// Publishes events about `object`. A failed event is logged, never fatal: events are for
    /// people, the status is the record.
    pub async fn publish(&self, object: &ObjectReference, notes: Vec<Note>) {
        for note in notes {
            let event = Event {
                type_: if note.warning {
                    EventType::Warning
                } else {
                    EventType::Normal
                },
                reason: note.reason.clone(),
                note: Some(truncate(&note.message, 1000)),
                action: note.action.to_owned(),
                secondary: None,
            };
            if let Err(error) = self.recorder.publish(&event, object).await {
                tracing::warn!(%error, reason = %note.reason, object = ?object.name, "event not recorded");
            }
        }
    }

    /// The back-off after a failed reconcile of `key`: 0.5 s, 1 s, 2 s, ... up to 5 min.
    pub fn retry_after_failure(&self, key: &str, error: &Error) -> Action {
        let mut retries = self.retries.lock().unwrap_or_else(|e| e.into_inner());
        let n = retries.entry(key.to_owned()).or_default();
        let delay = FIRST_RETRY
            .saturating_mul(1u32 << (*n).min(10))
            .min(MAX_RETRY);
        *n = n.saturating_add(1);
        tracing::warn!(object = key, %error, category = error.category(), retry_in = ?delay, "reconcile failed");
        Action::requeue(delay)
    }

    /// Forgets the failures of `key` after a successful reconcile.
    pub fn reconciled(&self, key: &str) {
        self.retries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(key);
    }
}

fn truncate(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_messages_are_cut_on_a_character_boundary() {
        assert_eq!(truncate("héllo", 3), "hél…");
        assert_eq!(truncate("ok", 3), "ok");
    }
}

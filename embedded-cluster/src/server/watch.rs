//! Watch streams: newline-delimited `{"type", "object"}` events read from the kind's event
//! log, with selector transitions (an object leaving the selector is `DELETED` for this
//! watch), bookmarks, initial events, `timeoutSeconds`, `410 Gone` as an `ERROR` event, and
//! the ability to be cut by fault injection or a server stop.

use bytes::Bytes;
use http::Response;
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use serde_json::{Value, json};
use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;

use super::Shared;
use super::query::Query;
use super::response::{self, Body, Form};
use crate::api::read::ListQuery;
use crate::resources::ResourceType;
use crate::status_error::StatusError;
use crate::store::{EventType, StoredEvent};

/// How long a watch lasts when the client gives no `timeoutSeconds` (the API server picks
/// between 30 and 60 minutes).
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1800);

struct WatchStream {
    shared: Arc<Shared>,
    rt: Arc<ResourceType>,
    list: ListQuery,
    form: Form,
    resource: String,
    /// Every event of the kind up to this version has been considered.
    seen: u64,
    pending: VecDeque<Bytes>,
    bookmarks: bool,
    next_bookmark: Instant,
    deadline: Instant,
    changes: watch::Receiver<u64>,
    drops: watch::Receiver<u64>,
    done: bool,
    /// A Table watch sends the column definitions with its first event only, as the API
    /// server does; kubectl keeps the columns it saw last.
    headers_sent: bool,
}

fn line(kind: &str, object: &Value) -> Bytes {
    let mut text = format!("{{\"type\":\"{kind}\",\"object\":");
    text.push_str(&serde_json::to_string(object).unwrap_or_default());
    text.push_str("}\n");
    Bytes::from(text)
}

/// Starts a watch; `list` carries its namespace and selectors.
pub(crate) fn serve(
    shared: Arc<Shared>,
    rt: Arc<ResourceType>,
    list: ListQuery,
    query: &Query,
    form: Form,
) -> Result<Response<Body>, StatusError> {
    let start =
        match query.resource_version.as_deref() {
            None | Some("0") => None,
            Some(text) => Some(text.parse::<u64>().map_err(|_| {
                StatusError::bad_request(format!("invalid resourceVersion {text:?}"))
            })?),
        };
    let resource = rt.group_resource();
    let timeout = query
        .timeout_seconds
        .map(Duration::from_secs)
        .unwrap_or(DEFAULT_TIMEOUT);
    let now = Instant::now();
    let mut stream = WatchStream {
        changes: shared.state().subscribe(),
        drops: shared.faults.watch_drops(),
        shared: shared.clone(),
        rt: rt.clone(),
        list,
        form,
        resource,
        seen: 0,
        pending: VecDeque::new(),
        bookmarks: query.allow_watch_bookmarks,
        next_bookmark: now + shared.bookmark_interval,
        deadline: now + timeout,
        done: false,
        headers_sent: false,
    };
    stream.changes.borrow_and_update();
    stream.drops.borrow_and_update();
    {
        let state = shared.state();
        let initial = start.is_none() || query.send_initial_events;
        match start {
            Some(rv) if !initial && !state.history_covers(&stream.resource, rv) => {
                let gone =
                    StatusError::gone(format!("too old resource version: {rv} ({})", state.rv()));
                stream.pending.push_back(line("ERROR", &gone.to_status()));
                stream.done = true;
            }
            Some(rv) if !initial => stream.seen = rv,
            _ => {
                stream.seen = state.rv();
                let current: Vec<_> = state
                    .list(&stream.resource, stream.list.namespace.as_deref(), None)
                    .filter(|object| stream.matches(object))
                    .cloned()
                    .collect();
                for object in &current {
                    let event = stream.event("ADDED", object);
                    stream.pending.push_back(event);
                }
                if query.send_initial_events && stream.bookmarks {
                    let mut bookmark = stream.bookmark(stream.seen);
                    bookmark["metadata"]["annotations"] =
                        json!({"k8s.io/initial-events-end": "true"});
                    let event = stream.event("BOOKMARK", &bookmark);
                    stream.pending.push_back(event);
                }
            }
        }
    }
    let body = futures::stream::unfold(stream, |mut stream| async move {
        let chunk = stream.next().await?;
        Some((Ok::<_, Infallible>(Frame::data(chunk)), stream))
    });
    let mut out = response::json_bytes(200, Vec::new());
    *out.body_mut() = StreamBody::new(body).boxed_unsync();
    Ok(out)
}

impl WatchStream {
    fn matches(&self, object: &Value) -> bool {
        self.list
            .namespace
            .as_deref()
            .is_none_or(|ns| crate::meta::namespace(object) == ns)
            && self.list.labels.matches(object)
            && self.list.fields.matches(object)
    }

    /// One event line, its object in the form the watch asked for.
    fn event(&mut self, kind: &str, object: &Value) -> Bytes {
        let rendered = self.form.render(&self.rt, object, !self.headers_sent);
        self.headers_sent = true;
        line(kind, &rendered)
    }

    fn bookmark(&self, rv: u64) -> Value {
        json!({
            "kind": self.rt.kind,
            "apiVersion": self.rt.api_version(),
            "metadata": {"resourceVersion": rv.to_string()},
        })
    }

    /// The event this watch sees for a stored event, given its selectors.
    fn translate(&mut self, event: &StoredEvent) -> Option<Bytes> {
        let now = self.matches(&event.object);
        let before = event.previous.as_deref().is_some_and(|p| self.matches(p));
        let kind = match event.kind {
            EventType::Added if now => EventType::Added,
            EventType::Modified if now && before => EventType::Modified,
            EventType::Modified if now => EventType::Added,
            EventType::Modified if before => EventType::Deleted,
            EventType::Deleted if before || now => EventType::Deleted,
            _ => return None,
        };
        Some(self.event(kind.as_str(), &event.object))
    }

    fn poll_log(&mut self) {
        let (events, current) = {
            let state = self.shared.state();
            (state.events_after(&self.resource, self.seen), state.rv())
        };
        let Some(events) = events else {
            let gone = StatusError::gone(format!(
                "too old resource version: {} ({current})",
                self.seen
            ));
            self.pending.push_back(line("ERROR", &gone.to_status()));
            self.done = true;
            return;
        };
        for event in &events {
            if let Some(chunk) = self.translate(event) {
                self.pending.push_back(chunk);
            }
        }
        self.seen = self.seen.max(current);
    }

    async fn next(&mut self) -> Option<Bytes> {
        loop {
            if let Some(chunk) = self.pending.pop_front() {
                return Some(chunk);
            }
            if self.done {
                return None;
            }
            self.changes.borrow_and_update();
            self.poll_log();
            if !self.pending.is_empty() || self.done {
                continue;
            }
            tokio::select! {
                changed = self.changes.changed() => {
                    if changed.is_err() {
                        self.done = true;
                    }
                }
                _ = tokio::time::sleep_until(self.next_bookmark), if self.bookmarks => {
                    self.next_bookmark = Instant::now() + self.shared.bookmark_interval;
                    let bookmark = self.bookmark(self.seen);
                    let event = self.event("BOOKMARK", &bookmark);
                    self.pending.push_back(event);
                }
                _ = tokio::time::sleep_until(self.deadline) => self.done = true,
                _ = self.drops.changed() => self.done = true,
            }
        }
    }
}

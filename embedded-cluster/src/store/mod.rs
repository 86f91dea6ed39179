//! The object store: every object as JSON, one global `resourceVersion` counter, and an event
//! log per kind. The log is what watches read: a watch from version `v` replays the events
//! after `v`, and a `v` older than the log's start is `410 Gone`, as etcd compaction makes it
//! for the real API server.

mod persist;

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::path::Path;
use std::sync::Arc;
use tokio::sync::watch;

use crate::Error;
use crate::meta;
pub(crate) use persist::Persist;

/// Where an object lives: `group_resource` of its kind, namespace (empty when cluster-scoped)
/// and name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct ObjectKey {
    pub resource: String,
    pub namespace: String,
    pub name: String,
}

impl ObjectKey {
    pub fn new(resource: &str, namespace: &str, name: &str) -> Self {
        Self {
            resource: resource.to_owned(),
            namespace: namespace.to_owned(),
            name: name.to_owned(),
        }
    }
}

/// The type of a watch event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EventType {
    Added,
    Modified,
    Deleted,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Added => "ADDED",
            Self::Modified => "MODIFIED",
            Self::Deleted => "DELETED",
        }
    }
}

/// One change, as the log keeps it. `previous` lets a filtered watch turn a change that
/// leaves its selector into `DELETED` and one that enters it into `ADDED`.
#[derive(Debug)]
pub(crate) struct StoredEvent {
    pub rv: u64,
    pub kind: EventType,
    pub object: Arc<Value>,
    pub previous: Option<Arc<Value>>,
}

/// Work for the garbage collector, queued by writes and drained after each request.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum GcTask {
    /// An object is gone: its dependents may now have no owner left, and an owner waiting
    /// in foreground deletion may now be free.
    Removed { uid: String, owners: Vec<String> },
    /// An object was written with owner references: any of them may be dangling.
    CheckOwners(ObjectKey),
    /// An object is being deleted with the `foregroundDeletion` or `orphan` finalizer.
    Finalize(ObjectKey),
}

#[derive(Debug, Default)]
struct KindState {
    objects: BTreeMap<(String, String), Arc<Value>>,
    log: VecDeque<Arc<StoredEvent>>,
    /// Events up to this version may have been dropped from the log.
    compacted_through: u64,
}

/// Everything the server keeps; one lock guards it.
#[derive(Debug)]
pub(crate) struct State {
    rv: u64,
    kinds: HashMap<String, KindState>,
    uids: HashMap<String, ObjectKey>,
    dependents: HashMap<String, BTreeSet<ObjectKey>>,
    history_limit: usize,
    persist: Option<Persist>,
    notify: watch::Sender<u64>,
    pub gc_queue: VecDeque<GcTask>,
}

impl State {
    /// An empty store keeping up to `history_limit` events per kind.
    pub fn new(history_limit: usize) -> Self {
        Self {
            rv: 0,
            kinds: HashMap::new(),
            uids: HashMap::new(),
            dependents: HashMap::new(),
            history_limit: history_limit.max(1),
            persist: None,
            notify: watch::Sender::new(0),
            gc_queue: VecDeque::new(),
        }
    }

    /// A store backed by `path`: the objects written there before are loaded (their history
    /// is not, so older watches are `410 Gone`), and every later change is appended.
    pub fn open(history_limit: usize, path: &Path) -> Result<Self, Error> {
        let mut state = Self::new(history_limit);
        let (rv, objects) = persist::load(path)?;
        state.rv = rv;
        for (resource, object) in objects {
            let key = ObjectKey::new(&resource, meta::namespace(&object), meta::name(&object));
            let object = Arc::new(object);
            state.index(&key, None, Some(&object));
            state
                .kinds
                .entry(resource)
                .or_default()
                .objects
                .insert((key.namespace, key.name), object);
        }
        for kind in state.kinds.values_mut() {
            kind.compacted_through = rv;
        }
        state.persist = Some(Persist::rewrite(path, rv, state.all_objects())?);
        state.notify.send_replace(rv);
        Ok(state)
    }

    fn all_objects(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.kinds.iter().flat_map(|(resource, kind)| {
            kind.objects
                .values()
                .map(move |o| (resource.as_str(), o.as_ref()))
        })
    }

    /// The latest `resourceVersion`.
    pub fn rv(&self) -> u64 {
        self.rv
    }

    /// A receiver that sees the latest `resourceVersion` after every change.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.notify.subscribe()
    }

    pub fn get(&self, key: &ObjectKey) -> Option<Arc<Value>> {
        self.kinds
            .get(&key.resource)?
            .objects
            .get(&(key.namespace.clone(), key.name.clone()))
            .cloned()
    }

    /// Objects of a kind in key order, in one namespace or all, starting after `after`.
    pub fn list<'a>(
        &'a self,
        resource: &str,
        namespace: Option<&'a str>,
        after: Option<(String, String)>,
    ) -> impl Iterator<Item = &'a Arc<Value>> + 'a {
        use std::ops::Bound;
        let lower = match after {
            Some(key) => Bound::Excluded(key),
            None => match namespace {
                Some(ns) => Bound::Included((ns.to_owned(), String::new())),
                None => Bound::Unbounded,
            },
        };
        self.kinds
            .get(resource)
            .into_iter()
            .flat_map(move |k| k.objects.range((lower.clone(), Bound::Unbounded)))
            .take_while(move |((ns, _), _)| namespace.is_none_or(|want| ns == want))
            .map(|(_, o)| o)
    }

    /// The key of the object with this uid.
    pub fn key_of_uid(&self, uid: &str) -> Option<&ObjectKey> {
        self.uids.get(uid)
    }

    /// Objects whose owner references name `uid`.
    pub fn dependents_of(&self, uid: &str) -> Vec<ObjectKey> {
        self.dependents
            .get(uid)
            .map(|d| d.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Stores an object (create or update), stamping the next `resourceVersion`.
    pub fn put(&mut self, key: &ObjectKey, mut object: Value) -> Arc<Value> {
        self.rv += 1;
        let rv = self.rv;
        meta::metadata_mut(&mut object).insert("resourceVersion".into(), rv.to_string().into());
        let object = Arc::new(object);
        let kind = self.kinds.entry(key.resource.clone()).or_default();
        let previous = kind
            .objects
            .insert((key.namespace.clone(), key.name.clone()), object.clone());
        let event_type = if previous.is_some() {
            EventType::Modified
        } else {
            EventType::Added
        };
        self.index(key, previous.as_deref(), Some(&object));
        self.queue_gc(key, previous.as_deref(), &object);
        self.record(key, event_type, object.clone(), previous);
        object
    }

    /// Removes an object; the `DELETED` event carries it with the deletion's version.
    pub fn remove(&mut self, key: &ObjectKey) -> Option<Arc<Value>> {
        let kind = self.kinds.get_mut(&key.resource)?;
        let previous = kind
            .objects
            .remove(&(key.namespace.clone(), key.name.clone()))?;
        self.rv += 1;
        let mut last = (*previous).clone();
        meta::metadata_mut(&mut last).insert("resourceVersion".into(), self.rv.to_string().into());
        let last = Arc::new(last);
        self.index(key, Some(&previous), None);
        self.gc_queue.push_back(GcTask::Removed {
            uid: meta::uid(&previous).to_owned(),
            owners: meta::owner_refs(&previous)
                .into_iter()
                .map(|r| r.uid)
                .collect(),
        });
        self.record(key, EventType::Deleted, last.clone(), Some(previous));
        Some(last)
    }

    fn queue_gc(&mut self, key: &ObjectKey, previous: Option<&Value>, object: &Value) {
        let refs = meta::owner_refs(object);
        if !refs.is_empty() && previous.is_none_or(|p| meta::owner_refs(p) != refs) {
            self.gc_queue.push_back(GcTask::CheckOwners(key.clone()));
        }
        if meta::is_deleting(object)
            && meta::finalizers(object)
                .iter()
                .any(|f| f == crate::gc::FOREGROUND || f == crate::gc::ORPHAN)
        {
            self.gc_queue.push_back(GcTask::Finalize(key.clone()));
        }
    }

    fn index(&mut self, key: &ObjectKey, previous: Option<&Value>, object: Option<&Value>) {
        if let Some(previous) = previous {
            self.uids.remove(meta::uid(previous));
            for owner in meta::owner_refs(previous) {
                if let Some(set) = self.dependents.get_mut(&owner.uid) {
                    set.remove(key);
                    if set.is_empty() {
                        self.dependents.remove(&owner.uid);
                    }
                }
            }
        }
        if let Some(object) = object {
            self.uids.insert(meta::uid(object).to_owned(), key.clone());
            for owner in meta::owner_refs(object) {
                self.dependents
                    .entry(owner.uid)
                    .or_default()
                    .insert(key.clone());
            }
        }
    }

    fn record(
        &mut self,
        key: &ObjectKey,
        kind: EventType,
        object: Arc<Value>,
        previous: Option<Arc<Value>>,
    ) {
        if let Some(persist) = &mut self.persist {
            let written = match kind {
                EventType::Deleted => persist.append_delete(self.rv, key),
                _ => persist.append_put(self.rv, &key.resource, &object),
            };
            if let Err(error) = written {
                tracing::error!(%error, "cannot append to the store file; later changes are not persisted");
                self.persist = None;
            }
        }
        let limit = self.history_limit;
        let state = self.kinds.entry(key.resource.clone()).or_default();
        state.log.push_back(Arc::new(StoredEvent {
            rv: self.rv,
            kind,
            object,
            previous,
        }));
        while state.log.len() > limit {
            if let Some(dropped) = state.log.pop_front() {
                state.compacted_through = dropped.rv;
            }
        }
        self.notify.send_replace(self.rv);
    }

    /// The events of a kind after version `rv`, or `None` when some were compacted away.
    pub fn events_after(&self, resource: &str, rv: u64) -> Option<Vec<Arc<StoredEvent>>> {
        let Some(kind) = self.kinds.get(resource) else {
            return Some(Vec::new());
        };
        if rv < kind.compacted_through {
            return None;
        }
        let start = kind.log.partition_point(|e| e.rv <= rv);
        Some(kind.log.range(start..).cloned().collect())
    }

    /// Whether a watch or continue token from `rv` can still be served for a kind.
    pub fn history_covers(&self, resource: &str, rv: u64) -> bool {
        self.kinds
            .get(resource)
            .is_none_or(|k| rv >= k.compacted_through)
    }

    /// Forgets every kind's history, as etcd compaction does: watches from any earlier version
    /// must relist.
    pub fn compact(&mut self) {
        let rv = self.rv;
        for kind in self.kinds.values_mut() {
            kind.log.clear();
            kind.compacted_through = rv;
        }
    }

    /// Makes sure every change so far is on disk.
    pub fn flush(&mut self) -> Result<(), Error> {
        if let Some(persist) = &mut self.persist {
            persist.flush()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cm(name: &str) -> Value {
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "n", "uid": format!("u-{name}")}})
    }

    #[test]
    fn versions_grow_and_the_log_replays_after_a_version() {
        let mut state = State::new(10);
        let a = ObjectKey::new("configmaps", "n", "a");
        state.put(&a, cm("a"));
        state.put(&a, cm("a"));
        let b = ObjectKey::new("configmaps", "n", "b");
        state.put(&b, cm("b"));
        state.remove(&a);
        assert_eq!(state.rv(), 4);
        let events = state.events_after("configmaps", 1).unwrap();
        let kinds: Vec<_> = events.iter().map(|e| (e.rv, e.kind)).collect();
        assert_eq!(
            kinds,
            vec![
                (2, EventType::Modified),
                (3, EventType::Added),
                (4, EventType::Deleted)
            ]
        );
        assert_eq!(events[2].object["metadata"]["resourceVersion"], "4");
        let listed: Vec<_> = state.list("configmaps", Some("n"), None).collect();
        assert_eq!(listed.len(), 1);
    }

    #[test]
    fn a_short_log_answers_gone_for_old_versions() {
        let mut state = State::new(2);
        for name in ["a", "b", "c", "d"] {
            state.put(&ObjectKey::new("configmaps", "n", name), cm(name));
        }
        assert!(state.events_after("configmaps", 1).is_none());
        assert_eq!(state.events_after("configmaps", 2).unwrap().len(), 2);
        state.compact();
        assert!(state.events_after("configmaps", 3).is_none());
    }

    #[test]
    fn dependents_are_indexed_by_owner_uid() {
        let mut state = State::new(10);
        let mut child = cm("child");
        child["metadata"]["ownerReferences"] = json!([{"uid": "u-parent", "name": "parent"}]);
        let key = ObjectKey::new("configmaps", "n", "child");
        state.put(&key, child);
        assert_eq!(state.dependents_of("u-parent"), vec![key.clone()]);
        assert_eq!(state.key_of_uid("u-child"), Some(&key));
        state.remove(&key);
        assert!(state.dependents_of("u-parent").is_empty());
    }

    #[test]
    fn namespaces_bound_a_list() {
        let mut state = State::new(10);
        for (ns, name) in [("a", "x"), ("b", "x"), ("b", "y"), ("c", "x")] {
            let mut o = cm(name);
            o["metadata"]["namespace"] = json!(ns);
            state.put(&ObjectKey::new("configmaps", ns, name), o);
        }
        assert_eq!(state.list("configmaps", Some("b"), None).count(), 2);
        assert_eq!(state.list("configmaps", None, None).count(), 4);
        let after = Some(("b".to_owned(), "x".to_owned()));
        assert_eq!(state.list("configmaps", Some("b"), after).count(), 1);
    }
}

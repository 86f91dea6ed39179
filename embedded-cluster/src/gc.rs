//! The garbage collector: ownerReference cascades, run at the end of every write transaction
//! instead of asynchronously, so a test sees the cascade as soon as the request returns.
//!
//! - An object none of whose owners exists any more is deleted (background cascade). When some
//!   owners still exist, references to the missing ones are removed.
//! - An owner deleted in the foreground (`foregroundDeletion` finalizer) has its dependents
//!   deleted, and its finalizer removed once no dependent with `blockOwnerDeletion` is left.
//! - An owner deleted with `orphan` has its references removed from its dependents, then its
//!   finalizer removed.

use serde_json::Value;

use crate::api::{DeleteOptions, ManagedMode, Txn, WriteOptions};
use crate::meta;
use crate::resources::Propagation;
use crate::store::{GcTask, ObjectKey};

/// The finalizer of foreground deletion.
pub(crate) const FOREGROUND: &str = "foregroundDeletion";
/// The finalizer of orphaning deletion.
pub(crate) const ORPHAN: &str = "orphan";

const MANAGER: &str = "generic-garbage-collector";

impl Txn<'_> {
    /// Runs every queued cascade until none is left.
    pub fn collect_garbage(&mut self) {
        // Each step removes or rewrites objects, so the work is bounded by the store's size;
        // the cap only guards against a bug turning into a hung request.
        let mut budget = 1_000_000usize;
        while let Some(task) = self.state.gc_queue.pop_front() {
            budget = budget.saturating_sub(1);
            if budget == 0 {
                tracing::error!("garbage collection did not settle; dropping the rest of its work");
                self.state.gc_queue.clear();
                return;
            }
            match task {
                GcTask::Removed { uid, owners } => {
                    for dependent in self.state.dependents_of(&uid) {
                        self.check_owners(&dependent);
                    }
                    for owner in owners {
                        if let Some(key) = self.state.key_of_uid(&owner).cloned() {
                            self.finish_foreground(&key);
                        }
                    }
                }
                GcTask::CheckOwners(key) => self.check_owners(&key),
                GcTask::Finalize(key) => self.finalize(&key),
            }
        }
    }

    fn owner_state(&self, uid: &str) -> OwnerState {
        match self.state.key_of_uid(uid).and_then(|k| self.state.get(k)) {
            None => OwnerState::Missing,
            Some(owner)
                if meta::is_deleting(&owner)
                    && meta::finalizers(&owner).iter().any(|f| f == FOREGROUND) =>
            {
                OwnerState::Foreground
            }
            Some(_) => OwnerState::Present,
        }
    }

    fn check_owners(&mut self, key: &ObjectKey) {
        let Some(object) = self.state.get(key) else {
            return;
        };
        let refs = meta::owner_refs(&object);
        if refs.is_empty() {
            return;
        }
        let states: Vec<(String, OwnerState)> = refs
            .into_iter()
            .map(|r| {
                let state = self.owner_state(&r.uid);
                (r.uid, state)
            })
            .collect();
        let solid = states.iter().any(|(_, s)| *s == OwnerState::Present);
        if solid {
            let gone: Vec<&String> = states
                .iter()
                .filter(|(_, s)| *s != OwnerState::Present)
                .map(|(uid, _)| uid)
                .collect();
            if !gone.is_empty() {
                self.rewrite(key, |object| {
                    for uid in gone {
                        meta::remove_owner_ref(object, uid);
                    }
                });
            }
            return;
        }
        if meta::is_deleting(&object) {
            return;
        }
        let waiting = states.iter().any(|(_, s)| *s == OwnerState::Foreground);
        let has_dependents = !self.state.dependents_of(meta::uid(&object)).is_empty();
        let propagation = if waiting && has_dependents {
            Propagation::Foreground
        } else {
            Propagation::Background
        };
        let Some(rt) = self.registry.by_group_resource(&key.resource) else {
            return;
        };
        let opts = DeleteOptions {
            propagation: Some(propagation),
            ..DeleteOptions::default()
        };
        if let Err(error) = self.delete(&rt, key, &opts) {
            tracing::warn!(?key, message = %error.message, "garbage collection could not delete a dependent");
        }
    }

    fn finalize(&mut self, key: &ObjectKey) {
        let Some(object) = self.state.get(key) else {
            return;
        };
        if !meta::is_deleting(&object) {
            return;
        }
        let finalizers = meta::finalizers(&object);
        let uid = meta::uid(&object).to_owned();
        if finalizers.iter().any(|f| f == ORPHAN) {
            for dependent in self.state.dependents_of(&uid) {
                self.rewrite(&dependent, |o| meta::remove_owner_ref(o, &uid));
            }
            self.rewrite(key, |o| {
                let left: Vec<String> = meta::finalizers(o)
                    .into_iter()
                    .filter(|f| f != ORPHAN)
                    .collect();
                meta::set_finalizers(o, &left);
            });
        }
        if finalizers.iter().any(|f| f == FOREGROUND) {
            for dependent in self.state.dependents_of(&uid) {
                self.check_owners(&dependent);
            }
            self.finish_foreground(key);
        }
    }

    /// Drops `foregroundDeletion` from an owner once no blocking dependent is left.
    fn finish_foreground(&mut self, key: &ObjectKey) {
        let Some(owner) = self.state.get(key) else {
            return;
        };
        if !meta::is_deleting(&owner) || !meta::finalizers(&owner).iter().any(|f| f == FOREGROUND) {
            return;
        }
        let uid = meta::uid(&owner).to_owned();
        let blocked = self.state.dependents_of(&uid).iter().any(|d| {
            self.state.get(d).is_some_and(|dependent| {
                meta::owner_refs(&dependent)
                    .iter()
                    .any(|r| r.uid == uid && r.block_owner_deletion)
            })
        });
        if !blocked {
            self.rewrite(key, |o| {
                let left: Vec<String> = meta::finalizers(o)
                    .into_iter()
                    .filter(|f| f != FOREGROUND)
                    .collect();
                meta::set_finalizers(o, &left);
            });
        }
    }

    /// A metadata change by the collector, through the normal update path (so that removing
    /// the last finalizer removes the object).
    fn rewrite(&mut self, key: &ObjectKey, change: impl FnOnce(&mut Value)) {
        let Some(old) = self.state.get(key) else {
            return;
        };
        let Some(rt) = self.registry.by_group_resource(&key.resource) else {
            return;
        };
        let mut new = (*old).clone();
        change(&mut new);
        let opts = WriteOptions::internal(MANAGER);
        if let Err(error) = self.finish_update(&rt, key, old, new, &opts, ManagedMode::Update) {
            tracing::warn!(?key, message = %error.message, "garbage collection could not update an object");
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OwnerState {
    Missing,
    Present,
    /// Being deleted in the foreground: its dependents go first.
    Foreground,
}

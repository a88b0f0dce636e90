//! The id index: every component and group id of the tree, with the group that owns it (where
//! an operator's command on it goes). Built with the tree, kept as a reload adds and removes
//! children (each actor's end takes its entry with it); the daemon finds ids here, never by walking
//! specs or asking one nested group after another.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use actix::Recipient;
use tokio::sync::Notify;

use crate::messages::Operate;
use crate::status::Token;

/// Where an id lives.
#[derive(Clone)]
struct Entry {
    /// The group that owns the child: operator commands go there.
    owner: Recipient<Operate>,
    /// The child actor's own token: only its own end removes the entry.
    token: Token,
}

/// Every id of the tree, shared by the groups (which keep it) and the daemon (which reads it).
#[derive(Clone, Default)]
pub struct IdIndex {
    entries: Arc<RwLock<HashMap<String, Entry>>>,
    /// Wakes whoever waits for an actor to come or go (see [`IdIndex::until`]).
    changed: Arc<Notify>,
}

impl IdIndex {
    /// `id` is now the child actor `token` of the group that `owner` reaches.
    pub fn insert(&self, id: &str, owner: Recipient<Operate>, token: Token) {
        let entry = Entry { owner, token };
        self.write().insert(id.to_string(), entry);
        self.changed.notify_waiters();
    }

    /// The child actor `token` called `id` is gone; an id a reload has given to another actor
    /// meanwhile stays with that one.
    pub fn remove(&self, id: &str, token: Token) {
        let mut entries = self.write();
        if entries.get(id).is_some_and(|entry| entry.token == token) {
            entries.remove(id);
            drop(entries);
            self.changed.notify_waiters();
        }
    }

    /// Waits until `done` says so of the index, woken by each change; at most `bound`.
    pub async fn until(&self, bound: Duration, done: impl Fn(&IdIndex) -> bool) {
        let deadline = tokio::time::Instant::now() + bound;
        loop {
            // Listening before looking: a change between the two is not missed.
            let changed = self.changed.notified();
            let mut changed = std::pin::pin!(changed);
            changed.as_mut().enable();
            if done(self) {
                return;
            }
            if tokio::time::timeout_at(deadline, changed).await.is_err() {
                return;
            }
        }
    }

    /// Where commands on `id` go, if the tree has it.
    pub fn owner(&self, id: &str) -> Option<Recipient<Operate>> {
        self.read().get(id).map(|entry| entry.owner.clone())
    }

    /// Whether the tree has `id`.
    pub fn contains(&self, id: &str) -> bool {
        self.read().contains_key(id)
    }

    /// The child actor `id` names now, if the tree has it.
    pub fn token(&self, id: &str) -> Option<Token> {
        self.read().get(id).map(|entry| entry.token)
    }

    /// Every id, sorted.
    pub fn ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.read().keys().cloned().collect();
        ids.sort();
        ids
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, Entry>> {
        self.entries
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<String, Entry>> {
        self.entries
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Ids an operator stopped while a reload moved them (their old place stopping them, their new
/// one not made yet): the group that adds one next adds it stopped, as the operator left it,
/// instead of starting it for the operator's stop to end it again.
#[derive(Clone, Default)]
pub struct StoppedOnArrival(Arc<Mutex<BTreeSet<String>>>);

impl StoppedOnArrival {
    /// `id` is to arrive stopped. An operator's start asked after the stop starts it once it
    /// has arrived, as it does any stopped component.
    pub fn mark(&self, id: &str) {
        let mut ids = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        ids.insert(id.to_string());
    }

    /// Whether `id`, being added now, arrives stopped (told once).
    pub fn take(&self, id: &str) -> bool {
        let mut ids = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        ids.remove(id)
    }

    /// Forgets every id (a new reload: what never arrived is no longer on its way).
    pub fn clear(&self) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }
}

//! What a store handle knows of the leases it holds: the epoch of each call it claimed, for
//! the fence its writes for that call carry.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::StoreError;

/// The epoch of a lease this instance held and lost: no lease has it (epochs start at 1), so
/// every write fenced by it is refused.
const LOST: u64 = 0;

/// The leases one instance holds, by call, with the epoch it claimed each at.
#[derive(Debug, Clone, Default)]
pub struct Held {
    epochs: Arc<Mutex<HashMap<String, u64>>>,
}

impl Held {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, u64>> {
        self.epochs.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn insert(&self, call_id: &str, epoch: u64) {
        self.lock().insert(call_id.to_owned(), epoch);
    }

    pub(crate) fn remove(&self, call_id: &str) {
        self.lock().remove(call_id);
    }

    pub(crate) fn clear(&self) {
        self.lock().clear();
    }

    /// The fence for a write about `call_id`: the epoch it is held at, when it is held.
    pub(crate) fn fence(&self, call_id: &str) -> Option<u64> {
        self.lock().get(call_id).copied()
    }

    /// Given the leases the store still has for this instance, returns the calls held here
    /// that are not among them (or are at another epoch), and keeps them as lost.
    pub(crate) fn keep_only(&self, still: &[(String, u64)]) -> Vec<String> {
        let still: HashMap<&str, u64> = still.iter().map(|(c, e)| (c.as_str(), *e)).collect();
        let mut held = self.lock();
        let lost: Vec<String> = held
            .iter()
            .filter(|(call, epoch)| **epoch != LOST && still.get(call.as_str()) != Some(epoch))
            .map(|(call, _)| call.clone())
            .collect();
        for call in &lost {
            held.insert(call.clone(), LOST);
        }
        lost
    }

    /// A write for `call_id` found its lease moved on: the call is kept as lost (every later
    /// write for it is refused too, until this instance claims it again), and the error.
    pub(crate) fn fenced(&self, call_id: &str, epoch: u64) -> StoreError {
        let mut held = self.lock();
        if held.get(call_id) == Some(&epoch) {
            held.insert(call_id.to_owned(), LOST);
        }
        StoreError::Fenced {
            call_id: call_id.to_owned(),
            epoch,
        }
    }
}

/// What a sweep found ([`crate::Store::sweep`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sweep {
    /// Live calls with no lease or a lapsed one: any instance may claim them.
    pub unowned: Vec<String>,
    /// Calls of this instance with entries left unhandled longer than they should be.
    pub waiting: Vec<String>,
}

//! Journal before ack: the notifications of one callback appended to their calls' journals in
//! one commit, before the callback is answered.

use super::{Store, StoreError, now_ms};
use crate::graph::id::id_key;
use crate::graph::notification::CommsNotification;
use callhost_store::{Appended, NewEntry};

/// What the journal did with one notification of a callback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Journaled {
    /// Stored as entry `seq` of its call: it is handled once.
    Stored(u64),
    /// Its call already has it as entry `seq`: acknowledged, not handled again.
    Duplicate(u64),
    /// It names no call, so it has no journal (the dispatcher drops it with a warning).
    NoCall,
}

/// Appends every notification that names a call, in one commit. The calls are keyed by
/// [`id_key`], so that the forms Graph writes one id in share a journal.
pub(crate) async fn journal(
    store: &dyn Store,
    notifications: &[CommsNotification],
    tenant: &str,
) -> Result<Vec<Journaled>, StoreError> {
    let received_at_ms = now_ms();
    let mut entries = Vec::with_capacity(notifications.len());
    let slots: Vec<Option<usize>> = notifications
        .iter()
        .map(|n| {
            let call_id = n.call_id()?;
            entries.push(NewEntry {
                call_id: id_key(call_id).into_owned(),
                dedupe_key: n.dedupe_key(),
                tenant_id: tenant.to_owned(),
                received_at_ms,
                body: serde_json::to_vec(&n.envelope()).unwrap_or_default(),
            });
            Some(entries.len() - 1)
        })
        .collect();
    let appended = if entries.is_empty() {
        Vec::new()
    } else {
        store.append(entries).await?
    };
    slots
        .into_iter()
        .map(|slot| match slot.map(|i| appended.get(i)) {
            None => Ok(Journaled::NoCall),
            Some(Some(Appended::Stored { seq })) => Ok(Journaled::Stored(*seq)),
            Some(Some(Appended::Duplicate { seq })) => Ok(Journaled::Duplicate(*seq)),
            Some(None) => Err(StoreError::Engine(
                "the store answered fewer entries than it was given".into(),
            )),
        })
        .collect()
}

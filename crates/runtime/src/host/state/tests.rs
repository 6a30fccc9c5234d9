//! The `state` interface on its own context, without Wasm.

use std::sync::Arc;

use super::*;
use crate::bindings::state::Host as _;
use crate::outcome::HostLimitExceeded;
use crate::state_store::{MemoryStateStore, StateQuota, StateScope, StateStore};

const QUOTA: StateQuota = StateQuota {
    max_key_bytes: 8,
    max_scope_bytes: 32,
};

/// The event's scopes over one store, and its host-call budget.
struct Event {
    store: Arc<MemoryStateStore>,
    call: StateTxn,
    plugin: StateTxn,
    host_calls: HostCallBudget,
}

fn call_scope() -> StateScope {
    StateScope::Call {
        plugin: "p".into(),
        call_id: "c1".into(),
    }
}

fn plugin_scope() -> StateScope {
    StateScope::Plugin { plugin: "p".into() }
}

impl Event {
    fn new(host_calls: u32) -> Self {
        let store = Arc::new(MemoryStateStore::new());
        let shared: Arc<dyn StateStore> = store.clone();
        Self {
            call: StateTxn::new(shared.clone(), call_scope(), QUOTA),
            plugin: StateTxn::new(shared, plugin_scope(), QUOTA),
            store,
            host_calls: HostCallBudget::new(host_calls),
        }
    }

    fn ctx(&mut self) -> StateCtx<'_> {
        StateCtx {
            call: &mut self.call,
            plugin: &mut self.plugin,
            host_calls: &mut self.host_calls,
        }
    }
}

#[tokio::test]
async fn set_get_list_and_delete() {
    let mut event = Event::new(100);
    let mut ctx = event.ctx();
    assert_eq!(ctx.get(Scope::Call, "k".into()).await.unwrap(), None);
    ctx.set(Scope::Call, "k".into(), b"v".to_vec())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        ctx.get(Scope::Call, "k".into()).await.unwrap(),
        Some(b"v".to_vec())
    );
    assert_eq!(ctx.list_keys(Scope::Call).await.unwrap(), vec!["k"]);
    ctx.delete(Scope::Call, "k".into()).await.unwrap();
    ctx.delete(Scope::Call, "missing".into()).await.unwrap();
    assert_eq!(ctx.get(Scope::Call, "k".into()).await.unwrap(), None);
    assert!(ctx.list_keys(Scope::Call).await.unwrap().is_empty());
}

#[tokio::test]
async fn call_and_plugin_scopes_are_kept_apart() {
    let mut event = Event::new(100);
    let mut ctx = event.ctx();
    ctx.set(Scope::Call, "k".into(), b"call".to_vec())
        .await
        .unwrap()
        .unwrap();
    ctx.set(Scope::Plugin, "k".into(), b"plugin".to_vec())
        .await
        .unwrap()
        .unwrap();
    ctx.delete(Scope::Call, "k".into()).await.unwrap();
    assert_eq!(ctx.get(Scope::Call, "k".into()).await.unwrap(), None);
    assert_eq!(
        ctx.get(Scope::Plugin, "k".into()).await.unwrap(),
        Some(b"plugin".to_vec())
    );

    // Each scope commits into its own place in the store.
    let Event {
        store,
        call,
        plugin,
        ..
    } = event;
    call.commit();
    plugin.commit();
    assert_eq!(store.get(&call_scope(), "k"), None);
    assert_eq!(store.get(&plugin_scope(), "k"), Some(b"plugin".to_vec()));
}

#[tokio::test]
async fn writes_over_the_quota_are_refused() {
    let mut event = Event::new(100);
    let mut ctx = event.ctx();
    let refused = ctx
        .set(Scope::Plugin, "far-too-long".into(), Vec::new())
        .await
        .unwrap();
    assert!(
        matches!(&refused, Err(StateError::QuotaExceeded(why)) if why.contains("8 bytes")),
        "{refused:?}"
    );
    let refused = ctx.set(Scope::Call, "k".into(), vec![0; 64]).await.unwrap();
    assert!(
        matches!(&refused, Err(StateError::QuotaExceeded(why)) if why.contains("32 bytes")),
        "{refused:?}"
    );
    assert!(ctx.list_keys(Scope::Call).await.unwrap().is_empty());
}

#[tokio::test]
async fn every_function_counts_against_the_host_call_budget() {
    let mut event = Event::new(4);
    let mut ctx = event.ctx();
    ctx.get(Scope::Call, "k".into()).await.unwrap();
    ctx.set(Scope::Call, "k".into(), Vec::new())
        .await
        .unwrap()
        .unwrap();
    ctx.delete(Scope::Call, "k".into()).await.unwrap();
    ctx.list_keys(Scope::Plugin).await.unwrap();
    let trap = ctx.get(Scope::Plugin, "k".into()).await.unwrap_err();
    let limit = trap.downcast_ref::<HostLimitExceeded>().unwrap();
    assert_eq!((limit.what, limit.limit), ("host calls", 4));
}

#[tokio::test]
async fn compare_and_swap_writes_at_once_and_only_at_the_revision_read() {
    let mut event = Event::new(100);
    let mut ctx = event.ctx();
    assert!(matches!(
        ctx.read_plugin("n".into()).await.unwrap(),
        Ok(None)
    ));
    let first = ctx
        .compare_and_swap("n".into(), 0, Some(b"1".to_vec()))
        .await
        .unwrap()
        .unwrap();
    assert_ne!(first, 0);
    // At once: the store has it before the event commits anything.
    assert_eq!(event.store.get(&plugin_scope(), "n"), Some(b"1".to_vec()));
    let mut ctx = event.ctx();
    let conflict = ctx
        .compare_and_swap("n".into(), 0, Some(b"x".to_vec()))
        .await
        .unwrap();
    assert!(matches!(conflict, Err(StateError::Conflict(r)) if r == first));
    let read = ctx.read_plugin("n".into()).await.unwrap().unwrap().unwrap();
    assert_eq!((read.value, read.revision), (b"1".to_vec(), first));
    assert_eq!(
        ctx.get(Scope::Plugin, "n".into()).await.unwrap(),
        Some(b"1".to_vec())
    );
    // Deleting at the revision read.
    let deleted = ctx.compare_and_swap("n".into(), first, None).await.unwrap();
    assert!(matches!(deleted, Ok(0)));
    assert_eq!(ctx.get(Scope::Plugin, "n".into()).await.unwrap(), None);
    // The quota holds for swaps too.
    let over = ctx
        .compare_and_swap("n".into(), 0, Some(vec![0; 64]))
        .await
        .unwrap();
    assert!(
        matches!(over, Err(StateError::QuotaExceeded(_))),
        "{over:?}"
    );
}

#[tokio::test]
async fn increment_counts_in_decimal_and_refuses_what_is_not_a_number() {
    let mut event = Event::new(100);
    let mut ctx = event.ctx();
    assert!(matches!(
        ctx.increment("calls".into(), 1).await.unwrap(),
        Ok(1)
    ));
    assert!(matches!(
        ctx.increment("calls".into(), 41).await.unwrap(),
        Ok(42)
    ));
    assert!(matches!(
        ctx.increment("calls".into(), -2).await.unwrap(),
        Ok(40)
    ));
    assert_eq!(
        ctx.get(Scope::Plugin, "calls".into()).await.unwrap(),
        Some(b"40".to_vec())
    );
    ctx.compare_and_swap("word".into(), 0, Some(b"menu".to_vec()))
        .await
        .unwrap()
        .unwrap();
    let refused = ctx.increment("word".into(), 1).await.unwrap();
    assert!(
        matches!(&refused, Err(StateError::Invalid(why)) if why.contains("not a decimal integer") && why.contains("menu")),
        "{refused:?}"
    );
    let mut event = Event::new(100);
    let mut ctx = event.ctx();
    ctx.compare_and_swap("big".into(), 0, Some(i64::MAX.to_string().into_bytes()))
        .await
        .unwrap()
        .unwrap();
    let overflow = ctx.increment("big".into(), 1).await.unwrap();
    assert!(
        matches!(&overflow, Err(StateError::Invalid(why)) if why.contains("overflows")),
        "{overflow:?}"
    );
}

//! The behaviour every engine must have: each engine's tests run [`suite`] against it.

use crate::{
    Appended, CallRecord, Intent, NewEntry, StateSwap, StateWrite, Store, StoreError, Swapped,
    call_scope, component_hash, plugin_scope,
};

fn entry(call: &str, key: &str) -> NewEntry {
    NewEntry {
        call_id: call.into(),
        dedupe_key: Some(key.into()),
        tenant_id: "tenant-1".into(),
        received_at_ms: 1_700_000_000_000,
        body: format!("{{\"key\": \"{key}\"}}").into_bytes(),
    }
}

pub(crate) fn call(id: &str, created_at_ms: i64) -> CallRecord {
    CallRecord {
        call_id: id.into(),
        graph_id: id.to_uppercase(),
        tenant_id: "tenant-1".into(),
        direction: "incoming".into(),
        route: Some("default".into()),
        plugin: "ivr".into(),
        plugin_version: component_hash(b"ivr"),
        state: "incoming".into(),
        my_participant_id: Some("me".into()),
        callback_uri: Some("https://bot.example.com/api/calls".into()),
        created_by_plugin: false,
        created_at_ms,
        last_keepalive_ms: None,
        ended_at_ms: None,
        end_reason: None,
    }
}

/// Runs every check against `store`, which must be empty.
pub(crate) async fn suite(store: &dyn Store) {
    journals_number_each_call_on_its_own(store).await;
    a_repeat_is_recognised_and_not_stored(store).await;
    calls_are_saved_listed_and_ended(store).await;
    handled_markers_and_state_writes_commit_together_once(store).await;
    components_are_content_addressed(store).await;
    intents_are_written_once_and_finished(store).await;
    history_unowned_entries_and_pruning(store).await;
    state_swaps_compare_revisions(store).await;
}

async fn state_swaps_compare_revisions(store: &dyn Store) {
    let scope = plugin_scope("counter");
    let swap = |expected, value: Option<&str>| StateSwap {
        call_id: "s-1".into(),
        scope: scope.clone(),
        key: "calls".into(),
        expected,
        value: value.map(|v| v.as_bytes().to_vec()),
    };
    let revision = |swapped| match swapped {
        Swapped::Done { revision } => revision,
        Swapped::Conflict { .. } => panic!("a swap at the current revision conflicted"),
    };
    // Missing: only a swap that expects it missing (revision 0) writes.
    assert_eq!(
        store.swap_state(swap(7, Some("x"))).await.unwrap(),
        Swapped::Conflict { revision: 0 }
    );
    let first = revision(store.swap_state(swap(0, Some("1"))).await.unwrap());
    assert_ne!(first, 0);
    let stored = store.state(scope.clone(), "calls".into()).await.unwrap();
    assert_eq!(
        stored.as_ref().map(|e| (&e.value[..], e.revision)),
        Some((&b"1"[..], first))
    );
    assert_eq!(
        store.swap_state(swap(0, Some("1"))).await.unwrap(),
        Swapped::Conflict { revision: first }
    );
    let second = revision(store.swap_state(swap(first, Some("2"))).await.unwrap());
    assert_ne!(second, first);
    // A plain write moves the revision on too: a swap from before it conflicts.
    store
        .write_state(vec![StateWrite {
            scope: scope.clone(),
            key: "calls".into(),
            value: Some(b"9".to_vec()),
        }])
        .await
        .unwrap();
    let after_write = store
        .state(scope.clone(), "calls".into())
        .await
        .unwrap()
        .unwrap();
    assert_ne!(after_write.revision, second);
    assert!(matches!(
        store.swap_state(swap(second, Some("3"))).await.unwrap(),
        Swapped::Conflict { .. }
    ));
    // A swap that deletes; then deleting what is missing is done already.
    assert_eq!(
        store
            .swap_state(swap(after_write.revision, None))
            .await
            .unwrap(),
        Swapped::Done { revision: 0 }
    );
    assert_eq!(
        store.state(scope.clone(), "calls".into()).await.unwrap(),
        None
    );
    assert_eq!(
        store.swap_state(swap(0, None)).await.unwrap(),
        Swapped::Done { revision: 0 }
    );
    // Written again, the key does not get an old revision back.
    let again = revision(store.swap_state(swap(0, Some("1"))).await.unwrap());
    assert!(![first, second, after_write.revision].contains(&again));
}

/// Two instances count on one key with compare-and-swap, at once: no increment is lost.
pub(crate) async fn swaps_of_two_instances_lose_nothing(a: &dyn Store, b: &dyn Store) {
    const EACH: u64 = 40;
    let scope = plugin_scope("race");
    let count = async |store: &dyn Store| {
        let scope = scope.clone();
        {
            let mut conflicts = 0;
            let mut done = 0;
            while done < EACH {
                let current = store.state(scope.clone(), "n".into()).await.unwrap();
                let (n, expected) = current.map_or((0, 0), |e| {
                    (
                        String::from_utf8(e.value).unwrap().parse::<u64>().unwrap(),
                        e.revision,
                    )
                });
                let swap = StateSwap {
                    call_id: "race".into(),
                    scope: scope.clone(),
                    key: "n".into(),
                    expected,
                    value: Some((n + 1).to_string().into_bytes()),
                };
                match store.swap_state(swap).await.unwrap() {
                    Swapped::Done { .. } => done += 1,
                    Swapped::Conflict { .. } => conflicts += 1,
                }
            }
            conflicts
        }
    };
    let (ca, cb) = futures::join!(count(a), count(b));
    let stored = a.state(scope.clone(), "n".into()).await.unwrap().unwrap();
    assert_eq!(
        String::from_utf8(stored.value).unwrap(),
        (2 * EACH).to_string(),
        "{ca} + {cb} conflicts"
    );
}

async fn intents_are_written_once_and_finished(store: &dyn Store) {
    let intent = |idx| Intent {
        call_id: "i-1".into(),
        seq: 4,
        idx,
        action: "answer".into(),
        started_at_ms: 10,
    };
    assert_eq!(store.begin_intent(intent(0)).await.unwrap(), None);
    assert_eq!(store.begin_intent(intent(1)).await.unwrap(), None);
    // Made again (a replay after a restart): the first one, outcome unknown.
    let again = store.begin_intent(intent(0)).await.unwrap().unwrap();
    assert_eq!((again.seq, again.idx, again.result), (4, 0, None));
    store
        .finish_intent("i-1".into(), 4, 0, "done".into())
        .await
        .unwrap();
    let again = store.begin_intent(intent(0)).await.unwrap().unwrap();
    assert_eq!(again.result.as_deref(), Some("done"));
    let all = store.intents("i-1".into()).await.unwrap();
    let keys: Vec<(u64, u32, Option<&str>)> = all
        .iter()
        .map(|i| (i.seq, i.idx, i.result.as_deref()))
        .collect();
    assert_eq!(keys, [(4, 0, Some("done")), (4, 1, None)]);
    assert!(store.intents("other".into()).await.unwrap().is_empty());
}

async fn history_unowned_entries_and_pruning(store: &dyn Store) {
    // After everything the earlier checks stored.
    const T: i64 = 1_800_000_000_000;
    let at = |call: &str, key: &str, ms| NewEntry {
        received_at_ms: T + ms,
        ..entry(call, key)
    };
    store.save_call(call("h-old", 1)).await.unwrap();
    store.save_call(call("h-new", 2)).await.unwrap();
    store.save_call(call("h-live", 3)).await.unwrap();
    store
        .append(vec![
            at("h-old", "1", 100),
            at("h-new", "1", 100),
            at("h-live", "1", 100),
            at("h-orphan-old", "1", 100),
            at("h-orphan", "1", 5_000),
        ])
        .await
        .unwrap();
    store.keepalive("h-live".into(), T + 4_000).await.unwrap();
    let live = store.call("h-live".into()).await.unwrap().unwrap();
    assert_eq!(live.last_keepalive_ms, Some(T + 4_000));
    for (call, scope) in [("h-old", "p"), ("h-live", "p")] {
        let write = StateWrite {
            scope: call_scope(call, scope),
            key: "k".into(),
            value: Some(vec![1]),
        };
        store.handled(call.into(), 1, vec![write]).await.unwrap();
    }
    let shared = StateWrite {
        scope: plugin_scope("p"),
        key: "b".into(),
        value: Some(vec![2]),
    };
    let shared_a = StateWrite {
        key: "a".into(),
        ..shared.clone()
    };
    store
        .handled("h-new".into(), 1, vec![shared, shared_a])
        .await
        .unwrap();
    let values = store.state_scope(plugin_scope("p")).await.unwrap();
    assert_eq!(values, [("a".into(), vec![2]), ("b".into(), vec![2])]);
    let removal = StateWrite {
        scope: plugin_scope("p"),
        key: "a".into(),
        value: None,
    };
    store.write_state(vec![removal]).await.unwrap();
    let values = store.state_scope(plugin_scope("p")).await.unwrap();
    assert_eq!(values, [("b".into(), vec![2])]);

    store
        .end_call("h-old".into(), T + 1_000, "hung up".into())
        .await
        .unwrap();
    store
        .end_call("h-new".into(), T + 9_000, "hung up".into())
        .await
        .unwrap();
    // Over once ended: what was left, and what comes after.
    let late = store.append(vec![at("h-old", "2", 2_000)]).await.unwrap();
    assert_eq!(late, [Appended::Stored { seq: 2 }]);
    let journal = store.entries("h-old".into(), 0).await.unwrap();
    assert!(journal.iter().all(|e| e.handled), "{journal:?}");
    let ended = store.ended_calls(10).await.unwrap();
    let ids: Vec<&str> = ended.iter().map(|c| c.call_id.as_str()).collect();
    assert_eq!(ids, ["h-new", "h-old", "call-1"]);
    assert_eq!(store.ended_calls(1).await.unwrap().len(), 1);

    let unowned = store.unowned_entries(T + 1_000).await.unwrap();
    let ids: Vec<&str> = unowned.iter().map(|(c, _)| c.as_str()).collect();
    assert_eq!(ids, ["h-orphan"]);
    let unowned = store.unowned_entries(T).await.unwrap();
    let ids: Vec<&str> = unowned.iter().map(|(c, _)| c.as_str()).collect();
    assert_eq!(ids, ["h-orphan-old", "h-orphan"]);

    // Pruned: the calls that ended before the cut (`h-old`, and `call-1` of an earlier
    // check), with their journals and call state, and unowned entries received before it;
    // nothing else.
    let pruned = store.prune(T + 5_000).await.unwrap();
    assert_eq!(pruned, 2);
    assert!(store.call("h-old".into()).await.unwrap().is_none());
    assert!(store.entries("h-old".into(), 0).await.unwrap().is_empty());
    let old_state = store.state(call_scope("h-old", "p"), "k".into()).await;
    assert_eq!(old_state.unwrap(), None);
    let live_state = store.state(call_scope("h-live", "p"), "k".into()).await;
    assert_eq!(live_state.unwrap().map(|e| e.value), Some(vec![1]));
    assert_eq!(store.entries("h-live".into(), 0).await.unwrap().len(), 1);
    assert!(store.call("h-new".into()).await.unwrap().is_some());
    let unowned = store.unowned_entries(0).await.unwrap();
    let ids: Vec<&str> = unowned.iter().map(|(c, _)| c.as_str()).collect();
    assert_eq!(ids, ["h-orphan"]);
}

async fn journals_number_each_call_on_its_own(store: &dyn Store) {
    let appended = store
        .append(vec![entry("a", "1"), entry("b", "1"), entry("a", "2")])
        .await
        .unwrap();
    assert_eq!(
        appended,
        [
            Appended::Stored { seq: 1 },
            Appended::Stored { seq: 1 },
            Appended::Stored { seq: 2 }
        ]
    );
    let appended = store.append(vec![entry("a", "3")]).await.unwrap();
    assert_eq!(appended, [Appended::Stored { seq: 3 }]);
    let entries = store.entries("a".into(), 1).await.unwrap();
    let seqs: Vec<u64> = entries.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, [2, 3]);
    assert_eq!(entries[0].body, b"{\"key\": \"2\"}");
    assert_eq!(entries[0].received_at_ms, 1_700_000_000_000);
    assert!(store.entries("nobody".into(), 0).await.unwrap().is_empty());
}

async fn a_repeat_is_recognised_and_not_stored(store: &dyn Store) {
    let appended = store
        .append(vec![
            entry("c", "tone-1"),
            entry("c", "tone-1"),
            entry("c", "tone-2"),
        ])
        .await
        .unwrap();
    assert_eq!(
        appended,
        [
            Appended::Stored { seq: 1 },
            Appended::Duplicate { seq: 1 },
            Appended::Stored { seq: 2 }
        ]
    );
    let again = store.append(vec![entry("c", "tone-2")]).await.unwrap();
    assert_eq!(again, [Appended::Duplicate { seq: 2 }]);
    assert_eq!(store.entries("c".into(), 0).await.unwrap().len(), 2);
    // The same key on another call is another notification.
    let other = store.append(vec![entry("d", "tone-1")]).await.unwrap();
    assert_eq!(other, [Appended::Stored { seq: 1 }]);
    // Without a key, every copy is stored.
    let unkeyed = NewEntry {
        dedupe_key: None,
        ..entry("d", "")
    };
    let both = store.append(vec![unkeyed.clone(), unkeyed]).await.unwrap();
    assert_eq!(
        both,
        [Appended::Stored { seq: 2 }, Appended::Stored { seq: 3 }]
    );
}

async fn calls_are_saved_listed_and_ended(store: &dyn Store) {
    store.save_call(call("call-2", 20)).await.unwrap();
    store.save_call(call("call-1", 10)).await.unwrap();
    let mut established = call("call-2", 20);
    established.state = "established".into();
    established.last_keepalive_ms = Some(25);
    store.save_call(established.clone()).await.unwrap();
    assert_eq!(
        store.call("call-2".into()).await.unwrap(),
        Some(established)
    );
    assert_eq!(store.call("call-9".into()).await.unwrap(), None);
    let live: Vec<String> = store
        .live_calls()
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.call_id)
        .collect();
    assert_eq!(live, ["call-1", "call-2"], "oldest first");

    store
        .end_call("call-1".into(), 99, "terminated 200/4097".into())
        .await
        .unwrap();
    // Ending twice keeps the first end.
    store
        .end_call("call-1".into(), 150, "later".into())
        .await
        .unwrap();
    let ended = store.call("call-1".into()).await.unwrap().unwrap();
    assert_eq!(ended.ended_at_ms, Some(99));
    assert_eq!(ended.end_reason.as_deref(), Some("terminated 200/4097"));
    let live = store.live_calls().await.unwrap();
    assert_eq!(live.len(), 1);
    assert_eq!(live[0].call_id, "call-2");
}

async fn handled_markers_and_state_writes_commit_together_once(store: &dyn Store) {
    let scope = "call/h-1/ivr".to_string();
    let write = |key: &str, value: Option<&str>| StateWrite {
        scope: scope.clone(),
        key: key.into(),
        value: value.map(|v| v.as_bytes().to_vec()),
    };
    let unknown = Err(StoreError::UnknownEntry {
        call_id: "h-1".into(),
        seq: 1,
    });
    assert_eq!(store.handled("h-1".into(), 1, vec![]).await, unknown);
    store
        .append(vec![
            entry("h-1", "1"),
            entry("h-1", "2"),
            entry("h-1", "3"),
        ])
        .await
        .unwrap();
    let first = store
        .handled(
            "h-1".into(),
            1,
            vec![write("menu", Some("main")), write("tries", Some("1"))],
        )
        .await
        .unwrap();
    assert!(first);
    // Replayed after a restart: refused, and its writes are not applied.
    let replayed = store
        .handled("h-1".into(), 1, vec![write("tries", Some("2"))])
        .await
        .unwrap();
    assert!(!replayed);
    let value = async |key: &str| {
        let entry = store.state(scope.clone(), key.into()).await.unwrap();
        entry.map(|e| e.value)
    };
    assert_eq!(value("tries").await.as_deref(), Some(&b"1"[..]));
    let next = store
        .handled(
            "h-1".into(),
            2,
            vec![write("menu", None), write("tries", Some("2"))],
        )
        .await
        .unwrap();
    assert!(next);
    assert_eq!(value("menu").await, None);
    assert_eq!(value("tries").await.as_deref(), Some(&b"2"[..]));
    // Each entry has its own marker: a later one handled first leaves the earlier ones to do.
    let handled: Vec<(u64, bool)> = store
        .entries("h-1".into(), 0)
        .await
        .unwrap()
        .iter()
        .map(|e| (e.seq, e.handled))
        .collect();
    assert_eq!(handled, [(1, true), (2, true), (3, false)]);
}

async fn components_are_content_addressed(store: &dyn Store) {
    let bytes = b"\0asm component bytes".to_vec();
    let hash = store.put_component(bytes.clone()).await.unwrap();
    assert_eq!(hash, component_hash(&bytes));
    assert_eq!(hash.len(), 64);
    assert_eq!(store.put_component(bytes.clone()).await.unwrap(), hash);
    assert_eq!(store.component(hash).await.unwrap(), Some(bytes));
    assert_eq!(store.component("0".repeat(64)).await.unwrap(), None);
}

#[tokio::test]
async fn the_memory_engine_passes() {
    suite(&crate::MemoryStore::default()).await;
    leases_of_one_instance(&crate::MemoryStore::default()).await;
    let a = crate::MemoryStore::default();
    leases_fence_a_lost_owner(&a, &a.instance_of("b")).await;
    swaps_of_two_instances_lose_nothing(&a, &a.instance_of("b")).await;
}

/// Leases on one handle: claimed, kept, released and claimed again, gone with the call.
pub(crate) async fn leases_of_one_instance(store: &dyn Store) {
    store.save_call(call("l-1", 1)).await.unwrap();
    assert_eq!(store.claim("l-1".into(), 10_000).await.unwrap(), Some(1));
    assert_eq!(store.claim("l-1".into(), 10_000).await.unwrap(), Some(1));
    assert_eq!(
        store.owner("l-1".into()).await.unwrap().as_deref(),
        Some(store.instance())
    );
    assert!(store.renew(10_000).await.unwrap().is_empty());
    store.append(vec![entry("l-1", "1")]).await.unwrap();
    assert!(store.handled("l-1".into(), 1, vec![]).await.unwrap());
    // Nothing waits, and nothing is unowned while the lease holds.
    let sweep = store.sweep(i64::MAX).await.unwrap();
    assert!(!sweep.unowned.contains(&"l-1".to_string()), "{sweep:?}");
    store.release(None).await.unwrap();
    assert_eq!(store.owner("l-1".into()).await.unwrap(), None);
    let sweep = store.sweep(i64::MAX).await.unwrap();
    assert!(sweep.unowned.contains(&"l-1".to_string()), "{sweep:?}");
    assert_eq!(store.claim("l-1".into(), 10_000).await.unwrap(), Some(1));
    store.append(vec![entry("l-1", "2")]).await.unwrap();
    let sweep = store.sweep(i64::MAX).await.unwrap();
    assert_eq!(sweep.waiting, ["l-1"], "an entry left unhandled");
    assert!(store.sweep(0).await.unwrap().waiting.is_empty(), "not yet");
    store
        .end_call("l-1".into(), 5, "hung up".into())
        .await
        .unwrap();
    assert_eq!(store.owner("l-1".into()).await.unwrap(), None);
}

/// Two instances on one database: a lease held is not taken; a lapsed one is, at the next
/// epoch; the instance that lost it writes nothing more for the call, and learns so when it
/// renews.
pub(crate) async fn leases_fence_a_lost_owner(a: &dyn Store, b: &dyn Store) {
    assert_ne!(a.instance(), b.instance());
    a.save_call(call("f-1", 1)).await.unwrap();
    a.append(vec![
        entry("f-1", "1"),
        entry("f-1", "2"),
        entry("f-1", "3"),
    ])
    .await
    .unwrap();
    assert_eq!(a.claim("f-1".into(), 60_000).await.unwrap(), Some(1));
    assert_eq!(b.claim("f-1".into(), 60_000).await.unwrap(), None);
    assert_eq!(
        b.owner("f-1".into()).await.unwrap().as_deref(),
        Some(a.instance())
    );
    assert!(a.handled("f-1".into(), 1, vec![]).await.unwrap());
    // `a` pauses past its lease (here: renews it to lapse at once); `b` takes the call.
    a.renew(-1).await.unwrap();
    assert_eq!(b.claim("f-1".into(), 60_000).await.unwrap(), Some(2));
    let fenced = Err(StoreError::Fenced {
        call_id: "f-1".into(),
        epoch: 1,
    });
    let write = StateWrite {
        scope: call_scope("f-1", "ivr"),
        key: "k".into(),
        value: Some(b"late".to_vec()),
    };
    assert_eq!(a.handled("f-1".into(), 2, vec![write]).await, fenced);
    let swap = StateSwap {
        call_id: "f-1".into(),
        scope: plugin_scope("ivr"),
        key: "late".into(),
        expected: 0,
        value: Some(b"late".to_vec()),
    };
    assert_eq!(
        a.swap_state(swap).await,
        Err(StoreError::Fenced {
            call_id: "f-1".into(),
            epoch: 0
        })
    );
    assert_eq!(
        b.state(call_scope("f-1", "ivr"), "k".into()).await.unwrap(),
        None,
        "the fenced write changed nothing"
    );
    assert!(!b.entries("f-1".into(), 1).await.unwrap()[0].handled);
    // Once fenced, every write of `a` for the call is refused, whatever it is.
    let lost = |epoch| {
        Err(StoreError::Fenced {
            call_id: "f-1".into(),
            epoch,
        })
    };
    assert_eq!(a.save_call(call("f-1", 1)).await, lost(0));
    assert_eq!(a.keepalive("f-1".into(), 9).await, lost(0));
    assert_eq!(
        a.finish_intent("f-1".into(), 1, 0, "x".into()).await,
        lost(0)
    );
    assert!(a.renew(60_000).await.unwrap().is_empty(), "told once");
    assert_eq!(a.claim("f-1".into(), 60_000).await.unwrap(), None);
    assert!(b.handled("f-1".into(), 2, vec![]).await.unwrap());
    // A lost lease found by renewing: the calls named, then forgotten.
    b.save_call(call("f-2", 2)).await.unwrap();
    assert_eq!(b.claim("f-2".into(), 60_000).await.unwrap(), Some(1));
    b.release(Some(vec!["f-2".into()])).await.unwrap();
    assert_eq!(a.claim("f-2".into(), 60_000).await.unwrap(), Some(2));
    assert!(
        b.renew(60_000).await.unwrap().is_empty(),
        "released: not lost"
    );
    assert_eq!(b.claim("f-2".into(), 60_000).await.unwrap(), None);
    let intent = Intent {
        call_id: "f-1".into(),
        seq: 3,
        idx: 0,
        action: "answer".into(),
        started_at_ms: 1,
    };
    a.renew(-1).await.unwrap();
    b.renew(-1).await.unwrap();
    assert_eq!(a.claim("f-1".into(), 60_000).await.unwrap(), Some(3));
    assert_eq!(
        b.begin_intent(intent.clone()).await,
        Err(StoreError::Fenced {
            call_id: "f-1".into(),
            epoch: 2,
        })
    );
    assert_eq!(a.begin_intent(intent).await.unwrap(), None);
    let lost = b.renew(60_000).await.unwrap();
    assert!(lost.is_empty(), "forgotten when fenced: {lost:?}");
}

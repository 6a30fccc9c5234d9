//! The behaviour every engine must have: each engine's tests run [`suite`] against it.

use crate::{Appended, CallRecord, NewEntry, StateWrite, Store, StoreError, component_hash};

fn entry(call: &str, key: &str) -> NewEntry {
    NewEntry {
        call_id: call.into(),
        dedupe_key: Some(key.into()),
        received_at_ms: 1_700_000_000_000,
        body: format!("{{\"key\": \"{key}\"}}").into_bytes(),
    }
}

pub(crate) fn call(id: &str, created_at_ms: i64) -> CallRecord {
    CallRecord {
        call_id: id.into(),
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
        handled_seq: 0,
    }
}

/// Runs every check against `store`, which must be empty.
pub(crate) async fn suite(store: &dyn Store) {
    journals_number_each_call_on_its_own(store).await;
    a_repeat_is_recognised_and_not_stored(store).await;
    calls_are_saved_listed_and_ended(store).await;
    handled_markers_and_state_writes_commit_together_once(store).await;
    components_are_content_addressed(store).await;
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
    assert_eq!(
        store.handled("h-1".into(), 1, vec![]).await,
        Err(StoreError::UnknownCall("h-1".into()))
    );
    store.save_call(call("h-1", 30)).await.unwrap();
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
    let value = |key: &str| store.state(scope.clone(), key.into());
    assert_eq!(value("tries").await.unwrap().as_deref(), Some(&b"1"[..]));
    let next = store
        .handled(
            "h-1".into(),
            2,
            vec![write("menu", None), write("tries", Some("2"))],
        )
        .await
        .unwrap();
    assert!(next);
    assert_eq!(value("menu").await.unwrap(), None);
    assert_eq!(value("tries").await.unwrap().as_deref(), Some(&b"2"[..]));
    assert_eq!(
        store.call("h-1".into()).await.unwrap().unwrap().handled_seq,
        2
    );
    // Saving the call again does not move its marker.
    store.save_call(call("h-1", 30)).await.unwrap();
    assert_eq!(
        store.call("h-1".into()).await.unwrap().unwrap().handled_seq,
        2
    );
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
}

use std::sync::atomic::Ordering;

use super::*;
use crate::conformance::{call, leases_of_one_instance, suite};

fn entry(call: &str, key: &str, bytes: usize) -> NewEntry {
    NewEntry {
        call_id: call.into(),
        dedupe_key: Some(key.into()),
        tenant_id: "tenant-1".into(),
        received_at_ms: 1,
        body: vec![b'x'; bytes],
    }
}

#[tokio::test]
async fn the_sqlite_engine_passes() {
    let dir = tempfile::tempdir().unwrap();
    suite(&SqliteStore::open(dir.path()).unwrap()).await;
}

#[tokio::test]
async fn the_sqlite_engine_keeps_leases() {
    let dir = tempfile::tempdir().unwrap();
    leases_of_one_instance(&SqliteStore::open(dir.path()).unwrap()).await;
}

#[tokio::test]
async fn the_sqlite_engine_passes_with_normal_sync() {
    let dir = tempfile::tempdir().unwrap();
    suite(&SqliteStore::open_with(dir.path(), Synchronous::Normal).unwrap()).await;
}

#[tokio::test]
async fn what_was_stored_is_there_after_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).unwrap();
    store.save_call(call("c-1", 1)).await.unwrap();
    store
        .append(vec![entry("c-1", "a", 10), entry("c-1", "b", 10)])
        .await
        .unwrap();
    store.handled("c-1".into(), 1, vec![]).await.unwrap();
    drop(store);
    let store = SqliteStore::open(dir.path()).unwrap();
    let live = store.live_calls().await.unwrap();
    assert_eq!(live.len(), 1);
    let entries = store.entries("c-1".into(), 0).await.unwrap();
    let handled: Vec<bool> = entries.iter().map(|e| e.handled).collect();
    assert_eq!(handled, [true, false]);
    assert_eq!(entries[1].dedupe_key.as_deref(), Some("b"));
    let again = store.append(vec![entry("c-1", "a", 10)]).await.unwrap();
    assert_eq!(again, [Appended::Duplicate { seq: 1 }]);
}

#[tokio::test]
async fn concurrent_appends_share_commits() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).unwrap();
    let before = store.stats().commits.load(Ordering::Relaxed);
    // Each append is queued for the writer when it is made; the writer commits what waits.
    let appends: Vec<_> = (0..200)
        .map(|i| store.append(vec![entry("busy", &format!("k-{i}"), 100)]))
        .collect();
    let mut seqs = Vec::new();
    for appended in futures::future::join_all(appends).await {
        match appended.unwrap()[..] {
            [Appended::Stored { seq }] => seqs.push(seq),
            ref other => panic!("{other:?}"),
        }
    }
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=200).collect::<Vec<u64>>());
    let commits = store.stats().commits.load(Ordering::Relaxed) - before;
    eprintln!("200 appends in {commits} commits");
    assert!(commits < 200, "200 appends took {commits} commits");
}

#[test]
fn one_process_per_data_directory() {
    let dir = tempfile::tempdir().unwrap();
    let _first = SqliteStore::open(dir.path()).unwrap();
    let second = SqliteStore::open(dir.path()).unwrap_err();
    assert!(matches!(second, StoreError::Locked { .. }), "{second}");
    assert!(second.to_string().contains("another callhost process"));
}

#[test]
fn a_file_that_is_not_a_callhost_database_is_refused_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("callhost.db");
    let junk = b"this is not a database, it is a text file of some size ........".repeat(100);
    std::fs::write(&db, &junk).unwrap();
    let error = SqliteStore::open(dir.path()).unwrap_err();
    assert!(matches!(error, StoreError::Foreign { .. }), "{error}");
    assert!(error.to_string().contains("move it away"), "{error}");
    assert_eq!(std::fs::read(&db).unwrap(), junk, "the file is untouched");

    let other = tempfile::tempdir().unwrap();
    let conn = Connection::open(other.path().join("callhost.db")).unwrap();
    conn.execute_batch("CREATE TABLE invoices (id INTEGER)")
        .unwrap();
    drop(conn);
    let error = SqliteStore::open(other.path()).unwrap_err();
    assert!(matches!(error, StoreError::Foreign { .. }), "{error}");
}

#[test]
fn a_database_from_a_newer_release_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    drop(SqliteStore::open(dir.path()).unwrap());
    let conn = Connection::open(dir.path().join("callhost.db")).unwrap();
    conn.execute(
        "INSERT INTO schema_migrations (version, applied_at_ms) VALUES (99, 0)",
        [],
    )
    .unwrap();
    drop(conn);
    std::thread::sleep(std::time::Duration::from_millis(50));
    let error = SqliteStore::open(dir.path()).unwrap_err();
    assert!(
        matches!(
            error,
            StoreError::TooNew {
                found: 99,
                known: 4,
                ..
            }
        ),
        "{error}"
    );
}

#[test]
fn a_data_directory_that_cannot_be_made_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"").unwrap();
    let error = SqliteStore::open(&file.join("data")).unwrap_err();
    assert!(matches!(error, StoreError::DataDir { .. }), "{error}");
    assert!(error.to_string().contains("storage.data_dir"), "{error}");
}

#[tokio::test]
async fn a_full_disk_refuses_the_append_and_keeps_what_was_stored() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).unwrap();
    store.append(vec![entry("f", "kept", 100)]).await.unwrap();
    // As many pages as the file has now: nothing more fits.
    store
        .submit(|conn| {
            let pages: i64 = conn
                .query_row("PRAGMA page_count", [], |r| r.get(0))
                .map_err(engine)?;
            conn.pragma_update(None, "max_page_count", pages)
                .map_err(engine)
        })
        .await
        .unwrap();
    let full = store.append(vec![entry("f", "big", 1 << 20)]).await;
    assert!(matches!(full, Err(StoreError::Full { .. })), "{full:?}");
    let entries = store.entries("f".into(), 0).await.unwrap();
    assert_eq!(entries.len(), 1, "the refused append left nothing");
    assert_eq!(entries[0].dedupe_key.as_deref(), Some("kept"));
}

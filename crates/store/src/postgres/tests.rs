use super::*;
use crate::conformance::{call, leases_fence_a_lost_owner, leases_of_one_instance, suite};
use crate::testing::fresh_database;

async fn open(hint: &str) -> PostgresStore {
    let url = fresh_database(hint).await;
    PostgresStore::open(&PostgresOptions::new(&url, None).unwrap())
        .await
        .unwrap()
}

fn entry(call: &str, key: &str) -> NewEntry {
    NewEntry {
        call_id: call.into(),
        dedupe_key: Some(key.into()),
        tenant_id: "tenant-1".into(),
        received_at_ms: 1,
        body: vec![b'x'; 100],
    }
}

/// Instances `a` and `b` on one fresh database.
async fn two_instances(hint: &str) -> (PostgresStore, PostgresStore) {
    let url = fresh_database(hint).await;
    let options = PostgresOptions::new(&url, None).unwrap();
    let a = PostgresStore::open(&options.clone().with_instance("a"))
        .await
        .unwrap();
    let b = PostgresStore::open(&options.with_instance("b"))
        .await
        .unwrap();
    (a, b)
}

#[tokio::test]
async fn the_postgres_engine_passes() {
    suite(&open("conformance").await).await;
}

#[tokio::test]
async fn leases_fence_an_instance_that_lost_its_call() {
    let (a, b) = two_instances("leases").await;
    leases_of_one_instance(&a).await;
    leases_fence_a_lost_owner(&a, &b).await;
}

#[tokio::test]
async fn a_wake_reaches_the_owner_only() {
    let (a, b) = two_instances("wakes").await;
    let mut a_wakes = a.wakes().unwrap();
    let mut b_wakes = b.wakes().unwrap();
    // LISTEN is on its way: wake until the owner hears.
    b.claim("w-1".into(), 60_000).await.unwrap();
    let heard = tokio::time::timeout(std::time::Duration::from_secs(10), async {
        loop {
            a.wake("w-1".into()).await.unwrap();
            if let Ok(Some(call)) =
                tokio::time::timeout(std::time::Duration::from_millis(100), b_wakes.recv()).await
            {
                return call;
            }
        }
    })
    .await
    .unwrap();
    assert_eq!(heard, "w-1");
    assert!(a_wakes.try_recv().is_err(), "not the owner");
}

#[tokio::test]
async fn a_second_instance_sees_what_the_first_stored_and_migrates_nothing() {
    let url = fresh_database("reopen").await;
    let options = PostgresOptions::new(&url, None).unwrap();
    let first = PostgresStore::open(&options).await.unwrap();
    first.save_call(call("c-1", 1)).await.unwrap();
    first.append(vec![entry("c-1", "a")]).await.unwrap();
    let second = PostgresStore::open(&options).await.unwrap();
    assert_eq!(second.live_calls().await.unwrap().len(), 1);
    let again = second.append(vec![entry("c-1", "a")]).await.unwrap();
    assert_eq!(again, [Appended::Duplicate { seq: 1 }]);
}

#[tokio::test]
async fn instances_appending_to_one_call_at_once_number_it_without_gaps() {
    let url = fresh_database("racing").await;
    let options = PostgresOptions::new(&url, None).unwrap();
    let a = PostgresStore::open(&options).await.unwrap();
    let b = PostgresStore::open(&options).await.unwrap();
    let appends: Vec<_> = (0..100)
        .map(|i| {
            let store = if i % 2 == 0 { &a } else { &b };
            store.append(vec![entry("busy", &format!("k-{i}"))])
        })
        .collect();
    let mut seqs: Vec<u64> = futures::future::join_all(appends)
        .await
        .into_iter()
        .map(|r| match r.unwrap()[0] {
            Appended::Stored { seq } => seq,
            other => panic!("{other:?}"),
        })
        .collect();
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=100).collect::<Vec<_>>());
}

#[tokio::test]
async fn a_wrong_password_and_a_missing_database_are_named_with_the_fix() {
    let server = crate::testing::test_server_url();
    let wrong = PostgresOptions::new(&server, Some("not-the-password")).unwrap();
    let error = PostgresStore::open(&wrong).await.unwrap_err().to_string();
    assert!(error.contains("CALLHOST_POSTGRES_PASSWORD"), "{error}");
    let missing = crate::testing::with_database(&server, "no_such_database");
    let error = PostgresStore::open(&PostgresOptions::new(&missing, None).unwrap())
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("createdb"), "{error}");
    assert!(error.contains("no_such_database"), "{error}");
}

#[tokio::test]
async fn a_server_out_of_reach_is_unavailable_and_a_bad_url_is_a_config_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let options =
        PostgresOptions::new(&format!("postgres://callhost@127.0.0.1:{port}/x"), None).unwrap();
    let error = PostgresStore::open(&options).await.unwrap_err();
    assert!(matches!(error, StoreError::Unavailable { .. }), "{error}");
    let error = PostgresOptions::new("mysql://nope", None).unwrap_err();
    assert!(
        error.to_string().contains("storage.postgres_url"),
        "{error}"
    );
}

#[tokio::test]
async fn a_database_of_another_application_is_refused_and_left_alone() {
    let url = fresh_database("foreign").await;
    let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    client
        .batch_execute("CREATE TABLE invoices (id BIGINT)")
        .await
        .unwrap();
    let error = PostgresStore::open(&PostgresOptions::new(&url, None).unwrap())
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::Foreign { .. }), "{error}");
    let tables: i64 = client
        .query_one(
            "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = 'public'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(tables, 1);
}

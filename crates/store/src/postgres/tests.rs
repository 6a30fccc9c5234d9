use super::*;
use std::time::Duration;

use crate::Heard;
use crate::conformance::{
    call, leases_fence_a_lost_owner, leases_of_one_instance, suite,
    swaps_of_two_instances_lose_nothing,
};
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
async fn swaps_of_two_instances_at_once_lose_no_increment() {
    let (a, b) = two_instances("swaps").await;
    swaps_of_two_instances_lose_nothing(&a, &b).await;
}

/// Sends with `send` until `listener` hears something (its LISTEN may still be on its way),
/// for at most 10 s; what it heard.
async fn until_heard(
    listener: &mut tokio::sync::mpsc::UnboundedReceiver<Heard>,
    send: impl AsyncFn(),
) -> Heard {
    let hearing = async {
        loop {
            send().await;
            let next = tokio::time::timeout(Duration::from_millis(100), listener.recv());
            if let Ok(Some(heard)) = next.await {
                return heard;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), hearing)
        .await
        .expect("nothing heard in 10 s")
}

#[tokio::test]
async fn a_wake_reaches_the_owner_only() {
    let (a, b) = two_instances("wakes").await;
    let mut a_wakes = a.wakes().unwrap();
    let mut b_wakes = b.wakes().unwrap();
    b.claim("w-1".into(), 60_000).await.unwrap();
    let heard = until_heard(&mut b_wakes, async || a.wake("w-1".into()).await.unwrap()).await;
    assert_eq!(heard, Heard::Wake("w-1".into()));
    assert!(a_wakes.try_recv().is_err(), "not the owner");
    // News reaches the others, not its sender.
    let announce = async || b.announce("reload ivr 0123".into()).await.unwrap();
    let news = until_heard(&mut a_wakes, announce).await;
    assert_eq!(news, Heard::News("reload ivr 0123".into()));
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(b_wakes.try_recv().is_err(), "the sender hears nothing");
}

#[tokio::test]
async fn news_sent_before_an_instance_listens_reaches_it_once_in_order() {
    let (a, b) = two_instances("news").await;
    // Sent before this store was opened: not for it.
    a.announce("plugin-version ivr 00".into()).await.unwrap();
    let url = a.options.clone();
    let c = PostgresStore::open(&url.with_instance("c")).await.unwrap();
    // Sent after it opened but before it listens: it hears them when it listens.
    a.announce("plugin-version ivr 01".into()).await.unwrap();
    b.announce("plugin-version ivr 02".into()).await.unwrap();
    let mut c_hears = c.wakes().unwrap();
    let mut heard = Vec::new();
    while heard.len() < 3 {
        let next = tokio::time::timeout(Duration::from_secs(10), c_hears.recv());
        heard.push(next.await.expect("news in 10 s").unwrap());
        if heard.len() == 2 {
            a.announce("plugin-version ivr 03".into()).await.unwrap();
        }
    }
    let news = |n: &str| Heard::News(format!("plugin-version ivr {n}"));
    assert_eq!(heard, [news("01"), news("02"), news("03")]);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(c_hears.try_recv().is_err(), "each is heard once");
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
    let client = crate::testing::connect(&url).await;
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

/// Whether the connection a client has is TLS, by the server.
async fn over_tls(client: &tokio_postgres::Client) -> bool {
    let row = client
        .query_one(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .await
        .unwrap();
    row.get(0)
}

#[tokio::test]
async fn connections_use_verified_tls_unless_told_not_to() {
    let url = fresh_database("tls").await;
    assert!(over_tls(&crate::testing::connect(&url).await).await);
    let plain = url.replace("sslmode=require", "sslmode=disable");
    assert!(!over_tls(&crate::testing::connect(&plain).await).await);
    // The CA named in the configuration instead of the URL: TLS, verified.
    let (without_ca, ca) = super::tls::split_url(&url);
    let ca = std::path::PathBuf::from(ca.expect("the test server's URL names its CA"));
    let options = PostgresOptions::new(&without_ca.replace("?sslmode=require", ""), None)
        .unwrap()
        .with_ca_file(&ca)
        .unwrap();
    let (client, connection) = options.connect_raw().await.unwrap();
    tokio::spawn(connection);
    assert!(over_tls(&client).await);
}

#[tokio::test]
async fn a_server_whose_certificate_nobody_vouches_for_is_refused_with_the_fix() {
    let url = fresh_database("untrusted").await;
    let (without_ca, _) = super::tls::split_url(&url);
    let error = PostgresStore::open(&PostgresOptions::new(&without_ca, None).unwrap())
        .await
        .unwrap_err();
    let text = error.to_string();
    assert!(matches!(error, StoreError::Refused { .. }), "{text}");
    assert!(text.contains("storage.postgres_ca_file"), "{text}");
}

#[test]
fn a_ca_file_that_holds_no_certificate_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ca.pem");
    std::fs::write(&path, "not a certificate").unwrap();
    let error = PostgresOptions::new("postgres://u@127.0.0.1/db", None)
        .unwrap()
        .with_ca_file(&path)
        .unwrap_err();
    assert!(matches!(error, StoreError::Config(_)), "{error}");
    assert!(error.to_string().contains("ca.pem"), "{error}");
    let missing = PostgresOptions::new("postgres://u@127.0.0.1/db", None)
        .unwrap()
        .with_ca_file(&dir.path().join("missing.pem"))
        .unwrap_err();
    assert!(missing.to_string().contains("missing.pem"), "{missing}");
}

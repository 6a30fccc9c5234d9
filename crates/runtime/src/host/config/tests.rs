//! The `config` interface on its own context, without Wasm.

use super::*;
use crate::bindings::config::Host as _;
use crate::outcome::HostLimitExceeded;

fn table() -> BTreeMap<String, String> {
    BTreeMap::from([
        (
            "greeting".to_string(),
            "https://example.test/hi.wav".to_string(),
        ),
        ("target".to_string(), "user:8d5c".to_string()),
    ])
}

#[tokio::test]
async fn get_and_get_all_read_the_plugin_table() {
    let table = table();
    let mut host_calls = HostCallBudget::new(100);
    let mut ctx = ConfigCtx {
        config: &table,
        host_calls: &mut host_calls,
    };
    assert_eq!(
        ctx.get("target".into()).await.unwrap().as_deref(),
        Some("user:8d5c")
    );
    assert_eq!(ctx.get("missing".into()).await.unwrap(), None);
    assert_eq!(
        ctx.get_all().await.unwrap(),
        vec![
            ("greeting".into(), "https://example.test/hi.wav".into()),
            ("target".into(), "user:8d5c".into()),
        ]
    );
}

#[tokio::test]
async fn reads_count_against_the_host_call_budget() {
    let table = table();
    let mut host_calls = HostCallBudget::new(1);
    let mut ctx = ConfigCtx {
        config: &table,
        host_calls: &mut host_calls,
    };
    ctx.get_all().await.unwrap();
    let trap = ctx.get("target".into()).await.unwrap_err();
    assert!(trap.downcast_ref::<HostLimitExceeded>().is_some());
}

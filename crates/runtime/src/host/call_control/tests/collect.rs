//! `collect-tones`: checked against the policy and its limits when asked, carried out by the
//! host when the event returns.

use super::*;
use crate::bindings::call_control::CollectOptions;
use crate::bindings::types::Tone;
use callhost_call::TimerRequest;

fn options(max_digits: u32, tries: u32) -> CollectOptions {
    CollectOptions {
        prompts: vec![prompt()],
        max_digits,
        first_digit_timeout_ms: 5000,
        inter_digit_timeout_ms: 2000,
        terminators: vec![Tone::Pound],
        tries,
        client_context: ctx_text(),
    }
}

#[tokio::test]
async fn a_collection_is_kept_for_the_host_and_makes_no_request_now() {
    let fake = Fake::new(Reply::AsGraph);
    let mut event = Event::new(CapabilityPolicy::allow_all(), fake.clone());
    event
        .ctx()
        .collect_tones("c1".into(), options(4, 3))
        .await
        .unwrap();
    assert!(
        fake.take().is_empty(),
        "the host starts it when the event returns"
    );
    let stopped = event.ctx().cancel_collect_tones("c1".into()).await.unwrap();
    assert!(stopped, "one was in progress");
    let requests = std::mem::replace(
        &mut event.timers,
        TimerTxn::new("c1".into(), Default::default()),
    );
    let requests = requests.into_requests();
    assert!(
        matches!(&requests[..], [TimerRequest::Collect(c), TimerRequest::StopCollecting]
            if c.max_digits == 4 && c.tries == 3 && c.terminators == vec![call::Tone::Pound]),
        "{requests:?}"
    );
}

#[tokio::test]
async fn options_out_of_their_limits_are_invalid_arguments_naming_the_limit() {
    let fake = Fake::new(Reply::AsGraph);
    let mut event = Event::new(CapabilityPolicy::allow_all(), fake);
    for (options, named) in [
        (options(0, 1), "max-digits is 1 to 64; 0 was given"),
        (options(4, 11), "tries is 1 to 10; 11 was given"),
        (
            CollectOptions {
                first_digit_timeout_ms: 10,
                ..options(4, 1)
            },
            "first-digit-timeout-ms is 100 to 600000; 10 was given",
        ),
    ] {
        let error = event
            .ctx()
            .collect_tones("c1".into(), options)
            .await
            .unwrap_err();
        assert!(
            matches!(&error, CallControlError::Call(CallError::InvalidArgument(text)) if text == named),
            "{error:?}"
        );
    }
    let error = event
        .ctx()
        .collect_tones("other-call".into(), options(4, 1))
        .await;
    assert!(matches!(
        error,
        Err(CallControlError::Call(CallError::NotFound))
    ));
}

#[tokio::test]
async fn the_policy_must_allow_prompts_and_tones() {
    let fake = Fake::new(Reply::AsGraph);
    // The default policy allows prompts and tones, not recording: a collection passes.
    let mut event = Event::new(CapabilityPolicy::default(), fake.clone());
    event
        .ctx()
        .collect_tones("c1".into(), options(1, 1))
        .await
        .unwrap();
    let none = CapabilityPolicy::from_config(&callhost_call::policy::PolicyConfig {
        allow: Some(vec!["answer".into()]),
        targets: None,
    })
    .unwrap();
    let mut event = Event::new(none, fake);
    let error = event
        .ctx()
        .collect_tones("c1".into(), options(1, 1))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, CallControlError::Call(CallError::NotPermitted(why)) if why.contains("subscribe-to-tone")),
        "{error:?}"
    );
    assert_eq!(event.actions.denied, 1);
}

//! How a failed function reaches the workflow: as its `call-error`, or as a trap.

use super::*;

#[tokio::test]
async fn a_policy_refusal_is_not_permitted_and_reaches_no_one() {
    let fake = Fake::new(Reply::AsGraph);
    // The default policy does not let a plugin place calls.
    let mut event = Event::new(CapabilityPolicy::default(), fake.clone());
    let mut ctx = event.ctx();
    let place = PlaceCallRequest {
        targets: vec![user("u1")],
        tenant_id: None,
        subject: None,
        source_application_instance: None,
    };
    let error = ctx.place_call(place).await.unwrap_err();
    assert!(
        matches!(&error, CallControlError::Call(CallError::NotPermitted(_))),
        "{error:?}"
    );
    let wit = wit_error(&mut ctx, error).unwrap();
    assert!(
        matches!(&wit, WitCallError::NotPermitted(why) if why.contains("place-call")),
        "{wit:?}"
    );
    assert!(fake.take().is_empty());
    assert_eq!(event.actions.denied, 1);
}

#[tokio::test]
async fn graph_errors_come_back_as_call_errors() {
    let upstream = CallError::Upstream {
        status: 500,
        code: "UnknownError".into(),
        message: "boom".into(),
    };
    let fake = Fake::new(Reply::Fail(upstream.clone()));
    let mut event = Event::new(CapabilityPolicy::allow_all(), fake.clone());
    let mut ctx = event.ctx();
    let error = ctx.hang_up("c1".into()).await.unwrap_err();
    assert!(matches!(&error, CallControlError::Call(e) if *e == upstream));
    let wit = wit_error(&mut ctx, error).unwrap();
    assert!(
        matches!(
            &wit,
            WitCallError::Upstream(UpstreamError { status: 500, code, message })
                if code == "UnknownError" && message == "boom"
        ),
        "{wit:?}"
    );

    let fake = Fake::new(Reply::Fail(CallError::NotFound));
    let mut event = Event::new(CapabilityPolicy::allow_all(), fake);
    let mut ctx = event.ctx();
    let error = ctx.play_prompt("c1".into(), vec![prompt()], None).await;
    let wit = wit_error(&mut ctx, error.unwrap_err()).unwrap();
    assert!(matches!(wit, WitCallError::NotFound), "{wit:?}");
}

#[tokio::test]
async fn an_answer_without_an_id_is_an_other_error() {
    let fake = Fake::new(Reply::Done);
    let mut event = Event::new(CapabilityPolicy::allow_all(), fake);
    let mut ctx = event.ctx();
    let error = ctx.play_prompt("c1".into(), vec![prompt()], None).await;
    let wit = wit_error(&mut ctx, error.unwrap_err()).unwrap();
    assert!(
        matches!(&wit, WitCallError::Other(why) if why == "Graph returned no id for this request"),
        "{wit:?}"
    );
    // Functions that return nothing do not need one.
    ctx.hang_up("c1".into()).await.unwrap();
}

/// The limit a trap reports, after it passed through the `call-error` conversion unchanged.
fn trapped_limit(ctx: &mut CallControlCtx<'_>, error: CallControlError) -> (&'static str, u32) {
    assert!(matches!(error, CallControlError::Trap(_)), "{error:?}");
    let trap = wit_error(ctx, error).unwrap_err();
    let limit = trap.downcast_ref::<HostLimitExceeded>().unwrap();
    (limit.what, limit.limit)
}

#[tokio::test]
async fn actions_past_the_budget_trap() {
    let fake = Fake::new(Reply::AsGraph);
    let mut event = Event::new(CapabilityPolicy::default(), fake.clone());
    event.actions = ActionBudget::new(2);
    let mut ctx = event.ctx();
    ctx.hang_up("c1".into()).await.unwrap();
    // A refused action counts too.
    let place = PlaceCallRequest {
        targets: vec![user("u1")],
        tenant_id: None,
        subject: None,
        source_application_instance: None,
    };
    let refused = ctx.place_call(place).await.unwrap_err();
    assert!(matches!(refused, CallControlError::Call(_)), "{refused:?}");
    let error = ctx.mute("c1".into(), None).await.unwrap_err();
    assert_eq!(trapped_limit(&mut ctx, error), ("call-control actions", 2));
    assert_eq!(fake.take().len(), 1);
}

#[tokio::test]
async fn host_calls_past_the_budget_trap() {
    let fake = Fake::new(Reply::AsGraph);
    let mut event = Event::new(CapabilityPolicy::allow_all(), fake.clone());
    event.host_calls = HostCallBudget::new(1);
    let mut ctx = event.ctx();
    ctx.unmute("c1".into(), None).await.unwrap();
    let error = ctx.unmute("c1".into(), None).await.unwrap_err();
    assert_eq!(trapped_limit(&mut ctx, error), ("host calls", 1));
    assert_eq!(fake.take().len(), 1);
}

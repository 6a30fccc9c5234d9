use super::*;
use crate::call::OperationKind;

fn options(tries: u32, prompts: usize) -> CollectTones {
    CollectTones {
        prompts: (0..prompts)
            .map(|i| MediaPrompt::new(format!("https://prompts.example/{i}.wav")))
            .collect(),
        max_digits: 4,
        first_digit_timeout_ms: 5000,
        inter_digit_timeout_ms: 2000,
        terminators: vec![Tone::Pound],
        tries,
        client_context: Some("pin".into()),
    }
}

fn done(steps: &[Step]) -> &TonesCollected {
    match steps.last() {
        Some(Step::Done(collected)) => collected,
        other => panic!("the collection did not end: {other:?}"),
    }
}

fn completed(id: &str, status: OperationStatus, result: Option<(i32, i32)>) -> OperationCompleted {
    OperationCompleted {
        operation_id: id.into(),
        kind: OperationKind::PlayPrompt,
        status,
        client_context: Some(COLLECT_CONTEXT.into()),
        result: result.map(|(code, subcode)| ResultInfo {
            code,
            subcode,
            message: None,
        }),
        recording_location: None,
        recording_access_token: None,
        completion_reason: None,
    }
}

#[test]
fn the_first_digit_timeout_starts_when_the_prompt_has_played() {
    let (mut c, steps) = Collecting::start(options(1, 1));
    assert!(
        matches!(&steps[..], [Step::Subscribe, Step::StopWaiting, Step::Play(p)] if p.len() == 1)
    );
    assert!(c.prompt_started(Some("op-1".into())).is_empty());
    let steps = c.prompt_completed(&completed("op-1", OperationStatus::Completed, None));
    assert_eq!(steps, vec![Step::Wait(5000)]);
}

#[test]
fn digits_up_to_the_maximum_complete_it() {
    let (mut c, _) = Collecting::start(options(1, 0));
    for tone in [Tone::Tone1, Tone::Tone2, Tone::Tone3] {
        assert_eq!(c.tone(tone), vec![Step::Wait(2000)]);
    }
    let collected = done(&c.tone(Tone::Tone4)).clone();
    assert_eq!(collected.digits, "1234");
    assert_eq!(collected.reason, CollectEnd::Complete);
    assert_eq!(collected.client_context.as_deref(), Some("pin"));
}

#[test]
fn a_terminator_ends_it_without_being_a_digit() {
    let (mut c, _) = Collecting::start(options(1, 0));
    c.tone(Tone::Tone7);
    let steps = c.tone(Tone::Pound);
    let collected = done(&steps);
    assert_eq!(collected.digits, "7");
    assert_eq!(collected.reason, CollectEnd::Terminator);
    assert_eq!(collected.terminator, Some(Tone::Pound));
}

#[test]
fn a_key_over_the_prompt_stops_it_and_its_completion_changes_nothing() {
    let (mut c, _) = Collecting::start(options(1, 1));
    c.prompt_started(Some("op-1".into()));
    assert_eq!(
        c.tone(Tone::Tone5),
        vec![Step::StopPrompt, Step::Wait(2000)]
    );
    let cancelled = completed("op-1", OperationStatus::Failed, Some((400, 8508)));
    assert!(c.prompt_completed(&cancelled).is_empty());
    let collected = done(&c.timed_out()).clone();
    assert_eq!(
        (collected.digits.as_str(), collected.reason),
        ("5", CollectEnd::InterDigitTimeout)
    );
}

#[test]
fn silence_offers_the_prompt_again_until_the_tries_are_used() {
    let (mut c, _) = Collecting::start(options(3, 1));
    for try_no in 1..3 {
        c.prompt_started(Some(format!("op-{try_no}")));
        c.prompt_completed(&completed(
            &format!("op-{try_no}"),
            OperationStatus::Completed,
            None,
        ));
        assert!(
            matches!(&c.timed_out()[..], [Step::StopWaiting, Step::Play(_)]),
            "try {try_no}"
        );
    }
    c.prompt_started(Some("op-3".into()));
    c.prompt_completed(&completed("op-3", OperationStatus::Completed, None));
    let collected = done(&c.timed_out()).clone();
    assert_eq!(
        (collected.reason, collected.tries),
        (CollectEnd::TriesExhausted, 3)
    );
    assert!(collected.digits.is_empty());
}

#[test]
fn one_try_of_silence_is_a_timeout() {
    let (mut c, _) = Collecting::start(options(1, 0));
    assert_eq!(done(&c.timed_out()).reason, CollectEnd::Timeout);
}

#[test]
fn a_prompt_that_cannot_play_fails_the_collection_with_graphs_result() {
    let (mut c, _) = Collecting::start(options(2, 1));
    c.prompt_started(Some("op-1".into()));
    let failed = completed("op-1", OperationStatus::Failed, Some((404, 8525)));
    let collected = done(&c.prompt_completed(&failed)).clone();
    assert_eq!(collected.reason, CollectEnd::Failed);
    assert_eq!(collected.result.map(|r| r.subcode), Some(8525));
}

#[test]
fn another_operations_completion_is_not_its_prompts() {
    let (mut c, _) = Collecting::start(options(1, 1));
    c.prompt_started(Some("op-1".into()));
    assert!(
        c.prompt_completed(&completed("op-9", OperationStatus::Completed, None))
            .is_empty()
    );
}

#[test]
fn a_collection_survives_being_stored() {
    let (mut c, _) = Collecting::start(options(2, 1));
    c.prompt_started(Some("op-1".into()));
    c.tone(Tone::Tone9);
    let stored = serde_json::to_vec(&c).unwrap();
    let back: Collecting = serde_json::from_slice(&stored).unwrap();
    assert_eq!(back, c);
}

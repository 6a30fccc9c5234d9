//! The host's mark on an operation's `clientContext`. A request that starts an operation under
//! an intent (play, record, DTMF, invite, hold music) carries `ch1:<seq>.<idx>` — the journal
//! entry being handled and the request's place in its handling — before the workflow's own
//! context, joined by `|`. Graph echoes the context in the operation's notifications, so a
//! completion that arrives after a restart finds the intent of the request that started it even
//! when the request's result (its operation id) was never stored. A workflow's typed completion
//! comes without the mark (the `raw` notification is as Graph sent it, mark included).
//!
//! A mark is added only when the whole context stays within Graph's 256 characters; without one,
//! the workflow's context goes out as it is. A workflow's own context that itself reads as a
//! mark (`ch1:` digits `.` digits, then nothing or `|`) would lose that part: `ch1:` is reserved.

/// What every mark starts with (version 1 of its form).
const PREFIX: &str = "ch1:";
/// Graph's limit for `clientContext`, in characters.
const LIMIT: usize = 256;

/// The place of an operation's request in its call's journal: entry and request number.
pub(crate) type Place = (u64, u32);

/// `context` with the mark of `place` added, when it fits.
pub(crate) fn mark(place: Place, context: Option<String>) -> Option<String> {
    let (seq, idx) = place;
    let marked = match &context {
        Some(own) => format!("{PREFIX}{seq}.{idx}|{own}"),
        None => format!("{PREFIX}{seq}.{idx}"),
    };
    if marked.chars().count() <= LIMIT {
        Some(marked)
    } else {
        context
    }
}

/// The place a context was marked with, and the workflow's own context without the mark.
pub(crate) fn unmark(context: Option<String>) -> (Option<Place>, Option<String>) {
    let Some(text) = context else {
        return (None, None);
    };
    let Some(rest) = text.strip_prefix(PREFIX) else {
        return (None, Some(text));
    };
    let (place, own) = match rest.split_once('|') {
        Some((place, own)) => (place, Some(own)),
        None => (rest, None),
    };
    let parsed = place.split_once('.').and_then(|(seq, idx)| {
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        match digits(seq) && digits(idx) {
            true => Some((seq.parse().ok()?, idx.parse().ok()?)),
            false => None,
        }
    });
    match parsed {
        Some(place) => (Some(place), own.map(str::to_owned)),
        None => (None, Some(text)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mark_comes_off_and_leaves_the_workflows_context() {
        for own in [
            None,
            Some("menu"),
            Some(""),
            Some("a|b"),
            Some("ch1:not-a-mark"),
        ] {
            let marked = mark((17, 2), own.map(str::to_owned));
            assert!(marked.as_deref().unwrap().starts_with("ch1:17.2"));
            assert_eq!(unmark(marked), (Some((17, 2)), own.map(str::to_owned)));
        }
    }

    #[test]
    fn a_context_that_is_no_mark_is_the_workflows_own() {
        for own in [
            "menu",
            "ch1:",
            "ch1:1",
            "ch1:1.",
            "ch1:.2",
            "ch1:x.2|y",
            "ch2:1.2",
            "CH1:1.2",
        ] {
            assert_eq!(unmark(Some(own.into())), (None, Some(own.into())), "{own}");
        }
        assert_eq!(unmark(None), (None, None));
    }

    #[test]
    fn a_mark_that_would_pass_graphs_limit_is_left_off() {
        let long = "x".repeat(250);
        assert_eq!(mark((1, 0), Some(long.clone())), Some(long.clone()));
        let fits = "x".repeat(256 - "ch1:1.0|".len());
        assert_eq!(
            unmark(mark((1, 0), Some(fits.clone()))),
            (Some((1, 0)), Some(fits))
        );
    }
}

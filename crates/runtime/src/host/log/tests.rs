//! The `log` interface on its own context, without Wasm: what reaches the host log.

use std::sync::{Arc, Mutex};

use super::*;
use crate::bindings::log::Host as _;
use crate::outcome::HostLimitExceeded;

/// Everything the host log received, as text.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// One call of `log`: level, message and fields.
type Line = (Level, String, Vec<(String, String)>);

/// Logs `lines` through a fresh context with the given budgets: returns the host log's text,
/// the lines dropped and each call's result.
fn run(
    host_calls: u32,
    log_lines: u32,
    lines: Vec<Line>,
) -> (String, u32, Vec<wasmtime::Result<()>>) {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let mut budget = LogBudget::new(log_lines);
    let mut calls = HostCallBudget::new(host_calls);
    let results = tracing::subscriber::with_default(subscriber, || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        runtime.block_on(async {
            let mut ctx = LogCtx {
                plugin_id: "ivr",
                call_id: "c1",
                lines: &mut budget,
                host_calls: &mut calls,
            };
            let mut results = Vec::new();
            for (level, message, fields) in lines {
                results.push(ctx.log(level, message, fields).await);
            }
            results
        })
    });
    (captured.text(), budget.dropped, results)
}

#[test]
fn clipping_keeps_short_text_and_cuts_at_a_char_boundary() {
    assert_eq!(clip("short"), "short");
    assert_eq!(clip(&"a".repeat(5000)).len(), MAX_TEXT);
    // 3-byte characters: 4096 falls inside one, so the cut is one byte earlier.
    let euros = "€".repeat(2000);
    let clipped = clip(&euros);
    assert_eq!(clipped.len(), 4095);
    assert!(euros.starts_with(clipped));
}

#[test]
fn lines_are_tagged_and_clipped() {
    let long = format!("start{}", "é".repeat(3000));
    let fields = vec![("menu".to_string(), "main".to_string())];
    let (text, dropped, results) = run(10, 10, vec![(Level::Warn, long.clone(), fields)]);
    assert!(results.iter().all(Result::is_ok));
    assert_eq!(dropped, 0);
    assert!(text.contains("WARN"), "{text}");
    assert!(
        text.contains("plugin=\"ivr\"") || text.contains("plugin=ivr"),
        "{text}"
    );
    assert!(text.contains("menu=main"), "{text}");
    assert!(text.contains(clip(&long)), "{text}");
    assert!(!text.contains(&long), "the message was not clipped");
}

#[test]
fn lines_past_the_budget_are_dropped_without_stopping_the_plugin() {
    let line = |n: u32| (Level::Info, format!("line {n}"), Vec::new());
    let (text, dropped, results) = run(10, 2, (1..=4).map(line).collect());
    assert!(results.iter().all(Result::is_ok));
    assert_eq!(dropped, 2);
    assert!(
        text.contains("line 2") && !text.contains("line 3"),
        "{text}"
    );
}

#[test]
fn dropped_lines_still_count_as_host_calls() {
    let line = |n: u32| (Level::Debug, format!("line {n}"), Vec::new());
    let (_, dropped, results) = run(3, 1, (1..=4).map(line).collect());
    assert_eq!(dropped, 2);
    assert!(results[..3].iter().all(Result::is_ok));
    let trap = results[3].as_ref().unwrap_err();
    assert!(trap.downcast_ref::<HostLimitExceeded>().is_some());
}

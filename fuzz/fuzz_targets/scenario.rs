//! A simulator scenario file: TOML parsed into its tables, then validated into a scenario,
//! with every problem named.

#![no_main]

use callhost_simulator::scenario::Scenario;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match Scenario::parse(text, "fuzz.toml") {
        Ok(scenario) => {
            let _ = format!("{scenario:?}");
        }
        Err(e) => {
            assert!(
                !e.problems.is_empty(),
                "a rejected scenario names a problem"
            );
            let _ = e.to_string();
        }
    }
});

//! A `callhost.toml`: parsed, then validated as `serve` does before it binds any port, and the
//! values derived from it computed. Validation only stats plugin paths (no reads or writes);
//! relative ones resolve under a directory that does not exist.

#![no_main]

use std::path::PathBuf;

use callhost::config::Config;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(mut config) = Config::parse(text) else {
        return;
    };
    config.base_dir = PathBuf::from("/nonexistent/callhost-fuzz");
    let valid = match config.validate() {
        Ok(()) => true,
        Err(problems) => {
            assert!(!problems.is_empty(), "a failed validation names a problem");
            false
        }
    };
    let _ = config.callback_url();
    let _ = config.cache_dir();
    let _ = config.calls.limits().problems();
    for id in config.plugins.keys() {
        let source = config.plugin_source(id);
        // A validated configuration has a usable source for every plugin.
        assert!(!valid || source.is_ok(), "plugin {id}: {source:?}");
    }
});

//! Plugin files that change under a running service, and waiting for what the change does.

use std::collections::HashMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use callhost::call::Identity;
use callhost::dispatch::CallSummary;
use callhost::plugins::{PluginRegistry, PluginSummary, PluginsReport};
use callhost_simulator::SimulatorSettings;
use serde_json::{Value, json};

use crate::support::bot::{BOT_APP_ID, Bot, plugin_table_at};
use crate::support::plugin_path;

/// Long enough for hundreds of calls on a busy two-core machine.
pub const WAIT: Duration = Duration::from_secs(60);

/// The IVR menu's configuration.
pub const IVR_CONFIG: &[(&str, &str)] = &[
    ("menu", "https://media.example.com/menu.wav"),
    ("info", "https://media.example.com/info.wav"),
    ("goodbye", "https://media.example.com/goodbye.wav"),
    ("sales", "user:5e3ce6c0-2b1f-4285-8d4b-75ee78787346"),
    ("operator", "user:6f5a4bc1-3c2e-4396-9e5c-86ff89898457"),
];
pub const SALES: &str = "5e3ce6c0-2b1f-4285-8d4b-75ee78787346";

/// A directory of plugin files the test changes.
pub struct PluginFiles {
    dir: tempfile::TempDir,
}

impl PluginFiles {
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// Writes `<name>.wasm`; returns its path.
    pub fn install(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let path = self.dir.path().join(format!("{name}.wasm"));
        std::fs::write(&path, bytes).unwrap();
        path
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

/// The bytes of a plugin built by `cargo xtask build-plugins`.
pub fn built(plugin: &str) -> Vec<u8> {
    std::fs::read(plugin_path(plugin)).unwrap()
}

/// `component` with one more custom section holding `tag`: a valid component that behaves
/// the same and has another hash, so another version.
pub fn variant(component: &[u8], tag: &str) -> Vec<u8> {
    callhost_bench::tagged_variant(component, tag)
}

/// The short version of a component: how logs, journals and the admin API name it.
pub fn version_of(bytes: &[u8]) -> String {
    callhost::runtime::version_of(bytes)
}

/// Replaces a file as deployers should: a temporary file in the same directory, renamed over
/// it.
pub fn replace(path: &Path, bytes: &[u8]) {
    let tmp = path.with_extension("wasm.tmp");
    std::fs::write(&tmp, bytes).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

/// Writes a file in place in two parts with a pause between them, like a slow copy.
pub async fn write_slowly(path: &Path, bytes: &[u8], pause: Duration) {
    let mut file = std::fs::File::create(path).unwrap();
    let (first, rest) = bytes.split_at(bytes.len() / 2);
    file.write_all(first).unwrap();
    file.flush().unwrap();
    tokio::time::sleep(pause).await;
    file.write_all(rest).unwrap();
}

/// An IVR service with calls in the menu under one version, and then another version in
/// service.
pub struct Reloaded {
    pub bot: Bot,
    pub plugins: PluginRegistry,
    /// The calls in progress, on the old version.
    pub calls: Vec<String>,
    pub old: String,
    pub new: String,
    _files: PluginFiles,
}

/// Starts the IVR menu with `on_reload`, brings `calls` calls to the menu, then replaces the
/// plugin with a variant tagged `tag` and waits until it is in service.
pub async fn menu_calls_then_reload(on_reload: &str, calls: usize, tag: &str) -> Reloaded {
    let files = PluginFiles::new();
    let v1 = built("ivr-menu");
    let v2 = variant(&v1, tag);
    let path = files.install("ivr", &v1);
    let bot = ivr_bot(&path, on_reload, "").await;
    let plugins = bot.dispatcher.plugins().clone();
    let calls: Vec<String> = (0..calls)
        .map(|n| bot.sim.incoming_call(caller(n), bot_identity()))
        .collect();
    wait_for_each(&bot, &calls, "/playPrompt").await;
    replace(&path, &v2);
    let new = version_of(&v2);
    wait_for_plugin(&plugins, "ivr", "the new version goes in service", |p| {
        p.current == new
    })
    .await;
    Reloaded {
        bot,
        plugins,
        calls,
        old: version_of(&v1),
        new,
        _files: files,
    }
}

/// A service with the IVR menu at `path` as its default route, against a simulator that
/// delivers notifications without delay.
pub async fn ivr_bot(path: &Path, on_reload: &str, extra: &str) -> Bot {
    let plugin = plugin_table_at(
        "ivr",
        path,
        &format!("on_reload = \"{on_reload}\""),
        IVR_CONFIG,
    );
    let settings = SimulatorSettings {
        bot_app_id: BOT_APP_ID.into(),
        notification_delay: Duration::ZERO,
        ..SimulatorSettings::default()
    };
    Bot::start_with(
        settings,
        &format!("[journal]\nmax_calls = 5000\n\n[[routes]]\nplugin = \"ivr\"\n{plugin}\n{extra}"),
    )
    .await
}

pub fn caller(n: usize) -> Identity {
    Identity::user(format!("caller-{n}"))
}

pub fn bot_identity() -> Identity {
    Identity::application(BOT_APP_ID)
}

/// A plugin as the admin API reports it.
pub fn plugin(plugins: &PluginRegistry, id: &str) -> PluginSummary {
    plugins
        .report()
        .plugins
        .into_iter()
        .find(|p| p.id == id)
        .unwrap_or_else(|| panic!("no plugin {id} in the report"))
}

/// Waits until `check` holds for the plugin's report entry; returns the entry.
pub async fn wait_for_plugin(
    plugins: &PluginRegistry,
    id: &str,
    what: &str,
    check: impl Fn(&PluginSummary) -> bool,
) -> PluginSummary {
    let report = wait_for_report(plugins, what, |r| {
        r.plugins.iter().any(|p| p.id == id && check(p))
    })
    .await;
    report.plugins.into_iter().find(|p| p.id == id).unwrap()
}

/// Waits until `check` holds for the registry's report; returns the report.
pub async fn wait_for_report(
    plugins: &PluginRegistry,
    what: &str,
    check: impl Fn(&PluginsReport) -> bool,
) -> PluginsReport {
    let mut changes = plugins.changes();
    let wait = async {
        loop {
            let report = plugins.report();
            if check(&report) {
                return report;
            }
            // Pinned-call counts change without notice until they reach zero: re-check often.
            let _ = tokio::time::timeout(Duration::from_millis(20), changes.changed()).await;
        }
    };
    tokio::time::timeout(WAIT, wait)
        .await
        .unwrap_or_else(|_| panic!("{what}: {:#?}", plugins.report()))
}

/// A call in progress, as the admin API lists it: its plugin and the version it is pinned to.
pub fn in_progress(bot: &Bot, call: &str) -> CallSummary {
    let calls = bot.dispatcher.calls();
    let summary = calls.into_iter().find(|c| c.call_id == call);
    summary.unwrap_or_else(|| panic!("call {call} is not in progress"))
}

/// The plugin versions that handled each event of the call, with the event names, in order.
pub fn served(bot: &Bot, call: &str) -> Vec<(String, String)> {
    bot.dispatcher
        .journal()
        .timeline(call)
        .unwrap_or_else(|| panic!("no journal for call {call}"))
        .invocations()
        .map(|i| (i.version.clone(), i.event.clone()))
        .collect()
}

/// Waits until Graph has received a request ending with `suffix` for every call.
pub async fn wait_for_each(bot: &Bot, calls: &[String], suffix: &str) {
    let expected: HashMap<String, usize> = calls.iter().map(|c| (c.clone(), 1)).collect();
    wait_for_counts(bot, &expected, suffix).await;
}

/// Waits until Graph has received, for each call, at least the expected number of requests
/// ending with `suffix`.
pub async fn wait_for_counts(bot: &Bot, expected: &HashMap<String, usize>, suffix: &str) {
    let counts = || {
        let mut counts: HashMap<String, usize> = HashMap::new();
        for request in bot.sim.requests() {
            if let Some(call) = request
                .path
                .strip_prefix("/v1.0/communications/calls/")
                .and_then(|rest| rest.strip_suffix(suffix))
            {
                *counts.entry(call.to_string()).or_default() += 1;
            }
        }
        counts
    };
    let done = || {
        let counts = counts();
        expected
            .iter()
            .all(|(call, n)| counts.get(call).is_some_and(|c| c >= n))
            .then_some(())
    };
    if bot.sim.wait_until(WAIT, done).await.is_none() {
        let counts = counts();
        let short: Vec<_> = expected
            .iter()
            .filter(|(call, n)| counts.get(*call).is_none_or(|c| c < *n))
            .take(5)
            .collect();
        panic!("calls still waiting for {suffix} requests (expected count): {short:?}");
    }
}

/// `POST` on the admin API: the status and the JSON body.
pub async fn admin_post(bot: &Bot, path: &str) -> (u16, Value) {
    let response = bot
        .http
        .post(format!("{}{path}", bot.admin_url))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

/// `[plugins.<id>]`: the recorder at `path`, answering incoming calls.
pub fn recorder_table(id: &str, path: &Path) -> String {
    let answer = json!([{"fn": "answer", "call": "$call", "modalities": ["audio"]}]);
    let actions = answer.to_string();
    plugin_table_at(
        id,
        path,
        "",
        &[("on", "incoming-call"), ("actions", &actions)],
    )
}

/// [`recorder_table`] and a default route to it.
pub fn recorder_answering(id: &str, path: &Path) -> String {
    format!(
        "[[routes]]\nplugin = \"{id}\"\n{}",
        recorder_table(id, path)
    )
}

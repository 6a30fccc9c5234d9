//! What else reloads: admin requests, `SIGHUP`, and changes of the configuration file.

use std::path::Path;

use serde_json::json;

use super::fixture::*;
use crate::support::bot::{Bot, test_cache_dir};

#[tokio::test]
async fn without_watching_plugins_reload_on_admin_requests_and_on_sighup() {
    let files = PluginFiles::new();
    let v1 = built("recorder");
    let path = files.install("greeter", &v1);
    let runtime = format!(
        "[runtime]\ncache_dir = {:?}\nwatch = false\n",
        test_cache_dir().display().to_string()
    );
    let bot = Bot::start(&format!(
        "{runtime}\n{}",
        recorder_answering("greeter", &path)
    ))
    .await;
    let plugins = bot.dispatcher.plugins().clone();

    let v2 = variant(&v1, "admin");
    replace(&path, &v2);
    let (status, body) = admin_post(&bot, "/admin/plugins/greeter/reload").await;
    assert_eq!(status, 200, "{body:#}");
    assert_eq!(body["reloaded"], true);
    assert_eq!(body["version"], version_of(&v2).as_str());
    let (status, body) = admin_post(&bot, "/admin/plugins/greeter/reload").await;
    assert_eq!(
        (status, &body["reloaded"]),
        (200, &json!(false)),
        "{body:#}"
    );
    let (status, _) = admin_post(&bot, "/admin/plugins/nobody/reload").await;
    assert_eq!(status, 404);

    replace(&path, b"not a component");
    let (status, body) = admin_post(&bot, "/admin/plugins/greeter/reload").await;
    assert_eq!(status, 422, "{body:#}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("not a WebAssembly file")
    );
    let greeter = plugin(&plugins, "greeter");
    assert_eq!(greeter.current, version_of(&v2));
    assert!(
        greeter
            .reloads
            .last_error
            .unwrap()
            .message
            .contains("not a WebAssembly file")
    );

    let v3 = variant(&v1, "sighup");
    replace(&path, &v3);
    let pid = std::process::id().to_string();
    let kill = std::process::Command::new("kill")
        .args(["-HUP", &pid])
        .status();
    assert!(kill.unwrap().success());
    wait_for_plugin(&plugins, "greeter", "SIGHUP reloads", |p| {
        p.current == version_of(&v3)
    })
    .await;
}

#[tokio::test]
async fn configuration_changes_apply_as_a_whole_or_not_at_all() {
    let files = PluginFiles::new();
    let recorder = built("recorder");
    let first = files.install("first", &recorder);
    let second = files.install("second", &variant(&recorder, "second"));
    let broken = files.install("broken", &wat::parse_str("(component)").unwrap());
    let bot = Bot::start(&recorder_answering("first", &first)).await;
    let plugins = bot.dispatcher.plugins().clone();
    let mut n = 0;
    let mut call_handled_by = async |plugin: &str| {
        n += 1;
        let call = bot.sim.incoming_call(caller(n), bot_identity());
        wait_for_each(&bot, std::slice::from_ref(&call), "/answer").await;
        assert_eq!(in_progress(&bot, &call).plugin, plugin);
    };
    call_handled_by("first").await;

    // A new plugin, and new calls routed to it.
    let original = std::fs::read_to_string(&bot.config_path).unwrap();
    let routed_to = |id: &str, path: &Path| {
        original.replace("plugin = \"first\"", &format!("plugin = \"{id}\""))
            + &recorder_table(id, path)
    };
    let routed_to_second = routed_to("second", &second);
    std::fs::write(&bot.config_path, &routed_to_second).unwrap();
    wait_for_report(&plugins, "the configuration reloads", |r| {
        r.config.reloads == 1
    })
    .await;
    assert_eq!(plugins.ids(), ["first", "second"]);
    call_handled_by("second").await;

    // An invalid configuration is rejected; the one in force stays.
    std::fs::write(
        &bot.config_path,
        format!("{routed_to_second}\n[[routes]]\nplugin = \"nobody\"\n"),
    )
    .unwrap();
    let report = wait_for_report(&plugins, "the configuration is rejected", |r| {
        r.config.failures >= 1
    })
    .await;
    let message = report.config.last_error.unwrap().message;
    assert!(message.contains("nobody"), "{message}");
    call_handled_by("second").await;

    // A valid configuration whose new plugin cannot load: its route change is not applied
    // either, and the plugin it drops stays.
    let routed_to_broken = routed_to("broken", &broken);
    let failures = plugins.report().config.failures;
    std::fs::write(&bot.config_path, &routed_to_broken).unwrap();
    let report = wait_for_report(&plugins, "the configuration is rejected", |r| {
        r.config.failures > failures
    })
    .await;
    let message = report.config.last_error.unwrap().message;
    assert!(message.contains("plugin broken"), "{message}");
    assert_eq!(plugins.ids(), ["first", "second"]);
    assert_eq!(report.config.reloads, 1);
    call_handled_by("second").await;
}

//! Scenarios: a call told from the other side, run against a workflow plugin on the Graph
//! simulator, with expectations about what the bot did.
//!
//! A scenario file is TOML. The top-level keys come first (TOML puts every key after a
//! `[table]` header into that table), then the `[expect]` table:
//!
//! ```toml
//! name = "caller presses 1 and is transferred to sales"
//! workflow = "ivr-menu"          # the plugin it is written for (target/plugins/<workflow>.wasm)
//! end_timeout_ms = 5000          # how long to wait, after the steps, for the call to end
//!
//! # Optional: how the simulated Graph behaves. media_ms: how long prompts, recordings and
//! # DTMF sending take; notification_delay_ms: between a request and its notifications;
//! # transfer_target: "answers" or "declines".
//! simulator = { media_ms = 30, notification_delay_ms = 5, transfer_target = "answers" }
//!
//! # Someone calls the bot (`to` defaults to the bot; `from_name` is optional) …
//! call = { from = "user:8a34a46b-3d17-4adc-8dce-dc4e7d572698", from_name = "Alex Caller" }
//! # … or the bot joins a meeting through the admin path, by link or by id:
//! # call = { join_url = "https://teams.microsoft.com/l/meetup-join/…" }
//! # call = { join_meeting_id = "123456789", passcode = "abc" }
//!
//! # What the other side does, in order. One action per step:
//! steps = [
//!   { wait_for = "playPrompt", timeout_ms = 2000 },  # a request of this kind (default 5000 ms)
//!   { press = "1" },                                  # keys: 0-9 * # A-D; "*#" presses two
//!   { wait = 200 },                                   # ms
//!   { hang_up = true },                               # the caller hangs up
//!   { join = "user:…", name = "Dana", as = "dana" },  # a participant joins (as: a label)
//!   { mute = "dana" }, { unmute = "dana" }, { leave = "dana" },
//!   { transfer_target = "declines" },                 # from now on, transfers fail
//!   { stop_responding = true },                       # the caller goes silent (last step)
//! ]
//!
//! [expect]                       # every key is optional
//! answered = true
//! answered_within_ms = 1000      # from the incoming-call notification to POST …/answer
//! played = ["https://media.example.com/menu.wav"]   # each URI in some playPrompt
//! transferred_to = "user:2222…"
//! redirected_to = "user:…"
//! rejected = "busy"              # none, busy or forbidden
//! hung_up = true                 # the bot hung up (DELETE on the call)
//! ended = { code = 0, subcode = 7015 }   # the final notification's resultInfo; {} for any
//! fallback = false               # whether the route's fallback took the call
//! requests = { playPrompt = 1, transfer = 1 }   # exact counts, by request kind
//! fetched = ["GET https://crm.example.com/callers/%2B14255550123 => 200"]  # HTTP requests the
//!                                # plugin sent (`METHOD URL`, the URL without its query, and
//!                                # optionally `=> status` or `=> no answer`)
//! http_requests = 1              # the exact number of them
//!
//! # Services faked for the plugin's HTTP requests, each standing in for an origin on
//! # loopback: the canned responses (200 and JSON unless told), 404 to anything else; `down`
//! # refuses every connection. The plugin's allowed_outbound_hosts is still checked.
//! [[http]]
//! origin = "https://crm.example.com"
//! responses = [
//!   { path = "/callers/%2B14255550123", body = '{"accountManager": "user:…"}', delay_ms = 0 },
//!   { path = "/callers/%2B14255550199", status = 503 },
//! ]
//! ```
//!
//! `[[http]]` tables come after `[expect]` (or instead of it) in the file.
//!
//! A request kind is Graph's action name: `answer`, `reject`, `redirect`, `transfer`,
//! `playPrompt`, `recordResponse`, `subscribeToTone`, `sendDtmfTones`,
//! `cancelMediaProcessing`, `keepAlive`, `mute`, `unmute`, `invite`, `muteParticipant`,
//! `startHoldMusic`, `stopHoldMusic`, `removeParticipant`, plus `hangUp` (DELETE on the call),
//! `getCall` and `createCall`. `wait_for` waits for a request on the call of that kind that
//! came after the request the previous `wait_for` matched and after the other side's last
//! action.
//!
//! [`Scenario::parse`] validates the whole file and names the step of every problem;
//! [`simulate`] runs one against a plugin and returns a [`ScenarioReport`] with a result per
//! step and per expectation, and the call's timeline.

mod expect;
mod fake_http;
mod file;
mod model;
mod report;
mod requests;
mod runner;
mod service;
#[cfg(test)]
mod tests;
mod validate;

pub use fake_http::{CannedResponse, FakeOrigin, FakeServices};
pub use model::{
    CallSetup, EndedWith, Expectations, Scenario, ScenarioError, SimulatorOptions, Step,
};
pub use report::{ScenarioReport, StepResult, StepStatus};
pub use requests::{REQUEST_KINDS, request_kind};
pub use runner::run;
pub use service::{SIMULATED_PUBLIC_URL, ServiceSpec, SimulatedService};

/// Starts the simulator and the service for `spec` with the scenario's simulator options, and
/// runs the scenario.
pub async fn simulate(spec: &ServiceSpec, scenario: &Scenario) -> anyhow::Result<ScenarioReport> {
    let fakes = FakeServices::start(&scenario.http).await?;
    let mut spec = spec.clone();
    spec.stand_ins.extend(fakes.stand_ins.clone());
    let service = SimulatedService::start(&spec, scenario.simulator.settings()).await?;
    let report = run(scenario, &service).await;
    drop(fakes);
    Ok(report)
}

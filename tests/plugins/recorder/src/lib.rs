//! A well-behaved test plugin that records what it receives and makes the call-control requests
//! its config lists, so that tests can check both directions of the contract.
//!
//! # What it does for each event
//!
//! 1. Appends `{"call": <call-context>, "event": <event>}` to the JSON array under the
//!    call-state key `events`.
//! 2. Stores the call id (plain UTF-8, not JSON) under the plugin-state key `last-call`.
//!    With the config value `keep-events = "plugin"`, also appends the same entry, without
//!    `event.raw`, to the JSON array under the plugin-state key `events/<call-id>`: it
//!    outlives the call (call state is dropped when a call ends), and leaving out the raw
//!    resource data keeps many calls' events within the plugin-state quota.
//!    With `keep-events = "none"`, the event is not appended anywhere (for floods, where
//!    a growing array would make each event slower than the last).
//!    With the config value `count = "<key>"`, also adds one to the plugin-state counter
//!    `<key>` with `increment` (shared by every instance, written at once).
//! 3. Stores `config.get-all` under the call-state key `config`, as a JSON array of
//!    `[key, value]` pairs in the order the host gave them.
//! 4. Unless the config value `on` is set and names another event kind (`incoming-call`,
//!    `state-changed`, `tone-received`, `operation-completed`, `participants-changed`,
//!    `other`): makes the requests listed in the config value `actions`, in order, and appends
//!    one outcome per request to the JSON array under the call-state key `results`. A failed
//!    request does not stop the ones after it; `on-event` still returns `ok`. Without `actions`
//!    nothing is requested and `results` is left as it is.
//!
//! `on-event` returns `err` when `actions` is malformed (then no request is made), when the
//! stored state is not what this plugin wrote, or when a state write is refused.
//!
//! # JSON form of WIT values (in `events` and `results`, and in `actions`)
//!
//! A record is an object with each field under its WIT name (kebab-case); an option is its
//! value or `null`; a list is an array; a tuple is an array; an enum case, and a variant case
//! without payload, is its WIT name as a string (`"audio"`, `"not-found"`); a variant case with
//! a payload is a one-key object `{"<case>": <payload>}`; numbers and bools are JSON numbers and
//! bools. Written values have every field; `event.raw` stays the string the host sent.
//!
//! So an `events` entry looks like:
//! `{"call": {"call-id": "c1", "direction": "incoming", "tenant-id": null, "state": "incoming",
//! "my-participant-id": null, "bot-app-id": "…", "created-by-plugin": false},
//! "event": {"kind": {"tone-received": {"tone": "star", "sequence-id": 3}},
//! "change-type": "updated", "resource-url": "/communications/calls/c1", "raw": "{…}"}}`.
//!
//! A `results` entry is `{"fn": "<function>", "ok": <value>}` — `null` for functions returning
//! `result<_, call-error>`, the string (operation id or call id) for the others — or
//! `{"fn": "<function>", "err": <call-error>}`, for example `"not-found"`,
//! `{"invalid-argument": "…"}` or `{"upstream": {"status": 404, "code": "8522", "message": "…"}}`.
//!
//! # The `actions` config value
//!
//! A JSON array with one object per request: `"fn"` is the call-control function's WIT name,
//! `"call"` is its `call-id` argument (`"$call"` stands for the event's call id), the other
//! arguments are under their WIT names, and a record argument (`options`, `request`) is spread
//! into the object as its fields. Options may be absent or `null` (none) and lists may be absent
//! (empty); everything else is required, and unknown keys are errors.
//!
//! | `fn` | keys |
//! |---|---|
//! | `answer` | `call`, `modalities`: [modality], `prefetch`: [media-prompt] |
//! | `reject` | `call`, `reason`: `"none"` \| `"busy"` \| `"forbidden"` |
//! | `redirect` | `call`, `targets`: [identity], `timeout-seconds`? |
//! | `transfer` | `call`, `target`: identity, `replaces-call-id`?, `transferee`?: `{"identity", "participant-id"}` |
//! | `hang-up` | `call` |
//! | `join-meeting` | `meeting`: `{"join-url": "…"}` \| `{"join-meeting-id": {"join-meeting-id", "passcode"?}}`, `tenant-id`?, `display-name`? |
//! | `place-call` | `targets`: [identity], `tenant-id`?, `subject`?, `source-application-instance`?: identity |
//! | `play-prompt` | `call`, `prompts`: [media-prompt], `client-context`? |
//! | `record-response` | `call`, `prompts`: [media-prompt], `barge-in-allowed`: bool, `initial-silence-timeout-seconds`?, `max-silence-timeout-seconds`?, `max-record-duration-seconds`?, `play-beep`: bool, `stop-tones`: [string], `client-context`? |
//! | `subscribe-to-tone` | `call`, `client-context`? |
//! | `send-dtmf-tones` | `call`, `tones`: [tone], `delay-between-tones-ms`?, `client-context`? |
//! | `cancel-media-processing`, `mute`, `unmute` | `call`, `client-context`? |
//! | `mute-participant`, `stop-hold-music` | `call`, `participant-id`, `client-context`? |
//! | `invite-participants` | `call`, `participants`: [`{"identity", "replaces-call-id"?, "participant-id"?}`], `client-context`? |
//! | `start-hold-music` | `call`, `participant-id`, `custom-prompt`?: media-prompt, `client-context`? |
//!
//! identity: `{"kind": "user", "id": "…", "display-name"?, "tenant-id"?}` (kinds as in the WIT);
//! media-prompt: `{"uri": "…", "resource-id"?}`; modality: `"audio"`, `"video"`,
//! `"video-based-screen-sharing"`, `"data"`; tone: `"zero"` … `"nine"`, `"star"`, `"pound"`,
//! `"a"` … `"d"`, `"flash"`. Example:
//! `[{"fn": "answer", "call": "$call", "modalities": ["audio"],
//! "prefetch": [{"uri": "https://x/a.wav", "resource-id": "a"}]}]`.

#[allow(unsafe_code)] // the generated glue between the component ABI and Rust
mod bindings {
    wit_bindgen::generate!({ world: "workflow", path: "../../../wit" });

    use super::Recorder;
    export!(Recorder);
}

mod actions;
mod parse;
mod render;
mod wit_enum;

use serde_json::{Value, json};

use bindings::callhost::workflow::config;
use bindings::callhost::workflow::state::{self, Scope, StateError};
use bindings::callhost::workflow::types::{CallContext, Event};
use bindings::exports::callhost::workflow::handler::Guest;

// Call-state keys.
const EVENTS: &str = "events";
const RESULTS: &str = "results";
const CONFIG: &str = "config";
// Plugin-state key.
const LAST_CALL: &str = "last-call";
/// Prefix of the plugin-state keys that keep each call's events (`keep-events = "plugin"`).
const KEPT_EVENTS: &str = "events/";
// Config keys.
const ACTIONS: &str = "actions";
const ON: &str = "on";
const KEEP_EVENTS: &str = "keep-events";
const COUNT: &str = "count";

struct Recorder;

impl Guest for Recorder {
    fn on_event(call: CallContext, event: Event) -> Result<(), String> {
        let entry = json!({ "call": render::call_context(&call), "event": render::event(&event) });
        let keep = config::get(KEEP_EVENTS);
        if keep.as_deref() != Some("none") {
            append(Scope::Call, EVENTS, vec![entry.clone()])?;
        }
        store(Scope::Plugin, LAST_CALL, call.call_id.as_bytes())?;
        if let Some(counter) = config::get(COUNT) {
            state::increment(&counter, 1).map_err(|error| refused(&counter, error))?;
        }
        match keep.as_deref() {
            None | Some("none") => {}
            Some("plugin") => {
                let mut kept = entry;
                if let Some(event) = kept["event"].as_object_mut() {
                    event.remove("raw");
                }
                let key = format!("{KEPT_EVENTS}{}", call.call_id);
                append(Scope::Plugin, &key, vec![kept])?;
            }
            Some(other) => {
                return Err(format!(
                    "config `{KEEP_EVENTS}`: `{other}` is not `plugin` or `none`"
                ));
            }
        }
        let config = render::config(&config::get_all()).to_string();
        store(Scope::Call, CONFIG, config.as_bytes())?;

        let kind = render::event_kind_name(&event.kind);
        if config::get(ON).is_some_and(|on| on != kind) {
            return Ok(());
        }
        let Some(actions) = config::get(ACTIONS) else {
            return Ok(());
        };
        let actions = actions::parse(&actions, &call.call_id)?;
        let outcomes = actions.into_iter().map(actions::Action::perform).collect();
        append(Scope::Call, RESULTS, outcomes)
    }
}

/// Appends `entries` to the JSON array under the key `key` of `scope`.
fn append(scope: Scope, key: &str, entries: Vec<Value>) -> Result<(), String> {
    let mut list: Vec<Value> = match state::get(scope, key) {
        Some(bytes) => serde_json::from_slice(&bytes)
            .map_err(|error| format!("state `{key}` is not a JSON array: {error}"))?,
        None => Vec::new(),
    };
    list.extend(entries);
    store(scope, key, Value::from(list).to_string().as_bytes())
}

fn store(scope: Scope, key: &str, value: &[u8]) -> Result<(), String> {
    state::set(scope, key, value).map_err(|error| refused(key, error))
}

fn refused(key: &str, error: StateError) -> String {
    match error {
        StateError::QuotaExceeded(limits) => format!("state `{key}`: quota exceeded ({limits})"),
        StateError::Conflict(revision) => format!("state `{key}`: conflict at revision {revision}"),
        StateError::Invalid(what) => format!("state `{key}`: {what}"),
        StateError::Unavailable(why) => format!("state `{key}`: store out of reach ({why})"),
    }
}

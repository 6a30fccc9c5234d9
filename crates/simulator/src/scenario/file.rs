//! A scenario file as written: its TOML tables, before validation.

use std::collections::BTreeMap;

use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ScenarioFile {
    pub name: Option<String>,
    pub description: Option<String>,
    pub workflow: Option<String>,
    pub end_timeout_ms: Option<u64>,
    #[serde(default)]
    pub simulator: SimulatorTable,
    pub call: CallTable,
    #[serde(default)]
    pub steps: Vec<StepTable>,
    #[serde(default)]
    pub expect: ExpectTable,
    /// Services faked for the plugin's HTTP requests.
    #[serde(default)]
    pub http: Vec<HttpTable>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct HttpTable {
    pub origin: String,
    pub down: Option<bool>,
    #[serde(default)]
    pub responses: Vec<HttpResponseTable>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct HttpResponseTable {
    pub path: String,
    pub method: Option<String>,
    pub status: Option<u16>,
    pub body: Option<String>,
    pub content_type: Option<String>,
    pub delay_ms: Option<u64>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct SimulatorTable {
    pub media_ms: Option<u64>,
    pub notification_delay_ms: Option<u64>,
    pub transfer_target: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CallTable {
    pub from: Option<String>,
    pub from_name: Option<String>,
    pub to: Option<String>,
    pub join_url: Option<String>,
    pub join_meeting_id: Option<String>,
    pub passcode: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct StepTable {
    pub wait: Option<u64>,
    pub wait_for: Option<String>,
    pub timeout_ms: Option<u64>,
    pub press: Option<String>,
    pub hang_up: Option<bool>,
    pub join: Option<String>,
    pub name: Option<String>,
    #[serde(rename = "as")]
    pub label: Option<String>,
    pub leave: Option<String>,
    pub mute: Option<String>,
    pub unmute: Option<String>,
    pub transfer_target: Option<String>,
    pub stop_responding: Option<bool>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct ExpectTable {
    pub answered: Option<bool>,
    pub answered_within_ms: Option<u64>,
    #[serde(default)]
    pub played: OneOrMany,
    pub transferred_to: Option<String>,
    pub redirected_to: Option<String>,
    pub rejected: Option<String>,
    pub hung_up: Option<bool>,
    pub ended: Option<EndedTable>,
    pub fallback: Option<bool>,
    #[serde(default)]
    pub requests: BTreeMap<String, usize>,
    #[serde(default)]
    pub fetched: OneOrMany,
    pub http_requests: Option<usize>,
}

#[derive(Deserialize, Default)]
#[serde(untagged)]
pub(super) enum OneOrMany {
    #[default]
    None,
    One(String),
    Many(Vec<String>),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct EndedTable {
    pub code: Option<i64>,
    pub subcode: Option<i64>,
}

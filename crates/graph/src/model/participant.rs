//! Participants of a group call or meeting, as listed in roster notifications.

use serde::Deserialize;

use super::identity::{IdentitySet, ParticipantInfo};
use super::lenient::{lenient_i64, null_default};

/// Graph's `participant`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Participant {
    #[serde(rename = "@odata.type")]
    pub odata_type: Option<String>,
    /// The participant id; `null` in some roster examples for invitees not yet joined.
    pub id: Option<String>,
    pub info: Option<ParticipantInfo>,
    pub is_in_lobby: Option<bool>,
    pub is_muted: Option<bool>,
    #[serde(deserialize_with = "null_default")]
    pub media_streams: Vec<MediaStream>,
    pub metadata: Option<String>,
    pub recording_info: Option<RecordingInfo>,
    pub removed_state: Option<RemovedState>,
    pub restricted_experience: Option<serde_json::Value>,
    #[serde(deserialize_with = "lenient_i64")]
    pub roster_sequence_number: Option<i64>,
}

/// Graph's `mediaStream`: one media flow of a participant.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct MediaStream {
    #[serde(rename = "@odata.type")]
    pub odata_type: Option<String>,
    /// `audio`, `video`, `videoBasedScreenSharing`, `data`, … as Graph sent it.
    pub media_type: Option<String>,
    pub label: Option<String>,
    /// Maps received media to this participant.
    pub source_id: Option<String>,
    /// `inactive`, `sendOnly`, `receiveOnly`, `sendReceive`.
    pub direction: Option<String>,
    pub server_muted: Option<bool>,
}

/// Graph's `recordingInfo`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct RecordingInfo {
    pub initiator: Option<IdentitySet>,
    pub recording_status: Option<String>,
}

/// Graph's `removedState`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct RemovedState {
    pub reason: Option<String>,
}

/// An OData collection response: `{ "value": [...] }` (for example the participant list).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(bound = "T: Deserialize<'de>")]
pub struct Collection<T> {
    #[serde(default, deserialize_with = "null_default")]
    pub value: Vec<T>,
}

//! Typed call events, built from Graph notifications and delivered to workflows.

use serde::{Deserialize, Serialize};

use super::identity::{CallState, Identity, MeetingInvite, Modality, ResultInfo, Tone};

/// Graph's `changeType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ChangeType {
    Created,
    Updated,
    Deleted,
    Unknown,
}

impl ChangeType {
    pub fn from_graph(value: &str) -> Self {
        match value.to_ascii_lowercase().as_str() {
            "created" => ChangeType::Created,
            "updated" => ChangeType::Updated,
            "deleted" => ChangeType::Deleted,
            _ => ChangeType::Unknown,
        }
    }
}

/// A call is ringing at the bot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncomingCall {
    pub caller: Identity,
    pub callees: Vec<Identity>,
    pub requested_modalities: Vec<Modality>,
    pub meeting: Option<MeetingInvite>,
    pub call_chain_id: Option<String>,
}

/// The call moved to a new state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateChanged {
    pub state: CallState,
    pub previous: CallState,
    pub result: Option<ResultInfo>,
    pub termination_reason: Option<String>,
}

/// A key press.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToneReceived {
    pub tone: Tone,
    pub sequence_id: i64,
}

/// Which action started an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OperationKind {
    PlayPrompt,
    RecordResponse,
    SendDtmfTones,
    SubscribeToTone,
    CancelMediaProcessing,
    InviteParticipants,
    MuteParticipant,
    UnmuteParticipant,
    StartHoldMusic,
    StopHoldMusic,
    UpdateRecordingStatus,
    AddLargeGalleryView,
    Unknown,
}

impl OperationKind {
    /// From Graph's `@odata.type` (with or without `#microsoft.graph.`), e.g. `playPromptOperation`.
    pub fn from_odata_type(odata_type: &str) -> Self {
        let name = odata_type.rsplit('.').next().unwrap_or(odata_type);
        match name.to_ascii_lowercase().as_str() {
            "playpromptoperation" => OperationKind::PlayPrompt,
            "recordoperation" => OperationKind::RecordResponse,
            "senddtmftonesoperation" => OperationKind::SendDtmfTones,
            "subscribetotoneoperation" => OperationKind::SubscribeToTone,
            "cancelmediaprocessingoperation" => OperationKind::CancelMediaProcessing,
            "inviteparticipantsoperation" => OperationKind::InviteParticipants,
            "muteparticipantoperation" => OperationKind::MuteParticipant,
            "unmuteparticipantoperation" => OperationKind::UnmuteParticipant,
            "startholdmusicoperation" => OperationKind::StartHoldMusic,
            "stopholdmusicoperation" => OperationKind::StopHoldMusic,
            "updaterecordingstatusoperation" => OperationKind::UpdateRecordingStatus,
            "addlargegalleryviewoperation" => OperationKind::AddLargeGalleryView,
            _ => OperationKind::Unknown,
        }
    }
}

/// Graph's `operationStatus` (PascalCase in the schema, lower case on the wire).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum OperationStatus {
    NotStarted,
    Running,
    Completed,
    Failed,
    Unknown,
}

impl OperationStatus {
    pub fn from_graph(value: &str) -> Self {
        match value.to_ascii_lowercase().as_str() {
            "notstarted" => OperationStatus::NotStarted,
            "running" => OperationStatus::Running,
            "completed" => OperationStatus::Completed,
            "failed" => OperationStatus::Failed,
            _ => OperationStatus::Unknown,
        }
    }

    pub fn is_final(self) -> bool {
        matches!(self, OperationStatus::Completed | OperationStatus::Failed)
    }
}

/// A long-running operation finished.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperationCompleted {
    pub operation_id: String,
    pub kind: OperationKind,
    pub status: OperationStatus,
    pub client_context: Option<String>,
    pub result: Option<ResultInfo>,
    pub recording_location: Option<String>,
    pub recording_access_token: Option<String>,
    pub completion_reason: Option<String>,
}

/// One participant of a group call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Participant {
    pub participant_id: String,
    pub identity: Identity,
    pub is_muted: bool,
    pub in_lobby: bool,
    pub is_self: bool,
}

/// The roster changed.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ParticipantsChanged {
    pub joined: Vec<Participant>,
    pub left: Vec<Participant>,
    pub updated: Vec<Participant>,
    pub sequence_number: Option<i64>,
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum CallEventKind {
    IncomingCall(IncomingCall),
    StateChanged(StateChanged),
    ToneReceived(ToneReceived),
    OperationCompleted(OperationCompleted),
    ParticipantsChanged(ParticipantsChanged),
    Other {
        resource_type: Option<String>,
    },
    /// A timer of the call fired.
    TimerFired(crate::TimerFired),
    /// A tone collection ended.
    TonesCollected(crate::TonesCollected),
}

/// One event of a call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallEvent {
    pub kind: CallEventKind,
    pub change_type: ChangeType,
    pub resource_url: String,
    /// `resourceData` as Graph sent it (`null` when absent).
    pub raw: String,
}

/// The call an event belongs to, as the host knows it when the event is delivered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallContext {
    pub call_id: String,
    pub direction: super::CallDirection,
    pub tenant_id: Option<String>,
    pub state: CallState,
    pub my_participant_id: Option<String>,
    pub bot_app_id: String,
    pub created_by_plugin: bool,
}

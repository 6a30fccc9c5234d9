//! Long-running operations (`commsOperation` and its subtypes).

use serde::Deserialize;

use super::identity::InvitationParticipantInfo;
use super::lenient::{ResultInfo, odata_type_name};

/// Graph's `commsOperation` with the extra fields of every subtype, which differ only by
/// those fields (`recordOperation`, `sendDtmfTonesOperation`, `inviteParticipantsOperation`, …).
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct CommsOperation {
    #[serde(rename = "@odata.type")]
    pub odata_type: Option<String>,
    pub id: Option<String>,
    pub client_context: Option<String>,
    /// `notStarted`, `running`, `completed`, `failed` in any letter case.
    pub status: Option<String>,
    pub result_info: Option<ResultInfo>,
    /// `recordOperation`: where to fetch the recording.
    pub recording_location: Option<String>,
    /// `recordOperation`: bearer token for `recording_location`.
    pub recording_access_token: Option<String>,
    /// `sendDtmfTonesOperation` (and `recordOperation` in examples).
    pub completion_reason: Option<String>,
    /// `inviteParticipantsOperation`: the invitees.
    pub participants: Option<Vec<InvitationParticipantInfo>>,
}

impl CommsOperation {
    /// The bare subtype name, for example `playPromptOperation`.
    pub fn type_name(&self) -> Option<&str> {
        self.odata_type
            .as_deref()
            .map(odata_type_name)
            .filter(|t| !t.is_empty())
    }
}

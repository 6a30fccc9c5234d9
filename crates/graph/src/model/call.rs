//! The `call` resource and the smaller types it carries.

use serde::{Deserialize, Deserializer};
use serde_json::Value;

use super::identity::{IdentitySet, InvitationParticipantInfo, ParticipantInfo};
use super::lenient::{ResultInfo, lenient_i64, null_default, odata_kind};
use callhost_call::{CallDirection, CallState};

/// Graph's `call` (an open type). Notifications often carry only a few of these fields, for
/// example just `state`, or `state` and `toneInfo`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Call {
    #[serde(rename = "@odata.type")]
    pub odata_type: Option<String>,
    pub id: Option<String>,
    /// `incoming`, `establishing`, `established`, … as Graph sent it; see [`Call::state`].
    pub state: Option<String>,
    /// `incoming` or `outgoing`; see [`Call::direction`].
    pub direction: Option<String>,
    pub callback_uri: Option<String>,
    pub call_chain_id: Option<String>,
    pub my_participant_id: Option<String>,
    pub tenant_id: Option<String>,
    pub subject: Option<String>,
    pub source: Option<ParticipantInfo>,
    #[serde(deserialize_with = "null_default")]
    pub targets: Vec<InvitationParticipantInfo>,
    #[serde(deserialize_with = "null_default")]
    pub requested_modalities: Vec<String>,
    #[serde(deserialize_with = "null_default")]
    pub active_modalities: Vec<String>,
    pub media_config: Option<MediaConfig>,
    pub media_state: Option<CallMediaState>,
    pub chat_info: Option<ChatInfo>,
    pub meeting_info: Option<MeetingInfo>,
    pub result_info: Option<ResultInfo>,
    pub tone_info: Option<ToneInfo>,
    /// Not in the v1 schema; seen as `AppTransferred` or `CallTerminated`.
    pub termination_reason: Option<String>,
    /// Not in the v1 schema; PSTN redirects report who picked up.
    pub answered_by: Option<ParticipantInfo>,
    pub incoming_context: Option<IncomingContext>,
    #[serde(deserialize_with = "null_default")]
    pub call_routes: Vec<CallRoute>,
}

impl Call {
    /// The call state, in any letter case; `None` when the resource carries no state.
    pub fn state(&self) -> Option<CallState> {
        self.state.as_deref().map(CallState::from_graph)
    }

    /// The call direction; `None` when absent or not a known value.
    pub fn direction(&self) -> Option<CallDirection> {
        match self.direction.as_deref()?.to_ascii_lowercase().as_str() {
            "incoming" => Some(CallDirection::Incoming),
            "outgoing" => Some(CallDirection::Outgoing),
            _ => None,
        }
    }

    /// The tenant hosting the call.
    pub fn tenant_id(&self) -> Option<&str> {
        non_empty(&self.tenant_id)
    }

    /// Where Graph posts this call's notifications.
    pub fn callback_uri(&self) -> Option<&str> {
        non_empty(&self.callback_uri)
    }

    /// The bot's own participant id in this call.
    pub fn my_participant_id(&self) -> Option<&str> {
        non_empty(&self.my_participant_id)
    }

    /// The id shared by all legs of one conversation.
    pub fn call_chain_id(&self) -> Option<&str> {
        non_empty(&self.call_chain_id)
    }

    /// Why the call ended, where Graph says so outside `resultInfo`.
    pub fn termination_reason(&self) -> Option<&str> {
        non_empty(&self.termination_reason)
    }
}

fn non_empty(value: &Option<String>) -> Option<&str> {
    value.as_deref().filter(|v| !v.trim().is_empty())
}

/// Graph's `chatInfo`: the Teams chat thread of a meeting.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ChatInfo {
    pub thread_id: Option<String>,
    pub message_id: Option<String>,
    pub reply_chain_message_id: Option<String>,
}

/// Graph's `organizerMeetingInfo`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct OrganizerMeetingInfo {
    pub organizer: Option<IdentitySet>,
    /// Not in the v1 schema; the docs send it.
    pub allow_conversation_without_host: Option<bool>,
}

/// Graph's `tokenMeetingInfo`: arrives on incoming calls and can be used to rejoin.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct TokenMeetingInfo {
    pub token: Option<String>,
}

/// Graph's `joinMeetingIdMeetingInfo`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct JoinMeetingIdMeetingInfo {
    pub join_meeting_id: Option<String>,
    pub passcode: Option<String>,
}

/// Graph's abstract `meetingInfo`, dispatched on `@odata.type` (with or without `#`), or on
/// the fields present when the type is missing.
#[derive(Debug, Clone, PartialEq)]
pub enum MeetingInfo {
    Organizer(OrganizerMeetingInfo),
    Token(TokenMeetingInfo),
    JoinMeetingId(JoinMeetingIdMeetingInfo),
    /// A kind this version does not know, kept as sent.
    Unknown(Value),
}

impl<'de> Deserialize<'de> for MeetingInfo {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        let kind = odata_kind(&value).or_else(|| {
            let has = |field| value.get(field).is_some();
            let kind = if has("organizer") {
                "organizermeetinginfo"
            } else if has("token") {
                "tokenmeetinginfo"
            } else if has("joinMeetingId") {
                "joinmeetingidmeetinginfo"
            } else {
                return None;
            };
            Some(kind.to_owned())
        });
        let typed = match kind.as_deref() {
            Some("organizermeetinginfo") => {
                serde_json::from_value(value.clone()).map(Self::Organizer)
            }
            Some("tokenmeetinginfo") => serde_json::from_value(value.clone()).map(Self::Token),
            Some("joinmeetingidmeetinginfo") => {
                serde_json::from_value(value.clone()).map(Self::JoinMeetingId)
            }
            _ => return Ok(Self::Unknown(value)),
        };
        // A known type whose fields do not fit is kept as sent rather than failing the call.
        Ok(typed.unwrap_or(Self::Unknown(value)))
    }
}

/// Graph's `mediaInfo`: an audio file (WAV, mono, 16-bit, 16 kHz).
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct MediaInfo {
    pub uri: Option<String>,
    pub resource_id: Option<String>,
}

/// Graph's `mediaPrompt`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct MediaPrompt {
    #[serde(rename = "@odata.type")]
    pub odata_type: Option<String>,
    pub media_info: Option<MediaInfo>,
}

/// Graph's abstract `mediaConfig`.
#[derive(Debug, Clone, PartialEq)]
pub enum MediaConfig {
    ServiceHosted { pre_fetch_media: Vec<MediaInfo> },
    AppHosted { blob: Option<String> },
    Unknown(Value),
}

impl<'de> Deserialize<'de> for MediaConfig {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Fields {
            #[serde(default, deserialize_with = "null_default")]
            pre_fetch_media: Vec<MediaInfo>,
            #[serde(default)]
            blob: Option<String>,
        }
        let value = Value::deserialize(deserializer)?;
        let kind = odata_kind(&value).or_else(|| {
            let kind = if value.get("blob").is_some() {
                "apphostedmediaconfig"
            } else {
                "servicehostedmediaconfig"
            };
            value.is_object().then(|| kind.to_owned())
        });
        let service = matches!(kind.as_deref(), Some("servicehostedmediaconfig"));
        let app = matches!(kind.as_deref(), Some("apphostedmediaconfig"));
        if !service && !app {
            return Ok(Self::Unknown(value));
        }
        let Ok(fields) = serde_json::from_value::<Fields>(value.clone()) else {
            return Ok(Self::Unknown(value));
        };
        Ok(if service {
            Self::ServiceHosted {
                pre_fetch_media: fields.pre_fetch_media,
            }
        } else {
            Self::AppHosted { blob: fields.blob }
        })
    }
}

/// Graph's `toneInfo`: the last DTMF key pressed.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ToneInfo {
    /// Increases with each key press; orders them.
    #[serde(deserialize_with = "lenient_i64")]
    pub sequence_id: Option<i64>,
    /// `tone0`…`tone9`, `star`, `pound`, `a`…`d`, `flash`.
    pub tone: Option<String>,
}

/// Graph's `callMediaState`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct CallMediaState {
    /// `active`, `inactive`.
    pub audio: Option<String>,
}

/// Graph's `incomingContext`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct IncomingContext {
    pub source_participant_id: Option<String>,
    pub observed_participant_id: Option<String>,
    pub on_behalf_of: Option<IdentitySet>,
    pub transferor: Option<IdentitySet>,
}

/// Graph's `callRoute`: how a call was retargeted.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct CallRoute {
    #[serde(rename = "final")]
    pub final_: Option<IdentitySet>,
    pub original: Option<IdentitySet>,
    pub routing_type: Option<String>,
}

//! Parties, media and states of a call.

use serde::{Deserialize, Serialize};

/// What kind of party an [`Identity`] names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum IdentityKind {
    User,
    Application,
    ApplicationInstance,
    Phone,
    Guest,
    Encrypted,
    Unknown,
}

impl IdentityKind {
    /// The kind as configuration and WIT write it: `user`, `application-instance`, …
    pub fn as_str(self) -> &'static str {
        match self {
            IdentityKind::User => "user",
            IdentityKind::Application => "application",
            IdentityKind::ApplicationInstance => "application-instance",
            IdentityKind::Phone => "phone",
            IdentityKind::Guest => "guest",
            IdentityKind::Encrypted => "encrypted",
            IdentityKind::Unknown => "unknown",
        }
    }

    /// The kind a party can be reached as, by the name configuration writes (`user`,
    /// `application`, `application-instance`, `phone`, `guest`); `None` for any other name.
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "user" => IdentityKind::User,
            "application" => IdentityKind::Application,
            "application-instance" => IdentityKind::ApplicationInstance,
            "phone" => IdentityKind::Phone,
            "guest" => IdentityKind::Guest,
            _ => return None,
        })
    }

    /// The key of this kind in Graph's `identitySet` (`applicationInstance`, …); `None` for a
    /// kind Graph cannot be asked to reach.
    pub fn identity_set_key(self) -> Option<&'static str> {
        Some(match self {
            IdentityKind::User => "user",
            IdentityKind::Application => "application",
            IdentityKind::ApplicationInstance => "applicationInstance",
            IdentityKind::Phone => "phone",
            IdentityKind::Guest => "guest",
            IdentityKind::Encrypted => "encrypted",
            IdentityKind::Unknown => return None,
        })
    }
}

/// One party of a call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    pub kind: IdentityKind,
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<String>,
}

impl std::str::FromStr for Identity {
    type Err = String;

    /// Parses `kind:id` (`user:…`, `application:…`, `application-instance:…`, `phone:…`,
    /// `guest:…`), as configuration, scenarios and the admin API write identities.
    fn from_str(text: &str) -> Result<Self, String> {
        let (kind, id) = text.split_once(':').ok_or_else(|| {
            format!(
                "`{text}` is not of the form kind:id (for example user:<object id> or phone:+14255550100)"
            )
        })?;
        let kind = IdentityKind::from_name(kind).ok_or_else(|| {
            format!(
                "`{text}`: unknown kind `{kind}`; use user, application, application-instance, phone or guest"
            )
        })?;
        if id.is_empty() {
            return Err(format!("`{text}` has an empty id"));
        }
        Ok(Identity::new(kind, id))
    }
}

impl Identity {
    pub fn new(kind: IdentityKind, id: impl Into<String>) -> Self {
        Self {
            kind,
            id: id.into(),
            display_name: None,
            tenant_id: None,
        }
    }

    pub fn user(id: impl Into<String>) -> Self {
        Self::new(IdentityKind::User, id)
    }

    pub fn phone(number: impl Into<String>) -> Self {
        Self::new(IdentityKind::Phone, number)
    }

    pub fn application(id: impl Into<String>) -> Self {
        Self::new(IdentityKind::Application, id)
    }
}

/// A media kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Modality {
    Audio,
    Video,
    VideoBasedScreenSharing,
    Data,
}

impl Modality {
    /// The Graph enum value (`audio`, `videoBasedScreenSharing`, …).
    pub fn as_graph(self) -> &'static str {
        match self {
            Modality::Audio => "audio",
            Modality::Video => "video",
            Modality::VideoBasedScreenSharing => "videoBasedScreenSharing",
            Modality::Data => "data",
        }
    }
}

/// Where a call is in its life. Ordered by how far along a call is, so a stale state can be
/// recognised (`Establishing < Established`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum CallState {
    Incoming,
    Establishing,
    Established,
    Hold,
    Transferring,
    TransferAccepted,
    Redirecting,
    Terminating,
    Terminated,
    Unknown,
}

impl CallState {
    /// Graph's name of the state (`established`, `transferAccepted`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            CallState::Incoming => "incoming",
            CallState::Establishing => "establishing",
            CallState::Established => "established",
            CallState::Hold => "hold",
            CallState::Transferring => "transferring",
            CallState::TransferAccepted => "transferAccepted",
            CallState::Redirecting => "redirecting",
            CallState::Terminating => "terminating",
            CallState::Terminated => "terminated",
            CallState::Unknown => "unknown",
        }
    }

    /// Parses Graph's `callState`, in any letter case; unknown values map to `Unknown`.
    pub fn from_graph(value: &str) -> Self {
        match value.to_ascii_lowercase().as_str() {
            "incoming" => CallState::Incoming,
            "establishing" => CallState::Establishing,
            "established" => CallState::Established,
            "hold" => CallState::Hold,
            "transferring" => CallState::Transferring,
            "transferaccepted" => CallState::TransferAccepted,
            "redirecting" => CallState::Redirecting,
            "terminating" => CallState::Terminating,
            "terminated" => CallState::Terminated,
            _ => CallState::Unknown,
        }
    }

    pub fn is_final(self) -> bool {
        self == CallState::Terminated
    }
}

/// Who placed the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum CallDirection {
    Incoming,
    Outgoing,
}

/// Graph's outcome of a call or operation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResultInfo {
    pub code: i32,
    pub subcode: i32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// A DTMF key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Tone {
    Tone0,
    Tone1,
    Tone2,
    Tone3,
    Tone4,
    Tone5,
    Tone6,
    Tone7,
    Tone8,
    Tone9,
    Star,
    Pound,
    A,
    B,
    C,
    D,
    Flash,
}

impl Tone {
    const ALL: [(Tone, &'static str, char); 17] = [
        (Tone::Tone0, "tone0", '0'),
        (Tone::Tone1, "tone1", '1'),
        (Tone::Tone2, "tone2", '2'),
        (Tone::Tone3, "tone3", '3'),
        (Tone::Tone4, "tone4", '4'),
        (Tone::Tone5, "tone5", '5'),
        (Tone::Tone6, "tone6", '6'),
        (Tone::Tone7, "tone7", '7'),
        (Tone::Tone8, "tone8", '8'),
        (Tone::Tone9, "tone9", '9'),
        (Tone::Star, "star", '*'),
        (Tone::Pound, "pound", '#'),
        (Tone::A, "a", 'A'),
        (Tone::B, "b", 'B'),
        (Tone::C, "c", 'C'),
        (Tone::D, "d", 'D'),
        (Tone::Flash, "flash", '!'),
    ];

    /// The Graph enum value (`tone1`, `star`, `pound`, …).
    pub fn as_graph(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(t, _, _)| *t == self)
            .map(|(_, s, _)| *s)
            .unwrap_or("flash")
    }

    /// Parses Graph's `tone`, in any letter case.
    pub fn from_graph(value: &str) -> Option<Self> {
        Self::ALL
            .iter()
            .find(|(_, s, _)| s.eq_ignore_ascii_case(value))
            .map(|(t, _, _)| *t)
    }

    /// The key as a person writes it: `0`–`9`, `*`, `#`, `A`–`D`, `!` for flash.
    pub fn as_char(self) -> char {
        Self::ALL
            .iter()
            .find(|(t, _, _)| *t == self)
            .map(|(_, _, c)| *c)
            .unwrap_or('!')
    }

    /// Parses a key as a person writes it (`1`, `*`, `#`, `a`…).
    pub fn from_char(key: char) -> Option<Self> {
        let key = key.to_ascii_uppercase();
        Self::ALL
            .iter()
            .find(|(_, _, c)| *c == key)
            .map(|(t, _, _)| *t)
    }
}

/// An audio prompt (WAV, mono, 16-bit, 16 kHz).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MediaPrompt {
    pub uri: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_id: Option<String>,
}

impl MediaPrompt {
    pub fn new(uri: impl Into<String>) -> Self {
        Self {
            uri: uri.into(),
            resource_id: None,
        }
    }
}

/// The Teams chat thread of a meeting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatInfo {
    pub thread_id: String,
    pub message_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_chain_message_id: Option<String>,
}

/// How a meeting is identified.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum MeetingInfo {
    Organizer(Identity),
    Token(String),
    JoinMeetingId {
        join_meeting_id: String,
        passcode: Option<String>,
    },
}

/// The meeting an incoming call invites the bot into.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct MeetingInvite {
    pub chat: Option<ChatInfo>,
    pub meeting: Option<MeetingInfo>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tones_round_trip_through_graph_names_and_keys() {
        for (tone, name, key) in Tone::ALL {
            assert_eq!(tone.as_graph(), name);
            assert_eq!(Tone::from_graph(&name.to_uppercase()), Some(tone));
            assert_eq!(tone.as_char(), key);
            assert_eq!(Tone::from_char(key), Some(tone));
        }
        assert_eq!(Tone::from_graph("tone10"), None);
    }

    #[test]
    fn call_states_parse_in_any_case() {
        assert_eq!(
            CallState::from_graph("TransferAccepted"),
            CallState::TransferAccepted
        );
        assert_eq!(CallState::from_graph("established"), CallState::Established);
        assert_eq!(CallState::from_graph("ringing"), CallState::Unknown);
    }
}

//! What each call-control function is, in one table: its WIT name, what it returns, whether it
//! may be repeated, whether it decides an incoming call, and whether plugins get it by default.
//! Policies, the Graph output mapping and the dispatcher read these rows; a new function is one
//! new variant, and the compiler points at every row to fill.

use super::event::OperationKind;

/// A call-control function (and the host's own keep-alive).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ActionKind {
    Answer,
    Reject,
    Redirect,
    Transfer,
    HangUp,
    JoinMeeting,
    PlaceCall,
    PlayPrompt,
    RecordResponse,
    SubscribeToTone,
    SendDtmfTones,
    CancelMediaProcessing,
    Mute,
    Unmute,
    MuteParticipant,
    InviteParticipants,
    StartHoldMusic,
    StopHoldMusic,
    /// Not a plugin function: the host keeps established calls alive.
    KeepAlive,
}

/// What a successful action gives the workflow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Returns {
    Nothing,
    /// The id of the call it created.
    CallId,
    /// The id of the long-running operation it started; an `operation-completed` follows.
    OperationId(OperationKind),
}

impl ActionKind {
    pub const ALL: [ActionKind; 19] = {
        use ActionKind::*;
        [
            Answer,
            Reject,
            Redirect,
            Transfer,
            HangUp,
            JoinMeeting,
            PlaceCall,
            PlayPrompt,
            RecordResponse,
            SubscribeToTone,
            SendDtmfTones,
            CancelMediaProcessing,
            Mute,
            Unmute,
            MuteParticipant,
            InviteParticipants,
            StartHoldMusic,
            StopHoldMusic,
            KeepAlive,
        ]
    };

    /// The request Graph receives for it, by Graph's action name (`answer`, `hangUp`,
    /// `createCall` for a joined meeting or a placed call, …), as scenarios and the
    /// simulator name requests.
    pub fn graph_request(self) -> &'static str {
        use ActionKind::*;
        match self {
            Answer => "answer",
            Reject => "reject",
            Redirect => "redirect",
            Transfer => "transfer",
            HangUp => "hangUp",
            JoinMeeting | PlaceCall => "createCall",
            PlayPrompt => "playPrompt",
            RecordResponse => "recordResponse",
            SubscribeToTone => "subscribeToTone",
            SendDtmfTones => "sendDtmfTones",
            CancelMediaProcessing => "cancelMediaProcessing",
            Mute => "mute",
            Unmute => "unmute",
            MuteParticipant => "muteParticipant",
            InviteParticipants => "invite",
            StartHoldMusic => "startHoldMusic",
            StopHoldMusic => "stopHoldMusic",
            KeepAlive => "keepAlive",
        }
    }

    /// The WIT function name, as used in capability policies and logs.
    pub fn name(self) -> &'static str {
        use ActionKind::*;
        match self {
            Answer => "answer",
            Reject => "reject",
            Redirect => "redirect",
            Transfer => "transfer",
            HangUp => "hang-up",
            JoinMeeting => "join-meeting",
            PlaceCall => "place-call",
            PlayPrompt => "play-prompt",
            RecordResponse => "record-response",
            SubscribeToTone => "subscribe-to-tone",
            SendDtmfTones => "send-dtmf-tones",
            CancelMediaProcessing => "cancel-media-processing",
            Mute => "mute",
            Unmute => "unmute",
            MuteParticipant => "mute-participant",
            InviteParticipants => "invite-participants",
            StartHoldMusic => "start-hold-music",
            StopHoldMusic => "stop-hold-music",
            KeepAlive => "keep-alive",
        }
    }

    /// What the workflow gets back.
    pub fn returns(self) -> Returns {
        use ActionKind::*;
        match self {
            JoinMeeting | PlaceCall => Returns::CallId,
            PlayPrompt => Returns::OperationId(OperationKind::PlayPrompt),
            RecordResponse => Returns::OperationId(OperationKind::RecordResponse),
            SendDtmfTones => Returns::OperationId(OperationKind::SendDtmfTones),
            MuteParticipant => Returns::OperationId(OperationKind::MuteParticipant),
            InviteParticipants => Returns::OperationId(OperationKind::InviteParticipants),
            StartHoldMusic => Returns::OperationId(OperationKind::StartHoldMusic),
            StopHoldMusic => Returns::OperationId(OperationKind::StopHoldMusic),
            Answer
            | Reject
            | Redirect
            | Transfer
            | HangUp
            | SubscribeToTone
            | CancelMediaProcessing
            | Mute
            | Unmute
            | KeepAlive => Returns::Nothing,
        }
    }

    /// Whether repeating the request after a lost response is harmless. Graph has no
    /// idempotency key, so a non-idempotent action is never retried blindly after a timeout.
    pub fn is_idempotent(self) -> bool {
        use ActionKind::*;
        match self {
            HangUp
            | KeepAlive
            | SubscribeToTone
            | CancelMediaProcessing
            | Mute
            | Unmute
            | MuteParticipant => true,
            Answer | Reject | Redirect | Transfer | JoinMeeting | PlaceCall | PlayPrompt
            | RecordResponse | SendDtmfTones | InviteParticipants | StartHoldMusic
            | StopHoldMusic => false,
        }
    }

    /// Whether it decides an incoming call (so that no fallback is needed).
    pub fn decides_incoming_call(self) -> bool {
        use ActionKind::*;
        match self {
            Answer | Reject | Redirect => true,
            Transfer
            | HangUp
            | JoinMeeting
            | PlaceCall
            | PlayPrompt
            | RecordResponse
            | SubscribeToTone
            | SendDtmfTones
            | CancelMediaProcessing
            | Mute
            | Unmute
            | MuteParticipant
            | InviteParticipants
            | StartHoldMusic
            | StopHoldMusic
            | KeepAlive => false,
        }
    }

    /// Whether plugins may call it: every function but the host's keep-alive.
    pub fn is_plugin_function(self) -> bool {
        self != ActionKind::KeepAlive
    }

    /// Whether a plugin whose policy does not say may use it: not placing calls or joining
    /// meetings, which are opt-in.
    pub fn allowed_by_default(self) -> bool {
        use ActionKind::*;
        match self {
            JoinMeeting | PlaceCall | KeepAlive => false,
            Answer
            | Reject
            | Redirect
            | Transfer
            | HangUp
            | PlayPrompt
            | RecordResponse
            | SubscribeToTone
            | SendDtmfTones
            | CancelMediaProcessing
            | Mute
            | Unmute
            | MuteParticipant
            | InviteParticipants
            | StartHoldMusic
            | StopHoldMusic => true,
        }
    }

    /// Every function of `call-control` (all but the host's keep-alive).
    pub fn plugin_functions() -> impl Iterator<Item = ActionKind> {
        Self::ALL
            .into_iter()
            .filter(|kind| kind.is_plugin_function())
    }

    /// The plugin function named `name` (its WIT name).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::plugin_functions().find(|kind| kind.name() == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_round_trip() {
        let mut names: Vec<&str> = ActionKind::ALL.iter().map(|k| k.name()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), ActionKind::ALL.len());
        for kind in ActionKind::ALL
            .into_iter()
            .filter(|k| k.is_plugin_function())
        {
            assert_eq!(ActionKind::from_name(kind.name()), Some(kind));
        }
        assert_eq!(ActionKind::from_name("keep-alive"), None);
    }

    #[test]
    fn every_wit_function_has_a_row() {
        let wit = include_str!("../../../wit/call-control.wit");
        // Host helpers: carried out by the host as several of the requests below, each checked
        // against the policy by its own name.
        let helpers = ["collect-tones", "cancel-collect-tones"];
        let functions: Vec<&str> = wit
            .lines()
            .filter_map(|line| line.trim().split_once(": func("))
            .map(|(name, _)| name)
            .filter(|name| !helpers.contains(name))
            .collect();
        let plugin: Vec<&str> = ActionKind::ALL
            .into_iter()
            .filter(|k| k.is_plugin_function())
            .map(|k| k.name())
            .collect();
        assert_eq!(
            functions, plugin,
            "wit/call-control.wit and ActionKind::ALL differ"
        );
    }
}

//! The WIT names of enum cases, both ways. One list per enum makes the names and the parser
//! agree, and the `match` makes the compiler check that every case has a name.

use crate::bindings::callhost::workflow::call_control::RejectReason;
use crate::bindings::callhost::workflow::types::{
    CallDirection, CallState, ChangeType, CollectEnd, IdentityKind, Modality, OperationKind,
    OperationStatus, Tone,
};

pub trait WitEnum: Sized + Copy {
    /// Every case name, in WIT order.
    const NAMES: &'static [&'static str];

    fn wit_name(self) -> &'static str;

    fn from_wit_name(name: &str) -> Option<Self>;
}

macro_rules! wit_enum {
    ($ty:ident { $($case:ident => $name:literal),+ $(,)? }) => {
        impl WitEnum for $ty {
            const NAMES: &'static [&'static str] = &[$($name),+];

            fn wit_name(self) -> &'static str {
                match self {
                    $($ty::$case => $name),+
                }
            }

            fn from_wit_name(name: &str) -> Option<Self> {
                match name {
                    $($name => Some($ty::$case),)+
                    _ => None,
                }
            }
        }
    };
}

wit_enum!(IdentityKind {
    User => "user",
    Application => "application",
    ApplicationInstance => "application-instance",
    Phone => "phone",
    Guest => "guest",
    Encrypted => "encrypted",
    Unknown => "unknown",
});

wit_enum!(Modality {
    Audio => "audio",
    Video => "video",
    VideoBasedScreenSharing => "video-based-screen-sharing",
    Data => "data",
});

wit_enum!(CallState {
    Incoming => "incoming",
    Establishing => "establishing",
    Established => "established",
    Hold => "hold",
    Transferring => "transferring",
    TransferAccepted => "transfer-accepted",
    Redirecting => "redirecting",
    Terminating => "terminating",
    Terminated => "terminated",
    Unknown => "unknown",
});

wit_enum!(CollectEnd {
    Complete => "complete",
    Terminator => "terminator",
    Timeout => "timeout",
    InterDigitTimeout => "inter-digit-timeout",
    TriesExhausted => "tries-exhausted",
    Failed => "failed",
});

wit_enum!(CallDirection {
    Incoming => "incoming",
    Outgoing => "outgoing",
});

wit_enum!(Tone {
    Zero => "zero",
    One => "one",
    Two => "two",
    Three => "three",
    Four => "four",
    Five => "five",
    Six => "six",
    Seven => "seven",
    Eight => "eight",
    Nine => "nine",
    Star => "star",
    Pound => "pound",
    A => "a",
    B => "b",
    C => "c",
    D => "d",
    Flash => "flash",
});

wit_enum!(OperationKind {
    PlayPrompt => "play-prompt",
    RecordResponse => "record-response",
    SendDtmfTones => "send-dtmf-tones",
    SubscribeToTone => "subscribe-to-tone",
    CancelMediaProcessing => "cancel-media-processing",
    InviteParticipants => "invite-participants",
    MuteParticipant => "mute-participant",
    UnmuteParticipant => "unmute-participant",
    StartHoldMusic => "start-hold-music",
    StopHoldMusic => "stop-hold-music",
    UpdateRecordingStatus => "update-recording-status",
    AddLargeGalleryView => "add-large-gallery-view",
    Unknown => "unknown",
});

wit_enum!(OperationStatus {
    NotStarted => "not-started",
    Running => "running",
    Completed => "completed",
    Failed => "failed",
    Unknown => "unknown",
});

wit_enum!(ChangeType {
    Created => "created",
    Updated => "updated",
    Deleted => "deleted",
    Unknown => "unknown",
});

wit_enum!(RejectReason {
    None => "none",
    Busy => "busy",
    Forbidden => "forbidden",
});

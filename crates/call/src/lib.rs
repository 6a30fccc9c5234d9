//! The call domain: who is in a call, what happens to it, and what a workflow asks for.
//!
//! These types sit between Graph's wire model (`graph`) and the WIT bindings (`runtime`): the
//! dispatcher turns notifications into [`CallEvent`]s, plugins' call-control calls arrive as
//! [`CallAction`]s, and the Graph client turns actions into requests.

mod action;
mod action_kind;
mod control;
mod error;
mod event;
mod exchange;
mod identity;
mod pattern;
pub mod policy;
pub mod timer;

pub use action::{
    ActionOutput, AnswerOptions, CallAction, Invitee, JoinMeeting, MeetingRef, PlaceCall,
    RecordOptions, RejectReason, TransferRequest, Transferee,
};
pub use action_kind::{ActionKind, Returns};
pub use control::{ActionOrigin, CallControl, HOST_ORIGIN};
pub use error::CallError;
pub use event::{
    CallContext, CallEvent, CallEventKind, ChangeType, IncomingCall, OperationCompleted,
    OperationKind, OperationStatus, Participant, ParticipantsChanged, StateChanged, ToneReceived,
};
pub use exchange::{ExchangeLog, GraphExchange, HttpExchange};
pub use identity::{
    CallDirection, CallState, ChatInfo, Identity, IdentityKind, MediaPrompt, MeetingInfo,
    MeetingInvite, Modality, ResultInfo, Tone,
};
pub use pattern::IdentityPattern;
pub use timer::{
    CollectEnd, CollectTones, HOST_TIMER_PREFIX, MAX_TIMERS_PER_CALL, TimerFired, TimerRequest,
    TonesCollected, timer_problem,
};

//! What happens to an incoming call its plugin did not decide on within the route's budget.

use super::route_config::FallbackConfig;
use crate::call::{AnswerOptions, CallAction, Identity, MediaPrompt, Modality, RejectReason};

/// A route's fallback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fallback {
    Reject(RejectReason),
    Redirect(Vec<Identity>),
    /// Answer, play the prompt, hang up when it finished.
    Announce(MediaPrompt),
}

impl Default for Fallback {
    fn default() -> Self {
        Fallback::Reject(RejectReason::Busy)
    }
}

/// Client context of the fallback's prompt, to recognise its completion.
pub(crate) const ANNOUNCE_CONTEXT: &str = "callhost-fallback-announce";

impl Fallback {
    pub fn from_config(config: &FallbackConfig) -> Result<Self, String> {
        Ok(match config {
            FallbackConfig::Reject { reason } => Fallback::Reject(*reason),
            FallbackConfig::Redirect { targets } => Fallback::Redirect(
                targets
                    .iter()
                    .map(|t| t.parse::<Identity>())
                    .collect::<Result<_, _>>()?,
            ),
            FallbackConfig::Announce { prompt } => Fallback::Announce(MediaPrompt::new(prompt)),
        })
    }

    /// The first action of the fallback on `call_id`.
    pub(crate) fn first_action(&self, call_id: &str) -> CallAction {
        let call_id = call_id.to_string();
        match self {
            Fallback::Reject(reason) => CallAction::Reject {
                call_id,
                reason: *reason,
            },
            Fallback::Redirect(targets) => CallAction::Redirect {
                call_id,
                targets: targets.clone(),
                timeout_seconds: None,
            },
            Fallback::Announce(prompt) => CallAction::Answer {
                call_id,
                options: AnswerOptions {
                    modalities: vec![Modality::Audio],
                    prefetch: vec![prompt.clone()],
                },
            },
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Fallback::Reject(_) => "reject",
            Fallback::Redirect(_) => "redirect",
            Fallback::Announce(_) => "announce",
        }
    }
}

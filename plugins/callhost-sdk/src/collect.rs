//! [`Collect`]: what [`crate::Call::collect_tones`] asks for, with the defaults a menu wants.

use std::time::Duration;

use crate::Prompt;
use crate::types::{CollectEnd, CollectOptions, Tone};

/// A tone collection: a prompt, then keys until `max_digits`, a terminator or a timeout.
///
/// ```ignore
/// call.collect_tones(&Collect::digits(4).prompt(&pin_prompt).terminator(Tone::Pound).tries(3))?;
/// ```
#[derive(Debug, Clone)]
pub struct Collect {
    prompts: Vec<Prompt>,
    max_digits: u32,
    first_digit_timeout: Duration,
    inter_digit_timeout: Duration,
    terminators: Vec<Tone>,
    tries: u32,
    client_context: Option<String>,
}

impl Collect {
    /// Up to `max_digits` keys; 8 s for the first, 3 s between the others, one try.
    pub fn digits(max_digits: u32) -> Self {
        Self {
            prompts: Vec::new(),
            max_digits,
            first_digit_timeout: Duration::from_secs(8),
            inter_digit_timeout: Duration::from_secs(3),
            terminators: Vec::new(),
            tries: 1,
            client_context: None,
        }
    }

    /// Plays `prompt` first, and again on each try (add several for a sequence).
    pub fn prompt(mut self, prompt: &Prompt) -> Self {
        self.prompts.push(prompt.clone());
        self
    }

    /// How long to wait for the first key once the prompt has played.
    pub fn first_digit_timeout(mut self, timeout: Duration) -> Self {
        self.first_digit_timeout = timeout;
        self
    }

    /// How long to wait for each further key.
    pub fn inter_digit_timeout(mut self, timeout: Duration) -> Self {
        self.inter_digit_timeout = timeout;
        self
    }

    /// A key that ends the collection at once (not among the digits).
    pub fn terminator(mut self, tone: Tone) -> Self {
        self.terminators.push(tone);
        self
    }

    /// How many times the prompt is offered while the caller says nothing.
    pub fn tries(mut self, tries: u32) -> Self {
        self.tries = tries;
        self
    }

    /// Echoed in the `tones-collected` event: which collection it was.
    pub fn context(mut self, context: &str) -> Self {
        self.client_context = Some(context.to_owned());
        self
    }

    pub(crate) fn options(&self) -> CollectOptions {
        let ms = |d: Duration| u32::try_from(d.as_millis()).unwrap_or(u32::MAX);
        CollectOptions {
            prompts: self.prompts.iter().map(|p| p.media().clone()).collect(),
            max_digits: self.max_digits,
            first_digit_timeout_ms: ms(self.first_digit_timeout),
            inter_digit_timeout_ms: ms(self.inter_digit_timeout),
            terminators: self.terminators.clone(),
            tries: self.tries,
            client_context: self.client_context.clone(),
        }
    }
}

impl CollectEnd {
    /// Why a collection ended, as the contract names it: `complete`, `terminator`, `timeout`,
    /// `inter-digit-timeout`, `tries-exhausted` or `failed`.
    pub fn as_str(self) -> &'static str {
        match self {
            CollectEnd::Complete => "complete",
            CollectEnd::Terminator => "terminator",
            CollectEnd::Timeout => "timeout",
            CollectEnd::InterDigitTimeout => "inter-digit-timeout",
            CollectEnd::TriesExhausted => "tries-exhausted",
            CollectEnd::Failed => "failed",
        }
    }
}

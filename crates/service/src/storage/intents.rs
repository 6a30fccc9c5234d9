//! How the result of a Graph request is written in its intent, and read back after a restart.

use serde::{Deserialize, Serialize};

use crate::call::{ActionOutput, CallError, OperationKind};

/// What an intent says about a request made before.
#[derive(Debug)]
pub(crate) enum Prior {
    /// Never made: send it.
    New,
    /// Made, and this is what it got: answer with it, do not send again.
    Done {
        result: Result<ActionOutput, String>,
        operation: Option<OperationKind>,
    },
    /// Made, and the process stopped before its answer was stored.
    Unknown,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Stored {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    output: Option<ActionOutput>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    /// The operation the request started, so that its completion maps back after a restart.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    operation: Option<OperationKind>,
}

pub(crate) fn encode_result(
    result: &Result<ActionOutput, CallError>,
    operation: Option<OperationKind>,
) -> String {
    let stored = match result {
        Ok(output) => Stored {
            output: Some(output.clone()),
            error: None,
            operation,
        },
        Err(e) => Stored {
            output: None,
            error: Some(e.to_string()),
            operation: None,
        },
    };
    serde_json::to_string(&stored).unwrap_or_else(|_| "{}".into())
}

/// A stored result; `None` for text this release cannot read (then the outcome is unknown).
pub(crate) fn decode_result(text: &str) -> Option<Prior> {
    let stored: Stored = serde_json::from_str(text).ok()?;
    let result = match (stored.output, stored.error) {
        (Some(output), _) => Ok(output),
        (None, Some(error)) => Err(error),
        (None, None) => return None,
    };
    Some(Prior::Done {
        result,
        operation: stored.operation,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_read_back_as_written() {
        let started = Ok(ActionOutput::OperationId("op-1".into()));
        let text = encode_result(&started, Some(OperationKind::PlayPrompt));
        let Some(Prior::Done { result, operation }) = decode_result(&text) else {
            panic!("{text}");
        };
        assert_eq!(result, Ok(ActionOutput::OperationId("op-1".into())));
        assert_eq!(operation, Some(OperationKind::PlayPrompt));
        let failed = encode_result(&Err(CallError::NotFound), None);
        let Some(Prior::Done { result, .. }) = decode_result(&failed) else {
            panic!("{failed}");
        };
        assert_eq!(result, Err(CallError::NotFound.to_string()));
        assert!(decode_result("{}").is_none());
        assert!(decode_result("not json").is_none());
    }
}

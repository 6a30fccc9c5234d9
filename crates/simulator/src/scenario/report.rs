//! The result of a scenario run: a result per step and per expectation, and the call's
//! timeline; readable as text or as one JSON object per line.

use std::fmt;

use serde::Serialize;
use serde_json::{Value, json};

use callhost::journal::Timeline;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum StepStatus {
    Passed,
    Failed,
    /// Not run: an earlier step failed.
    Skipped,
}

/// How one step or expectation went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StepResult {
    /// `step 3 (press "1")`, `expect.ended`, …
    pub step: String,
    pub status: StepStatus,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub detail: String,
}

impl StepResult {
    pub fn new(step: impl Into<String>, status: StepStatus, detail: impl Into<String>) -> Self {
        Self {
            step: step.into(),
            status,
            detail: detail.into(),
        }
    }
}

/// A scenario run.
#[derive(Debug, Clone)]
pub struct ScenarioReport {
    pub scenario: String,
    pub call_id: Option<String>,
    pub steps: Vec<StepResult>,
    pub timeline: Option<Timeline>,
}

impl ScenarioReport {
    pub(crate) fn new(scenario: &str) -> Self {
        Self {
            scenario: scenario.to_string(),
            call_id: None,
            steps: Vec::new(),
            timeline: None,
        }
    }

    pub(crate) fn push(&mut self, result: StepResult) {
        self.steps.push(result);
    }

    pub fn passed(&self) -> bool {
        self.first_failure().is_none()
    }

    pub fn first_failure(&self) -> Option<&StepResult> {
        self.steps.iter().find(|s| s.status == StepStatus::Failed)
    }

    /// One line saying how it went, naming the first failed step.
    pub fn verdict(&self) -> String {
        match self.first_failure() {
            None => format!(
                "scenario `{}`: passed ({} checks)",
                self.scenario,
                self.steps.len()
            ),
            Some(failed) => format!(
                "scenario `{}` failed at {}: {}",
                self.scenario, failed.step, failed.detail
            ),
        }
    }

    /// The timeline's entries, the step results and the verdict, one JSON object each.
    pub fn json_lines(&self) -> Vec<Value> {
        let mut lines = Vec::new();
        if let Some(timeline) = &self.timeline {
            for entry in &timeline.entries {
                let mut line = json!({ "type": "timeline", "callId": timeline.call_id });
                if let (Some(line), Value::Object(entry)) = (line.as_object_mut(), json!(entry)) {
                    line.extend(entry);
                }
                lines.push(line);
            }
        }
        for step in &self.steps {
            let mut line = json!(step);
            line["type"] = json!("step");
            lines.push(line);
        }
        lines.push(json!({
            "type": "result",
            "scenario": self.scenario,
            "callId": self.call_id,
            "passed": self.passed(),
            "failedStep": self.first_failure().map(|f| &f.step),
        }));
        lines
    }
}

impl fmt::Display for ScenarioReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "scenario: {}", self.scenario)?;
        match &self.timeline {
            Some(timeline) => write!(f, "{timeline}")?,
            None => writeln!(f, "(no timeline: the call never started)")?,
        }
        writeln!(f, "checks:")?;
        for step in &self.steps {
            let mark = match step.status {
                StepStatus::Passed => "ok  ",
                StepStatus::Failed => "FAIL",
                StepStatus::Skipped => "skip",
            };
            write!(f, "  {mark} {}", step.step)?;
            if !step.detail.is_empty() {
                write!(f, ": {}", step.detail)?;
            }
            writeln!(f)?;
        }
        writeln!(f, "{}", self.verdict())
    }
}

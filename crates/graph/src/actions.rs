//! Carries out [`CallAction`]s as Graph requests: build, send, read back the id Graph gave.

use std::sync::Arc;
use std::time::Instant;

use futures::future::BoxFuture;
use serde::Deserialize;
use serde_json::Value;

use super::client::{GraphClient, GraphError, GraphResponse};
use super::model::CommsOperation;
use super::notification::{operation_completed, result_info};
use super::request::{GraphRequest, RequestContext, build};
use callhost_call::{
    ActionOrigin, ActionOutput, CallAction, CallControl, CallError, CallState, ExchangeLog,
    GraphExchange, OperationKind, OperationStatus, Returns,
};

/// The production [`CallControl`]: Microsoft Graph.
#[derive(Clone)]
pub struct GraphActions {
    client: GraphClient,
    context: RequestContext,
    exchanges: Option<Arc<dyn ExchangeLog>>,
}

impl GraphActions {
    pub fn new(client: GraphClient, context: RequestContext) -> Self {
        Self {
            client,
            context,
            exchanges: None,
        }
    }

    /// Hands every request and its answer to `exchanges`, under the call it is about.
    pub fn with_exchange_log(mut self, exchanges: Arc<dyn ExchangeLog>) -> Self {
        self.exchanges = Some(exchanges);
        self
    }

    async fn perform(
        &self,
        origin: &ActionOrigin,
        action: CallAction,
    ) -> Result<ActionOutput, CallError> {
        let request = build(&action, &self.context)?;
        let tenant = origin
            .tenant_id
            .as_deref()
            .or(self.context.default_tenant_id.as_deref());
        let started = Instant::now();
        let result = self
            .client
            .send(tenant, &request, action.is_idempotent())
            .await;
        self.log_exchange(origin, &request, &result, started);
        let response = match result {
            Ok(response) => response,
            Err(GraphError::Timeout { .. }) if !action.is_idempotent() => {
                return self.settle_after_timeout(tenant, &action).await;
            }
            Err(e) => return Err(e.into()),
        };
        output(&action, &response)
    }

    /// Records the exchange under its call; a created call has no id until Graph returns one.
    fn log_exchange(
        &self,
        origin: &ActionOrigin,
        request: &GraphRequest,
        result: &Result<GraphResponse, GraphError>,
        started: Instant,
    ) {
        let Some(exchanges) = &self.exchanges else {
            return;
        };
        let call_id = match (result, origin.call_id.is_empty()) {
            (Ok(response), true) => returned_id(response).unwrap_or_default(),
            _ => origin.call_id.clone(),
        };
        if call_id.is_empty() {
            return;
        }
        let base_url = &self.client.settings().base_url;
        let duration = started.elapsed();
        let exchange = exchange(&origin.plugin_id, base_url, request, result, duration);
        exchanges.exchanged(&call_id, started, exchange);
    }

    /// A non-idempotent request timed out: Graph may or may not have acted. Re-read the call
    /// and report success when its state shows the action took effect, `Timeout` otherwise.
    async fn settle_after_timeout(
        &self,
        tenant: Option<&str>,
        action: &CallAction,
    ) -> Result<ActionOutput, CallError> {
        let Some(call_id) = action.call_id() else {
            return Err(CallError::Timeout);
        };
        let read = GraphRequest::get(format!("/communications/calls/{call_id}"));
        let state = match self.client.send(tenant, &read, true).await {
            Ok(response) => response
                .body
                .as_ref()
                .and_then(|b| b.get("state"))
                .and_then(Value::as_str)
                .map(CallState::from_graph),
            Err(GraphError::Status { status: 404, .. }) => Some(CallState::Terminated),
            Err(_) => None,
        };
        let took_effect = match (action, state) {
            (CallAction::Answer { .. }, Some(s)) => {
                matches!(s, CallState::Establishing | CallState::Established)
            }
            (CallAction::Reject { .. } | CallAction::Redirect { .. }, Some(s)) => {
                s != CallState::Incoming
            }
            (CallAction::Transfer { .. }, Some(s)) => {
                matches!(
                    s,
                    CallState::Transferring | CallState::TransferAccepted | CallState::Terminated
                )
            }
            _ => false,
        };
        tracing::warn!(
            call_id,
            action = action.name(),
            ?state,
            took_effect,
            "Graph did not answer in time; re-read the call"
        );
        if took_effect {
            Ok(ActionOutput::Done)
        } else {
            Err(CallError::Timeout)
        }
    }
}

/// The record of `request`, sent to Graph at `base_url`, and what came of it.
fn exchange(
    origin: &str,
    base_url: &str,
    request: &GraphRequest,
    result: &Result<GraphResponse, GraphError>,
    duration: std::time::Duration,
) -> GraphExchange {
    let base_path = url::Url::parse(base_url)
        .map(|u| u.path().trim_end_matches('/').to_string())
        .unwrap_or_default();
    let error = result.as_ref().err().map(|e| e.to_string());
    let status = match result {
        Ok(response) => Some(response.status),
        Err(GraphError::Status { status, .. }) => Some(*status),
        Err(_) => None,
    };
    GraphExchange {
        origin: origin.to_string(),
        method: request.method.as_str().to_string(),
        path: format!("{base_path}{}", request.path),
        body: request.body.clone(),
        status,
        duration,
        error,
    }
}

/// The id Graph returned: `id` in the body, else the last segment of `Location`.
fn returned_id(response: &GraphResponse) -> Option<String> {
    response
        .body
        .as_ref()
        .and_then(|b| b.get("id"))
        .and_then(Value::as_str)
        .map(str::to_string)
        .or_else(|| {
            response
                .location
                .as_deref()
                .and_then(|l| l.trim_end_matches('/').rsplit('/').next())
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        })
}

/// What the action returns. An operation Graph answers as `failed` is an error; one it answers
/// as `completed` gets no notification, so its completion comes with the output.
fn output(action: &CallAction, response: &GraphResponse) -> Result<ActionOutput, CallError> {
    let kind = match action.kind().returns() {
        Returns::Nothing => None,
        Returns::CallId => {
            return Ok(returned_id(response)
                .map(ActionOutput::CallId)
                .unwrap_or(ActionOutput::Done));
        }
        Returns::OperationId(kind) => Some(kind),
    };
    let operation: Option<CommsOperation> = response
        .body
        .as_ref()
        .and_then(|body| CommsOperation::deserialize(body).ok());
    let status = operation
        .as_ref()
        .and_then(|op| op.status.as_deref())
        .map(OperationStatus::from_graph);
    if status == Some(OperationStatus::Failed) {
        let result = operation.as_ref().and_then(|op| op.result_info.as_ref());
        let result = result.map(result_info);
        return Err(CallError::Upstream {
            status: response.status,
            code: result
                .as_ref()
                .map_or_else(|| "failed".into(), |r| format!("{}/{}", r.code, r.subcode)),
            message: result.and_then(|r| r.message).unwrap_or_else(|| {
                format!("Graph reported the {} operation as failed", action.name())
            }),
        });
    }
    let Some(kind) = kind else {
        return Ok(ActionOutput::Done);
    };
    let Some(id) = returned_id(response) else {
        return Ok(ActionOutput::Done);
    };
    match (status, operation) {
        (Some(OperationStatus::Completed), Some(op)) => {
            let mut completed = operation_completed(&op, Some(&id));
            completed.operation_id = id;
            if completed.kind == OperationKind::Unknown {
                completed.kind = kind;
            }
            Ok(ActionOutput::Finished(completed))
        }
        _ => Ok(ActionOutput::OperationId(id)),
    }
}

impl CallControl for GraphActions {
    fn execute<'a>(
        &'a self,
        origin: &'a ActionOrigin,
        action: CallAction,
    ) -> BoxFuture<'a, Result<ActionOutput, CallError>> {
        Box::pin(self.perform(origin, action))
    }
}

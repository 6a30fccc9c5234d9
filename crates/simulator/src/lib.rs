//! A local Microsoft Graph for tests, scenarios and the demo: the calls API with a state
//! machine per call that follows Graph's documented notification sequences, a token endpoint,
//! and an OpenID configuration with its keys. Notifications use Graph's envelope and are
//! signed with the simulator's own key, so callhost validates them like real ones. Faults can
//! be injected: throttling, server errors, slow answers, duplicate and reordered
//! notifications, a failing token endpoint. For replays it learns calls and ids from recorded
//! notifications, and can stay quiet: answer requests without notifications of its own.

mod api;
mod calls;
mod notify;
mod replay;
pub mod scenario;

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::Value;
use tokio::sync::{Notify, mpsc};

use callhost::call::{Identity, Tone};
pub use callhost_graph::callback_auth::issuer::{CallbackTokenIssuer, ClaimTime, IssueClaims};
use calls::SimCalls;
pub use notify::Notification;

/// The tenant the simulator's calls belong to unless told otherwise.
pub const SIM_TENANT: &str = "11111111-1111-1111-1111-111111111111";

/// How the simulated Graph behaves.
#[derive(Debug, Clone)]
pub struct SimulatorSettings {
    /// The bot's app id: audience of the callback tokens.
    pub bot_app_id: String,
    pub tenant_id: String,
    /// How long a prompt, a recording or DTMF sending takes before it completes.
    pub media_duration: Duration,
    /// Delay between a request and the notifications it causes.
    pub notification_delay: Duration,
    /// A call that gets no keepAlive for this long ends with 408/8537.
    pub keepalive_timeout: Duration,
    /// Whether transfers are accepted by their target (see [`Simulator::set_transfers_succeed`]).
    pub transfers_succeed: bool,
    /// Whether requests and remote-party actions cause notifications. Off, the simulator
    /// only answers requests and delivers what [`Simulator::send_raw`] is given: the quiet
    /// Graph of a replay.
    pub emit_notifications: bool,
    /// How long a notification that got no 2xx (refused, or the bot not listening) is posted
    /// again, as a webhook sender does; zero posts each once.
    pub redeliver_for: Duration,
}

impl Default for SimulatorSettings {
    fn default() -> Self {
        Self {
            bot_app_id: "00000000-0000-0000-0000-000000000000".into(),
            tenant_id: SIM_TENANT.into(),
            media_duration: Duration::from_millis(30),
            notification_delay: Duration::from_millis(5),
            keepalive_timeout: Duration::from_secs(45 * 60),
            transfers_succeed: true,
            emit_notifications: true,
            redeliver_for: Duration::ZERO,
        }
    }
}

/// Faults to inject.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    /// The next N Graph requests are answered with this status (429, 503, …).
    pub fail_next: u32,
    pub fail_status: u16,
    /// `Retry-After` seconds sent with the failures.
    pub retry_after: Option<u64>,
    /// Every Graph answer waits this long, after the request took effect.
    pub slow: Duration,
    /// Every notification is delivered twice.
    pub duplicate_notifications: bool,
    /// `established` is delivered before `establishing`.
    pub swap_establishing: bool,
    /// The next N token requests fail with `401 invalid_client` (a wrong secret).
    pub token_failures: u32,
    /// The next N token requests fail with `503 temporarily_unavailable` (a login blip).
    pub token_outages: u32,
    /// Access tokens numbered up to this are refused with 401 (as if revoked or expired).
    pub revoke_tokens_upto: u32,
    /// The next N long-running operations (playPrompt, recordResponse, …) are answered as
    /// `failed` at once, with `resultInfo` 500/9999; no notification follows.
    pub fail_operations: u32,
    /// Long-running operations are answered as `completed` at once; no notification follows.
    pub complete_operations_at_once: bool,
}

/// A request Graph received.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RecordedRequest {
    pub method: String,
    /// As Graph receives it, e.g. `/v1.0/communications/calls/{id}/answer`.
    pub path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<Value>,
    /// The status the simulator answered.
    #[serde(skip)]
    pub status: u16,
    #[serde(skip)]
    pub at: Duration,
}

/// Something the simulator did, in order, for timelines.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum SimRecord {
    Request(RecordedRequest),
    Notification {
        at_ms: u128,
        call_id: String,
        body: Value,
        status: u16,
    },
}

pub(crate) struct SimShared {
    pub settings: SimulatorSettings,
    pub issuer: CallbackTokenIssuer,
    pub base_url: String,
    pub started: Instant,
    pub calls: SimCalls,
    pub faults: Mutex<Faults>,
    pub records: Mutex<Vec<SimRecord>>,
    pub changed: Notify,
    pub callback_url: Mutex<Option<String>>,
    pub outbox: mpsc::UnboundedSender<notify::Outgoing>,
    pub tokens_issued: Mutex<u32>,
    pub transfers_succeed: AtomicBool,
    /// Ids to hand out, by call and operation type (created calls under `("", "call")`),
    /// learnt from replayed traffic.
    pub planned_ids: Mutex<HashMap<(String, String), VecDeque<String>>>,
}

/// A running simulator. Dropping it stops its server.
#[derive(Clone)]
pub struct Simulator {
    shared: Arc<SimShared>,
    addr: SocketAddr,
    _server: Arc<tokio::task::JoinHandle<()>>,
}

impl Simulator {
    /// Starts the simulator on an ephemeral loopback port.
    pub async fn start(settings: SimulatorSettings) -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (outbox, rx) = mpsc::unbounded_channel();
        let transfers_succeed = AtomicBool::new(settings.transfers_succeed);
        let shared = Arc::new(SimShared {
            settings,
            issuer: CallbackTokenIssuer::new(),
            base_url: format!("http://{addr}"),
            started: Instant::now(),
            calls: SimCalls::default(),
            faults: Mutex::new(Faults::default()),
            records: Mutex::new(Vec::new()),
            changed: Notify::new(),
            callback_url: Mutex::new(None),
            outbox,
            tokens_issued: Mutex::new(0),
            transfers_succeed,
            planned_ids: Mutex::new(HashMap::new()),
        });
        tokio::spawn(notify::deliver(shared.clone(), rx));
        tokio::spawn(calls::expire_without_keepalive(Arc::downgrade(&shared)));
        let router = api::router(shared.clone());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Ok(Self {
            shared,
            addr,
            _server: Arc::new(server),
        })
    }

    /// Where callhost sends notifications' answers: its callback URL.
    pub fn set_callback_url(&self, url: impl Into<String>) {
        *lock(&self.shared.callback_url) = Some(url.into());
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Graph's base URL (`graph.base_url`).
    pub fn graph_url(&self) -> String {
        format!("{}/v1.0", self.shared.base_url)
    }

    /// The token URL template (`graph.token_url`).
    pub fn token_url(&self) -> String {
        format!("{}/{{tenant}}/oauth2/v2.0/token", self.shared.base_url)
    }

    /// The OpenID configuration URL (`graph.openid_config_url`).
    pub fn openid_url(&self) -> String {
        format!(
            "{}/v1/.well-known/OpenIdConfiguration",
            self.shared.base_url
        )
    }

    /// The issuer of its callback tokens.
    pub fn issuer(&self) -> &CallbackTokenIssuer {
        &self.shared.issuer
    }

    pub fn settings(&self) -> &SimulatorSettings {
        &self.shared.settings
    }

    pub fn set_faults(&self, faults: Faults) {
        *lock(&self.shared.faults) = faults;
    }

    /// Tokens issued by the token endpoint so far.
    pub fn tokens_issued(&self) -> u32 {
        *lock(&self.shared.tokens_issued)
    }

    /// Someone calls the bot. Returns the new call's id.
    pub fn incoming_call(&self, caller: Identity, callee: Identity) -> String {
        calls::incoming(&self.shared, caller, callee)
    }

    /// The caller presses a key (only heard after subscribeToTone, as on Graph).
    pub fn press(&self, call_id: &str, tone: Tone) {
        calls::press(&self.shared, call_id, tone)
    }

    /// The other side hangs up.
    pub fn remote_hang_up(&self, call_id: &str) {
        calls::remote_hang_up(&self.shared, call_id)
    }

    /// A participant joins a group call or meeting; returns its participant id.
    pub fn participant_joins(&self, call_id: &str, who: Identity) -> String {
        calls::participant_joins(&self.shared, call_id, who)
    }

    pub fn participant_leaves(&self, call_id: &str, participant_id: &str) {
        calls::participant_leaves(&self.shared, call_id, participant_id)
    }

    pub fn participant_mutes(&self, call_id: &str, participant_id: &str, muted: bool) {
        calls::participant_mutes(&self.shared, call_id, participant_id, muted)
    }

    /// Graph loses the call without telling the bot (its keepAlive will answer 404).
    pub fn forget_call(&self, call_id: &str) {
        self.shared.calls.forget(call_id)
    }

    /// Sends a notification as it is (for replaying recorded traffic or malformed cases).
    pub fn send_raw(&self, call_id: &str, body: Value) {
        let call_id = call_id.to_string();
        let _ = self.shared.outbox.send(notify::Outgoing { call_id, body });
    }

    /// Whether the transfer target answers the transfers requested from now on.
    pub fn set_transfers_succeed(&self, succeed: bool) {
        self.shared
            .transfers_succeed
            .store(succeed, Ordering::SeqCst);
    }

    /// Learns the calls a recorded notification document names, so that requests on them are
    /// answered: a call is known with the state it was notified in, and forgotten when its
    /// `deleted` notification comes.
    pub fn learn(&self, document: &Value) {
        replay::learn(&self.shared, document)
    }

    /// Plans the ids to answer requests with from recorded notification documents, so that
    /// a replay sees the ids it recorded: the nth `playPrompt` on a call gets the id of the
    /// nth `playPromptOperation` the documents complete on it (and so on for every operation
    /// type), and the nth call created gets the id of the nth call whose notifications do
    /// not begin with an incoming call.
    pub fn plan_ids(&self, documents: &[Value]) {
        replay::plan_ids(&self.shared, documents)
    }

    /// Time since the simulator started, as [`RecordedRequest::at`] counts it.
    pub fn elapsed(&self) -> Duration {
        self.shared.elapsed()
    }

    /// The state of a simulated call (`None` once gone).
    pub fn call_state(&self, call_id: &str) -> Option<String> {
        self.shared.calls.state(call_id)
    }

    /// Ids of all calls the simulator knows (active or ended).
    pub fn call_ids(&self) -> Vec<String> {
        self.shared.calls.ids()
    }

    /// Everything recorded so far.
    pub fn records(&self) -> Vec<SimRecord> {
        lock(&self.shared.records).clone()
    }

    /// The Graph requests received so far.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.shared.records)
            .iter()
            .filter_map(|r| match r {
                SimRecord::Request(r) => Some(r.clone()),
                _ => None,
            })
            .collect()
    }

    /// Waits until a recorded request satisfies `predicate`; returns it.
    pub async fn wait_for_request(
        &self,
        timeout: Duration,
        predicate: impl Fn(&RecordedRequest) -> bool,
    ) -> Option<RecordedRequest> {
        self.wait_until(timeout, || {
            self.requests().into_iter().find(|r| predicate(r))
        })
        .await
    }

    /// Waits until `check` returns something, re-checking whenever the simulator records.
    pub async fn wait_until<T>(
        &self,
        timeout: Duration,
        check: impl Fn() -> Option<T>,
    ) -> Option<T> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let changed = self.shared.changed.notified();
            if let Some(found) = check() {
                return Some(found);
            }
            if tokio::time::timeout_at(deadline, changed).await.is_err() {
                return check();
            }
        }
    }
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl SimShared {
    pub(crate) fn record(&self, record: SimRecord) {
        lock(&self.records).push(record);
        self.changed.notify_waiters();
    }

    pub(crate) fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }
}

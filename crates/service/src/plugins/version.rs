//! Loaded plugin versions: how many calls each serves, how its invocations went, and whether
//! it is still in memory.

use std::ops::Deref;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;

use super::{Slot, lock};
use crate::runtime::{Invocation, Outcome, PluginInfo, PluginVersion};

/// What the registry knows of one version.
pub(crate) struct VersionStatus {
    /// Alive while anything (the registry, a call, an invocation) holds the version.
    info: Weak<PluginInfo>,
    hash: String,
    loaded_at: SystemTime,
    from_cache: bool,
    load_time: Duration,
    pinned: AtomicUsize,
    events: AtomicU64,
    failed: AtomicU64,
    denied: AtomicU64,
    last_failure: Mutex<Option<Outcome>>,
}

impl VersionStatus {
    pub(crate) fn new(version: &PluginVersion, load_time: Duration) -> Self {
        Self {
            info: Arc::downgrade(&version.info),
            hash: version.info.hash.clone(),
            loaded_at: SystemTime::now(),
            from_cache: version.info.from_cache,
            load_time,
            pinned: AtomicUsize::new(0),
            events: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            denied: AtomicU64::new(0),
            last_failure: Mutex::new(None),
        }
    }

    /// Whether this is the status of `version`.
    pub(crate) fn is(&self, version: &PluginVersion) -> bool {
        std::ptr::eq(self.info.as_ptr(), Arc::as_ptr(&version.info))
    }

    /// Whether the version is still in memory.
    pub(crate) fn is_loaded(&self) -> bool {
        self.info.strong_count() > 0
    }

    /// The short version: the first 12 hex digits of the hash.
    pub(crate) fn version(&self) -> &str {
        &self.hash[..12.min(self.hash.len())]
    }

    pub(crate) fn summary(&self, current: bool) -> VersionSummary {
        VersionSummary {
            version: self.version().to_string(),
            hash: self.hash.clone(),
            state: if current { "current" } else { "draining" },
            loaded_at: rfc3339(self.loaded_at),
            from_cache: self.from_cache,
            load_ms: self.load_time.as_millis() as u64,
            calls_pinned: self.pinned.load(Ordering::SeqCst),
            events: self.events.load(Ordering::Relaxed),
            events_failed: self.failed.load(Ordering::Relaxed),
            actions_denied: self.denied.load(Ordering::Relaxed),
            last_failure: lock(&self.last_failure).clone(),
        }
    }
}

/// One loaded version as the admin API lists it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VersionSummary {
    /// The first 12 hex digits of `hash`, as logs and journals name the version.
    pub version: String,
    /// SHA-256 of the component file.
    pub hash: String,
    /// `current` (new calls get it) or `draining` (only calls pinned to it).
    pub state: &'static str,
    /// RFC 3339, UTC.
    pub loaded_at: String,
    /// Whether its compiled code came from the compile cache.
    pub from_cache: bool,
    /// Reading, compiling (or loading from the cache) and probing, in milliseconds.
    pub load_ms: u64,
    pub calls_pinned: usize,
    /// Events it handled, and how many of them did not complete.
    pub events: u64,
    pub events_failed: u64,
    /// Call-control requests its policy refused.
    pub actions_denied: u64,
    /// How its last failed invocation ended.
    pub last_failure: Option<Outcome>,
}

/// A call's hold on a plugin version: the version stays in memory while held, and the hold
/// counts as one of its pinned calls.
pub struct PinnedVersion {
    /// `None` only while being dropped.
    version: Option<PluginVersion>,
    status: Arc<VersionStatus>,
    slot: Option<Arc<Slot>>,
}

impl PinnedVersion {
    pub(super) fn new(version: PluginVersion, status: Arc<VersionStatus>, slot: Arc<Slot>) -> Self {
        status.pinned.fetch_add(1, Ordering::SeqCst);
        Self {
            version: Some(version),
            status,
            slot: Some(slot),
        }
    }

    pub(super) fn detached(version: PluginVersion) -> Self {
        let status = Arc::new(VersionStatus::new(&version, Duration::ZERO));
        status.pinned.fetch_add(1, Ordering::SeqCst);
        Self {
            version: Some(version),
            status,
            slot: None,
        }
    }

    /// The plugin's current version, pinned, when its calls move on reload and this is not
    /// it.
    pub fn newer(&self) -> Option<PinnedVersion> {
        self.slot.as_ref()?.newer_than(self)
    }

    /// Counts one invocation of this version.
    pub fn served(&self, invocation: &Invocation) {
        let status = &self.status;
        status.events.fetch_add(1, Ordering::Relaxed);
        status
            .denied
            .fetch_add(u64::from(invocation.actions_denied), Ordering::Relaxed);
        if invocation.outcome != Outcome::Completed {
            status.failed.fetch_add(1, Ordering::Relaxed);
            *lock(&status.last_failure) = Some(invocation.outcome.clone());
        }
    }
}

impl Deref for PinnedVersion {
    type Target = PluginVersion;

    fn deref(&self) -> &PluginVersion {
        self.version
            .as_ref()
            .expect("a pinned version is released only when dropped")
    }
}

impl Drop for PinnedVersion {
    fn drop(&mut self) {
        // Released first: whoever is told below that the count changed finds the version
        // dropped if this was its last holder.
        drop(self.version.take());
        let was = self.status.pinned.fetch_sub(1, Ordering::SeqCst);
        if was == 1
            && let Some(slot) = &self.slot
        {
            slot.changes.bump();
        }
    }
}

impl std::fmt::Debug for PinnedVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("PinnedVersion")
            .field(&self.status.version())
            .finish()
    }
}

/// `time` as RFC 3339 in UTC, to the millisecond.
pub(crate) fn rfc3339(time: SystemTime) -> String {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let (days, rem) = ((secs / 86_400) as i64, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        since.subsec_millis()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_formats_utc_dates() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        let t = UNIX_EPOCH + Duration::from_millis(1_709_210_096_789);
        assert_eq!(rfc3339(t), "2024-02-29T12:34:56.789Z");
    }
}

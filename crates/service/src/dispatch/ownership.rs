//! Call ownership among the instances that share one store. Each call is handled by the
//! instance that holds its lease (claimed by the call's worker before it runs anything); the
//! lease is renewed well before it lapses, and every write for the call is fenced by its
//! epoch in the store. Instances that share a store (PostgreSQL) also:
//! - wake an owner when they journal a notification for its call (the owner reads it from
//!   the journal: one hop through the database, no instance-to-instance traffic);
//! - sweep: take over the live calls whose lease lapsed (their owner died), and look again
//!   at their own calls' entries left unhandled (a wake that was missed).
//!
//! An instance sends Graph requests only while its last renewal is recent enough for its
//! leases to hold: an instance cut off from the database stops acting before another one
//! may take its calls.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use super::calls::Work;
use super::{Dispatcher, Shared};
use crate::storage::{Heard, now_ms};

/// Lease length unless configured (`cluster.lease_seconds`).
pub const DEFAULT_LEASE: Duration = Duration::from_secs(5);
/// Entries unhandled this long on their owner are looked at again by its sweep.
const QUIET: Duration = Duration::from_secs(2);

/// This instance's standing as an owner of calls.
pub(crate) struct Ownership {
    lease: Duration,
    /// Until when the leases surely hold: the start of the last renewal that succeeded, plus
    /// the lease, less a margin for clocks.
    valid_until: Mutex<Instant>,
    /// Whether other instances share the store.
    shared_store: AtomicBool,
}

impl Ownership {
    pub(crate) fn new(lease: Duration) -> Self {
        Self {
            lease,
            valid_until: Mutex::new(Instant::now() + lease),
            shared_store: AtomicBool::new(false),
        }
    }

    pub(crate) fn lease_ms(&self) -> i64 {
        i64::try_from(self.lease.as_millis()).unwrap_or(i64::MAX)
    }

    /// Whether other instances may own calls of this store.
    pub(crate) fn is_shared(&self) -> bool {
        self.shared_store.load(Ordering::SeqCst)
    }

    /// Whether this instance may act for its calls: alone on its store, or its leases surely
    /// still hold.
    pub(crate) fn may_send(&self) -> bool {
        !self.is_shared() || Instant::now() < *self.lock()
    }

    /// Whether this instance may act for `entry`'s call: it may act at all, and the call was
    /// not lost to another instance.
    pub(crate) fn may_act_for(&self, entry: &super::calls::CallEntry) -> bool {
        !entry.is_lost() && self.may_send()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Instant> {
        self.valid_until.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn renewed(&self, started: Instant) {
        let margin = self.lease / 5;
        *self.lock() = started + self.lease - margin;
    }
}

/// News from other instances ([`crate::storage::Store::announce`]), for whoever subscribed;
/// news that comes before anyone subscribed waits for the first subscriber.
#[derive(Default)]
pub(crate) struct News {
    to: Mutex<NewsTo>,
}

#[derive(Default)]
enum NewsTo {
    #[default]
    Nobody,
    /// Heard before the first subscriber, in order.
    Waiting(Vec<String>),
    Subscriber(tokio::sync::mpsc::UnboundedSender<String>),
}

/// How much news waits for the first subscriber, at most (it subscribes as the service
/// starts).
const NEWS_WAITING: usize = 256;

impl News {
    /// From now on, news goes to the receiver returned (and no longer to an earlier one); news
    /// heard before the first subscriber comes first.
    pub(crate) fn subscribe(&self) -> tokio::sync::mpsc::UnboundedReceiver<String> {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let mut to = self.to.lock().unwrap_or_else(|e| e.into_inner());
        if let NewsTo::Waiting(waiting) = std::mem::take(&mut *to) {
            for news in waiting {
                let _ = tx.send(news);
            }
        }
        *to = NewsTo::Subscriber(tx);
        rx
    }

    fn tell(&self, news: String) {
        let mut to = self.to.lock().unwrap_or_else(|e| e.into_inner());
        match &mut *to {
            NewsTo::Nobody => *to = NewsTo::Waiting(vec![news]),
            NewsTo::Waiting(waiting) if waiting.len() < NEWS_WAITING => waiting.push(news),
            NewsTo::Waiting(_) => {
                tracing::warn!(%news, "news from another instance dropped: {NEWS_WAITING} wait for this instance to start acting on news");
            }
            NewsTo::Subscriber(tx) => {
                if tx.send(news.clone()).is_err() {
                    tracing::debug!(%news, "news from another instance, and nobody here to act on it");
                }
            }
        }
    }
}

/// Starts renewing this instance's leases and, on a shared store, listening for wakes and
/// sweeping. Runs for the life of the process.
///
/// The tasks hold the dispatcher weakly: they end with it.
pub(crate) fn start(dispatcher: &Dispatcher) {
    let shared = &dispatcher.shared;
    tokio::spawn(renew(Arc::downgrade(shared)));
    let Some(wakes) = shared.settings.store.wakes() else {
        return;
    };
    shared.ownership.shared_store.store(true, Ordering::SeqCst);
    shared.durable.share();
    tracing::info!(instance = %shared.settings.store.instance(), lease_ms = shared.ownership.lease_ms(), "sharing the store with other instances: calls are owned by lease");
    tokio::spawn(listen(Arc::downgrade(shared), wakes));
    tokio::spawn(sweep(Arc::downgrade(shared)));
}

/// Renews every lease a third of a lease before it would lapse; a call whose lease another
/// instance took is stopped here.
async fn renew(shared: Weak<Shared>) {
    loop {
        let Some(every) = shared.upgrade().map(|s| s.ownership.lease / 3) else {
            return;
        };
        tokio::time::sleep(every).await;
        let Some(shared) = shared.upgrade() else {
            return;
        };
        let store = &shared.settings.store;
        let started = Instant::now();
        match store.renew(shared.ownership.lease_ms()).await {
            Ok(lost) => {
                // Marked before the leases count as renewed: a call lost is never acted for.
                for call in lost {
                    if let Some(entry) = shared.calls.get(&call) {
                        tracing::warn!(call_id = %entry.call_id, "another instance took the call over; this one stops handling it");
                        entry.mark_lost();
                        entry.send(Work::Lost);
                    }
                }
                shared.ownership.renewed(started);
            }
            Err(e) => {
                tracing::warn!(error = %e, "the leases of this instance's calls could not be renewed; Graph requests stop when they lapse, until the store answers again");
            }
        }
    }
}

/// Hands the calls woken by other instances to their workers.
async fn listen(shared: Weak<Shared>, mut wakes: tokio::sync::mpsc::UnboundedReceiver<Heard>) {
    while let Some(heard) = wakes.recv().await {
        let Some(shared) = shared.upgrade() else {
            return;
        };
        match heard {
            Heard::Missed => {
                for entry in shared.calls.entries() {
                    entry.send(Work::Wake);
                }
            }
            Heard::Wake(call) => {
                if let Some(entry) = shared.calls.get(&call) {
                    entry.send(Work::Wake);
                }
            }
            Heard::News(news) => shared.news.tell(news),
        }
    }
}

/// Takes over the calls whose owner is gone, and wakes this instance's calls whose entries
/// wait: every second or so.
async fn sweep(shared: Weak<Shared>) {
    loop {
        let Some(every) = shared
            .upgrade()
            .map(|s| (s.ownership.lease / 4).min(Duration::from_secs(1)))
        else {
            return;
        };
        tokio::time::sleep(every).await;
        let Some(shared) = shared.upgrade() else {
            return;
        };
        let dispatcher = Dispatcher {
            shared: shared.clone(),
        };
        let store = &shared.settings.store;
        if !shared.ownership.may_send() {
            continue;
        }
        let quiet_before = now_ms() - QUIET.as_millis() as i64;
        let found = match store.sweep(quiet_before).await {
            Ok(found) => found,
            Err(e) => {
                tracing::warn!(error = %e, "sweeping the store for calls without an owner failed; trying again");
                continue;
            }
        };
        for call in found.waiting {
            match shared.calls.get(&call) {
                Some(entry) => {
                    entry.send(Work::Wake);
                }
                None => found_unowned(&dispatcher, call).await,
            }
        }
        for call in found.unowned {
            if shared.calls.get(&call).is_none() {
                found_unowned(&dispatcher, call).await;
            }
        }
    }
}

async fn found_unowned(dispatcher: &Dispatcher, call: String) {
    match super::recovery::take_over(dispatcher, &call).await {
        Ok(true) => {
            tracing::info!(call_id = %call, "call taken over: its owner's lease lapsed or was released")
        }
        Ok(false) => {}
        Err(e) => {
            tracing::warn!(call_id = %call, error = %e, "taking over the call failed; the next sweep tries again")
        }
    }
}

#[cfg(test)]
mod news_tests {
    use super::News;

    #[test]
    fn news_before_the_first_subscriber_waits_for_it() {
        let news = News::default();
        news.tell("one".into());
        news.tell("two".into());
        let mut rx = news.subscribe();
        news.tell("three".into());
        let heard: Vec<String> = std::iter::from_fn(|| rx.try_recv().ok()).collect();
        assert_eq!(heard, ["one", "two", "three"]);
        // A later subscriber replaces the first and gets what comes next.
        let mut later = news.subscribe();
        news.tell("four".into());
        assert_eq!(later.try_recv().ok().as_deref(), Some("four"));
        assert!(rx.try_recv().is_err());
    }
}

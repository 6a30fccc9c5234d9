//! CPU time per group of threads, from `/proc/self/task/*/schedstat` (nanoseconds on the CPU).
//! The service under test runs on its own runtime whose threads carry [`SERVICE_THREADS`] as
//! their name, so its CPU time (and its samples in a profile) can be told from the load
//! generator's and the fake Graph's. The service's other threads (log writer, epoch ticker)
//! share the `callhost-` prefix and count as the service's.

use std::collections::HashMap;
use std::time::Duration;

/// The name of the service runtime's threads.
pub const SERVICE_THREADS: &str = "callhost-svc";
/// The name of the bare handler's threads (the ceiling), apart from callhost's in a profile.
pub const BARE_THREADS: &str = "callhost-bare";
const SERVICE_PREFIX: &str = "callhost-";

/// A runtime for the service under test; shut down in the background when dropped (a runtime
/// cannot be dropped from inside another one).
pub struct ServiceRuntime(Option<tokio::runtime::Runtime>);

impl ServiceRuntime {
    /// The runtime of callhost's service.
    pub fn new() -> anyhow::Result<Self> {
        Self::named(SERVICE_THREADS)
    }

    /// A runtime whose threads are called `name` (at most 15 bytes, starting with `callhost-`
    /// to count as serving).
    pub fn named(name: &str) -> anyhow::Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .thread_name(name)
            .enable_all()
            .build()?;
        Ok(Self(Some(runtime)))
    }

    pub fn handle(&self) -> &tokio::runtime::Handle {
        self.0.as_ref().expect("present until dropped").handle()
    }
}

impl Drop for ServiceRuntime {
    fn drop(&mut self) {
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}

/// CPU time, split by whether the threads serve.
#[derive(Debug, Clone, Copy, Default)]
pub struct CpuSplit {
    pub service: Duration,
    pub others: Duration,
}

/// CPU time used so far by each of this process's threads.
#[derive(Debug, Clone, Default)]
pub struct CpuSnapshot {
    /// Thread id → (name, time on the CPU).
    threads: HashMap<u64, (String, Duration)>,
}

impl CpuSnapshot {
    pub fn now() -> Self {
        let mut snapshot = Self::default();
        let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
            return snapshot;
        };
        for task in tasks.flatten() {
            let Some(tid) = task
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<u64>().ok())
            else {
                continue;
            };
            let path = task.path();
            let comm = std::fs::read_to_string(path.join("comm")).unwrap_or_default();
            let Some(ns) = std::fs::read_to_string(path.join("schedstat"))
                .ok()
                .and_then(|s| s.split_whitespace().next()?.parse::<u64>().ok())
            else {
                continue;
            };
            let name = comm.trim_end().to_owned();
            snapshot
                .threads
                .insert(tid, (name, Duration::from_nanos(ns)));
        }
        snapshot
    }

    /// What the threads alive now used since `earlier`: threads that ended in between are
    /// missed, threads that started in between count whole.
    pub fn since(&self, earlier: &Self) -> CpuSplit {
        let mut split = CpuSplit::default();
        for (tid, (name, time)) in &self.threads {
            let used = time.saturating_sub(earlier.time_of(*tid));
            if name.starts_with(SERVICE_PREFIX) {
                split.service += used;
            } else {
                split.others += used;
            }
        }
        split
    }

    /// What the threads called `name` alive now used since `earlier`.
    pub fn used_by(&self, earlier: &Self, name: &str) -> Duration {
        self.threads
            .iter()
            .filter(|(_, (n, _))| n == name)
            .map(|(tid, (_, time))| time.saturating_sub(earlier.time_of(*tid)))
            .sum()
    }

    fn time_of(&self, tid: u64) -> Duration {
        self.threads.get(&tid).map_or(Duration::ZERO, |(_, t)| *t)
    }
}

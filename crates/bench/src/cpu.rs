//! CPU time per group of threads, from `/proc/self/task/*/schedstat` (nanoseconds on the CPU).
//! The service under test runs on its own runtime whose threads carry [`SERVICE_THREADS`] as
//! their name, so its CPU time (and its samples in a profile) can be told from the load
//! generator's and the fake Graph's. The service's other threads (log writer, epoch ticker)
//! share the `callhost-` prefix and count as the service's.

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

/// CPU time used so far by this process's threads, split by whether they serve.
#[derive(Debug, Clone, Copy, Default)]
pub struct CpuSplit {
    pub service: Duration,
    pub others: Duration,
}

impl CpuSplit {
    pub fn now() -> Self {
        let mut split = Self::default();
        let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
            return split;
        };
        for task in tasks.flatten() {
            let path = task.path();
            let comm = std::fs::read_to_string(path.join("comm")).unwrap_or_default();
            let Some(ns) = std::fs::read_to_string(path.join("schedstat"))
                .ok()
                .and_then(|s| s.split_whitespace().next()?.parse::<u64>().ok())
            else {
                continue;
            };
            let time = Duration::from_nanos(ns);
            if comm.trim_end().starts_with(SERVICE_PREFIX) {
                split.service += time;
            } else {
                split.others += time;
            }
        }
        split
    }

    /// What was used between `earlier` and `self` (threads that ended in between are missed).
    pub fn since(self, earlier: Self) -> Self {
        Self {
            service: self.service.saturating_sub(earlier.service),
            others: self.others.saturating_sub(earlier.others),
        }
    }
}

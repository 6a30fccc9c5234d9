//! `callhost bench`: what call events cost, measured side by side in one run on this machine.
//! Each part writes rows to a [`Report`], printed as Markdown and saved as JSON.

mod cluster;
mod cpu;
mod e2e;
mod events;
mod http;
mod parts;
mod reload;
mod report;
mod restart;
mod run;
mod stats;
mod store;
mod timers;

pub use events::{NullControl, plugin_event_costs};
pub use reload::tagged_variant;
pub use report::{Report, Row};
pub use run::{BenchOptions, Section, run};
pub use stats::Stats;

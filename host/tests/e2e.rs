//! The end-to-end tests, in one binary: each links wasmtime, so one link instead of thirteen.
//! Each module is one area; `cargo test --release -p callhost-cli --test e2e -- <module>::`
//! runs one.

mod support;

mod attacks;
mod bot_service;
mod callback_auth;
mod check;
mod cluster;
mod containment;
mod contract;
mod durability;
mod fidelity;
mod graph_auth;
mod hot_reload;
mod inbound;
mod outbound;
mod policy;
mod scaffold;
mod scenarios;
mod waits;
mod workflows;

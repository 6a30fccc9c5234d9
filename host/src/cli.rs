//! The `callhost` subcommands, as library functions the binary and tests share.

pub mod check;

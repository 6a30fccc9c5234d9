//! The `callhost` subcommands, as library functions the binary and tests share.

pub mod build_c;
pub mod check;
pub mod demo;
pub mod log_line;
pub mod new;
pub mod replay;
pub mod simulate;

//! C plugins, built by the `callhost-c-plugin` crate; the toolchain comes from apt.

use anyhow::Result;
pub use callhost_c_plugin::build;

/// Installs the compiler and wasi-libc with apt when they are missing.
pub fn ensure_toolchain() -> Result<()> {
    crate::apt::ensure(
        "the C toolchain (clang-19, wasm-ld, wasi-libc)",
        callhost_c_plugin::APT_PACKAGES,
        callhost_c_plugin::missing_toolchain_files,
    )
}

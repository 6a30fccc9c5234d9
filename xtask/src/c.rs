//! C plugins: bindings generated from wit/ by wit-bindgen's C generator, compiled with Debian's
//! clang-19 against wasi-libc into a WASI preview1 reactor module, then made a component with
//! the WASI preview1 adapter. Bindings and component encoding run in this process, from the
//! `wit-bindgen-c` and `wit-component` crates; only the compiler comes from apt.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use wasi_preview1_component_adapter_provider::{
    WASI_SNAPSHOT_PREVIEW1_ADAPTER_NAME, WASI_SNAPSHOT_PREVIEW1_REACTOR_ADAPTER,
};
use wit_bindgen_core::Files;
use wit_bindgen_core::wit_parser::Resolve;
use wit_component::ComponentEncoder;

use crate::command;

/// The world every plugin implements; also the name of the generated files (`workflow.h`, …).
const WORLD: &str = "workflow";
const CLANG: &str = "clang-19";
/// Debian's packages of the compiler, the wasm linker, the wasm32 builtins and wasi-libc.
const APT_PACKAGES: &str = "clang-19 lld-19 libclang-rt-19-dev-wasm32 wasi-libc";
/// A file of each package, to tell whether it is installed.
const INSTALLED_FILES: &[&str] = &[
    "/usr/bin/clang-19",
    "/usr/lib/llvm-19/bin/wasm-ld",
    "/usr/lib/llvm-19/lib/clang/19/lib/wasi/libclang_rt.builtins-wasm32.a",
    "/usr/lib/wasm32-wasi/libc.a",
];

/// Builds the C plugin in `plugin_dir` (its `*.c` files) against the WIT in `wit` into the
/// component `out`, with the compiler of [`ensure_toolchain`]; intermediate files go to
/// `build_dir`.
pub fn build(wit: &Path, plugin_dir: &Path, build_dir: &Path, out: &Path) -> Result<()> {
    let bindings = build_dir.join("bindings");
    generate_bindings(wit, &bindings)?;

    let mut sources = c_files(plugin_dir)?;
    sources.push(bindings.join(format!("{WORLD}.c")));
    let core_module = build_dir.join("plugin.core.wasm");
    let mut clang = Command::new(CLANG);
    clang
        .args([
            "--target=wasm32-wasi",
            "--sysroot=/usr",
            "-mexec-model=reactor",
            "-Os",
            "-Wall",
            "-Werror",
            "-Wl,--strip-debug",
            "-fuse-ld=lld",
        ])
        .arg("-I")
        .arg(&bindings)
        .args(&sources)
        .arg(bindings.join(format!("{WORLD}_component_type.o")))
        .arg("-o")
        .arg(&core_module);
    command::run(&mut clang, "fix the C errors above and build again")?;
    componentize(&core_module, out)
}

/// Writes `workflow.h`, `workflow.c` and `workflow_component_type.o` for the world in `wit`.
pub fn generate_bindings(wit: &Path, out_dir: &Path) -> Result<()> {
    let mut resolve = Resolve::default();
    let (package, _) = resolve
        .push_dir(wit)
        .with_context(|| format!("could not read the WIT in {}", wit.display()))?;
    let world = resolve.select_world(&[package], Some(WORLD))?;
    let mut files = Files::default();
    wit_bindgen_c::Opts::default()
        .build()
        .generate(&mut resolve, world, &mut files)
        .context("generating the C bindings")?;
    fs::create_dir_all(out_dir)
        .with_context(|| format!("could not create {}", out_dir.display()))?;
    for (name, contents) in files.iter() {
        let path = out_dir.join(name);
        fs::write(&path, contents)
            .with_context(|| format!("could not write {}", path.display()))?;
    }
    Ok(())
}

/// Wraps a WASI preview1 reactor module into a component with the preview1 adapter.
fn componentize(core_module: &Path, out: &Path) -> Result<()> {
    let module = fs::read(core_module)
        .with_context(|| format!("could not read {}", core_module.display()))?;
    let component = ComponentEncoder::default()
        .module(&module)?
        .adapter(
            WASI_SNAPSHOT_PREVIEW1_ADAPTER_NAME,
            WASI_SNAPSHOT_PREVIEW1_REACTOR_ADAPTER,
        )?
        .validate(true)
        .encode()
        .with_context(|| format!("could not make a component of {}", core_module.display()))?;
    fs::write(out, component).with_context(|| format!("could not write {}", out.display()))
}

/// The plugin's C sources, in a stable order.
fn c_files(plugin_dir: &Path) -> Result<Vec<PathBuf>> {
    let mut sources = Vec::new();
    for entry in fs::read_dir(plugin_dir)
        .with_context(|| format!("could not list {}", plugin_dir.display()))?
    {
        let path = entry?.path();
        if path.extension().is_some_and(|extension| extension == "c") {
            sources.push(path);
        }
    }
    if sources.is_empty() {
        bail!("{} has no .c files", plugin_dir.display());
    }
    sources.sort();
    Ok(sources)
}

/// Installs the compiler and wasi-libc with apt when they are missing.
pub fn ensure_toolchain() -> Result<()> {
    crate::apt::ensure(
        "the C toolchain (clang-19, wasm-ld, wasi-libc)",
        APT_PACKAGES,
        missing_files,
    )
}

fn missing_files() -> Vec<String> {
    INSTALLED_FILES
        .iter()
        .filter(|file| !Path::new(file).exists())
        .map(|file| file.to_string())
        .collect()
}

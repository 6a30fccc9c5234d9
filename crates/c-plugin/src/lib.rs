//! C workflow plugins: bindings generated from WIT by wit-bindgen's C generator, the plugin's
//! `*.c` files compiled with Debian's clang-19 against wasi-libc into a WASI preview1 reactor
//! module, and the module made a component with the WASI preview1 adapter. Bindings and
//! component encoding run in the calling process; only the compiler comes from apt.
//!
//! Used by `callhost build-c` (for plugins made by `callhost new --lang c`) and by
//! `cargo xtask build-plugins` (for the repository's own C plugins).

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

/// The world every plugin implements; also the name of the generated files (`workflow.h`, …).
pub const WORLD: &str = "workflow";
/// The compiler.
pub const CLANG: &str = "clang-19";
/// Debian's packages of the compiler, the wasm linker, the wasm32 builtins and wasi-libc.
pub const APT_PACKAGES: &str = "clang-19 lld-19 libclang-rt-19-dev-wasm32 wasi-libc";
/// A file of each package, to tell whether it is installed.
const INSTALLED_FILES: &[&str] = &[
    "/usr/bin/clang-19",
    "/usr/lib/llvm-19/bin/wasm-ld",
    "/usr/lib/llvm-19/lib/clang/19/lib/wasi/libclang_rt.builtins-wasm32.a",
    "/usr/lib/wasm32-wasi/libc.a",
];

/// The files of the toolchain that are missing; empty when it is installed.
pub fn missing_toolchain_files() -> Vec<String> {
    INSTALLED_FILES
        .iter()
        .filter(|file| !Path::new(file).exists())
        .map(|file| file.to_string())
        .collect()
}

/// Builds the C plugin in `plugin_dir` (its `*.c` files) against the WIT in `wit` into the
/// component `out`; intermediate files go to `build_dir`. The toolchain must be installed.
pub fn build(wit: &Path, plugin_dir: &Path, build_dir: &Path, out: &Path) -> Result<()> {
    let sources = c_files(plugin_dir)?;
    let bindings = build_dir.join("bindings");
    generate_bindings(wit, &bindings)?;
    let core_module = build_dir.join("plugin.core.wasm");
    compile(&sources, &bindings, &core_module)?;
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

/// Compiles the plugin's sources and the bindings into a WASI preview1 reactor module.
fn compile(sources: &[PathBuf], bindings: &Path, core_module: &Path) -> Result<()> {
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
        .arg(bindings)
        .args(sources)
        .arg(bindings.join(format!("{WORLD}.c")))
        .arg(bindings.join(format!("{WORLD}_component_type.o")))
        .arg("-o")
        .arg(core_module);
    let status = clang.status().with_context(|| {
        format!("could not start {CLANG}; install it with `apt-get install -y {APT_PACKAGES}`")
    })?;
    if !status.success() {
        bail!("{CLANG} failed ({status}); fix the C errors above and build again");
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
pub fn c_files(plugin_dir: &Path) -> Result<Vec<PathBuf>> {
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
        bail!(
            "{} has no .c files; a C plugin's sources are the *.c files of its directory",
            plugin_dir.display()
        );
    }
    sources.sort();
    Ok(sources)
}

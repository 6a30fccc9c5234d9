//! `callhost build-c [DIR]`: builds the C workflow plugin in DIR (made by `callhost new --lang
//! c`) into `DIR/<name of DIR>.wasm`. The bindings (`workflow.h`, `workflow.c`) are generated
//! from DIR/wit (or the WIT built into this binary) with wit-bindgen's C generator, the `*.c`
//! files are compiled with Debian's clang-19 against wasi-libc into a WASI preview1 reactor
//! module, and the module is made a component with the WASI preview1 adapter. Everything but
//! the compiler runs in this process; no callhost checkout is needed.

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
const WORLD: &str = "workflow";
const CLANG: &str = "clang-19";
/// Debian's packages of the compiler, the wasm linker, the wasm32 builtins and wasi-libc.
pub const APT_PACKAGES: &str = "clang-19 lld-19 libclang-rt-19-dev-wasm32 wasi-libc";
/// A file of each package, to tell whether it is installed.
const INSTALLED_FILES: &[&str] = &[
    "/usr/bin/clang-19",
    "/usr/lib/llvm-19/bin/wasm-ld",
    "/usr/lib/llvm-19/lib/clang/19/lib/wasi/libclang_rt.builtins-wasm32.a",
    "/usr/lib/wasm32-wasi/libc.a",
];

/// Builds the C plugin in `dir` and returns the component's path. Intermediate files go to
/// `dir/build/`.
pub fn build_c(dir: &Path) -> Result<PathBuf> {
    let dir = std::path::absolute(dir)
        .with_context(|| format!("could not resolve the plugin directory {}", dir.display()))?;
    if !dir.is_dir() {
        bail!(
            "{} is not a directory; give the C plugin's directory (made by `callhost new --lang c NAME`)",
            dir.display()
        );
    }
    let name = dir
        .file_name()
        .and_then(|name| name.to_str())
        .with_context(|| format!("{} has no directory name", dir.display()))?;
    let sources = c_files(&dir)?;
    ensure_toolchain()?;
    let build_dir = dir.join("build");
    let own_wit = dir.join("wit");
    let wit = if own_wit.is_dir() {
        own_wit
    } else {
        let embedded = build_dir.join("wit");
        super::new::write_wit(&embedded)
            .with_context(|| format!("could not write {}", embedded.display()))?;
        embedded
    };
    let bindings = build_dir.join("bindings");
    generate_bindings(&wit, &bindings)?;
    let core_module = build_dir.join("plugin.core.wasm");
    compile(&sources, &bindings, &core_module)?;
    let out = dir.join(format!("{name}.wasm"));
    componentize(&core_module, &out)?;
    Ok(out)
}

/// What is missing of the C toolchain, and how to install it.
fn ensure_toolchain() -> Result<()> {
    let missing: Vec<&str> = INSTALLED_FILES
        .iter()
        .copied()
        .filter(|file| !Path::new(file).exists())
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    bail!(
        "the C toolchain is missing ({}); on Debian or Ubuntu install it as root with \
         `apt-get update && apt-get install -y {APT_PACKAGES}`, then build again",
        missing.join(", ")
    )
}

/// Writes `workflow.h`, `workflow.c` and `workflow_component_type.o` for the world in `wit`.
fn generate_bindings(wit: &Path, out_dir: &Path) -> Result<()> {
    let mut resolve = Resolve::default();
    let (package, _) = resolve.push_dir(wit).with_context(|| {
        format!(
            "could not read the WIT in {}; fix it, or delete the directory to build against \
             the WIT built into callhost",
            wit.display()
        )
    })?;
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
fn c_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut sources = Vec::new();
    for entry in fs::read_dir(dir).with_context(|| format!("could not list {}", dir.display()))? {
        let path = entry?.path();
        if path.extension().is_some_and(|extension| extension == "c") {
            sources.push(path);
        }
    }
    if sources.is_empty() {
        bail!(
            "{} has no .c files; run `callhost build-c` in a C plugin's directory (made by `callhost new --lang c NAME`)",
            dir.display()
        );
    }
    sources.sort();
    Ok(sources)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_wit_makes_c_bindings() {
        let dir = tempfile::tempdir().unwrap();
        super::super::new::write_wit(&dir.path().join("wit")).unwrap();
        generate_bindings(&dir.path().join("wit"), &dir.path().join("out")).unwrap();
        let header = fs::read_to_string(dir.path().join("out/workflow.h")).unwrap();
        assert!(header.contains("exports_callhost_workflow_handler_on_event"));
    }

    #[test]
    fn a_directory_without_c_sources_is_refused_with_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let error = build_c(dir.path()).unwrap_err().to_string();
        assert!(error.contains("no .c files") && error.contains("callhost new --lang c"));
    }
}

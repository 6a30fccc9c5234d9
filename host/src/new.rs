//! `callhost new --lang rust|python|js|c NAME [--dir DIR]`: a new workflow plugin from the
//! language's template, ready to build, check and serve. It answers every call out of the box.
//!
//! Everything written comes from this binary (templates/, wit/, the Rust SDK and the pinned
//! lock files are built into it), so a plugin can be made and built anywhere, with only
//! callhost and the language's toolchain: nothing points back at a callhost checkout.

use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// The WIT contract: written into the plugins whose toolchain reads it from the project, into
/// the Rust SDK, and read by `callhost build-c`.
pub(crate) const WIT: &[(&str, &str)] = &[
    (
        "call-control.wit",
        include_str!("../../wit/call-control.wit"),
    ),
    ("config.wit", include_str!("../../wit/config.wit")),
    ("handler.wit", include_str!("../../wit/handler.wit")),
    ("log.wit", include_str!("../../wit/log.wit")),
    ("state.wit", include_str!("../../wit/state.wit")),
    ("timers.wit", include_str!("../../wit/timers.wit")),
    ("types.wit", include_str!("../../wit/types.wit")),
    ("world.wit", include_str!("../../wit/world.wit")),
];

/// The Rust SDK's sources (plugins/callhost-sdk/src/), written into `callhost-sdk/src/` of a
/// Rust plugin; its Cargo.toml is the template's `rust/callhost-sdk/Cargo.toml`.
const SDK_SOURCES: &[(&str, &str)] = &[
    (
        "call.rs",
        include_str!("../../plugins/callhost-sdk/src/call.rs"),
    ),
    (
        "collect.rs",
        include_str!("../../plugins/callhost-sdk/src/collect.rs"),
    ),
    (
        "config.rs",
        include_str!("../../plugins/callhost-sdk/src/config.rs"),
    ),
    (
        "error.rs",
        include_str!("../../plugins/callhost-sdk/src/error.rs"),
    ),
    (
        "http.rs",
        include_str!("../../plugins/callhost-sdk/src/http.rs"),
    ),
    (
        "lib.rs",
        include_str!("../../plugins/callhost-sdk/src/lib.rs"),
    ),
    (
        "log.rs",
        include_str!("../../plugins/callhost-sdk/src/log.rs"),
    ),
    (
        "menu.rs",
        include_str!("../../plugins/callhost-sdk/src/menu.rs"),
    ),
    (
        "prompt.rs",
        include_str!("../../plugins/callhost-sdk/src/prompt.rs"),
    ),
    (
        "state.rs",
        include_str!("../../plugins/callhost-sdk/src/state.rs"),
    ),
    (
        "target.rs",
        include_str!("../../plugins/callhost-sdk/src/target.rs"),
    ),
    (
        "tone.rs",
        include_str!("../../plugins/callhost-sdk/src/tone.rs"),
    ),
    (
        "workflow.rs",
        include_str!("../../plugins/callhost-sdk/src/workflow.rs"),
    ),
];

/// Where the SDK's `generate!` finds the WIT in the repository, and in a plugin's copy.
const SDK_WIT_PATH: (&str, &str) = (r#"path: "../../wit","#, r#"path: "wit","#);

/// The crate versions callhost's own Rust plugins are built and tested with.
const RUST_LOCK: &str = include_str!("../../plugins/Cargo.lock");

/// The npm packages plugins/ivr-menu-js is built and tested with; the template's package.json
/// pins the same.
const JS_LOCK: &str = include_str!("../../plugins/ivr-menu-js/package-lock.json");
/// The name of the project [`JS_LOCK`] comes from.
const JS_LOCK_NAME: &str = "ivr-menu-js";
/// The versions of [`JS_LOCK`], as the README names them.
const COMPONENTIZE_JS: &str = "0.23.0";
const PREVIEW2_SHIM: &str = "0.25.0";
const COMPONENTIZE_PY: &str = "0.25.1";

/// Where the guide to writing workflows is published.
const GUIDE: &str = concat!(env!("CARGO_PKG_REPOSITORY"), "/blob/main/plugins/README.md");

/// A file of a template: its path in the new plugin, and its text with `{{…}}` placeholders.
type TemplateFile = (&'static str, &'static str);

macro_rules! template {
    ($($path:literal),* $(,)?) => {
        &[$(($path, include_str!(concat!("../../templates/", $path)))),*]
    };
}

/// Files of every plugin, whatever its language.
const COMMON: &[TemplateFile] = template!("README.md", "scenario.toml");
const RUST: &[TemplateFile] = template!(
    "rust/Cargo.toml",
    "rust/src/lib.rs",
    "rust/.gitignore",
    "rust/callhost-sdk/Cargo.toml"
);
const PYTHON: &[TemplateFile] = template!("python/app.py", "python/.gitignore");
const JS: &[TemplateFile] = template!(
    "js/app.js",
    "js/build.mjs",
    "js/package.json",
    "js/.gitignore"
);
const C: &[TemplateFile] = template!("c/app.c", "c/.gitignore");

/// The languages a workflow can be written in with a template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Language {
    Rust,
    Python,
    Js,
    C,
}

impl Language {
    pub const ALL: [Language; 4] = [Language::Rust, Language::Python, Language::Js, Language::C];

    /// The name `--lang` takes.
    pub fn key(self) -> &'static str {
        match self {
            Language::Rust => "rust",
            Language::Python => "python",
            Language::Js => "js",
            Language::C => "c",
        }
    }

    fn files(self) -> &'static [TemplateFile] {
        match self {
            Language::Rust => RUST,
            Language::Python => PYTHON,
            Language::Js => JS,
            Language::C => C,
        }
    }

    /// Whether the plugin carries its own copy of the WIT (Rust's comes with the SDK).
    fn needs_wit(self) -> bool {
        self != Language::Rust
    }
}

impl fmt::Display for Language {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Language::Rust => "Rust",
            Language::Python => "Python",
            Language::Js => "JavaScript",
            Language::C => "C",
        })
    }
}

impl FromStr for Language {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Language::ALL
            .into_iter()
            .find(|language| language.key() == text)
            .ok_or_else(|| format!("unknown language `{text}`; expected rust, python, js or c"))
    }
}

/// Why no plugin was made.
#[derive(Debug, thiserror::Error)]
pub enum NewError {
    #[error(
        "`{name}` is not a plugin name: use lowercase letters, digits and single dashes, starting with a letter (`front-desk`)"
    )]
    InvalidName { name: String },
    #[error("{} already exists; choose another name or --dir", path.display())]
    Exists { path: PathBuf },
    #[error("could not write {}: {source}", path.display())]
    Write { path: PathBuf, source: io::Error },
}

/// A plugin just made, and how to build it.
#[derive(Debug)]
pub struct NewPlugin {
    pub language: Language,
    pub name: String,
    /// The plugin's directory.
    pub dir: PathBuf,
    /// Run once before the first build, if anything.
    pub setup: Option<String>,
    /// The build command, run in `dir`.
    pub build: String,
    /// The component the build makes, relative to `dir`.
    pub wasm: String,
}

impl fmt::Display for NewPlugin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "made {} ({} workflow plugin)",
            self.dir.display(),
            self.language
        )?;
        writeln!(f, "next, in {}:", self.dir.display())?;
        if let Some(setup) = &self.setup {
            writeln!(f, "  once:   {setup}")?;
        }
        writeln!(f, "  build:  {}", self.build)?;
        writeln!(f, "  check:  callhost check {}", self.wasm)?;
        write!(
            f,
            "  test:   callhost simulate --plugin {} --scenario scenario.toml",
            self.wasm
        )
    }
}

/// Makes the plugin `name` in `language` in `parent_dir/name`, which must not exist yet.
pub fn new(language: Language, name: &str, parent_dir: &Path) -> Result<NewPlugin, NewError> {
    if !is_plugin_name(name) {
        return Err(NewError::InvalidName {
            name: name.to_string(),
        });
    }
    let dir = std::path::absolute(parent_dir.join(name)).map_err(|source| NewError::Write {
        path: parent_dir.join(name),
        source,
    })?;
    if dir.exists() {
        return Err(NewError::Exists { path: dir });
    }
    let plugin = describe(language, name, dir);
    let placeholders = [
        ("{{name}}", name.to_string()),
        ("{{Name}}", type_name(name)),
        ("{{language}}", language.to_string()),
        ("{{version}}", env!("CARGO_PKG_VERSION").to_string()),
        ("{{guide}}", GUIDE.to_string()),
        ("{{contents}}", wrap(contents_text(language))),
        ("{{toolchain}}", wrap(&toolchain_text(language))),
        ("{{wasm}}", plugin.wasm.clone()),
        ("{{setup}}", setup_text(&plugin)),
        ("{{build}}", plugin.build.clone()),
    ];
    let prefix = format!("{}/", language.key());
    for (path, text) in COMMON.iter().chain(language.files()) {
        let path = path.strip_prefix(&prefix).unwrap_or(path);
        let text = placeholders
            .iter()
            .fold(text.to_string(), |text, (placeholder, value)| {
                text.replace(placeholder, value)
            });
        write(&plugin.dir.join(path), &text)?;
    }
    match language {
        Language::Rust => write_rust_sdk(&plugin.dir)?,
        Language::Js => write(&plugin.dir.join("package-lock.json"), &js_lock(name))?,
        Language::Python | Language::C => {}
    }
    if language.needs_wit() {
        let wit = plugin.dir.join("wit");
        write_wit(&wit).map_err(|source| NewError::Write { path: wit, source })?;
    }
    Ok(plugin)
}

/// The WIT contract, as files of `dir`.
pub(crate) fn write_wit(dir: &Path) -> io::Result<()> {
    fs::create_dir_all(dir)?;
    for (file, text) in WIT {
        fs::write(dir.join(file), text)?;
    }
    Ok(())
}

/// `callhost-sdk/` (sources and WIT; its Cargo.toml is a template file) and the lock file.
fn write_rust_sdk(plugin_dir: &Path) -> Result<(), NewError> {
    let sdk = plugin_dir.join("callhost-sdk");
    for (file, text) in SDK_SOURCES {
        let text = if *file == "lib.rs" {
            sdk_lib_rs(text)
        } else {
            text.to_string()
        };
        write(&sdk.join("src").join(file), &text)?;
    }
    let wit = sdk.join("wit");
    write_wit(&wit).map_err(|source| NewError::Write { path: wit, source })?;
    write(&plugin_dir.join("Cargo.lock"), RUST_LOCK)
}

/// The SDK's lib.rs, generating its bindings from its own copy of the WIT.
fn sdk_lib_rs(text: &str) -> String {
    let (in_repository, in_plugin) = SDK_WIT_PATH;
    text.replace(in_repository, in_plugin).replace(
        "generated from `wit/` of this repository",
        "generated from `wit/`",
    )
}

/// plugins/ivr-menu-js's lock file, for the project `name`.
fn js_lock(name: &str) -> String {
    let from = format!("\"name\": \"{JS_LOCK_NAME}\"");
    JS_LOCK
        .replace(&from, &format!("\"name\": \"{name}\""))
        .replacen("      \"license\": \"Apache-2.0\",\n", "", 1)
}

/// The build of each language.
fn describe(language: Language, name: &str, dir: PathBuf) -> NewPlugin {
    let (setup, build, wasm) = match language {
        Language::Rust => (
            Some("rustup target add wasm32-wasip2".to_string()),
            "cargo build --release --target wasm32-wasip2".to_string(),
            format!(
                "target/wasm32-wasip2/release/{}.wasm",
                name.replace('-', "_")
            ),
        ),
        Language::Python => (
            Some(format!(
                "python3 -m venv .venv && .venv/bin/pip install componentize-py=={COMPONENTIZE_PY}"
            )),
            format!(".venv/bin/componentize-py -d wit -w workflow componentize app -o {name}.wasm"),
            format!("{name}.wasm"),
        ),
        Language::Js => (
            Some("npm ci".to_string()),
            "npm run build".to_string(),
            format!("{name}.wasm"),
        ),
        Language::C => (None, "callhost build-c".to_string(), format!("{name}.wasm")),
    };
    NewPlugin {
        language,
        name: name.to_string(),
        dir,
        setup,
        build,
        wasm,
    }
}

/// What the plugin's directory holds, for its README.
fn contents_text(language: Language) -> &'static str {
    match language {
        Language::Rust => {
            "`src/lib.rs` (the workflow), `callhost-sdk/` (the Rust SDK, with the WIT contract in \
             `callhost-sdk/wit/`), `Cargo.lock` (the crate versions callhost's own plugins are \
             built and tested with) and `scenario.toml`."
        }
        Language::Python => {
            "`app.py` (the workflow), `wit/` (the WIT contract) and `scenario.toml`."
        }
        Language::Js => {
            "`app.js` (the workflow), `build.mjs` (the build), `package.json` and \
             `package-lock.json` (the npm packages, pinned to the versions callhost is tested \
             with), `wit/` (the WIT contract) and `scenario.toml`."
        }
        Language::C => {
            "`app.c` (the workflow), `wit/` (the WIT contract, from which the build generates \
             `workflow.h`) and `scenario.toml`."
        }
    }
}

/// The toolchain a build needs, and where to get it.
fn toolchain_text(language: Language) -> String {
    match language {
        Language::Rust => "Rust (rustup) with its `wasm32-wasip2` target: `rustup target add \
             wasm32-wasip2`. The first build fetches the SDK's dependencies (wit-bindgen, \
             serde) from crates.io, at the versions of `Cargo.lock`."
            .to_string(),
        Language::Python => format!(
            "componentize-py {COMPONENTIZE_PY} from PyPI, in a virtualenv `.venv` of this \
             directory (the command below; it needs `python3` with its `venv` module, Debian: \
             `apt-get install -y python3-venv`). It embeds CPython, so the component needs \
             nothing else. On a machine where callhost's `cargo xtask build-plugins` ran, the \
             same version is installed in `target/toolchains/venv/` of that checkout: a symlink \
             `.venv` to it works as well (`ln -s <checkout>/target/toolchains/venv .venv`)."
        ),
        Language::Js => format!(
            "Node.js 18 or newer with npm (Debian: `apt-get install -y nodejs npm`), and \
             ComponentizeJS {COMPONENTIZE_JS} with @bytecodealliance/preview2-shim \
             {PREVIEW2_SHIM} from npm, pinned in `package-lock.json` to the versions callhost \
             is tested with. `npm ci` installs exactly those; `npm ci --offline` installs them \
             without network from npm's cache, which holds them on a machine where callhost's \
             `cargo xtask build-plugins` ran (it installs them into \
             `plugins/ivr-menu-js/node_modules/` of that checkout; a symlink `node_modules` to \
             that directory works as well)."
        ),
        Language::C => "clang-19 with the wasm linker and builtins, and wasi-libc, from \
             Debian or Ubuntu (as root): `apt-get install -y clang-19 lld-19 \
             libclang-rt-19-dev-wasm32 wasi-libc` (callhost's `cargo xtask build-plugins` \
             installs the same packages). `callhost build-c` does the rest itself: it generates \
             `workflow.h` and `workflow.c` from `wit/` with wit-bindgen's C generator, compiles \
             every `*.c` of this directory into a WASI module, and makes the component with the \
             WASI preview1 adapter built into callhost."
            .to_string(),
    }
}

/// `text` as lines of at most 96 characters (longer words stay whole), as the README's other
/// paragraphs are.
fn wrap(text: &str) -> String {
    const WIDTH: usize = 96;
    let mut lines: Vec<String> = Vec::new();
    for word in text.split_whitespace() {
        match lines.last_mut() {
            Some(line) if line.len() + 1 + word.len() <= WIDTH => {
                line.push(' ');
                line.push_str(word);
            }
            _ => lines.push(word.to_string()),
        }
    }
    lines.join("\n")
}

/// The README's build instructions before the build command.
fn setup_text(plugin: &NewPlugin) -> String {
    match &plugin.setup {
        Some(setup) => format!("Once, in this directory: `{setup}`. Then:"),
        None => "In this directory:".to_string(),
    }
}

/// Lowercase letters, digits and single dashes, starting with a letter.
fn is_plugin_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_lowercase())
        && !name.ends_with('-')
        && !name.contains("--")
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// `front-desk` → `FrontDesk`, the Rust template's workflow type.
fn type_name(name: &str) -> String {
    name.split('-')
        .map(|word| {
            let mut chars = word.chars();
            chars
                .next()
                .map(|first| first.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect()
}

fn write(path: &Path, text: &str) -> Result<(), NewError> {
    let written = path
        .parent()
        .map_or(Ok(()), fs::create_dir_all)
        .and_then(|()| fs::write(path, text));
    written.map_err(|source| NewError::Write {
        path: path.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        for name in ["front-desk", "ivr2", "a"] {
            assert!(is_plugin_name(name), "{name}");
        }
        for name in [
            "",
            "Front",
            "2fa",
            "front--desk",
            "front-",
            "front_desk",
            "../x",
        ] {
            assert!(!is_plugin_name(name), "{name}");
        }
        assert_eq!(type_name("front-desk"), "FrontDesk");
    }

    /// The checkout these tests run in (tests only: the binary never looks for it).
    fn repository() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .unwrap()
            .canonicalize()
            .unwrap()
    }

    fn files_in(dir: &Path, extension: &str) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|name| name.ends_with(extension))
            .collect();
        names.sort();
        names
    }

    #[test]
    fn every_wit_file_is_embedded() {
        let embedded: Vec<&str> = WIT.iter().map(|(name, _)| *name).collect();
        let on_disk = files_in(&repository().join("wit"), ".wit");
        assert_eq!(embedded, on_disk, "update WIT in cli/new.rs to match wit/");
    }

    #[test]
    fn every_sdk_source_is_embedded_and_reads_its_own_wit() {
        let embedded: Vec<&str> = SDK_SOURCES.iter().map(|(name, _)| *name).collect();
        let on_disk = files_in(&repository().join("plugins/callhost-sdk/src"), ".rs");
        assert_eq!(
            embedded, on_disk,
            "update SDK_SOURCES in cli/new.rs to match plugins/callhost-sdk/src/"
        );
        let (_, lib) = SDK_SOURCES
            .iter()
            .find(|(name, _)| *name == "lib.rs")
            .unwrap();
        assert!(
            lib.contains(SDK_WIT_PATH.0),
            "the SDK's generate! path moved"
        );
        let written = sdk_lib_rs(lib);
        assert!(written.contains(SDK_WIT_PATH.1) && !written.contains("../../wit"));
    }

    #[test]
    fn the_sdk_copy_has_the_dependencies_of_the_sdk() {
        let read = |path: &str| -> toml::Table {
            toml::from_str(&fs::read_to_string(repository().join(path)).unwrap()).unwrap()
        };
        let workspace = read("plugins/Cargo.toml");
        let workspace_deps = workspace["workspace"]["dependencies"].as_table().unwrap();
        let sdk = read("plugins/callhost-sdk/Cargo.toml");
        let copy = read("templates/rust/callhost-sdk/Cargo.toml");
        let copy_deps = copy["dependencies"].as_table().unwrap();
        let sdk_deps = sdk["dependencies"].as_table().unwrap();
        assert_eq!(
            sdk_deps.keys().collect::<Vec<_>>(),
            copy_deps.keys().collect::<Vec<_>>()
        );
        for (name, spec) in copy_deps {
            assert_eq!(
                Some(spec),
                workspace_deps.get(name),
                "templates/rust/callhost-sdk/Cargo.toml: {name} differs from plugins/Cargo.toml"
            );
        }
    }

    #[test]
    fn the_js_lock_pins_what_package_json_asks_for() {
        let lock: serde_json::Value = serde_json::from_str(&js_lock("front-desk")).unwrap();
        assert_eq!(lock["name"], "front-desk");
        let root = &lock["packages"][""];
        assert_eq!(root["name"], "front-desk");
        let (_, package) = JS
            .iter()
            .find(|(path, _)| path.ends_with("package.json"))
            .unwrap();
        let package: serde_json::Value = serde_json::from_str(package).unwrap();
        assert_eq!(root["devDependencies"], package["devDependencies"]);
        let packages = &lock["packages"];
        assert_eq!(
            packages["node_modules/@bytecodealliance/componentize-js"]["version"],
            COMPONENTIZE_JS
        );
        assert_eq!(
            packages["node_modules/@bytecodealliance/preview2-shim"]["version"],
            PREVIEW2_SHIM
        );
    }

    #[test]
    fn paragraphs_are_wrapped() {
        let text = toolchain_text(Language::Js);
        let wrapped = wrap(&text);
        assert!(wrapped.lines().count() > 1);
        assert!(wrapped.lines().all(|line| line.len() <= 96), "{wrapped}");
        assert_eq!(
            wrapped.replace('\n', " "),
            text.split_whitespace().collect::<Vec<_>>().join(" ")
        );
    }

    #[test]
    fn nothing_written_names_the_repository() {
        let parent = tempfile::tempdir().unwrap();
        let repository = repository().display().to_string();
        for language in Language::ALL {
            let plugin = new(language, &format!("x-{}", language.key()), parent.path()).unwrap();
            for file in walk(&plugin.dir) {
                let text = fs::read_to_string(&file).unwrap();
                assert!(
                    !text.contains(&repository),
                    "{} names {repository}",
                    file.display()
                );
            }
            let readme = fs::read_to_string(plugin.dir.join("README.md")).unwrap();
            assert!(readme.contains(&plugin.build), "{readme}");
        }
    }

    #[test]
    fn makes_each_language_with_no_placeholder_left() {
        let parent = tempfile::tempdir().unwrap();
        for language in Language::ALL {
            let name = format!("hello-{}", language.key());
            let plugin = new(language, &name, parent.path()).unwrap();
            for entry in walk(&plugin.dir) {
                let text = fs::read_to_string(&entry).unwrap();
                assert!(
                    !text.contains("{{"),
                    "{} keeps a placeholder",
                    entry.display()
                );
            }
            assert_eq!(plugin.dir.join("wit").exists(), language.needs_wit());
            if language == Language::Rust {
                assert!(plugin.dir.join("callhost-sdk/wit/world.wit").is_file());
                assert!(plugin.dir.join("Cargo.lock").is_file());
            }
            assert!(matches!(
                new(language, &name, parent.path()),
                Err(NewError::Exists { .. })
            ));
        }
    }

    fn walk(dir: &Path) -> Vec<PathBuf> {
        let mut files = Vec::new();
        for entry in fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                files.extend(walk(&path));
            } else {
                files.push(path);
            }
        }
        files
    }
}

//! `callhost new --lang rust|python|js|c NAME [--dir DIR]`: a new workflow plugin from the
//! language's template (templates/<lang>/ of the repository, built into the binary), ready to
//! build, check and serve. It answers every call out of the box.

use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// The callhost checkout this binary was built from: the Rust template depends on its SDK, and
/// C plugins are built by its build tool.
const CALLHOST_ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");

/// The WIT contract, written into the plugins whose toolchain reads it from the project.
const WIT: &[(&str, &str)] = &[
    (
        "call-control.wit",
        include_str!("../../../wit/call-control.wit"),
    ),
    ("config.wit", include_str!("../../../wit/config.wit")),
    ("handler.wit", include_str!("../../../wit/handler.wit")),
    ("log.wit", include_str!("../../../wit/log.wit")),
    ("state.wit", include_str!("../../../wit/state.wit")),
    ("types.wit", include_str!("../../../wit/types.wit")),
    ("world.wit", include_str!("../../../wit/world.wit")),
];

/// A file of a template: its path in the new plugin, and its text with `{{…}}` placeholders.
type TemplateFile = (&'static str, &'static str);

macro_rules! template {
    ($($path:literal),* $(,)?) => {
        &[$(($path, include_str!(concat!("../../../templates/", $path)))),*]
    };
}

/// Files of every plugin, whatever its language.
const COMMON: &[TemplateFile] = template!("README.md", "scenario.toml");
const RUST: &[TemplateFile] = template!("rust/Cargo.toml", "rust/src/lib.rs", "rust/.gitignore");
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
        ("{{callhost}}", callhost_root().display().to_string()),
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
    if language.needs_wit() {
        for (file, text) in WIT {
            write(&plugin.dir.join("wit").join(file), text)?;
        }
    }
    Ok(plugin)
}

/// The build of each language.
fn describe(language: Language, name: &str, dir: PathBuf) -> NewPlugin {
    let (setup, build, wasm) = match language {
        Language::Rust => (
            None,
            "cargo build --release --target wasm32-wasip2".to_string(),
            format!(
                "target/wasm32-wasip2/release/{}.wasm",
                name.replace('-', "_")
            ),
        ),
        Language::Python => (
            Some(
                "python3 -m venv .venv && .venv/bin/pip install componentize-py==0.25.1"
                    .to_string(),
            ),
            format!(".venv/bin/componentize-py -d wit -w workflow componentize app -o {name}.wasm"),
            format!("{name}.wasm"),
        ),
        Language::Js => (
            Some("npm install".to_string()),
            "npm run build".to_string(),
            format!("{name}.wasm"),
        ),
        Language::C => (
            None,
            format!(
                "cargo run --quiet --release --manifest-path {}/Cargo.toml -p xtask -- build-c .",
                callhost_root().display()
            ),
            format!("{name}.wasm"),
        ),
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

/// What the README says a build needs.
fn setup_text(plugin: &NewPlugin) -> String {
    let needs = match plugin.language {
        Language::Rust => "Needs Rust's wasm32-wasip2 target (`rustup target add wasm32-wasip2`).",
        Language::Python => "Needs componentize-py 0.25.1 from PyPI.",
        Language::Js => "Needs Node.js 18 or newer, and ComponentizeJS from npm.",
        Language::C => {
            "Builds with callhost's build tool: it generates the bindings from wit/, compiles with \
             clang-19 and wasi-libc (installed with apt when missing: `apt-get install -y clang-19 \
             lld-19 libclang-rt-19-dev-wasm32 wasi-libc`) and makes the component."
        }
    };
    match &plugin.setup {
        Some(setup) => format!("{needs} Once, in this directory: `{setup}`."),
        None => needs.to_string(),
    }
}

fn callhost_root() -> PathBuf {
    let root = Path::new(CALLHOST_ROOT);
    root.canonicalize().unwrap_or_else(|_| root.to_path_buf())
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

    #[test]
    fn every_wit_file_is_embedded() {
        let wit_dir = callhost_root().join("wit");
        let mut on_disk: Vec<String> = fs::read_dir(&wit_dir)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|name| name.ends_with(".wit"))
            .collect();
        on_disk.sort();
        let embedded: Vec<&str> = WIT.iter().map(|(name, _)| *name).collect();
        assert_eq!(embedded, on_disk, "update WIT in cli/new.rs to match wit/");
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

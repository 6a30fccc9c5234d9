//! Compiled components on disk (`<content hash>-<engine hash>.cwasm`), so that a restart with
//! unchanged plugins compiles nothing. Python and JavaScript components take seconds to
//! compile; loading a cached one takes milliseconds.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};

use wasmtime::Engine;
use wasmtime::component::Component;

/// A directory of compiled components. Only callhost writes it; keep it private to the
/// service user.
#[derive(Debug, Clone)]
pub struct CompileCache {
    dir: PathBuf,
}

impl CompileCache {
    /// Opens (and creates) the cache directory.
    pub fn open(dir: impl Into<PathBuf>) -> std::io::Result<Self> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir)?;
        Ok(Self { dir })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path_for(&self, engine: &Engine, content_hash: &str) -> PathBuf {
        let mut hasher = DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        self.dir
            .join(format!("{content_hash}-{:016x}.cwasm", hasher.finish()))
    }

    /// The compiled component for `bytes`, from the cache when present, else compiled and
    /// stored. Returns whether it came from the cache.
    pub(crate) fn load_or_compile(
        &self,
        engine: &Engine,
        bytes: &[u8],
        content_hash: &str,
    ) -> wasmtime::Result<(Component, bool)> {
        let path = self.path_for(engine, content_hash);
        if path.exists() {
            match deserialize(engine, &path) {
                Ok(component) => return Ok((component, true)),
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "discarding unreadable compile cache entry")
                }
            }
        }
        let component = Component::new(engine, bytes)?;
        if let Err(e) = self.store(&path, &component) {
            tracing::warn!(path = %path.display(), error = %e, "could not write the compile cache; plugins will be compiled again at the next start");
        }
        Ok((component, false))
    }

    fn store(&self, path: &Path, component: &Component) -> anyhow::Result<()> {
        let serialized = component.serialize()?;
        // Write beside the final name and rename, so a reader never sees a partial file.
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        std::fs::write(&tmp, serialized)?;
        std::fs::rename(&tmp, path)?;
        Ok(())
    }
}

#[allow(unsafe_code)]
fn deserialize(engine: &Engine, path: &Path) -> wasmtime::Result<Component> {
    // SAFETY: `deserialize_file` trusts the file to be a compiled component from a compatible
    // engine. Files in this directory are written only by `CompileCache::store` (atomically,
    // via rename) from `Component::serialize`, and their name carries the engine's
    // compatibility hash; wasmtime checks the header and version again on load.
    unsafe { Component::deserialize_file(engine, path) }
}

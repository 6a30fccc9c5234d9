//! Watches files for new contents: plugin components and the configuration file.
//!
//! Each file is watched through its directory. A deployer or editor that writes a temporary
//! file and renames it over the old one replaces the inode, and a watch on the file itself
//! would follow the old inode and miss every later change. Only events that can mean new
//! contents are reported: reading a file (as the reloader does) raises open, read and close
//! events, and reacting to those would reload for ever.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use notify::event::{AccessKind, AccessMode, ModifyKind};
use notify::{Event, EventKind, RecommendedWatcher, RecursiveMode, Watcher as _};
use tokio::sync::mpsc;

/// A notify watcher over the directories of the watched files.
pub(crate) struct FileWatcher {
    watcher: RecommendedWatcher,
    dirs: BTreeSet<PathBuf>,
}

impl FileWatcher {
    /// Starts watching nothing; paths that may have new contents go to `changes`, named as
    /// [`watched_path`] names them.
    pub(crate) fn new(changes: mpsc::UnboundedSender<PathBuf>) -> notify::Result<Self> {
        let watcher = notify::recommended_watcher(
            move |event: notify::Result<Event>| match event {
                Ok(event) if may_change_contents(&event.kind) => {
                    for path in event.paths {
                        let _ = changes.send(path);
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "file watcher error; changes may be missed until the next reload")
                }
            },
        )?;
        Ok(Self {
            watcher,
            dirs: BTreeSet::new(),
        })
    }

    /// Watches the directories of `files` (as named by [`watched_path`]), and no others.
    pub(crate) fn watch<'a>(&mut self, files: impl IntoIterator<Item = &'a PathBuf>) {
        let wanted: BTreeSet<PathBuf> = files
            .into_iter()
            .filter_map(|f| f.parent().map(Path::to_path_buf))
            .collect();
        for gone in self.dirs.difference(&wanted) {
            if let Err(e) = self.watcher.unwatch(gone) {
                tracing::debug!(dir = %gone.display(), error = %e, "unwatching a directory");
            }
        }
        let mut watched = BTreeSet::new();
        for dir in wanted {
            if self.dirs.contains(&dir) {
                watched.insert(dir);
                continue;
            }
            match self.watcher.watch(&dir, RecursiveMode::NonRecursive) {
                Ok(()) => {
                    tracing::debug!(dir = %dir.display(), "watching for plugin and configuration changes");
                    watched.insert(dir);
                }
                Err(e) => {
                    tracing::warn!(dir = %dir.display(), error = %e, "cannot watch this directory: its files reload only on SIGHUP or POST /admin/plugins/{{id}}/reload")
                }
            }
        }
        self.dirs = watched;
    }
}

/// The path under which events name `file`: its directory resolved (symlinks, `..`, relative
/// parts), then its name. `None` when the directory does not exist.
pub(crate) fn watched_path(file: &Path) -> Option<PathBuf> {
    let dir = match file.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    Some(std::fs::canonicalize(dir).ok()?.join(file.file_name()?))
}

/// Whether an event can mean that a file has new contents (or is gone, or appeared).
fn may_change_contents(kind: &EventKind) -> bool {
    match kind {
        // A writer closed the file.
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        // Opens, reads and read-only closes: the reloader's own reads among them.
        EventKind::Access(_) => false,
        // Permissions and timestamps (`touch` also closes for writing, which counts).
        EventKind::Modify(ModifyKind::Metadata(_)) => false,
        EventKind::Any
        | EventKind::Create(_)
        | EventKind::Modify(_)
        | EventKind::Remove(_)
        | EventKind::Other => true,
    }
}

#[cfg(test)]
mod tests {
    use notify::event::{CreateKind, DataChange, MetadataKind, RemoveKind, RenameMode};

    use super::*;

    #[test]
    fn writes_renames_and_removals_count_but_reads_do_not() {
        let counted = [
            EventKind::Create(CreateKind::File),
            EventKind::Modify(ModifyKind::Data(DataChange::Any)),
            EventKind::Modify(ModifyKind::Name(RenameMode::To)),
            EventKind::Modify(ModifyKind::Name(RenameMode::Both)),
            EventKind::Remove(RemoveKind::File),
            EventKind::Access(AccessKind::Close(AccessMode::Write)),
        ];
        for kind in counted {
            assert!(may_change_contents(&kind), "{kind:?}");
        }
        let ignored = [
            EventKind::Access(AccessKind::Open(AccessMode::Any)),
            EventKind::Access(AccessKind::Read),
            EventKind::Access(AccessKind::Close(AccessMode::Read)),
            EventKind::Modify(ModifyKind::Metadata(MetadataKind::Any)),
        ];
        for kind in ignored {
            assert!(!may_change_contents(&kind), "{kind:?}");
        }
    }

    #[test]
    fn watched_paths_resolve_the_directory() {
        let dir = tempfile::tempdir().unwrap();
        let canonical = std::fs::canonicalize(dir.path()).unwrap();
        let file = dir.path().join("sub/../plugin.wasm");
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        assert_eq!(watched_path(&file).unwrap(), canonical.join("plugin.wasm"));
        assert!(watched_path(&dir.path().join("missing/plugin.wasm")).is_none());
    }
}

//! Atomic file writes for every crate that writes files: each file is
//! written to `.{name}.tmp-{pid}` beside its target and renamed into place
//! on commit, so a reader never sees half a file. Temporary files are listed
//! in one process-wide registry while they exist, so that a signal handler
//! can remove them all ([`remove_pending_temp_files`]) before the process
//! exits, whichever crate was writing.
//!
//! A target that exists and is not a regular file (`/dev/null`, a named
//! pipe, `/dev/stdout`) is written directly: renaming a file over it would
//! replace the device or pipe itself.
//!
//! Errors are plain [`std::io::Error`]s; callers add the path.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

static PENDING: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

fn pending() -> MutexGuard<'static, Vec<PathBuf>> {
    PENDING
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn forget(temp: &Path) {
    pending().retain(|p| p != temp);
}

/// Temporary files currently being written by this process (not yet renamed
/// into place).
pub fn pending_temp_files() -> Vec<PathBuf> {
    pending().clone()
}

/// Removes every pending temporary file (ignoring errors) and forgets them.
///
/// Meant for a SIGINT/SIGTERM path, called from an ordinary thread (such as
/// `signal_hook::iterator::Signals`' thread) right before exiting; it takes a
/// lock, so it must not be called from inside a raw signal handler.
pub fn remove_pending_temp_files() {
    let mut list = pending();
    for path in list.drain(..) {
        let _ = fs::remove_file(path);
    }
}

/// The temporary path used while writing `target`: `.{name}.tmp-{pid}` in the
/// same directory.
pub fn temp_path_for(target: &Path) -> io::Result<PathBuf> {
    let name = target.file_name().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "output path does not name a file",
        )
    })?;
    let parent = match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    Ok(parent.join(format!(
        ".{}.tmp-{}",
        name.to_string_lossy(),
        std::process::id()
    )))
}

/// Whether `target` exists and is neither a regular file nor a directory
/// (a device, a named pipe, a socket), following symlinks.
fn is_special(target: &Path) -> bool {
    fs::metadata(target).is_ok_and(|m| !m.is_file() && !m.is_dir())
}

/// Flushes `file` to disk. Devices and pipes cannot be synced (`EINVAL`);
/// for them there is nothing to wait for, so that is not an error.
pub fn sync(file: &File) -> io::Result<()> {
    match file.sync_all() {
        Err(e) if e.kind() == io::ErrorKind::InvalidInput => Ok(()),
        other => other,
    }
}

/// Writes `bytes` to `path` through a temporary file beside it, synced, then
/// renamed into place; the temporary file is pending while it exists.
pub fn write_file_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let (temp, mut file) = TempFile::create(path)?;
    file.write_all(bytes)?;
    sync(&file)?;
    drop(file);
    temp.commit()
}

/// A temporary file that becomes its target on [`TempFile::commit`] and is
/// removed if dropped before.
#[derive(Debug)]
pub struct TempFile {
    /// `None` when the target is written directly (see [`TempFile::create`]).
    temp: Option<PathBuf>,
    target: PathBuf,
    committed: bool,
}

impl TempFile {
    /// Creates (or truncates) the temporary file for `target` and lists it
    /// as pending. A target that exists and is not a regular file or a
    /// directory (`/dev/null`, a named pipe) is opened for writing instead,
    /// with no temporary file.
    pub fn create(target: &Path) -> io::Result<(TempFile, File)> {
        if is_special(target) {
            let file = OpenOptions::new().write(true).open(target)?;
            let direct = TempFile {
                temp: None,
                target: target.to_path_buf(),
                committed: false,
            };
            return Ok((direct, file));
        }
        let temp = temp_path_for(target)?;
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&temp)?;
        pending().push(temp.clone());
        Ok((
            TempFile {
                temp: Some(temp),
                target: target.to_path_buf(),
                committed: false,
            },
            file,
        ))
    }

    /// The temporary file; `None` when the target is written directly.
    pub fn temp_path(&self) -> Option<&Path> {
        self.temp.as_deref()
    }

    pub fn target(&self) -> &Path {
        &self.target
    }

    /// Renames the temporary file onto the target.
    pub fn commit(mut self) -> io::Result<()> {
        if let Some(temp) = &self.temp {
            fs::rename(temp, &self.target)?;
            forget(temp);
        }
        self.committed = true;
        Ok(())
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if let (false, Some(temp)) = (self.committed, &self.temp) {
            let _ = fs::remove_file(temp);
            forget(temp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{RwLock, RwLockReadGuard};

    /// `remove_pending_temp_files` removes every pending file of the process:
    /// tests that write hold this for reading, the test that removes holds it
    /// for writing.
    static TEMP_FILES: RwLock<()> = RwLock::new(());

    fn writing() -> RwLockReadGuard<'static, ()> {
        TEMP_FILES.read().unwrap_or_else(|p| p.into_inner())
    }

    #[test]
    fn a_write_replaces_the_target_and_leaves_no_temp_file() {
        let _writing = writing();
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out.json");
        fs::write(&target, b"old").unwrap();
        write_file_atomic(&target, b"new").unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"new");
        let names: Vec<_> = fs::read_dir(dir.path()).unwrap().flatten().collect();
        assert_eq!(names.len(), 1, "{names:?}");
        assert!(!pending_temp_files().contains(&temp_path_for(&target).unwrap()));
    }

    #[test]
    fn an_uncommitted_temp_file_is_pending_until_dropped_or_removed() {
        let _removing = TEMP_FILES.write().unwrap_or_else(|p| p.into_inner());
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("model.safetensors");
        fs::write(&target, b"previous").unwrap();

        let (temp, _file) = TempFile::create(&target).unwrap();
        let path = temp.temp_path().unwrap().to_path_buf();
        assert_eq!(path.parent(), target.parent());
        assert!(path.is_file() && pending_temp_files().contains(&path));
        drop(temp);
        assert!(!path.exists() && !pending_temp_files().contains(&path));

        // What an interrupt does: every pending file goes, the target stays.
        let (temp, _file) = TempFile::create(&target).unwrap();
        let path = temp.temp_path().unwrap().to_path_buf();
        remove_pending_temp_files();
        assert!(!path.exists() && !pending_temp_files().contains(&path));
        assert_eq!(fs::read(&target).unwrap(), b"previous");
        drop(temp);
    }

    #[test]
    fn a_device_or_pipe_is_written_in_place_not_replaced() {
        let _writing = writing();
        let dir = tempfile::tempdir().unwrap();
        // A symlink to /dev/null, as `-o /dev/null` or `-o /dev/stdout` give.
        let null = dir.path().join("null");
        std::os::unix::fs::symlink("/dev/null", &null).unwrap();
        let (temp, mut file) = TempFile::create(&null).unwrap();
        assert!(temp.temp_path().is_none());
        file.write_all(b"discarded").unwrap();
        sync(&file).unwrap();
        temp.commit().unwrap();
        write_file_atomic(&null, b"also discarded").unwrap();
        assert!(fs::symlink_metadata(&null)
            .unwrap()
            .file_type()
            .is_symlink());
        assert!(
            !fs::metadata("/dev/null").unwrap().is_file(),
            "/dev/null was replaced"
        );
        let names: Vec<_> = fs::read_dir(dir.path()).unwrap().flatten().collect();
        assert_eq!(names.len(), 1, "no temporary file: {names:?}");
    }

    #[test]
    fn a_path_without_a_file_name_is_an_error() {
        let _writing = writing();
        assert!(temp_path_for(Path::new("/")).is_err());
        assert!(write_file_atomic(Path::new("/"), b"x").is_err());
    }
}

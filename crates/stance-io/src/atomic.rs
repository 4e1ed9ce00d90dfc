//! Atomic file creation: write to `.{name}.tmp-{pid}` beside the target, rename on
//! commit, remove on drop. Pending temporary files are tracked in a process-wide
//! registry so that a signal handler thread can remove them.

use std::fs::{self, File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use crate::IoError;

static PENDING: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

fn pending() -> MutexGuard<'static, Vec<PathBuf>> {
    PENDING
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
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
pub fn temp_path_for(target: &Path) -> Result<PathBuf, IoError> {
    let name = target.file_name().ok_or_else(|| IoError::Io {
        path: target.to_path_buf(),
        err: std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "output path does not name a file",
        ),
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

/// Writes `bytes` to `path` through a temporary file beside it, renamed into
/// place once synced; the temporary file is listed by [`pending_temp_files`]
/// while it exists, so an interrupt removes it.
pub fn write_file_atomic(path: &Path, bytes: &[u8]) -> Result<(), IoError> {
    use std::io::Write;
    let (temp, mut file) = TempFile::create(path)?;
    let io = |err| IoError::Io {
        path: path.to_path_buf(),
        err,
    };
    file.write_all(bytes).map_err(io)?;
    file.sync_all().map_err(io)?;
    drop(file);
    temp.commit()
}

/// A temporary file that becomes `target` on [`TempFile::commit`] and is
/// removed if dropped before.
#[derive(Debug)]
pub(crate) struct TempFile {
    temp: PathBuf,
    target: PathBuf,
    committed: bool,
}

impl TempFile {
    pub(crate) fn create(target: &Path) -> Result<(TempFile, File), IoError> {
        let temp = temp_path_for(target)?;
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&temp)
            .map_err(|err| IoError::Io {
                path: target.to_path_buf(),
                err,
            })?;
        pending().push(temp.clone());
        Ok((
            TempFile {
                temp,
                target: target.to_path_buf(),
                committed: false,
            },
            file,
        ))
    }

    pub(crate) fn temp_path(&self) -> &Path {
        &self.temp
    }

    pub(crate) fn commit(mut self) -> Result<(), IoError> {
        fs::rename(&self.temp, &self.target).map_err(|err| IoError::Io {
            path: self.target.clone(),
            err,
        })?;
        self.committed = true;
        forget(&self.temp);
        Ok(())
    }
}

fn forget(temp: &Path) {
    pending().retain(|p| p != temp);
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_file(&self.temp);
            forget(&self.temp);
        }
    }
}

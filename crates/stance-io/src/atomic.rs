//! Atomic file creation through `stance-atomic`, with errors naming the target.

use std::fs::File;
use std::path::{Path, PathBuf};

use crate::IoError;

pub use stance_atomic::{pending_temp_files, remove_pending_temp_files, sync};

fn at(path: &Path) -> impl FnOnce(std::io::Error) -> IoError + '_ {
    move |err| IoError::Io {
        path: path.to_path_buf(),
        err,
    }
}

/// The temporary path used while writing `target`: `.{name}.tmp-{pid}` in the
/// same directory.
pub fn temp_path_for(target: &Path) -> Result<PathBuf, IoError> {
    stance_atomic::temp_path_for(target).map_err(at(target))
}

/// Writes `bytes` to `path` through a temporary file beside it, renamed into
/// place once synced; the temporary file is listed by [`pending_temp_files`]
/// while it exists, so an interrupt removes it.
pub fn write_file_atomic(path: &Path, bytes: &[u8]) -> Result<(), IoError> {
    stance_atomic::write_file_atomic(path, bytes).map_err(at(path))
}

/// A temporary file that becomes `target` on [`TempFile::commit`] and is
/// removed if dropped before.
#[derive(Debug)]
pub(crate) struct TempFile(stance_atomic::TempFile);

impl TempFile {
    pub(crate) fn create(target: &Path) -> Result<(TempFile, File), IoError> {
        let (temp, file) = stance_atomic::TempFile::create(target).map_err(at(target))?;
        Ok((TempFile(temp), file))
    }

    /// `None` when the target (a device or pipe) is written directly.
    pub(crate) fn temp_path(&self) -> Option<&Path> {
        self.0.temp_path()
    }

    pub(crate) fn commit(self) -> Result<(), IoError> {
        let target = self.0.target().to_path_buf();
        self.0.commit().map_err(at(&target))
    }
}

//! SIGINT and SIGTERM: remove the temporary files of unfinished outputs, then exit.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

static REQUESTED: AtomicBool = AtomicBool::new(false);

/// Model directories this process writes (train, calibrate): their
/// temporary files are removed on interrupt too.
static MODEL_DIRS: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// Makes an interrupt remove this process's temporary files in `dir`
/// (`.{name}.tmp-{pid}`, written while a model file is saved).
pub fn watch_model_dir(dir: &Path) {
    if let Ok(mut dirs) = MODEL_DIRS.lock() {
        dirs.push(dir.to_path_buf());
    }
}

/// Removes the files in `dir` named `.{name}.tmp-{pid}`; other files stay.
fn remove_model_temp_files(dir: &Path, pid: u32) {
    let suffix = format!(".tmp-{pid}");
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') && name.ends_with(&suffix) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Installs a handler thread: on the first signal it removes every pending
/// temporary output file (the previous output stays intact) and exits with 128 + the signal number (130 for SIGINT, 143 for SIGTERM).
pub fn install() {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM]) else {
        return;
    };
    std::thread::spawn(move || {
        if let Some(signal) = signals.forever().next() {
            REQUESTED.store(true, Ordering::SeqCst);
            stance_io::remove_pending_temp_files();
            let dirs = MODEL_DIRS.lock().map(|d| d.clone()).unwrap_or_default();
            for dir in dirs {
                remove_model_temp_files(&dir, std::process::id());
            }
            eprintln!("\nstance: interrupted; no partial output was left");
            std::process::exit(128 + signal);
        }
    });
}

pub fn requested() -> bool {
    REQUESTED.load(Ordering::SeqCst)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_this_process_temp_files_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let ours = dir.path().join(".model.safetensors.tmp-4242");
        let other_process = dir.path().join(".model.safetensors.tmp-4243");
        let model = dir.path().join("model.safetensors");
        for path in [&ours, &other_process, &model] {
            std::fs::write(path, b"x").unwrap();
        }
        remove_model_temp_files(dir.path(), 4242);
        assert!(!ours.exists());
        assert!(other_process.exists() && model.exists());
    }
}

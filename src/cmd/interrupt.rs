//! SIGINT and SIGTERM: remove the temporary files of unfinished outputs, then exit.

use std::sync::atomic::{AtomicBool, Ordering};

static REQUESTED: AtomicBool = AtomicBool::new(false);

/// Installs a handler thread: on the first signal it removes every pending
/// temporary file (outputs, model files; all are written through
/// `stance-atomic`, so the previous versions stay intact) and exits with
/// 128 + the signal number (130 for SIGINT, 143 for SIGTERM).
pub fn install() {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM]) else {
        return;
    };
    std::thread::spawn(move || {
        if let Some(signal) = signals.forever().next() {
            REQUESTED.store(true, Ordering::SeqCst);
            stance_io::remove_pending_temp_files();
            eprintln!("\nstance: interrupted; no partial output was left");
            std::process::exit(128 + signal);
        }
    });
}

pub fn requested() -> bool {
    REQUESTED.load(Ordering::SeqCst)
}

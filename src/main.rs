//! `stance`: sentence-level stance labelling of security communiqués.

mod cmd;
mod progress;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Label the sentences of security communiqués as condemnation, commitment,
/// diplomatic-opening or other, train and evaluate the model that does it.
///
/// Exit status: 0 on success; 1 when an evaluation falls below
/// --min-macro-f1; 2 on bad input, a bad model or any other error;
/// 130 on SIGINT and 143 on SIGTERM (no partial output is left behind).
#[derive(Parser)]
#[command(name = "stance", version, about, long_about, max_term_width = 100)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    Label(cmd::label::Args),
    Train(cmd::train::Args),
    Eval(cmd::eval::Args),
    Calibrate(cmd::calibrate::Args),
    Summarize(cmd::summarize::Args),
}

/// Keeps freed tensor buffers in the heap instead of returning them to the
/// kernel after every operation: candle allocates a fresh buffer per op, and
/// with glibc's defaults a third of training time went to page faults
/// (measured: 9.4 s of 57 s system time on a 320-sentence epoch, 1.7 s after).
/// Only for training: labelling allocates small per-batch buffers, where the
/// defaults are as fast and keep peak memory lower (305 MB against 372 MB on
/// 24,000 sentences, same speed). Environment settings (`MALLOC_*_`) win when
/// present.
fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        let set_by_user =
            std::env::vars_os().any(|(k, _)| k.to_string_lossy().starts_with("MALLOC_"));
        if !set_by_user {
            // SAFETY: mallopt only changes allocator tuning parameters.
            unsafe {
                libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
                libc::mallopt(libc::M_TRIM_THRESHOLD, 512 << 20);
                libc::mallopt(libc::M_TOP_PAD, 64 << 20);
            }
        }
    }
}

/// Keeps library backtraces out of error messages: with `RUST_BACKTRACE=1`
/// candle attaches a backtrace to each error and prints it as part of the
/// message. Panics still get theirs; `RUST_LIB_BACKTRACE=1` brings them back.
fn quiet_error_backtraces() {
    if std::env::var_os("RUST_LIB_BACKTRACE").is_none() {
        // Single-threaded here: nothing else reads the environment yet.
        std::env::set_var("RUST_LIB_BACKTRACE", "0");
    }
}

fn main() -> ExitCode {
    quiet_error_backtraces();
    let cli = Cli::parse();
    if matches!(cli.command, Command::Train(_)) {
        tune_allocator();
    }
    cmd::interrupt::install();
    let result = match cli.command {
        Command::Label(args) => cmd::label::run(args),
        Command::Train(args) => cmd::train::run(args),
        Command::Eval(args) => cmd::eval::run(args),
        Command::Calibrate(args) => cmd::calibrate::run(args),
        Command::Summarize(args) => cmd::summarize::run(args),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            if cmd::is_broken_pipe(&err) {
                return ExitCode::SUCCESS;
            }
            if cmd::interrupt::requested() {
                eprintln!("stance: interrupted; no partial output was left");
                return ExitCode::from(130);
            }
            let mut shown = err.to_string();
            eprintln!("error: {shown}");
            for cause in err.chain().skip(1) {
                // Errors that print their source inline (`{path}: {source}`)
                // would otherwise repeat it as a cause of its own.
                let text = cause.to_string();
                if shown.contains(&text) {
                    continue;
                }
                eprintln!("  caused by: {text}");
                shown = text;
            }
            ExitCode::from(2)
        }
    }
}

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
/// 130 when interrupted (no partial output is left behind).
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

fn main() -> ExitCode {
    let cli = Cli::parse();
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
            eprintln!("error: {err}");
            for cause in err.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            ExitCode::from(2)
        }
    }
}

//! The `lockstep` command line: parses arguments, asks the [`Registry`] to check,
//! and prints reports. Exit codes (contract): 0 holds / passed, 1 violation,
//! 2 bad input or usage, 3 inconclusive.
//!
//! Everything is callable in-process ([`run_cli`]) so tests can drive the CLI
//! without spawning a binary.

pub mod args;
pub mod bench_table;
pub mod commands;
pub mod commands_scenarios;
pub mod conform;
pub mod emit_test;
pub mod output;
pub mod registry;
pub mod sweep;

use std::io::Write;

use clap::Parser;

pub use registry::{
    BenchOptions, BenchSection, HeadlineItem, LevelEntry, ModelEntry, Params, Registry, ReplayWhat,
    Request,
};

/// Exit code for bad input or usage.
pub const EXIT_USAGE: i32 = 2;

/// An error that maps to exit code 2 (bad input or usage), printed as `error: ...`.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// Entry point of a `lockstep` binary: parses `std::env::args`, runs, returns
/// the exit code.
pub fn main_with(registry: Registry) -> i32 {
    let args: Vec<String> = std::env::args().collect();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    run_cli(&registry, &args, &mut out)
}

/// Runs the CLI on `args` (including the program name), writing to `out`.
pub fn run_cli(registry: &Registry, args: &[String], out: &mut dyn Write) -> i32 {
    let cli = match args::Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(err) => {
            let code = if err.use_stderr() { EXIT_USAGE } else { 0 };
            // --help and --version go to stdout and exit 0; real usage errors exit 2.
            if err.use_stderr() {
                eprint!("{}", err.render());
            } else {
                let _ = write!(out, "{}", err.render());
            }
            return code;
        }
    };
    let result = match cli.command {
        None => commands::headline(registry, out),
        Some(args::Command::List) => commands::list(registry, out),
        Some(args::Command::Check(a)) => commands::check(registry, &a, out),
        Some(args::Command::Run(a)) => commands::run(registry, &a, out),
        Some(args::Command::Replay(a)) => commands::replay(registry, &a, out),
        Some(args::Command::Sweep(a)) => commands::sweep(registry, &a, out),
        Some(args::Command::Bench(a)) => commands::bench(registry, &a, out),
        Some(args::Command::Conform(a)) => conform::conform(registry, &a, out),
    };
    match result {
        Ok(code) => code,
        Err(UsageError(message)) => {
            eprintln!("error: {message}");
            EXIT_USAGE
        }
    }
}

/// Whether a progress bar may be drawn: on a terminal only, so never when
/// stdout is piped or redirected, when stderr is, or with `--json`.
pub fn progress_allowed(json: bool) -> bool {
    use std::io::IsTerminal;
    progress_wanted(
        json,
        std::io::stdout().is_terminal(),
        std::io::stderr().is_terminal(),
    )
}

/// The rule of [`progress_allowed`], given what is a terminal.
pub fn progress_wanted(json: bool, stdout_is_terminal: bool, stderr_is_terminal: bool) -> bool {
    !json && stdout_is_terminal && stderr_is_terminal
}

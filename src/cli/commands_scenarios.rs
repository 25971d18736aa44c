//! Scenario-driven commands: `run`, `replay`, `sweep`.

use std::io::Write;

use super::args::{ReplayArgs, RunArgs, SweepArgs};
use super::registry::Registry;
use super::UsageError;

type CmdResult = Result<i32, UsageError>;

/// Every `*.toml` below `dir`, sorted (deterministic order).
pub fn scenario_files(dir: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![std::path::PathBuf::from(dir)];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else { continue };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "toml") {
                found.push(p.to_string_lossy().into_owned());
            }
        }
    }
    found.sort();
    found
}

pub fn run(_registry: &Registry, _args: &RunArgs, _out: &mut dyn Write) -> CmdResult {
    Err(UsageError("`run` is not wired yet".into()))
}

pub fn replay(_registry: &Registry, _args: &ReplayArgs, _out: &mut dyn Write) -> CmdResult {
    Err(UsageError("`replay` is not wired yet".into()))
}

pub fn sweep(_registry: &Registry, _args: &SweepArgs, _out: &mut dyn Write) -> CmdResult {
    Err(UsageError("`sweep` is not wired yet".into()))
}

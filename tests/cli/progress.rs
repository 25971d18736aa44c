//! Progress bars: drawn on stderr for long checks and sweeps when stdout and
//! stderr are terminals, never when stdout is piped or redirected, when
//! stderr is, or with `--json` (the real binary, under a pseudo-terminal from
//! util-linux `script` where one is available).

use std::process::{Command, Stdio};

use lockstep::cli::progress_wanted;

/// A DFS of a few hundred runs (the bar redraws every 64).
const DFS: &[&str] = &[
    "check",
    "host",
    "--variant",
    "fix-11825",
    "--level",
    "impl",
    "--bound",
    "restarts=0",
    "--bound",
    "worker_timeouts=0",
];

fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_lockstep")
}

fn scenario(name: &str) -> String {
    format!("{}/../scenarios/host/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// What a drawn bar always shows.
fn has_bar(text: &str) -> bool {
    text.contains(" runs [")
}

#[test]
fn the_rule_is_terminals_only_and_never_json() {
    assert!(progress_wanted(false, true, true));
    assert!(!progress_wanted(true, true, true), "--json");
    assert!(!progress_wanted(false, false, true), "stdout piped");
    assert!(!progress_wanted(false, true, false), "stderr piped");
}

#[test]
fn piped_output_carries_no_progress() {
    let sweep_target = scenario("impl-storage-outage-seed.toml");
    let sweep: Vec<&str> = vec!["sweep", &sweep_target, "--seeds", "0..100"];
    let mut dfs_json: Vec<&str> = DFS.to_vec();
    dfs_json.push("--json");
    for args in [DFS.to_vec(), dfs_json, sweep] {
        let out = Command::new(binary())
            .args(&args)
            .stdin(Stdio::null())
            .output()
            .expect("run the lockstep binary");
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
        );
        assert_eq!(out.status.code(), Some(0), "{args:?}: {stdout}{stderr}");
        assert!(stderr.is_empty(), "{args:?}: stderr {stderr:?}");
        assert!(
            !has_bar(&stdout) && !stdout.contains('\r'),
            "{args:?}: {stdout}"
        );
    }
}

/// Runs `shell` under a pseudo-terminal; returns everything the terminal got,
/// or `None` without util-linux `script`.
fn on_terminal(shell: &str) -> Option<String> {
    let log = std::env::temp_dir().join(format!(
        "lockstep-progress-{}-{}",
        std::process::id(),
        shell.len()
    ));
    let status = Command::new("script")
        .args(["-q", "-e", "-c", shell])
        .arg(&log)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .ok()?;
    let text = std::fs::read_to_string(&log).ok()?;
    let _ = std::fs::remove_file(&log);
    status.success().then_some(text)
}

#[test]
fn a_terminal_gets_the_bar_unless_stdout_is_redirected_or_json() {
    let command = format!("{} {}", binary(), DFS.join(" "));
    let Some(drawn) = on_terminal(&command) else {
        eprintln!("skipped: util-linux `script` (a pseudo-terminal) is not available");
        return;
    };
    // Positive control: on a terminal the DFS draws its bar.
    assert!(has_bar(&drawn), "no bar on a terminal: {drawn}");
    assert!(drawn.contains("dfs "), "{drawn}");
    let redirected = std::env::temp_dir().join(format!("lockstep-stdout-{}", std::process::id()));
    let quiet = on_terminal(&format!("{command} > {}", redirected.display())).unwrap();
    let _ = std::fs::remove_file(&redirected);
    assert!(!has_bar(&quiet), "stdout redirected, yet a bar: {quiet}");
    let json = on_terminal(&format!("{command} --json")).unwrap();
    assert!(!has_bar(&json), "--json, yet a bar: {json}");
    let sweep = format!(
        "{} sweep {} --seeds 0..200",
        binary(),
        scenario("impl-storage-outage-seed.toml")
    );
    let swept = on_terminal(&sweep).unwrap();
    // (the log's header repeats the command, so look for the bar itself)
    assert!(has_bar(&swept), "no sweep bar on a terminal: {swept}");
}

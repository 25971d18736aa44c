//! Every renderer on the host `pre-10766` counterexample (insta snapshots), the
//! deadlock explained in words and as pictures, and the HTML report in headless
//! Chromium (skipped with a message when no browser is installed).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use lockstep::cli::commands_scenarios::render_trace;
use lockstep::trace::{self, waitfor_text};

use super::pre_10766_report;

#[test]
fn every_renderer_on_the_pre_10766_counterexample() {
    let mut report = pre_10766_report();
    // The checker's notes (memory per state, liveness method) are not part of the
    // counterexample and change with the checker: keep them out of the snapshots.
    report.notes.clear();
    for format in [
        "text", "list", "json", "mermaid", "chrome", "html", "waitfor",
    ] {
        let rendered = render_trace(&report, format).unwrap();
        insta::assert_snapshot!(format!("pre_10766_{format}"), rendered);
    }
}

#[test]
fn the_deadlock_is_explained_in_words() {
    let report = pre_10766_report();
    assert_eq!(
        waitfor_text::explain(&report.wait_for),
        "start#2 (RestartHost inline) holds host-start-semaphore, waits on host-start-semaphore \
         held by start#2 itself"
    );
    let (_, text) = crate::cli::cli(&["check", "host", "--variant", "pre-10766"]);
    assert!(
        text.contains("  in words: start#2 (RestartHost inline) holds host-start-semaphore"),
        "{text}"
    );
}

#[test]
fn html_is_self_contained_with_one_lane_per_task() {
    let report = pre_10766_report();
    let html = trace::to_html(&report);
    let lanes = trace::tasks_in_order(&report.trace).len();
    assert_eq!(lanes, 4, "init, environment, start#1, start#2");
    assert_eq!(html.matches("<g class=\"lane\"").count(), lanes);
    for needle in [
        "<svg class=\"timeline\"",
        "<svg class=\"waitfor\"",
        "attempts=4",
        &report.replay,
    ] {
        assert!(
            html.contains(&lockstep_html_escape(needle)),
            "missing {needle}"
        );
    }
    for banned in ["<link", " src=", "@import", "url(http"] {
        assert!(!html.contains(banned), "the file must not load `{banned}`");
    }
}

fn lockstep_html_escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('\'', "&#39;")
}

/// A Chromium binary: `$CHROMIUM`, else the usual names on `$PATH`.
fn chromium() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("CHROMIUM") {
        return Some(PathBuf::from(path));
    }
    let path = std::env::var_os("PATH")?;
    [
        "chromium",
        "chromium-browser",
        "google-chrome",
        "google-chrome-stable",
    ]
    .iter()
    .flat_map(|name| std::env::split_paths(&path).map(move |dir| dir.join(name)))
    .find(|candidate| candidate.is_file())
}

/// Runs headless Chromium on `url` with `extra` flags; a hung browser is killed
/// after `limit_s` seconds (a safety stop, not a timing assertion).
fn headless(browser: &Path, profile: &Path, extra: &[String], url: &str, limit_s: u64) -> String {
    let mut child = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(url)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromium starts");
    for _ in 0..limit_s * 10 {
        if child.try_wait().expect("wait").is_some() {
            let mut out = String::new();
            use std::io::Read;
            child
                .stdout
                .take()
                .unwrap()
                .read_to_string(&mut out)
                .unwrap();
            return out;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let _ = child.kill();
    panic!("chromium did not finish within {limit_s} s");
}

#[test]
fn html_renders_in_headless_chromium_with_one_lane_per_task() {
    let Some(browser) = chromium() else {
        eprintln!(
            "skipped: no Chromium found (set $CHROMIUM or run .ci/install-chromium); the HTML \
             report was not rendered in a browser"
        );
        return;
    };
    let report = pre_10766_report();
    let lanes = trace::tasks_in_order(&report.trace).len();
    let dir = match std::env::var_os("LOCKSTEP_ARTIFACTS") {
        Some(d) => PathBuf::from(d),
        None => std::env::temp_dir().join(format!("lockstep-html-{}", std::process::id())),
    };
    std::fs::create_dir_all(&dir).unwrap();
    let page = dir.join("pre-10766.html");
    std::fs::write(&page, trace::to_html(&report)).unwrap();
    let url = format!("file://{}", page.display());
    let profile = dir.join("chromium-profile");

    let dom = headless(
        &browser,
        &profile,
        &["--dump-dom".into(), "--virtual-time-budget=2000".into()],
        &url,
        120,
    );
    assert!(
        dom.contains("data-rendered=\"ok\""),
        "the page did not lay out:\n{dom}"
    );
    assert!(
        dom.contains(&format!("data-lanes=\"{lanes}\"")),
        "lanes:\n{dom}"
    );

    let shot = dir.join("pre-10766.png");
    let _ = std::fs::remove_file(&shot);
    headless(
        &browser,
        &profile,
        &[
            format!("--screenshot={}", shot.display()),
            "--window-size=1400,1200".into(),
            "--hide-scrollbars".into(),
        ],
        &url,
        120,
    );
    let png = std::fs::read(&shot).expect("a screenshot");
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 10_000,
        "{} bytes",
        png.len()
    );
    let _ = std::fs::remove_dir_all(&profile);
    eprintln!("screenshot: {}", shot.display());
}

//! Determinism hygiene (after TigerBeetle's clock ban): harness and model
//! sources must not read the wall clock, use unseeded or version-unstable
//! randomness, or iterate hash maps. Clippy's disallowed lists catch typed
//! uses; this test also catches them in macros, strings of code and cfg'd
//! backends that clippy does not build by default.

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = entries.flatten().map(|e| e.path()).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Patterns that must not appear in src/ or models/src/, with the one file
/// allowed to use each (the report stopwatch measures elapsed time for reports).
const BANNED: &[(&str, &[&str])] = &[
    ("Instant::now", &["src/report.rs"]),
    ("SystemTime", &[]),
    ("thread_rng", &[]),
    ("StdRng", &[]),
    ("SmallRng", &[]),
    ("HashMap", &[]),
    ("HashSet", &[]),
    ("RandomState", &[]),
];

#[test]
fn no_wall_clock_unseeded_rng_or_hash_iteration_in_harness_or_models() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = Vec::new();
    rust_files(&root.join("src"), &mut files);
    rust_files(&root.join("models/src"), &mut files);
    assert!(
        files.len() > 5,
        "expected to scan the sources, found {}",
        files.len()
    );
    let mut offences = Vec::new();
    for file in &files {
        let rel = file
            .strip_prefix(&root)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        let text = std::fs::read_to_string(file).unwrap();
        for (lineno, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            for (pattern, allowed) in BANNED {
                if code.contains(pattern) && !allowed.contains(&rel.as_str()) {
                    offences.push(format!(
                        "{rel}:{}: `{pattern}` in `{}`",
                        lineno + 1,
                        line.trim()
                    ));
                }
            }
        }
    }
    assert!(
        offences.is_empty(),
        "determinism hygiene violations:\n{}",
        offences.join("\n")
    );
}

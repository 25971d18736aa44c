//! The regression test `replay --emit-test` writes: the checked-in copy is exactly
//! what the CLI prints; included below, it fails on `pre-10766` and passes when the
//! host code is the fixed one (`fix-11825`).

const BOUNDS: [&str; 5] = [
    "attempts=4",
    "host_exceptions=1",
    "restarts=1",
    "storage_failures=1",
    "worker_timeouts=1",
];

#[test]
fn the_checked_in_emitted_test_is_what_the_cli_prints() {
    let mut args = vec![
        "replay",
        "host",
        "--variant",
        "pre-10766",
        "--level",
        "spec",
    ];
    for b in BOUNDS {
        args.extend(["--bound", b]);
    }
    args.extend(["--schedule", "0.0.0.1.0.0.0", "--emit-test"]);
    let (code, out) = crate::cli::cli(&args);
    assert_eq!(code, 0, "{out}");
    assert_eq!(out, include_str!("../emitted/host_pre_10766_deadlock.rs"));
}

#[test]
fn emitting_a_test_for_a_run_without_violation_is_bad_input() {
    let (code, out) = crate::cli::cli(&[
        "replay",
        "host",
        "--variant",
        "fix-11825",
        "--level",
        "spec",
        "--schedule",
        "0.0.0",
        "--emit-test",
    ]);
    assert_eq!(code, 2, "{out}");
}

#[test]
fn the_emitted_test_fails_while_the_bug_is_there() {
    // Compiled inside a function, the `#[test]` is not registered: we call it.
    mod with_the_bug {
        include!("../emitted/host_pre_10766_deadlock.rs");
        pub fn run() {
            regression_host_pre_10766_spec_deadlock()
        }
    }
    let panic = std::panic::catch_unwind(with_the_bug::run).expect_err("pre-10766 deadlocks");
    let message = panic.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(
        message.contains("host pre-10766 (spec) still violates `deadlock`"),
        "{message}"
    );
    assert!(message.contains("lockstep replay host"), "{message}");
}

/// The same emitted test, built against a registry whose `host` is the fixed code
/// (fix-11825) under the recorded name: the build after the fix. It is registered
/// as a test of this suite and must pass.
mod after_the_fix {
    mod lockstep_models {
        pub mod registry {
            use ::lockstep_models::host::HostSpec;
            pub fn registry() -> lockstep::cli::Registry {
                let fixed = lockstep::cli::ModelEntry::new(
                    "host",
                    "the host with the fix-11825 code under the recorded name",
                    &["pre-10766"],
                )
                .with_spec(HostSpec::default_bounds(), |_, bounds, params| {
                    HostSpec::from_params("fix-11825", bounds, params)
                });
                lockstep::cli::Registry {
                    models: vec![fixed],
                    ..Default::default()
                }
            }
        }
    }
    include!("../emitted/host_pre_10766_deadlock.rs");
}

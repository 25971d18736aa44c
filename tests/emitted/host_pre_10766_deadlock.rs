/// Regression test: host pre-10766 (spec level) violated `deadlock` along these 7
/// steps. It replays them by task and operation and fails while the violation
/// still reproduces (or when the steps no longer fit the code).
/// Emitted by: lockstep replay host --variant pre-10766 --level spec --bound attempts=4 --bound host_exceptions=1 --bound restarts=1 --bound storage_failures=1 --bound worker_timeouts=1 --schedule 0.0.0.1.0.0.0 --emit-test
#[test]
fn regression_host_pre_10766_spec_deadlock() {
    let registry = lockstep_models::registry::registry();
    lockstep::cli::emit_test::Regression {
        model: "host",
        variant: "pre-10766",
        level: "spec",
        bounds: &[
            ("attempts", 4),
            ("host_exceptions", 1),
            ("restarts", 1),
            ("storage_failures", 1),
            ("worker_timeouts", 1),
        ],
        params: &[],
        schedule: concat!(
            "environment:setup(bundle=0,writable=0,offline=0,stop=0,requesters=0).",
            "start#1:boot.",
            "start#1:enter.",
            "start#1:host-start-storage-error.",
            "start#1:backoff-elapsed.",
            "start#2:enter.",
            "start#2:host-start",
        ),
        property: "deadlock",
    }
    .assert_fixed(&registry);
}

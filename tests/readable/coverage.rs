//! Coverage: what a check reached, as a table and in `--json`.

use lockstep::explore::coverage;

use super::toys::noisy_deadlock;

#[test]
fn the_fixed_host_reaches_every_phase_fault_and_sometimes_property() {
    let (code, out) = crate::cli::cli(&[
        "check",
        "host",
        "--variant",
        "fix-11825",
        "--coverage",
        "--json",
    ]);
    assert_eq!(code, 0, "{out}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    let c = &v["coverage"];
    assert_eq!(c["complete"], true);
    let names = |key: &str, field: &str| -> Vec<String> {
        c[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x[field].as_str().unwrap().to_string())
            .collect()
    };
    insta::assert_snapshot!(
        "fix_11825_coverage_axes",
        format!(
            "phases: {}\nevents: {}\nfaults: {:?}",
            c["phases"],
            c["events"],
            names("faults", "name")
        )
    );
    for hit in c["sometimes"].as_array().unwrap() {
        assert_eq!(hit["hit"], true, "{hit}");
    }
    let sometimes = v["properties"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["kind"] == "sometimes")
        .count();
    assert_eq!(c["sometimes"].as_array().unwrap().len(), sometimes);
}

#[test]
fn the_coverage_table_is_printed_with_the_report() {
    let (code, out) = crate::cli::cli(&[
        "check",
        "host",
        "--variant",
        "fix-11825",
        "--coverage",
        "--bound",
        "restarts=0",
    ]);
    assert_eq!(code, 0, "{out}");
    let table: String = out
        .lines()
        .skip_while(|l| !l.trim_start().starts_with("coverage:"))
        .take_while(|l| !l.starts_with("  proved"))
        .map(|l| format!("{l}\n"))
        .collect();
    insta::assert_snapshot!("fix_11825_coverage_table_r0", table);
}

#[test]
fn implementation_coverage_counts_task_roles_events_and_faults() {
    let c = coverage::implementation(&noisy_deadlock(), 20, 1);
    for role in ["a", "b", "main", "noise"] {
        assert!(c.phases.iter().any(|p| p == role), "{:?}", c.phases);
    }
    assert!(c.events.iter().any(|e| e == "spawn"), "{:?}", c.events);
    assert!(
        c.faults
            .iter()
            .any(|f| f.name == "choose:storage-fault" && f.count > 0),
        "{:?}",
        c.faults
    );
    assert!(c.scope.contains("20 random runs"));
}

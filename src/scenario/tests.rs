//! Scenario parsing tests: valid files, every pinned error message, and fuzzing.

use super::*;
use crate::world::FaultKind;
use proptest::prelude::*;

const DESIGN_EXAMPLE: &str = r#"name = "host: storage outage on first start, worker timeout on retry"
model = "host"
variant = "fix-11825"
level = "impl"
seed = 42
strategy = "dfs"
[bounds]
restart_requesters = 2
storage_failures = 1
attempts = 3
[[faults]]
at = "start#1/build"
kind = "storage-outage"
[[faults]]
at = "start#2/worker"
kind = "worker-timeout"
[expect]
verdict = "holds"
[budget]
states = 1000000
max_seconds = 60
"#;

const MULTI_VARIANT: &str = r#"model = "host"
variants = ["pre-10766", "fix-11142", "fix-11825"]
[expect]
verdict = "holds"
[expect.pre-10766]
verdict = "violated"
property = "deadlock"
[expect.fix-11142]
verdict = "violated"
property = "deadlock"
"#;

fn err(text: &str) -> String {
    match Scenario::parse("scenarios/x.toml", text) {
        Ok(s) => panic!("expected an error, parsed {s:?}"),
        Err(e) => e.to_string(),
    }
}

/// A minimal valid scenario with `extra` inserted before `[expect]`.
fn with(extra: &str) -> String {
    format!("model = \"host\"\nvariant = \"v\"\n{extra}\n[expect]\nverdict = \"holds\"\n")
}

#[test]
fn parses_the_design_example() {
    let s = Scenario::parse("scenarios/fast/outage.toml", DESIGN_EXAMPLE).expect("valid");
    assert_eq!(
        s.name,
        "host: storage outage on first start, worker timeout on retry"
    );
    assert_eq!(
        (s.model.as_str(), s.variants()),
        ("host", vec!["fix-11825".to_string()])
    );
    assert_eq!(
        (s.level, s.seed, s.strategy.clone()),
        (
            Some(Level::Impl),
            Some(42),
            Some(crate::explore::Strategy::Dfs)
        )
    );
    assert_eq!(s.bounds.get("restart_requesters"), Some(&2));
    assert_eq!(s.bounds.len(), 3);
    assert_eq!(s.faults.len(), 2);
    assert_eq!(s.faults[0].kind, FaultKind::StorageOutage);
    assert_eq!(s.faults[1].kind, FaultKind::Named("worker-timeout".into()));
    assert_eq!(s.fault_specs[0].at.as_deref(), Some("start#1/build"));
    assert_eq!(
        s.expected_for("fix-11825"),
        Expectation {
            verdict: Verdict::Holds,
            property: None,
            holds: Vec::new(),
        }
    );
    assert_eq!(
        s.budget,
        Budget {
            states: Some(1_000_000),
            max_seconds: Some(60),
            ..Budget::default()
        }
    );
    let mut plan = s.fault_plan(&SeedTree::new(42));
    assert!(plan
        .fires(std::time::Duration::ZERO, "start#1/build")
        .has("storage-outage"));
}

#[test]
fn per_variant_expectations_override_the_default() {
    let s = Scenario::parse("scenarios/m.toml", MULTI_VARIANT).expect("valid");
    assert_eq!(s.name, "m");
    assert_eq!(s.variants(), ["pre-10766", "fix-11142", "fix-11825"]);
    let deadlock = Expectation {
        verdict: Verdict::Violated,
        property: Some("deadlock".into()),
        holds: Vec::new(),
    };
    assert_eq!(s.expected_for("pre-10766"), deadlock);
    assert_eq!(s.expected_for("fix-11142"), deadlock);
    assert_eq!(s.expected_for("fix-11825").verdict, Verdict::Holds);
    assert_eq!(
        s.try_expected_for("fix-11825").map(|e| e.verdict),
        Some(Verdict::Holds)
    );
    assert_eq!(s.level, None);
}

#[test]
fn every_variant_needs_an_expectation() {
    let text = "model = \"host\"\nvariants = [\"a\", \"b\"]\n[expect.a]\nverdict = \"holds\"\n";
    assert_eq!(
        err(text),
        "scenarios/x.toml:3:2: no expectation for variant `b`: add `verdict` to [expect] or an [expect.b] table"
    );
    let text = "model = \"host\"\nvariants = [\"a\"]\n[expect.a]\nverdict = \"holds\"\n";
    let s = Scenario::parse("x.toml", text).expect("valid");
    assert_eq!(s.try_expected_for("zzz"), None);
    assert_eq!(s.expected_for("a").verdict, Verdict::Holds);
}

#[test]
fn type_errors_name_the_key_and_what_was_expected() {
    assert_eq!(
        err(&with("[bounds]\nattempts = \"three\"")),
        "scenarios/x.toml:4:12: invalid type: string \"three\", expected an integer for bounds.attempts"
    );
    assert_eq!(
        err(&with("seed = -1")),
        "scenarios/x.toml:3:8: invalid value: integer `-1`, expected a non-negative integer for seed"
    );
    assert_eq!(
        err(&with("budget = 3")),
        "scenarios/x.toml:3:10: invalid type: integer `3`, expected a table for budget"
    );
    let more = [
        (
            "[[faults]]\nkind = \"x\"\nat = \"p\"\noccurrence = \"two\"",
            "6:14: invalid type: string \"two\", expected a non-negative integer for faults[0].occurrence",
        ),
        ("seed = 1979-05-27", "3:8: invalid type: datetime, expected a non-negative integer for seed"),
        (
            "[[faults]]\nkind = \"throttle\"\nprobability = \"high\"",
            "5:15: invalid type: string \"high\", expected a number for faults[0].probability",
        ),
        ("faults = 1", "3:10: invalid type: integer `1`, expected an array for faults"),
        ("[bounds]\nx = 1.5", "4:5: invalid type: floating point `1.5`, expected an integer for bounds.x"),
        ("name = { a = 1 }", "3:8: invalid type: table, expected a string for name"),
    ];
    for (extra, expected) in more {
        assert_eq!(err(&with(extra)), format!("scenarios/x.toml:{expected}"));
    }
    assert_eq!(
        err("model = \"host\"\nvariants = [\"a\", 3]\n[expect]\nverdict = \"holds\"\n"),
        "scenarios/x.toml:2:18: invalid type: integer `3`, expected a string for variants[1]"
    );
}

#[test]
fn unknown_keys_are_errors_at_their_position() {
    assert_eq!(
        err(&with("bogus = 1")),
        "scenarios/x.toml:3:1: unknown key `bogus`, expected one of `name`, `description`, `model`, \
         `variant`, `variants`, `level`, `seed`, `strategy`, `keep_going`, `bounds`, `faults`, `expect`, `budget`, `params`"
    );
    assert_eq!(
        err(&with("[budget]\nstates = 1\nstate = 2")),
        "scenarios/x.toml:5:1: unknown key `state`, expected one of `states`, `schedules`, `max_depth`, \
         `max_seconds`"
    );
    assert_eq!(
        err(&with("[[faults]]\nkind = \"throttle\"\nfrom_ms = 0\nwhen = 3")),
        "scenarios/x.toml:6:1: unknown key `when`, expected one of `kind`, `at`, `occurrence`, `instance`, \
         `op`, `from_ms`, `until_ms`, `probability`, `times`, `latency_ms`, `duration_ms`"
    );
    assert_eq!(
        err("model = \"h\"\nvariant = \"v\"\n[expect]\nverdict = \"holds\"\nverdit = \"x\"\n"),
        "scenarios/x.toml:5:1: unknown key `verdit` in [expect], expected `verdict`, `property`, \
         `holds` or an [expect.<variant>] table"
    );
    assert_eq!(
        err("model = \"h\"\nvariant = \"v\"\n[expect.v]\nverdict = \"holds\"\nwhy = \"x\"\n"),
        "scenarios/x.toml:5:1: unknown key `why` in [expect.v], expected `verdict`, `property` or `holds`"
    );
}

#[test]
fn missing_keys_point_at_their_table() {
    assert_eq!(
        err("variant = \"v\"\n[expect]\nverdict = \"holds\"\n"),
        "scenarios/x.toml:1:1: missing required key `model`"
    );
    assert_eq!(
        err(&with("[[faults]]\nat = \"x\"")),
        "scenarios/x.toml:3:1: missing required key `kind` in faults[0]"
    );
    assert_eq!(
        err("model = \"h\"\n[expect]\nverdict = \"holds\"\n"),
        "scenarios/x.toml:1:1: missing required key `variant` (or `variants`)"
    );
    assert_eq!(
        err("model = \"h\"\nvariant = \"v\"\n"),
        "scenarios/x.toml:1:1: missing required table [expect] (what the run should conclude)"
    );
    assert_eq!(
        err("model = \"h\"\nvariants = [\"v\"]\n[expect.v]\nproperty = \"p\"\n"),
        "scenarios/x.toml:3:1: missing required key `verdict` in [expect.v]"
    );
}

#[test]
fn semantic_errors_have_positions() {
    let cases = [
        (
            with("level = \"fast\""),
            "3:9: invalid level \"fast\", expected \"spec\" or \"impl\"",
        ),
        (
            with("strategy = \"bfs-ish\""),
            "3:12: unknown strategy `bfs-ish` (expected bfs, dfs, random or pct)",
        ),
        (
            "model = \"h\"\nvariant = \"v\"\n[expect]\nverdict = \"hold\"\n".to_string(),
            "4:11: invalid verdict \"hold\", expected \"holds\", \"violated\" or \"inconclusive\"",
        ),
        (
            "model = \"h\"\nvariant = \"v\"\n[expect]\nverdict = 1\n".to_string(),
            "4:11: invalid type: integer, expected a string for expect.verdict",
        ),
        (
            "model = \"h\"\nvariants = [\"a\"]\n[expect.b]\nverdict = \"holds\"\n".to_string(),
            "3:9: expectation for unknown variant `b`; this scenario's variants are `a`",
        ),
        (
            "model = \"h\"\nvariant = \"a\"\nvariants = [\"a\"]\n[expect]\nverdict = \"holds\"\n"
                .to_string(),
            "3:12: give either `variant` or `variants`, not both",
        ),
        (
            "model = \"h\"\nvariants = [\"a\", \"a\"]\n[expect]\nverdict = \"holds\"\n".to_string(),
            "2:18: variant `a` is listed twice",
        ),
        (
            with("[[faults]]\nkind = \"latency\"\nat = \"x\""),
            "4:8: faults[0]: a `latency` fault needs `latency_ms`",
        ),
        (
            with("[[faults]]\nkind = \"throttle\"\nprobability = 2.0"),
            "5:15: faults[0]: expected a probability between 0 and 1, found 2",
        ),
    ];
    for (text, expected) in cases {
        assert_eq!(
            err(&text),
            format!("scenarios/x.toml:{expected}"),
            "for:\n{text}"
        );
    }
}

#[test]
fn negative_bounds_parse_and_model_errors_point_at_them() {
    // `max_retries = -1` is an unbounded retry policy: the parser lets any integer
    // through, and the model that rejects a value gets its error placed here.
    let s = Scenario::parse(
        "scenarios/x.toml",
        &with("[bounds]\nmax_retries = -1\nrestarts = -2\nR = 3"),
    )
    .expect("negative bounds parse");
    assert_eq!(s.bounds["max_retries"], -1);
    assert_eq!(s.bound_position("restarts"), Some((5, 12)));
    assert_eq!(s.bound_position("nope"), None);
    let cases = [
        (
            "bound `restarts` = -2 is out of range 0..=100",
            "scenarios/x.toml:5:12: bound `restarts` = -2 is out of range 0..=100",
        ),
        (
            "model `host` (level spec) has no bound `max_retries` (bounds: restarts)",
            "scenarios/x.toml:4:15: model `host` (level spec) has no bound `max_retries` \
             (bounds: restarts)",
        ),
        // host-abstract's form: `R=3`, not inside another word (`FOR=3`).
        (
            "bound R=3 out of range 0..=2",
            "scenarios/x.toml:6:5: bound R=3 out of range 0..=2",
        ),
        ("FOR=3 is odd", "scenarios/x.toml: FOR=3 is odd"),
        (
            "unknown variant `v`",
            "scenarios/x.toml: unknown variant `v`",
        ),
    ];
    for (message, expected) in cases {
        assert_eq!(s.locate(message), expected);
    }
}

#[test]
fn syntax_errors_have_positions() {
    assert_eq!(
        err("model = \"host\nvariant"),
        "scenarios/x.toml:1:14: invalid basic string"
    );
    assert_eq!(
        err("model = host\n"),
        "scenarios/x.toml:1:9: invalid string; expected `\"`, `'`"
    );
}

#[test]
fn load_reports_unreadable_files() {
    let e = Scenario::load("/nonexistent/lockstep/x.toml").expect_err("no such file");
    assert!(
        e.to_string().starts_with("/nonexistent/lockstep/x.toml: "),
        "{e}"
    );
}

#[test]
fn truncated_valid_files_never_panic() {
    for text in [DESIGN_EXAMPLE, MULTI_VARIANT] {
        for (i, _) in text.char_indices() {
            let _ = Scenario::parse("x.toml", &text[..i]);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics(text in any::<String>()) {
        let _ = Scenario::parse("x.toml", &text);
    }

    #[test]
    fn toml_like_text_never_panics(text in "([a-z_.\\[\\]\"=#\\-0-9 ]{0,12}\n){0,8}") {
        if let Err(ScenarioError::Invalid { line, column, .. }) = Scenario::parse("x.toml", &text) {
            prop_assert!(line >= 1 && column >= 1);
        }
    }
}

#[test]
fn keep_going_and_holds_lists_parse_and_bad_holds_are_positioned() {
    let text = "model = \"host\"\nvariant = \"v\"\nkeep_going = true\n[expect]\nverdict = \"violated\"\n\
                holds = [\"deadlock\", \"permit-conservation\"]\n[expect.v]\nverdict = \"violated\"\n\
                holds = [\"deadlock\"]\n";
    let s = Scenario::parse("x.toml", text).expect("valid");
    assert!(s.keep_going);
    assert_eq!(s.expected_for("v").holds, ["deadlock"]);
    let bad =
        "model = \"host\"\nvariant = \"v\"\n[expect]\nverdict = \"holds\"\nholds = \"deadlock\"\n";
    assert_eq!(
        err(bad),
        "scenarios/x.toml:5:9: invalid type: string, expected an array of property names for expect.holds"
    );
    let bad = "model = \"host\"\nvariant = \"v\"\n[expect]\nverdict = \"holds\"\nholds = [1]\n";
    assert_eq!(
        err(bad),
        "scenarios/x.toml:5:9: invalid type: integer, expected a property name (string) in expect.holds"
    );
    let bad = "model = \"host\"\nvariant = \"v\"\n[expect]\nholds = [\"deadlock\"]\n";
    assert!(err(bad).contains("missing required key `verdict` in [expect]"));
}

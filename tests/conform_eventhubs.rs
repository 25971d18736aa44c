//! Event Hubs processor traces (any language) against the `eventhubs`
//! protocol model: invocations, checkpoint writes and ownership claims.

use crate::cli::cli;

fn sample(name: &str) -> String {
    format!("{}/../scenarios/logs/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn conform(variant: &str, file: &str) -> (i32, serde_json::Value) {
    let (code, out) = cli(&[
        "conform",
        "--model",
        "eventhubs",
        "--variant",
        variant,
        &sample(file),
        "--json",
    ]);
    let v = serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out}"));
    (code, v)
}

fn notes(v: &serde_json::Value) -> Vec<String> {
    serde_json::from_value(v["notes"].clone()).unwrap()
}

#[test]
fn a_processor_that_checkpoints_what_it_processed_conforms_to_v6() {
    let (code, v) = conform("v6", "eventhubs-processor.jsonl");
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["verdict"], "holds");
    let props = v["properties"].as_array().unwrap();
    assert!(props
        .iter()
        .any(|p| p["name"] == "s7-no-uninvoked-checkpoint"));
}

#[test]
fn a_checkpoint_past_an_unprocessed_event_is_rejected_at_its_line() {
    for variant in ["v6", "v5"] {
        let (code, v) = conform(variant, "eventhubs-checkpoint-ahead.jsonl");
        assert_eq!(code, 1, "{v}");
        assert_eq!(v["property"], "conformance");
        let notes = notes(&v);
        assert!(
            notes[0].starts_with("line 3: `checkpoint.write by proc-a partition=0 sequence=1`"),
            "{notes:?}"
        );
        // What the model allows there: the checkpoint of what was processed.
        assert!(
            notes[1].contains("checkpoint.write by P0 partition=0 sequence=0 (trace actor proc-a)"),
            "{notes:?}"
        );
    }
}

#[test]
fn out_of_order_completions_conform_to_v5_only() {
    let (code, v) = conform("v6", "eventhubs-out-of-order.jsonl");
    assert_eq!(code, 1, "{v}");
    assert!(notes(&v)[0].starts_with("line 2: `event.processed"), "{v}");
    let (code, v) = conform("v5", "eventhubs-out-of-order.jsonl");
    assert_eq!(code, 0, "{v}");
}

//! JSON Lines: one compact JSON object per trace event, and the parser back.
//!
//! Schema of one line (keys in this order; `fields` omitted when empty, its
//! keys sorted):
//!
//! ```text
//! {"step":3,"time_ms":1500,"task":"start#2","kind":"acquire","fields":{"resource":"host-start"}}
//! ```
//!
//! `step`, `time_ms`: unsigned integers; `task`, `kind`: strings; `fields`:
//! an object of string values. Unknown keys are ignored when parsing (newer
//! writers may add some); blank lines are skipped.

use super::TraceEvent;

/// A line of JSONL input that is not a trace event.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: {message}")]
pub struct TraceParseError {
    /// 1-based line number in the input.
    pub line: usize,
    /// 1-based column within that line.
    pub column: usize,
    pub message: String,
}

/// One compact JSON object per event, each followed by `\n`.
pub fn to_jsonl(events: &[TraceEvent]) -> String {
    let mut out = String::new();
    for event in events {
        // Serializing a struct of strings, integers and a string map cannot fail.
        let line = serde_json::to_string(event).unwrap_or_default();
        out.push_str(&line);
        out.push('\n');
    }
    out
}

/// Parses JSONL written by [`to_jsonl`] (or by hand). Never panics; the first
/// malformed line gives its line and column.
pub fn from_jsonl(input: &str) -> Result<Vec<TraceEvent>, TraceParseError> {
    let mut events = Vec::new();
    for (index, raw) in input.split('\n').enumerate() {
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        if line.trim().is_empty() {
            continue;
        }
        let event = serde_json::from_str::<TraceEvent>(line).map_err(|e| TraceParseError {
            line: index + 1,
            column: e.column().max(1),
            message: strip_position(&e.to_string()),
        })?;
        events.push(event);
    }
    Ok(events)
}

/// serde_json appends ` at line L column C`; the line is ours to count.
fn strip_position(message: &str) -> String {
    match message.rsplit_once(" at line ") {
        Some((text, _)) => text.to_string(),
        None => message.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::sample_trace;
    use proptest::prelude::*;

    #[test]
    fn snapshot_of_sample_trace() {
        insta::assert_snapshot!("jsonl", to_jsonl(&sample_trace()));
    }

    #[test]
    fn round_trips() {
        let trace = sample_trace();
        assert_eq!(from_jsonl(&to_jsonl(&trace)), Ok(trace));
        assert_eq!(from_jsonl(""), Ok(vec![]));
    }

    #[test]
    fn tolerates_crlf_blank_lines_and_unknown_keys() {
        let input = "\r\n{\"step\":0,\"time_ms\":5,\"task\":\"a\",\"kind\":\"x\",\"new\":1}\r\n\n";
        let events = from_jsonl(input).expect("parses");
        assert_eq!(events, vec![TraceEvent::new(0, 5, "a", "x")]);
    }

    #[test]
    fn errors_carry_line_and_column() {
        let input =
            "{\"step\":0,\"time_ms\":0,\"task\":\"a\",\"kind\":\"x\"}\n{\"step\":\"one\"}\n";
        let err = from_jsonl(input).expect_err("bad second line");
        assert_eq!(
            err.to_string(),
            "line 2, column 13: invalid type: string \"one\", expected u64"
        );
        let err = from_jsonl("{\"step\":0,").expect_err("truncated");
        assert_eq!((err.line, err.column), (1, 10));
        let err =
            from_jsonl("{\"step\":1,\"time_ms\":0,\"task\":\"a\"}").expect_err("missing kind");
        assert_eq!(err.message, "missing field `kind`");
    }

    #[test]
    fn every_prefix_of_valid_jsonl_parses_or_errors() {
        let text = to_jsonl(&sample_trace());
        for (i, _) in text.char_indices() {
            if let Err(e) = from_jsonl(&text[..i]) {
                assert!(e.line >= 1 && e.column >= 1);
            }
        }
    }

    proptest! {
        #[test]
        fn arbitrary_input_never_panics(input in any::<String>()) {
            let _ = from_jsonl(&input);
        }

        #[test]
        fn arbitrary_events_round_trip(
            rows in proptest::collection::vec(
                (any::<u64>(), any::<u64>(), "\\PC{0,8}", "\\PC{0,8}",
                 proptest::collection::btree_map("\\PC{0,5}", "\\PC{0,5}", 0..3)),
                0..5)
        ) {
            let trace: Vec<TraceEvent> = rows
                .into_iter()
                .map(|(step, time_ms, task, kind, fields)| TraceEvent { step, time_ms, task, kind, fields })
                .collect();
            prop_assert_eq!(from_jsonl(&to_jsonl(&trace)), Ok(trace));
        }
    }
}

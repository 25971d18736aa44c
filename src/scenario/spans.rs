//! Source positions for scenario errors: byte offsets to line/column, a spanned
//! TOML tree to name the key at an offset, and friendlier serde messages.
//!
//! toml reports a byte span and a serde message (`expected i64`); people want
//! `file:4:12: ... expected an integer for bounds.attempts`. The typed parse
//! gives the span; [`Node`], a second parse that keeps every key's and value's
//! span, turns it into the key path.

use std::ops::Range;

use toml_edit::{ImDocument, Item, TableLike, Value};

/// 1-based line and column (in characters) of byte `offset` in `text`.
/// Offsets past the end or inside a character are clamped, never a panic.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

/// One key or array element of the document, with where it is written.
#[derive(Debug)]
struct Entry {
    /// `bounds.attempts`, `faults[1].kind`; `""` for the document itself.
    path: String,
    depth: usize,
    key: Option<Range<usize>>,
    /// `None` for implicit tables (`expect` in `[expect.v]`).
    value: Option<Range<usize>>,
}

/// Every key and value of a document with its span, for error positions.
///
/// Built with toml_edit's span API: serde's `Spanned` cannot span implicit
/// tables, and errors need the key *and* the value positions.
pub struct Document {
    entries: Vec<Entry>,
}

impl Document {
    /// Indexes `text`; a document with syntax errors has no entries (lookups give nothing).
    pub fn parse(text: &str) -> Self {
        let mut entries = Vec::new();
        if let Ok(doc) = ImDocument::parse(text) {
            let root = Entry {
                path: String::new(),
                depth: 0,
                key: None,
                value: Some(0..text.len()),
            };
            entries.push(root);
            index_table(doc.as_table(), "", 1, &mut entries);
        }
        Document { entries }
    }

    /// The path of the innermost key or value whose span contains `offset`.
    pub fn path_at(&self, offset: usize) -> Option<String> {
        self.entries
            .iter()
            .filter(|e| e.depth > 0)
            .filter(|e| {
                [&e.key, &e.value]
                    .into_iter()
                    .flatten()
                    .any(|s| contains(s, offset))
            })
            .max_by_key(|e| e.depth)
            .map(|e| e.path.clone())
    }

    /// The path of the innermost value whose span is exactly `span` (`""` for
    /// the whole document): where toml points when a key is missing.
    pub fn path_of_span(&self, span: &Range<usize>) -> Option<String> {
        let exact = self
            .entries
            .iter()
            .filter(|e| e.value.as_ref() == Some(span));
        exact.max_by_key(|e| e.depth).map(|e| e.path.clone())
    }

    /// The span of the key at `path` (falling back to its value).
    pub fn key_span(&self, path: &str) -> Option<Range<usize>> {
        let e = self.entries.iter().find(|e| e.path == path)?;
        e.key.clone().or_else(|| e.value.clone())
    }

    /// The span of the value at `path` (falling back to its key, for implicit tables).
    pub fn value_span(&self, path: &str) -> Option<Range<usize>> {
        let e = self.entries.iter().find(|e| e.path == path)?;
        e.value.clone().or_else(|| e.key.clone())
    }
}

fn index_table(table: &dyn TableLike, path: &str, depth: usize, out: &mut Vec<Entry>) {
    for (name, _) in table.iter() {
        let Some((key, item)) = table.get_key_value(name) else {
            continue;
        };
        let child = if path.is_empty() {
            name.to_string()
        } else {
            format!("{path}.{name}")
        };
        out.push(Entry {
            path: child.clone(),
            depth,
            key: key.span(),
            value: item.span(),
        });
        index_item(item, &child, depth + 1, out);
    }
}

fn index_item(item: &Item, path: &str, depth: usize, out: &mut Vec<Entry>) {
    match item {
        Item::Table(t) => index_table(t, path, depth, out),
        Item::ArrayOfTables(tables) => {
            for (i, t) in tables.iter().enumerate() {
                let child = format!("{path}[{i}]");
                out.push(Entry {
                    path: child.clone(),
                    depth,
                    key: None,
                    value: t.span(),
                });
                index_table(t, &child, depth + 1, out);
            }
        }
        Item::Value(v) => index_value(v, path, depth, out),
        Item::None => {}
    }
}

fn index_value(value: &Value, path: &str, depth: usize, out: &mut Vec<Entry>) {
    match value {
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                let child = format!("{path}[{i}]");
                out.push(Entry {
                    path: child.clone(),
                    depth,
                    key: None,
                    value: v.span(),
                });
                index_value(v, &child, depth + 1, out);
            }
        }
        Value::InlineTable(t) => index_table(t, path, depth, out),
        _ => {}
    }
}

fn contains(span: &Range<usize>, offset: usize) -> bool {
    span.start <= offset && offset < span.end.max(span.start + 1)
}

/// Rewrites serde's type names into what a scenario author reads
/// (`expected i64` -> `expected an integer`), and flattens multi-line
/// parser messages onto one line.
pub fn friendly(message: &str) -> String {
    let replacements = [
        ("expected i64", "expected an integer"),
        ("expected u64", "expected a non-negative integer"),
        ("expected u32", "expected a non-negative integer"),
        ("expected f64", "expected a number"),
        ("expected a sequence", "expected an array"),
        ("expected a map", "expected a table"),
        ("expected a TOML value", "expected a value"),
        ("unknown field", "unknown key"),
        ("missing field", "missing required key"),
    ];
    let mut out = message
        .trim()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("; ");
    for (from, to) in replacements {
        out = out.replace(from, to);
    }
    // `expected struct RawBudget` and similar: a table, whatever the Rust name.
    if let Some(i) = out.find("expected struct ") {
        let rest = &out[i + "expected struct ".len()..];
        let end = rest
            .find(|c: char| !c.is_alphanumeric() && c != '_')
            .unwrap_or(rest.len());
        out = format!("{}expected a table{}", &out[..i], &rest[end..]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_is_one_based_and_clamped() {
        let text = "a = 1\nbé = \"x\"\n";
        assert_eq!(line_col(text, 0), (1, 1));
        assert_eq!(line_col(text, 6), (2, 1));
        assert_eq!(line_col(text, 10), (2, 4)); // after "bé ", é is two bytes
        assert_eq!(line_col(text, 8), (2, 2)); // inside é: clamped back to its start
        assert_eq!(line_col(text, 999), (3, 1));
    }

    #[test]
    fn paths_at_offsets() {
        let text = "model = \"h\"\n[bounds]\nattempts = \"three\"\n[[faults]]\nkind = \"x\"\n[[faults]]\nkind = 3\n";
        let doc = Document::parse(text);
        let at = |needle: &str| doc.path_at(text.find(needle).expect("needle"));
        assert_eq!(at("\"three\"").as_deref(), Some("bounds.attempts"));
        assert_eq!(at("attempts").as_deref(), Some("bounds.attempts"));
        assert_eq!(at("3\n").as_deref(), Some("faults[1].kind"));
        assert_eq!(at("\"h\"").as_deref(), Some("model"));
        assert_eq!(
            doc.value_span("faults[1].kind").map(|s| &text[s]),
            Some("3")
        );
        assert_eq!(
            doc.key_span("bounds.attempts").map(|s| &text[s]),
            Some("attempts")
        );
        let implicit = Document::parse("[expect.v]\nverdict = 1\n");
        assert_eq!(implicit.path_at(12).as_deref(), Some("expect.v.verdict"));
        assert!(implicit.value_span("expect").is_some());
        assert!(Document::parse("a = [").path_at(0).is_none());
    }

    #[test]
    fn friendly_messages() {
        assert_eq!(
            friendly("invalid type: string \"three\", expected i64"),
            "invalid type: string \"three\", expected an integer"
        );
        assert_eq!(
            friendly("invalid type: integer `3`, expected struct RawBudget"),
            "invalid type: integer `3`, expected a table"
        );
        assert_eq!(
            friendly("invalid key\nexpected `=`\n"),
            "invalid key; expected `=`"
        );
    }
}

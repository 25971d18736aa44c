//! Renders benchmark figures (JSON rows) as an aligned text table.

use serde_json::Value;

fn cell(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => {
            if let Some(i) = n.as_u64() {
                super::output::thousands(i)
            } else if let Some(f) = n.as_f64() {
                format!("{f:.2}")
            } else {
                n.to_string()
            }
        }
        Value::Null => "-".to_string(),
        other => other.to_string(),
    }
}

/// An array of flat objects becomes a table (columns in first-row key order);
/// anything else is pretty-printed JSON.
pub fn render(value: &Value) -> String {
    let rows = match value {
        Value::Array(rows) if rows.iter().all(|r| r.is_object()) && !rows.is_empty() => rows,
        Value::Object(map) => {
            return map
                .iter()
                .map(|(k, v)| format!("{k}:\n{}", render(v)))
                .collect::<Vec<_>>()
                .join("\n");
        }
        other => return serde_json::to_string_pretty(other).unwrap_or_default(),
    };
    let columns: Vec<String> = rows[0]
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default();
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            columns
                .iter()
                .map(|c| r.get(c).map(cell).unwrap_or_else(|| "-".into()))
                .collect()
        })
        .collect();
    let widths: Vec<usize> = columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            cells
                .iter()
                .map(|r| r[i].len())
                .chain([c.len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    let line = |items: &[String]| -> String {
        items
            .iter()
            .zip(&widths)
            .map(|(s, w)| format!("{s:>w$}", w = *w))
            .collect::<Vec<_>>()
            .join("  ")
    };
    out.push_str(&line(&columns));
    out.push('\n');
    for r in &cells {
        out.push_str(&line(r));
        out.push('\n');
    }
    out
}

//! The JSON output: a stable document, version 1, described in the README.

use super::location;
use crate::diagnostic::{Diagnostic, Summary};
use crate::source::Sources;
use serde_json::{Map, Value, json};

/// Builds the document for `command`; `extra` adds top-level fields (such as `requests`).
pub fn render(
    command: &str,
    diagnostics: &[Diagnostic],
    sources: &Sources,
    extra: Map<String, Value>,
) -> String {
    let items: Vec<Value> = diagnostics.iter().map(|d| item(d, sources)).collect();
    let mut doc = Map::new();
    doc.insert("version".into(), json!(1));
    doc.insert("command".into(), json!(command));
    doc.insert("summary".into(), json!(Summary::of(diagnostics)));
    doc.extend(extra);
    doc.insert("diagnostics".into(), Value::Array(items));
    let mut text = serde_json::to_string_pretty(&Value::Object(doc)).unwrap_or_default();
    text.push('\n');
    text
}

fn item(d: &Diagnostic, sources: &Sources) -> Value {
    let location =
        location(d, sources).map(|l| json!({"file": l.file, "line": l.line, "column": l.column}));
    json!({
        "code": d.code,
        "severity": d.severity,
        "message": d.message,
        "help": d.help,
        "environment": d.environment,
        "service": d.service,
        "target": d.target,
        "secret": d.secret,
        "location": location,
    })
}

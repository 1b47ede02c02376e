//! SARIF 2.1.0, the format GitHub code scanning uploads.

use super::location;
use crate::diagnostic::{Diagnostic, Severity};
use crate::rules;
use crate::source::Sources;
use serde_json::{Value, json};

pub fn render(diagnostics: &[Diagnostic], sources: &Sources) -> String {
    let rules: Vec<Value> = rules::ALL.iter().map(|r| rule(r)).collect();
    let results: Vec<Value> = diagnostics.iter().map(|d| result(d, sources)).collect();
    let doc = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "secretgate",
                "version": env!("CARGO_PKG_VERSION"),
                "informationUri": env!("CARGO_PKG_REPOSITORY"),
                "rules": rules,
            }},
            "originalUriBaseIds": {
                "%SRCROOT%": {"description": {"text": "the folder holding secrets.yaml"}}
            },
            "results": results,
        }],
    });
    let mut text = serde_json::to_string_pretty(&doc).unwrap_or_default();
    text.push('\n');
    text
}

fn level(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Note => "note",
    }
}

fn rule(r: &rules::Rule) -> Value {
    json!({
        "id": r.code,
        "name": r.code,
        "shortDescription": {"text": r.summary},
        "fullDescription": {"text": r.flags},
        "help": {"text": r.explain()},
        "defaultConfiguration": {"level": level(r.severity)},
    })
}

fn result(d: &Diagnostic, sources: &Sources) -> Value {
    let index = rules::ALL.iter().position(|r| r.code == d.code);
    let locations: Vec<Value> = location(d, sources)
        .map(|l| {
            json!({"physicalLocation": {
                "artifactLocation": {"uri": l.file, "uriBaseId": "%SRCROOT%"},
                "region": {"startLine": l.line, "startColumn": l.column},
            }})
        })
        .into_iter()
        .collect();
    let mut text = d.message.clone();
    if let Some(help) = &d.help {
        text.push_str(&format!(" ({help})"));
    }
    json!({
        "ruleId": d.code,
        "ruleIndex": index,
        "level": level(d.severity),
        "message": {"text": text},
        "locations": locations,
        "partialFingerprints": {"secretgateFinding/v1": fingerprint(d, sources)},
    })
}

/// Identifies a finding across runs without its line number, so that moving an entry does not
/// make code scanning report it as new.
fn fingerprint(d: &Diagnostic, sources: &Sources) -> String {
    let file = location(d, sources).map(|l| l.file.to_string()).unwrap_or_default();
    let parts = [
        d.code,
        &file,
        d.environment.as_deref().unwrap_or(""),
        d.service.as_deref().unwrap_or(""),
        d.target.as_deref().unwrap_or(""),
        &d.message,
    ];
    parts.join("|")
}

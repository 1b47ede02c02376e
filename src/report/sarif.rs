//! SARIF 2.1.0, the format GitHub code scanning uploads.

use super::location;
use crate::cloudrun::DISPLAY_SCHEME;
use crate::diagnostic::{Diagnostic, Severity};
use crate::rules;
use crate::source::Sources;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
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
            // Columns count characters, as every other format does, not UTF-16 code units.
            "columnKind": "unicodeCodePoints",
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
                "artifactLocation": artifact(l.file),
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

/// Where a finding is: a file relative to the manifest's folder, as a relative URI reference
/// (a `%`, `#` or line break in a file name is percent-encoded, so that a viewer decodes the
/// name it had), or a service as deployed, whose `cloud-run:` name is an absolute URI.
fn artifact(file: &str) -> Value {
    match file.strip_prefix(DISPLAY_SCHEME) {
        Some(service) => json!({"uri": format!("{DISPLAY_SCHEME}{}", encoded(service))}),
        None => json!({"uri": encoded(file), "uriBaseId": "%SRCROOT%"}),
    }
}

/// `path` with every character but the unreserved ones and `/` percent-encoded.
fn encoded(path: &str) -> String {
    const KEPT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');
    let segments: Vec<String> =
        path.split('/').map(|s| utf8_percent_encode(s, KEPT).to_string()).collect();
    segments.join("/")
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

#[cfg(test)]
mod tests {
    use super::artifact;
    use serde_json::json;

    /// A file name is a relative reference whose odd characters a viewer decodes back; a live
    /// service is an absolute URI, with no base.
    #[test]
    fn artifacts_are_uri_references() {
        let file = artifact("deploy/staging/a,b #1%0A é.yaml");
        let uri = "deploy/staging/a%2Cb%20%231%250A%20%C3%A9.yaml";
        assert_eq!(file, json!({"uri": uri, "uriBaseId": "%SRCROOT%"}));
        let live = artifact("cloud-run:netra-staging/us-central1/netra-backend");
        assert_eq!(live, json!({"uri": "cloud-run:netra-staging/us-central1/netra-backend"}));
    }
}

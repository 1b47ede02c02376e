//! Offline snapshots: the Secret Manager metadata `check` needs, in the REST API's own shapes.
//!
//! Keeping the API's camelCase objects (`Secret`, `SecretVersion`, `Policy`) means a snapshot can
//! be produced or inspected with `gcloud ... --format json`, and the fake server used in tests can
//! be seeded from the same files.

use crate::source::{MAX_SNAPSHOT_BYTES, read_text};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

/// The snapshot format version this release reads and writes.
pub const SNAPSHOT_VERSION: u32 = 1;

/// A snapshot file.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Snapshot {
    pub snapshot_version: u32,
    /// When the metadata was read, RFC 3339.
    pub captured_at: String,
    /// Captured projects by project id (or number).
    pub projects: BTreeMap<String, ProjectSnapshot>,
}

/// Every secret of one project.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectSnapshot {
    pub secrets: Vec<SecretSnapshot>,
}

/// One secret, its versions (newest first, as the API lists them) and its IAM policy.
///
/// What was not read is left out of the file rather than written empty: `"versions": []` says
/// the secret has no version, which `check` reports as an error, while a secret whose versions
/// were never listed must be reported as unverified.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SecretSnapshot {
    pub secret: Value,
    /// `None` (left out, or null) when the versions were not listed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub versions: Option<Vec<Value>>,
    /// `None` (left out, or null) when the policy was not read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iam_policy: Option<Value>,
}

impl SecretSnapshot {
    /// The secret id of `secret.name`, when it has the shape of a secret's resource name.
    pub fn id(&self) -> Option<&str> {
        super::secret_id(&self.secret)
    }
}

/// A snapshot file that cannot be used.
#[derive(Debug)]
pub struct SnapshotError {
    pub message: String,
}

impl std::fmt::Display for SnapshotError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl Snapshot {
    /// Reads a snapshot file, naming the line and column of a JSON error.
    pub fn read(path: &Path) -> Result<Snapshot, SnapshotError> {
        let text = read_text(path, MAX_SNAPSHOT_BYTES).map_err(|e| SnapshotError {
            message: format!("cannot read snapshot {}: {e}", path.display()),
        })?;
        Snapshot::parse(&text)
            .map_err(|message| SnapshotError { message: format!("{}: {message}", path.display()) })
    }

    /// Parses snapshot JSON.
    pub fn parse(text: &str) -> Result<Snapshot, String> {
        if !text.trim_start().starts_with('{') {
            return Err("not a snapshot: a snapshot is a JSON object with `snapshotVersion`, \
                 `capturedAt` and `projects` (see `secretgate snapshot`)"
                .to_string());
        }
        let snapshot: Snapshot = serde_json::from_str(text).map_err(|e| json_error(&e))?;
        if snapshot.snapshot_version != SNAPSHOT_VERSION {
            return Err(format!(
                "snapshotVersion {} is not supported; this release reads {SNAPSHOT_VERSION}",
                snapshot.snapshot_version
            ));
        }
        // `snapshot-stale` reads it: a time that does not parse, or one in the future, would
        // silently turn that warning off.
        let captured = rfc3339(&snapshot.captured_at).map_err(|e| {
            format!("capturedAt `{}` is not an RFC 3339 time: {e}", snapshot.captured_at)
        })?;
        if captured > jiff::Timestamp::now() + jiff::SignedDuration::from_hours(24) {
            return Err(format!("capturedAt `{}` is in the future", snapshot.captured_at));
        }
        Ok(snapshot)
    }

    /// The snapshot as pretty JSON with a trailing newline.
    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).unwrap_or_default();
        text.push('\n');
        text
    }
}

/// A JSON error as `line L, column C: invalid snapshot: WHAT`, said once: serde's own text
/// repeats the place, and names column 0 at the end of a line.
fn json_error(e: &serde_json::Error) -> String {
    let text = e.to_string();
    let place = format!(" at line {} column {}", e.line(), e.column());
    let what = text.strip_suffix(&place).unwrap_or(&text);
    let what = match e.classify() {
        serde_json::error::Category::Eof => "the file ends before the JSON does",
        _ => what,
    };
    format!("line {}, column {}: invalid snapshot: {what}", e.line(), e.column().max(1))
}

/// Parses an RFC 3339 time. jiff reads a wider grammar (RFC 9557 and ISO 8601 forms, offsets
/// up to ±25:59), so the offset is checked too: `Z`, or `±HH:MM` with hours up to 23.
pub(crate) fn rfc3339(text: &str) -> Result<jiff::Timestamp, String> {
    let time: jiff::Timestamp = text.parse().map_err(|e: jiff::Error| e.to_string())?;
    let offset = text.as_bytes().get(text.len().saturating_sub(6)..).unwrap_or_default();
    let valid = match offset {
        [.., b'Z' | b'z'] => true,
        [b'+' | b'-', h1, h2, b':', m1, m2] => {
            let digits = [h1, h2, m1, m2].iter().all(|d| d.is_ascii_digit());
            digits && [*h1, *h2] <= *b"23" && *m1 <= b'5'
        }
        _ => false,
    };
    if !valid {
        return Err("its UTC offset is not `Z` or `+HH:MM` with hours from 00 to 23".to_string());
    }
    Ok(time)
}

#[cfg(test)]
mod tests {
    use super::Snapshot;

    /// Regression: JSON errors named their place twice, column 0 at the end of a line, and a
    /// top-level array as "expected a string".
    #[test]
    fn json_errors_name_their_place_once() {
        let error = |text: &str| Snapshot::parse(text).expect_err("refused");
        assert_eq!(
            error("{\"snapshotVersion\": 1,\n"),
            "line 2, column 1: invalid snapshot: the file ends before the JSON does"
        );
        let shape = "{\"snapshotVersion\": 1, \"capturedAt\": \"2026-01-01T00:00:00Z\", \
            \"projects\": [1]}";
        assert_eq!(
            error(shape),
            "line 1, column 73: invalid snapshot: invalid type: sequence, expected a map"
        );
        for text in ["[1, 2]", "", "  \"x\""] {
            assert!(
                error(text).starts_with("not a snapshot: a snapshot is a JSON object"),
                "{text}"
            );
        }
    }
}

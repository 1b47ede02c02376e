//! The promise that secretgate never prints a credential, held by every command that shows a
//! file's excerpt: each runs on a spec that does not parse, with a password on the line the
//! syntax error points at, and must report the error without the password.

mod common;

use std::path::{Path, PathBuf};

/// The broken spec's folder: `value: "XYZZYhunter2-realpassword` under `name: DB_PASSWORD`,
/// its quote never closed.
fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/rules/yaml-syntax/credential")
}

/// Runs secretgate in the fixture's folder; returns stdout and stderr together.
fn secretgate(args: &[&str]) -> String {
    common::run(common::secretgate().args(args).current_dir(fixture())).all()
}

/// Asserts that `output` reports the syntax error at the password's line and column, masked.
fn assert_masked(command: &str, output: &str) {
    assert!(output.contains("deploy/api.yaml:15:18"), "{command} misses the error:\n{output}");
    assert!(!output.contains("XYZZY"), "{command} prints the password:\n{output}");
    assert!(output.contains("value: \"*****"), "{command} shows no masked value:\n{output}");
}

/// `render`, `deploy --dry-run` and `import` show the broken line as `lint` does, masked.
#[test]
fn commands_other_than_lint_mask_the_broken_line() {
    let dir = tempfile::tempdir().unwrap();
    let snapshot = dir.path().join("staging.json");
    let empty = r#"{"snapshotVersion": 1, "capturedAt": "2026-12-03T12:00:00Z",
        "projects": {"acme-staging": {"secrets": []}}}"#;
    std::fs::write(&snapshot, empty).unwrap();
    let snapshot = snapshot.to_str().expect("a UTF-8 temporary path");
    let runs = [
        ("render", vec!["render", "--env", "staging", "--service", "api"]),
        ("deploy", vec!["deploy", "--env", "staging", "--dry-run", "--snapshot", snapshot]),
        ("import", vec!["import", "deploy/api.yaml", "--env", "staging", "-o", "-"]),
    ];
    for (command, args) in runs {
        assert_masked(command, &secretgate(&args));
    }
}

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

/// A project in a temporary folder: `secrets.yaml` as given, and `deploy/api.yaml` as given.
fn project(manifest: &str, spec: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("deploy")).unwrap();
    std::fs::write(dir.path().join("secrets.yaml"), manifest).unwrap();
    std::fs::write(dir.path().join("deploy/api.yaml"), spec).unwrap();
    dir
}

/// Runs secretgate in `dir`.
fn run_in(dir: &Path, args: &[&str]) -> common::Run {
    common::run(common::secretgate().args(args).current_dir(dir))
}

const MANIFEST: &str = "version: 1
environments:
  staging: {project: acme-staging, region: us-central1}
services:
  api:
    spec: deploy/api.yaml
";

/// Regression: the excerpt of a file that parses but is no Cloud Run service showed its
/// values as written (`database_password: hunter2`), in `lint` and in `import`: only the
/// findings of a few rules were masked.
#[test]
fn every_excerpt_masks_values_that_look_like_credentials() {
    let spec = "database_password: XYZZYhunter2\napi_key: sk_live_XYZZY0123456789abcdefgh\n\
                kind: Config\n";
    let dir = project(MANIFEST, spec);
    let lint = run_in(dir.path(), &["lint"]);
    assert!(lint.stdout.contains("not-a-cloud-run-service"), "{lint}");
    assert!(lint.stdout.contains("database_password: ****"), "{lint}");
    let import = run_in(dir.path(), &["import", "deploy/api.yaml", "--env", "staging", "-o", "-"]);
    assert!(import.all().contains("not-a-cloud-run-service"), "{import}");
    for run in [lint, import] {
        assert!(!run.all().contains("XYZZY"), "a value is shown:\n{run}");
    }
}

/// Regression: credentials written where names and versions go were echoed. The spec named a
/// secret `ghp_...` at version `sk_live_...` (`undeclared-secret`, `invalid-version`), and
/// `secret:` held a password and an AWS secret key (`invalid-secret-id`), in the messages, in
/// the JSON `secret` field and in the excerpts.
#[test]
fn credentials_in_names_and_versions_are_described_not_echoed() {
    let credentials = [
        "ghp_XYZZYabcdefghijklmnopqrstuvwxyz0123",
        "sk_live_XYZZY0123456789abcdefgh",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYXYZZYKEY",
        "S3cr3tP@ssw0rdXYZZY",
    ];
    let manifest = format!(
        "{MANIFEST}    secrets:\n      A: {{secret: \"{}\"}}\n      B: {{secret: \"{}\"}}\n",
        credentials[2], credentials[3]
    );
    let spec = format!(
        "apiVersion: serving.knative.dev/v1\nkind: Service\nspec:\n  template:\n    spec:\n      \
         containers:\n      - image: x\n        env:\n        - name: TOKEN\n          \
         valueFrom:\n            secretKeyRef:\n              name: {}\n              key: {}\n",
        credentials[0], credentials[1]
    );
    let dir = project(&manifest, &spec);
    for format in ["human", "json", "sarif", "github"] {
        let run = run_in(dir.path(), &["lint", "--format", format]);
        assert_eq!(run.code, 1, "{run}");
        assert!(!run.all().contains("XYZZY"), "{format} echoes a credential:\n{run}");
    }
    let doc = run_in(dir.path(), &["lint", "--format", "json"]).json();
    let found = doc["diagnostics"].as_array().expect("a list of findings");
    let codes: Vec<&str> = found.iter().filter_map(|d| d["code"].as_str()).collect();
    let expected =
        ["invalid-secret-id", "invalid-secret-id", "undeclared-secret", "invalid-version"];
    assert_eq!(codes, expected, "{doc:#}");
    assert!(found.iter().all(|d| d["secret"].is_null()), "{doc:#}");
    let says =
        |i: usize, text: &str| found[i]["message"].as_str().is_some_and(|m| m.contains(text));
    assert!(says(0, "could be a credential") && says(2, "looks like a GitHub token"), "{doc:#}");
    assert!(says(3, "looks like a Stripe key"), "{doc:#}");
}

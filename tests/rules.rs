//! One test per rule case: each runs the real binary on a fixture folder under
//! `tests/fixtures/rules/<code>/` and checks every finding's code, severity and exact location,
//! and the exit code. A fixture also holds near misses, which must not add a finding: the tests
//! compare the whole list of findings, so an extra one fails them.

mod common;

use serde_json::Value;
use std::path::PathBuf;

/// Exit codes of the public interface.
const OK: i32 = 0;
const FINDINGS: i32 = 1;
const USAGE: i32 = 2;

/// One finding of the JSON report.
#[derive(Debug)]
struct Finding {
    code: String,
    severity: String,
    file: String,
    line: u64,
    column: u64,
    message: String,
    help: Option<String>,
}

/// The manifest of a fixture folder.
fn manifest(fixture: &str) -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/rules");
    root.join(fixture).join("secrets.yaml")
}

/// Runs `secretgate --manifest <fixture>/secrets.yaml lint ARGS`; returns the exit code, stdout
/// and stderr.
fn run(fixture: &str, args: &[&str]) -> (i32, String, String) {
    let mut cmd = common::secretgate();
    cmd.arg("--manifest").arg(manifest(fixture)).arg("lint").args(args);
    let run = common::run(&mut cmd);
    (run.code, run.stdout, run.stderr)
}

/// Runs `lint --format json` plus `extra` on a fixture; returns the exit code and the findings.
fn lint_with(fixture: &str, extra: &[&str]) -> (i32, Vec<Finding>) {
    let mut args = vec!["--format", "json"];
    args.extend_from_slice(extra);
    let (code, stdout, stderr) = run(fixture, &args);
    let doc: Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{stdout}\nstderr:\n{stderr}"));
    assert_eq!(doc["command"], "lint", "{stdout}");
    let items = doc["diagnostics"].as_array().expect("`diagnostics` is an array");
    (code, items.iter().map(finding).collect())
}

/// Runs `lint --format json` on a fixture; returns the exit code and the findings.
fn lint(fixture: &str) -> (i32, Vec<Finding>) {
    lint_with(fixture, &[])
}

fn finding(item: &Value) -> Finding {
    let text = |v: &Value| v.as_str().unwrap_or_else(|| panic!("not a string: {item}")).to_string();
    let number = |v: &Value| v.as_u64().unwrap_or_else(|| panic!("not a number: {item}"));
    let location = &item["location"];
    Finding {
        code: text(&item["code"]),
        severity: text(&item["severity"]),
        file: text(&location["file"]),
        line: number(&location["line"]),
        column: number(&location["column"]),
        message: text(&item["message"]),
        help: item["help"].as_str().map(str::to_string),
    }
}

/// Code, severity, file, line and column of each finding, in report order.
fn places(found: &[Finding]) -> Vec<(&str, &str, &str, u64, u64)> {
    found
        .iter()
        .map(|f| (f.code.as_str(), f.severity.as_str(), f.file.as_str(), f.line, f.column))
        .collect()
}

/// Asserts that a finding's message contains `text`.
fn assert_message(f: &Finding, text: &str) {
    assert!(f.message.contains(text), "message of {f:?} lacks {text:?}");
}

/// Asserts that every output format reports `code` and prints none of `texts`, on stdout or
/// stderr.
fn assert_never_printed(fixture: &str, code: &str, texts: &[&str]) {
    for format in ["json", "human", "sarif", "github"] {
        let (exit, stdout, stderr) = run(fixture, &["--format", format]);
        assert_eq!(exit, FINDINGS, "{format}");
        assert!(stdout.contains(code), "{format} output:\n{stdout}");
        for text in texts {
            assert!(!stdout.contains(text), "{format} prints {text:?}:\n{stdout}");
            assert!(!stderr.contains(text), "{format} logs {text:?}:\n{stderr}");
        }
    }
}

/// Asserts that a finding's help contains `text`.
fn assert_help(f: &Finding, text: &str) {
    let help = f.help.as_deref().unwrap_or_default();
    assert!(help.contains(text), "help of {f:?} lacks {text:?}");
}

/// A manifest whose flow mapping `{secret: db-password` is never closed.
#[test]
fn yaml_syntax_unclosed_flow_mapping_in_manifest() {
    let (code, found) = lint("yaml-syntax/manifest");
    assert_eq!(code, FINDINGS);
    assert_eq!(places(&found), [("yaml-syntax", "error", "secrets.yaml", 10, 20)]);
    assert_message(&found[0], "unclosed bracket");
}

/// A spec whose `image: %APP_IMAGE%` starts a plain value with `%`.
#[test]
fn yaml_syntax_percent_value_in_spec() {
    let (code, found) = lint("yaml-syntax/spec");
    assert_eq!(code, FINDINGS);
    assert_eq!(places(&found), [("yaml-syntax", "error", "deploy/api.yaml", 10, 16)]);
}

/// A service with `secrest:` instead of `secrets:`.
#[test]
fn manifest_schema_misspelt_key_suggests_closest() {
    let (code, found) = lint("manifest-schema/unknown-key");
    assert_eq!(code, FINDINGS);
    assert_eq!(places(&found), [("manifest-schema", "error", "secrets.yaml", 9, 5)]);
    assert_message(&found[0], "unknown key `secrest`");
    assert_help(&found[0], "did you mean `secrets`?");
}

/// `required: yes`, a string under strict booleans, beside a valid `required: false`.
#[test]
fn manifest_schema_yes_is_not_a_boolean() {
    let (code, found) = lint("manifest-schema/wrong-type");
    assert_eq!(code, FINDINGS);
    assert_eq!(places(&found), [("manifest-schema", "error", "secrets.yaml", 12, 19)]);
    assert_message(&found[0], "`required` must be true or false, found a string");
}

/// A secret entry with a `version` but no `secret`.
#[test]
fn manifest_schema_entry_without_secret() {
    let (code, found) = lint("manifest-schema/missing-field");
    assert_eq!(code, FINDINGS);
    assert_eq!(places(&found), [("manifest-schema", "error", "secrets.yaml", 10, 7)]);
    assert_message(&found[0], "has no `secret`");
}

/// `version: 2` at the top of the manifest.
#[test]
fn manifest_schema_unsupported_version() {
    let (code, found) = lint("manifest-schema/unsupported-version");
    assert_eq!(code, FINDINGS);
    assert_eq!(places(&found), [("manifest-schema", "error", "secrets.yaml", 1, 10)]);
    assert_message(&found[0], "unsupported manifest version 2");
    assert_help(&found[0], "version: 1");
}

/// Regression: `version: 18446744073709551616` (2^64) was called the wrong type although it is
/// an integer, merely out of range.
#[test]
fn manifest_schema_version_out_of_range() {
    let (code, found) = lint("manifest-schema/version-out-of-range");
    assert_eq!(code, FINDINGS);
    assert_eq!(places(&found), [("manifest-schema", "error", "secrets.yaml", 1, 10)]);
    assert_message(&found[0], "unsupported manifest version 18446744073709551616: the number is");
}

/// Regression: environment names were filled into `{env}` paths unchecked. `../staging` and
/// `a b` are reported at their keys; `prod_eu-1` passes.
#[test]
fn manifest_schema_environment_names() {
    let (code, found) = lint("manifest-schema/environment-name");
    assert_eq!(code, FINDINGS);
    assert_eq!(
        places(&found),
        [
            ("manifest-schema", "error", "secrets.yaml", 3, 3),
            ("manifest-schema", "error", "secrets.yaml", 6, 3),
        ]
    );
    assert_message(&found[0], "`../staging` is not an environment name");
    assert_message(&found[1], "`a b` is not an environment name");
}

/// A manifest of zero bytes.
#[test]
fn manifest_schema_empty_file() {
    let (code, found) = lint("manifest-schema/empty-file");
    assert_eq!(code, FINDINGS);
    assert_eq!(places(&found), [("manifest-schema", "error", "secrets.yaml", 1, 1)]);
    assert_message(&found[0], "the manifest is empty");
}

/// `version: {staging: 3}` with a production environment; a second entry covers both.
#[test]
fn manifest_schema_per_env_map_missing_environment() {
    let (code, found) = lint("manifest-schema/missing-env-entry");
    assert_eq!(code, FINDINGS);
    assert_eq!(places(&found), [("manifest-schema", "error", "secrets.yaml", 15, 18)]);
    assert_message(&found[0], "has no entry for environment `production`");
}

/// A spec whose `value: "...` after `name: DB_PASSWORD` opens a quote it never closes: the
/// excerpt of the syntax error is the password's line.
#[test]
fn yaml_syntax_never_prints_the_credential_on_the_broken_line() {
    let fixture = "yaml-syntax/credential";
    let (code, found) = lint(fixture);
    assert_eq!(code, FINDINGS);
    assert_eq!(places(&found), [("yaml-syntax", "error", "deploy/api.yaml", 15, 18)]);
    assert_message(&found[0], "unclosed quote");
    assert_never_printed(fixture, "yaml-syntax", &["XYZZY", "hunter2", "realpassword"]);
    let (_, human, _) = run(fixture, &["--format", "human"]);
    assert!(human.contains("deploy/api.yaml:15:18"), "{human}");
    assert!(human.contains("15 │           value: \"*************************\n"), "{human}");
}

/// `spec: deploy/{enviroment}/api.yaml`.
#[test]
fn manifest_schema_unknown_placeholder_suggests_env() {
    let (code, found) = lint("manifest-schema/unknown-placeholder");
    assert_eq!(code, FINDINGS);
    assert_eq!(places(&found), [("manifest-schema", "error", "secrets.yaml", 8, 18)]);
    assert_message(&found[0], "unknown placeholder `{enviroment}`");
    assert_help(&found[0], "did you mean `{env}`?");
}

/// `pin_versions: [prod]`, `environments: [.., qa]` and a `producton:` version key.
#[test]
fn unknown_environment_typos_in_pin_versions_lists_and_maps() {
    let (code, found) = lint("unknown-environment");
    assert_eq!(code, FINDINGS);
    assert_eq!(
        places(&found),
        [
            ("unknown-environment", "error", "secrets.yaml", 10, 18),
            ("unknown-environment", "error", "secrets.yaml", 14, 41),
            ("unknown-environment", "error", "secrets.yaml", 18, 36),
        ]
    );
    assert_help(&found[0], "did you mean `production`?");
    assert_help(&found[1], "defined environments: staging, production");
    assert_help(&found[2], "did you mean `production`?");
}

/// `projects/P/secret/S` and `db password`; a valid full name and `api-key-{env}` pass. A value
/// with a blank could be a passphrase: it is described, not quoted.
#[test]
fn invalid_secret_id_malformed_full_name_and_space() {
    let (code, found) = lint("invalid-secret-id");
    assert_eq!(code, FINDINGS);
    assert_eq!(
        places(&found),
        [
            ("invalid-secret-id", "error", "secrets.yaml", 11, 17),
            ("invalid-secret-id", "error", "secrets.yaml", 13, 17),
        ]
    );
    assert_message(&found[0], "is not of the form `projects/PROJECT/secrets/ID`");
    assert_message(&found[1], "a value that could be a credential (not shown)");
    assert!(!found[1].message.contains("password"), "{:?}", found[1]);
}

/// Text of the credentials pasted into the secret-value-in-manifest fixture.
const PASTED_CREDENTIALS: &[&str] = &[
    "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhcGkiLCJpYXQiOjE3MDB9.ZmFrZS1zaWduYXR1cmUtZm9yLXRlc3Rz",
    "ZmFrZS1zaWduYXR1cmUtZm9yLXRlc3Rz",
    "BEGIN PRIVATE KEY",
    "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7",
    "XYZZY0123456789012345678901234567890",
    "1234567890-abcdefghijkl",
];

/// A JWT and a PEM block pasted as `secret:`, a GitHub token as an entry's key and a Slack
/// token as a `version:`; `sk-config` is a name, not a key.
#[test]
fn secret_value_in_manifest_is_reported_and_never_printed() {
    let fixture = "secret-value-in-manifest";
    let (code, found) = lint(fixture);
    assert_eq!(code, FINDINGS);
    assert_eq!(
        places(&found),
        [
            ("secret-value-in-manifest", "error", "secrets.yaml", 11, 17),
            ("secret-value-in-manifest", "error", "secrets.yaml", 14, 11),
            ("secret-value-in-manifest", "error", "secrets.yaml", 19, 7),
            ("secret-value-in-manifest", "error", "secrets.yaml", 23, 18),
        ]
    );
    assert_message(&found[0], "looks like a JSON Web Token");
    assert_message(&found[1], "looks like a PEM block");
    assert_message(&found[2], "an entry's key looks like a GitHub token");
    assert_message(&found[3], "the `version:` of `SLACK_TOKEN` looks like a Slack token");
    assert_never_printed(fixture, "secret-value-in-manifest", PASTED_CREDENTIALS);
}

/// `JWT-SECRET-KEY` and `1PASSWORD`; `_PRIVATE_KEY_2` is a valid name.
#[test]
fn invalid_env_name_dash_and_leading_digit() {
    let (code, found) = lint("invalid-env-name");
    assert_eq!(code, FINDINGS);
    assert_eq!(
        places(&found),
        [
            ("invalid-env-name", "error", "secrets.yaml", 10, 7),
            ("invalid-env-name", "error", "secrets.yaml", 12, 7),
        ]
    );
    assert_message(&found[0], "it may only hold letters, digits and `_`");
    assert_message(&found[1], "it starts with a digit");
}

/// `PORT` in the manifest, `K_REVISION` in the spec; `K_SERVICE_NAME` and `PORTAL_URL` pass.
#[test]
fn reserved_env_name_in_manifest_and_spec() {
    let (code, found) = lint("reserved-env-name");
    assert_eq!(code, FINDINGS);
    assert_eq!(
        places(&found),
        [
            ("reserved-env-name", "error", "secrets.yaml", 10, 7),
            ("reserved-env-name", "error", "deploy/api.yaml", 11, 17),
        ]
    );
    assert_message(&found[0], "`PORT` is reserved");
    assert_message(&found[1], "sets `K_REVISION`");
}

/// Manifest versions `0` and `-1`; the alias `stable` is valid.
#[test]
fn invalid_version_zero_and_negative_in_manifest() {
    let (code, found) = lint("invalid-version/manifest");
    assert_eq!(code, FINDINGS);
    assert_eq!(
        places(&found),
        [
            ("invalid-version", "error", "secrets.yaml", 12, 18),
            ("invalid-version", "error", "secrets.yaml", 15, 18),
        ]
    );
    assert_message(&found[0], "`0` is not a valid secret version");
    assert_message(&found[1], "`-1` is not a valid secret version");
}

/// Regression: numbers past 2^64 were "not a string", `"007"` read as version 7 although YAML
/// keeps it a string, and `.inf` was a `yaml-syntax` error that hid every other finding (here
/// the misspelt environment). `version: 7` passes.
#[test]
fn invalid_version_numbers_out_of_range_with_zeros_or_infinite() {
    let (code, found) = lint("invalid-version/numbers");
    assert_eq!(code, FINDINGS);
    assert_eq!(
        places(&found),
        [
            ("invalid-version", "error", "secrets.yaml", 12, 18),
            ("invalid-version", "error", "secrets.yaml", 15, 18),
            ("invalid-version", "error", "secrets.yaml", 18, 18),
            ("invalid-version", "error", "secrets.yaml", 21, 18),
            ("invalid-version", "error", "secrets.yaml", 24, 28),
            ("unknown-environment", "error", "secrets.yaml", 30, 19),
        ]
    );
    assert_message(&found[0], "`99999999999999999999999999999` is not a valid secret version");
    assert_message(&found[1], "the number is out of range");
    assert_message(&found[2], "no leading zeros (write `7`)");
    assert_message(&found[3], "`.inf` is not a valid secret version");
    assert_message(&found[4], "no leading zeros (write `7`)");
}

/// A spec `key: password`; `key: stable` (declared alias) and `key: '3'` (declared) pass.
#[test]
fn invalid_version_kubernetes_key_in_spec() {
    let (code, found) = lint("invalid-version/spec");
    assert_eq!(code, FINDINGS);
    // Reported once: mapping-conflict does not compare a key that is not a version.
    assert_eq!(places(&found), [("invalid-version", "error", "deploy/api.yaml", 15, 20)]);
    assert_message(&found[0], "`key: password` of `DB_PASSWORD`");
}

/// The key `secrets/db/password`, a relative path; `/secrets/api/key` passes.
#[test]
fn invalid_mount_path_relative() {
    let (code, found) = lint("invalid-mount-path/relative");
    assert_eq!(code, FINDINGS);
    assert_eq!(places(&found), [("invalid-mount-path", "error", "secrets.yaml", 10, 7)]);
    assert_message(&found[0], "it is not an absolute path");
}

/// `/proc/self/token`; `/processed/token` merely starts with the same letters.
#[test]
fn invalid_mount_path_under_proc() {
    let (code, found) = lint("invalid-mount-path/system-dir");
    assert_eq!(code, FINDINGS);
    assert_eq!(places(&found), [("invalid-mount-path", "error", "secrets.yaml", 10, 7)]);
    assert_message(&found[0], "it lies under /dev, /proc or /sys");
}

/// A path holding a terminal escape and a carriage return, which would also rewrite the
/// terminal that shows a plan or an audit; the path is described, not shown.
#[test]
fn invalid_mount_path_control_character() {
    let (code, found) = lint("invalid-mount-path/control-char");
    assert_eq!(code, FINDINGS);
    assert_eq!(places(&found), [("invalid-mount-path", "error", "secrets.yaml", 10, 7)]);
    assert_message(&found[0], "a value with control characters (not shown) cannot be a secret");
    assert_message(&found[0], "it contains a control character");
}

/// Two secrets in `/secrets/oauth`; two versions of one secret in `/secrets/tls` pass.
#[test]
fn invalid_mount_path_two_secrets_one_directory() {
    let (code, found) = lint("invalid-mount-path/shared-dir");
    assert_eq!(code, FINDINGS);
    assert_eq!(places(&found), [("invalid-mount-path", "error", "secrets.yaml", 12, 7)]);
    assert_message(&found[0], "share the directory /secrets/oauth");
}

/// Regression: declared files were compared pairwise, which took seconds for a few thousand
/// and reported each file against every earlier one of its directory. Files in directories of
/// their own clash with none; 1,000 files of 1,000 secrets in one directory give one finding
/// each but the first; a file under another file's path is one more.
#[test]
fn invalid_mount_path_many_files_are_grouped_by_directory() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from(
        "version: 1\nenvironments:\n  staging: {project: acme-staging, region: us-central1}\n\
         services:\n  api:\n    spec: api.yaml\n    secrets:\n",
    );
    for i in 0..3000 {
        text.push_str(&format!("      /own/d{i}/f: {{secret: d{i}}}\n"));
    }
    for i in 0..1000 {
        text.push_str(&format!("      /shared/f{i}: {{secret: s{i}}}\n"));
    }
    text.push_str("      /own/d7/f/nested: {secret: d7}\n");
    std::fs::write(dir.path().join("secrets.yaml"), text).unwrap();
    let spec = "apiVersion: serving.knative.dev/v1\nkind: Service\nspec:\n  template:\n    \
                spec:\n      containers:\n      - image: x\n";
    std::fs::write(dir.path().join("api.yaml"), spec).unwrap();
    let mut cmd = common::secretgate();
    cmd.arg("--manifest").arg(dir.path().join("secrets.yaml")).args(["lint", "--format", "json"]);
    let doc = common::run(&mut cmd).json();
    let messages: Vec<&str> = doc["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|d| d["message"].as_str())
        .collect();
    let shared = messages.iter().filter(|m| m.contains("share the directory /shared")).count();
    let nested: Vec<&&str> = messages.iter().filter(|m| m.contains("are nested")).collect();
    assert_eq!((messages.len(), shared), (1000, 999), "{messages:?}");
    assert_eq!(
        nested,
        [&"`/own/d7/f` and `/own/d7/f/nested` are nested: one file's path is the \
                          other's directory"]
    );
}

/// A spec container mounting `/secrets/tls` and `/secrets/tls/`; `/secrets/jwt` passes, and so
/// does `/cache`: a mount path is the directory itself, so one level below `/` is fine.
#[test]
fn invalid_mount_path_same_mount_twice_in_spec() {
    let (code, found) = lint("invalid-mount-path/spec-same-mount");
    assert_eq!(code, FINDINGS);
    assert_eq!(places(&found), [("invalid-mount-path", "error", "deploy/api.yaml", 14, 22)]);
    assert_message(&found[0], "mounts two volumes on `/secrets/tls/`");
}

/// `DATABASE_PASSWORD` written twice as a key of one `secrets:` map.
#[test]
fn duplicate_target_repeated_yaml_key() {
    let (code, found) = lint("duplicate-target/yaml-key");
    assert_eq!(code, FINDINGS);
    assert_eq!(places(&found), [("duplicate-target", "error", "secrets.yaml", 14, 7)]);
    assert_message(&found[0], "`DATABASE_PASSWORD` is declared twice");
}

/// `/secrets/tls/key.pem` and `/secrets/tls//key.pem`; `/secrets/tls/./cert.pem` is another file.
#[test]
fn duplicate_target_two_spellings_of_one_path() {
    let (code, found) = lint("duplicate-target/path-spelling");
    assert_eq!(code, FINDINGS);
    assert_eq!(places(&found), [("duplicate-target", "error", "secrets.yaml", 12, 7)]);
    assert_message(&found[0], "are the same file");
}

/// `LOG_LEVEL` twice in container `app`; `LOG_FORMAT` in both `app` and `sidecar` passes.
#[test]
fn duplicate_target_env_var_twice_in_spec_container() {
    let (code, found) = lint("duplicate-target/spec-env");
    assert_eq!(code, FINDINGS);
    assert_eq!(places(&found), [("duplicate-target", "error", "deploy/api.yaml", 18, 17)]);
    assert_message(&found[0], "container `app` defines `LOG_LEVEL` twice");
}

/// Production pinned: no `version` and `production: latest` fail; `production: 4` passes.
#[test]
fn unpinned_version_latest_in_pinned_environment() {
    let fixture = "unpinned-version";
    let (code, found) = lint(fixture);
    assert_eq!(code, FINDINGS);
    assert_eq!(
        places(&found),
        [
            ("unpinned-version", "error", "secrets.yaml", 15, 7),
            ("unpinned-version", "error", "secrets.yaml", 19, 48),
        ]
    );
    assert_message(&found[0], "`DB_PASSWORD` defaults to `latest` in `production`");
    assert_message(&found[1], "`API_KEY` uses `latest` in `production`");
    // The secondary label on `pin_versions` shows only in the human report.
    let (_, human, _) = run(fixture, &["--format", "human"]);
    assert_eq!(human.matches("pinning required here").count(), 2, "{human}");
}

/// `spec: deploy/{env}/api.yaml` where only the staging file exists.
#[test]
fn spec_not_found_for_one_environment() {
    let fixture = "spec-not-found";
    let (code, found) = lint(fixture);
    assert_eq!(code, FINDINGS);
    assert_eq!(places(&found), [("spec-not-found", "error", "secrets.yaml", 11, 11)]);
    assert_message(&found[0], "spec `deploy/production/api.yaml` cannot be read");
    let (code, found) = lint_with(fixture, &["--env", "staging"]);
    assert_eq!((code, places(&found)), (OK, vec![]));
}

/// A spec that is a Kubernetes `apps/v1` Deployment.
#[test]
fn not_a_cloud_run_service_kubernetes_deployment() {
    let (code, found) = lint("not-a-cloud-run-service/other-kind");
    assert_eq!(code, FINDINGS);
    assert_eq!(places(&found), [("not-a-cloud-run-service", "error", "deploy/api.yaml", 1, 13)]);
    assert_message(&found[0], "`apiVersion: apps/v1` is not `serving.knative.dev/v1`");
}

/// A spec in the Admin API v2 JSON shape (`name`, `template`, no `apiVersion`).
#[test]
fn not_a_cloud_run_service_admin_api_v2_json() {
    let (code, found) = lint("not-a-cloud-run-service/v2-json");
    assert_eq!(code, FINDINGS);
    assert_eq!(places(&found), [("not-a-cloud-run-service", "error", "deploy/api.json", 1, 1)]);
    assert_message(&found[0], "Admin API v2 shape");
}

/// A Knative service whose container has `env: LOG_LEVEL=debug`, a string.
#[test]
fn not_a_cloud_run_service_env_is_a_string() {
    let (code, found) = lint("not-a-cloud-run-service/wrong-type");
    assert_eq!(code, FINDINGS);
    assert_eq!(places(&found), [("not-a-cloud-run-service", "error", "deploy/api.yaml", 10, 14)]);
    assert_message(&found[0], "`env` must be a list, found a string");
}

/// Regression: `spec: 5` read as a service without containers (an `unknown-container` about
/// the manifest's `container:`), `template: hello` as "no containers" at the top of the file,
/// and a `secretKeyRef` whose `name` is a list was also said to be "found a mapping". Each is
/// one finding at the field of the wrong type.
#[test]
fn not_a_cloud_run_service_fields_of_the_wrong_shape() {
    let (code, found) = lint("not-a-cloud-run-service/wrong-shape");
    assert_eq!(code, FINDINGS);
    assert_eq!(
        places(&found),
        [
            ("not-a-cloud-run-service", "error", "deploy/api.yaml", 5, 7),
            ("not-a-cloud-run-service", "error", "deploy/web.yaml", 6, 13),
            ("not-a-cloud-run-service", "error", "deploy/worker.yaml", 13, 34),
        ]
    );
    assert_message(&found[0], "`spec` must be a mapping, found an integer");
    assert_message(&found[1], "`spec.template` must be a mapping, found a string");
    assert_message(&found[2], "`name` must be a string, found a list");
}

/// `container: backnd` where the spec has `backend` and `collector`.
#[test]
fn unknown_container_named_container_missing() {
    let (code, found) = lint("unknown-container/named-missing");
    assert_eq!(code, FINDINGS);
    assert_eq!(places(&found), [("unknown-container", "error", "secrets.yaml", 9, 16)]);
    assert_message(&found[0], "the spec has no container `backnd`");
    assert_help(&found[0], "did you mean `backend`?");
}

/// No `container:`, two containers: none with a port, both with one, exactly one (passes).
#[test]
fn unknown_container_ambiguous_without_container_key() {
    let (code, found) = lint("unknown-container/ambiguous");
    assert_eq!(code, FINDINGS);
    assert_eq!(
        places(&found),
        [
            ("unknown-container", "error", "secrets.yaml", 7, 3),
            ("unknown-container", "error", "secrets.yaml", 9, 3),
        ]
    );
    assert_help(&found[0], "app, collector");
    assert_help(&found[1], "app, proxy");
}

/// Literal declared name, `STRIPE_API_KEY`, `DATABASE_URL` with password; near misses pass.
#[test]
fn plaintext_secret_literal_values() {
    let fixture = "plaintext-secret";
    let (code, found) = lint(fixture);
    assert_eq!(code, FINDINGS);
    assert_eq!(
        places(&found),
        [
            ("plaintext-secret", "error", "deploy/api.yaml", 15, 18),
            ("plaintext-secret", "error", "deploy/api.yaml", 17, 18),
            ("plaintext-secret", "error", "deploy/api.yaml", 19, 18),
        ]
    );
    assert_message(&found[0], "`SENTRY_DSN` as a plaintext value: secrets.yaml declares it");
    assert_message(&found[1], "`STRIPE_API_KEY` as a plaintext value: its name marks it");
    assert_message(
        &found[2],
        "`DATABASE_URL` as a plaintext value: it holds a URL with a password",
    );
    let (_, stdout, _) = run(fixture, &["--format", "json"]);
    for value in ["abc123", "stripe-literal-value", "hunter2"] {
        assert!(!stdout.contains(value), "prints {value:?}:\n{stdout}");
    }
}

/// Keys, tokens and PEM blocks under innocent names; `sk-small`, a region and a UUID pass.
#[test]
fn plaintext_secret_credential_values_under_innocent_names() {
    let fixture = "plaintext-secret/values";
    let (code, found) = lint(fixture);
    assert_eq!(code, FINDINGS);
    assert_eq!(
        places(&found),
        [
            ("plaintext-secret", "error", "deploy/api.yaml", 13, 18),
            ("plaintext-secret", "error", "deploy/api.yaml", 15, 18),
            ("plaintext-secret", "error", "deploy/api.yaml", 17, 18),
            ("plaintext-secret", "error", "deploy/api.yaml", 20, 13),
            ("plaintext-secret", "error", "deploy/api.yaml", 24, 18),
        ]
    );
    assert_message(&found[0], "`SOME_SETTING` as a plaintext value: it looks like a Stripe key");
    assert_message(&found[1], "`GH` as a plaintext value: it looks like a GitHub token");
    assert_message(&found[2], "`PEM` as a plaintext value: it looks like a PEM block");
    assert_message(&found[3], "`CERT` as a plaintext value: it looks like a PEM block");
    assert_message(&found[4], "`NOTIFY` as a plaintext value: it looks like a Slack token");
    assert_never_printed(fixture, "plaintext-secret", &["XYZZY", "BEGIN PRIVATE", "sk_live_51H"]);
}

/// Credentials in annotations, `command`, `args` and probes: by the annotation's, the flag's
/// or the header's name, a
/// flag's value on a command line, and what an export left as `<redacted>`; a TTL, a
/// placeholder, a port, a size, a path, an env var's name, a Secret Manager name and Cloud
/// Run's own annotations pass.
#[test]
fn plaintext_secret_in_annotations_commands_and_arguments() {
    let fixture = "plaintext-secret/arguments";
    let (code, found) = lint(fixture);
    assert_eq!(code, FINDINGS);
    assert_eq!(
        places(&found),
        [
            ("plaintext-secret", "error", "deploy/api.yaml", 6, 30),
            ("plaintext-secret", "error", "deploy/api.yaml", 17, 33),
            ("plaintext-secret", "error", "deploy/api.yaml", 20, 15),
            ("plaintext-secret", "error", "deploy/api.yaml", 21, 15),
            ("plaintext-secret", "error", "deploy/api.yaml", 27, 15),
            ("plaintext-secret", "error", "deploy/api.yaml", 38, 44),
            ("plaintext-secret", "error", "deploy/api.yaml", 42, 37),
            ("plaintext-secret", "error", "deploy/api.yaml", 47, 18),
        ]
    );
    assert_message(&found[0], "annotation `example.com/db-password` holds a plaintext value");
    assert_message(&found[1], "passes a plaintext credential in `command` (item 3)");
    assert_message(&found[2], "in `args` (item 2): it is the value of a flag named like");
    assert_message(&found[3], "in `args` (item 3): its flag is named like a credential");
    assert_message(&found[4], "in `args` (item 9): it holds `<redacted>`");
    assert_message(&found[5], "sends header `X-Api-Key` in its `livenessProbe`");
    assert_message(&found[6], "in its `startupProbe` command (item 3): it holds a user's password");
    // A flag that ends `command` takes the first item of `args`: one command line.
    assert_message(
        &found[7],
        "container `sidecar` passes a plaintext credential in `args` (item 1)",
    );
    assert_never_printed(fixture, "plaintext-secret", &["XYZZY"]);
}

/// Spec versions or secrets that differ from the manifest; matching mappings pass.
#[test]
fn mapping_conflict_other_version_and_other_secret() {
    let (code, found) = lint("mapping-conflict");
    assert_eq!(code, FINDINGS);
    assert_eq!(
        places(&found),
        [
            ("mapping-conflict", "error", "deploy/api.yaml", 15, 20),
            ("mapping-conflict", "error", "deploy/api.yaml", 16, 17),
            ("undeclared-secret", "warning", "deploy/api.yaml", 19, 21),
            ("mapping-conflict", "error", "deploy/api.yaml", 42, 18),
        ]
    );
    assert_message(&found[0], "`DB_PASSWORD` at version `3`, secrets.yaml at `4`");
    assert_message(&found[1], "to secret `projects/acme-staging/secrets/other-api-key`");
    assert_message(&found[3], "`/secrets/cert/cert.pem` at version `2`, secrets.yaml at `1`");
}

/// Asserts that the human report of a fixture shows every one of `texts`: the places
/// (`FILE:LINE:COLUMN`) and captions of a finding's labels, which JSON does not carry.
fn assert_labels(fixture: &str, texts: &[&str]) {
    let (_, stdout, _) = run(fixture, &[]);
    for text in texts {
        assert!(stdout.contains(text), "the report lacks {text:?}:\n{stdout}");
    }
}

/// `/etc/tls` is mounted from a secret volume of `other-bundle`, where secrets.yaml puts
/// `/etc/tls/cert.pem` from `tls-bundle`; `/etc/oauth`, a volume of the declared secret that
/// lists another file, passes.
#[test]
fn mapping_conflict_directory_mounted_from_another_secret() {
    let fixture = "mapping-conflict/other-secret-volume";
    let (code, found) = lint(fixture);
    assert_eq!(code, FINDINGS);
    assert_eq!(
        places(&found),
        [
            ("mapping-conflict", "error", "deploy/api.yaml", 18, 23),
            ("undeclared-secret", "warning", "deploy/api.yaml", 18, 23),
        ]
    );
    assert_message(
        &found[0],
        "`/etc/tls/cert.pem` cannot be mounted at /etc/tls: the spec mounts secret \
         `other-bundle` there (volume `tls`)",
    );
    assert_help(&found[0], "mount the declared secret in the spec");
    let labels = ["deploy/api.yaml:18:23", "mounted here", "secrets.yaml:11:17"];
    assert_labels(fixture, &[labels[0], labels[1], labels[2], "secrets.yaml's secret"]);
}

/// `/etc/tls` mounts the whole of `tls-bundle` (no `items`), as the file `tls-bundle`, which
/// secrets.yaml does not declare beside `/etc/tls/cert.pem`; `/secrets/signing`, mounted whole
/// and declared as `/secrets/signing/signing-key`, passes.
#[test]
fn mapping_conflict_whole_secret_volume_would_lose_its_file() {
    let fixture = "mapping-conflict/whole-secret-volume";
    let (code, found) = lint(fixture);
    assert_eq!(code, FINDINGS);
    assert_eq!(places(&found), [("mapping-conflict", "error", "deploy/api.yaml", 18, 23)]);
    assert_message(&found[0], "`/etc/tls/cert.pem` cannot be mounted at /etc/tls");
    assert_message(&found[0], "as the file `tls-bundle`, which secrets.yaml does not declare");
    assert_help(&found[0], "declare `/etc/tls/tls-bundle` in secrets.yaml too");
    assert_labels(fixture, &["mounted here", "secrets.yaml:10:7", "a declared file"]);
}

/// `/var/cache` is mounted from an `emptyDir` volume, where secrets.yaml puts
/// `/var/cache/token.json`; the `emptyDir` at `/tmp/scratch`, where nothing is declared, passes.
#[test]
fn invalid_mount_path_directory_mounted_from_another_kind_of_volume() {
    let fixture = "invalid-mount-path/not-a-secret-volume";
    let (code, found) = lint(fixture);
    assert_eq!(code, FINDINGS);
    assert_eq!(places(&found), [("invalid-mount-path", "error", "deploy/api.yaml", 17, 9)]);
    assert_message(
        &found[0],
        "`/var/cache/token.json` cannot be mounted at /var/cache: the spec mounts volume `cache` \
         there, whose source is `emptyDir`, not a secret",
    );
    let labels = ["not a secret volume", "mounted here", "secrets.yaml:10:7", "a declared file"];
    assert_labels(fixture, &labels);
}

/// `check` runs the lint rules first, so it reports the same mount conflicts; here against a
/// snapshot in which the project has no secret at all.
#[test]
fn check_reports_mount_conflicts_too() {
    let dir = tempfile::tempdir().unwrap();
    let snapshot = dir.path().join("snapshot.json");
    let empty = r#"{"snapshotVersion": 1, "capturedAt": "2026-12-01T00:00:00Z",
        "projects": {"acme-staging": {"secrets": []}}}"#;
    std::fs::write(&snapshot, empty).unwrap();
    for (fixture, code) in [
        ("mapping-conflict/other-secret-volume", "mapping-conflict"),
        ("mapping-conflict/whole-secret-volume", "mapping-conflict"),
        ("invalid-mount-path/not-a-secret-volume", "invalid-mount-path"),
    ] {
        let mut cmd = common::secretgate();
        cmd.arg("--manifest").arg(manifest(fixture));
        cmd.args(["check", "--env", "staging", "--format", "json", "--snapshot"]).arg(&snapshot);
        let run = common::run(&mut cmd);
        assert_eq!(run.code, FINDINGS, "{fixture}");
        let doc = run.json();
        let found: Vec<Finding> =
            doc["diagnostics"].as_array().unwrap().iter().map(finding).collect();
        let ours: Vec<_> = found.iter().filter(|f| f.code == code).collect();
        assert_eq!(ours.len(), 1, "{fixture}: {found:#?}");
        assert_message(ours[0], "cannot be mounted at");
    }
}

/// Malformed annotation, full name, undefined alias, no `secretName`; a defined alias passes.
#[test]
fn alias_unresolved_names_and_malformed_annotation() {
    let (code, found) = lint("alias-unresolved");
    assert_eq!(code, FINDINGS);
    assert_eq!(
        places(&found),
        [
            ("alias-unresolved", "error", "deploy/api.yaml", 9, 37),
            ("alias-unresolved", "error", "deploy/api.yaml", 22, 21),
            ("alias-unresolved", "error", "deploy/api.yaml", 27, 21),
            ("alias-unresolved", "error", "deploy/api.yaml", 32, 15),
        ]
    );
    assert_message(&found[0], "`broken:projects/shared-infra/secret/x`");
    assert_message(&found[1], "`projects/shared-infra/secrets/signing-key` (for `SIGNING_KEY`)");
    assert_message(&found[2], "`partner.key` (for `PARTNER_KEY`)");
    assert_message(&found[3], "secret volume `certs` names no secret");
}

/// Regression: `x:projects/partner-one/secrets/good,..., x:projects/partner-two/secrets/gone`
/// defined the alias `x` twice, and the first definition was used silently. The repeat is an
/// error at the second definition; `oauth`, defined once, passes.
#[test]
fn alias_unresolved_reports_an_alias_defined_twice() {
    let (code, found) = lint("alias-unresolved/repeated");
    assert_eq!(code, FINDINGS);
    assert_eq!(places(&found), [("alias-unresolved", "error", "deploy/api.yaml", 9, 123)]);
    assert_message(&found[0], "alias `x` is defined twice in `run.googleapis.com/secrets`");
}

/// The spec maps `SENTRY_DSN` from `sentry-dsn`, which the manifest does not declare.
#[test]
fn undeclared_secret_is_a_warning_unless_denied() {
    let fixture = "undeclared-secret";
    let expected = [("undeclared-secret", "warning", "deploy/api.yaml", 18, 21)];
    let (code, found) = lint(fixture);
    assert_eq!(code, OK);
    assert_eq!(places(&found), expected);
    assert_message(&found[0], "`SENTRY_DSN` comes from secret `sentry-dsn`");
    let (code, found) = lint_with(fixture, &["--deny-warnings"]);
    assert_eq!(code, FINDINGS);
    assert_eq!(places(&found), expected);
}

/// `--env prodution`, one letter away from `production`.
#[test]
fn env_flag_typo_suggests_closest_and_exits_2() {
    let (code, stdout, stderr) =
        run("unpinned-version", &["--format", "json", "--env", "prodution"]);
    assert_eq!(code, USAGE);
    assert_eq!(stdout, "");
    assert!(stderr.contains("unknown environment `prodution`"), "{stderr}");
    assert!(stderr.contains("did you mean `production`?"), "{stderr}");
}

/// `--env nosuch`, close to no environment.
#[test]
fn env_flag_unknown_lists_environments_and_exits_2() {
    let (code, stdout, stderr) = run("unpinned-version", &["--format", "json", "--env", "nosuch"]);
    assert_eq!(code, USAGE);
    assert_eq!(stdout, "");
    assert!(stderr.contains("unknown environment `nosuch`"), "{stderr}");
    assert!(stderr.contains("the manifest defines: staging, production"), "{stderr}");
}

/// `--manifest` naming a file that does not exist.
#[test]
fn missing_manifest_exits_2() {
    let (code, stdout, stderr) = run("no-such-fixture", &["--format", "json"]);
    assert_eq!(code, USAGE);
    assert_eq!(stdout, "");
    assert!(stderr.contains("cannot read"), "{stderr}");
}

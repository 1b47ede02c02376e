//! The promise that secretgate never prints a credential, held by every command that shows a
//! file's excerpt: each runs on a spec that does not parse, with a password on the line the
//! syntax error points at, and must report the error without the password.

mod common;

use common::Fake;
use serde_json::{Value, json};
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

/// A `.env` file's two lines: a GitHub token and a password, each glued to its name by `=`.
const ENV_FILE: &str =
    "GITHUB_TOKEN=ghp_XYZZYdEfGhIjKlMnOpQrStUvWxYz0123456789\nDB_PASSWORD=XYZZYhunter2\n";

/// Regression: a `.env` file used as a spec or as the manifest, or read after a flow sequence
/// left open, was shown in clear in the excerpt: its lines are no `key: value` for YAML, so the
/// line masker judged each as one plain value and found no credential in it.
#[test]
fn an_env_file_in_place_of_a_spec_or_manifest_is_masked() {
    let dir = project(MANIFEST, ENV_FILE);
    std::fs::write(dir.path().join("dot.env"), ENV_FILE).unwrap();
    let flow = format!("env: [{{name: A, value: \"x\"\n{ENV_FILE}");
    std::fs::write(dir.path().join("flow.yaml"), flow).unwrap();
    let flow_manifest = MANIFEST.replace("deploy/api.yaml", "flow.yaml");
    std::fs::write(dir.path().join("flow-manifest.yaml"), flow_manifest).unwrap();
    let runs = [
        ("spec", vec!["lint"]),
        ("manifest", vec!["lint", "--manifest", "dot.env"]),
        ("open flow", vec!["lint", "--manifest", "flow-manifest.yaml"]),
        ("import", vec!["import", "deploy/api.yaml", "--env", "staging", "-o", "-"]),
    ];
    for (case, args) in runs {
        let run = run_in(dir.path(), &args);
        assert!(!run.all().contains("XYZZY"), "{case}: a credential is shown\n{run}");
        // The names stay readable; an excerpt of the open flow shows the first line only.
        assert!(run.all().contains("GITHUB_TOKEN=*****"), "{case}: no masked line\n{run}");
        let second = run.all().contains("DB_PASSWORD=*****");
        assert!(second || case == "open flow", "{case}: no masked line\n{run}");
    }
}

/// A live `api` whose literal env values carry credentials inside longer text, under names
/// that do not mark a credential.
fn live_api_with_embedded_credentials() -> Value {
    let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJYWVpaWSJ9.XYZZYc2lnbmF0dXJl";
    let token = "ghp_XYZZYdEfGhIjKlMnOpQrStUvWxYz0123456789";
    json!({
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Service",
        "metadata": { "name": "api", "annotations": { "my.io/token": token } },
        "spec": { "template": { "spec": { "containers": [{
            "name": "app",
            "image": "us-docker.pkg.dev/shop/app/api:0.9.0",
            "args": [format!("--key={token}"), "--db-password", "XYZZYhunter2"],
            "env": [
                { "name": "AUTH_HEADER", "value": format!("Bearer {token}") },
                { "name": "CFG", "value": format!("key={token}") },
                { "name": "HOOK", "value": format!("https://hooks.example.com/x?token={jwt}") },
            ],
        }]}}},
    })
}

/// Regression: the plan's diff (human and JSON) showed live env values that hold a credential
/// inside longer text (`Bearer ghp_...`, `key=ghp_...`, a URL with `?token=` and a JSON Web
/// Token): only values that were a credential as a whole became `<redacted>`. Credentials in an
/// annotation or an argument, which no rule reads, were shown too, and so was the argument after
/// a flag such as `--db-password`.
#[test]
fn the_plan_redacts_credentials_inside_longer_values() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/deploy");
    let seed = std::fs::read_to_string(fixtures.join("secretmanager.json")).unwrap();
    let fake = Fake::seeded(serde_json::from_str(&seed).unwrap(), |_| {});
    fake.set_service("shop", live_api_with_embedded_credentials()).unwrap();
    for format in ["human", "json"] {
        let args = ["deploy", "--env", "staging", "--service", "api", "--dry-run"];
        let mut cmd = common::secretgate_at(&fake);
        let run = common::run(cmd.current_dir(&fixtures).args(args).args(["--format", format]));
        assert_eq!(run.code, 0, "{run}");
        assert!(!run.all().contains("XYZZY"), "{format}: a credential is shown\n{run}");
        assert_eq!(run.stdout.matches("<redacted>").count(), 3, "{format}\n{run}");
    }
}

/// A Cloud Run spec of `api` whose only container maps `env` as given.
fn spec_with_env(env: &str) -> String {
    format!(
        "apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata:\n  name: api\nspec:\n  \
         template:\n    spec:\n      containers:\n      - name: app\n        image: x\n        \
         env:\n{env}"
    )
}

/// A project that writes credentials where names go: the environment's runtime account
/// `ghp_...`, version `AKIA...` of `db-pass`, and a spec mapping secret `ghp_...`; and
/// `snap.json`, a snapshot in which `db-pass` has one enabled version and no IAM policy.
fn credentials_as_names() -> tempfile::TempDir {
    let manifest = "version: 1\nenvironments:\n  staging:\n    project: acme-staging\n    \
        region: us-central1\n    service_account: ghp_XYZZYabcdefghijklmnopqrstuvwxyz0123\n\
        services:\n  api:\n    spec: deploy/api.yaml\n    secrets:\n      B:\n        \
        secret: db-pass\n        version: AKIAXYZZY01234567890\n";
    let env = "        - name: A\n          valueFrom:\n            secretKeyRef:\n              \
        name: ghp_XYZZYzZCdEfGhIjKlMnOpQrStUvWxYz0123\n              key: latest\n";
    let dir = project(manifest, &spec_with_env(env));
    let snapshot = r#"{"snapshotVersion": 1, "capturedAt": "2026-12-03T12:00:00Z",
        "projects": {"acme-staging": {"secrets": [{
            "secret": {"name": "projects/acme-staging/secrets/db-pass"},
            "versions": [{"name": "projects/acme-staging/secrets/db-pass/versions/1",
                "createTime": "2026-11-01T00:00:00Z", "state": "ENABLED"}]}]}}}"#;
    std::fs::write(dir.path().join("snap.json"), snapshot).unwrap();
    dir
}

/// Runs `secretgate ARGS --snapshot snap.json` in `dir`.
fn with_snapshot(dir: &Path, args: &[&str]) -> common::Run {
    run_in(dir, &[args, &["--snapshot", "snap.json"]].concat())
}

/// Regression: `check` quoted names, versions and accounts that look like credentials in
/// every format: ``secret `ghp_...` does not exist``, the help's `gcloud secrets create
/// ghp_...`, ``no version alias `AKIA...` ``, ``whether ghp_... may read``.
#[test]
fn check_describes_credentials_written_as_names() {
    let dir = credentials_as_names();
    for format in ["human", "json", "sarif", "github"] {
        let run = with_snapshot(dir.path(), &["check", "--env", "staging", "--format", format]);
        assert_eq!(run.code, 1, "{run}");
        assert!(!run.all().contains("XYZZY"), "check --format {format} echoes\n{run}");
    }
    let doc = with_snapshot(dir.path(), &["check", "--env", "staging", "--format", "json"]).json();
    let found = doc["diagnostics"].as_array().expect("a list of findings");
    let codes: Vec<&str> = found.iter().filter_map(|d| d["code"].as_str()).collect();
    for code in ["secret-not-found", "version-not-found", "verification-incomplete"] {
        assert!(codes.contains(&code), "no {code}: {doc:#}");
    }
    let human = with_snapshot(dir.path(), &["check", "--env", "staging"]);
    assert!(human.stdout.contains("gcloud secrets create SECRET_ID --project"), "{human}");
}

/// Regression: the deploy gate printed the same messages as `check`, and `audit --format json`
/// gave the declared version `AKIA...` as `declaredVersion`.
#[test]
fn the_gate_and_audit_describe_credentials_written_as_names() {
    let dir = credentials_as_names();
    let gate = with_snapshot(dir.path(), &["deploy", "--env", "staging", "--dry-run"]);
    assert_eq!(gate.code, 1, "{gate}");
    assert!(!gate.all().contains("XYZZY"), "the deploy gate echoes\n{gate}");
    let audit = with_snapshot(dir.path(), &["audit", "--format", "json"]);
    assert!(!audit.all().contains("XYZZY"), "audit echoes\n{audit}");
    let hygiene = &audit.json()["hygiene"];
    assert_eq!(hygiene[0]["declaredVersion"], Value::Null, "{hygiene:#}");
}

/// Regression: a spec env var name holding a terminal escape sequence (it retitled the window
/// and turned the output red) reached the terminal raw, and no rule flagged it.
#[test]
fn control_characters_in_a_spec_env_name_are_flagged_and_escaped() {
    let env = "        - name: \"X\\e]0;pwned\\a\\e[31mRED\"\n          value: hello\n";
    let dir = project(MANIFEST, &spec_with_env(env));
    let run = run_in(dir.path(), &["lint"]);
    assert_eq!(run.code, 1, "{run}");
    assert!(run.stdout.contains("invalid-env-name"), "{run}");
    assert!(run.stdout.contains("control character"), "{run}");
    assert!(!run.all().contains('\u{1b}') && !run.all().contains('\u{7}'), "{run:?}");
}

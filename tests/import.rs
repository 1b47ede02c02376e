//! `secretgate import`, run as a process: the manifest it writes from existing Cloud Run specs
//! renders back to the same mappings, merges names across environments, marks its guesses,
//! never imports or shows a plaintext credential, never overwrites a file unasked, and merges
//! into a hand-written manifest without touching a line of it.
//!
//! Fixtures live in tests/fixtures/import/<case>/deploy/<env>/<service>.yaml; each test copies
//! the specs into a temporary folder and writes the manifest beside them, as a user would.

mod common;

use common::{Fake, Run};
use fake_google::{FakeConfig, FakeGoogle, Route};
use proptest::prelude::*;
use secretgate::error::exit;
use secretgate::import::{ImportOptions, Input};
use secretgate::yaml::{self, Node};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/import");
const REALWORLD: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/realworld");

/// The literal credential in tests/fixtures/import/plaintext, which no output may show.
const PLAINTEXT_VALUE: &str = "hunter2-very-secret";

/// The comment import writes on every class it suggests.
const CLASS_GUESS: &str = "  # GUESS: suggested from the name";

/// Runs `secretgate ARGS` in `dir`.
fn secretgate(dir: &Path, args: &[&str]) -> Run {
    common::run(common::secretgate().current_dir(dir).args(args))
}

/// `import deploy -o secrets.yaml ARGS` in `dir`, which must succeed.
fn import(dir: &Path, args: &[&str]) -> Run {
    let mut all = vec!["import", "deploy", "-o", "secrets.yaml"];
    all.extend_from_slice(args);
    let run = secretgate(dir, &all);
    assert_eq!(run.code, i32::from(exit::OK), "import {args:?}:\n{run}");
    run
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// A temporary folder holding the `deploy/` folder of fixture `case`.
fn workspace(case: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a temporary folder");
    copy_dir(&Path::new(FIXTURES).join(case).join("deploy"), &dir.path().join("deploy"));
    dir
}

/// The manifest written in `dir`, as text and as a tree.
fn manifest(dir: &Path) -> (String, Node) {
    let text = std::fs::read_to_string(dir.join("secrets.yaml")).expect("a manifest was written");
    let tree = yaml::parse(text.as_bytes())
        .unwrap_or_else(|e| panic!("the manifest is not YAML ({}):\n{text}", e.message));
    (text, tree)
}

fn service<'a>(tree: &'a Node, name: &str) -> &'a Node {
    tree.path(&["services", name]).unwrap_or_else(|| panic!("no service `{name}`"))
}

fn entry<'a>(tree: &'a Node, service: &str, target: &str) -> &'a Node {
    tree.path(&["services", service, "secrets", target])
        .unwrap_or_else(|| panic!("no entry `{target}` in service `{service}`"))
}

/// The targets of a service's `secrets:`, in file order, duplicates kept.
fn targets(tree: &Node, service: &str) -> Vec<String> {
    let secrets = tree.path(&["services", service, "secrets"]).and_then(Node::as_map);
    secrets.unwrap_or_default().iter().filter_map(|(k, _)| k.scalar_text()).collect()
}

/// The line of the manifest where `key` of `node` is written.
fn line_of<'a>(text: &'a str, node: &Node, key: &str) -> &'a str {
    let (key_node, _) = node.get_entry(key).unwrap_or_else(|| panic!("no `{key}`"));
    text.lines().nth(key_node.span.line - 1).unwrap()
}

/// The line right above the one where `key` of `node` is written.
fn line_above<'a>(text: &'a str, node: &Node, key: &str) -> &'a str {
    let (key_node, _) = node.get_entry(key).unwrap_or_else(|| panic!("no `{key}`"));
    text.lines().nth(key_node.span.line - 2).unwrap()
}

// Lint and render of the imported manifest.

/// One finding of `lint --format json`.
#[derive(Debug)]
struct Finding {
    code: String,
    file: String,
    message: String,
}

/// Runs `lint --format json` on `dir/secrets.yaml`.
fn lint(dir: &Path) -> (Run, Vec<Finding>) {
    let run = secretgate(dir, &["lint", "--manifest", "secrets.yaml", "--format", "json"]);
    assert!(matches!(run.code, 0 | 1), "lint:\n{run}");
    let doc: Value = serde_json::from_str(&run.stdout).expect("lint --format json prints JSON");
    let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
    let findings = doc["diagnostics"]
        .as_array()
        .expect("a diagnostics array")
        .iter()
        .map(|d| Finding {
            code: text(&d["code"]),
            file: text(&d["location"]["file"]),
            message: text(&d["message"]),
        })
        .collect();
    (run, findings)
}

/// The findings that are about the imported manifest rather than the specs themselves: any in
/// the manifest, and those in a spec that say the manifest disagrees with it. A secret of a
/// sidecar is the exception when the manifest notes it was not imported.
fn about_the_manifest<'a>(findings: &'a [Finding], manifest: &str) -> Vec<&'a Finding> {
    let about_manifest = ["mapping-conflict", "undeclared-secret", "unknown-container"];
    let noted = |f: &Finding| {
        let target = f.message.split('`').nth(1).unwrap_or_default();
        f.code == "undeclared-secret"
            && manifest.lines().any(|l| {
                l.trim_start().starts_with("# not imported:") && l.contains(&format!("`{target}`"))
            })
    };
    findings
        .iter()
        .filter(|f| f.file == "secrets.yaml" || about_manifest.contains(&f.code.as_str()))
        .filter(|f| !noted(f))
        .collect()
}

/// `render --env ENV --service SERVICE` of `dir/secrets.yaml`, parsed.
fn render(dir: &Path, env: &str, service: &str) -> Node {
    let args = ["--manifest", "secrets.yaml", "render", "--env", env, "--service", service];
    let run = secretgate(dir, &args);
    assert_eq!(run.code, 0, "render --env {env} --service {service}:\n{run}");
    yaml::parse(run.stdout.as_bytes()).expect("render prints YAML")
}

/// Every secret mapping of a spec, as `container: target` -> `secret@version`: env vars by
/// name, mounted files by path. Aliases of `run.googleapis.com/secrets` are replaced by the
/// secret they stand for, so that two spellings of one mapping compare equal.
fn mappings(spec: &Node) -> BTreeMap<String, String> {
    let template = spec.path(&["spec", "template"]).expect("spec.template");
    let aliases: BTreeMap<&str, &str> = template
        .path(&["metadata", "annotations", "run.googleapis.com/secrets"])
        .and_then(Node::as_str)
        .unwrap_or_default()
        .split(',')
        .filter_map(|pair| pair.trim().split_once(':'))
        .collect();
    let secret = |name: &str| aliases.get(name).copied().unwrap_or(name).to_string();
    let text = |n: &Node, k: &str| n.get(k).and_then(Node::scalar_text).unwrap_or_default();
    let list = |n: &Node, k: &str| n.get(k).and_then(Node::as_seq).unwrap_or_default().to_vec();

    let volumes = template.get("spec").map(|s| list(s, "volumes")).unwrap_or_default();
    let containers = template.get("spec").map(|s| list(s, "containers")).unwrap_or_default();
    let mut out = BTreeMap::new();
    for (i, container) in containers.iter().enumerate() {
        let label = container.get("name").and_then(Node::scalar_text);
        let label = label.unwrap_or_else(|| format!("#{}", i + 1));
        for var in list(container, "env") {
            let Some(r) = var.path(&["valueFrom", "secretKeyRef"]) else { continue };
            let mapped = format!("{}@{}", secret(&text(r, "name")), text(r, "key"));
            out.insert(format!("{label}: {}", text(&var, "name")), mapped);
        }
        for mount in list(container, "volumeMounts") {
            let volume = volumes.iter().find(|v| text(v, "name") == text(&mount, "name"));
            let Some(source) = volume.and_then(|v| v.get("secret")) else { continue };
            let name = secret(&text(source, "secretName"));
            let dir = text(&mount, "mountPath");
            let items = list(source, "items");
            if items.is_empty() {
                out.insert(format!("{label}: {dir}/{name}"), format!("{name}@latest"));
            }
            for item in items {
                let mapped = format!("{name}@{}", text(&item, "key"));
                out.insert(format!("{label}: {dir}/{}", text(&item, "path")), mapped);
            }
        }
    }
    out
}

/// The spec without a single secret mapping: no env var from a secret, no secret volume or
/// mount of one, no aliases. Rendered from it, every mapping must come from the manifest.
fn without_mappings(spec: &Node) -> String {
    let mut tree = spec.to_json();
    let template = tree.pointer_mut("/spec/template").expect("spec.template");
    let aliases = template.pointer_mut("/metadata/annotations").and_then(Value::as_object_mut);
    if let Some(annotations) = aliases {
        annotations.remove("run.googleapis.com/secrets");
    }
    let mut secret_volumes = Vec::new();
    if let Some(volumes) = template.pointer_mut("/spec/volumes").and_then(Value::as_array_mut) {
        secret_volumes.extend(volumes.iter().filter(|v| v.get("secret").is_some()).cloned());
        volumes.retain(|v| v.get("secret").is_none());
    }
    let from_secret = |e: &Value| e.pointer("/valueFrom/secretKeyRef").is_some();
    let on_secret = |m: &Value| secret_volumes.iter().any(|v| v["name"] == m["name"]);
    let containers = template.pointer_mut("/spec/containers").and_then(Value::as_array_mut);
    for container in containers.into_iter().flatten() {
        if let Some(env) = container.get_mut("env").and_then(Value::as_array_mut) {
            env.retain(|e| !from_secret(e));
        }
        if let Some(mounts) = container.get_mut("volumeMounts").and_then(Value::as_array_mut) {
            mounts.retain(|m| !on_secret(m));
        }
    }
    Node::from_json(&tree).to_yaml().expect("the tree is YAML")
}

/// The spec files under `dir/deploy`, as (environment, path).
fn spec_files(dir: &Path) -> Vec<(String, PathBuf)> {
    let mut files = Vec::new();
    for env in std::fs::read_dir(dir.join("deploy")).unwrap() {
        let env = env.unwrap();
        for file in std::fs::read_dir(env.path()).unwrap() {
            files.push((env.file_name().to_string_lossy().into_owned(), file.unwrap().path()));
        }
    }
    files.sort();
    files
}

/// Imports `dir/deploy`, then checks that the manifest lints clean and that every service
/// renders, in every environment, to the mappings of its original spec: first with the spec as
/// it is, then with the spec stripped of its mappings, so that the manifest alone carries them.
fn assert_round_trip(dir: &Path) {
    import(dir, &[]);
    let (text, _) = manifest(dir);
    let (run, findings) = lint(dir);
    assert!(findings.is_empty() && run.code == 0, "lint of\n{text}\nsays:\n{run}");

    let mut compared = 0;
    for (env, path) in spec_files(dir) {
        let original = yaml::parse(&std::fs::read(&path).unwrap()).unwrap();
        let name = original.path(&["metadata", "name"]).and_then(Node::as_str).unwrap();
        let expected = mappings(&original);
        let what = format!("{env}/{name}");
        assert_eq!(mappings(&render(dir, &env, name)), expected, "{what}, spec as it is");

        std::fs::write(&path, without_mappings(&original)).unwrap();
        assert!(mappings(&yaml::parse(&std::fs::read(&path).unwrap()).unwrap()).is_empty());
        assert_eq!(mappings(&render(dir, &env, name)), expected, "{what}, spec stripped");
        compared += expected.len();
    }
    assert!(compared > 0, "the specs map no secret: the round trip proves nothing");
}

/// The shipped example, deploy/staging and deploy/production: imported, it lints clean and
/// renders every service back to the secrets its specs map.
#[test]
fn round_trip_of_the_shipped_example() {
    let dir = tempfile::tempdir().unwrap();
    for env in ["staging", "production"] {
        copy_dir(&Path::new(ROOT).join("deploy").join(env), &dir.path().join("deploy").join(env));
    }
    assert_round_trip(dir.path());
}

/// The same round trip with a mounted file, a secret of another project through an alias,
/// a per-environment map and a service of one environment only.
#[test]
fn round_trip_of_files_aliases_and_maps() {
    let dir = workspace("templates");
    assert_round_trip(dir.path());
}

// What the manifest says.

/// Secret names that differ only by the environment's name become one `{env}` template; so do
/// the spec paths.
#[test]
fn names_that_differ_only_by_environment_become_a_template() {
    let dir = workspace("templates");
    import(dir.path(), &[]);
    let (_, tree) = manifest(dir.path());
    let api = service(&tree, "api");
    assert_eq!(api.get("spec").unwrap().to_json(), json!("deploy/{env}/api.yaml"));
    assert_eq!(entry(&tree, "api", "API_TOKEN").to_json()["secret"], json!("api-token-{env}"));
    assert_eq!(entry(&tree, "api", "/etc/tls/cert.pem").to_json()["secret"], json!("tls-{env}"));
    assert!(entry(&tree, "api", "API_TOKEN").get("version").is_none(), "latest is the default");

    // The same name and version everywhere is neither a template nor a map.
    let partner = entry(&tree, "api", "PARTNER_TOKEN").to_json();
    assert_eq!(partner["secret"], json!("projects/partner-infra/secrets/partner-token"));
    assert_eq!(partner["version"], json!(5));
}

/// Names that differ otherwise become a map per environment, and so do versions; a service of
/// one environment gets its spec as a map and an `environments:` list.
#[test]
fn names_that_differ_otherwise_become_a_map_per_environment() {
    let dir = workspace("templates");
    import(dir.path(), &[]);
    let (_, tree) = manifest(dir.path());
    let db = entry(&tree, "api", "DB_PASSWORD").to_json();
    assert_eq!(
        db["secret"],
        json!({"staging": "db-pass-stg", "production": "prod-database-password"})
    );
    assert_eq!(db["version"], json!({"staging": 2, "production": 7}));

    let worker = service(&tree, "worker").to_json();
    assert_eq!(worker["spec"], json!({"production": "deploy/production/worker.yaml"}));
    assert_eq!(worker["environments"], json!(["production"]));
    assert_eq!(worker["secrets"]["QUEUE_URL"]["secret"], json!("queue-url"));
}

/// The class is suggested from the name, and every suggestion says it is one.
#[test]
fn class_is_suggested_from_the_name_and_marked_as_a_guess() {
    let expected = [
        ("JWT_SIGNING_KEY", "auth"),
        ("GOOGLE_OAUTH_CLIENT_ID", "auth"),
        ("GITHUB_TOKEN", "auth"),
        ("DJANGO_SECRET_KEY", "auth"),
        ("/secrets/oauth/client-secret", "auth"),
        ("DATABASE_PASSWORD", "db"),
        ("DB_PASSWORD", "db"),
        ("POSTGRES_PASSWORD", "db"),
        ("MYSQL_ROOT_PASSWORD", "db"),
        ("REDIS_PASSWORD", "db"),
        ("SMTP_PASSWORD", "other"),
        ("SENTRY_DSN", "other"),
    ];
    let dir = workspace("classes");
    import(dir.path(), &[]);
    let (text, tree) = manifest(dir.path());
    assert_eq!(targets(&tree, "api").len(), expected.len(), "one entry per secret:\n{text}");
    for (target, class) in expected {
        let found = entry(&tree, "api", target);
        assert_eq!(found.get("class").and_then(Node::as_str), Some(class), "class of {target}");
        let line = line_of(&text, found, "class");
        assert!(line.ends_with(CLASS_GUESS), "{target}: the class is not marked:\n{line}");
    }
}

// Plaintext credentials.

/// A credential written as a literal value is not imported, is reported as `plaintext-secret`
/// with the entry to add instead, and is shown nowhere: not on stdout, not on stderr (even with
/// colour and every log), not in the manifest, not in a lint of the manifest.
#[test]
fn plaintext_credential_is_reported_never_imported_never_shown() {
    let dir = workspace("plaintext");
    let spec = std::fs::read_to_string(dir.path().join("deploy/staging/api.yaml")).unwrap();
    assert!(spec.contains(PLAINTEXT_VALUE), "the fixture holds the value the test looks for");

    let run = import(dir.path(), &["-vv"]);
    let (text, tree) = manifest(dir.path());
    for (what, shown) in [("stdout", &run.stdout), ("stderr", &run.stderr), ("manifest", &text)] {
        assert!(!shown.contains(PLAINTEXT_VALUE), "the {what} shows the value:\n{shown}");
    }
    assert!(run.stderr.contains("plaintext-secret"), "no finding:\n{run}");
    assert!(run.stderr.contains("`DB_PASSWORD` as a plaintext value"), "{run}");
    assert_eq!(targets(&tree, "api"), ["SESSION_SECRET"], "only the secret reference is imported");
    let suggestion = text.lines().find(|l| l.contains("DB_PASSWORD")).unwrap_or_default();
    assert!(suggestion.starts_with('#'), "the suggestion is no comment:\n{text}");
    assert!(suggestion.contains("api: DB_PASSWORD: {secret: db-password, class: db}"), "{text}");

    let args = ["--color", "always", "import", "deploy", "-o", "-"];
    let coloured = secretgate(dir.path(), &args);
    assert_eq!(coloured.code, 0, "{coloured}");
    assert!(coloured.stdout.contains("SESSION_SECRET"), "the manifest goes to stdout");
    assert!(!coloured.stdout.contains(PLAINTEXT_VALUE), "stdout shows the value:\n{coloured}");
    assert!(coloured.stderr.contains('\u{1b}'), "the report is not coloured:\n{coloured}");
    assert!(!coloured.stderr.contains(PLAINTEXT_VALUE), "stderr shows the value:\n{coloured}");

    let (lint_run, findings) = lint(dir.path());
    assert!(!lint_run.stdout.contains(PLAINTEXT_VALUE), "lint shows the value:\n{lint_run}");
    let about = about_the_manifest(&findings, &text);
    assert!(about.is_empty(), "findings about the manifest: {about:?}");
    assert!(findings.iter().any(|f| f.code == "plaintext-secret"), "lint sees it too");
}

// Names that YAML cannot write plainly.

/// A spec of service `api` whose target container maps `API_TOKEN` from `secret`, whose
/// sidecar is named `sidecar` and maps `SIDE_KEY`, and which sets `plaintext` (a credential
/// name) to a literal value.
fn odd_spec(secret: &str, sidecar: &str, plaintext: &str) -> Value {
    let from = |name: &str, key: &str| json!({"secretKeyRef": {"name": name, "key": key}});
    json!({
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Service",
        "metadata": {"name": "api"},
        "spec": {"template": {"spec": {"containers": [
            {"name": "app", "image": "app:1", "ports": [{"containerPort": 8080}], "env": [
                {"name": "API_TOKEN", "valueFrom": from(secret, "latest")},
                {"name": plaintext, "value": "pasted-credential-value"},
            ]},
            {"name": sidecar, "image": "side:1", "env": [
                {"name": "SIDE_KEY", "valueFrom": from("side-key", "1")},
            ]},
        ]}}},
    })
}

/// Regression: a secret name holding a zero-width space (pasted with it) was written with
/// Rust's escape `\u{200b}`, which YAML does not know, and a sidecar name or an env var name
/// holding a control character went raw into a comment: the manifest did not parse. It now
/// parses, and keeps the secret name exactly.
#[test]
fn invisible_characters_keep_the_manifest_valid() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("deploy/staging");
    std::fs::create_dir_all(&folder).unwrap();
    let spec = odd_spec("api\u{200b}token", "side\ncar", "DB_PASSWORD\u{7}");
    std::fs::write(folder.join("api.yaml"), Node::from_json(&spec).to_yaml().unwrap()).unwrap();

    import(dir.path(), &[]);
    let (text, tree) = manifest(dir.path());
    assert!(text.contains("secret: \"api\\u200Btoken\""), "{text}");
    let secret = entry(&tree, "api", "API_TOKEN").get("secret").and_then(Node::as_str);
    assert_eq!(secret, Some("api\u{200b}token"));
    assert!(text.contains("container `side\\ncar` maps `SIDE_KEY`"), "{text}");
    assert!(text.contains("api: DB_PASSWORD\\x07:"), "{text}");
}

/// Any text, or a usual name.
fn name() -> impl Strategy<Value = String> {
    prop_oneof!["[a-z][a-z0-9-]{0,8}", any::<String>()]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Whatever names two specs of one service hold, in two environments, the manifest
    /// `import` writes parses; in one environment, they are refused.
    #[test]
    fn the_imported_manifest_always_parses(
        envs in (name(), name()),
        secrets in (name(), name()),
        sidecar in name(),
        plaintext in name(),
    ) {
        let inputs = [(&envs.0, &secrets.0), (&envs.1, &secrets.1)].map(|(env, secret)| {
            let spec = Node::from_json(&odd_spec(secret, &sidecar, &plaintext)).to_yaml().unwrap();
            Input {
                path: PathBuf::from("deploy").join(env).join("api.yaml"),
                env: env.clone(),
                content: Some(spec.into_bytes()),
            }
        });
        let options = ImportOptions {
            base: PathBuf::from("."),
            project: None,
            region: "us-central1".into(),
            known_envs: Vec::new(),
        };
        let imported = secretgate::import::import(&inputs, &options);
        if envs.0 == envs.1 {
            let refused = imported.expect_err("two specs of `api` in one environment");
            let message = refused.to_string();
            prop_assert!(message.contains("are both specs of service `api`"), "{}", message);
            return Ok(());
        }
        let imported = imported.expect("UTF-8 paths");
        prop_assert_eq!(imported.services, 1);
        let parsed = yaml::parse(imported.manifest.as_bytes());
        prop_assert!(parsed.is_ok(), "{:?}\n{}", parsed.err(), imported.manifest);
    }
}

// Existing files.

/// Without `--force` an existing output is refused with the usage exit code and left as it
/// was; with `--force` it is replaced.
#[test]
fn existing_output_is_kept_unless_forced() {
    let dir = workspace("templates");
    let output = dir.path().join("secrets.yaml");
    let before = "# Written by hand; nothing may touch it.\nversion: 1\n";
    std::fs::write(&output, before).unwrap();

    let run = secretgate(dir.path(), &["import", "deploy", "-o", "secrets.yaml"]);
    assert_eq!(run.code, i32::from(exit::USAGE), "{run}");
    assert!(run.stderr.contains("secrets.yaml exists; nothing was written"), "{run}");
    assert!(run.stderr.contains("--force"), "the message names the way out:\n{run}");
    assert_eq!(std::fs::read(&output).unwrap(), before.as_bytes(), "the file changed");

    import(dir.path(), &["--force"]);
    let (text, tree) = manifest(dir.path());
    assert_ne!(text, before);
    assert_eq!(targets(&tree, "worker"), ["QUEUE_URL"], "the imported manifest replaced it");
}

/// Option values that would write a manifest `lint` rejects are refused before anything is
/// read or written, each with the usage exit code and a message naming the value.
#[test]
fn option_values_lint_would_reject_are_refused() {
    let dir = workspace("templates");
    let cases: [(&[&str], &str); 5] = [
        (&["--env", ""], "`` is not an environment name"),
        (&["--env", "prod eu"], "`prod eu` is not an environment name"),
        (&["--project", "shop/prod"], "`shop/prod` is not a Google Cloud project id"),
        (&["--region", "US Central"], "`US Central` is not a Cloud Run region"),
        (
            &["--live", "--env", "prod", "--project", "shop", "--service", "Api"],
            "`Api` is not a Cloud Run service name",
        ),
    ];
    for (args, message) in cases {
        let mut all = vec!["import", "deploy", "-o", "secrets.yaml"];
        all.extend_from_slice(args);
        let run = secretgate(dir.path(), &all);
        assert_eq!(run.code, i32::from(exit::USAGE), "{args:?}:\n{run}");
        assert!(run.stderr.contains(message), "{args:?}: expected `{message}`:\n{run}");
        assert!(run.stderr.contains("nothing was written"), "{args:?}:\n{run}");
        assert!(!dir.path().join("secrets.yaml").exists(), "{args:?} wrote a manifest");
    }
}

/// Asserts that every line of `kept` is in `merged`, byte for byte and in order.
fn assert_keeps_lines(kept: &str, merged: &str) {
    let mut rest = merged.split_inclusive('\n');
    for line in kept.split_inclusive('\n') {
        assert!(rest.any(|l| l == line), "the line {line:?} was changed, moved or lost:\n{merged}");
    }
}

/// Asserts what every merge must leave: a manifest that parses and in which `lint` finds
/// nothing wrong on its own (no finding located in secrets.yaml).
fn assert_merged_manifest_lints(dir: &Path) {
    let (merged, _) = manifest(dir);
    let (run, findings) = lint(dir);
    let in_manifest: Vec<&Finding> = findings.iter().filter(|f| f.file == "secrets.yaml").collect();
    assert!(
        in_manifest.is_empty(),
        "lint finds in the merged manifest
{merged}
{run}"
    );
}

/// `--merge` into a hand-written manifest (indented by four, with comments) adds the missing
/// entries and service, changes none of its lines, lints clean, and adds nothing the second
/// time.
#[test]
fn merge_adds_only_what_is_missing_and_keeps_every_line() {
    let dir = workspace("templates");
    let existing = std::fs::read_to_string(Path::new(FIXTURES).join("merge/secrets.yaml")).unwrap();
    std::fs::write(dir.path().join("secrets.yaml"), &existing).unwrap();

    let run = import(dir.path(), &["--merge"]);
    assert!(run.stderr.contains("4 service(s) or entries added"), "{run}");
    let (merged, tree) = manifest(dir.path());
    assert_keeps_lines(&existing, &merged);
    let api = ["API_TOKEN", "/etc/tls/cert.pem", "DB_PASSWORD", "PARTNER_TOKEN"];
    assert_eq!(targets(&tree, "api"), api, "the existing entry stays, once, in its place");
    assert_eq!(targets(&tree, "worker"), ["QUEUE_URL"]);
    let services = tree.get("services").and_then(Node::as_map).unwrap();
    assert_eq!(services.len(), 2, "no service twice:\n{merged}");
    assert_eq!(
        entry(&tree, "api", "API_TOKEN").to_json(),
        json!({"secret": "api-token-{env}", "class": "auth"}),
        "the existing entry is not replaced by the imported one"
    );
    let (lint_run, findings) = lint(dir.path());
    assert!(findings.is_empty() && lint_run.code == 0, "lint of\n{merged}\nsays:\n{lint_run}");
    let existing_lines: Vec<&str> = existing.lines().collect();
    for line in merged.lines().filter(|l| !existing_lines.contains(l)) {
        let indent = line.len() - line.trim_start().len();
        assert_eq!(indent % 4, 0, "added line {line:?} is not indented by fours:\n{merged}");
    }

    let again = import(dir.path(), &["--merge"]);
    assert!(again.stderr.contains("0 service(s) or entries added"), "{again}");
    let (twice, _) = manifest(dir.path());
    assert_eq!(twice, merged, "the second merge changed the manifest");
}

/// The environments of the manifests kept by hand below: `staging` and `production`, those of
/// the fixtures, in projects that follow one pattern and in one region.
const STAGING_AND_PRODUCTION: &str = "\
version: 1
environments:
  staging:
    project: shop-staging
    region: europe-west1
  production:
    project: shop-production
    region: europe-west1
";

/// A manifest kept by hand: the environments above, then `services:` holding `services`.
fn kept_by_hand(services: &str) -> String {
    format!("{STAGING_AND_PRODUCTION}services:\n{services}")
}

/// Service `api` with its spec only.
const API: &str = "  api:\n    spec: deploy/{env}/api.yaml\n";

/// Service `api`, agreeing with the specs of tests/fixtures/import/gaps on DB_PASSWORD.
const API_WITH_DB_PASSWORD: &str = "  api:
    spec: deploy/{env}/api.yaml
    secrets:
      DB_PASSWORD:
        secret: db-password
        version: {staging: 2, production: 3}
";

/// The specs use `dev`, which the manifest lacks: `--merge` declares it with a project named
/// like the others' (marked as a guess) and their shared region, keeps the existing service to
/// the environments it had (it was written for those), says so, and the result lints clean.
#[test]
fn merge_declares_a_new_environment_named_like_the_others() {
    let dir = workspace("gaps");
    let existing = kept_by_hand(API_WITH_DB_PASSWORD);
    std::fs::write(dir.path().join("secrets.yaml"), &existing).unwrap();

    let run = import(dir.path(), &["--merge"]);
    let (merged, tree) = manifest(dir.path());
    assert_keeps_lines(&existing, &merged);
    let dev = tree.path(&["environments", "dev"]).expect("dev is declared").to_json();
    assert_eq!(dev, json!({"project": "shop-dev", "region": "europe-west1"}), "{merged}");
    let project = line_of(&merged, tree.path(&["environments", "dev"]).unwrap(), "project");
    assert!(project.ends_with("# GUESS: named like the other environments' projects"), "{merged}");
    let api = service(&tree, "api");
    assert_eq!(api.get("environments").unwrap().to_json(), json!(["staging", "production"]));
    assert_eq!(targets(&tree, "api"), ["DB_PASSWORD", "API_TOKEN"]);
    assert!(
        run.stderr.contains("environment `dev` added to secrets.yaml: project shop-dev"),
        "{run}"
    );
    assert!(run.stderr.contains("the specs show `api` in dev too"), "{run}");

    let (lint_run, findings) = lint(dir.path());
    assert!(findings.is_empty() && lint_run.code == 0, "lint of\n{merged}\nsays:\n{lint_run}");
}

/// When the new environment's project cannot be derived (the others follow no pattern and
/// differ), `--merge` says what to add and changes nothing; `--project` gives it.
#[test]
fn merge_without_a_derivable_project_says_what_to_add() {
    let dir = workspace("gaps");
    let output = dir.path().join("secrets.yaml");
    let existing = kept_by_hand(API_WITH_DB_PASSWORD)
        .replace("shop-staging", "alpha-main")
        .replace("shop-production", "omega");
    std::fs::write(&output, &existing).unwrap();

    let run = secretgate(dir.path(), &["import", "deploy", "-o", "secrets.yaml", "--merge"]);
    assert_eq!(run.code, i32::from(exit::USAGE), "{run}");
    assert!(
        run.stderr.contains("environment `dev`, which the existing manifest does not"),
        "{run}"
    );
    assert!(run.stderr.contains("pass --project ID, or declare `dev` under `environments:`"));
    assert_eq!(std::fs::read_to_string(&output).unwrap(), existing, "the file changed");

    import(dir.path(), &["--merge", "--project", "shop-dev"]);
    let (merged, tree) = manifest(dir.path());
    let dev = tree.path(&["environments", "dev"]).unwrap();
    assert_eq!(dev.to_json(), json!({"project": "shop-dev", "region": "europe-west1"}));
    assert_eq!(
        line_of(&merged, dev, "project"),
        "    project: shop-dev",
        "a given project is no guess"
    );
    assert_merged_manifest_lints(dir.path());
}

/// A service new to a manifest with more environments than the import (here `production`
/// only, merged into staging and production) is given an `environments:` list: without it,
/// the service would be deployed to staging too.
#[test]
fn merge_limits_a_new_service_to_the_environments_it_was_found_in() {
    let dir = workspace("templates");
    std::fs::remove_dir_all(dir.path().join("deploy/staging")).unwrap();
    let existing = kept_by_hand("");
    std::fs::write(dir.path().join("secrets.yaml"), existing).unwrap();
    import(dir.path(), &["--merge"]);
    let (merged, tree) = manifest(dir.path());
    for name in ["api", "worker"] {
        let envs = service(&tree, name).get("environments").map(Node::to_json);
        assert_eq!(envs, Some(json!(["production"])), "{name}:\n{merged}");
    }
    let (lint_run, findings) = lint(dir.path());
    assert!(findings.is_empty() && lint_run.code == 0, "lint of\n{merged}\nsays:\n{lint_run}");
}

// Several environments from loose files.

/// `--env` per file: every `--env` before its files, or every one after them, imports the same
/// services as the folder layout does.
#[test]
fn env_per_file_imports_several_environments() {
    let dir = workspace("templates");
    import(dir.path(), &[]);
    let (_, from_folders) = manifest(dir.path());
    let services = from_folders.get("services").unwrap().to_json();
    let orders: [&[&str]; 2] = [
        &[
            "--env",
            "staging",
            "deploy/staging/api.yaml",
            "--env",
            "production",
            "deploy/production/api.yaml",
            "deploy/production/worker.yaml",
        ],
        &[
            "deploy/staging/api.yaml",
            "--env",
            "staging",
            "deploy/production/api.yaml",
            "deploy/production/worker.yaml",
            "--env",
            "production",
        ],
    ];
    for args in orders {
        let mut all = vec!["import", "-o", "files.yaml"];
        all.extend_from_slice(args);
        let run = secretgate(dir.path(), &all);
        assert_eq!(run.code, 0, "{args:?}:\n{run}");
        let text = std::fs::read_to_string(dir.path().join("files.yaml")).unwrap();
        let tree = yaml::parse(text.as_bytes()).expect("YAML");
        assert_eq!(tree.get("services").unwrap().to_json(), services, "{args:?}:\n{text}");
        let envs = tree.get("environments").unwrap().to_json();
        assert_eq!(envs.as_object().unwrap().len(), 2, "{text}");
        std::fs::remove_file(dir.path().join("files.yaml")).unwrap();
    }
}

/// Several `--env` in an order that does not tie every file to one of them are refused with
/// the usage exit code, the way to write it, and nothing written.
#[test]
fn env_options_that_tie_no_file_are_refused() {
    let dir = workspace("templates");
    let (s, p) = ("deploy/staging/api.yaml", "deploy/production/api.yaml");
    let cases: [(&[&str], &str); 3] = [
        (&[s, "--env", "staging", p, "--env", "production", s], "cannot be tied to one --env"),
        (&["--env", "staging", s, "--env", "production"], "--env `production` applies to no"),
        (&["--env", "staging", "--env", "production", p], "--env `staging` applies to no"),
    ];
    for (args, message) in cases {
        let mut all = vec!["import", "-o", "secrets.yaml"];
        all.extend_from_slice(args);
        let run = secretgate(dir.path(), &all);
        assert_eq!(run.code, i32::from(exit::USAGE), "{args:?}:\n{run}");
        assert!(run.stderr.contains(message), "{args:?}: expected `{message}`:\n{run}");
        assert!(run.stderr.contains("write each before its files"), "{args:?}:\n{run}");
        assert!(!dir.path().join("secrets.yaml").exists(), "{args:?} wrote a manifest");
    }
}

/// Regression: two specs of one service in one environment (two files under one `--env`, the
/// same `--env` twice, two folders both holding `stg/api.yaml`, two files whose `metadata.name`
/// is the same) were imported with exit 0, keeping only the last one's secrets. They are
/// refused with the usage exit code, both files named, and nothing written.
#[test]
fn two_specs_of_one_service_in_one_environment_are_refused() {
    let dir = workspace("templates");
    let (staging, production) = ("deploy/staging/api.yaml", "deploy/production/api.yaml");
    for (from, to) in [(staging, "d1/stg/api.yaml"), (production, "d2/stg/api.yaml")] {
        std::fs::create_dir_all(dir.path().join(to).parent().unwrap()).unwrap();
        std::fs::copy(dir.path().join(from), dir.path().join(to)).unwrap();
    }
    let copy = "deploy/staging/api-copy.yaml";
    std::fs::copy(dir.path().join(production), dir.path().join(copy)).unwrap();
    let cases: [(&[&str], &str, &str, &str); 4] = [
        (&["--env", "x", staging, production], staging, production, "x"),
        (&["--env", "x", staging, "--env", "x", production], staging, production, "x"),
        (&["d1", "d2"], "d1/stg/api.yaml", "d2/stg/api.yaml", "stg"),
        (&["deploy"], copy, staging, "staging"),
    ];
    for (args, first, second, env) in cases {
        let mut all = vec!["import", "-o", "secrets.yaml"];
        all.extend_from_slice(args);
        let run = secretgate(dir.path(), &all);
        assert_eq!(run.code, i32::from(exit::USAGE), "{args:?}:\n{run}");
        let named = format!("{first} and {second} are both specs of service `api` in environment");
        assert!(run.stderr.contains(&format!("{named} `{env}`")), "{args:?}:\n{run}");
        assert!(run.stderr.contains("nothing was written"), "{args:?}:\n{run}");
        assert!(run.stdout.is_empty(), "{args:?}:\n{run}");
        assert!(!dir.path().join("secrets.yaml").exists(), "{args:?} wrote a manifest");
    }
}

/// One file reached twice in one environment (a folder given twice, and a file in it under
/// its folder's environment) is one spec, not two: the manifest is the folder's.
#[test]
fn one_file_reached_twice_is_one_spec() {
    let dir = workspace("templates");
    import(dir.path(), &[]);
    let (once, _) = manifest(dir.path());
    let twice = ["deploy", "deploy", "deploy/staging/api.yaml", "--env", "staging"];
    let mut all = vec!["import", "-o", "twice.yaml"];
    all.extend_from_slice(&twice);
    let run = secretgate(dir.path(), &all);
    assert_eq!(run.code, i32::from(exit::OK), "{run}");
    assert_eq!(std::fs::read_to_string(dir.path().join("twice.yaml")).unwrap(), once);
}

/// Regression: folders of specs named `a b`, `.hidden` or `-x` were imported as environments
/// (exit 0) into a manifest that lint rejects, while `--env` refused such names. They are
/// refused the same way, nothing written; a folder without specs (`.git`) is passed over.
#[test]
fn environment_folders_lint_would_reject_are_refused() {
    let dir = workspace("templates");
    let worker = std::fs::read(dir.path().join("deploy/production/worker.yaml")).unwrap();
    for name in ["a b", ".hidden", "-x"] {
        let folder = dir.path().join("deploy").join(name);
        std::fs::create_dir(&folder).unwrap();
        std::fs::write(folder.join("worker.yaml"), &worker).unwrap();
        let run = secretgate(dir.path(), &["import", "deploy", "-o", "secrets.yaml"]);
        assert_eq!(run.code, i32::from(exit::USAGE), "{name}:\n{run}");
        let problem = format!("the folder name {name:?} is not an environment name");
        assert!(run.stderr.contains(&problem), "{name}:\n{run}");
        assert!(run.stderr.contains("nothing was written"), "{name}:\n{run}");
        assert!(!dir.path().join("secrets.yaml").exists(), "{name}: a manifest was written");
        std::fs::remove_dir_all(&folder).unwrap();
    }

    std::fs::create_dir_all(dir.path().join("deploy/.git/refs")).unwrap();
    std::fs::write(dir.path().join("deploy/.git/HEAD"), "ref: refs/heads/main\n").unwrap();
    import(dir.path(), &[]);
    let (text, tree) = manifest(dir.path());
    let envs = tree.get("environments").and_then(Node::as_map).unwrap();
    let names: Vec<String> = envs.iter().filter_map(|(k, _)| k.scalar_text()).collect();
    assert_eq!(names, ["production", "staging"], "{text}");
}

/// A folder import reads `<env>/<service>.yaml` only: the JSON snapshots kept beside the specs
/// (as in the shipped example's deploy/snapshots/) are neither an environment nor a finding.
#[test]
fn folder_import_leaves_json_files_alone() {
    let dir = workspace("templates");
    let snapshots = dir.path().join("deploy/snapshots");
    std::fs::create_dir_all(&snapshots).unwrap();
    std::fs::copy(
        Path::new(ROOT).join("deploy/snapshots/staging.json"),
        snapshots.join("staging.json"),
    )
    .unwrap();

    let run = import(dir.path(), &[]);
    assert!(!run.stderr.contains("not-a-cloud-run-service"), "{run}");
    let (text, tree) = manifest(dir.path());
    let envs = tree.get("environments").and_then(Node::as_map).unwrap();
    let names: Vec<String> = envs.iter().filter_map(|(k, _)| k.scalar_text()).collect();
    assert_eq!(names, ["production", "staging"], "{text}");
}

// Comments on guesses.

/// The header asks to review the guesses; the project of each environment and the class of
/// each entry are marked `GUESS`.
#[test]
fn guessed_projects_and_classes_are_marked() {
    let dir = workspace("templates");
    import(dir.path(), &[]);
    let (text, tree) = manifest(dir.path());
    assert!(text.starts_with("# Written by `secretgate import`. Review the comments marked GUESS"));
    for env in ["staging", "production"] {
        let environment = tree.path(&["environments", env]).unwrap();
        let line = line_of(&text, environment, "project");
        assert_eq!(line, format!("    project: PROJECT_ID-{env}  # GUESS: set the project id"));
    }
    for (service, target) in [("api", "API_TOKEN"), ("api", "DB_PASSWORD"), ("worker", "QUEUE_URL")]
    {
        let line = line_of(&text, entry(&tree, service, target), "class");
        assert!(line.ends_with(CLASS_GUESS), "{service} {target}: not marked:\n{line}");
    }
}

/// A project given with `--project` is no guess.
#[test]
fn given_project_is_not_marked() {
    let dir = workspace("sidecar");
    import(dir.path(), &["--project", "shop-staging", "--region", "europe-west1"]);
    let (text, tree) = manifest(dir.path());
    let staging = tree.path(&["environments", "staging"]).unwrap().to_json();
    assert_eq!(staging, json!({"project": "shop-staging", "region": "europe-west1"}));
    assert!(!text.contains("GUESS: set the project id"), "{text}");
}

/// An entry mapped in some environments only is marked as a gap, and its secret in the others
/// as a guess: the name with the environment replaced, at `latest`.
#[test]
fn gaps_between_environments_are_marked() {
    let dir = workspace("gaps");
    import(dir.path(), &[]);
    let (text, tree) = manifest(dir.path());
    let secrets = tree.path(&["services", "api", "secrets"]).unwrap();
    let gap = "      # GAP: not mapped today in dev (GUESS: the secret there)";
    assert_eq!(line_above(&text, secrets, "API_TOKEN"), gap, "\n{text}");
    assert_eq!(text.matches("# GAP").count(), 1, "DB_PASSWORD is mapped everywhere:\n{text}");

    let token = entry(&tree, "api", "API_TOKEN").to_json();
    let names = json!({"dev": "api-token-dev", "staging": "api-token-stg",
        "production": "api-token-production"});
    assert_eq!(token["secret"], names);
    assert_eq!(token["version"], json!({"dev": "latest", "staging": "latest", "production": 2}));
}

/// A secret of a sidecar is not imported (one container receives secrets); a comment above the
/// service says so, and the target container is named.
#[test]
fn secrets_of_other_containers_are_noted() {
    let dir = workspace("sidecar");
    import(dir.path(), &[]);
    let (text, tree) = manifest(dir.path());
    let services = tree.get("services").unwrap();
    let note = "  # not imported: container `collector` maps `/etc/collector/config.yaml` (only \
                one container receives secrets)";
    assert_eq!(line_above(&text, services, "api"), note, "\n{text}");
    assert_eq!(service(&tree, "api").get("container").and_then(Node::as_str), Some("app"));
    assert_eq!(targets(&tree, "api"), ["DB_PASSWORD"]);

    let (_, findings) = lint(dir.path());
    let about = about_the_manifest(&findings, &text);
    assert!(about.is_empty(), "findings about the manifest: {about:?}");
}

/// Files in the folder that are no Cloud Run service (a broken file, a Kubernetes Deployment,
/// a Cloud Run job) are reported and skipped; the service beside them is imported.
#[test]
fn files_that_are_not_services_are_reported_and_skipped() {
    let dir = workspace("not-a-service");
    let run = import(dir.path(), &[]);
    assert!(run.stderr.contains("yaml-syntax"), "{run}");
    assert!(run.stderr.contains("deploy/staging/broken.yaml"), "{run}");
    assert!(run.stderr.contains("deploy/staging/deployment.yaml"), "{run}");
    assert!(run.stderr.contains("a Cloud Run job, not a service"), "{run}");
    let (text, tree) = manifest(dir.path());
    let services = tree.get("services").and_then(Node::as_map).unwrap();
    let names: Vec<String> = services.iter().filter_map(|(k, _)| k.scalar_text()).collect();
    assert_eq!(names, ["api"], "\n{text}");
    let (lint_run, findings) = lint(dir.path());
    assert!(findings.is_empty(), "lint of\n{text}\nsays:\n{lint_run}");
}

// --live: the services as deployed, from the fake Google server.

/// The literal credential of the service deployed by [`live_fake`], which no output may show.
const LIVE_VALUE: &str = "sk_live_51HXYZZY0123456789abcdefLIVE";

/// A fake Google server where service `web` of project `shop-staging` runs: it maps
/// `DB_PASSWORD` from Secret Manager, and carries a Stripe key as a literal value under an
/// innocent name and a password under a credential's name.
fn live_fake() -> Fake {
    let fake = Fake::start(FakeConfig::default());
    let service = json!({
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Service",
        "metadata": {"name": "web", "labels": {"cloud.googleapis.com/location": "us-central1"}},
        "spec": {"template": {"spec": {"containers": [{
            "name": "web",
            "image": "us-central1-docker.pkg.dev/shop-staging/apps/web:3.0.1",
            "env": [
                {"name": "LOG_LEVEL", "value": "info"},
                {"name": "PAYMENTS", "value": LIVE_VALUE},
                {"name": "SMTP_PASSWORD", "value": "hunter2-live"},
                {"name": "DB_PASSWORD",
                 "valueFrom": {"secretKeyRef": {"name": "db-password", "key": "4"}}},
            ],
        }]}}},
    });
    fake.set_service("shop-staging", service).expect("the service is set");
    fake
}

/// `secretgate import --live --env staging --project shop-staging --service web ARGS` in `dir`
/// against `fake`.
fn import_live(dir: &Path, fake: &FakeGoogle, args: &[&str]) -> Run {
    let mut all = vec!["import", "--live", "--env", "staging", "--project", "shop-staging"];
    all.extend_from_slice(&["--service", "web", "-o", "secrets.yaml"]);
    all.extend_from_slice(args);
    common::run(common::secretgate_at(fake).current_dir(dir).args(&all))
}

/// The live service is written to deploy/staging/web.yaml in the exported form (no status,
/// none of the metadata Cloud Run sets), with both credentials replaced by `<redacted>`, and
/// imported from there: its secret becomes an entry, the credentials findings; no output shows
/// either value.
#[test]
fn live_import_writes_the_service_with_credentials_masked() {
    let fake = live_fake();
    let dir = tempfile::tempdir().unwrap();
    let run = import_live(dir.path(), &fake, &[]);
    assert_eq!(run.code, 0, "{run}");

    let exported = std::fs::read_to_string(dir.path().join("deploy/staging/web.yaml")).unwrap();
    let spec = yaml::parse(exported.as_bytes()).expect("the export is YAML");
    assert!(spec.get("status").is_none(), "{exported}");
    for key in ["generation", "resourceVersion", "uid", "creationTimestamp"] {
        assert!(spec.path(&["metadata", key]).is_none(), "{key} kept:\n{exported}");
    }
    assert_eq!(exported.matches("value: <redacted>").count(), 2, "{exported}");
    assert!(exported.contains("value: info"), "configuration is kept:\n{exported}");
    let (text, tree) = manifest(dir.path());
    for (what, shown) in [("export", &exported), ("manifest", &text), ("stderr", &run.stderr)] {
        assert!(!shown.contains(LIVE_VALUE) && !shown.contains("hunter2-live"), "{what}: {shown}");
    }
    assert_eq!(
        entry(&tree, "web", "DB_PASSWORD").to_json(),
        json!({"secret": "db-password",
        "version": 4, "class": "db"})
    );
    assert_eq!(targets(&tree, "web"), ["DB_PASSWORD"]);
    assert_eq!(run.stderr.matches("plaintext-secret").count(), 2, "{run}");
    assert!(
        run.stderr.contains("`PAYMENTS` as a plaintext value (its value was replaced"),
        "{run}"
    );
    let environment = tree.path(&["environments", "staging"]).unwrap().to_json();
    assert_eq!(environment, json!({"project": "shop-staging", "region": "us-central1"}));
}

/// Regression: `import --live` wrote the credentials of annotations and of a container's `args`
/// and `command` in clear; only literal env values became `<redacted>`. The exported file hides
/// them too, keeps Cloud Run's own annotations as they are (the secret aliases among them, which
/// the import resolves), and lints clean.
#[test]
fn live_import_redacts_credentials_in_annotations_arguments_and_commands() {
    let fake = Fake::start(FakeConfig::default());
    let (url, password) = ("postgres://admin:LiveS3cretPW@db/app", "LiveHunterPassw0rd");
    let aliases = "db:projects/shop-staging/secrets/db-password";
    let service = json!({
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Service",
        "metadata": {"name": "web",
                     "annotations": {"other/db-url": url, "run.googleapis.com/ingress": "all"}},
        "spec": {"template": {
            "metadata": {"annotations": {
                "other/db-url": url,
                "run.googleapis.com/secrets": aliases,
                "autoscaling.knative.dev/maxScale": "10",
            }},
            "spec": {"containers": [{
                "name": "web",
                "image": "us-central1-docker.pkg.dev/shop-staging/apps/web:3.0.1",
                "command": ["sh", "-c", format!("exec web --db {url}")],
                "args": ["--db-password", password, format!("--db-password={password}"),
                         "--port", "8080"],
                "env": [{"name": "DB_PASSWORD",
                         "valueFrom": {"secretKeyRef": {"name": "db", "key": "4"}}}],
            }]},
        }},
    });
    fake.set_service("shop-staging", service).expect("the service is set");
    let dir = tempfile::tempdir().unwrap();
    let run = import_live(dir.path(), &fake, &[]);
    assert_eq!(run.code, 0, "{run}");

    let exported = std::fs::read_to_string(dir.path().join("deploy/staging/web.yaml")).unwrap();
    let (text, tree) = manifest(dir.path());
    for (what, shown) in [("export", &exported), ("manifest", &text), ("stderr", &run.stderr)] {
        assert!(!shown.contains("LiveS3cretPW") && !shown.contains(password), "{what}: {shown}");
    }
    // What was written as `<redacted>` is said on stderr, as a masked env value is.
    for said in ["annotation `other/db-url` holds", "plaintext credential in `args` (item 2)"] {
        assert!(run.stderr.contains(said), "{said}: {}", run.stderr);
    }
    let spec = yaml::parse(exported.as_bytes()).expect("the export is YAML").to_json();
    assert_eq!(
        spec["metadata"]["annotations"],
        json!({"other/db-url": "<redacted>", "run.googleapis.com/ingress": "all"})
    );
    assert_eq!(
        spec["spec"]["template"]["metadata"]["annotations"],
        json!({"other/db-url": "<redacted>", "run.googleapis.com/secrets": aliases,
               "autoscaling.knative.dev/maxScale": "10"})
    );
    let container = &spec["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(
        container["args"],
        json!(["--db-password", "<redacted>", "--db-password=<redacted>", "--port", "8080"])
    );
    assert_eq!(
        container["command"],
        json!(["sh", "-c", "exec web --db postgres://admin:<redacted>@db/app"])
    );

    assert_eq!(
        entry(&tree, "web", "DB_PASSWORD").to_json(),
        json!({"secret": "projects/shop-staging/secrets/db-password", "version": 4, "class": "db"})
    );
    // What was masked stays a finding about the spec, so that the file is not deployed as it
    // is: the two annotations, the two arguments and the command.
    let (lint_run, findings) = lint(dir.path());
    assert_eq!(findings.len(), 5, "lint of\n{text}\nsays:\n{lint_run}");
    for f in &findings {
        assert_eq!(
            (f.code.as_str(), f.file.as_str()),
            ("plaintext-secret", "deploy/staging/web.yaml")
        );
    }
}

/// An existing deploy/staging/web.yaml may differ from the live service: without `--force` the
/// import refuses before asking Cloud Run anything, and writes nothing; with it, the file is
/// replaced by the live service.
#[test]
fn live_import_refuses_an_existing_spec_unless_forced() {
    let fake = live_fake();
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("deploy/staging/web.yaml");
    std::fs::create_dir_all(spec.parent().unwrap()).unwrap();
    let before = "# An older export, edited by hand.\napiVersion: serving.knative.dev/v1\n";
    std::fs::write(&spec, before).unwrap();

    let run = import_live(dir.path(), &fake, &[]);
    assert_eq!(run.code, i32::from(exit::USAGE), "{run}");
    assert!(run.stderr.contains("web.yaml exists and may differ from the live service"), "{run}");
    assert!(run.stderr.contains("pass --force to replace it"), "{run}");
    assert_eq!(std::fs::read_to_string(&spec).unwrap(), before);
    assert!(!dir.path().join("secrets.yaml").exists());
    assert!(fake.requests().iter().all(|r| r.route != Route::GetService), "Cloud Run was read");

    let run = import_live(dir.path(), &fake, &["--force"]);
    assert_eq!(run.code, 0, "{run}");
    let replaced = std::fs::read_to_string(&spec).unwrap();
    assert!(replaced.contains("db-password") && !replaced.contains("edited by hand"), "{replaced}");
}

/// A refused merge writes nothing: not the manifest, and not the live service's spec either,
/// which would otherwise be left behind by an import that failed.
#[test]
fn live_import_refused_by_the_merge_writes_no_spec() {
    let fake = live_fake();
    let dir = tempfile::tempdir().unwrap();
    let broken = "version: 1\nenvironments: [staging\n";
    std::fs::write(dir.path().join("secrets.yaml"), broken).unwrap();

    let run = import_live(dir.path(), &fake, &["--merge"]);
    assert_eq!(run.code, i32::from(exit::USAGE), "{run}");
    assert!(run.stderr.contains("has errors, so --merge cannot tell"), "{run}");
    assert!(!dir.path().join("deploy").exists(), "a spec was written: {run}");
    assert_eq!(std::fs::read_to_string(dir.path().join("secrets.yaml")).unwrap(), broken);
}

/// With `--force`, a folder that holds the spec `--live` replaces is imported with the live
/// service in it, not with the file as it was before.
#[test]
fn live_import_with_the_folder_of_the_replaced_spec_reads_the_live_service() {
    let fake = live_fake();
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("deploy/staging/web.yaml");
    std::fs::create_dir_all(spec.parent().unwrap()).unwrap();
    let before = "apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata: {name: web}\n\
spec: {template: {spec: {containers: [{image: old, env: [{name: OLD_TOKEN, valueFrom: \
{secretKeyRef: {name: old-token, key: latest}}}]}]}}}\n";
    std::fs::write(&spec, before).unwrap();

    let run = import_live(dir.path(), &fake, &["--force", "deploy"]);
    assert_eq!(run.code, 0, "{run}");
    let (text, tree) = manifest(dir.path());
    assert_eq!(targets(&tree, "web"), ["DB_PASSWORD"], "{text}");
    assert!(!text.contains("old-token"), "{text}");
    assert!(std::fs::read_to_string(&spec).unwrap().contains("db-password"));
}

// Real-world specs.

/// Every file of ../shared/realworld that is a Cloud Run service imports into a manifest whose
/// only findings are about the spec itself. The files are copied to a temporary folder, never
/// into the repository. tests/realworld.rs lints these files but does not import them.
#[test]
fn realworld_services_import_into_a_clean_manifest() {
    let folder = Path::new(REALWORLD);
    if !folder.is_dir() {
        eprintln!(
            "realworld_services_import_into_a_clean_manifest SKIPPED: {} does not exist; \
             these specs are kept outside the repository",
            folder.display()
        );
        return;
    }
    let mut imported = 0;
    for file in std::fs::read_dir(folder).unwrap() {
        let path = file.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let Ok(tree) = yaml::parse(&std::fs::read(&path).unwrap()) else { continue };
        let api = tree.get("apiVersion").and_then(Node::as_str);
        let kind = tree.get("kind").and_then(Node::as_str);
        if api != Some("serving.knative.dev/v1") || kind != Some("Service") {
            continue;
        }
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("deploy/prod")).unwrap();
        std::fs::copy(&path, dir.path().join("deploy/prod").join(&name)).unwrap();
        import(dir.path(), &[]);
        let (text, tree) = manifest(dir.path());
        assert_eq!(tree.get("services").and_then(Node::as_map).map(<[_]>::len), Some(1), "{name}");
        let (_, findings) = lint(dir.path());
        let about = about_the_manifest(&findings, &text);
        assert!(about.is_empty(), "{name}: findings about the manifest: {about:?}\n{text}");
        imported += 1;
    }
    assert!(imported >= 1, "no file of {} is a Cloud Run service", folder.display());
}

/// Input that yields nothing to import is an error (exit 2) and writes nothing: a path that
/// does not exist, or a folder with no `<env>/<service>.yaml`.
#[test]
fn nothing_to_import_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let run = secretgate(dir.path(), &["import", "nothere.yaml", "-o", "secrets.yaml"]);
    assert_eq!(run.code, i32::from(exit::USAGE), "{run}");
    assert!(run.stderr.contains("nothere.yaml does not exist; nothing was written"), "{run}");
    assert!(!dir.path().join("secrets.yaml").exists());

    std::fs::create_dir(dir.path().join("empty")).unwrap();
    let run = secretgate(dir.path(), &["import", "empty", "-o", "secrets.yaml"]);
    assert_eq!(run.code, i32::from(exit::USAGE), "{run}");
    assert!(run.stderr.contains("no Cloud Run service found in the inputs"), "{run}");
    assert!(!dir.path().join("secrets.yaml").exists());
}

/// `--merge` into a file that is not valid YAML says where it breaks and changes nothing.
#[test]
fn merge_into_broken_yaml_names_the_place() {
    let dir = workspace("templates");
    let output = dir.path().join("secrets.yaml");
    let broken = "version: 1\nenvironments: [\n  bad\n";
    std::fs::write(&output, broken).unwrap();
    let run = secretgate(dir.path(), &["import", "deploy", "-o", "secrets.yaml", "--merge"]);
    assert_eq!(run.code, i32::from(exit::USAGE), "{run}");
    assert!(run.stderr.contains("invalid YAML: unclosed bracket"), "{run}");
    assert!(run.stderr.contains("[secrets.yaml:2:15]"), "{run}");
    assert_eq!(std::fs::read_to_string(&output).unwrap(), broken);
}

/// A manifest whose `services:` is still empty (the natural starting point) takes the imported
/// services below the key.
#[test]
fn merge_into_an_empty_services_block() {
    let dir = workspace("templates");
    let existing = kept_by_hand("");
    std::fs::write(dir.path().join("secrets.yaml"), &existing).unwrap();
    let run = import(dir.path(), &["--merge"]);
    assert!(run.stderr.contains("service(s) or entries added"), "{run}");
    let (merged, tree) = manifest(dir.path());
    assert!(merged.starts_with(&existing), "the existing lines are kept:\n{merged}");
    assert_eq!(targets(&tree, "worker"), ["QUEUE_URL"], "{merged}");
    let (lint_run, findings) = lint(dir.path());
    assert!(findings.is_empty() && lint_run.code == 0, "lint of\n{merged}\nsays:\n{lint_run}");
}

/// Regression: a manifest ending with the document-end marker `...` got the new services after
/// the marker, a second document that lint rejects, and the merge exited 0. They go before it.
#[test]
fn merge_before_a_document_end_marker() {
    let dir = workspace("templates");
    let existing = format!("{}...\n# kept after the end of the document\n", kept_by_hand(API));
    std::fs::write(dir.path().join("secrets.yaml"), &existing).unwrap();

    let run = import(dir.path(), &["--merge"]);
    assert!(run.stderr.contains("5 service(s) or entries added"), "{run}");
    let (merged, tree) = manifest(dir.path());
    assert_keeps_lines(&existing, &merged);
    assert!(merged.ends_with("\n...\n# kept after the end of the document\n"), "{merged}");
    assert_eq!(targets(&tree, "worker"), ["QUEUE_URL"], "{merged}");
    assert_merged_manifest_lints(dir.path());
}

/// Regression: a manifest with schema errors (here the fields of `production` not indented
/// under it) was merged into, exit 0. It is refused with its errors shown and left as it was.
#[test]
fn merge_into_a_manifest_with_schema_errors_is_refused() {
    let dir = workspace("templates");
    let output = dir.path().join("secrets.yaml");
    let broken = kept_by_hand(API)
        .replace("    project: shop-production\n", "  project: shop-production\n")
        .replace("    region: europe-west1\nservices", "  region: europe-west1\nservices");
    std::fs::write(&output, &broken).unwrap();

    let run = secretgate(dir.path(), &["import", "deploy", "-o", "secrets.yaml", "--merge"]);
    assert_eq!(run.code, i32::from(exit::USAGE), "{run}");
    assert!(run.stderr.contains("environment `production` must be a mapping"), "{run}");
    assert!(run.stderr.contains("[secrets.yaml:6:13]"), "the error has its place:\n{run}");
    assert!(run.stderr.contains("secrets.yaml has errors, so --merge cannot tell"), "{run}");
    assert!(run.stderr.contains("nothing was written"), "{run}");
    assert_eq!(std::fs::read_to_string(&output).unwrap(), broken, "the file changed");
}

/// A spec that maps a secret to `PORT`, a name Cloud Run reserves: merged, the manifest would
/// have a `reserved-env-name` error of its own, so nothing is written and the error is shown.
#[test]
fn merge_that_would_give_the_manifest_errors_is_refused() {
    let dir = workspace("templates");
    let spec = dir.path().join("deploy/production/worker.yaml");
    let text = std::fs::read_to_string(&spec).unwrap().replace("QUEUE_URL", "PORT");
    std::fs::write(&spec, text).unwrap();
    let output = dir.path().join("secrets.yaml");
    let existing = kept_by_hand(API);
    std::fs::write(&output, &existing).unwrap();

    let run = secretgate(dir.path(), &["import", "deploy", "-o", "secrets.yaml", "--merge"]);
    assert_eq!(run.code, i32::from(exit::USAGE), "{run}");
    assert!(run.stderr.contains("reserved-env-name"), "{run}");
    assert!(run.stderr.contains("[secrets.yaml (as merged):"), "{run}");
    assert!(run.stderr.contains("merging would give secrets.yaml the errors above"), "{run}");
    assert_eq!(std::fs::read_to_string(&output).unwrap(), existing);
}

/// Regression: a spec file named `w\xFFrker.yaml` (not UTF-8) was imported as `spec:
/// "deploy/staging/w\uFFFDrker.yaml"`, a file that does not exist, exit 0. Given directly or
/// found in a folder, such a name is refused, as is such an environment folder.
#[cfg(unix)]
#[test]
fn file_names_that_are_not_utf8_are_refused() {
    use std::os::unix::ffi::OsStrExt;
    let dir = workspace("templates");
    let worker = std::fs::read(dir.path().join("deploy/production/worker.yaml")).unwrap();
    let odd = std::ffi::OsStr::from_bytes(b"deploy/staging/w\xFFrker.yaml");
    std::fs::write(dir.path().join(odd), &worker).unwrap();
    let named = "the file name \"deploy/staging/w\\xFFrker.yaml\" is not UTF-8";
    let from_folder: [&std::ffi::OsStr; 1] = ["deploy".as_ref()];
    let given: [&std::ffi::OsStr; 3] = ["--env".as_ref(), "staging".as_ref(), odd];
    for inputs in [&from_folder[..], &given[..]] {
        let mut cmd = common::secretgate();
        cmd.current_dir(dir.path()).args(["import", "-o", "secrets.yaml"]).args(inputs);
        let run = common::run(&mut cmd);
        assert_eq!(run.code, i32::from(exit::USAGE), "{inputs:?}:\n{run}");
        assert!(run.stderr.contains(named), "{inputs:?}:\n{run}");
        assert!(run.stderr.contains("nothing was written"), "{inputs:?}:\n{run}");
        assert!(!dir.path().join("secrets.yaml").exists(), "{inputs:?} wrote a manifest");
    }

    std::fs::remove_file(dir.path().join(odd)).unwrap();
    let folder = dir.path().join(std::ffi::OsStr::from_bytes(b"deploy/st\xFFging"));
    std::fs::create_dir(&folder).unwrap();
    std::fs::write(folder.join("worker.yaml"), &worker).unwrap();
    let run = secretgate(dir.path(), &["import", "deploy", "-o", "secrets.yaml"]);
    assert_eq!(run.code, i32::from(exit::USAGE), "{run}");
    assert!(run.stderr.contains("the folder name \"st\\xFFging\" is not UTF-8"), "{run}");
    assert!(!dir.path().join("secrets.yaml").exists());
}

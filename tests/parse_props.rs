//! Property tests of the readers: no input makes them panic, and lint of a manifest gives the
//! same findings every time.

use proptest::prelude::*;
use secretgate::diagnostic::Diagnostic;
use secretgate::lint::{Project, lint};
use secretgate::source::FileId;
use secretgate::{manifest, spec, yaml};

/// Parses `bytes` and reads the tree both as a manifest and as a spec. Findings must point
/// inside the file.
fn read_everything(bytes: &[u8]) {
    let tree = match yaml::parse(bytes) {
        Ok(tree) => tree,
        Err(err) => {
            assert!(err.span.line >= 1 && err.span.column >= 1, "{err:?}");
            assert!(err.span.offset <= bytes.len(), "{err:?} is past the end");
            assert!(!err.message.is_empty());
            return;
        }
    };
    let mut out: Vec<Diagnostic> = Vec::new();
    let text = String::from_utf8_lossy(bytes);
    let _ = manifest::read(FileId(0), &text, &tree, &mut out);
    let _ = spec::read(FileId(0), tree, &mut out);
    for d in &out {
        if let Some(label) = &d.primary {
            assert!(label.span.offset <= bytes.len(), "{} points past the end", d.code);
        }
    }
}

/// Pieces of YAML syntax and awkward characters.
#[rustfmt::skip]
const SYNTAX: &[&str] = &[
    "\n", "\n", "\n", " ", "  ", "    ", "\t", "- ", "-", ": ", ":", "? ", ",", "[", "]", "{", "}",
    "'", "\"", "#", "|", ">", "&a ", "*a", "&b ", "*b", "<<: ", "!!str ", "!!map ", "!tag ",
    "---\n", "...\n", "%YAML 1.2\n", "\\", "@", "`", "%", "~", "null", "true", "0", "1", "-1",
    "007", "1_000", "0x1F", "1e9", ".inf", "99999999999999999999999", "é", "\u{feff}", "\r",
];

/// Keys and values secretgate reads in manifests and specs.
#[rustfmt::skip]
const WORDS: &[&str] = &[
    "version", "environments", "services", "policy", "spec", "secrets", "secret", "project",
    "region", "container", "class", "required", "pin_versions", "staging", "{env}", "apiVersion",
    "serving.knative.dev/v1", "kind", "Service", "metadata", "template", "containers", "env",
    "name", "value", "valueFrom", "secretKeyRef", "key", "latest", "volumes", "volumeMounts",
    "mountPath", "path", "items", "secretName", "PORT", "/secrets/a", "annotations",
    "run.googleapis.com/secrets", "a:projects/p/secrets/s", "ports", "containerPort",
];

fn token() -> impl Strategy<Value = &'static str> {
    prop_oneof![proptest::sample::select(SYNTAX), proptest::sample::select(WORDS)]
}

/// A YAML-shaped tree whose keys are mostly words secretgate knows and whose scalars are any
/// token, so that the readers see mappings of the right shape with odd contents.
#[derive(Clone, Debug)]
enum Tree {
    Scalar(&'static str),
    Map(Vec<(&'static str, Tree)>),
    Seq(Vec<Tree>),
}

fn tree() -> impl Strategy<Value = Tree> {
    let key = prop_oneof![3 => proptest::sample::select(WORDS), 1 => token()];
    token().prop_map(Tree::Scalar).prop_recursive(6, 64, 5, move |inner| {
        prop_oneof![
            proptest::collection::vec((key.clone(), inner.clone()), 0..5).prop_map(Tree::Map),
            proptest::collection::vec(inner, 0..5).prop_map(Tree::Seq),
        ]
    })
}

/// Renders a tree in block style.
fn render(tree: &Tree, indent: usize, out: &mut String) {
    let pad = "  ".repeat(indent);
    let child = |value: &Tree, out: &mut String| match value {
        Tree::Scalar(s) => out.push_str(&format!(" {}\n", s.trim())),
        Tree::Map(m) if m.is_empty() => out.push_str(" {}\n"),
        Tree::Seq(s) if s.is_empty() => out.push_str(" []\n"),
        nested => {
            out.push('\n');
            render(nested, indent + 1, out);
        }
    };
    match tree {
        Tree::Scalar(s) => out.push_str(s),
        Tree::Map(entries) => {
            for (key, value) in entries {
                out.push_str(&format!("{pad}{}:", key.trim()));
                child(value, out);
            }
        }
        Tree::Seq(items) => {
            for item in items {
                out.push_str(&format!("{pad}-"));
                child(item, out);
            }
        }
    }
}

/// Tokens in any order, or a rendered tree.
fn yamlish() -> impl Strategy<Value = String> {
    let soup = proptest::collection::vec(token(), 0..80).prop_map(|t| t.concat());
    // A mapping half the time gets the header of a Cloud Run service, so that the spec reader
    // goes past its first check.
    let shaped = (tree(), any::<bool>()).prop_map(|(t, service)| {
        let mut out = String::new();
        if service && matches!(t, Tree::Map(_)) {
            out.push_str("apiVersion: serving.knative.dev/v1\nkind: Service\n");
        }
        render(&t, 0, &mut out);
        out
    });
    prop_oneof![soup, shaped]
}

/// A valid manifest, rendered as YAML text: every key the schema knows can appear, with values
/// that are sometimes fine and sometimes what the rules flag.
fn manifest_text() -> impl Strategy<Value = String> {
    let env_names = proptest::sample::subsequence(vec!["staging", "production", "dev"], 1..=3);
    let pins = proptest::option::of(proptest::sample::subsequence(
        vec!["staging", "production", "qa"],
        0..=2,
    ));
    let entry = (
        proptest::sample::select(vec![
            "DATABASE_PASSWORD",
            "JWT_SECRET_KEY",
            "PORT",
            "bad-name",
            "/secrets/db/password",
            "/secrets/db/user",
            "/proc/x",
            "relative/path",
        ]),
        proptest::sample::select(vec![
            "database-password",
            "jwt-key-{env}",
            "projects/shared-infra/secrets/oauth",
            "projects/P/secret/x",
            "bad name",
            "{enviroment}",
            "AIzaSyA1234567890abcdefghijklmnopqrstu",
        ]),
        proptest::sample::select(vec![
            None,
            Some("latest"),
            Some("7"),
            Some("0"),
            Some("stable"),
            Some("{staging: latest, production: 3}"),
            Some("{production: 2}"),
        ]),
        proptest::sample::select(vec![None, Some("auth"), Some("db")]),
        proptest::option::of(any::<bool>()),
    );
    let service = (
        proptest::sample::select(vec!["api", "worker", "web"]),
        proptest::sample::select(vec!["deploy/{env}/{service}.yaml", "missing.yaml"]),
        proptest::option::of(proptest::sample::subsequence(vec!["staging", "production"], 1..=2)),
        proptest::collection::vec(entry, 0..5),
    );
    (env_names, pins, proptest::collection::vec(service, 1..4)).prop_map(
        |(envs, pins, services)| {
            let mut text = String::from("version: 1\nenvironments:\n");
            for env in &envs {
                text.push_str(&format!("  {env}:\n    project: acme-{env}\n    region: eu\n"));
            }
            if let Some(pins) = pins {
                text.push_str(&format!("policy:\n  pin_versions: [{}]\n", pins.join(", ")));
            }
            text.push_str("services:\n");
            let mut seen = Vec::new();
            for (name, spec, only, entries) in services {
                if seen.contains(&name) {
                    continue;
                }
                seen.push(name);
                text.push_str(&format!("  {name}:\n    spec: {spec}\n"));
                if let Some(only) = only {
                    text.push_str(&format!("    environments: [{}]\n", only.join(", ")));
                }
                if entries.is_empty() {
                    continue;
                }
                text.push_str("    secrets:\n");
                let mut targets = Vec::new();
                for (target, secret, version, class, required) in entries {
                    if targets.contains(&target) {
                        continue;
                    }
                    targets.push(target);
                    text.push_str(&format!("      {target}:\n        secret: '{secret}'\n"));
                    if let Some(v) = version {
                        text.push_str(&format!("        version: {v}\n"));
                    }
                    if let Some(c) = class {
                        text.push_str(&format!("        class: {c}\n"));
                    }
                    if let Some(r) = required {
                        text.push_str(&format!("        required: {r}\n"));
                    }
                }
            }
            text
        },
    )
}

/// Lints the manifest at `path` and renders the findings as JSON.
fn lint_json(path: &std::path::Path) -> String {
    let mut project = Project::load(path).expect("the manifest can be read");
    lint(&mut project, &[]).expect("every environment exists");
    secretgate::report::json::render(
        "lint",
        &project.diagnostics,
        &project.sources,
        Default::default(),
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        read_everything(&bytes);
    }

    #[test]
    fn arbitrary_text_never_panics(text in any::<String>()) {
        read_everything(text.as_bytes());
    }

    #[test]
    fn yamlish_text_never_panics(text in yamlish()) {
        read_everything(text.as_bytes());
    }

    #[test]
    fn generated_manifests_are_valid_and_lint_is_deterministic(text in manifest_text()) {
        // The generator writes only keys and shapes the schema allows.
        let tree = yaml::parse(text.as_bytes()).expect("generated manifests are YAML");
        let mut out = Vec::new();
        prop_assert!(manifest::read(FileId(0), &text, &tree, &mut out).is_some());
        let unknown: Vec<&str> = out
            .iter()
            .filter(|d| d.message.contains("unknown key") || d.message.contains("must be"))
            .map(|d| d.message.as_str())
            .collect();
        prop_assert!(unknown.is_empty(), "{unknown:?} in\n{text}");

        let dir = tempfile::tempdir().expect("a temporary folder");
        let path = dir.path().join("secrets.yaml");
        std::fs::write(&path, &text).unwrap();
        let first = lint_json(&path);
        let second = lint_json(&path);
        prop_assert_eq!(first, second, "two runs differ on\n{}", text);
    }
}

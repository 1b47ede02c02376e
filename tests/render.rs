//! Rendering: every declared secret mapped into the right container, nothing else lost.

use assert_cmd::Command;
use secretgate::yaml::{self, Node, Value};
use std::path::{Path, PathBuf};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

/// Runs `secretgate render` and parses its YAML output.
fn render(manifest: &Path, service: &str, extra: &[&str]) -> Node {
    let mut cmd = Command::cargo_bin("secretgate").unwrap();
    cmd.arg("--manifest").arg(manifest).args(["render", "--env", "staging", "--service", service]);
    let out = cmd.args(extra).env("NO_COLOR", "1").output().unwrap();
    assert!(out.status.success(), "render failed: {}", String::from_utf8_lossy(&out.stderr));
    yaml::parse(&out.stdout).expect("render prints valid YAML")
}

fn read_tree(path: &Path) -> Node {
    yaml::parse(&std::fs::read(path).unwrap()).unwrap()
}

fn containers(tree: &Node) -> &[Node] {
    tree.path(&["spec", "template", "spec", "containers"]).and_then(Node::as_seq).unwrap()
}

fn container<'a>(tree: &'a Node, name: &str) -> &'a Node {
    containers(tree).iter().find(|c| c.get("name").and_then(Node::as_str) == Some(name)).unwrap()
}

/// The `(name, secret, key)` of each env var mapped from a secret.
fn env_secrets(container: &Node) -> Vec<(String, String, String)> {
    let env = container.get("env").and_then(Node::as_seq).unwrap_or_default();
    env.iter()
        .filter_map(|e| {
            let r = e.path(&["valueFrom", "secretKeyRef"])?;
            let text = |n: &Node, k: &str| n.get(k).and_then(Node::scalar_text).unwrap();
            Some((text(e, "name"), text(r, "name"), text(r, "key")))
        })
        .collect()
}

/// Every path of `original` holds the same value in `rendered` (lists compared item by item,
/// extra items allowed at the end).
fn assert_contains(original: &Node, rendered: &Node, path: &str) {
    match (&original.value, &rendered.value) {
        (Value::Map(entries), Value::Map(_)) => {
            for (k, v) in entries {
                let key = k.scalar_text().unwrap();
                let got = rendered.get(&key).unwrap_or_else(|| panic!("{path}.{key} was lost"));
                assert_contains(v, got, &format!("{path}.{key}"));
            }
        }
        (Value::Seq(items), Value::Seq(got)) => {
            assert!(got.len() >= items.len(), "{path} lost items");
            for (i, (a, b)) in items.iter().zip(got).enumerate() {
                assert_contains(a, b, &format!("{path}[{i}]"));
            }
        }
        (a, b) => assert_eq!(a, b, "{path} changed"),
    }
}

/// Env vars, two files of one secret in one directory, a second directory, a secret of another
/// project through an alias, and the runtime account from the manifest.
#[test]
fn maps_env_vars_files_and_cross_project_secrets() {
    let tree = render(&fixture("render/secrets.yaml"), "api", &[]);
    let app = container(&tree, "app");
    assert_eq!(
        env_secrets(app),
        [
            ("DB_PASSWORD".into(), "db-password".into(), "3".into()),
            ("JWT_KEY".into(), "jwt-key".into(), "latest".into()),
            ("PARTNER_TOKEN".into(), "partner-token".into(), "5".into()),
        ]
    );
    let annotations = tree.path(&["spec", "template", "metadata", "annotations"]).unwrap();
    let aliases = annotations.get("run.googleapis.com/secrets").and_then(Node::as_str);
    assert_eq!(aliases, Some("partner-token:projects/partner-infra/secrets/partner-token"));

    let mounts: Vec<(String, String)> = app
        .get("volumeMounts")
        .and_then(Node::as_seq)
        .unwrap()
        .iter()
        .map(|m| {
            (
                m.get("name").unwrap().scalar_text().unwrap(),
                m.get("mountPath").unwrap().scalar_text().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        mounts,
        [
            ("secret-etc-oauth".into(), "/etc/oauth".into()),
            ("secret-etc-tls".into(), "/etc/tls".into())
        ]
    );
    let volumes =
        tree.path(&["spec", "template", "spec", "volumes"]).and_then(Node::as_seq).unwrap();
    let tls = volumes
        .iter()
        .find(|v| v.get("name").and_then(Node::as_str) == Some("secret-etc-tls"))
        .unwrap();
    assert_eq!(tls.path(&["secret", "secretName"]).and_then(Node::as_str), Some("tls-bundle"));
    let items: Vec<(String, String)> = tls
        .path(&["secret", "items"])
        .and_then(Node::as_seq)
        .unwrap()
        .iter()
        .map(|i| {
            (
                i.get("key").unwrap().scalar_text().unwrap(),
                i.get("path").unwrap().scalar_text().unwrap(),
            )
        })
        .collect();
    assert_eq!(items, [("2".into(), "cert.pem".into()), ("2".into(), "key.pem".into())]);

    let account =
        tree.path(&["spec", "template", "spec", "serviceAccountName"]).and_then(Node::as_str);
    assert_eq!(account, Some("runtime@shop-staging.iam.gserviceaccount.com"));
    assert!(env_secrets(container(&tree, "proxy")).is_empty(), "the sidecar gets no secrets");
}

/// Mappings the spec already has are kept once; a new file joins the existing volume; the
/// spec's own service account wins over the environment's.
#[test]
fn keeps_agreeing_mappings_of_the_spec() {
    let tree = render(&fixture("render/secrets.yaml"), "worker", &[]);
    let worker = &containers(&tree)[0];
    assert_eq!(
        env_secrets(worker),
        [
            ("DB_PASSWORD".into(), "db-password".into(), "3".into()),
            ("QUEUE_TOKEN".into(), "queue-token".into(), "latest".into()),
        ]
    );
    let volumes =
        tree.path(&["spec", "template", "spec", "volumes"]).and_then(Node::as_seq).unwrap();
    assert_eq!(volumes.len(), 1, "no second volume for the same directory");
    let paths: Vec<String> = volumes[0]
        .path(&["secret", "items"])
        .and_then(Node::as_seq)
        .unwrap()
        .iter()
        .map(|i| i.get("path").unwrap().scalar_text().unwrap())
        .collect();
    assert_eq!(paths, ["key.pem", "previous.pem"]);
    let account =
        tree.path(&["spec", "template", "spec", "serviceAccountName"]).and_then(Node::as_str);
    assert_eq!(account, Some("worker@shop-staging.iam.gserviceaccount.com"));
}

/// Labels, annotations, sidecar arguments, traffic: every field of the spec survives.
#[test]
fn loses_no_field_of_the_spec() {
    for (service, spec) in
        [("api", "render/deploy/api.yaml"), ("worker", "render/deploy/worker.yaml")]
    {
        let tree = render(&fixture("render/secrets.yaml"), service, &[]);
        assert_contains(&read_tree(&fixture(spec)), &tree, service);
    }
}

/// `--image` replaces the target container's image and nothing else.
#[test]
fn image_flag_replaces_only_the_target_image() {
    let tree = render(
        &fixture("render/secrets.yaml"),
        "api",
        &["--image", "europe-docker.pkg.dev/shop/app:1.1.0"],
    );
    let image =
        |name| container(&tree, name).get("image").and_then(Node::as_str).map(str::to_string);
    assert_eq!(image("app").as_deref(), Some("europe-docker.pkg.dev/shop/app:1.1.0"));
    assert_eq!(image("proxy").as_deref(), Some("europe-docker.pkg.dev/shop/proxy:3"));
}

/// A service whose spec has lint errors is not rendered.
#[test]
fn refuses_to_render_a_spec_with_errors() {
    let out = Command::cargo_bin("secretgate")
        .unwrap()
        .arg("--manifest")
        .arg(fixture("rules/plaintext-secret/secrets.yaml"))
        .args(["render", "--env", "staging", "--service", "api"])
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty() || !String::from_utf8_lossy(&out.stdout).contains("apiVersion"));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot be rendered"));
}

/// Every real-world spec that is a valid Cloud Run service renders with no field lost.
#[test]
fn real_world_specs_round_trip() {
    let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/realworld");
    if !folder.is_dir() {
        eprintln!("real_world_specs_round_trip SKIPPED: {} does not exist", folder.display());
        return;
    }
    let mut rendered = 0;
    for entry in std::fs::read_dir(&folder).unwrap() {
        let path = entry.unwrap().path();
        if !matches!(path.extension().and_then(|e| e.to_str()), Some("yaml" | "json")) {
            continue;
        }
        let Some(tree) = render_alone(&path) else { continue };
        assert_contains(&read_tree(&path), &tree, &path.display().to_string());
        rendered += 1;
    }
    assert!(rendered >= 2, "the Knative services of the folder were rendered");
}

/// Renders a spec through the library with a manifest that declares no secret, so that the
/// lint findings of other people's files (such as `PORT`) do not stop it; `None` when the file
/// is not a Cloud Run service.
fn render_alone(spec: &Path) -> Option<Node> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(spec, dir.path().join("spec.yaml")).unwrap();
    let manifest = "version: 1\n\
                    environments:\n  staging: {project: example-project, region: us-central1}\n\
                    services:\n  svc:\n    spec: spec.yaml\n";
    std::fs::write(dir.path().join("secrets.yaml"), manifest).unwrap();
    let mut project = secretgate::lint::Project::load(&dir.path().join("secrets.yaml")).unwrap();
    let manifest = project.manifest.take().unwrap();
    let env = &manifest.environments[0];
    let deployments = secretgate::resolve::resolve(&manifest, env, &mut Vec::new());
    let deployment = &deployments[0];
    let spec = project.spec_for(deployment, manifest.file)?;
    let container =
        secretgate::rules::unknown_container::select(&manifest, deployment.service, spec).ok()?;
    let options = secretgate::render::RenderOptions::default();
    Some(secretgate::render::render(deployment, spec, container, &options).unwrap())
}

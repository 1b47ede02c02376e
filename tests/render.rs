//! Rendering: every declared secret mapped into the right container, nothing else lost.

mod common;

use common::Run;
use secretgate::lint::Project;
use secretgate::render::{RenderError, RenderOptions};
use secretgate::spec::{ServiceSpec, SpecMapping};
use secretgate::yaml::{self, Node, Value};
use std::path::{Path, PathBuf};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

/// Runs `secretgate render` on `staging`.
fn render_run(manifest: &Path, service: &str, extra: &[&str]) -> Run {
    let mut cmd = common::secretgate();
    cmd.arg("--manifest").arg(manifest).args(["render", "--env", "staging", "--service", service]);
    common::run(cmd.args(extra))
}

/// Runs `secretgate render` and parses its YAML output.
fn render(manifest: &Path, service: &str, extra: &[&str]) -> Node {
    let run = render_run(manifest, service, extra);
    assert_eq!(run.code, 0, "render failed:\n{run}");
    yaml::parse(run.stdout.as_bytes()).expect("render prints valid YAML")
}

/// Renders a service of `staging` through the library alone, without lint in front: what the
/// renderer itself accepts.
fn render_library(manifest: &Path, service: &str) -> Result<Node, RenderError> {
    render_library_with(manifest, service, &RenderOptions::default())
}

/// [`render_library`] with `options`.
fn render_library_with(
    manifest: &Path,
    service: &str,
    options: &RenderOptions,
) -> Result<Node, RenderError> {
    let mut project = Project::load(manifest).unwrap();
    let manifest = project.manifest.take().unwrap();
    let env = manifest.environment("staging").unwrap();
    let deployments = secretgate::resolve::resolve(&manifest, env, &mut Vec::new());
    let deployment = deployments.iter().find(|d| d.service.name.value == service).unwrap();
    let spec = project.spec_for(deployment, manifest.file).unwrap();
    let container =
        secretgate::rules::unknown_container::select(&manifest, deployment.service, spec).unwrap();
    secretgate::render::render(deployment, spec, container, options)
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
    for (service, spec) in [
        ("api", "render/deploy/api.yaml"),
        ("worker", "render/deploy/worker.yaml"),
        ("cron", "render/deploy/cron.yaml"),
    ] {
        let tree = render(&fixture("render/secrets.yaml"), service, &[]);
        assert_contains(&read_tree(&fixture(spec)), &tree, service);
    }
}

/// A volume that mounts the whole secret as the one file secrets.yaml declares is kept as
/// written (no `items` added); the `emptyDir` beside it is left alone, and a file in a new
/// directory gets a volume of its own.
#[test]
fn keeps_a_whole_secret_volume_that_agrees() {
    let tree = render(&fixture("render/secrets.yaml"), "cron", &[]);
    let original = read_tree(&fixture("render/deploy/cron.yaml"));
    let volumes = |t: &Node| {
        let list = t.path(&["spec", "template", "spec", "volumes"]).and_then(Node::as_seq);
        list.unwrap().iter().map(Node::to_json).collect::<Vec<_>>()
    };
    let (before, after) = (volumes(&original), volumes(&tree));
    assert_eq!(after[..2], before[..], "the spec's volumes are unchanged");
    assert_eq!(after.len(), 3, "{after:?}");
    assert_eq!(after[2]["secret"]["secretName"], "queue-token");
}

/// A directory that the spec mounts from something else than the declared secret's files:
/// another secret, the whole secret under an undeclared file, an `emptyDir`. `render` refuses
/// with the lint finding, and the renderer refuses on its own too.
#[test]
fn refuses_a_directory_mounted_otherwise() {
    let cases = [
        ("rules/mapping-conflict/other-secret-volume", "mapping-conflict", "secret `other-bundle`"),
        ("rules/mapping-conflict/whole-secret-volume", "mapping-conflict", "the whole secret"),
        ("rules/invalid-mount-path/not-a-secret-volume", "invalid-mount-path", "`emptyDir`"),
    ];
    for (folder, code, reason) in cases {
        let manifest = fixture(folder).join("secrets.yaml");
        let run = render_run(&manifest, "api", &[]);
        let (stdout, stderr) = (&run.stdout, &run.stderr);
        assert_eq!(run.code, 1, "{folder}\n{run}");
        assert!(stdout.contains(code) && stdout.contains(reason), "{folder}\n{stdout}");
        assert!(!stdout.contains("apiVersion"), "{folder}: nothing is rendered\n{stdout}");
        assert!(stderr.contains("`api` cannot be rendered"), "{folder}\n{stderr}");

        let Err(RenderError::Mount(why)) = render_library(&manifest, "api") else {
            panic!("{folder}: the renderer accepted it");
        };
        assert!(why.contains("cannot be mounted at") && why.contains(reason), "{folder}: {why}");
    }
}

/// The names of a tree's volumes and of the first container's mounts.
fn volumes_and_mounts(tree: &Node) -> (Vec<String>, Vec<String>) {
    let names = |list: Option<&Node>| -> Vec<String> {
        let items = list.and_then(Node::as_seq).unwrap_or_default();
        items.iter().map(|n| n.get("name").and_then(Node::scalar_text).unwrap()).collect()
    };
    let volumes = names(tree.path(&["spec", "template", "spec", "volumes"]));
    (volumes, names(containers(tree)[0].get("volumeMounts")))
}

/// Regression: an optional entry left out because its secret is unusable stayed in the
/// rendered spec when the spec mapped it itself, so the revision could not start. Its own
/// mapping is taken out: an env var, a file of a volume (the others stay), and a volume with
/// its mount once nothing is left in it, a whole-secret volume included.
#[test]
fn leaves_out_the_specs_own_mapping_of_a_left_out_entry() {
    let manifest = fixture("render/secrets.yaml");
    let leave_out = |targets: &[&str]| RenderOptions {
        leave_out: targets.iter().map(|t| t.to_string()).collect(),
        ..RenderOptions::default()
    };

    let options = leave_out(&["DB_PASSWORD", "/secrets/signing/key.pem"]);
    let tree = render_library_with(&manifest, "worker", &options).unwrap();
    let worker = &containers(&tree)[0];
    let queue = ("QUEUE_TOKEN".into(), "queue-token".into(), "latest".into());
    assert_eq!(env_secrets(worker), [queue]);
    let items = tree.path(&["spec", "template", "spec", "volumes"]).unwrap().as_seq().unwrap()[0]
        .path(&["secret", "items"])
        .unwrap()
        .to_json();
    assert_eq!(items, serde_json::json!([{"key": "1", "path": "previous.pem"}]));
    assert_eq!(volumes_and_mounts(&tree), (vec!["signing".into()], vec!["signing".into()]));

    let options = leave_out(&["/secrets/signing/key.pem", "/secrets/signing/previous.pem"]);
    let tree = render_library_with(&manifest, "worker", &options).unwrap();
    assert_eq!(volumes_and_mounts(&tree), (vec![], vec![]));
    let pod = tree.path(&["spec", "template", "spec"]).unwrap();
    assert!(pod.get("volumes").is_none(), "no empty list is left behind");

    let options = leave_out(&["/secrets/signing/signing-key"]);
    let tree = render_library_with(&manifest, "cron", &options).unwrap();
    let (volumes, mounts) = volumes_and_mounts(&tree);
    assert_eq!(volumes, ["scratch", "secret-var-run-tokens"]);
    assert_eq!(mounts, ["scratch", "secret-var-run-tokens"]);
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
    let run = render_run(&fixture("rules/plaintext-secret/secrets.yaml"), "api", &[]);
    assert_eq!(run.code, 1, "{run}");
    assert!(!run.stdout.contains("apiVersion"), "{run}");
    assert!(run.stderr.contains("cannot be rendered"), "{run}");
}

/// A secret of another project that two env vars and a file map gets one alias, and a name an
/// alias already has gets a number.
#[test]
fn a_secret_of_another_project_mapped_thrice_gets_one_alias() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("deploy")).unwrap();
    let spec = [
        "apiVersion: serving.knative.dev/v1",
        "kind: Service",
        "metadata:",
        "  name: api",
        "spec:",
        "  template:",
        "    metadata:",
        "      annotations:",
        "        run.googleapis.com/secrets: shared-key:projects/other/secrets/other-key",
        "    spec:",
        "      containers:",
        "        - image: app\n",
    ]
    .join("\n");
    std::fs::write(dir.path().join("deploy/api.yaml"), spec).unwrap();
    let manifest = dir.path().join("secrets.yaml");
    let text = [
        "version: 1",
        "environments:",
        "  staging: {project: shop, region: europe-west1}",
        "services:",
        "  api:",
        "    spec: deploy/api.yaml",
        "    secrets:",
        "      A_KEY: {secret: projects/partner/secrets/shared-key}",
        "      B_KEY: {secret: projects/partner/secrets/shared-key, version: 2}",
        "      /etc/x/key: {secret: projects/partner/secrets/shared-key}\n",
    ]
    .join("\n");
    std::fs::write(&manifest, text).unwrap();
    let tree = render(&manifest, "api", &[]);
    let annotations = tree.path(&["spec", "template", "metadata", "annotations"]).unwrap();
    let aliases = annotations.get("run.googleapis.com/secrets").and_then(Node::as_str);
    let expected = "shared-key:projects/other/secrets/other-key,\
                    shared-key-2:projects/partner/secrets/shared-key";
    assert_eq!(aliases, Some(expected));
}

/// A spec that does not parse concerns the service that uses it: another service still
/// renders, and the finding names its service.
#[test]
fn a_broken_spec_stops_only_its_own_service() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("deploy")).unwrap();
    let api = std::fs::read(fixture("render/deploy/api.yaml")).unwrap();
    std::fs::write(dir.path().join("deploy/api.yaml"), api).unwrap();
    std::fs::write(dir.path().join("deploy/broken.yaml"), "spec: {template: [\n").unwrap();
    let manifest = dir.path().join("secrets.yaml");
    let text = [
        "version: 1",
        "environments:",
        "  staging: {project: shop-staging, region: europe-west1}",
        "services:",
        "  api:",
        "    spec: deploy/api.yaml",
        "    container: app",
        "    secrets:",
        "      JWT_KEY: {secret: jwt-key}",
        "  broken:",
        "    spec: deploy/broken.yaml",
        "    secrets:",
        "      JWT_KEY: {secret: jwt-key}\n",
    ]
    .join("\n");
    std::fs::write(&manifest, text).unwrap();

    let tree = render(&manifest, "api", &[]);
    assert_eq!(tree.path(&["metadata", "name"]).and_then(Node::as_str), Some("api"));
    let run = render_run(&manifest, "broken", &[]);
    assert_eq!(run.code, 1, "{run}");
    assert!(run.stdout.contains("yaml-syntax"), "{run}");

    let mut lint = common::secretgate();
    lint.arg("--manifest").arg(&manifest).args(["lint", "--format", "json"]);
    let run = common::run(&mut lint);
    let report: serde_json::Value = serde_json::from_str(&run.stdout).expect("JSON");
    let found = &report["diagnostics"][0];
    assert_eq!((&found["code"], &found["service"]), (&"yaml-syntax".into(), &"broken".into()));
}

/// The project the real-world specs are rendered for.
const REAL_WORLD_PROJECT: &str = "example-project";

/// Every real-world spec that is a valid Cloud Run service, under a manifest that declares the
/// secret mappings it already has, renders through the binary to the same tree, compared both
/// ways, and keeps those mappings.
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
        let Some(case) = RealWorld::prepare(&path) else { continue };
        let tree = render(&case.dir.path().join("secrets.yaml"), &case.service, &[]);
        let original = read_tree(&case.dir.path().join(&case.spec_file));
        let name = path.display().to_string();
        assert_contains(&original, &tree, &format!("{name} (rendered)"));
        assert_contains(&tree, &original, &format!("{name} (original)"));
        let container = case.container.as_deref();
        let mut mapped = secretgate::deploy::mappings(&tree, REAL_WORLD_PROJECT, container);
        mapped.sort_by(|a, b| a.target.cmp(&b.target));
        let mapped: Vec<(String, String, String)> =
            mapped.into_iter().map(|m| (m.target, m.secret, m.version)).collect();
        assert_eq!(mapped, case.declared, "{name}: the declared mappings");
        assert!(!case.declared.is_empty(), "{name} declares something");
        rendered += 1;
    }
    assert!(rendered >= 2, "the Knative services of the folder were rendered");
}

/// A real-world spec copied into a temporary folder beside a manifest that declares what it
/// maps.
struct RealWorld {
    dir: tempfile::TempDir,
    spec_file: String,
    service: String,
    /// The container that receives the secrets, when it has a name.
    container: Option<String>,
    /// The declared mappings, `(target, full secret name, version)`, sorted by target.
    declared: Vec<(String, String, String)>,
}

impl RealWorld {
    /// `None` when the file is not a Cloud Run service (other shapes, invalid YAML).
    fn prepare(path: &Path) -> Option<RealWorld> {
        let text = without_reserved_env(&std::fs::read_to_string(path).unwrap());
        let tree = yaml::parse(text.as_bytes()).ok()?;
        let spec = secretgate::spec::read(secretgate::source::FileId(0), tree, &mut Vec::new())?;
        let service = spec.name.as_ref()?.value.clone();
        let mappings = spec.mappings(REAL_WORLD_PROJECT);
        let index = mappings.first().map_or(0, |m| m.container);
        let mappings: Vec<&SpecMapping> =
            mappings.iter().filter(|m| m.container == index).collect();
        let container = spec.containers[index].name.as_ref().map(|n| n.value.clone());
        let dir = tempfile::tempdir().unwrap();
        let spec_file = path.file_name().unwrap().to_string_lossy().into_owned();
        std::fs::write(dir.path().join(&spec_file), &text).unwrap();
        let manifest = manifest_for(&spec, &spec_file, &service, container.as_deref(), &mappings);
        std::fs::write(dir.path().join("secrets.yaml"), manifest).unwrap();
        let mut declared: Vec<(String, String, String)> = mappings
            .iter()
            .map(|m| (m.target.clone(), m.secret.as_ref().unwrap().to_string(), version(m)))
            .collect();
        declared.sort();
        Some(RealWorld { dir, spec_file, service, container, declared })
    }
}

/// The version a spec mapping asks for, as the manifest writes it.
fn version(m: &SpecMapping) -> String {
    m.key.as_ref().map_or_else(|| "latest".to_string(), |k| k.value.clone())
}

/// A manifest that declares, for the spec's one service, exactly the mappings it has.
fn manifest_for(
    spec: &ServiceSpec,
    spec_file: &str,
    service: &str,
    container: Option<&str>,
    mappings: &[&SpecMapping],
) -> String {
    let quote = |s: &str| serde_json::to_string(s).unwrap();
    let mut text = format!(
        "version: 1\nenvironments:\n  staging: {{project: {REAL_WORLD_PROJECT}, region: \
         us-central1}}\nservices:\n  {service}:\n    spec: {}\n",
        quote(spec_file)
    );
    if let (Some(name), true) = (container, spec.containers.len() > 1) {
        text.push_str(&format!("    container: {}\n", quote(name)));
    }
    text.push_str("    secrets:\n");
    for m in mappings {
        let secret = m.secret.as_ref().expect("the real-world specs name valid secrets");
        let secret = match secret.project.as_str() {
            REAL_WORLD_PROJECT => secret.secret.clone(),
            _ => secret.to_string(),
        };
        text.push_str(&format!(
            "      {}: {{secret: {}, version: {}}}\n",
            quote(&m.target),
            quote(&secret),
            quote(&version(m))
        ));
    }
    text
}

/// The spec's text without the env vars Cloud Run reserves (`PORT`...): `render` refuses a spec
/// that sets one (`reserved-env-name`), and one of the real-world files does. Each such list
/// item is cut from its `- name:` line to the next line indented no deeper than its dash.
fn without_reserved_env(text: &str) -> String {
    let reserved = secretgate::rules::reserved_env_name::RESERVED;
    let mut out = String::new();
    let mut cutting: Option<usize> = None;
    for line in text.lines() {
        let indent = line.len() - line.trim_start().len();
        if let Some(dash) = cutting {
            if line.trim().is_empty() || indent > dash {
                continue;
            }
            cutting = None;
        }
        let item = line.trim_start().strip_prefix("- name:").map(|n| n.trim().trim_matches('"'));
        if item.is_some_and(|name| reserved.contains(&name)) {
            cutting = Some(indent);
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

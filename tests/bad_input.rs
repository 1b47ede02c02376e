//! Hostile and broken input, as a manifest and as a spec: each gives a clear finding or error,
//! exits 1 (a finding) or 2 (input that cannot be read at all), and never panics.

mod common;

use common::Run;
use serde_json::Value;
use std::ffi::OsStr;
use std::path::Path;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn secretgate(args: &[&OsStr]) -> Run {
    common::run(common::secretgate().args(args))
}

/// `lint --manifest PATH` in one format.
fn lint(manifest: &Path, format: &str) -> Run {
    let args = ["lint".as_ref(), "--manifest".as_ref(), manifest.as_os_str()];
    let format = ["--format".as_ref(), OsStr::new(format)];
    secretgate(&[&args[..], &format[..]].concat())
}

/// A finding of the JSON output.
struct Finding {
    code: String,
    file: String,
    line: u64,
    message: String,
}

/// Lints in every format (none may panic or exit other than 1) and returns the JSON findings.
fn findings(manifest: &Path) -> Vec<Finding> {
    findings_in(manifest, &["human", "sarif", "github"])
}

/// Lints in the `other` formats and in JSON, whose findings it returns.
fn findings_in(manifest: &Path, other: &[&str]) -> Vec<Finding> {
    for &format in other {
        let run = lint(manifest, format);
        assert_eq!(run.code, 1, "{format}: stdout:\n{}\nstderr:\n{}", run.stdout, run.stderr);
    }
    let run = lint(manifest, "json");
    assert_eq!(run.code, 1, "json: stderr:\n{}", run.stderr);
    let doc: Value = serde_json::from_str(&run.stdout).expect("lint --format json prints JSON");
    let list = doc["diagnostics"].as_array().expect("a diagnostics array");
    list.iter()
        .map(|d| Finding {
            code: d["code"].as_str().unwrap_or_default().to_string(),
            file: d["location"]["file"].as_str().unwrap_or_default().to_string(),
            line: d["location"]["line"].as_u64().unwrap_or(0),
            message: d["message"].as_str().unwrap_or_default().to_string(),
        })
        .collect()
}

/// Asserts that the only finding is `code` in `file` at `line` with `says` in its message.
fn assert_only(found: &[Finding], code: &str, file: &str, line: u64, says: &str) {
    let shown: Vec<String> =
        found.iter().map(|f| format!("{}:{} {} {}", f.file, f.line, f.code, f.message)).collect();
    assert_eq!(found.len(), 1, "expected one finding, got {shown:#?}");
    let f = &found[0];
    assert!(
        f.code == code && f.file == file && f.line == line && f.message.contains(says),
        "expected {code} at {file}:{line} saying {says:?}, got {shown:#?}"
    );
}

/// A temporary project: a manifest with one service `svc` whose spec is deploy/svc.yaml.
struct Project {
    dir: tempfile::TempDir,
}

const MANIFEST: &str = "version: 1
environments:
  prod:
    project: example-project
    region: us-central1
services:
  svc:
    spec: deploy/svc.yaml
";

impl Project {
    fn new() -> Project {
        let dir = tempfile::tempdir().expect("a temporary folder");
        std::fs::create_dir(dir.path().join("deploy")).unwrap();
        std::fs::write(dir.path().join("secrets.yaml"), MANIFEST).unwrap();
        Project { dir }
    }

    fn manifest(&self) -> std::path::PathBuf {
        self.dir.path().join("secrets.yaml")
    }

    /// Writes `bytes` as the manifest and lints.
    fn as_manifest(&self, bytes: &[u8]) -> Vec<Finding> {
        std::fs::write(self.manifest(), bytes).unwrap();
        findings(&self.manifest())
    }

    /// Writes `bytes` as the spec of `svc`, beside a valid manifest, and lints.
    fn as_spec(&self, bytes: &[u8]) -> Vec<Finding> {
        std::fs::write(self.manifest(), MANIFEST).unwrap();
        std::fs::write(self.dir.path().join("deploy/svc.yaml"), bytes).unwrap();
        findings(&self.manifest())
    }
}

/// Checks one broken input both as the manifest and as a spec: the only finding is `code` at
/// `line` of that file, saying `says`.
fn check_both(bytes: &[u8], code: &str, line: u64, says: &str) {
    let project = Project::new();
    assert_only(&project.as_manifest(bytes), code, "secrets.yaml", line, says);
    assert_only(&project.as_spec(bytes), code, "deploy/svc.yaml", line, says);
}

#[test]
fn truncated_manifest() {
    let shipped = std::fs::read_to_string(Path::new(ROOT).join("secrets.yaml")).unwrap();
    let project = Project::new();

    // Cut in the middle of a key: a plain scalar without its `:`.
    let cut = shipped.find("region:").expect("the shipped manifest has a region") + 5;
    let line = shipped[..cut].lines().count() as u64;
    let found = project.as_manifest(&shipped.as_bytes()[..cut]);
    assert_only(&found, "yaml-syntax", "secrets.yaml", line, "invalid YAML");

    // Cut inside a flow mapping: the brace is never closed.
    let cut = shipped.find("version: {").expect("a per-environment version") + 20;
    let found = project.as_manifest(&shipped.as_bytes()[..cut]);
    assert_eq!(found.len(), 1, "one finding");
    assert_eq!(found[0].code, "yaml-syntax", "{}", found[0].message);

    // Cut between two entries: valid YAML that lacks `services`.
    let cut = shipped.find("\npolicy:").expect("a policy section");
    let found = project.as_manifest(&shipped.as_bytes()[..cut]);
    let root = shipped.lines().position(|l| l.starts_with("version:")).unwrap() as u64 + 1;
    assert_only(&found, "manifest-schema", "secrets.yaml", root, "the manifest has no `services`");
}

#[test]
fn empty_and_non_mapping_manifests() {
    let project = Project::new();
    assert_only(&project.as_manifest(b""), "manifest-schema", "secrets.yaml", 1, "empty");
    // Only a comment: the empty document is where the comment ends.
    let found = project.as_manifest(b"\n# nothing\n");
    assert_only(&found, "manifest-schema", "secrets.yaml", 3, "the manifest is empty");
    let found = project.as_manifest(b"- version: 1\n");
    assert_only(&found, "manifest-schema", "secrets.yaml", 1, "must be a mapping, found a list");
}

/// Deterministic bytes of every value, from a fixed seed.
fn noise(len: usize) -> Vec<u8> {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

#[test]
fn binary_input() {
    // Text with terminal escape sequences, then bytes that are not UTF-8.
    let mut bytes = b"version: 1\nname: \x1b[2J\x1b]0;owned\x07 \xff\xfe".to_vec();
    bytes.extend(noise(4096));
    check_both(&bytes, "yaml-syntax", 2, "not UTF-8 text");

    // The human report shows the line, but never the escape sequences themselves.
    let project = Project::new();
    std::fs::write(project.manifest(), &bytes).unwrap();
    let run = lint(&project.manifest(), "human");
    assert!(run.stdout.contains("[secrets.yaml:2:"), "{}", run.stdout);
    assert!(!run.stdout.contains('\u{1b}') && !run.stdout.contains('\u{7}'), "{}", run.stdout);

    // Pure noise.
    let project = Project::new();
    let found = project.as_manifest(&noise(65536));
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].code, "yaml-syntax");
}

#[test]
fn tabs_for_indentation() {
    let text = "version: 1\nenvironments:\n\tprod:\n\t\tproject: example-project\n";
    check_both(text.as_bytes(), "yaml-syntax", 3, "tabs");
}

#[test]
fn fifty_megabytes() {
    let project = Project::new();
    let line = format!("# {}\n", "x".repeat(1022));
    let mut big = Vec::with_capacity(50 << 20);
    big.extend_from_slice(b"version: 1\n");
    while big.len() < 50 << 20 {
        big.extend_from_slice(line.as_bytes());
    }
    let says = "secretgate reads YAML files of at most 8388608 bytes";
    assert_only(&project.as_manifest(&big), "yaml-syntax", "secrets.yaml", 1, says);
    // The report names the file and the limit; it does not print the file.
    let run = lint(&project.manifest(), "human");
    assert!(run.stdout.contains(says), "{}", &run.stdout[..run.stdout.len().min(2000)]);
    assert!(run.stdout.len() < 4096, "the report is {} bytes long", run.stdout.len());
    assert_only(&project.as_spec(&big), "yaml-syntax", "deploy/svc.yaml", 1, says);
}

#[test]
fn deep_nesting() {
    let project = Project::new();
    let inputs = [
        "[".repeat(10_000),
        "{a: ".repeat(10_000),
        // Closed brackets: valid YAML, just deep.
        format!("{}{}", "[".repeat(10_000), "]".repeat(10_000)),
        // Block sequences nested on one line: `- - - - ...`.
        "- ".repeat(10_000),
        format!("{}x", "- ".repeat(70)),
    ];
    for text in &inputs {
        for found in [project.as_manifest(text.as_bytes()), project.as_spec(text.as_bytes())] {
            assert_eq!(found.len(), 1, "one finding for {}...", &text[..20]);
            let f = &found[0];
            assert_eq!((f.code.as_str(), f.line), ("yaml-syntax", 1));
            let says = ["recursion limit exceeded", "nested more than 64 levels deep"];
            assert!(says.iter().any(|s| f.message.contains(s)), "{}", f.message);
            assert!(!f.message.contains("alias"), "deep nesting is no alias bomb: {}", f.message);
        }
    }
}

#[test]
fn alias_bomb() {
    let mut text =
        String::from("version: 1\nlol: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for i in 1..10 {
        let refs = vec![format!("*a{}", i - 1); 9].join(", ");
        text.push_str(&format!("l{i}: &a{i} [{refs}]\n"));
    }
    // Each run spends the parser's whole budget, so this test runs few of them.
    let project = Project::new();
    std::fs::write(project.manifest(), &text).unwrap();
    let found = findings_in(&project.manifest(), &["human"]);
    assert_eq!(found.len(), 1, "one finding");
    assert_eq!(found[0].code, "yaml-syntax");
    assert!(found[0].message.contains("alias bomb?"), "{}", found[0].message);
    std::fs::write(project.manifest(), MANIFEST).unwrap();
    std::fs::write(project.dir.path().join("deploy/svc.yaml"), &text).unwrap();
    let found = findings_in(&project.manifest(), &[]);
    assert_eq!(found.len(), 1, "one finding");
    assert_eq!(found[0].code, "yaml-syntax");
    assert_eq!(found[0].file, "deploy/svc.yaml");
}

#[test]
fn unreadable_manifest_is_a_usage_error() {
    let project = Project::new();
    let missing = project.dir.path().join("nosuch.yaml");
    let run = lint(&missing, "json");
    assert_eq!(run.code, 2);
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    assert!(run.stderr.contains("cannot read") && run.stderr.contains("nosuch.yaml"));
    // A folder is not a manifest.
    let run = lint(project.dir.path(), "human");
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("cannot read"), "{}", run.stderr);
}

#[cfg(unix)]
mod non_utf8_names {
    use super::*;
    use std::os::unix::ffi::OsStrExt;

    #[test]
    fn manifest_path() {
        let project = Project::new();
        let folder = project.dir.path().join(OsStr::from_bytes(b"proj\xff\xfe"));
        std::fs::create_dir_all(folder.join("deploy")).unwrap();
        let manifest = folder.join(OsStr::from_bytes(b"secrets-\xff.yaml"));
        std::fs::write(&manifest, MANIFEST).unwrap();
        std::fs::write(folder.join("deploy/svc.yaml"), b"kind: [\n").unwrap();
        let found = findings(&manifest);
        assert_only(&found, "yaml-syntax", "deploy/svc.yaml", 1, "invalid YAML");

        std::fs::write(&manifest, b"version: 2\n").unwrap();
        let run = lint(&manifest, "human");
        assert_eq!(run.code, 1);
        assert!(run.stdout.contains("[secrets-\u{fffd}.yaml:1:10]"), "{}", run.stdout);

        let missing = folder.join(OsStr::from_bytes(b"gone-\xff.yaml"));
        let run = lint(&missing, "human");
        assert_eq!(run.code, 2);
        assert!(run.stderr.contains("cannot read") && run.stderr.contains("gone-"));
    }

    #[test]
    fn spec_path() {
        let project = Project::new();
        // The spec's real name is not UTF-8; the manifest reaches it through a symlink.
        let real = project.dir.path().join("deploy").join(OsStr::from_bytes(b"svc-\xff.yaml"));
        let spec = "apiVersion: serving.knative.dev/v1
kind: Service
spec:
  template:
    spec:
      containers:
      - image: x
        env:
        - name: PORT
";
        std::fs::write(&real, spec).unwrap();
        std::os::unix::fs::symlink(&real, project.dir.path().join("deploy/svc.yaml")).unwrap();
        let found = findings(&project.manifest());
        assert_only(&found, "reserved-env-name", "deploy/svc.yaml", 9, "`PORT`");

        // A spec that is missing under a folder whose name is not UTF-8.
        let folder = project.dir.path().join(OsStr::from_bytes(b"env-\xfe"));
        std::fs::create_dir(&folder).unwrap();
        let manifest = folder.join("secrets.yaml");
        std::fs::write(&manifest, MANIFEST).unwrap();
        let found = findings(&manifest);
        assert_only(
            &found,
            "spec-not-found",
            "secrets.yaml",
            8,
            "`deploy/svc.yaml` cannot be read",
        );
    }
}

/// The region becomes part of the Cloud Run host name and the project part of request paths: a
/// value that could send a request (and its access token) elsewhere is a schema error.
#[test]
fn a_region_or_project_that_could_change_the_url_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("secrets.yaml");
    let text = "version: 1\nenvironments:\n  staging:\n    project: \"netra/secrets/x?y=1#\"\n    \
                region: \"evil.example.com#\"\nservices: {}\n";
    std::fs::write(&manifest, text).unwrap();
    let found = findings(&manifest);
    let schema: Vec<(u64, &str)> = found
        .iter()
        .filter(|f| f.code == "manifest-schema")
        .map(|f| (f.line, f.message.as_str()))
        .collect();
    assert_eq!(schema.len(), 2, "{schema:?}");
    assert_eq!(schema[0].0, 4);
    assert!(schema[0].1.contains("is not a Google Cloud project id"), "{schema:?}");
    assert_eq!(schema[1].0, 5);
    assert!(schema[1].1.contains("is not a Cloud Run region"), "{schema:?}");
    assert!(found.iter().all(|f| f.file == "secrets.yaml"));
}

/// A file of one very long line (a minified export) cannot be shown as an excerpt: the finding
/// keeps its place in the message, and nothing panics.
#[test]
fn a_very_long_line_is_located_without_an_excerpt() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("secrets.yaml");
    let items = vec!["item"; 20_000].join(", ");
    // The error is at the end of the line, past column 65,535.
    std::fs::write(&manifest, format!("version: 1\nenvironments: [{items}, @oops]\n")).unwrap();
    let run = lint(&manifest, "human");
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stdout.contains("yaml-syntax"), "{}", run.stdout);
    assert!(run.stdout.contains("the line is too long to show"), "{}", run.stdout);
    assert!(run.stdout.contains("secrets.yaml:"), "the place is named: {}", run.stdout);
}

/// Columns count characters in every format: the human header agrees with the JSON location on
/// a line whose earlier text is not ASCII.
#[test]
fn columns_count_characters_in_human_output_too() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("secrets.yaml");
    let text = "version: 1\nenvironments:\n  staging: {project: shop-staging, region: \
                us-central1}\nservices:\n  api:\n    spec: api.yaml\n    secrets:\n      \
                KEY:\n        \
                secret: {\"ステージ\": a, stagingg: b}\n";
    std::fs::write(&manifest, text).unwrap();
    let json: Value = serde_json::from_str(&lint(&manifest, "json").stdout).unwrap();
    let located = json["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| {
            d["code"] == "unknown-environment" && d["message"].to_string().contains("stagingg")
        })
        .expect("the misspelt environment is reported")["location"]
        .clone();
    let (line, column) = (located["line"].as_u64().unwrap(), located["column"].as_u64().unwrap());
    assert_eq!((line, column), (9, 29), "characters, not bytes");
    let human = lint(&manifest, "human").stdout;
    assert!(human.contains(&format!("secrets.yaml:{line}:{column}]")), "{human}");
}

/// A service name is the last segment of the Admin API's URLs: one that could reach another
/// path is a schema error.
#[test]
fn a_service_name_that_could_change_the_url_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("secrets.yaml");
    let text = "version: 1\nenvironments:\n  staging: {project: shop-staging, region: \
                us-central1}\nservices:\n  'x/../netra-auth':\n    spec: api.yaml\n";
    std::fs::write(&manifest, text).unwrap();
    let found = findings(&manifest);
    let schema: Vec<&Finding> = found.iter().filter(|f| f.code == "manifest-schema").collect();
    assert_eq!(schema.len(), 1, "{:?}", found.iter().map(|f| &f.message).collect::<Vec<_>>());
    assert_eq!(schema[0].line, 5);
    assert!(schema[0].message.contains("is not a Cloud Run service name"));
}

/// Credentials pasted where a name or a placeholder goes are reported without being echoed.
#[test]
fn credentials_in_names_and_placeholders_are_never_echoed() {
    let token = "ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789";
    let password = "Sup3rS3cretPw";
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("secrets.yaml");
    let text = format!(
        "version: 1\nenvironments:\n  staging: {{project: shop-staging, region: us-central1}}\n\
         services:\n  api:\n    spec: api.yaml\n    secrets:\n      A: {{secret: \
         \"{{{token}}}\"}}\n      \
         B: {{secret: \"postgres://admin:{password}@db/x\"}}\n"
    );
    std::fs::write(&manifest, text).unwrap();
    for format in ["human", "json", "sarif", "github"] {
        let run = lint(&manifest, format);
        assert_eq!(run.code, 1, "{format}: {}", run.stderr);
        let all = format!("{}{}", run.stdout, run.stderr);
        assert!(!all.contains(token), "{format} shows the token:\n{all}");
        assert!(!all.contains(password), "{format} shows the password:\n{all}");
    }
    let found = findings(&manifest);
    assert!(found.iter().any(|f| f.code == "secret-value-in-manifest" && f.line == 9));
}

/// Files that are not regular files: reading one whole would never end (`/dev/zero`, a FIFO
/// without a writer). Each is refused before it is opened, with the usual finding or exit code.
#[cfg(unix)]
mod not_regular_files {
    use super::*;

    /// A FIFO where a file is expected; `mkfifo` ships with every Unix.
    fn fifo(path: &Path) {
        let made = std::process::Command::new("mkfifo").arg(path).status().expect("mkfifo runs");
        assert!(made.success(), "mkfifo {}", path.display());
    }

    /// Regression: a spec committed as a link to /dev/zero, or left as a FIFO, hung `lint` or
    /// grew its memory without limit.
    #[test]
    fn a_spec_that_is_a_fifo_or_a_link_to_a_device_is_refused() {
        let project = Project::new();
        let spec = project.dir.path().join("deploy/svc.yaml");
        fifo(&spec);
        let found = findings(&project.manifest());
        assert_only(&found, "spec-not-found", "secrets.yaml", 8, "not a regular file but a FIFO");

        std::fs::remove_file(&spec).unwrap();
        std::os::unix::fs::symlink("/dev/zero", &spec).unwrap();
        let found = findings(&project.manifest());
        assert_only(&found, "spec-not-found", "secrets.yaml", 8, "outside the manifest's folder");
    }

    /// Regression: `--manifest /dev/zero` and `check --snapshot /dev/zero` never returned.
    #[test]
    fn a_manifest_or_snapshot_that_is_a_device_is_a_usage_error() {
        let run = lint(Path::new("/dev/zero"), "human");
        assert_eq!(run.code, 2, "{run}");
        assert!(run.stderr.contains("not a regular file but a device"), "{run}");

        let project = Project::new();
        let (manifest, snapshot) = (project.manifest(), project.dir.path().join("staging.json"));
        fifo(&snapshot);
        for file in [Path::new("/dev/zero"), &snapshot] {
            let run = secretgate(&[
                "--manifest".as_ref(),
                manifest.as_os_str(),
                "check".as_ref(),
                "--snapshot".as_ref(),
                file.as_os_str(),
            ]);
            assert_eq!(run.code, 2, "{run}");
            assert!(run.stderr.contains("is not a regular file"), "{run}");
        }
    }

    /// Regression: `import` read its inputs whole too.
    #[test]
    fn an_import_input_that_is_a_fifo_is_refused() {
        let project = Project::new();
        let input = project.dir.path().join("svc.yaml");
        fifo(&input);
        let args = ["import".as_ref(), input.as_os_str(), "--env".as_ref(), "prod".as_ref()];
        let run = secretgate(&[&args[..], &["-o".as_ref(), "-".as_ref()]].concat());
        assert_eq!(run.code, 2, "{run}");
        assert!(run.all().contains("not a regular file but a FIFO"), "{run}");
    }

    /// Regression: a `spec:` leading out of the manifest's folder, by `..`, by an absolute path
    /// or through a link, was read, and its content (here a service account key) shown in the
    /// `not-a-cloud-run-service` excerpt. Such a file is never opened; a link that stays inside
    /// the folder is followed.
    #[test]
    fn a_spec_outside_the_manifest_folder_is_never_read() {
        let dir = tempfile::tempdir().unwrap();
        let outside = dir.path().join("outside");
        std::fs::create_dir(&outside).unwrap();
        let key = "{\"type\": \"service_account\", \"private_key\": \"XYZZY-KEY-MATERIAL\"}\n";
        std::fs::write(outside.join("sa.json"), key).unwrap();
        let root = dir.path().join("project");
        std::fs::create_dir_all(root.join("deploy")).unwrap();
        std::os::unix::fs::symlink("../../outside/sa.json", root.join("deploy/link.yaml")).unwrap();
        std::fs::write(root.join("deploy/real.yaml"), "kind: NotAService\n").unwrap();
        std::os::unix::fs::symlink("real.yaml", root.join("deploy/inside.yaml")).unwrap();
        let absolute = outside.join("sa.json");
        let manifest = format!(
            "version: 1\nenvironments:\n  prod: {{project: example-project, region: \
             us-central1}}\nservices:\n  up:\n    spec: ../outside/sa.json\n  abs:\n    spec: \
             {}\n  link:\n    spec: deploy/link.yaml\n  inside:\n    spec: deploy/inside.yaml\n",
            absolute.display()
        );
        std::fs::write(root.join("secrets.yaml"), manifest).unwrap();

        let found = findings(&root.join("secrets.yaml"));
        let outside: Vec<u64> = found
            .iter()
            .filter(|f| f.code == "spec-not-found" && f.message.contains("outside the manifest"))
            .map(|f| f.line)
            .collect();
        assert_eq!(
            outside,
            [6, 8, 10],
            "{:?}",
            found.iter().map(|f| &f.message).collect::<Vec<_>>()
        );
        let inside = found.iter().find(|f| f.code == "not-a-cloud-run-service");
        assert_eq!(inside.map(|f| f.file.as_str()), Some("deploy/inside.yaml"));
        for format in ["human", "json", "sarif", "github"] {
            let run = lint(&root.join("secrets.yaml"), format);
            assert!(!run.all().contains("XYZZY"), "{format} shows the key:\n{run}");
        }
    }
}

/// Regression: a snapshot captured at `+25:00`, an offset RFC 3339 does not allow, was read.
#[test]
fn a_snapshot_time_with_an_offset_past_23_hours_is_unreadable() {
    let project = Project::new();
    let snapshot = project.dir.path().join("staging.json");
    let manifest = project.manifest();
    for (offset, refused) in [("+25:00", true), ("+0530", true), ("+05:30", false), ("Z", false)] {
        let text = format!(
            "{{\"snapshotVersion\": 1, \"capturedAt\": \"2024-01-02T03:04:05{offset}\", \
             \"projects\": {{\"example-project\": {{\"secrets\": []}}}}}}"
        );
        std::fs::write(&snapshot, text).unwrap();
        let args = ["--manifest".as_ref(), manifest.as_os_str(), "check".as_ref()];
        let run = secretgate(&[&args[..], &["--snapshot".as_ref(), snapshot.as_os_str()]].concat());
        let said = run.stderr.contains("is not an RFC 3339 time");
        assert_eq!((run.code == 2, said), (refused, refused), "{offset}: {run}");
    }
}

/// Output that cannot be written: stdout on a full device is a failure (exit 2, said on stderr),
/// findings or not, and a stderr that takes nothing is no reason to panic (exit 101 before).
#[cfg(target_os = "linux")]
#[test]
fn a_full_stdout_or_stderr_is_no_panic() {
    use std::process::{Command, Stdio};
    let full = || std::fs::OpenOptions::new().write(true).open("/dev/full").expect("/dev/full");
    let manifest = Path::new(ROOT).join("secrets.yaml");
    let snapshot = Path::new(ROOT).join("deploy/snapshots/staging.json");
    let deploy = || {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_secretgate"));
        cmd.arg("--manifest").arg(&manifest).args(["deploy", "--env", "staging", "--dry-run"]);
        cmd.arg("--snapshot").arg(&snapshot).env("NO_COLOR", "1");
        cmd
    };

    let out = deploy().stdout(full()).stderr(Stdio::piped()).output().expect("runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("cannot write to standard output"), "{stderr}");

    let out = deploy().stdout(Stdio::null()).stderr(full()).output().expect("runs");
    assert_eq!(out.status.code(), Some(0));

    // Help and the version are output like any other.
    for args in [&["--help"][..], &["lint", "--help"], &["--version"]] {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_secretgate"));
        let out = cmd.args(args).stdout(full()).stderr(Stdio::piped()).output().expect("runs");
        assert_eq!(out.status.code(), Some(2), "{args:?}");
    }

    // A lost report with findings in it is exit 2 too, not the 1 of an ordinary finding.
    let incident = Path::new(ROOT).join("deploy/snapshots/staging-incident.json");
    let mut lint = Command::new(env!("CARGO_BIN_EXE_secretgate"));
    lint.arg("--manifest").arg(&manifest).args(["check", "--format", "sarif", "--snapshot"]);
    let out = lint.arg(&incident).stdout(full()).stderr(Stdio::piped()).output().expect("runs");
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
}

//! Fidelity against the real `gcloud` CLI: pointed at the fake through
//! `api_endpoint_overrides/secretmanager`, it must list the seeded secrets and versions with the
//! same names and states, and read the fake's errors. Skipped (and says so) without gcloud.

mod common;

use common::{NUMBER, PROJECT, fake};
use serde_json::Value;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Bound on each gcloud invocation; a cold gcloud takes a few seconds.
const GCLOUD_TIMEOUT: Duration = Duration::from_secs(90);

/// The token gcloud sends, read from `--access-token-file`, so it never looks for credentials.
const TOKEN: &str = "fake-gcloud-token";

fn find_gcloud() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join("gcloud")).find(|p| p.is_file())
}

/// A gcloud run's exit status and output.
struct Outcome {
    success: bool,
    stdout: String,
    stderr: String,
}

/// Runs gcloud in an isolated configuration directory, offline apart from the fake.
fn gcloud(bin: &Path, config: &Path, args: &[&str]) -> Outcome {
    let mut command = Command::new(bin);
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy().into_owned();
        if name.starts_with("CLOUDSDK_") || name == "GOOGLE_APPLICATION_CREDENTIALS" {
            command.env_remove(name);
        }
    }
    command
        .args(args)
        .env("CLOUDSDK_CONFIG", config)
        .env("CLOUDSDK_CORE_DISABLE_PROMPTS", "1")
        .env("CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK", "1")
        .env("CLOUDSDK_CORE_DISABLE_USAGE_REPORTING", "1")
        .env("CLOUDSDK_SURVEY_DISABLE_PROMPTS", "1")
        .env("CLOUDSDK_CORE_CHECK_GCE_METADATA", "false")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    run_bounded(command, args)
}

/// Runs a command, killing it when it outlives [`GCLOUD_TIMEOUT`].
fn run_bounded(mut command: Command, args: &[&str]) -> Outcome {
    let mut child = command.spawn().expect("gcloud starts");
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = pipe.read_to_string(&mut text);
            text
        })
    };
    let stdout = drain(Box::new(child.stdout.take().expect("stdout")));
    let stderr = drain(Box::new(child.stderr.take().expect("stderr")));
    let deadline = Instant::now() + GCLOUD_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().expect("gcloud runs") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("gcloud {args:?} took longer than {GCLOUD_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let (stdout, stderr) = (stdout.join().unwrap_or_default(), stderr.join().unwrap_or_default());
    Outcome { success: status.success(), stdout, stderr }
}

fn json_of(outcome: &Outcome, what: &str) -> Vec<Value> {
    assert!(outcome.success, "{what} failed:\n{}", outcome.stderr);
    serde_json::from_str(&outcome.stdout)
        .unwrap_or_else(|e| panic!("{what}: {e}\n{}", outcome.stdout))
}

#[test]
fn gcloud_sees_the_seeded_secrets_versions_and_errors() {
    let Some(bin) = find_gcloud() else {
        eprintln!("SKIPPED gcloud fidelity test: no `gcloud` executable on PATH");
        return;
    };
    let fake = fake();
    let dir = tempfile::tempdir().expect("a temp dir");
    let config = dir.path().join("gcloud-config");
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, TOKEN).expect("token file");
    let endpoint = format!("{}/", fake.url());
    for (property, value) in
        [("api_endpoint_overrides/secretmanager", endpoint.as_str()), ("core/project", PROJECT)]
    {
        let set = gcloud(&bin, &config, &["config", "set", property, value]);
        assert!(set.success, "gcloud config set {property} failed:\n{}", set.stderr);
    }
    let token_flag = format!("--access-token-file={}", token_file.display());
    let common = ["--project", PROJECT, "--format", "json", token_flag.as_str()];

    let listed = gcloud(&bin, &config, &[&["secrets", "list"][..], &common].concat());
    let names: Vec<String> = json_of(&listed, "secrets list")
        .iter()
        .map(|s| s["name"].as_str().unwrap_or_default().to_string())
        .collect();
    let seeded = ["api-key", "db-password", "retired", "no-versions"];
    let expected: Vec<String> =
        seeded.iter().map(|s| format!("projects/{NUMBER}/secrets/{s}")).collect();
    assert_eq!(names, expected);

    let versions =
        gcloud(&bin, &config, &[&["secrets", "versions", "list", "api-key"][..], &common].concat());
    let seen: Vec<(String, String)> = json_of(&versions, "secrets versions list")
        .iter()
        .map(|v| {
            let number =
                v["name"].as_str().unwrap_or_default().rsplit('/').next().unwrap_or_default();
            (number.to_string(), v["state"].as_str().unwrap_or_default().to_string())
        })
        .collect();
    let states = [("3", "ENABLED"), ("2", "DISABLED"), ("1", "DESTROYED")];
    assert_eq!(seen, states.map(|(n, s)| (n.to_string(), s.to_string())));

    let missing = gcloud(&bin, &config, &[&["secrets", "describe", "nope"][..], &common].concat());
    assert!(!missing.success);
    let message =
        format!("NOT_FOUND: Secret [projects/{NUMBER}/secrets/nope] not found or has no versions.");
    assert!(missing.stderr.contains(&message), "{}", missing.stderr);

    let requests = fake.requests();
    assert!(
        requests.iter().all(|r| r.authorization.as_deref() == Some(&format!("Bearer {TOKEN}")))
    );
    assert!(
        requests.iter().all(|r| !r.path.contains("enum-encoding")),
        "gcloud asks for enum names"
    );
    assert!(fake.accesses().is_empty());
}

//! `secretgate deploy` end to end: the real binary against fake-google's Secret Manager and Cloud
//! Run Admin API v1, started in-process for each test.
//!
//! The project is tests/fixtures/deploy: environment `staging` (project `shop`) with two
//! services, `api` and `worker`; `secretmanager.json` seeds a Secret Manager in which every
//! declared secret is usable. Tests break that seed in one place each, or seed Cloud Run with a
//! live service, and look at the exit code, the output and the requests the fake recorded.
//!
//! Every fake is a [`common::Fake`], which fails the test if any request tried to read a secret
//! payload.

mod common;

use common::{Fake, Run};
use fake_google::{FakeGoogle, Fault, RequestRecord, Route, Target};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::time::Duration;

const PROJECT: &str = "shop";
/// The project number the seed's resource names use.
const NUMBER: &str = "777000111";

/// A plaintext credential of a live service, which no output may show.
const LIVE_PASSWORD: &str = "hunter2-xyz";
/// A plaintext value of a live service under a name secrets.yaml declares as a secret, though
/// the name itself does not look like a credential.
const LIVE_ACCOUNT: &str = "acct-5521-xyz";

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/deploy")
}

/// The Secret Manager seed in which the gate passes.
fn seed() -> Value {
    let text = std::fs::read_to_string(fixtures().join("secretmanager.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn secret_mut<'s>(seed: &'s mut Value, id: &str) -> &'s mut Value {
    let suffix = format!("/secrets/{id}");
    let secrets = seed["projects"][PROJECT]["secrets"].as_array_mut().unwrap();
    let found =
        secrets.iter_mut().find(|s| s["secret"]["name"].as_str().unwrap().ends_with(&suffix));
    found.unwrap_or_else(|| panic!("the seed has no secret {id}"))
}

fn set_state(seed: &mut Value, id: &str, version: u32, state: &str) {
    let suffix = format!("/versions/{version}");
    let versions = secret_mut(seed, id)["versions"].as_array_mut().unwrap();
    let found = versions.iter_mut().find(|v| v["name"].as_str().unwrap().ends_with(&suffix));
    found.unwrap_or_else(|| panic!("{id} has no version {version}"))["state"] = state.into();
}

fn remove_version(seed: &mut Value, id: &str, version: u32) {
    let suffix = format!("/versions/{version}");
    let versions = secret_mut(seed, id)["versions"].as_array_mut().unwrap();
    let before = versions.len();
    versions.retain(|v| !v["name"].as_str().unwrap().ends_with(&suffix));
    assert_eq!(versions.len(), before - 1, "{id} has no version {version}");
}

fn remove_secret(seed: &mut Value, id: &str) {
    let _ = secret_mut(seed, id);
    let suffix = format!("/secrets/{id}");
    let secrets = seed["projects"][PROJECT]["secrets"].as_array_mut().unwrap();
    secrets.retain(|s| !s["secret"]["name"].as_str().unwrap().ends_with(&suffix));
}

fn start(seed: Value) -> Fake {
    Fake::seeded(seed, |_| {})
}

/// What a run of `deploy --format json` reports.
impl Run {
    /// The report's entry for a service.
    fn service(&self, name: &str) -> Value {
        let report = self.json();
        let services = report["services"].as_array().cloned().unwrap_or_default();
        let found = services.into_iter().find(|s| s["service"] == name);
        found.unwrap_or_else(|| panic!("no `{name}` in the report:\n{}", self.stdout))
    }
}

/// Runs `secretgate deploy --poll-interval 0.05 ARGS` in `dir` with Secret Manager at `sm` and
/// Cloud Run at `run`. Stdin is a pipe: there is no terminal to confirm on.
fn deploy_at(dir: &Path, sm: &str, run: &str, args: &[&str]) -> Run {
    let mut cmd = common::secretgate();
    cmd.current_dir(dir).env("SECRETMANAGER_EMULATOR_HOST", sm).env("RUN_EMULATOR_HOST", run);
    common::run(cmd.args(["deploy", "--poll-interval", "0.05"]).args(args))
}

/// `deploy ARGS` on the fixture project against `fake`.
fn deploy(fake: &FakeGoogle, args: &[&str]) -> Run {
    deploy_at(&fixtures(), &fake.host(), &fake.host(), args)
}

/// A copy of the fixture project in which `edit` has changed api's spec.
fn with_api_spec(edit: impl FnOnce(&str) -> String) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = fixtures();
    std::fs::copy(root.join("secrets.yaml"), dir.path().join("secrets.yaml")).unwrap();
    std::fs::create_dir(dir.path().join("deploy")).unwrap();
    for entry in std::fs::read_dir(root.join("deploy")).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), dir.path().join("deploy").join(entry.file_name())).unwrap();
    }
    let api = dir.path().join("deploy/api.yaml");
    let spec = std::fs::read_to_string(&api).unwrap();
    let edited = edit(&spec);
    assert_ne!(edited, spec, "the edit changed the spec");
    std::fs::write(&api, edited).unwrap();
    dir
}

/// The fixture project with a mapping added to api's spec by hand: `LEGACY_TOKEN` from
/// `legacy-token`, which secrets.yaml does not declare. The gate verifies it all the same, and
/// warns (`undeclared-secret`). With the gate reading [`gate_with_legacy_token`] and Cloud Run
/// a fake without it, the secret is gone by the time of the rollout, and Cloud Run cannot start
/// the revision.
fn hand_mapped() -> tempfile::TempDir {
    with_api_spec(|spec| {
        let mapped = "        - name: MODE\n          value: staging\n";
        let legacy = "        - name: LEGACY_TOKEN\n          valueFrom:\n            \
            secretKeyRef:\n              \
                      name: legacy-token\n              key: latest\n";
        spec.replace(mapped, &format!("{mapped}{legacy}"))
    })
}

/// `legacy-token` as Secret Manager lists it, with one enabled version.
fn legacy_token() -> Value {
    let name = format!("projects/{NUMBER}/secrets/legacy-token");
    json!({
        "secret": { "name": name, "replication": { "automatic": {} } },
        "versions": [{ "name": format!("{name}/versions/1"), "state": "ENABLED",
                       "createTime": "2026-11-01T00:00:00Z" }],
    })
}

/// A Secret Manager for the gate in which `legacy-token` exists.
fn gate_with_legacy_token() -> Fake {
    let gate = start(seed());
    gate.set_secret(PROJECT, legacy_token()).unwrap();
    gate
}

/// What the fake Cloud Run says of a revision that maps `legacy-token`.
fn legacy_token_missing() -> String {
    format!("Secret projects/{NUMBER}/secrets/legacy-token/versions/latest was not found")
}

fn is_write(r: &RequestRecord) -> bool {
    r.method == "POST" || r.method == "PUT"
}

/// Every write to the Cloud Run API (create or replace), dry runs included.
fn run_writes(fake: &FakeGoogle) -> Vec<RequestRecord> {
    let writes = fake.requests().into_iter().filter(is_write);
    writes.filter(|r| r.path.starts_with("/apis/serving.knative.dev/")).collect()
}

/// The writes of one service (creates name it in the body, replaces in the path).
fn writes_of(fake: &FakeGoogle, name: &str) -> Vec<RequestRecord> {
    run_writes(fake).into_iter().filter(|r| body(r)["metadata"]["name"] == name).collect()
}

fn body(r: &RequestRecord) -> Value {
    serde_json::from_str(r.body.as_deref().unwrap_or("null")).expect("a JSON body")
}

/// The one write of `name` that was not a dry run.
fn the_write(fake: &FakeGoogle, name: &str) -> RequestRecord {
    let writes: Vec<_> =
        writes_of(fake, name).into_iter().filter(|r| !r.path.contains("dryRun")).collect();
    assert_eq!(writes.len(), 1, "one write of {name}: {writes:#?}");
    writes.into_iter().next().unwrap()
}

fn assert_no_write(fake: &FakeGoogle, run: &Run) {
    let writes = run_writes(fake);
    assert!(writes.is_empty(), "nothing may be written, yet:\n{writes:#?}\n{run}");
}

/// The target container of a sent or stored service.
fn container(service: &Value) -> &Value {
    &service["spec"]["template"]["spec"]["containers"][0]
}

/// The env var mappings of the target container: (name, secret, key).
fn env_refs(service: &Value) -> Vec<(String, String, String)> {
    let env = container(service)["env"].as_array().cloned().unwrap_or_default();
    env.iter()
        .filter_map(|e| {
            let r = e.pointer("/valueFrom/secretKeyRef")?;
            let text = |v: &Value| v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string());
            Some((text(&e["name"]), text(&r["name"]), text(&r["key"])))
        })
        .collect()
}

/// The `Ready` condition of a stored service: status and message.
fn ready(service: &Value) -> (String, String) {
    let conditions = service["status"]["conditions"].as_array().cloned().unwrap_or_default();
    let c = conditions.into_iter().find(|c| c["type"] == "Ready").unwrap_or_default();
    let text = |k: &str| c[k].as_str().unwrap_or_default().to_string();
    (text("status"), text("message"))
}

/// An env var mapped from a secret.
fn secret_env(name: &str, secret: &str, key: &str) -> Value {
    json!({ "name": name, "valueFrom": { "secretKeyRef": { "name": secret, "key": key } } })
}

/// A live `api` as someone deployed it before: an older image, `DB_PASSWORD` and
/// `PARTNER_ACCOUNT` as plaintext values, `API_KEY` at version 3 and a `LEGACY_TOKEN` that
/// secrets.yaml no longer declares.
fn live_api() -> Value {
    json!({
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Service",
        "metadata": { "name": "api" },
        "spec": {
            "template": {
                "metadata": { "annotations": { "autoscaling.knative.dev/maxScale": "5" } },
                "spec": { "containers": [{
                    "name": "app",
                    "image": "us-docker.pkg.dev/shop/app/api:0.9.0",
                    "ports": [{ "containerPort": 8080 }],
                    "env": [
                        { "name": "MODE", "value": "staging" },
                        { "name": "DB_PASSWORD", "value": LIVE_PASSWORD },
                        { "name": "PARTNER_ACCOUNT", "value": LIVE_ACCOUNT },
                        secret_env("API_KEY", "api-key", "3"),
                        secret_env("SENTRY_DSN", "sentry-dsn", "latest"),
                        secret_env("LEGACY_TOKEN", "legacy-token", "1"),
                    ],
                }]},
            },
            "traffic": [{ "percent": 100, "latestRevision": true }],
        },
    })
}

/// A live, ready `api` without plaintext values: the older image, only `API_KEY` mapped.
fn live_api_current() -> Value {
    let mut live = live_api();
    live["spec"]["template"]["spec"]["containers"][0]["env"] = json!([
        { "name": "MODE", "value": "staging" },
        secret_env("API_KEY", "api-key", "2"),
    ]);
    live
}

// The gate.

/// Each kind of problem with a required secret refuses the deploy with exit 1, names the rule,
/// and nothing reaches Cloud Run.
#[test]
fn every_kind_of_secret_problem_refuses_the_deploy() {
    type Break = fn(&mut Value);
    let cases: [(&str, Break, &str); 5] = [
        ("secret-not-found", |s| remove_secret(s, "partner-account"), "partner-account"),
        ("version-disabled", |s| set_state(s, "api-key", 2, "DISABLED"), "api-key"),
        ("version-destroyed", |s| set_state(s, "api-key", 2, "DESTROYED"), "api-key"),
        ("latest-unusable", |s| set_state(s, "db-password", 2, "DISABLED"), "db-password"),
        ("version-not-found", |s| remove_version(s, "api-key", 2), "api-key"),
    ];
    for (code, break_it, secret) in cases {
        let mut broken = seed();
        break_it(&mut broken);
        let fake = start(broken);
        let run = deploy(&fake, &["--env", "staging", "--yes"]);
        assert_eq!(run.code, 1, "{code}: the gate refuses with exit 1\n{run}");
        assert!(run.stdout.contains(code), "{code}: the finding is shown\n{run}");
        assert!(run.stdout.contains(secret), "{code}: the secret is named\n{run}");
        assert!(run.stderr.contains("deploy refused"), "{code}: the refusal is said\n{run}");
        assert!(run.stderr.contains("nothing was deployed"), "{code}\n{run}");
        assert_no_write(&fake, &run);

        let json = deploy(&fake, &["--env", "staging", "--yes", "--format", "json"]);
        assert_eq!(json.code, 1, "{code}\n{json}");
        let report = json.json();
        let codes: Vec<&Value> =
            report["diagnostics"].as_array().unwrap().iter().map(|d| &d["code"]).collect();
        assert!(codes.contains(&&json!(code)), "{code} in the JSON diagnostics\n{json}");
        assert_eq!(report["exitCode"], 1);
        assert_eq!(report["services"], json!([]), "no service is reported as deployed");
        assert_no_write(&fake, &json);
    }
}

/// The fixture project with a sidecar in api's spec that maps `METRICS_TOKEN` from
/// `secret` at `key`, and `DB_PASSWORD` as the manifest declares it for the app.
fn with_sidecar(secret: &str, key: &str) -> tempfile::TempDir {
    let sidecar = format!(
        "      - name: metrics\n        image: us-docker.pkg.dev/shop/app/metrics:1.0.0\n        \
        env:\n        - name: METRICS_TOKEN\n          valueFrom:\n            secretKeyRef:\n\
        {0}name: {secret}\n{0}key: '{key}'\n        - name: DB_PASSWORD\n          valueFrom:\n\
        {1}secretKeyRef: {{name: db-password, key: latest}}\n",
        " ".repeat(14),
        " ".repeat(12),
    );
    with_api_spec(|spec| spec.replace("  traffic:\n", &format!("{sidecar}  traffic:\n")))
}

/// `metrics-token`, which no entry declares, with one enabled version.
fn metrics_token() -> Value {
    let name = format!("projects/{NUMBER}/secrets/metrics-token");
    json!({
        "secret": { "name": name },
        "versions": [{ "name": format!("{name}/versions/1"), "state": "ENABLED",
                       "createTime": "2026-11-01T00:00:00Z" }],
    })
}

/// Regression: a secret that only the spec maps (here a sidecar's, which `undeclared-secret`
/// only warns about) was never verified, so the deploy rolled out a revision that could not
/// start (version 99 did not exist) and failed with exit 4. The gate verifies it as it does a
/// declared one, and refuses before any write.
#[test]
fn a_secret_only_the_spec_maps_is_verified_by_the_gate() {
    let dir = with_sidecar("tls-key", "99");
    let fake = start(seed());
    let args = ["--env", "staging", "--yes", "--format", "json"];
    let run = deploy_at(dir.path(), &fake.host(), &fake.host(), &args);
    assert_eq!(run.code, 1, "{run}");
    let report = run.json();
    let found = report["diagnostics"].as_array().unwrap();
    let missing = found.iter().find(|d| d["code"] == "version-not-found").expect("{run}");
    assert_eq!(missing["severity"], "error");
    assert_eq!(missing["target"], "METRICS_TOKEN");
    assert_eq!(missing["location"]["file"], "deploy/api.yaml", "{missing}");
    let message = missing["message"].as_str().unwrap();
    assert!(message.contains("secret `tls-key` has no version 99"), "{message}");
    assert!(message.contains("the spec maps it and secrets.yaml does not"), "{message}");
    assert_no_write(&fake, &run);

    // What cannot be verified refuses it with exit 3, as for a declared secret.
    let dir = with_sidecar("metrics-token", "latest");
    let fake = start(seed());
    fake.set_secret(PROJECT, metrics_token()).unwrap();
    let versions = format!("/v1/projects/{NUMBER}/secrets/metrics-token/versions");
    fake.inject_always(Target::Prefix(versions), Fault::Status(403));
    let run = deploy_at(dir.path(), &fake.host(), &fake.host(), &["--env", "staging", "--yes"]);
    assert_eq!(run.code, 3, "{run}");
    assert!(run.stdout.contains("not verified: the versions of secret `metrics-token`"), "{run}");
    assert_no_write(&fake, &run);
}

/// A secret only the spec maps joins the one `ListSecretVersions` per distinct secret, with no
/// IAM policy read for it; a sidecar mapping the same secret and version as a declared entry
/// costs nothing more. Once it resolves, the deploy goes out.
#[test]
fn a_secret_only_the_spec_maps_costs_one_versions_list() {
    let dir = with_sidecar("metrics-token", "latest");
    let fake = start(seed());
    fake.set_secret(PROJECT, metrics_token()).unwrap();
    let args = ["--env", "staging", "--service", "api", "--yes", "--format", "json"];
    let run = deploy_at(dir.path(), &fake.host(), &fake.host(), &args);
    assert_eq!(run.code, 0, "{run}");
    assert_eq!(run.service("api")["status"], "deployed", "{run}");
    let of = |route: Route, id: &str| {
        let path = format!("/secrets/{id}");
        fake.routed(route)
            .iter()
            .filter(|r| {
                r.path.contains(&format!("{path}/")) || r.path.contains(&format!("{path}:"))
            })
            .count()
    };
    assert_eq!(of(Route::ListVersions, "metrics-token"), 1, "{:#?}", fake.requests());
    assert_eq!(of(Route::ListVersions, "db-password"), 1, "{:#?}", fake.requests());
    assert_eq!(of(Route::GetIamPolicy, "metrics-token"), 0, "{:#?}", fake.requests());
    let secret_manager = fake.requests().into_iter().filter(|r| r.path.starts_with("/v1/")).count();
    assert_eq!(run.json()["requests"], json!(secret_manager), "{run}");
}

/// All problems are reported at once, across services, not only the first.
#[test]
fn every_problem_of_every_service_is_listed_at_once() {
    let mut broken = seed();
    set_state(&mut broken, "api-key", 2, "DISABLED");
    remove_secret(&mut broken, "queue-token");
    let fake = start(broken);

    let run = deploy(&fake, &["--env", "staging", "--yes"]);
    assert_eq!(run.code, 1, "{run}");
    for expected in ["version-disabled", "api-key", "secret-not-found", "queue-token"] {
        assert!(run.stdout.contains(expected), "`{expected}` is listed\n{run}");
    }
    assert!(run.stderr.contains("2 problem(s)"), "{run}");

    let run = deploy(&fake, &["--env", "staging", "--yes", "--format", "json"]);
    assert_eq!(run.code, 1, "{run}");
    let report = run.json();
    let found: Vec<(String, String, String)> = report["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["severity"] == "error")
        .map(|d| {
            let text = |k: &str| d[k].as_str().unwrap_or_default().to_string();
            (text("code"), text("service"), text("secret"))
        })
        .collect();
    let expected = |code: &str, service: &str, secret: &str| {
        (code.to_string(), service.to_string(), secret.to_string())
    };
    assert!(found.contains(&expected("version-disabled", "api", "api-key")), "{found:?}");
    assert!(found.contains(&expected("secret-not-found", "worker", "queue-token")), "{found:?}");
    assert_eq!(found.len(), 2, "{found:?}");
    assert_no_write(&fake, &run);
}

/// The gate covers every selected service before any is deployed: `worker` failing it keeps
/// `api`, whose secrets are fine and which comes first, from being deployed.
#[test]
fn a_service_failing_the_gate_stops_the_others_too() {
    let mut broken = seed();
    set_state(&mut broken, "queue-token", 4, "DESTROYED");
    let fake = start(broken);
    let run =
        deploy(&fake, &["--env", "staging", "--service", "api", "--service", "worker", "--yes"]);
    assert_eq!(run.code, 1, "{run}");
    assert!(run.stdout.contains("latest-unusable") && run.stdout.contains("queue-token"), "{run}");
    assert_no_write(&fake, &run);
    assert!(fake.service(PROJECT, "api").is_none(), "api was not created");
}

/// Selecting only the healthy service deploys it: the gate is about the selected services.
#[test]
fn the_gate_is_about_the_selected_services() {
    let mut broken = seed();
    remove_secret(&mut broken, "queue-token");
    let fake = start(broken);
    let run = deploy(&fake, &["--env", "staging", "--service", "api", "--yes"]);
    assert_eq!(run.code, 0, "{run}");
    assert!(fake.service(PROJECT, "api").is_some());
    assert!(writes_of(&fake, "worker").is_empty());
}

/// A Secret Manager that cannot be reached leaves the secrets unverified: exit 3, nothing
/// written, not even a read of Cloud Run.
#[test]
fn an_unreachable_secret_manager_refuses_with_exit_3() {
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().to_string()
    };
    let fake = start(seed());
    let run = deploy_at(
        &fixtures(),
        &closed,
        &fake.host(),
        &["--env", "staging", "--yes", "--timeout", "3"],
    );
    assert_eq!(run.code, 3, "{run}");
    assert!(run.stdout.contains("verification-incomplete"), "{run}");
    assert!(run.stderr.contains("could not be verified"), "{run}");
    assert!(run.stderr.contains("nothing was deployed"), "{run}");
    assert!(fake.requests().is_empty(), "Cloud Run is not touched: {:#?}", fake.requests());
}

/// Reading the versions of `sentry-dsn`, an optional entry of api, is refused: `check` only
/// warns about it, but the deploy gate refuses with exit 3, says what was not verified, and
/// writes nothing.
#[test]
fn an_optional_entry_that_cannot_be_verified_refuses_the_deploy() {
    let fake = start(seed());
    let versions = format!("/v1/projects/{NUMBER}/secrets/sentry-dsn/versions");
    fake.inject_always(Target::Prefix(versions), Fault::Status(403));
    let args = ["--env", "staging", "--service", "api", "--yes"];

    let run = deploy(&fake, &args);
    assert_eq!(run.code, 3, "{run}");
    assert!(run.stdout.contains("verification-incomplete"), "{run}");
    assert!(run.stdout.contains("not verified: the versions of secret `sentry-dsn`"), "{run}");
    assert!(!run.stdout.contains("warning only"), "the deploy does not call it a warning\n{run}");
    assert!(run.stderr.contains("deploy refused: 1 problem(s) could not be verified"), "{run}");
    assert_no_write(&fake, &run);

    let json = deploy(&fake, &[&args[..], &["--format", "json"]].concat());
    assert_eq!(json.code, 3, "{json}");
    let report = json.json();
    assert_eq!(report["exitCode"], 3);
    assert_eq!(report["services"], json!([]));
    let found = report["diagnostics"].as_array().unwrap();
    let unverified = found.iter().find(|d| d["code"] == "verification-incomplete").unwrap();
    assert_eq!(unverified["severity"], "error", "{unverified}");
    assert_eq!(unverified["target"], "SENTRY_DSN", "{unverified}");
    assert_no_write(&fake, &json);

    // `check` keeps its own rule: an optional entry's problems are warnings there.
    let check = assert_cmd::Command::new(env!("CARGO_BIN_EXE_secretgate"))
        .current_dir(fixtures())
        .env("SECRETMANAGER_EMULATOR_HOST", fake.host())
        .args(["check", "--env", "staging", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(check.status.code(), Some(0), "{}", String::from_utf8_lossy(&check.stderr));
    let report: Value = serde_json::from_slice(&check.stdout).unwrap();
    let found = report["diagnostics"].as_array().unwrap();
    let unverified = found.iter().find(|d| d["code"] == "verification-incomplete").unwrap();
    assert_eq!(unverified["severity"], "warning", "{unverified}");
}

/// api's spec mounts `/etc/tls` from a volume of `sentry-dsn`, where secrets.yaml puts
/// `/etc/tls/key.pem` from `tls-key`: the gate refuses (`mapping-conflict`) before anything is
/// read from Cloud Run or written to it.
#[test]
fn a_directory_mounted_from_another_secret_refuses_the_deploy() {
    let dir = with_api_spec(|spec| {
        let volume = [
            "        volumeMounts:",
            "        - name: tls",
            "          mountPath: /etc/tls",
            "      volumes:",
            "      - name: tls",
            "        secret:",
            "          secretName: sentry-dsn",
            "          items:",
            "          - key: latest",
            "            path: dsn",
            "  traffic:",
        ];
        spec.replace("  traffic:", &volume.join("\n"))
    });
    let fake = start(seed());
    let args = ["--env", "staging", "--service", "api", "--yes"];
    let run = deploy_at(dir.path(), &fake.host(), &fake.host(), &args);
    assert_eq!(run.code, 1, "{run}");
    assert!(run.stdout.contains("mapping-conflict"), "{run}");
    assert!(run.stdout.contains("`/etc/tls/key.pem` cannot be mounted at /etc/tls"), "{run}");
    assert!(run.stderr.contains("deploy refused"), "{run}");
    let cloud_run = fake.requests().into_iter().filter(|r| r.path.starts_with("/apis/"));
    assert_eq!(cloud_run.count(), 0, "Cloud Run is not touched\n{run}");
}

// Rollout.

/// A service that does not exist yet is created with a POST and followed until Ready; the JSON
/// report gives its revision, URL and mappings (names and versions, nothing else).
#[test]
fn a_new_service_is_created_and_reported_ready() {
    let fake = start(seed());
    let run = deploy(&fake, &["--env", "staging", "--service", "api", "--yes", "--format", "json"]);
    assert_eq!(run.code, 0, "{run}");

    let write = the_write(&fake, "api");
    assert_eq!(write.method, "POST", "a create");
    assert_eq!(write.path, "/apis/serving.knative.dev/v1/namespaces/shop/services");
    assert_eq!(write.status, Some(200));

    let stored = fake.service(PROJECT, "api").expect("api exists");
    assert_eq!(ready(&stored).0, "True");
    let report = run.service("api");
    assert_eq!(report["status"], "deployed");
    assert_eq!(report["revision"], stored["status"]["latestReadyRevisionName"]);
    assert_eq!(report["url"], stored["status"]["url"]);
    assert!(report["revision"].as_str().unwrap().starts_with("api-00001-"), "{report}");
    assert!(report["url"].as_str().unwrap().starts_with("https://api-"), "{report}");
    assert_eq!(run.json()["exitCode"], 0);

    let mappings = report["mappings"].as_array().unwrap();
    let mut seen = Vec::new();
    for m in mappings {
        let keys: Vec<&String> = m.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["target", "kind", "secret", "version"], "names and versions only");
        seen.push((m["target"].as_str().unwrap(), m["version"].as_str().unwrap()));
    }
    seen.sort_unstable();
    assert_eq!(
        seen,
        [
            ("/etc/tls/key.pem", "latest"),
            ("API_KEY", "2"),
            ("DB_PASSWORD", "latest"),
            ("PARTNER_ACCOUNT", "latest"),
            ("SENTRY_DSN", "latest"),
        ]
    );
    let file = mappings.iter().find(|m| m["kind"] == "file").unwrap();
    assert_eq!(file["secret"], "projects/shop/secrets/tls-key");

    // The human report says the same.
    let fake = start(seed());
    let run = deploy(&fake, &["--env", "staging", "--service", "api", "--yes"]);
    assert_eq!(run.code, 0, "{run}");
    let stored = fake.service(PROJECT, "api").unwrap();
    let revision = stored["status"]["latestReadyRevisionName"].as_str().unwrap();
    let url = stored["status"]["url"].as_str().unwrap();
    assert!(run.stdout.contains(&format!("api: revision {revision} is Ready at {url}")), "{run}");
    assert!(run.stdout.contains("API_KEY <- projects/shop/secrets/api-key @ 2"), "{run}");
    assert!(run.stdout.contains("new service"), "the plan says it is new\n{run}");
}

/// An existing service is replaced with a PUT that carries the resourceVersion read before.
#[test]
fn an_existing_service_is_replaced_with_its_live_resource_version() {
    let fake = start(seed());
    fake.set_service(PROJECT, live_api()).unwrap();
    let before = fake.service(PROJECT, "api").unwrap();
    let version = before["metadata"]["resourceVersion"].as_str().unwrap().to_string();
    let old_revision = before["status"]["latestReadyRevisionName"].clone();

    let run = deploy(&fake, &["--env", "staging", "--service", "api", "--yes", "--format", "json"]);
    assert_eq!(run.code, 0, "{run}");
    let write = the_write(&fake, "api");
    assert_eq!(write.method, "PUT");
    assert_eq!(write.path, "/apis/serving.knative.dev/v1/namespaces/shop/services/api");
    assert_eq!(body(&write)["metadata"]["resourceVersion"], version.as_str());
    assert!(run_writes(&fake).iter().all(|r| r.method != "POST"), "no create");

    let after = fake.service(PROJECT, "api").unwrap();
    assert_eq!(after["metadata"]["generation"], 2);
    assert_ne!(after["status"]["latestReadyRevisionName"], old_revision);
    assert_eq!(run.service("api")["revision"], after["status"]["latestReadyRevisionName"]);
    let refs = env_refs(&after);
    assert!(refs.contains(&("DB_PASSWORD".into(), "db-password".into(), "latest".into())));
    assert!(refs.iter().all(|(name, ..)| name != "LEGACY_TOKEN"), "{refs:?}");
}

/// Cloud Run answering 409 to the write (someone changed the service in between) fails the
/// rollout with exit 4 and says so; the service stays as it was.
#[test]
fn a_conflicting_write_is_reported_not_retried() {
    let fake = start(seed());
    fake.set_service(PROJECT, live_api()).unwrap();
    let before = fake.service(PROJECT, "api").unwrap();
    fake.inject(Route::ReplaceService, vec![Fault::Status(409)]);

    let run = deploy(&fake, &["--env", "staging", "--service", "api", "--yes"]);
    assert_eq!(run.code, 4, "{run}");
    assert!(run.stdout.contains("changed by someone else"), "{run}");
    assert!(run.stdout.contains("nothing was overwritten"), "{run}");
    assert_eq!(writes_of(&fake, "api").len(), 1, "one attempt, no retry");
    assert_eq!(fake.service(PROJECT, "api").unwrap(), before, "the service is unchanged");
}

/// A real race: someone replaces the service between secretgate's read and its write. The
/// stale resourceVersion makes Cloud Run refuse the write, and their change survives.
#[test]
fn a_change_between_read_and_write_is_not_overwritten() {
    let fake = start(seed());
    fake.set_service(PROJECT, live_api()).unwrap();
    // Hold the write long enough for the concurrent change to land first.
    fake.inject(Route::ReplaceService, vec![Fault::Delay(Duration::from_secs(3))]);

    let run = std::thread::scope(|scope| {
        let deploying =
            scope.spawn(|| deploy(&fake, &["--env", "staging", "--service", "api", "--yes"]));
        let arrived = || fake.requests().iter().any(|r| r.route == Route::ReplaceService);
        while !arrived() && !deploying.is_finished() {
            std::thread::sleep(Duration::from_millis(10));
        }
        let mut theirs = live_api();
        theirs["spec"]["template"]["spec"]["containers"][0]["image"] =
            "us-docker.pkg.dev/shop/app/api:0.9.1-hotfix".into();
        fake.set_service(PROJECT, theirs).unwrap();
        deploying.join().unwrap()
    });
    assert_eq!(run.code, 4, "{run}");
    assert!(run.stdout.contains("changed by someone else"), "{run}");
    assert_eq!(the_write(&fake, "api").status, Some(409));
    let stored = fake.service(PROJECT, "api").unwrap();
    assert_eq!(container(&stored)["image"], "us-docker.pkg.dev/shop/app/api:0.9.1-hotfix");
}

/// A revision that Cloud Run cannot start (here: a secret the spec maps was deleted after the
/// gate read it) fails the rollout with exit 4; Cloud Run's message is shown as it is, and
/// traffic stays on the revision that served before.
#[test]
fn a_revision_that_fails_to_become_ready_is_exit_4_with_the_message() {
    let dir = hand_mapped();
    let gate = gate_with_legacy_token();
    let fake = start(seed());
    fake.set_service(PROJECT, live_api_current()).unwrap();
    let old_revision = fake.service(PROJECT, "api").unwrap()["status"]["latestReadyRevisionName"]
        .as_str()
        .unwrap()
        .to_string();

    let args = ["--env", "staging", "--service", "api", "--yes"];
    let run = deploy_at(dir.path(), &gate.host(), &fake.host(), &args);
    assert_eq!(run.code, 4, "{run}");
    assert!(run.stdout.contains("undeclared-secret"), "the gate warned:\n{run}");
    let stored = fake.service(PROJECT, "api").unwrap();
    let (status, message) = ready(&stored);
    assert_eq!(status, "False", "the fake failed the revision");
    assert!(message.ends_with(&legacy_token_missing()), "{message}");
    assert!(run.stdout.contains(&message), "Cloud Run's message verbatim\n{run}");
    assert!(run.stdout.contains("api: rollout failed"), "{run}");
    assert!(run.stdout.contains("traffic stays on the previous ready revision"), "{run}");
    assert_eq!(stored["status"]["latestReadyRevisionName"], old_revision.as_str());
    assert_eq!(stored["status"]["traffic"][0]["revisionName"], old_revision.as_str());
    assert!(!run.stdout.contains("is Ready at"), "{run}");

    let fake = start(seed());
    let args = ["--env", "staging", "--service", "api", "--yes", "--format", "json"];
    let run = deploy_at(dir.path(), &gate.host(), &fake.host(), &args);
    assert_eq!(run.code, 4, "{run}");
    let report = run.service("api");
    assert_eq!(report["status"], "failed");
    let (_, message) = ready(&fake.service(PROJECT, "api").unwrap());
    assert!(report["message"].as_str().unwrap().contains(&message), "{report}");
    assert_eq!(report["revision"], Value::Null);
    assert_eq!(run.json()["exitCode"], 4);
}

/// The incident secretgate was made for, as far as a secret's own policy shows it: the runtime
/// account cannot read a mapped secret. The gate says so (`accessor-missing` is a warning, since
/// a grant on the project is invisible in the secret's policy) and lets the deploy go on; Cloud
/// Run then refuses to start the revision, and its reason is shown as it is, with exit 4.
#[test]
fn a_secret_the_runtime_account_cannot_read_is_exit_4_with_cloud_runs_reason() {
    let account = "api@shop.iam.gserviceaccount.com";
    let dir = with_api_spec(|spec| {
        let containers = "    spec:\n      containers:\n";
        spec.replace(
            containers,
            &format!("    spec:\n      serviceAccountName: {account}\n      containers:\n"),
        )
    });
    let mut seed = seed();
    secret_mut(&mut seed, "db-password")["iamPolicy"] = json!({"version": 1, "etag": "BwA=",
        "bindings": [{"role": "roles/secretmanager.secretAccessor",
                      "members": ["serviceAccount:worker@shop.iam.gserviceaccount.com"]}]});
    let fake = start(seed);

    let args = ["--env", "staging", "--service", "api", "--yes"];
    let run = deploy_at(dir.path(), &fake.host(), &fake.host(), &args);
    assert_eq!(run.code, 4, "{run}");
    assert!(run.stdout.contains("accessor-missing"), "the gate warned:\n{run}");
    let (status, message) = ready(&fake.service(PROJECT, "api").unwrap());
    assert_eq!(status, "False", "the fake failed the revision");
    let reason = format!(
        "Permission denied on secret: projects/{NUMBER}/secrets/db-password/versions/latest for \
         Revision service account {account}."
    );
    assert!(message.contains(&reason), "{message}");
    assert!(run.stdout.contains(&message), "Cloud Run's message verbatim\n{run}");
    assert!(run.stdout.contains("api: rollout failed"), "{run}");
}

/// A revision that never settles: exit 4 once --wait-timeout has passed.
#[test]
fn a_revision_that_never_settles_times_out_with_exit_4() {
    let fake = Fake::seeded(seed(), |c| c.pending_gets = u32::MAX);
    let run =
        deploy(&fake, &["--env", "staging", "--service", "worker", "--yes", "--wait-timeout", "1"]);
    assert_eq!(run.code, 4, "{run}");
    assert!(run.stdout.contains("worker: rollout failed: not Ready after 1 s"), "{run}");
    // worker did not exist before, so there is no earlier revision to keep serving.
    assert!(run.stdout.contains("the new service has no ready revision"), "{run}");
    let polls = fake.requests().into_iter().filter(|r| r.route == Route::GetService).count();
    assert!(polls >= 2, "it polled the service: {polls} GETs");
}

/// When one service fails, the ones after it are not deployed, and the report says so, naming
/// the service that failed (regression: the JSON `message` of a skipped service was null).
#[test]
fn a_failed_service_stops_the_rollout_of_the_next() {
    let dir = hand_mapped();
    let gate = gate_with_legacy_token();
    let fake = start(seed());
    let args = ["--env", "staging", "--yes", "--format", "json"];
    let run = deploy_at(dir.path(), &gate.host(), &fake.host(), &args);
    assert_eq!(run.code, 4, "{run}");
    assert_eq!(run.service("api")["status"], "failed");
    assert_eq!(run.service("worker")["status"], "skipped");
    assert_eq!(writes_of(&fake, "api").len(), 1);
    assert!(writes_of(&fake, "worker").is_empty(), "worker is not deployed");
    assert!(fake.service(PROJECT, "worker").is_none());

    let message = run.service("worker")["message"].as_str().unwrap_or_default().to_string();
    assert_eq!(message, "not deployed: the rollout of `api` did not end Ready", "{run}");

    let fake = start(seed());
    let run = deploy_at(dir.path(), &gate.host(), &fake.host(), &["--env", "staging", "--yes"]);
    assert_eq!(run.code, 4, "{run}");
    assert!(run.stdout.contains("worker: not deployed (an earlier service failed)"), "{run}");
}

/// `--dry-run` reads the live services and has Cloud Run validate the writes (`dryRun=all`),
/// but changes nothing.
#[test]
fn a_dry_run_only_reads_and_validates() {
    let fake = start(seed());
    fake.set_service(PROJECT, live_api()).unwrap();
    let before = fake.service(PROJECT, "api").unwrap();
    let run = deploy(&fake, &["--env", "staging", "--dry-run"]);
    assert_eq!(run.code, 0, "{run}");
    assert!(run.stderr.contains("dry run: nothing was deployed"), "{run}");
    let run_api: Vec<RequestRecord> = fake
        .requests()
        .into_iter()
        .filter(|r| r.path.starts_with("/apis/serving.knative.dev/"))
        .collect();
    for r in &run_api {
        assert!(
            r.method == "GET" || r.path.ends_with("?dryRun=all"),
            "only reads and dry runs: {} {}",
            r.method,
            r.path
        );
    }
    let writes = run_writes(&fake);
    let methods: Vec<&str> = writes.iter().map(|r| r.method.as_str()).collect();
    assert_eq!(methods, ["PUT", "POST"], "api validated as a replace, worker as a create");
    assert_eq!(fake.service(PROJECT, "api").unwrap(), before, "api is unchanged");
    assert!(fake.service(PROJECT, "worker").is_none(), "worker is not created");
}

/// A dry run whose service Cloud Run's validation rejects exits 1 and says why.
#[test]
fn a_dry_run_reports_what_cloud_run_rejects() {
    let dir = hand_mapped();
    let gate = gate_with_legacy_token();
    let fake = start(seed());
    let args = ["--env", "staging", "--dry-run", "--format", "json"];
    let run = deploy_at(dir.path(), &gate.host(), &fake.host(), &args);
    assert_eq!(run.code, 1, "{run}");
    assert_eq!(run.service("api")["status"], "rejected");
    let message = run.service("api")["message"].as_str().unwrap().to_string();
    assert!(message.contains(&legacy_token_missing()), "{message}");
    assert_eq!(run.service("worker")["status"], "planned");
    assert!(fake.service(PROJECT, "api").is_none());
}

/// A dry run whose validation gets no answer (a hang past `--timeout`) or a server error has
/// not been validated: the service is `unverified`, exit 3, not "rejected".
#[test]
fn a_dry_run_without_an_answer_from_cloud_run_is_not_verified() {
    for (fault, said) in [(Fault::Hang, "UNAVAILABLE"), (Fault::Status(503), "HTTP 503")] {
        let fake = start(seed());
        fake.inject(Route::CreateService, vec![fault.clone()]);
        let args = ["--env", "staging", "--dry-run", "--timeout", "2", "--format", "json"];
        let run = deploy(&fake, &args);
        assert_eq!(run.code, 3, "{fault:?}\n{run}");
        assert_eq!(run.json()["exitCode"], 3);
        let api = run.service("api");
        assert_eq!(api["status"], "unverified", "{fault:?}\n{run}");
        let message = api["message"].as_str().unwrap();
        assert!(message.contains("no usable answer") && message.contains(said), "{message}");
        assert_eq!(run.service("worker")["status"], "planned", "{run}");

        let fake = start(seed());
        fake.inject(Route::CreateService, vec![fault.clone()]);
        let run = deploy(&fake, &["--env", "staging", "--dry-run", "--timeout", "2"]);
        assert_eq!(run.code, 3, "{fault:?}\n{run}");
        assert!(run.stdout.contains("api: not verified: Cloud Run's validation"), "{run}");
        assert!(!run.all().contains("rejected"), "{run}");
        assert!(run.stderr.contains("dry run: nothing was deployed"), "{run}");
        assert!(fake.service(PROJECT, "api").is_none());
    }
}

/// `--dry-run --snapshot` needs no Google access at all: with both emulator variables pointing at
/// the fake, it sees no request.
#[test]
fn a_dry_run_from_a_snapshot_sends_no_request() {
    let fake = start(seed());
    let snapshot = fixtures().join("secretmanager.json");
    let snapshot = snapshot.to_str().unwrap();
    let run = deploy(&fake, &["--env", "staging", "--dry-run", "--snapshot", snapshot]);
    assert_eq!(run.code, 0, "{run}");
    assert!(run.stdout.contains("Plan for api"), "{run}");
    assert!(run.stdout.contains("against the spec file"), "{run}");
    assert!(run.stdout.contains("+ API_KEY"), "{run}");
    assert!(fake.requests().is_empty(), "no request: {:#?}", fake.requests());

    let run = deploy(
        &fake,
        &["--env", "staging", "--dry-run", "--snapshot", snapshot, "--format", "json"],
    );
    assert_eq!(run.code, 0, "{run}");
    assert_eq!(run.service("worker")["status"], "planned");
    assert!(fake.requests().is_empty(), "no request: {:#?}", fake.requests());

    // The snapshot also gates.
    let broken = tempfile::tempdir().unwrap();
    let mut seeded = seed();
    remove_secret(&mut seeded, "queue-token");
    let path = broken.path().join("broken.json");
    std::fs::write(&path, seeded.to_string()).unwrap();
    let run =
        deploy(&fake, &["--env", "staging", "--dry-run", "--snapshot", path.to_str().unwrap()]);
    assert_eq!(run.code, 1, "{run}");
    assert!(run.stdout.contains("queue-token"), "{run}");
    assert!(fake.requests().is_empty(), "no request: {:#?}", fake.requests());
}

/// A live read that hangs is given up at `--timeout` (from the start of the command, shared by
/// every read before the plan), and the report says the read timed out.
#[test]
fn a_hanging_live_read_times_out_and_says_so() {
    let fake = start(seed());
    fake.inject_always(Route::GetService, Fault::Hang);
    let run = deploy(&fake, &["--env", "staging", "--yes", "--timeout", "2", "--format", "json"]);
    assert_eq!(run.code, 3, "{run}");
    for name in ["api", "worker"] {
        assert_eq!(run.service(name)["status"], "unverified", "{run}");
        let message = run.service(name)["message"].as_str().unwrap_or_default().to_string();
        let timed_out = message.contains("(timed out)") || message.contains("s --timeout");
        assert!(timed_out, "{name}: {message}");
    }
    assert_no_write(&fake, &run);
}

/// Regression: with a live service unreadable, `deploy --format json` listed only the first
/// service in `services`; the report has one object per selected service, and nothing is
/// written.
#[test]
fn an_unreadable_live_service_is_reported_beside_every_other_service() {
    let fake = start(seed());
    fake.inject_always(Route::GetService, Fault::Status(403));
    let run = deploy(&fake, &["--env", "staging", "--yes", "--format", "json"]);
    assert_eq!(run.code, 3, "{run}");
    let names: Vec<Value> =
        run.json()["services"].as_array().unwrap().iter().map(|s| s["service"].clone()).collect();
    assert_eq!(names, [json!("api"), json!("worker")], "{run}");
    for name in ["api", "worker"] {
        assert_eq!(run.service(name)["status"], "unverified", "{run}");
        let message = run.service(name)["message"].as_str().unwrap().to_string();
        assert!(message.contains("cannot read the live service") && message.contains("403"));
    }
    assert_no_write(&fake, &run);

    // Only api unreadable: worker is read and planned, but not deployed either.
    let fake = start(seed());
    let api = format!("/apis/serving.knative.dev/v1/namespaces/{PROJECT}/services/api");
    fake.inject_always(Target::Prefix(api), Fault::Status(403));
    let run = deploy(&fake, &["--env", "staging", "--yes", "--format", "json"]);
    assert_eq!(run.code, 3, "{run}");
    assert_eq!(run.json()["exitCode"], 3);
    assert_eq!(run.service("api")["status"], "unverified", "{run}");
    let worker = run.service("worker");
    assert_eq!(worker["status"], "skipped", "{run}");
    assert!(worker["message"].as_str().unwrap().contains("live state of `api` could not be read"));
    assert_eq!(worker["plan"]["newService"], true, "worker was planned: {worker}");
    assert_no_write(&fake, &run);

    let run = deploy(&fake, &["--env", "staging", "--yes"]);
    assert_eq!(run.code, 3, "{run}");
    assert!(run.stderr.contains("error: cannot read the live service `api`"), "{run}");
    assert!(run.stderr.contains("nothing was deployed"), "{run}");
    assert_no_write(&fake, &run);

    // A dry run still plans and validates the services it could read.
    let run = deploy(&fake, &["--env", "staging", "--dry-run", "--format", "json"]);
    assert_eq!(run.code, 3, "{run}");
    assert_eq!(run.service("api")["status"], "unverified", "{run}");
    assert_eq!(run.service("worker")["status"], "planned", "{run}");
    let validated = run_writes(&fake);
    assert_eq!(validated.len(), 1, "worker alone is validated: {validated:#?}");
    assert!(validated[0].path.ends_with("?dryRun=all"), "{validated:#?}");
}

/// Without a terminal to confirm on and without --yes, nothing is deployed: exit 2 and why.
#[test]
fn without_a_terminal_and_without_yes_nothing_is_deployed() {
    let fake = start(seed());
    let run = deploy(&fake, &["--env", "staging"]);
    assert_eq!(run.code, 2, "{run}");
    assert!(run.stderr.contains("needs confirmation"), "{run}");
    assert!(run.stderr.contains("no terminal"), "{run}");
    assert!(run.stderr.contains("--yes"), "the help says how\n{run}");
    assert_no_write(&fake, &run);
}

// What is sent.

/// `--pin-versions` sends the number `latest` resolves to now, for mappings secretgate adds and
/// for the ones the spec already has; pinned entries keep their number.
#[test]
fn pin_versions_sends_the_resolved_numbers() {
    let fake = start(seed());
    let run = deploy(&fake, &["--env", "staging", "--yes", "--pin-versions", "--format", "json"]);
    assert_eq!(run.code, 0, "{run}");

    let sent = body(&the_write(&fake, "api"));
    let mut refs = env_refs(&sent);
    refs.sort();
    let r = |a: &str, b: &str, c: &str| (a.to_string(), b.to_string(), c.to_string());
    assert_eq!(
        refs,
        [
            r("API_KEY", "api-key", "2"),
            r("DB_PASSWORD", "db-password", "2"),
            r("PARTNER_ACCOUNT", "partner-account", "1"),
            r("SENTRY_DSN", "sentry-dsn", "1"),
        ]
    );
    let volumes = &sent["spec"]["template"]["spec"]["volumes"];
    assert_eq!(volumes[0]["secret"]["items"], json!([{ "key": "1", "path": "key.pem" }]));
    let worker = body(&the_write(&fake, "worker"));
    let partner = r("PARTNER_TOKEN", "partner-token", "5");
    assert_eq!(env_refs(&worker), [r("QUEUE_TOKEN", "queue-token", "4"), partner]);
    let keys = |r: &RequestRecord| body(r).to_string().matches("\"key\":\"latest\"").count();
    assert_eq!(run_writes(&fake).iter().map(keys).sum::<usize>(), 0, "no `latest` is sent");

    let versions: Vec<(String, String)> = run.service("api")["mappings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["target"].as_str().unwrap().into(), m["version"].as_str().unwrap().into()))
        .collect();
    assert!(versions.contains(&("DB_PASSWORD".into(), "2".into())), "{versions:?}");
    assert!(versions.contains(&("/etc/tls/key.pem".into(), "1".into())), "{versions:?}");
}

/// Without --pin-versions, `latest` goes out as `latest`.
#[test]
fn without_pin_versions_latest_is_sent() {
    let fake = start(seed());
    let run = deploy(&fake, &["--env", "staging", "--service", "worker", "--yes"]);
    assert_eq!(run.code, 0, "{run}");
    let sent = body(&the_write(&fake, "worker"));
    let r = |a: &str, b: &str, c: &str| (a.to_string(), b.to_string(), c.to_string());
    let partner = r("PARTNER_TOKEN", "partner-token", "5");
    assert_eq!(env_refs(&sent), [r("QUEUE_TOKEN", "queue-token", "latest"), partner]);
}

/// `--image` replaces the target container's image; `--force-new-revision` adds the rollout
/// annotation to the revision template. Without them, the spec's image goes out unannotated.
#[test]
fn image_and_force_new_revision_change_the_sent_service() {
    let fake = start(seed());
    fake.set_service(PROJECT, live_api_current()).unwrap();
    let image = "us-docker.pkg.dev/shop/app/api:2.0.0";
    let args =
        ["--env", "staging", "--service", "api", "--yes", "--image", image, "--force-new-revision"];
    let run = deploy(&fake, &args);
    assert_eq!(run.code, 0, "{run}");
    assert!(
        run.stdout.contains(
            "us-docker.pkg.dev/shop/app/api:0.9.0\n    -> us-docker.pkg.dev/shop/app/api:2.0.0"
        ),
        "the plan shows the image change\n{run}"
    );
    let sent = body(&the_write(&fake, "api"));
    assert_eq!(container(&sent)["image"], image);
    let annotations = &sent["spec"]["template"]["metadata"]["annotations"];
    let stamp = annotations["secretgate.io/rollout"].as_str().expect("the rollout annotation");
    assert!(!stamp.is_empty());
    assert_eq!(annotations["autoscaling.knative.dev/maxScale"], "5", "the spec's annotations stay");
    assert_eq!(container(&fake.service(PROJECT, "api").unwrap())["image"], image);

    let fake = start(seed());
    let run = deploy(&fake, &["--env", "staging", "--service", "api", "--yes"]);
    assert_eq!(run.code, 0, "{run}");
    let sent = body(&the_write(&fake, "api"));
    assert_eq!(container(&sent)["image"], "us-docker.pkg.dev/shop/app/api:1.0.0");
    assert_eq!(
        sent["spec"]["template"]["metadata"]["annotations"].get("secretgate.io/rollout"),
        None
    );
}

// The plan.

/// The plan against a live service lists added, changed and removed mappings and the image
/// change; plaintext values of the live service never show, in any format.
#[test]
fn the_plan_shows_changes_and_hides_live_credentials() {
    let fake = start(seed());
    fake.set_service(PROJECT, live_api()).unwrap();
    let run = deploy(&fake, &["--env", "staging", "--service", "api", "--dry-run"]);
    assert_eq!(run.code, 0, "{run}");
    let plan = &run.stdout;
    assert!(plan.contains("Plan for api (shop/us-central1), against the live service"), "{run}");
    for line in [
        "+ DB_PASSWORD",
        "+ PARTNER_ACCOUNT",
        "+ /etc/tls/key.pem",
        "api-key@3 -> @2",
        "- LEGACY_TOKEN",
        "legacy-token@1",
        "us-docker.pkg.dev/shop/app/api:0.9.0",
        "-> us-docker.pkg.dev/shop/app/api:1.0.0",
        "<redacted>",
    ] {
        assert!(plan.contains(line), "the plan shows `{line}`\n{run}");
    }
    assert!(!plan.contains("SENTRY_DSN"), "an unchanged mapping is not listed\n{run}");
    // Regression: the `<redacted>` under a name that marks a credential was masked again.
    assert_eq!(plan.matches("value: <redacted>").count(), 2, "{run}");
    assert!(!plan.contains('*'), "{run}");
    for value in [LIVE_PASSWORD, LIVE_ACCOUNT] {
        assert!(!run.all().contains(value), "`{value}` shown\n{run}");
    }

    let run =
        deploy(&fake, &["--env", "staging", "--service", "api", "--dry-run", "--format", "json"]);
    assert_eq!(run.code, 0, "{run}");
    for value in [LIVE_PASSWORD, LIVE_ACCOUNT] {
        assert!(!run.all().contains(value), "`{value}` shown\n{run}");
    }
    let plan = &run.service("api")["plan"];
    assert!(plan["diff"].as_str().unwrap().contains("<redacted>"), "{plan}");
    let changes: Vec<(&str, &str)> = plan["mappings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["change"].as_str().unwrap(), c["target"].as_str().unwrap()))
        .collect();
    for expected in [
        ("added", "DB_PASSWORD"),
        ("added", "PARTNER_ACCOUNT"),
        ("changed", "API_KEY"),
        ("removed", "LEGACY_TOKEN"),
    ] {
        assert!(changes.contains(&expected), "{expected:?} in {changes:?}");
    }
    assert_eq!(
        plan["image"],
        json!({
            "before": "us-docker.pkg.dev/shop/app/api:0.9.0",
            "after": "us-docker.pkg.dev/shop/app/api:1.0.0",
        })
    );
    assert_eq!(plan["newService"], false);

    // The real rollout prints the same plan, and hides the values just as well.
    let run = deploy(&fake, &["--env", "staging", "--service", "api", "--yes"]);
    assert_eq!(run.code, 0, "{run}");
    assert!(run.stdout.contains("<redacted>"), "{run}");
    for value in [LIVE_PASSWORD, LIVE_ACCOUNT] {
        assert!(!run.all().contains(value), "`{value}` shown\n{run}");
    }
}

/// The stamp `--force-new-revision` adds is shown in the plan as it is: its key holds "secret"
/// in secretgate's domain, which says nothing of its value.
#[test]
fn the_plan_shows_the_rollout_stamp() {
    let fake = start(seed());
    fake.set_service(PROJECT, live_api_current()).unwrap();
    let args = ["--env", "staging", "--service", "api", "--dry-run", "--force-new-revision"];
    let run = deploy(&fake, &args);
    assert_eq!(run.code, 0, "{run}");
    let stamp = run
        .stdout
        .lines()
        .find(|l| l.trim_start().starts_with('+') && l.contains(" secretgate.io/rollout: "));
    let stamp = stamp.unwrap_or_else(|| panic!("no stamp in the plan\n{run}"));
    let value = stamp.split_once(": ").unwrap().1;
    assert!(value.starts_with("\"20") && value.ends_with("Z\""), "{stamp}");
}

/// A live service deployed from the same spec plans as "no changes": the fields Cloud Run adds
/// itself (labels, status, generation…) are not differences.
#[test]
fn a_live_service_matching_the_spec_has_no_changes() {
    let fake = start(seed());
    let run = deploy(&fake, &["--env", "staging", "--service", "worker", "--yes"]);
    assert_eq!(run.code, 0, "{run}");
    let run = deploy(&fake, &["--env", "staging", "--service", "worker", "--dry-run"]);
    assert_eq!(run.code, 0, "{run}");
    assert!(run.stdout.contains("against the live service:\n  no changes\n"), "{run}");
}

/// The names of a live service's mappings are not checked by anyone before they reach the
/// plan: a terminal escape and a carriage return in one are written as escapes, so that they
/// cannot recolour or overwrite the plan a release engineer reads.
#[test]
fn a_control_character_in_a_live_name_is_escaped_in_the_plan() {
    let fake = start(seed());
    let mut live = live_api_current();
    live["spec"]["template"]["spec"]["containers"][0]["env"]
        .as_array_mut()
        .unwrap()
        .push(secret_env("OLD\u{1b}[8m\rTOKEN", "legacy-token", "1"));
    fake.set_service(PROJECT, live).unwrap();
    let run = deploy(&fake, &["--env", "staging", "--service", "api", "--dry-run"]);
    assert_eq!(run.code, 0, "{run}");
    assert!(!run.stdout.contains(['\u{1b}', '\r']), "a control character reached the plan");
    assert!(run.stdout.contains("    - OLD\\u{1b}[8m\\rTOKEN  legacy-token@1\n"), "{run}");
    assert!(run.stdout.contains("    + DB_PASSWORD          db-password@latest\n"), "{run}");
}

/// A mapping of another project's secret added to a live service is planned as just that: the
/// alias annotation that comes with it is not an "other change".
#[test]
fn a_secret_of_another_project_is_planned_as_a_mapping() {
    let fake = start(seed());
    let worker = json!({
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Service",
        "metadata": { "name": "worker" },
        "spec": { "template": { "spec": { "containers": [{
            "image": "us-docker.pkg.dev/shop/app/worker:1.0.0",
            "env": [
                { "name": "QUEUE", "value": "orders" },
                secret_env("QUEUE_TOKEN", "queue-token", "latest"),
            ],
        }]}}},
    });
    fake.set_service(PROJECT, worker).unwrap();
    let run = deploy(&fake, &["--env", "staging", "--service", "worker", "--dry-run"]);
    assert_eq!(run.code, 0, "{run}");
    let plan = "against the live service:\n  secret mappings:\n    \
                + PARTNER_TOKEN  projects/partner-infra/secrets/partner-token@5\n\n";
    assert!(run.stdout.contains(plan), "{run}");

    let run = deploy(&fake, &["--env", "staging", "--service", "worker", "--yes"]);
    assert_eq!(run.code, 0, "{run}");
    let stored = fake.service(PROJECT, "worker").unwrap();
    let annotations = &stored["spec"]["template"]["metadata"]["annotations"];
    assert_eq!(
        annotations["run.googleapis.com/secrets"],
        "partner-token:projects/partner-infra/secrets/partner-token"
    );
    assert_eq!(ready(&stored).0, "True", "Cloud Run resolved the alias");
}

// The story of the shipped example.

/// Copies the shipped example (secrets.yaml and deploy/) into a temporary directory.
fn example() -> tempfile::TempDir {
    fn copy(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).unwrap();
        for entry in std::fs::read_dir(from).unwrap() {
            let entry = entry.unwrap();
            let target = to.join(entry.file_name());
            if entry.file_type().unwrap().is_dir() {
                copy(&entry.path(), &target);
            } else {
                std::fs::copy(entry.path(), target).unwrap();
            }
        }
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(root.join("secrets.yaml"), dir.path().join("secrets.yaml")).unwrap();
    copy(&root.join("deploy"), &dir.path().join("deploy"));
    dir
}

fn example_snapshot(dir: &Path, name: &str) -> Value {
    let text = std::fs::read_to_string(dir.join("deploy/snapshots").join(name)).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// The incident: staging's Secret Manager lacks the JWT key and the OAuth client secret, and
/// the newest database password version is disabled. The deploy refuses and lists all three;
/// once Secret Manager is fixed, the same command rolls out both services.
#[test]
fn the_staging_incident_is_refused_then_the_fixed_state_rolls_out() {
    let dir = example();
    let fake = start(example_snapshot(dir.path(), "staging-incident.json"));
    let deploy_staging =
        || deploy_at(dir.path(), &fake.host(), &fake.host(), &["--env", "staging", "--yes"]);

    let run = deploy_staging();
    assert_eq!(run.code, 1, "{run}");
    for expected in [
        "jwt-secret-key",
        "google-oauth-client-secret",
        "database-password",
        "secret-not-found",
        "latest-unusable",
    ] {
        assert!(run.stdout.contains(expected), "`{expected}` is listed\n{run}");
    }
    assert!(run.stderr.contains("nothing was deployed"), "{run}");
    assert_no_write(&fake, &run);

    // Fix Secret Manager: the state of staging.json.
    let fixed = example_snapshot(dir.path(), "staging.json");
    for entry in fixed["projects"]["netra-staging"]["secrets"].as_array().unwrap() {
        fake.set_secret("netra-staging", entry.clone()).unwrap();
    }
    fake.clear_requests();

    let run = deploy_staging();
    assert_eq!(run.code, 0, "{run}");
    for name in ["netra-backend", "netra-auth"] {
        let stored = fake.service("netra-staging", name).unwrap_or_else(|| panic!("{name}\n{run}"));
        assert_eq!(ready(&stored).0, "True", "{name}");
        let revision = stored["status"]["latestReadyRevisionName"].as_str().unwrap();
        let url = stored["status"]["url"].as_str().unwrap();
        let line = format!("{name}: revision {revision} is Ready at {url}");
        assert!(run.stdout.contains(&line), "`{line}`\n{run}");
        assert_eq!(the_write(&fake, name).method, "POST");
    }
    assert!(
        run.stdout
            .contains("JWT_SECRET_KEY <- projects/netra-staging/secrets/jwt-secret-key @ latest"),
        "{run}"
    );
}

/// A second deploy of what is already live changes nothing: no write, no new revision, and the
/// report names the revision that keeps serving. `--force-new-revision` replaces it anyway.
#[test]
fn an_unchanged_service_is_not_replaced() {
    let fake = start(seed());
    let args = ["--env", "staging", "--service", "api", "--yes"];
    assert_eq!(deploy(&fake, &args).code, 0);
    let first = fake.service(PROJECT, "api").unwrap();
    let revision = first["status"]["latestReadyRevisionName"].as_str().unwrap().to_string();
    let writes = run_writes(&fake).len();

    let again = deploy(&fake, &args);
    assert_eq!(again.code, 0, "{again}");
    assert_eq!(run_writes(&fake).len(), writes, "nothing was sent:\n{again}");
    assert!(again.stdout.contains("no changes"), "{again}");
    let kept = format!("api: no changes, not deployed; revision {revision} keeps serving");
    assert!(again.stdout.contains(&kept), "{again}");

    let json_args = ["--env", "staging", "--service", "api", "--yes", "--format", "json"];
    let report = deploy(&fake, &json_args);
    assert_eq!(report.service("api")["status"], "unchanged", "{report}");
    assert_eq!(report.service("api")["revision"], revision.as_str());
    assert_eq!(run_writes(&fake).len(), writes);

    let forced =
        deploy(&fake, &["--env", "staging", "--service", "api", "--yes", "--force-new-revision"]);
    assert_eq!(forced.code, 0, "{forced}");
    assert_eq!(run_writes(&fake).len(), writes + 1, "--force-new-revision replaces it");
    let now = fake.service(PROJECT, "api").unwrap();
    assert_ne!(now["status"]["latestReadyRevisionName"].as_str().unwrap(), revision);

    // The stamp the forced rollout left on the live template is not a change.
    let after = deploy(&fake, &args);
    assert!(after.stdout.contains("no changes, not deployed"), "{after}");
    assert_eq!(run_writes(&fake).len(), writes + 1, "nothing more was sent");
}

/// The JSON report comes at the end, so there is no plan to confirm against: `--format json`
/// without `--yes` refuses before anything is read or sent.
#[test]
fn json_without_yes_is_refused_before_any_request() {
    let fake = start(seed());
    let run = deploy(&fake, &["--env", "staging", "--format", "json"]);
    assert_eq!(run.code, 2, "{run}");
    assert!(run.stderr.contains("--format json does not ask for confirmation"), "{run}");
    assert!(run.stderr.contains("--yes"), "{run}");
    assert!(fake.requests().is_empty(), "no request: {:#?}", fake.requests());
}

/// Warnings do not stop a deploy, but they are shown before the plan: here the optional
/// SENTRY_DSN's only version is disabled.
#[test]
fn gate_warnings_are_shown_before_the_plan() {
    let mut seed = seed();
    set_state(&mut seed, "sentry-dsn", 1, "DISABLED");
    let fake = start(seed);
    let run = deploy(&fake, &["--env", "staging", "--service", "api", "--dry-run"]);
    let warning = run.stdout.find("latest-unusable").expect("the warning is shown");
    let plan = run.stdout.find("Plan for api").expect("the plan is shown");
    assert!(warning < plan, "the warning comes before the plan:\n{run}");
    assert!(run.all().contains("sentry-dsn"), "{run}");
    assert!(run.stdout.contains("Plan for api"), "the deploy goes on to the plan:\n{run}");
    let note = "left out (optional, and its secret is unusable): SENTRY_DSN";
    assert!(run.stdout.contains(note), "{run}");

    // Mapped, the disabled version would stop the revision from starting; left out, it rolls
    // out, and the report says what was left out.
    let run = deploy(&fake, &["--env", "staging", "--service", "api", "--yes", "--format", "json"]);
    assert_eq!(run.code, 0, "{run}");
    let report = run.service("api");
    assert_eq!(report["status"], "deployed", "{run}");
    assert_eq!(report["leftOut"], json!(["SENTRY_DSN"]));
    let targets: Vec<&str> = report["mappings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["target"].as_str().unwrap())
        .collect();
    assert!(!targets.contains(&"SENTRY_DSN"), "{targets:?}");
    let sent = body(&the_write(&fake, "api")).to_string();
    assert!(!sent.contains("sentry-dsn"), "the rendered service does not map it: {sent}");
}

/// Regression: `SENTRY_DSN` is optional, its only version is DISABLED, and api's spec maps it
/// itself. The plan said "left out", yet the JSON `mappings` and the rendered service kept it,
/// and the rollout failed with exit 4. Left out now means taken out of the spec too: the plan
/// shows the removal, and the revision starts.
#[test]
fn an_optional_entry_the_spec_maps_itself_is_left_out_too() {
    let dir = with_api_spec(|spec| {
        let mapped = "        - name: MODE\n          value: staging\n";
        let sentry = "        - name: SENTRY_DSN\n          valueFrom:\n            \
            secretKeyRef: {name: sentry-dsn, key: latest}\n";
        spec.replace(mapped, &format!("{mapped}{sentry}"))
    });
    let mut seed = seed();
    set_state(&mut seed, "sentry-dsn", 1, "DISABLED");
    let fake = start(seed.clone());
    let args = ["--env", "staging", "--service", "api", "--yes", "--format", "json"];
    let run = deploy_at(dir.path(), &fake.host(), &fake.host(), &args);
    assert_eq!(run.code, 0, "{run}");
    let report = run.service("api");
    assert_eq!(report["status"], "deployed", "{run}");
    assert_eq!(report["leftOut"], json!(["SENTRY_DSN"]));
    let mapped = report["mappings"].as_array().unwrap().iter().map(|m| m["target"].clone());
    assert!(!mapped.collect::<Vec<_>>().contains(&json!("SENTRY_DSN")), "{run}");
    let sent = body(&the_write(&fake, "api")).to_string();
    assert!(!sent.contains("sentry-dsn"), "the rendered service does not map it: {sent}");

    // Against the spec file, the plan shows the mapping the deploy takes out.
    let snapshot = dir.path().join("snapshot.json");
    std::fs::write(&snapshot, seed.to_string()).unwrap();
    let snapshot = snapshot.to_str().unwrap();
    let args = ["--env", "staging", "--service", "api", "--dry-run", "--format", "json"];
    let run = deploy_at(dir.path(), "", "", &[&args[..], &["--snapshot", snapshot]].concat());
    assert_eq!(run.code, 0, "{run}");
    let changes = run.service("api")["plan"]["mappings"].clone();
    let removed = changes.as_array().unwrap().iter().find(|c| c["target"] == "SENTRY_DSN");
    assert_eq!(removed.map(|c| &c["change"]), Some(&json!("removed")), "{run}");
}

/// A project where `api` and `web` share one spec, `deploy/shared.yaml`, that has no
/// `metadata.name`; `extra` goes at the end of its target container.
fn shared_spec(extra: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let manifest = [
        "version: 1",
        "environments:",
        "  staging: {project: shop, region: us-central1}",
        "services:",
        "  api:",
        "    spec: deploy/shared.yaml",
        "    secrets: {DB_PASSWORD: {secret: db-password}}",
        "  web:",
        "    spec: deploy/shared.yaml",
        "    secrets: {DB_PASSWORD: {secret: db-password}}",
    ];
    let spec = [
        "apiVersion: serving.knative.dev/v1",
        "kind: Service",
        "spec:",
        "  template:",
        "    spec:",
        "      containers:",
        "      - name: app",
        "        image: us-docker.pkg.dev/shop/app/web:1.0.0",
    ];
    std::fs::write(dir.path().join("secrets.yaml"), manifest.join("\n")).unwrap();
    std::fs::create_dir(dir.path().join("deploy")).unwrap();
    let spec = format!("{}\n{extra}", spec.join("\n"));
    std::fs::write(dir.path().join("deploy/shared.yaml"), spec).unwrap();
    dir
}

/// Regression: with one spec shared by `api` and `web`, every finding in it was `api`'s only,
/// so `deploy --service web` and `render --service web` passed a spec with a plaintext
/// password and a sidecar mapping a secret that does not exist. Each service's gate sees them.
/// A shared spec without `metadata.name` gets each service's own name.
#[test]
fn a_spec_shared_by_two_services_is_gated_for_each() {
    let broken = [
        "        env: [{name: DB_URL, value: 'postgres://u:S3cretPw@db/x'}]",
        "      - name: side",
        "        image: side",
        "        env: [{name: T, valueFrom: {secretKeyRef: {name: gone, key: latest}}}]",
    ];
    let broken = broken.join("\n");
    let dir = shared_spec(&broken);
    let fake = start(seed());
    for service in ["api", "web"] {
        let args = ["--env", "staging", "--service", service, "--yes", "--format", "json"];
        let run = deploy_at(dir.path(), &fake.host(), &fake.host(), &args);
        assert_eq!(run.code, 1, "{service}: {run}");
        let found = run.json()["diagnostics"].as_array().unwrap().clone();
        let of = |code: &str| found.iter().any(|d| d["code"] == code && d["service"] == service);
        assert!(of("plaintext-secret") && of("secret-not-found"), "{service}: {run}");

        let mut render = common::secretgate();
        render.current_dir(dir.path()).args(["render", "--env", "staging", "--service", service]);
        let render = common::run(&mut render);
        assert_eq!(render.code, 1, "{service}: {render}");
        assert!(render.stdout.contains("plaintext-secret"), "{service}: {render}");
    }
    assert!(run_writes(&fake).is_empty(), "nothing is written: {:#?}", run_writes(&fake));

    let dir = shared_spec("");
    let args = ["--env", "staging", "--service", "web", "--yes", "--format", "json"];
    let run = deploy_at(dir.path(), &fake.host(), &fake.host(), &args);
    assert_eq!(run.code, 0, "{run}");
    assert_eq!(body(&the_write(&fake, "web"))["metadata"]["name"], "web");
    assert!(fake.service(PROJECT, "web").is_some(), "Cloud Run has `web`");
}

/// A rollout failed (its revision could not read a secret); once the secret is fixed, the same
/// deploy has nothing to change in the spec, yet it must start a new revision rather than
/// report "no changes" while the failed revision is the latest.
#[test]
fn a_failed_latest_revision_is_replaced_even_without_changes() {
    let dir = hand_mapped();
    let gate = gate_with_legacy_token();
    let fake = start(seed());
    let args = ["--env", "staging", "--service", "api", "--yes"];
    let failed = deploy_at(dir.path(), &gate.host(), &fake.host(), &args);
    assert_eq!(failed.code, 4, "{failed}");
    let writes = run_writes(&fake).len();

    fake.set_secret(PROJECT, legacy_token()).unwrap();

    let run = deploy_at(dir.path(), &gate.host(), &fake.host(), &args);
    assert_eq!(run.code, 0, "{run}");
    assert!(run.stdout.contains("the latest revision is not Ready"), "{run}");
    assert!(!run.stdout.contains("no changes, not deployed"), "{run}");
    assert_eq!(run_writes(&fake).len(), writes + 1, "one more write");
    let stored = fake.service(PROJECT, "api").unwrap();
    assert_eq!(ready(&stored).0, "True", "{stored}");
    let revision = stored["status"]["latestReadyRevisionName"].as_str().unwrap();
    assert!(run.stdout.contains(&format!("api: revision {revision} is Ready")), "{run}");
}

/// A write that gets no answer may or may not have been applied: the report says so, within
/// `--timeout`, instead of claiming that Cloud Run refused it.
#[test]
fn an_unanswered_write_is_reported_as_unknown() {
    let fake = start(seed());
    fake.inject(Route::CreateService, vec![Fault::Hang]);
    let args = ["--env", "staging", "--service", "api", "--yes", "--timeout", "2"];
    let started = std::time::Instant::now();
    let run = deploy(&fake, &args);
    assert_eq!(run.code, 4, "{run}");
    assert!(started.elapsed() < Duration::from_secs(20), "bounded by --timeout");
    assert!(run.stdout.contains("api: rollout outcome unknown: no answer from Cloud Run"), "{run}");
    assert!(run.stdout.contains("may or may not have been applied"), "{run}");
    assert!(!run.stdout.contains("refused"), "{run}");

    let fake = start(seed());
    fake.inject(Route::CreateService, vec![Fault::Hang]);
    let json_args =
        ["--env", "staging", "--service", "api", "--yes", "--timeout", "2", "--format", "json"];
    let run = deploy(&fake, &json_args);
    assert_eq!(run.service("api")["status"], "unknown", "{run}");
}

/// What happened to a write that was accepted is not known when its answer cannot be read, or
/// when the service cannot be read while waiting: neither is reported as refused or failed.
#[test]
fn an_accepted_write_that_cannot_be_followed_is_unknown() {
    let json_args = ["--env", "staging", "--service", "api", "--yes", "--format", "json"];

    let fake = start(seed());
    fake.inject(Route::CreateService, vec![Fault::Malformed]);
    let run = deploy(&fake, &json_args);
    assert_eq!(run.code, 4, "{run}");
    assert_eq!(run.service("api")["status"], "unknown", "{run}");

    let fake = start(seed());
    // The plan's read passes (no such service yet); the first read while waiting is refused.
    fake.inject(Route::GetService, vec![Fault::Pass, Fault::Status(403)]);
    let run = deploy(&fake, &json_args);
    assert_eq!(run.code, 4, "{run}");
    let report = run.service("api");
    assert_eq!(report["status"], "unknown", "{run}");
    assert!(report["message"].as_str().unwrap().contains("lost track of `api`"), "{report}");
    assert!(fake.service(PROJECT, "api").is_some(), "the write was applied");
}

/// Cloud Run creates the service the body names: when the spec's metadata.name is not the
/// manifest's service, nothing is planned against one and written to the other.
#[test]
fn a_spec_naming_another_service_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let root = fixtures();
    let manifest = std::fs::read_to_string(root.join("secrets.yaml")).unwrap();
    assert!(manifest.contains("\n  api:\n"));
    std::fs::write(
        dir.path().join("secrets.yaml"),
        manifest.replace("\n  api:\n", "\n  api-v2:\n"),
    )
    .unwrap();
    std::fs::create_dir(dir.path().join("deploy")).unwrap();
    for entry in std::fs::read_dir(root.join("deploy")).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), dir.path().join("deploy").join(entry.file_name())).unwrap();
    }
    let fake = start(seed());
    let args = ["--env", "staging", "--service", "api-v2", "--yes"];
    let run = deploy_at(dir.path(), &fake.host(), &fake.host(), &args);
    assert_eq!(run.code, 2, "{run}");
    assert!(run.stderr.contains("names the service `api` (metadata.name)"), "{run}");
    assert!(run_writes(&fake).is_empty(), "nothing was written");
}

/// `-q` leaves out notes, not the report that was asked for.
#[test]
fn quiet_keeps_the_rollout_report() {
    let fake = start(seed());
    let run = deploy(&fake, &["-q", "--env", "staging", "--service", "api", "--yes"]);
    assert_eq!(run.code, 0, "{run}");
    assert!(run.stdout.contains("api: revision "), "{run}");
}

/// The guard of every test here: a payload read that reaches the fake fails the test.
#[test]
fn a_payload_read_fails_the_test() {
    use std::io::{Read, Write};
    let fake = start(seed());
    let path = format!("/v1/projects/{PROJECT}/secrets/api-key/versions/2:access");
    let mut stream = std::net::TcpStream::connect(fake.addr()).unwrap();
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n", fake.host());
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 403"), "the fake refuses it: {answer}");
    let dropped = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(fake)));
    assert!(dropped.is_err(), "the guard let a payload read pass");
}

//! `check` and `snapshot` end to end: the real binary against the fake Google server
//! (`fake-google`), in process, reached through `SECRETMANAGER_EMULATOR_HOST` and
//! `RUN_EMULATOR_HOST`.
//!
//! Fixtures live under `tests/fixtures/check/`: `full/` declares every check rule once beside
//! near misses, `healthy/` is a clean environment. Their `seed.json` is the fake's content, in
//! the snapshot format; times written `{{now-30d}}` are filled in relative to the test's clock,
//! since the rules compare with the time the check runs.
//!
//! Every fake is a [`common::Fake`], which fails the test if any request tried to read a secret
//! payload. Outcomes, request logs and arrival times recorded by the fake are what is asserted;
//! the only wall-clock assertions are generous bounds on runs given a short `--timeout`, which
//! catch a run that outlives its deadline, not a slow one.

mod common;

use assert_cmd::Command;
use common::{Fake, Run};
use fake_google::{Fault, RequestRecord, Route, Target};
use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Exit codes of the public interface.
const OK: i32 = 0;
const FINDINGS: i32 = 1;
const INCOMPLETE: i32 = 3;

/// The project of the `full` fixture.
const FULL_PROJECT: &str = "sg-staging";

/// The project of the `healthy` fixture, and its number.
const HEALTHY_PROJECT: &str = "hc-staging";
const HEALTHY_NUMBER: &str = "700800900";

/// The most a run given `--timeout 3` may take. A hang guard, not a speed test: it is far above
/// the 3 s so that a loaded machine passes, and far below the 30 s the client library's own
/// retry loop waits on a 503 (nearly 60 s on a refused connection), which is what it catches.
const HANG_GUARD: Duration = Duration::from_secs(20);

// ---------------------------------------------------------------------------------------------
// Fixtures and the fake

fn fixture_dir(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/check").join(name)
}

fn manifest(name: &str) -> PathBuf {
    fixture_dir(name).join("secrets.yaml")
}

/// `text` with every `{{now}}`, `{{now+Nd}}` and `{{now-Nd}}` replaced by that time (whole
/// seconds, RFC 3339).
fn fill_times(text: &str, now: Timestamp) -> String {
    let now = Timestamp::from_second(now.as_second()).expect("a valid time");
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{now") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 5..];
        let end = after.find("}}").expect("a closed `{{now…}}` placeholder");
        let offset = &after[..end];
        let days: i64 = match offset.strip_suffix('d') {
            Some(n) => n.parse().unwrap_or_else(|_| panic!("bad placeholder offset {offset:?}")),
            None if offset.is_empty() => 0,
            None => panic!("bad placeholder offset {offset:?}"),
        };
        let at = now.checked_add(SignedDuration::from_hours(24 * days)).expect("in range");
        out.push_str(&at.to_string());
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    out
}

/// A fixture's seed with its times filled in.
fn seed(name: &str) -> Value {
    let path = fixture_dir(name).join("seed.json");
    let text = std::fs::read_to_string(&path).expect("the seed is readable");
    serde_json::from_str(&fill_times(&text, Timestamp::now())).expect("the seed is JSON")
}

/// The seeded entries of one project: `{secret, versions, iamPolicy}` objects.
fn seeded_entries(seed: &Value, project: &str) -> Vec<Value> {
    seed["projects"][project]["secrets"].as_array().cloned().expect("the project is seeded")
}

fn fake_for(fixture: &str) -> Fake {
    Fake::seeded(seed(fixture), |_| {})
}

/// A copy of a fixture's folder whose `secrets.yaml` went through `edit`.
fn fixture_copy(name: &str, edit: impl Fn(&str) -> String) -> tempfile::TempDir {
    fn copy(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).expect("the folder is created");
        for entry in std::fs::read_dir(from).expect("the fixture is readable") {
            let path = entry.expect("a directory entry").path();
            let target = to.join(path.file_name().expect("a file name"));
            if path.is_dir() {
                copy(&path, &target);
            } else {
                std::fs::copy(&path, &target).expect("the file is copied");
            }
        }
    }
    let dir = tempfile::tempdir().expect("a temp dir");
    copy(&fixture_dir(name), dir.path());
    let path = dir.path().join("secrets.yaml");
    let text = std::fs::read_to_string(&path).expect("the manifest is readable");
    let edited = edit(&text);
    assert_ne!(edited, text, "the edit changed nothing");
    std::fs::write(&path, edited).expect("the manifest is written");
    dir
}

/// The shipped example's staging snapshot.
fn example_seed() -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("deploy/snapshots/staging.json");
    let text = std::fs::read_to_string(path).expect("the example snapshot is readable");
    serde_json::from_str(&text).expect("the example snapshot is JSON")
}

// ---------------------------------------------------------------------------------------------
// Running the binary

/// What a run of `check` reports, read from its JSON document.
impl Run {
    fn findings(&self) -> Vec<Finding> {
        let doc = self.json();
        let items = doc["diagnostics"].as_array().expect("`diagnostics` is an array");
        items.iter().map(Finding::from_json).collect()
    }

    /// The `requests` count of the JSON report.
    fn requests(&self) -> usize {
        let doc = self.json();
        let n = doc["requests"].as_u64().unwrap_or_else(|| panic!("no `requests`: {doc}"));
        usize::try_from(n).expect("a small count")
    }
}

/// One finding of the JSON report.
#[derive(Clone, Debug, PartialEq)]
struct Finding {
    code: String,
    severity: String,
    /// `(file, line, column)`, or `None` for findings about no place in a file.
    location: Option<(String, u64, u64)>,
    message: String,
    help: String,
}

impl Finding {
    fn from_json(item: &Value) -> Finding {
        let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
        let location = &item["location"];
        let location = (!location.is_null()).then(|| {
            let number = |k: &str| location[k].as_u64().expect("a line or column");
            (text(&location["file"]), number("line"), number("column"))
        });
        Finding {
            code: text(&item["code"]),
            severity: text(&item["severity"]),
            location,
            message: text(&item["message"]),
            help: text(&item["help"]),
        }
    }

    /// Code, severity, line and column, for comparing lists (every finding here is in the
    /// fixture's `secrets.yaml`, which [`places`] checks).
    fn place(&self) -> (&str, &str, u64, u64) {
        let (line, column) = self.location.as_ref().map_or((0, 0), |(_, l, c)| (*l, *c));
        (self.code.as_str(), self.severity.as_str(), line, column)
    }
}

/// Code, severity, line and column of each finding, in report order; asserts that every located
/// finding is in the manifest.
fn places(found: &[Finding]) -> Vec<(&str, &str, u64, u64)> {
    for f in found {
        if let Some((file, ..)) = &f.location {
            assert_eq!(file, "secrets.yaml", "{f:?}");
        }
    }
    found.iter().map(Finding::place).collect()
}

/// The findings of one rule.
fn of(found: &[Finding], code: &str) -> Vec<Finding> {
    found.iter().filter(|f| f.code == code).cloned().collect()
}

fn assert_message(f: &Finding, text: &str) {
    assert!(f.message.contains(text), "message of {f:?} lacks {text:?}");
}

/// `secretgate --manifest MANIFEST`, its Google endpoints pointed at `fake` (none when `None`),
/// with no inherited credentials.
fn secretgate(fake: Option<&Fake>, manifest: &Path) -> Command {
    let mut cmd = match fake {
        Some(fake) => common::secretgate_at(fake),
        None => common::secretgate(),
    };
    cmd.arg("--manifest").arg(manifest);
    cmd
}

/// `check --env staging --format json ARGS` against `fake`, without the default rate limit so
/// tests do not wait on it (the limiter has a test of its own).
fn check(fake: &Fake, fixture: &str, args: &[&str]) -> Run {
    check_manifest(fake, &manifest(fixture), args)
}

fn check_manifest(fake: &Fake, manifest: &Path, args: &[&str]) -> Run {
    let mut cmd = secretgate(Some(fake), manifest);
    cmd.args(["check", "--env", "staging", "--format", "json", "--max-rps", "1000"]).args(args);
    common::run(&mut cmd)
}

/// `check --env staging --format json --snapshot FILE ARGS`, with `fake` set but not to be used.
fn check_snapshot(fake: &Fake, manifest: &Path, file: &Path, args: &[&str]) -> Run {
    let mut cmd = secretgate(Some(fake), manifest);
    cmd.args(["check", "--env", "staging", "--format", "json", "--snapshot"]).arg(file).args(args);
    common::run(&mut cmd)
}

/// Asserts the JSON `requests` count equals the API requests the fake recorded.
fn assert_requests_match(run: &Run, fake: &Fake) {
    let recorded = fake.api_requests();
    assert_eq!(
        run.requests(),
        recorded.len(),
        "`requests` in the report differs from what the fake saw: {:#?}",
        recorded.iter().map(|r| (r.route, &r.path)).collect::<Vec<_>>()
    );
}

/// The secret id a Secret Manager request path names (`…/secrets/ID[/…|:verb]`).
fn secret_of(record: &RequestRecord) -> String {
    let path = record.path.split('?').next().unwrap_or_default();
    let after = path.split("/secrets/").nth(1).unwrap_or_default();
    after.split(['/', ':']).next().unwrap_or_default().to_string()
}

// ---------------------------------------------------------------------------------------------
// The `full` fixture: every rule

/// What `check` reports on the `full` fixture: each rule once, in manifest order.
const FULL_FINDINGS: &[(&str, &str, u64, u64)] = &[
    ("secret-not-found", "error", 22, 17),
    ("secret-not-found", "warning", 24, 17),
    ("version-not-found", "error", 28, 18),
    ("version-disabled", "error", 31, 18),
    ("version-destroyed", "error", 34, 18),
    ("latest-unusable", "error", 35, 7),
    ("secret-expiring", "warning", 38, 17),
    ("secret-expiring", "error", 40, 17),
    ("rotation-overdue", "warning", 42, 17),
    ("version-too-old", "warning", 45, 18),
    ("accessor-missing", "warning", 47, 17),
];

/// The declared secrets that exist, each read once however many services declare it.
const FULL_DECLARED: &[&str] = &[
    "database-password",
    "stripe-key",
    "smtp-password",
    "oauth-client-secret",
    "redis-password",
    "session-key",
    "legacy-token",
    "encryption-key",
    "signing-key",
    "partner-api-key",
    "maps-api-key",
    "queue-token",
];

/// Those of them a service with a known runtime account (`api`) declares.
const FULL_WITH_ACCOUNT: &[&str] = &[
    "database-password",
    "stripe-key",
    "smtp-password",
    "oauth-client-secret",
    "redis-password",
    "session-key",
    "legacy-token",
    "encryption-key",
    "signing-key",
    "partner-api-key",
    "maps-api-key",
];

/// Runs `check` on the `full` fixture; returns the fake (for its log) and the findings.
fn full_check(args: &[&str]) -> (Fake, Run, Vec<Finding>) {
    let fake = fake_for("full");
    let run = check(&fake, "full", args);
    let found = run.findings();
    (fake, run, found)
}

#[test]
fn full_fixture_reports_each_rule_once_and_nothing_else() {
    let (fake, run, found) = full_check(&[]);
    assert_eq!(run.code, FINDINGS, "{}", run.stderr);
    assert_eq!(places(&found), FULL_FINDINGS);
    let doc = run.json();
    assert_eq!(doc["command"], "check");
    assert_eq!(doc["summary"], json!({"errors": 6, "warnings": 5}));
    assert_requests_match(&run, &fake);
}

#[test]
fn secret_not_found_is_an_error_and_a_warning_for_an_optional_secret() {
    let (_fake, _run, found) = full_check(&[]);
    let found = of(&found, "secret-not-found");
    assert_eq!(
        places(&found),
        [("secret-not-found", "error", 22, 17), ("secret-not-found", "warning", 24, 17)]
    );
    assert_message(&found[0], "secret `jwt-secret-key` does not exist in project `sg-staging`");
    assert!(!found[0].message.contains("optional"), "{:?}", found[0]);
    assert_message(&found[1], "secret `sentry-dsn` does not exist");
    assert_message(&found[1], "(optional secret: warning only)");
    assert!(found[0].help.contains("gcloud secrets create jwt-secret-key --project sg-staging"));
}

#[test]
fn version_not_found_for_a_missing_number_but_not_an_existing_alias() {
    let (_fake, _run, found) = full_check(&[]);
    let found = of(&found, "version-not-found");
    // MAPS_API_KEY pins the alias `current`, which exists: no finding.
    assert_eq!(places(&found), [("version-not-found", "error", 28, 18)]);
    assert_message(&found[0], "secret `stripe-key` has no version 9 (newest: 3)");
}

#[test]
fn version_disabled_on_the_pinned_version() {
    let (_fake, _run, found) = full_check(&[]);
    let found = of(&found, "version-disabled");
    // database-password's version 1 is DISABLED too, but `latest` (2) is what it uses.
    assert_eq!(places(&found), [("version-disabled", "error", 31, 18)]);
    assert_message(&found[0], "version 2 of secret `smtp-password` is DISABLED");
}

#[test]
fn version_destroyed_on_the_pinned_version() {
    let (_fake, _run, found) = full_check(&[]);
    let found = of(&found, "version-destroyed");
    // smtp-password's version 1 is DESTROYED too, but it pins 2.
    assert_eq!(places(&found), [("version-destroyed", "error", 34, 18)]);
    assert_message(&found[0], "version 1 of secret `oauth-client-secret` is DESTROYED");
}

#[test]
fn latest_unusable_when_the_newest_version_is_disabled() {
    let (_fake, _run, found) = full_check(&[]);
    let found = of(&found, "latest-unusable");
    // Located on the entry's key, since `latest` is the default there.
    assert_eq!(places(&found), [("latest-unusable", "error", 35, 7)]);
    assert_message(
        &found[0],
        "`latest` of secret `redis-password` is version 3, which is DISABLED",
    );
}

#[test]
fn secret_expiring_warns_ahead_and_errs_once_passed() {
    let (_fake, run, found) = full_check(&[]);
    let expiring = of(&found, "secret-expiring");
    // database-password expires in 200 days: beyond the 30-day default.
    assert_eq!(
        places(&expiring),
        [("secret-expiring", "warning", 38, 17), ("secret-expiring", "error", 40, 17)]
    );
    assert_message(&expiring[0], "secret `session-key` expires on");
    assert_message(&expiring[1], "secret `legacy-token` expired on");
    assert_eq!(run.code, FINDINGS);

    // A longer horizon reaches database-password too (in both services that map it); a shorter
    // one drops session-key.
    let fake = fake_for("full");
    let wide = of(&check(&fake, "full", &["--expiry-days", "365"]).findings(), "secret-expiring");
    assert_eq!(
        places(&wide),
        [
            ("secret-expiring", "warning", 20, 17),
            ("secret-expiring", "warning", 38, 17),
            ("secret-expiring", "error", 40, 17),
            ("secret-expiring", "warning", 56, 17),
        ]
    );
    let narrow = of(&check(&fake, "full", &["--expiry-days", "5"]).findings(), "secret-expiring");
    assert_eq!(places(&narrow), [("secret-expiring", "error", 40, 17)]);
}

#[test]
fn rotation_overdue_when_next_rotation_has_passed() {
    let (_fake, _run, found) = full_check(&[]);
    let found = of(&found, "rotation-overdue");
    // database-password's next rotation is 20 days ahead: no finding.
    assert_eq!(places(&found), [("rotation-overdue", "warning", 42, 17)]);
    assert_message(&found[0], "rotation of secret `encryption-key` was due on");
    assert_message(&found[0], "5 days ago");
}

#[test]
fn version_too_old_for_an_old_pin_beside_a_recent_latest() {
    let (_fake, _run, found) = full_check(&[]);
    let found = of(&found, "version-too-old");
    assert_eq!(places(&found), [("version-too-old", "warning", 45, 18)]);
    assert_message(&found[0], "version 1 of secret `signing-key` is 400 days old");
    assert_message(&found[0], "over the policy's 365 days");
}

/// Regression: versions were ordered by `createTime`, so a newest version without a usable one
/// (missing, without a zone, or an older version dated 9999) hid behind an older ENABLED
/// version, and `latest` passed while Cloud Run would resolve it to the DISABLED newest.
#[test]
fn latest_is_the_highest_version_number_whatever_the_create_times() {
    let fake = fake_for("healthy");
    let dir = tempfile::tempdir().expect("a temp dir");
    let newest = |time: Option<&str>| {
        let name = format!("projects/{HEALTHY_NUMBER}/secrets/api-key/versions/4");
        let mut version = json!({ "name": name, "state": "DISABLED" });
        if let Some(time) = time {
            version["createTime"] = json!(time);
        }
        version
    };
    let cases = [
        ("missing", newest(None), None),
        ("no zone", newest(Some("2026-04-01T10:00:00")), None),
        ("older in 9999", newest(Some("2026-04-01T10:00:00Z")), Some("9999-01-01T00:00:00Z")),
    ];
    for (case, version, older_time) in cases {
        let mut seed = seed("healthy");
        let entry = seed["projects"][HEALTHY_PROJECT]["secrets"]
            .as_array_mut()
            .and_then(|s| s.iter_mut().find(|e| secret_id(e) == "api-key"))
            .expect("api-key is seeded");
        let versions = entry["versions"].as_array_mut().expect("versions");
        if let Some(time) = older_time {
            versions[0]["createTime"] = json!(time);
        }
        versions.push(version);
        let file = dir.path().join("snapshot.json");
        std::fs::write(&file, seed.to_string()).expect("the snapshot is written");
        let run = check_snapshot(&fake, &manifest("healthy"), &file, &[]);
        assert_eq!(run.code, FINDINGS, "{case}: {run}");
        let found = of(&run.findings(), "latest-unusable");
        assert_eq!(found.len(), 1, "{case}: {run}");
        assert_message(&found[0], "`latest` of secret `api-key` is version 4, which is DISABLED");
    }
}

/// The healthy seed with `edit` applied to the entry of `api-key`, written as a snapshot.
fn snapshot_with_api_key(dir: &Path, edit: impl FnOnce(&mut Vec<Value>)) -> PathBuf {
    let mut seed = seed("healthy");
    let secrets = seed["projects"][HEALTHY_PROJECT]["secrets"].as_array_mut().expect("secrets");
    edit(secrets);
    let file = dir.join("snapshot.json");
    std::fs::write(&file, seed.to_string()).expect("the snapshot is written");
    file
}

/// A version of `api-key` called `name`, DISABLED: newer than the ENABLED version 3 if its
/// number could be read.
fn odd_version(name: &str) -> Value {
    json!({ "name": format!("projects/{HEALTHY_NUMBER}/secrets/api-key/versions/{name}"),
            "state": "DISABLED", "createTime": "2026-04-01T10:00:00Z" })
}

/// Regression: a version whose name does not end in a version number (`2x`, `abc`, empty, `-1`,
/// a number past u64) was dropped, so `latest` of `api-key` resolved to the older ENABLED
/// version 3 and the check passed. Such an answer is not Secret Manager's: nothing is taken as
/// absent, the versions are unverified (exit 3), in a snapshot and from the API alike.
#[test]
fn a_version_whose_number_cannot_be_read_is_incomplete_not_dropped() {
    let fake = fake_for("healthy");
    let dir = tempfile::tempdir().expect("a temp dir");
    for name in ["2x", "abc", "", "-1", "0", "99999999999999999999999"] {
        let add = |secrets: &mut Vec<Value>| {
            let entry = secrets.iter_mut().find(|e| secret_id(e) == "api-key").expect("api-key");
            entry["versions"].as_array_mut().expect("versions").insert(0, odd_version(name));
        };
        let file = snapshot_with_api_key(dir.path(), add);
        let run = check_snapshot(&fake, &manifest("healthy"), &file, &[]);
        assert_eq!(run.code, INCOMPLETE, "version `{name}`: {run}");
        let found = of(&run.findings(), "verification-incomplete");
        assert_eq!(places(&found), [("verification-incomplete", "error", 15, 7)], "{run}");
        assert_message(&found[0], "not verified: the versions of secret `api-key` (bad answer:");
        assert!(!run.stdout.contains("latest-unusable"), "{run}");
    }

    let mut seed = seed("healthy");
    let secrets = seed["projects"][HEALTHY_PROJECT]["secrets"].as_array_mut().expect("secrets");
    let entry = secrets.iter_mut().find(|e| secret_id(e) == "api-key").expect("api-key");
    entry["versions"].as_array_mut().expect("versions").insert(0, odd_version("2x"));
    let live = Fake::seeded(seed, |_| {});
    let run = check(&live, "healthy", &[]);
    assert_eq!(run.code, INCOMPLETE, "from the API: {run}");
    assert_message(&of(&run.findings(), "verification-incomplete")[0], "(bad answer: version");
}

/// Regression: a snapshot that listed a secret twice, or one version of it twice, gave the
/// answer of whichever entry came last (or first): the same file passed or failed by the order
/// of its entries. Either is unverified now, in both orders.
#[test]
fn a_secret_or_version_listed_twice_is_incomplete_in_either_order() {
    let fake = fake_for("healthy");
    let dir = tempfile::tempdir().expect("a temp dir");
    /// Repeats an entry of `api-key`, disabled, first or last.
    type Repeat = fn(&mut Vec<Value>, bool);
    let disabled_again: Repeat = |secrets, first| {
        let entry = secrets.iter_mut().find(|e| secret_id(e) == "api-key").expect("api-key");
        let versions = entry["versions"].as_array_mut().expect("versions");
        let mut again = versions[0].clone();
        again["state"] = json!("DISABLED");
        versions.insert(if first { 0 } else { versions.len() }, again);
    };
    let secret_again: Repeat = |secrets, first| {
        let entry = secrets.iter().find(|e| secret_id(e) == "api-key").expect("api-key");
        let mut again = entry.clone();
        again["versions"][0]["state"] = json!("DISABLED");
        secrets.insert(if first { 0 } else { secrets.len() }, again);
    };
    let cases = [
        ("version 3 is listed twice", disabled_again),
        ("secret `api-key` is listed twice", secret_again),
    ];
    for (why, edit) in cases {
        for first in [true, false] {
            let file = snapshot_with_api_key(dir.path(), |s| edit(s, first));
            let run = check_snapshot(&fake, &manifest("healthy"), &file, &[]);
            assert_eq!(run.code, INCOMPLETE, "{why}, first: {first}: {run}");
            let found = of(&run.findings(), "verification-incomplete");
            assert!(found.iter().any(|f| f.message.contains(why)), "{why}: {run}");
            let errors = run.findings().into_iter().filter(|f| f.severity == "error");
            assert_eq!(errors.count(), found.len(), "only what was not verified: {run}");
        }
    }
}

/// Regression: a secret whose name is not `projects/P/secrets/ID` was taken by its last part,
/// so a snapshot entry named `garbage` stood for a secret `garbage` and the declared secrets it
/// may have meant were reported missing. The project is unverified instead.
#[test]
fn a_secret_with_a_malformed_name_leaves_the_project_unverified() {
    let fake = fake_for("healthy");
    let dir = tempfile::tempdir().expect("a temp dir");
    for name in ["garbage", "projects//secrets/api-key", "projects/p/secrets/api-key/versions/1"] {
        let file = snapshot_with_api_key(dir.path(), |secrets| {
            let entry = secrets.iter_mut().find(|e| secret_id(e) == "api-key").expect("api-key");
            entry["secret"]["name"] = json!(name);
        });
        let run = check_snapshot(&fake, &manifest("healthy"), &file, &[]);
        assert_eq!(run.code, INCOMPLETE, "{name}: {run}");
        let found = of(&run.findings(), "verification-incomplete");
        let why = "a secret whose name is not `projects/PROJECT/secrets/ID`";
        assert!(found.iter().any(|f| f.message.contains(why)), "{name}: {run}");
        assert!(of(&run.findings(), "secret-not-found").is_empty(), "{name}: {run}");
    }
}

/// The seeded entry of secret `id` among `secrets`.
fn entry_of<'a>(secrets: &'a mut [Value], id: &str) -> &'a mut Value {
    secrets.iter_mut().find(|e| secret_id(e) == id).unwrap_or_else(|| panic!("{id} is seeded"))
}

/// Regression: fields of a snapshot with the wrong type, or with a time that did not parse,
/// were read as absent: `"expireTime": "garbage"` and `"nextRotationTime": "bogus"` turned the
/// expiry and rotation checks off, `"bindings": "x"` read as a policy without grants (an
/// `accessor-missing` warning, exit 0), and a pinned version in an unknown `state` passed. What
/// depends on such a field is unverified now (exit 3), named with the secret, field and reason.
#[test]
fn malformed_snapshot_fields_leave_what_depends_on_them_unverified() {
    let fake = fake_for("healthy");
    let dir = tempfile::tempdir().expect("a temp dir");
    let account = "web-runtime@hc-staging.iam.gserviceaccount.com";
    type Edit = fn(&mut [Value]);
    let cases: [(Edit, String); 6] = [
        (
            |s| entry_of(s, "api-key")["secret"]["expireTime"] = json!("garbage"),
            "the expiry of secret `api-key` (bad answer: `expireTime` is not an RFC 3339 time)"
                .into(),
        ),
        (
            |s| entry_of(s, "api-key")["secret"]["expireTime"] = json!(1_798_761_600),
            "the expiry of secret `api-key` (bad answer: `expireTime` is not an RFC 3339 time)"
                .into(),
        ),
        (
            |s| {
                let rotation = json!({"nextRotationTime": "bogus", "rotationPeriod": "86400s"});
                entry_of(s, "api-key")["secret"]["rotation"] = rotation;
            },
            "the rotation of secret `api-key` (bad answer: `rotation.nextRotationTime` is not an \
            RFC 3339 time)"
                .into(),
        ),
        (
            |s| entry_of(s, "api-key")["iamPolicy"] = json!({"bindings": "x"}),
            format!(
                "whether {account} may read secret `api-key` (bad answer: the IAM policy's \
                `bindings` is not a list)"
            ),
        ),
        (
            |s| entry_of(s, "api-key")["versions"][0]["state"] = json!("GARBAGE"),
            "whether version 3 of secret `api-key` can be used (bad answer: version 3 has no \
            `state` of ENABLED, DISABLED or DESTROYED)"
                .into(),
        ),
        (
            |s| entry_of(s, "db-password")["versions"][0]["state"] = json!(7),
            "whether version 2 of secret `db-password` can be used (bad answer: version 2 has no \
            `state` of ENABLED, DISABLED or DESTROYED)"
                .into(),
        ),
    ];
    for (edit, why) in cases {
        let file = snapshot_with_api_key(dir.path(), |secrets| edit(secrets));
        let run = check_snapshot(&fake, &manifest("healthy"), &file, &[]);
        assert_eq!(run.code, INCOMPLETE, "{why}: {run}");
        let found = run.findings();
        let errors: Vec<&Finding> = found.iter().filter(|f| f.severity == "error").collect();
        assert_eq!(errors.len(), 1, "{why}: {run}");
        assert_eq!(errors[0].code, "verification-incomplete", "{why}");
        assert_eq!(errors[0].message, format!("not verified: {why}"));
        assert!(of(&found, "accessor-missing").is_empty(), "{why}: {run}");
    }
}

/// A version's `createTime` that does not parse, and version aliases of the wrong shape, leave
/// unverified what reads them: the age of the version in use under `max_version_age_days`, and
/// the version an alias names. Where nothing reads them, they change nothing.
#[test]
fn malformed_version_times_and_aliases_are_unverified_where_they_are_read() {
    let fake = fake_for("healthy");
    let dir = tempfile::tempdir().expect("a temp dir");
    let odd_time: fn(&mut [Value]) =
        |s| entry_of(s, "api-key")["versions"][0]["createTime"] = json!("2026-03-01 10:00");
    let file = snapshot_with_api_key(dir.path(), |s| odd_time(s));
    let run = check_snapshot(&fake, &manifest("healthy"), &file, &[]);
    assert_eq!(run.code, OK, "no age limit reads the time: {run}");

    let limited = fixture_copy("healthy", |m| {
        m.replace("version: 1\n", "version: 1\npolicy:\n  max_version_age_days: 365\n")
    });
    // The one finding a snapshot gives under the age limit.
    let unverified_age = |file: &Path| {
        let run = check_snapshot(&fake, &limited.path().join("secrets.yaml"), file, &[]);
        assert_eq!(run.code, INCOMPLETE, "{run}");
        let found = of(&run.findings(), "verification-incomplete");
        assert_eq!(found.len(), 1, "{run}");
        found[0].message.clone()
    };
    assert_eq!(
        unverified_age(&file),
        "not verified: the age of version 3 of secret `api-key` (bad answer: the `createTime` of \
        version 3 is not an RFC 3339 time)"
    );
    // No `createTime` at all leaves the age as unknown.
    let no_time: fn(&mut [Value]) = |s| {
        let version = &mut entry_of(s, "api-key")["versions"][0];
        version.as_object_mut().expect("a version object").remove("createTime");
    };
    let file = snapshot_with_api_key(dir.path(), |s| no_time(s));
    assert_eq!(
        unverified_age(&file),
        "not verified: the age of version 3 of secret `api-key` (it has no `createTime`)"
    );

    let aliased = fixture_copy("healthy", |m| {
        m.replace(
            "secret: db-password\n        version: 2",
            "secret: db-password\n        version: current",
        )
    });
    let aliases: fn(&mut [Value]) =
        |s| entry_of(s, "db-password")["secret"]["versionAliases"] = json!({"current": "two"});
    let file = snapshot_with_api_key(dir.path(), |s| aliases(s));
    let run = check_snapshot(&fake, &aliased.path().join("secrets.yaml"), &file, &[]);
    assert_eq!(run.code, INCOMPLETE, "{run}");
    let found = run.findings();
    assert_eq!(of(&found, "verification-incomplete").len(), 1, "{run}");
    assert_message(
        &of(&found, "verification-incomplete")[0],
        "not verified: which version alias `current` of secret `db-password` names (bad answer: \
        `versionAliases` maps `current` to something that is not a version number)",
    );
    assert!(of(&found, "version-not-found").is_empty(), "{run}");
}

/// The live API path agrees: a version in a state the client does not know is reported as a
/// snapshot's is, and a time that does not parse makes the client refuse the listing that holds
/// it, which leaves the project's secrets unverified rather than read without it.
#[test]
fn malformed_fields_from_the_api_are_unverified_too() {
    let mut odd_state = seed("healthy");
    let secrets = odd_state["projects"][HEALTHY_PROJECT]["secrets"].as_array_mut().unwrap();
    entry_of(secrets, "api-key")["versions"][0]["state"] = json!("GARBAGE");
    let run = check(&Fake::seeded(odd_state, |_| {}), "healthy", &[]);
    assert_eq!(run.code, INCOMPLETE, "{run}");
    let found = of(&run.findings(), "verification-incomplete");
    assert_eq!(found.len(), 1, "{run}");
    assert_message(&found[0], "not verified: whether version 3 of secret `api-key` can be used");

    let mut odd_time = seed("healthy");
    let secrets = odd_time["projects"][HEALTHY_PROJECT]["secrets"].as_array_mut().unwrap();
    entry_of(secrets, "api-key")["secret"]["expireTime"] = json!("garbage");
    let run = check(&Fake::seeded(odd_time, |_| {}), "healthy", &[]);
    assert_eq!(run.code, INCOMPLETE, "{run}");
    let found = run.findings();
    assert!(found.iter().all(|f| f.code == "verification-incomplete"), "{run}");
    assert_message(&of(&found, "verification-incomplete")[0], "listing secrets of project");
}

/// Regression: a secret that the spec maps but secrets.yaml does not declare (a sidecar's) was
/// never verified, so `check` passed a service whose revision could not start. It is checked
/// like a declared one, as required, at its place in the spec; a mapping of the same secret and
/// version as a required entry is that entry's business, and nothing costs a request more.
#[test]
fn secrets_only_the_spec_maps_are_checked_as_required() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let source = fixture_dir("healthy");
    std::fs::copy(source.join("secrets.yaml"), dir.path().join("secrets.yaml")).expect("copied");
    std::fs::create_dir(dir.path().join("deploy")).expect("a folder");
    let spec = std::fs::read_to_string(source.join("deploy/web.yaml")).expect("the spec");
    let from = |name: &str, key: &str| {
        format!("          valueFrom: {{secretKeyRef: {{name: {name}, key: '{key}'}}}}\n")
    };
    let sidecar = format!(
        "      - name: collector\n        image: collector:1\n        env:\n        \
        - name: COLLECTOR_TOKEN\n{}        - name: COLLECTOR_KEY\n{}        \
        - name: COLLECTOR_DB\n{}",
        from("collector-token", "latest"),
        from("api-key", "2"),
        from("db-password", "2"),
    );
    let spec = spec.replace("web:3.0.1\n", "web:3.0.1\n        ports: [{containerPort: 8080}]\n");
    std::fs::write(dir.path().join("deploy/web.yaml"), format!("{spec}{sidecar}"))
        .expect("written");

    let fake = fake_for("healthy");
    let run = check_manifest(&fake, &dir.path().join("secrets.yaml"), &[]);
    assert_eq!(run.code, FINDINGS, "{run}");
    let found: Vec<Finding> =
        run.findings().into_iter().filter(|f| f.code != "undeclared-secret").collect();
    let at = |f: &Finding| {
        let (file, line, _) = f.location.clone().expect("a location");
        (f.code.clone(), f.severity.clone(), file, line)
    };
    let expected = [
        ("secret-not-found", "error", "deploy/web.yaml", 19),
        ("version-disabled", "error", "deploy/web.yaml", 21),
    ];
    let expected: Vec<_> = expected
        .iter()
        .map(|(c, s, f, l)| (c.to_string(), s.to_string(), f.to_string(), *l))
        .collect();
    assert_eq!(found.iter().map(at).collect::<Vec<_>>(), expected, "{run}");
    assert_message(&found[0], "secret `collector-token` does not exist in project `hc-staging`");
    assert_message(&found[0], "; the spec maps it and secrets.yaml does not declare it");
    assert_message(&found[1], "version 2 of secret `api-key` is DISABLED");

    // The same requests as without the sidecar: its secrets are declared ones, or do not exist.
    let healthy = fake_for("healthy");
    let baseline = check(&healthy, "healthy", &[]);
    assert_eq!(run.requests(), baseline.requests(), "{run}");
    assert_requests_match(&run, &fake);
}

#[test]
fn accessor_missing_only_where_the_policy_lacks_the_runtime_account() {
    let (fake, _run, found) = full_check(&[]);
    let found = of(&found, "accessor-missing");
    // database-password grants secretAccessor, maps-api-key grants admin; queue-token's policy
    // lacks the grant but its service has no known account, so its policy is not even read.
    assert_eq!(places(&found), [("accessor-missing", "warning", 47, 17)]);
    assert_message(&found[0], "secret `partner-api-key`");
    assert_message(&found[0], "api-runtime@sg-staging.iam.gserviceaccount.com");
    let read: BTreeSet<String> = fake.routed(Route::GetIamPolicy).iter().map(secret_of).collect();
    assert_eq!(read, FULL_WITH_ACCOUNT.iter().map(|s| s.to_string()).collect());
}

#[test]
fn no_iam_skips_every_policy_request_and_accessor_missing() {
    let (fake, run, found) = full_check(&["--no-iam"]);
    assert!(fake.routed(Route::GetIamPolicy).is_empty(), "{:#?}", fake.requests());
    assert!(of(&found, "accessor-missing").is_empty(), "{found:#?}");
    let without: Vec<_> =
        FULL_FINDINGS.iter().copied().filter(|f| f.0 != "accessor-missing").collect();
    assert_eq!(places(&found), without);
    assert_eq!(run.requests(), 1 + FULL_DECLARED.len());
    assert_requests_match(&run, &fake);
}

/// A policy that cannot be read leaves the IAM check undone: that fails closed like any other
/// read, and `--no-iam` is the way to skip it.
#[test]
fn verification_incomplete_for_denied_versions_and_a_denied_policy() {
    let fake = fake_for("healthy");
    let versions = format!("/v1/projects/{HEALTHY_NUMBER}/secrets/db-password/versions");
    fake.inject(Target::Prefix(versions.clone()), vec![Fault::Status(403)]);
    let policy = format!("/v1/projects/{HEALTHY_NUMBER}/secrets/api-key:getIamPolicy");
    fake.inject(Target::Prefix(policy), vec![Fault::Status(403)]);
    let run = check(&fake, "healthy", &[]);
    // Only unverified reads are errors, so the exit code says "incomplete".
    assert_eq!(run.code, INCOMPLETE, "{}", run.stdout);
    let found = run.findings();
    assert_eq!(
        places(&found),
        [
            ("verification-incomplete", "error", 16, 17),
            ("verification-incomplete", "error", 19, 18)
        ]
    );
    assert_message(&found[0], "not verified: whether web-runtime@hc-staging");
    assert_message(&found[0], "may read secret `api-key`");
    assert_message(&found[0], "PERMISSION_DENIED");
    assert!(found[0].help.contains("--no-iam"), "{:?}", found[0]);
    assert_message(&found[1], "not verified: the versions of secret `db-password`");
    assert_message(&found[1], "PERMISSION_DENIED");
    // A denial is final: each denied request was made once.
    let denied: Vec<_> = fake.requests().into_iter().filter(|r| r.status == Some(403)).collect();
    assert_eq!(denied.len(), 2, "{denied:#?}");
    assert_requests_match(&run, &fake);

    fake.inject(Target::Prefix(versions), vec![Fault::Status(403)]);
    let found = check(&fake, "healthy", &["--no-iam"]).findings();
    assert_eq!(places(&found), [("verification-incomplete", "error", 19, 18)]);
}

// ---------------------------------------------------------------------------------------------
// Request economy

#[test]
fn one_list_per_project_one_versions_list_per_declared_secret_one_policy_per_secret_with_account() {
    let (fake, run, _found) = full_check(&[]);
    assert_eq!(fake.routed(Route::ListSecrets).len(), 1);
    let listed = fake.routed(Route::ListVersions);
    let listed_ids: Vec<String> = listed.iter().map(secret_of).collect();
    let distinct: BTreeSet<&String> = listed_ids.iter().collect();
    assert_eq!(listed_ids.len(), distinct.len(), "a secret's versions were listed twice");
    // database-password is declared by both services and listed once; unused-secret, declared
    // by none, never; secrets that do not exist are not asked about.
    let expected: BTreeSet<String> = FULL_DECLARED.iter().map(|s| s.to_string()).collect();
    assert_eq!(distinct.into_iter().cloned().collect::<BTreeSet<_>>(), expected);
    let policies: Vec<String> = fake.routed(Route::GetIamPolicy).iter().map(secret_of).collect();
    assert_eq!(policies.len(), FULL_WITH_ACCOUNT.len(), "{policies:?}");
    let others = fake.api_requests().len() - 1 - listed.len() - policies.len();
    assert_eq!(others, 0, "unexpected requests: {:#?}", fake.requests());
    assert_eq!(run.requests(), 1 + FULL_DECLARED.len() + FULL_WITH_ACCOUNT.len());
    assert_requests_match(&run, &fake);
}

#[test]
fn lists_are_followed_past_the_first_page() {
    const CAP: usize = 2;
    let seed = seed("full");
    let entries = seeded_entries(&seed, FULL_PROJECT);
    let fake = Fake::seeded(seed, |c| c.page_size_cap = CAP);
    let run = check(&fake, "full", &[]);
    assert_eq!(run.code, FINDINGS);
    // Nothing is lost to paging: the same findings as in one page.
    assert_eq!(places(&run.findings()), FULL_FINDINGS);

    let pages = |n: usize| n.div_ceil(CAP).max(1);
    assert_eq!(fake.routed(Route::ListSecrets).len(), pages(entries.len()));
    let mut per_secret: BTreeMap<String, usize> = BTreeMap::new();
    for r in fake.routed(Route::ListVersions) {
        *per_secret.entry(secret_of(&r)).or_default() += 1;
    }
    let expected: BTreeMap<String, usize> = entries
        .iter()
        .filter_map(|e| {
            let id = e["secret"]["name"].as_str()?.rsplit('/').next()?.to_string();
            let n = e["versions"].as_array().map_or(0, Vec::len);
            FULL_DECLARED.contains(&id.as_str()).then(|| (id, pages(n)))
        })
        .collect();
    assert!(expected.values().any(|&p| p > 1), "the fixture must make some secret page");
    assert_eq!(per_secret, expected);
    // Continuation requests carry the token of the page before.
    let lists = fake.routed(Route::ListSecrets);
    let first_pages = lists.iter().filter(|r| r.path.contains("pageToken=&")).count();
    assert_eq!(first_pages, 1, "only the first page is asked for without a token");
    assert_requests_match(&run, &fake);
}

/// A manifest with `n` secrets for one service without a runtime account (no IAM requests), in
/// project `rl-proj`, and the seed that has them all.
fn many_secrets(dir: &Path, n: usize) -> (PathBuf, Value) {
    let mut yaml = String::from(
        "version: 1\nenvironments:\n  staging:\n    project: rl-proj\n    region: us-central1\n\
         services:\n  batch:\n    spec: batch.yaml\n    secrets:\n",
    );
    let spec = "apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata:\n  name: batch\n\
                spec:\n  template:\n    spec:\n      containers:\n      - image: gcr.io/rl/batch\n";
    std::fs::write(dir.join("batch.yaml"), spec).expect("the spec is written");
    let mut entries = Vec::new();
    for i in 0..n {
        yaml.push_str(&format!("      VAR_{i}:\n        secret: s-{i}\n"));
        let name = format!("projects/rl-proj/secrets/s-{i}");
        let version = json!({"name": format!("{name}/versions/1"), "state": "ENABLED",
                             "createTime": "2026-01-01T00:00:00Z"});
        entries.push(json!({"secret": {"name": name}, "versions": [version]}));
    }
    let path = dir.join("secrets.yaml");
    std::fs::write(&path, yaml).expect("the manifest is written");
    let seed = json!({"snapshotVersion": 1, "capturedAt": "2026-01-01T00:00:00Z",
                      "projects": {"rl-proj": {"secrets": entries}}});
    (path, seed)
}

#[test]
fn max_rps_holds_every_one_second_window_of_arrivals() {
    const RPS: usize = 5;
    const SECRETS: usize = 14;
    let dir = tempfile::tempdir().expect("a temp dir");
    let (manifest, seed) = many_secrets(dir.path(), SECRETS);
    let fake = Fake::seeded(seed, |_| {});
    let mut cmd = secretgate(Some(&fake), &manifest);
    cmd.args(["check", "--env", "staging", "--format", "json", "--max-rps", "5"]);
    cmd.args(["--concurrency", "16"]);
    let run = common::run(&mut cmd);
    assert_eq!(run.code, OK, "{}\n{}", run.stdout, run.stderr);
    let arrivals: Vec<Duration> = fake.api_requests().iter().map(|r| r.at).collect();
    assert_eq!(arrivals.len(), 1 + SECRETS);
    // Every window [t, t + 1 s) that starts at an arrival; one extra for window alignment.
    let busiest = arrivals
        .iter()
        .map(|&start| {
            arrivals.iter().filter(|&&t| t >= start && t - start < Duration::from_secs(1)).count()
        })
        .max()
        .unwrap_or_default();
    assert!(
        busiest <= RPS + 1,
        "{busiest} requests within one second at --max-rps {RPS}: {arrivals:?}"
    );
    assert_requests_match(&run, &fake);
}

#[test]
fn concurrency_bounds_the_requests_in_flight() {
    const IN_FLIGHT: usize = 3;
    const LATENCY: Duration = Duration::from_millis(100);
    let fake = Fake::seeded(seed("full"), |c| c.latency = LATENCY);
    let run = check(&fake, "full", &["--concurrency", "3"]);
    assert_eq!(run.code, FINDINGS, "{}", run.stderr);
    assert_eq!(places(&run.findings()), FULL_FINDINGS);
    // The fake answers no sooner than LATENCY after a request arrives, and a client sends its
    // next request only once an answer frees a place: so no window of LATENCY that starts at an
    // arrival can hold more arrivals than places.
    let arrivals: Vec<Duration> = fake.api_requests().iter().map(|r| r.at).collect();
    let busiest = arrivals
        .iter()
        .map(|&start| arrivals.iter().filter(|&&t| t >= start && t - start < LATENCY).count())
        .max()
        .unwrap_or_default();
    assert!(busiest <= IN_FLIGHT, "{busiest} requests in flight at --concurrency 3: {arrivals:?}");
    assert_requests_match(&run, &fake);
}

// ---------------------------------------------------------------------------------------------
// Retries, deadlines and bad answers

#[test]
fn two_503_then_success_is_a_clean_pass() {
    let fake = fake_for("healthy");
    fake.inject(Route::ListSecrets, vec![Fault::Status(503), Fault::Status(503)]);
    let run = check(&fake, "healthy", &[]);
    assert_eq!(run.code, OK, "{}\n{}", run.stdout, run.stderr);
    assert!(run.findings().is_empty());
    let statuses: Vec<Option<u16>> =
        fake.routed(Route::ListSecrets).iter().map(|r| r.status).collect();
    assert_eq!(statuses, [Some(503), Some(503), Some(200)]);
    // Retries are requests too.
    assert_eq!(run.requests(), 3 + 3 + 3);
    assert_requests_match(&run, &fake);
}

#[test]
fn a_429_then_success_is_retried() {
    let fake = fake_for("healthy");
    fake.inject(Route::ListSecrets, vec![Fault::Status(429)]);
    let versions = format!("/v1/projects/{HEALTHY_NUMBER}/secrets/api-key/versions");
    fake.inject(Target::Prefix(versions), vec![Fault::Status(429)]);
    let run = check(&fake, "healthy", &[]);
    assert_eq!(run.code, OK, "{}\n{}", run.stdout, run.stderr);
    assert!(run.findings().is_empty());
    let statuses = |route| fake.routed(route).iter().map(|r| r.status).collect::<Vec<_>>();
    assert_eq!(statuses(Route::ListSecrets), [Some(429), Some(200)]);
    let rejected = statuses(Route::ListVersions).iter().filter(|s| **s == Some(429)).count();
    assert_eq!(rejected, 1);
    assert_eq!(run.requests(), 1 + 3 + 3 + 2, "each 429 is retried once");
    assert_requests_match(&run, &fake);
}

#[test]
fn endless_503_gives_up_at_the_timeout_naming_the_endpoint() {
    let fake = fake_for("healthy");
    fake.inject_always(Route::ListSecrets, Fault::Status(503));
    let started = Instant::now();
    let run = check(&fake, "healthy", &["--timeout", "3"]);
    assert!(started.elapsed() < HANG_GUARD, "took {:?}", started.elapsed());
    assert_eq!(run.code, INCOMPLETE, "{}", run.stdout);
    let found = run.findings();
    assert_eq!(
        places(&found),
        [
            ("verification-incomplete", "error", 16, 17),
            ("verification-incomplete", "error", 18, 17),
            ("verification-incomplete", "error", 21, 17),
        ]
    );
    for f in &found {
        assert_message(f, "listing secrets of project hc-staging");
        assert_message(f, "UNAVAILABLE");
        assert_message(f, &fake.url());
    }
    assert!(fake.routed(Route::ListSecrets).len() >= 2, "a 503 is retried");
    assert!(fake.routed(Route::ListVersions).is_empty());
    assert_requests_match(&run, &fake);
}

#[test]
fn a_hung_list_is_abandoned_at_the_timeout() {
    let fake = fake_for("healthy");
    fake.inject(Route::ListSecrets, vec![Fault::Hang]);
    let started = Instant::now();
    let run = check(&fake, "healthy", &["--timeout", "3"]);
    assert!(started.elapsed() < HANG_GUARD, "took {:?}", started.elapsed());
    assert_eq!(run.code, INCOMPLETE, "{}", run.stdout);
    let found = run.findings();
    assert_eq!(found.len(), 3, "{found:#?}");
    for f in &found {
        assert_eq!(f.code, "verification-incomplete");
        assert_message(f, "listing secrets of project hc-staging");
    }
    assert_eq!(fake.routed(Route::ListSecrets)[0].status, None, "the first list never answered");
}

#[test]
fn an_unreachable_endpoint_is_incomplete_and_named() {
    let mut cmd = secretgate(None, &manifest("healthy"));
    cmd.env("SECRETMANAGER_EMULATOR_HOST", "127.0.0.1:1");
    cmd.args(["check", "--env", "staging", "--format", "json", "--timeout", "3"]);
    let started = Instant::now();
    let run = common::run(&mut cmd);
    assert!(started.elapsed() < HANG_GUARD, "took {:?}", started.elapsed());
    assert_eq!(run.code, INCOMPLETE, "{}\n{}", run.stdout, run.stderr);
    let found = run.findings();
    assert_eq!(found.len(), 3, "{found:#?}");
    for f in &found {
        assert_eq!(f.code, "verification-incomplete");
        assert_message(f, "listing secrets of project hc-staging");
        assert_message(f, "http://127.0.0.1:1");
    }
}

#[test]
fn permission_denied_names_what_was_not_verified() {
    let fake = fake_for("healthy");
    fake.inject(Route::ListSecrets, vec![Fault::Status(403)]);
    let run = check(&fake, "healthy", &[]);
    assert_eq!(run.code, INCOMPLETE, "{}", run.stdout);
    let found = run.findings();
    let secrets: Vec<&str> = vec!["api-key", "db-password", "session-secret"];
    assert_eq!(found.len(), secrets.len(), "{found:#?}");
    for (f, secret) in found.iter().zip(secrets) {
        assert_eq!(f.place().0, "verification-incomplete");
        let what =
            format!("not verified: whether secret `{secret}` exists and its version can be used");
        assert_message(f, &what);
        assert_message(f, "listing secrets of project hc-staging: PERMISSION_DENIED");
        assert!(f.help.contains("roles/secretmanager.viewer"), "{f:?}");
    }
    assert_eq!(fake.api_requests().len(), 1, "a denial is not retried");
    assert_requests_match(&run, &fake);
}

#[test]
fn a_malformed_answer_is_incomplete_not_empty() {
    let fake = fake_for("healthy");
    fake.inject(Route::ListSecrets, vec![Fault::Malformed]);
    let run = check(&fake, "healthy", &[]);
    // Read as "no secrets", it would be three secret-not-found errors and exit 1.
    assert_eq!(run.code, INCOMPLETE, "{}", run.stdout);
    let found = run.findings();
    assert_eq!(found.len(), 3, "{found:#?}");
    assert!(found.iter().all(|f| f.code == "verification-incomplete"), "{found:#?}");
    assert_message(&found[0], "listing secrets of project hc-staging");
    assert_requests_match(&run, &fake);
}

// ---------------------------------------------------------------------------------------------
// Never a payload

/// No file of `src/` names a way to read a secret payload: the client's method, the REST verb
/// or the RPC. A file that cannot be read fails the test rather than pass the scan unread.
#[test]
fn the_source_never_names_the_payload_call() {
    const SPELLINGS: &[&str] = &["access_secret_version", ":access", "AccessSecretVersion"];
    fn unreadable(path: &Path, e: std::io::Error) -> ! {
        panic!("{} cannot be scanned: {e}", path.display())
    }
    fn walk(dir: &Path, scanned: &mut usize, found: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap_or_else(|e| unreadable(dir, e)) {
            let path = entry.unwrap_or_else(|e| unreadable(dir, e)).path();
            if path.is_dir() {
                walk(&path, scanned, found);
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap_or_else(|e| unreadable(&path, e));
            *scanned += 1;
            for spelling in SPELLINGS.iter().filter(|s| text.contains(*s)) {
                found.push(format!("`{spelling}` in {}", path.display()));
            }
        }
    }
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src");
    let (mut scanned, mut found) = (0, Vec::new());
    walk(&src, &mut scanned, &mut found);
    assert!(scanned > 20, "only {scanned} files scanned in {}", src.display());
    assert!(found.is_empty(), "the payload call is named: {found:#?}");
}

// ---------------------------------------------------------------------------------------------
// Credentials

#[test]
fn adc_authorized_user_file_is_used_with_the_emulator() {
    let fake = Fake::seeded(seed("healthy"), |c| c.require_token = true);
    let dir = tempfile::tempdir().expect("a temp dir");
    let credentials = dir.path().join("adc.json");
    let adc = json!({
        "type": "authorized_user",
        "client_id": "secretgate-test.apps.googleusercontent.com",
        "client_secret": "not-a-real-secret",
        "refresh_token": "not-a-real-refresh-token",
        "token_uri": format!("{}/token", fake.url()),
    });
    std::fs::write(&credentials, adc.to_string()).expect("the credentials file is written");
    let mut cmd = secretgate(Some(&fake), &manifest("healthy"));
    cmd.env("GOOGLE_APPLICATION_CREDENTIALS", &credentials);
    cmd.args(["check", "--env", "staging", "--format", "json", "--max-rps", "1000"]);
    let run = common::run(&mut cmd);
    assert_eq!(run.code, OK, "{}\n{}", run.stdout, run.stderr);
    assert!(run.findings().is_empty());

    let token_requests = fake.routed(Route::Token);
    assert!(!token_requests.is_empty(), "no token was asked for: {:#?}", fake.requests());
    let body = token_requests[0].body.as_deref().unwrap_or_default();
    assert!(body.contains("not-a-real-refresh-token"), "the refresh token is exchanged: {body}");
    let issued = fake.tokens();
    let calls = fake.api_requests();
    assert_eq!(calls.len(), 7, "{calls:#?}");
    for call in &calls {
        let header = call.authorization.as_deref().unwrap_or_default();
        let token = header.strip_prefix("Bearer ").unwrap_or_default();
        assert!(token.starts_with("fake-token-"), "{call:?}");
        assert!(issued.iter().any(|t| t == token), "{call:?} carries a token never issued");
        assert_eq!(call.status, Some(200), "{call:?}");
    }
    assert_requests_match(&run, &fake);
}

/// A credentials file whose token exchange is refused: nothing is verified (exit 3), and the
/// message says where the token should come from, not only what the auth library saw.
#[test]
fn a_refused_token_is_incomplete_and_names_the_credentials() {
    let fake = Fake::seeded(seed("healthy"), |c| c.require_token = true);
    fake.inject_always(Route::Token, Fault::Status(400));
    let dir = tempfile::tempdir().expect("a temp dir");
    let credentials = dir.path().join("adc.json");
    let adc = json!({
        "type": "authorized_user",
        "client_id": "secretgate-test.apps.googleusercontent.com",
        "client_secret": "not-a-real-secret",
        "refresh_token": "revoked-refresh-token",
        "token_uri": format!("{}/token", fake.url()),
    });
    std::fs::write(&credentials, adc.to_string()).expect("the credentials file is written");
    let mut cmd = secretgate(Some(&fake), &manifest("healthy"));
    cmd.env("GOOGLE_APPLICATION_CREDENTIALS", &credentials);
    cmd.args(["check", "--env", "staging", "--timeout", "10"]);
    let run = common::run(&mut cmd);
    assert_eq!(run.code, INCOMPLETE, "{}\n{}", run.stdout, run.stderr);
    let text = format!("{}{}", run.stdout, run.stderr);
    assert!(text.contains("no access token from Application Default Credentials"), "{text}");
    assert!(text.contains("gcloud auth application-default login"), "{text}");
    assert!(!text.contains("revoked-refresh-token"), "the refresh token is never shown");
    assert!(fake.api_requests().is_empty(), "no API call without a token");
}

#[test]
fn without_a_credentials_file_the_emulator_is_called_anonymously() {
    let fake = fake_for("healthy");
    let run = check(&fake, "healthy", &[]);
    assert_eq!(run.code, OK, "{}", run.stderr);
    assert!(fake.routed(Route::Token).is_empty());
    assert!(
        fake.api_requests().iter().all(|r| r.authorization.is_none()),
        "{:#?}",
        fake.requests()
    );
}

// ---------------------------------------------------------------------------------------------
// --live: the services as deployed

/// The `healthy` fixture's `web` service as deployed, mapping the given secrets.
fn live_web(api_key: bool, db_password: bool, session: bool) -> Value {
    let secret_env = |name: &str, secret: &str, key: &str| {
        let reference = json!({"name": secret, "key": key});
        json!({"name": name, "valueFrom": {"secretKeyRef": reference}})
    };
    let mut env = vec![json!({"name": "LOG_LEVEL", "value": "info"})];
    if api_key {
        env.push(secret_env("API_KEY", "api-key", "latest"));
    }
    if db_password {
        env.push(secret_env("DB_PASSWORD", "db-password", "2"));
    }
    let mut container = json!({
        "name": "web",
        "image": "us-central1-docker.pkg.dev/hc-staging/apps/web:3.0.1",
        "env": env,
    });
    let mut spec = json!({
        "serviceAccountName": "web-runtime@hc-staging.iam.gserviceaccount.com",
        "containers": [],
    });
    if session {
        container["volumeMounts"] =
            json!([{"name": "session", "mountPath": "/secrets/session", "readOnly": true}]);
        spec["volumes"] = json!([{"name": "session", "secret": {"secretName": "session-secret",
            "items": [{"key": "latest", "path": "secret"}]}}]);
    }
    spec["containers"] = json!([container]);
    json!({
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Service",
        "metadata": {"name": "web", "labels": {"cloud.googleapis.com/location": "us-central1"}},
        "spec": {"template": {"spec": spec}},
    })
}

#[test]
fn live_unmapped_secret_when_the_deployed_service_dropped_a_mapping() {
    let fake = fake_for("healthy");
    fake.set_service(HEALTHY_PROJECT, live_web(true, true, true)).expect("the service is set");
    let run = check(&fake, "healthy", &["--live"]);
    assert_eq!((run.code, run.findings()), (OK, vec![]), "{}", run.stderr);

    fake.set_service(HEALTHY_PROJECT, live_web(true, false, true)).expect("the service is set");
    let run = check(&fake, "healthy", &["--live"]);
    assert_eq!(run.code, FINDINGS, "{}", run.stdout);
    let found = run.findings();
    assert_eq!(places(&found), [("unmapped-secret", "error", 17, 7)]);
    assert_message(&found[0], "the live service `web` does not map `DB_PASSWORD`");

    let file_dropped = live_web(true, true, false);
    fake.set_service(HEALTHY_PROJECT, file_dropped).expect("the service is set");
    let found = check(&fake, "healthy", &["--live"]).findings();
    assert_eq!(places(&found), [("unmapped-secret", "error", 20, 7)]);
    assert_message(&found[0], "does not map `/secrets/session/secret`");
    let reads = fake.routed(Route::GetService);
    assert_eq!(reads.len(), 3, "one read of the service per run");
    assert!(reads.iter().all(|r| r.path.contains("/namespaces/hc-staging/services/web")));
}

#[test]
fn live_service_not_found_is_a_warning() {
    let fake = fake_for("healthy");
    let run = check(&fake, "healthy", &["--live"]);
    assert_eq!(run.code, OK, "{}", run.stdout);
    let found = run.findings();
    assert_eq!(places(&found), [("service-not-found", "warning", 12, 3)]);
    assert_message(&found[0], "service `web` does not exist in project `hc-staging`");
    let run = check(&fake, "healthy", &["--live", "--deny-warnings"]);
    assert_eq!(run.code, FINDINGS);
}

/// `--timeout` bounds the whole run: Secret Manager and the two live services share it, and the
/// services are read at once. A bound with slack, not a speed test: with one timeout per
/// service after Secret Manager's, read one after another, the run took 2 + 4 + 4 s.
#[test]
fn live_reads_share_the_timeout_and_run_at_once() {
    let fake = fake_for("full");
    fake.inject(Route::ListSecrets, vec![Fault::Delay(Duration::from_secs(2))]);
    fake.inject_always(Route::GetService, Fault::Hang);
    let started = Instant::now();
    let run = check(&fake, "full", &["--live", "--timeout", "4"]);
    let elapsed = started.elapsed();
    assert_eq!(run.code, FINDINGS, "{}", run.stderr);
    let unread = of(&run.findings(), "verification-incomplete");
    assert_eq!(unread.len(), 2, "{unread:#?}");
    for f in &unread {
        assert_message(f, "as deployed in `staging`");
        assert_message(f, &fake.url());
    }
    let reads: Vec<Duration> = fake.routed(Route::GetService).iter().map(|r| r.at).collect();
    assert_eq!(reads.len(), 2, "one read per service");
    let spread = reads.iter().max().copied().unwrap_or_default()
        - reads.iter().min().copied().unwrap_or_default();
    assert!(spread < Duration::from_secs(1), "the services were read one by one: {reads:?}");
    assert!(elapsed < Duration::from_secs(7), "--timeout 4 took {elapsed:?}");
}

/// A service deployed with `--pin-versions` maps the number `latest` resolves to. That agrees
/// with `latest` until a newer version exists.
#[test]
fn live_check_is_clean_after_a_deploy_with_pinned_versions() {
    let fake = fake_for("healthy");
    let mut deploy = secretgate(Some(&fake), &manifest("healthy"));
    deploy.args(["deploy", "--env", "staging", "--yes", "--pin-versions"]);
    deploy.args(["--poll-interval", "0.05", "--max-rps", "1000"]);
    let run = common::run(&mut deploy);
    assert_eq!(run.code, OK, "{}\n{}", run.stdout, run.stderr);
    let deployed = fake.service(HEALTHY_PROJECT, "web").expect("the service is deployed");
    let env = &deployed["spec"]["template"]["spec"]["containers"][0]["env"];
    let api_key = env.as_array().into_iter().flatten().find(|e| e["name"] == "API_KEY");
    assert_eq!(api_key.map(|e| &e["valueFrom"]["secretKeyRef"]["key"]), Some(&json!("3")));

    let run = check(&fake, "healthy", &["--live"]);
    assert_eq!((run.code, run.findings()), (OK, vec![]), "{}", run.stderr);

    let mut newer = seeded_entries(&seed("healthy"), HEALTHY_PROJECT)[0].clone();
    let version = json!({"name": format!("projects/{HEALTHY_NUMBER}/secrets/api-key/versions/4"),
                         "state": "ENABLED", "createTime": Timestamp::now().to_string()});
    newer["versions"].as_array_mut().expect("versions").insert(0, version);
    fake.set_secret(HEALTHY_PROJECT, newer).expect("the secret is set");
    let run = check(&fake, "healthy", &["--live"]);
    assert_eq!(run.code, FINDINGS, "{}", run.stdout);
    let found = run.findings();
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!((found[0].code.as_str(), found[0].severity.as_str()), ("mapping-conflict", "error"));
    let file = found[0].location.as_ref().map(|l| l.0.as_str());
    assert_eq!(file, Some("cloud-run:hc-staging/us-central1/web"));
    assert_message(&found[0], "maps `API_KEY` at version `3`, secrets.yaml at `latest`");
    assert_message(&found[0], "`latest` is version 4 now");
}

// ---------------------------------------------------------------------------------------------
// The runtime account

/// The account whose access is checked is the one the service runs as: the spec's, which
/// `render` keeps, even when secrets.yaml names none.
#[test]
fn accessor_missing_checks_the_account_the_spec_names() {
    let account_line = "    service_account: web-runtime@hc-staging.iam.gserviceaccount.com\n";
    let dir = fixture_copy("healthy", |text| text.replace(account_line, ""));
    let fake = fake_for("healthy");
    let mut api_key = seeded_entries(&seed("healthy"), HEALTHY_PROJECT)[0].clone();
    let members = json!(["serviceAccount:deployer@hc-staging.iam.gserviceaccount.com"]);
    api_key["iamPolicy"]["bindings"][0]["members"] = members;
    fake.set_secret(HEALTHY_PROJECT, api_key).expect("the secret is set");
    let run = check_manifest(&fake, &dir.path().join("secrets.yaml"), &[]);
    assert_eq!(run.code, OK, "{}\n{}", run.stdout, run.stderr);
    let found = run.findings();
    assert_eq!(places(&found), [("accessor-missing", "warning", 15, 17)]);
    assert_message(&found[0], "secret `api-key`");
    assert_message(&found[0], "web-runtime@hc-staging.iam.gserviceaccount.com");
    assert_eq!(fake.routed(Route::GetIamPolicy).len(), 3, "one policy per declared secret");
    assert_requests_match(&run, &fake);
}

/// A spec that runs the service as another account than secrets.yaml names: a warning against
/// the environment's default, an error against the service's own `service_account`.
#[test]
fn a_spec_account_other_than_the_manifest_is_a_mapping_conflict() {
    let other = "other@hc-staging.iam.gserviceaccount.com";
    let fake = fake_for("healthy");
    let spec_account = |run: &Run, severity: &str| {
        let found = run.findings();
        assert_eq!(found.len(), 1, "{found:#?}");
        let f = &found[0];
        assert_eq!((f.code.as_str(), f.severity.as_str()), ("mapping-conflict", severity));
        assert_eq!(f.location, Some(("deploy/web.yaml".to_string(), 10, 27)));
        assert_message(f, "runs `web` as `web-runtime@hc-staging.iam.gserviceaccount.com`");
        assert_message(f, &format!("secrets.yaml names `{other}`"));
    };

    // The policies grant web-runtime, the spec's account: no accessor-missing for `other`.
    let by_env = fixture_copy("healthy", |t| t.replace("account: web-runtime@", "account: other@"));
    let run = check_manifest(&fake, &by_env.path().join("secrets.yaml"), &[]);
    assert_eq!(run.code, OK, "{}", run.stdout);
    spec_account(&run, "warning");

    let own = format!("    spec: deploy/web.yaml\n    service_account: {other}\n");
    let by_service = fixture_copy("healthy", |t| t.replace("    spec: deploy/web.yaml\n", &own));
    let run = check_manifest(&fake, &by_service.path().join("secrets.yaml"), &[]);
    assert_eq!(run.code, FINDINGS, "{}", run.stdout);
    spec_account(&run, "error");
}

// ---------------------------------------------------------------------------------------------
// Snapshots

/// The version number and state name of a version object (states may be numbers).
fn version_key(version: &Value) -> (u64, String) {
    let name = version["name"].as_str().unwrap_or_default();
    let number = name.rsplit('/').next().and_then(|n| n.parse().ok()).expect("a version number");
    let state = match &version["state"] {
        Value::Number(n) => ["STATE_UNSPECIFIED", "ENABLED", "DISABLED", "DESTROYED"]
            [usize::try_from(n.as_u64().unwrap_or(0)).unwrap_or(0).min(3)]
        .to_string(),
        other => other.as_str().unwrap_or_default().to_string(),
    };
    (number, state)
}

fn secret_id(entry: &Value) -> String {
    let name = entry["secret"]["name"].as_str().unwrap_or_default();
    name.rsplit('/').next().unwrap_or_default().to_string()
}

#[test]
fn snapshot_captures_the_seed_and_checks_like_the_live_api() {
    let seed = seed("full");
    let fake = Fake::seeded(seed.clone(), |_| {});
    let dir = tempfile::tempdir().expect("a temp dir");
    let file = dir.path().join("staging.json");
    let mut cmd = secretgate(Some(&fake), &manifest("full"));
    cmd.args(["snapshot", "--env", "staging", "--max-rps", "1000", "-o"]).arg(&file);
    let run = common::run(&mut cmd);
    assert_eq!(run.code, OK, "{}", run.stderr);

    let text = std::fs::read_to_string(&file).expect("the snapshot is written");
    let snapshot: Value = serde_json::from_str(&text).expect("the snapshot is JSON");
    assert_eq!(snapshot["snapshotVersion"], 1);
    let captured = snapshot["capturedAt"].as_str().expect("capturedAt");
    assert!(captured.parse::<Timestamp>().is_ok(), "capturedAt {captured:?}");
    let taken = seeded_entries(&snapshot, FULL_PROJECT);
    let seeded = seeded_entries(&seed, FULL_PROJECT);
    // Every secret, in the API's listing order.
    let ids = |list: &[Value]| list.iter().map(secret_id).collect::<Vec<_>>();
    assert_eq!(ids(&taken), ids(&seeded));
    for (got, want) in taken.iter().zip(&seeded) {
        let id = secret_id(want);
        assert_eq!(got["secret"], want["secret"], "secret {id}");
        let declared = FULL_DECLARED.contains(&id.as_str());
        let versions = |e: &Value| {
            e["versions"].as_array().into_iter().flatten().map(version_key).collect::<Vec<_>>()
        };
        if declared {
            assert_eq!(versions(got), versions(want), "versions of {id}");
        } else {
            assert_eq!(got.get("versions"), None, "the versions of {id} were not read");
        }
        for version in got["versions"].as_array().into_iter().flatten() {
            let state = version["state"].as_str();
            assert!(
                matches!(state, Some("ENABLED" | "DISABLED" | "DESTROYED")),
                "states are written by name, as gcloud prints them: {version}"
            );
        }
        if FULL_WITH_ACCOUNT.contains(&id.as_str()) {
            assert_eq!(got["iamPolicy"]["bindings"], want["iamPolicy"]["bindings"], "{id}");
        } else {
            assert_eq!(got.get("iamPolicy"), None, "the policy of {id} was not asked for");
        }
    }
    let snapshot_requests = fake.api_requests().len();

    let live = check(&fake, "full", &[]);
    let mut offline = secretgate(Some(&fake), &manifest("full"));
    offline.args(["check", "--env", "staging", "--format", "json", "--snapshot"]).arg(&file);
    let offline = common::run(&mut offline);
    assert_eq!(offline.code, live.code);
    assert_eq!(offline.findings(), live.findings());
    assert_eq!(offline.requests(), 0);
    assert_eq!(
        fake.api_requests().len(),
        snapshot_requests + live.requests(),
        "check --snapshot made requests"
    );
}

/// A manifest in `dir` with one service of the example's staging project that declares
/// `legacy-api-token`, which the shipped manifest does not.
fn legacy_token_manifest(dir: &Path) -> PathBuf {
    let yaml = "version: 1\nenvironments:\n  staging:\n    project: netra-staging\n    \
                region: us-central1\n    service_account: \
                netra-runtime@netra-staging.iam.gserviceaccount.com\nservices:\n  tools:\n    \
                spec: tools.yaml\n    secrets:\n      JWT_SECRET_KEY:\n        secret: \
                jwt-secret-key\n      LEGACY_API_TOKEN:\n        secret: legacy-api-token\n";
    let spec = "apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata:\n  name: tools\n\
                spec:\n  template:\n    spec:\n      containers:\n      - image: gcr.io/t/t\n";
    std::fs::write(dir.join("tools.yaml"), spec).expect("the spec is written");
    let path = dir.join("secrets.yaml");
    std::fs::write(&path, yaml).expect("the manifest is written");
    path
}

/// Regression: a snapshot wrote `"versions": []` and `"iamPolicy": null` for secrets it did
/// not read, and `check` read them back as "no versions" (a false `latest-unusable`) and "no
/// policy to check" (a silent pass).
#[test]
fn snapshot_leaves_out_what_it_did_not_read_and_check_reports_it_unverified() {
    let fake = Fake::seeded(example_seed(), |_| {});
    let dir = tempfile::tempdir().expect("a temp dir");
    let file = dir.path().join("staging.json");
    let shipped = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("secrets.yaml");
    let mut cmd = secretgate(Some(&fake), &shipped);
    cmd.args(["snapshot", "--env", "staging", "--max-rps", "1000", "-o"]).arg(&file);
    let run = common::run(&mut cmd);
    assert_eq!(run.code, OK, "{}", run.stderr);
    let mut snapshot: Value =
        serde_json::from_str(&std::fs::read_to_string(&file).expect("written")).expect("JSON");
    let entries = seeded_entries(&snapshot, "netra-staging");
    let entry = |id: &str| entries.iter().find(|e| secret_id(e) == id).expect("captured");
    let legacy = entry("legacy-api-token");
    assert_eq!((legacy.get("versions"), legacy.get("iamPolicy")), (None, None), "{legacy}");
    let jwt = entry("jwt-secret-key");
    assert!(jwt["versions"].is_array() && jwt["iamPolicy"].is_object(), "{jwt}");

    let manifest = legacy_token_manifest(dir.path());
    let live = check_manifest(&fake, &manifest, &[]);
    assert_eq!(live.code, OK, "{}", live.stdout);
    let offline = check_snapshot(&fake, &manifest, &file, &[]);
    assert_eq!(offline.code, INCOMPLETE, "{}", offline.stdout);
    let found = offline.findings();
    assert_eq!(
        places(&found),
        [("verification-incomplete", "error", 13, 7), ("verification-incomplete", "error", 14, 17)]
    );
    assert_message(&found[0], "versions of secret `legacy-api-token`");
    assert_message(&found[0], "versions not in the snapshot; capture it again");
    assert_message(&found[1], "may read secret `legacy-api-token`");
    assert_message(&found[1], "IAM policy not in the snapshot");
    assert!(found[1].help.contains("--no-iam"), "{:?}", found[1]);

    // `[]` still says "no version at all".
    let index = entries.iter().position(|e| secret_id(e) == "legacy-api-token").expect("there");
    let written = &mut snapshot["projects"]["netra-staging"]["secrets"][index];
    written["versions"] = json!([]);
    written["iamPolicy"] = json!({"bindings": []});
    std::fs::write(&file, snapshot.to_string()).expect("the snapshot is written");
    let found = check_snapshot(&fake, &manifest, &file, &[]).findings();
    assert_eq!(
        places(&found),
        [("latest-unusable", "error", 13, 7), ("accessor-missing", "warning", 14, 17)]
    );
}

/// Without a captured policy, `--no-iam` is how the IAM check is skipped.
#[test]
fn a_policy_not_in_the_snapshot_is_unverified_unless_no_iam() {
    let fake = fake_for("healthy");
    let mut snapshot = seed("healthy");
    snapshot["capturedAt"] = json!(Timestamp::now().to_string());
    let entry = &mut snapshot["projects"][HEALTHY_PROJECT]["secrets"][0];
    entry.as_object_mut().expect("an entry").remove("iamPolicy");
    let dir = tempfile::tempdir().expect("a temp dir");
    let file = dir.path().join("staging.json");
    std::fs::write(&file, snapshot.to_string()).expect("the snapshot is written");
    let run = check_snapshot(&fake, &manifest("healthy"), &file, &[]);
    assert_eq!(run.code, INCOMPLETE, "{}", run.stdout);
    let found = run.findings();
    assert_eq!(places(&found), [("verification-incomplete", "error", 16, 17)]);
    assert_message(&found[0], "may read secret `api-key` (IAM policy not in the snapshot");
    let run = check_snapshot(&fake, &manifest("healthy"), &file, &["--no-iam"]);
    assert_eq!((run.code, run.findings()), (OK, vec![]), "{}", run.stdout);
    assert!(fake.requests().is_empty(), "an offline check made requests");
}

#[test]
fn a_project_missing_from_the_snapshot_is_incomplete() {
    let fake = fake_for("healthy");
    let mut snapshot = seed("healthy");
    snapshot["capturedAt"] = json!(Timestamp::now().to_string());
    let captured = snapshot["projects"][HEALTHY_PROJECT].take();
    snapshot["projects"] = json!({"another-project": captured});
    let dir = tempfile::tempdir().expect("a temp dir");
    let file = dir.path().join("other.json");
    std::fs::write(&file, snapshot.to_string()).expect("the snapshot is written");
    let run = check_snapshot(&fake, &manifest("healthy"), &file, &[]);
    assert_eq!(run.code, INCOMPLETE, "{}", run.stdout);
    let found = run.findings();
    assert_eq!(found.len(), 3, "{found:#?}");
    for f in &found {
        assert_eq!((f.code.as_str(), f.severity.as_str()), ("verification-incomplete", "error"));
        assert_message(f, "project `hc-staging` is not in the snapshot");
    }
    assert!(fake.requests().is_empty(), "an offline check made requests");
}

#[test]
fn snapshot_writes_nothing_when_something_could_not_be_read() {
    let fake = fake_for("healthy");
    let versions = format!("/v1/projects/{HEALTHY_NUMBER}/secrets/db-password/versions");
    fake.inject(Target::Prefix(versions), vec![Fault::Status(403)]);
    let dir = tempfile::tempdir().expect("a temp dir");
    let file = dir.path().join("staging.json");
    let mut cmd = secretgate(Some(&fake), &manifest("healthy"));
    cmd.args(["snapshot", "--env", "staging", "--max-rps", "1000", "-o"]).arg(&file);
    let run = common::run(&mut cmd);
    assert_eq!(run.code, INCOMPLETE, "{}", run.stderr);
    assert!(!file.exists(), "an incomplete snapshot was written");
    assert!(run.stderr.contains("nothing was written"), "{}", run.stderr);
    assert!(run.stderr.contains("versions of db-password"), "{}", run.stderr);
    assert!(run.stderr.contains("PERMISSION_DENIED"), "{}", run.stderr);

    fake.inject(Route::ListSecrets, vec![Fault::Status(403)]);
    let mut cmd = secretgate(Some(&fake), &manifest("healthy"));
    cmd.args(["snapshot", "--env", "staging", "--max-rps", "1000", "-o"]).arg(&file);
    let run = common::run(&mut cmd);
    assert_eq!(run.code, INCOMPLETE, "{}", run.stderr);
    assert!(!file.exists(), "an incomplete snapshot was written");
    assert!(run.stderr.contains("project hc-staging"), "{}", run.stderr);
}

/// A manifest with schema errors (`secret:` for `secrets:`) is refused before anything is
/// captured: the snapshot would leave out the entries the typo dropped.
#[test]
fn snapshot_refuses_a_manifest_with_schema_errors() {
    let fake = fake_for("healthy");
    let dir = tempfile::tempdir().expect("a temp dir");
    let text = std::fs::read_to_string(manifest("healthy")).expect("the fixture reads");
    let broken = dir.path().join("secrets.yaml");
    std::fs::write(&broken, text.replacen("secrets:", "secret:", 1)).expect("written");
    let file = dir.path().join("staging.json");
    let mut cmd = secretgate(Some(&fake), &broken);
    cmd.args(["snapshot", "--env", "staging", "--max-rps", "1000", "-o"]).arg(&file);
    let run = common::run(&mut cmd);
    assert_eq!(run.code, FINDINGS, "{}", run.stderr);
    assert!(!file.exists(), "a snapshot was written");
    assert!(run.stderr.contains("manifest-schema"), "{}", run.stderr);
    assert!(run.stderr.contains("is not a valid manifest; nothing was done"), "{}", run.stderr);
}

#[test]
fn snapshot_stale_for_an_old_capture_only() {
    // No Google access at all: the fake is there to prove it.
    let fake = fake_for("healthy");
    let dir = tempfile::tempdir().expect("a temp dir");
    let mut snapshot = seed("healthy");
    let mut run_with = |hours: i64, extra: &[&str]| {
        let now = Timestamp::now();
        let captured = now.checked_sub(SignedDuration::from_hours(hours)).expect("in range");
        snapshot["capturedAt"] = Value::String(captured.to_string());
        let file = dir.path().join(format!("snapshot-{hours}h.json"));
        std::fs::write(&file, snapshot.to_string()).expect("the snapshot is written");
        let mut cmd = secretgate(Some(&fake), &manifest("healthy"));
        cmd.args(["check", "--env", "staging", "--format", "json", "--snapshot"]).arg(&file);
        common::run(cmd.args(extra))
    };
    let stale = run_with(10 * 24, &[]);
    assert_eq!(stale.code, OK, "a warning only");
    let found = stale.findings();
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!((found[0].code.as_str(), found[0].severity.as_str()), ("snapshot-stale", "warning"));
    assert_eq!(found[0].location, None, "about the snapshot, not a line of the manifest");
    assert_message(&found[0], "10 days ago (the limit is 7 days)");
    assert!(found[0].help.contains("secretgate snapshot"), "{:?}", found[0]);
    assert_eq!(run_with(10 * 24, &["--deny-warnings"]).code, FINDINGS);
    assert!(run_with(6 * 24, &[]).findings().is_empty(), "6 days is within the default 7");
    assert!(run_with(10 * 24, &["--max-snapshot-age", "30"]).findings().is_empty());
    assert!(fake.requests().is_empty(), "an offline check made requests");
}

/// Regression: ages were rounded down to whole days and had to exceed the limit, so a snapshot
/// 7.8 days old passed the default 7, and `--max-snapshot-age 0` let a 20-hour-old one pass.
#[test]
fn snapshot_stale_compares_hours_not_whole_days() {
    let fake = fake_for("healthy");
    let dir = tempfile::tempdir().expect("a temp dir");
    let stale = |hours: i64, extra: &[&str]| {
        let mut snapshot = seed("healthy");
        let captured = Timestamp::now() - SignedDuration::from_hours(hours);
        snapshot["capturedAt"] = Value::String(captured.to_string());
        let file = dir.path().join(format!("snapshot-{hours}h.json"));
        std::fs::write(&file, snapshot.to_string()).expect("the snapshot is written");
        let run = check_snapshot(&fake, &manifest("healthy"), &file, extra);
        of(&run.findings(), "snapshot-stale").into_iter().map(|f| f.message).collect::<Vec<_>>()
    };
    let late = stale(187, &[]);
    assert_eq!(late.len(), 1, "7 days and 19 hours is over 7 days");
    assert!(late[0].contains("7 days and 19 hours ago"), "{late:?}");
    assert!(stale(167, &[]).is_empty(), "6 days and 23 hours is within 7 days");
    let today = stale(20, &["--max-snapshot-age", "0"]);
    assert_eq!(today.len(), 1, "any age is over a limit of 0");
    assert!(today[0].contains("20 hours ago (the limit is 0 days)"), "{today:?}");
    assert!(stale(20, &["--max-snapshot-age", "1"]).is_empty());
    assert!(fake.requests().is_empty(), "an offline check made requests");
}

// ---------------------------------------------------------------------------------------------
// Fidelity with gcloud

/// Bound on one gcloud invocation (a cold start takes seconds).
const GCLOUD_LIMIT: Duration = Duration::from_secs(120);

fn gcloud_path() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|d| d.join("gcloud")).find(|p| p.is_file())
}

/// Runs gcloud with its own configuration folder, no prompts, no update or metadata checks and
/// output to files (so no pipe can fill up); kills it past [`GCLOUD_LIMIT`].
fn run_gcloud(bin: &Path, home: &Path, args: &[&str]) -> (bool, String, String) {
    let out_path = home.join("gcloud.out");
    let err_path = home.join("gcloud.err");
    let out = std::fs::File::create(&out_path).expect("an output file");
    let err = std::fs::File::create(&err_path).expect("an error file");
    let mut command = std::process::Command::new(bin);
    let inherited: Vec<String> =
        std::env::vars().map(|(k, _)| k).filter(|k| k.starts_with("CLOUDSDK_")).collect();
    for name in inherited {
        command.env_remove(name);
    }
    command
        .env_remove("GOOGLE_APPLICATION_CREDENTIALS")
        .env("CLOUDSDK_CONFIG", home.join("config"))
        .env("CLOUDSDK_CORE_DISABLE_PROMPTS", "1")
        .env("CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK", "1")
        .env("CLOUDSDK_CORE_DISABLE_USAGE_REPORTING", "1")
        .env("CLOUDSDK_SURVEY_DISABLE_PROMPTS", "1")
        .env("CLOUDSDK_CORE_CHECK_GCE_METADATA", "false")
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(out)
        .stderr(err);
    let mut child = command.spawn().expect("gcloud starts");
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("gcloud is waited for") {
            break status;
        }
        if started.elapsed() > GCLOUD_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("gcloud {args:?} ran longer than {GCLOUD_LIMIT:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
    (status.success(), read(&out_path), read(&err_path))
}

#[test]
fn gcloud_and_snapshot_agree_on_names_versions_and_states() {
    let Some(bin) = gcloud_path() else {
        eprintln!("SKIPPED the gcloud fidelity test: no `gcloud` executable on PATH");
        return;
    };
    let fake = fake_for("healthy");
    let home = tempfile::tempdir().expect("a temp dir");
    let token = home.path().join("token");
    std::fs::write(&token, "gcloud-test-token").expect("the token file is written");
    let endpoint = format!("{}/", fake.url());
    let set = ["config", "set", "api_endpoint_overrides/secretmanager", endpoint.as_str()];
    let (ok, _, err) = run_gcloud(&bin, home.path(), &set);
    assert!(ok, "gcloud config set failed:\n{err}");
    let token_flag = format!("--access-token-file={}", token.display());
    let common = ["--project", HEALTHY_PROJECT, "--format", "json", token_flag.as_str()];
    let gcloud_json = |args: &[&str]| -> Vec<Value> {
        let all = [args, &common[..]].concat();
        let (ok, out, err) = run_gcloud(&bin, home.path(), &all);
        assert!(ok, "gcloud {args:?} failed:\n{err}");
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("gcloud {args:?}: {e}\n{out}"))
    };

    let listed = gcloud_json(&["secrets", "list"]);
    let gcloud_names: Vec<String> =
        listed.iter().map(|s| s["name"].as_str().unwrap_or_default().to_string()).collect();
    let mut gcloud_versions = BTreeMap::new();
    for name in &gcloud_names {
        let id = name.rsplit('/').next().unwrap_or_default();
        let versions = gcloud_json(&["secrets", "versions", "list", id]);
        gcloud_versions
            .insert(id.to_string(), versions.iter().map(version_key).collect::<Vec<_>>());
    }

    let file = home.path().join("snapshot.json");
    let mut cmd = secretgate(Some(&fake), &manifest("healthy"));
    cmd.args(["snapshot", "--env", "staging", "--max-rps", "1000", "-o"]).arg(&file);
    let run = common::run(&mut cmd);
    assert_eq!(run.code, OK, "{}", run.stderr);
    let snapshot: Value =
        serde_json::from_str(&std::fs::read_to_string(&file).expect("written")).expect("JSON");
    let taken = seeded_entries(&snapshot, HEALTHY_PROJECT);
    let snapshot_names: Vec<String> = taken
        .iter()
        .map(|e| e["secret"]["name"].as_str().unwrap_or_default().to_string())
        .collect();
    let snapshot_versions: BTreeMap<String, Vec<(u64, String)>> = taken
        .iter()
        .map(|e| {
            let versions = e["versions"].as_array().into_iter().flatten().map(version_key);
            (secret_id(e), versions.collect())
        })
        .collect();

    assert_eq!(gcloud_names.len(), 3, "{gcloud_names:?}");
    assert!(gcloud_names.iter().all(|n| n.starts_with(&format!("projects/{HEALTHY_NUMBER}/"))));
    assert_eq!(snapshot_names, gcloud_names);
    assert_eq!(snapshot_versions, gcloud_versions);
    assert_eq!(
        gcloud_versions["api-key"],
        [(3, "ENABLED".into()), (2, "DISABLED".into()), (1, "DESTROYED".into())]
    );
    let gcloud_calls = fake.api_requests().iter().filter(|r| r.authorization.is_some()).count();
    assert_eq!(gcloud_calls, 1 + gcloud_names.len(), "gcloud's calls carry its token");
}

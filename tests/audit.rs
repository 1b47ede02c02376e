//! `secretgate audit` offline, from snapshot files: coverage per service, entry and environment,
//! gaps between environments, orphaned and dangling secrets, hygiene, every output format, the
//! exit code of `--fail-under`, `-o`, and the HTML page as a browser renders it.
//!
//! The fixture (tests/fixtures/audit) has one problem of each kind; its comments say which.
//! Ages in days depend on today's date, so the snapshots replace them by `[age]`.
//! After an intended change of output, review `INSTA_UPDATE=always cargo test --test audit`.

mod common;

use common::{Fake, Run};
use fake_google::{FakeConfig, FakeGoogle, Route};
use serde_json::Value;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/audit");

/// `secretgate --manifest MANIFEST audit --snapshot ... ARGS`, without colour.
fn audit_with(manifest: &Path, snapshots: &[PathBuf], args: &[&str]) -> Run {
    let mut cmd = common::secretgate();
    cmd.arg("--manifest").arg(manifest).arg("audit");
    for snapshot in snapshots {
        cmd.arg("--snapshot").arg(snapshot);
    }
    common::run(cmd.args(args))
}

fn snapshots() -> Vec<PathBuf> {
    let dir = Path::new(FIXTURE).join("snapshots");
    vec![dir.join("staging.json"), dir.join("production.json")]
}

/// Audits the fixture with both snapshots.
fn audit(args: &[&str]) -> Run {
    audit_with(&Path::new(FIXTURE).join("secrets.yaml"), &snapshots(), args)
}

/// The JSON report of the fixture, with `ci-*` ignored on the command line.
fn report() -> Value {
    let run = audit(&["--format", "json", "--ignore-orphan", "ci-*"]);
    assert_eq!(run.code, 0, "stderr:\n{}", run.stderr);
    serde_json::from_str(&run.stdout).expect("audit --format json prints JSON")
}

fn row<'a>(report: &'a Value, service: &str, target: &str) -> &'a Value {
    report["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .find(|r| r["service"] == service && r["target"] == target)
        .unwrap_or_else(|| panic!("no row for {service} / {target}"))
}

fn hygiene<'a>(report: &'a Value, env: &str, service: &str, target: &str) -> &'a Value {
    report["hygiene"]
        .as_array()
        .expect("hygiene")
        .iter()
        .find(|h| h["environment"] == env && h["service"] == service && h["target"] == target)
        .unwrap_or_else(|| panic!("no hygiene entry for {env} {service} {target}"))
}

/// The orphans as `project/secret`.
fn orphans(report: &Value) -> Vec<String> {
    let list = report["orphans"].as_array().expect("orphans");
    list.iter()
        .map(|o| format!("{}/{}", o["project"].as_str().unwrap(), o["secret"].as_str().unwrap()))
        .collect()
}

/// Whole days from `created` to now.
fn days_since(created: &str) -> i64 {
    let created: jiff::Timestamp = created.parse().unwrap();
    jiff::Timestamp::now().duration_since(created).as_secs() / 86_400
}

/// The report with the ages (which depend on today's date) replaced by `[age]`.
fn redact_json(mut report: Value) -> String {
    for h in report["hygiene"].as_array_mut().expect("hygiene") {
        if h["ageDays"].is_number() {
            h["ageDays"] = Value::from("[age]");
        }
    }
    if report["staleSnapshot"].is_object() {
        report["staleSnapshot"]["ageDays"] = Value::from("[age]");
    }
    serde_json::to_string_pretty(&report).unwrap() + "\n"
}

/// The Markdown report with the age column of the hygiene table, and the snapshot's age,
/// replaced by `[age]`.
fn redact_markdown(text: &str) -> String {
    let mut out = String::new();
    let mut in_hygiene = false;
    for line in text.lines() {
        in_hygiene |= line == "## Hygiene";
        if line.starts_with("> **Stale snapshot:**") {
            let (start, end) = (line.find("Z, ").expect("a time") + 3, line.find(" ago").unwrap());
            out.push_str(&format!("{}[age]{}\n", &line[..start], &line[end..]));
            continue;
        }
        let cells: Vec<&str> = line.split('|').collect();
        let is_row = in_hygiene && cells.len() == 12;
        if is_row && cells[7].trim().parse::<i64>().is_ok() {
            let mut cells = cells;
            cells[7] = " [age] ";
            out.push_str(&cells.join("|"));
        } else {
            out.push_str(line);
        }
        out.push('\n');
    }
    out
}

#[test]
fn coverage_counts_cells_and_percentages() {
    let report = report();
    assert_eq!(report["command"], "audit");
    assert_eq!(report["environments"], serde_json::json!(["staging", "production"]));
    // Required: 5 mappings in staging, all ok; 6 in production (billing only there), 3 ok.
    assert_eq!(report["coverage"], serde_json::json!({"ok": 8, "total": 11}));
    assert_eq!(report["coveragePercent"], serde_json::json!(72.7));
    assert_eq!(report["perEnvironment"]["staging"], serde_json::json!({"ok": 5, "total": 5}));
    assert_eq!(report["perEnvironment"]["production"], serde_json::json!({"ok": 3, "total": 6}));
    assert_eq!(report["perService"]["api"], serde_json::json!({"ok": 3, "total": 6}));
    assert_eq!(report["perService"]["worker"], serde_json::json!({"ok": 4, "total": 4}));
    assert_eq!(report["perService"]["billing"], serde_json::json!({"ok": 1, "total": 1}));

    let cells = |service: &str, target: &str| row(&report, service, target)["cells"].clone();
    let expect = |staging: &str, production: &str| {
        serde_json::json!({
            "staging": staging,
            "production": production,
        })
    };
    assert_eq!(cells("api", "DATABASE_PASSWORD"), expect("ok", "missing"));
    assert_eq!(cells("api", "JWT_SIGNING_KEY"), expect("ok", "disabled"));
    assert_eq!(cells("api", "STRIPE_API_KEY"), expect("ok", "destroyed"));
    assert_eq!(cells("worker", "QUEUE_TOKEN"), expect("ok", "ok"));
    assert_eq!(cells("worker", "/etc/worker/tls.pem"), expect("ok", "ok"));
    assert_eq!(cells("worker", "LEGACY_KEY"), expect("missing", "missing"));
    assert_eq!(cells("worker", "CACHE_URL"), expect("missing", "missing"));
    assert_eq!(cells("billing", "BILLING_API_KEY"), expect("not-applicable", "ok"));

    let tls = row(&report, "worker", "/etc/worker/tls.pem");
    assert_eq!(tls["kind"], "file");
    assert_eq!(tls["required"], true);
    assert_eq!(row(&report, "worker", "LEGACY_KEY")["required"], false);
    let queue = row(&report, "worker", "QUEUE_TOKEN");
    assert_eq!(
        queue["secrets"],
        serde_json::json!({
            "production": "projects/acme-production/secrets/queue-token-production",
            "staging": "projects/acme-staging/secrets/queue-token-staging",
        })
    );
    let billing = row(&report, "billing", "BILLING_API_KEY");
    assert!(billing["secrets"].get("staging").is_none(), "billing is not deployed to staging");
}

#[test]
fn gaps_between_environments() {
    let report = report();
    let gaps: Vec<(String, Value, Value)> = report["gaps"]
        .as_array()
        .expect("gaps")
        .iter()
        .map(|g| {
            let name =
                format!("{} / {}", g["service"].as_str().unwrap(), g["target"].as_str().unwrap());
            (name, g["okIn"].clone(), g["brokenIn"].clone())
        })
        .collect();
    let staging = serde_json::json!(["staging"]);
    assert_eq!(
        gaps,
        vec![
            (
                "api / DATABASE_PASSWORD".to_string(),
                staging.clone(),
                serde_json::json!({"production": "missing"})
            ),
            (
                "api / JWT_SIGNING_KEY".to_string(),
                staging.clone(),
                serde_json::json!({"production": "disabled"})
            ),
            (
                "api / STRIPE_API_KEY".to_string(),
                staging,
                serde_json::json!({"production": "destroyed"})
            ),
        ],
        "missing everywhere (LEGACY_KEY) or ok everywhere is no gap; n/a is no gap"
    );
}

#[test]
fn orphans_leave_out_used_and_ignored_secrets() {
    let report = report();
    // `queue-token-staging` exists in production too, where no service uses it.
    assert_eq!(
        orphans(&report),
        [
            "acme-production/queue-token-staging",
            "acme-production/reports-webhook",
            "acme-staging/old-api-key",
        ]
    );
    let first = &report["orphans"][0];
    assert_eq!(first["environments"], serde_json::json!(["production"]));
}

#[test]
fn ignore_orphan_on_the_command_line_adds_to_the_policy() {
    let run = audit(&["--format", "json"]);
    assert_eq!(run.code, 0, "stderr:\n{}", run.stderr);
    let report: Value = serde_json::from_str(&run.stdout).unwrap();
    let found = orphans(&report);
    assert!(found.contains(&"acme-staging/ci-deploy-token".to_string()), "{found:?}");
    assert!(!found.iter().any(|o| o.contains("terraform")), "policy still applies: {found:?}");
    // Several patterns, and a pattern with the star in the middle.
    let run = audit(&["--format", "json", "--ignore-orphan", "ci-*", "--ignore-orphan", "old*key"]);
    let report: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(
        orphans(&report),
        ["acme-production/queue-token-staging", "acme-production/reports-webhook"]
    );
}

#[test]
fn policy_ignore_orphans_hides_matching_secrets() {
    // The same manifest without its policy: the Terraform secrets come back as orphans.
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(Path::new(FIXTURE).join("secrets.yaml")).unwrap();
    assert!(text.contains("  ignore_orphans: [\"terraform-*\"]\n"));
    let without = text.replace("  ignore_orphans: [\"terraform-*\"]\n", "");
    let manifest = dir.path().join("secrets.yaml");
    std::fs::write(&manifest, without).unwrap();
    let run = audit_with(&manifest, &snapshots(), &["--format", "json", "--ignore-orphan", "ci-*"]);
    assert_eq!(run.code, 0, "stderr:\n{}", run.stderr);
    let report: Value = serde_json::from_str(&run.stdout).unwrap();
    let found = orphans(&report);
    assert!(found.contains(&"acme-staging/terraform-state-key".to_string()), "{found:?}");
    assert!(found.contains(&"acme-production/terraform-prod-state".to_string()), "{found:?}");
    let with = orphans(&self::report());
    assert!(!with.iter().any(|o| o.contains("terraform")), "{with:?}");
}

#[test]
fn dangling_is_only_a_secret_that_exists_nowhere() {
    let report = report();
    // CACHE_URL's secret exists in both projects (only its pinned version does not).
    assert_eq!(
        report["dangling"],
        serde_json::json!([{
            "service": "worker",
            "target": "LEGACY_KEY",
            "secret": "projects/acme-production/secrets/legacy-key",
        }])
    );
}

#[test]
fn hygiene_fields() {
    let report = report();
    let entries = report["hygiene"].as_array().unwrap();
    // Every mapping whose secret exists, in each environment: 6 of 7 in staging, 6 of 8 in
    // production (the production DATABASE_PASSWORD and both LEGACY_KEY have no secret).
    assert_eq!(entries.len(), 12, "{entries:#?}");

    let jwt = hygiene(&report, "production", "api", "JWT_SIGNING_KEY");
    assert_eq!(jwt["secret"], "jwt-signing-key");
    assert_eq!(jwt["declaredVersion"], "3");
    assert_eq!(jwt["pinned"], true);
    assert_eq!(jwt["version"], 3);
    assert_eq!(jwt["enabledVersions"], 1);

    let latest = hygiene(&report, "staging", "api", "JWT_SIGNING_KEY");
    assert_eq!(latest["declaredVersion"], "latest");
    assert_eq!(latest["pinned"], false);
    assert_eq!(latest["version"], 2, "latest is the newest version");

    let stripe = hygiene(&report, "production", "api", "STRIPE_API_KEY");
    assert_eq!(stripe["version"], 2);
    assert_eq!(stripe["enabledVersions"], 1, "two of three versions are destroyed");

    // Pinned to a version from 2019; staging also has a newer enabled one.
    let old = hygiene(&report, "staging", "worker", "/etc/worker/tls.pem");
    assert_eq!(old["version"], 1);
    assert_eq!(old["enabledVersions"], 2);
    let age = old["ageDays"].as_i64().expect("an age in days");
    let expected = days_since("2019-05-01T09:00:00Z");
    assert!((expected - 1..=expected).contains(&age), "age {age}, expected about {expected}");
    assert!(age > 2400);

    // The pinned version does not exist: no version in use, no age.
    let cache = hygiene(&report, "production", "worker", "CACHE_URL");
    assert_eq!(cache["declaredVersion"], "5");
    assert_eq!(cache["version"], Value::Null);
    assert_eq!(cache["ageDays"], Value::Null);

    let billing = hygiene(&report, "production", "billing", "BILLING_API_KEY");
    assert_eq!(billing["expireTime"], "2099-12-31T00:00:00Z");
    assert_eq!(billing["rotationPeriod"], "2592000s");
    assert_eq!(billing["nextRotationTime"], "2021-03-01T00:00:00Z");
    assert_eq!(billing["rotationOverdue"], true);
    let overdue: Vec<&Value> = entries.iter().filter(|h| h["rotationOverdue"] == true).collect();
    assert_eq!(overdue.len(), 1, "only billing has an overdue rotation");
    for h in entries.iter().filter(|h| h["service"] != "billing") {
        assert_eq!(h["expireTime"], Value::Null);
        assert_eq!(h["nextRotationTime"], Value::Null);
    }
}

#[test]
fn two_environments_in_one_project() {
    // Auditing `dev` alone must not call `prod`'s secret, in the same project, an orphan.
    let dir = Path::new(FIXTURE).join("shared");
    let snapshot = vec![dir.join("snapshot.json")];
    let run =
        audit_with(&dir.join("secrets.yaml"), &snapshot, &["--format", "json", "--env", "dev"]);
    assert_eq!(run.code, 0, "stderr:\n{}", run.stderr);
    let report: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(report["environments"], serde_json::json!(["dev"]));
    assert_eq!(orphans(&report), ["acme-shared/stray-token"]);
    assert_eq!(report["orphans"][0]["environments"], serde_json::json!(["dev"]));

    // Names shorter than the header still line up under it.
    let run = audit_with(&dir.join("secrets.yaml"), &snapshot, &["--env", "dev"]);
    let lines: Vec<&str> = run.stdout.lines().collect();
    let header = lines.iter().position(|l| l.starts_with("service / target")).expect("a header");
    let row = lines[header + 1];
    assert!(row.starts_with("app / APP_KEY "), "{row:?}");
    assert_eq!(row.find("yes"), lines[header].find("req"), "{}\n{row}", lines[header]);
    assert_eq!(row.rfind("ok"), lines[header].find("dev"), "{}\n{row}", lines[header]);
}

#[test]
fn env_selects_columns() {
    let run = audit(&["--format", "json", "--env", "production"]);
    assert_eq!(run.code, 0, "stderr:\n{}", run.stderr);
    let report: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(report["environments"], serde_json::json!(["production"]));
    assert_eq!(report["coverage"], serde_json::json!({"ok": 3, "total": 6}));
    assert!(report["perEnvironment"].get("staging").is_none());
    for row in report["rows"].as_array().unwrap() {
        assert!(row["cells"].get("staging").is_none(), "{row}");
    }
    assert_eq!(
        orphans(&report),
        ["acme-production/queue-token-staging", "acme-production/reports-webhook"]
    );
}

#[test]
fn json_snapshot() {
    insta::assert_snapshot!("json", redact_json(report()));
}

#[test]
fn markdown_snapshot() {
    let run = audit(&["--format", "markdown", "--ignore-orphan", "ci-*"]);
    assert_eq!(run.code, 0, "stderr:\n{}", run.stderr);
    let redacted = redact_markdown(&run.stdout);
    assert_eq!(redacted.matches("| [age] |").count(), 10, "ages redacted:\n{redacted}");
    insta::assert_snapshot!("markdown", redacted);
}

#[test]
fn table_columns_line_up() {
    let run = audit(&["--format", "table", "--ignore-orphan", "ci-*"]);
    assert_eq!(run.code, 0, "stderr:\n{}", run.stderr);
    assert!(!run.stdout.contains('\x1b'), "no colour without a terminal");
    assert!(run.stdout.starts_with(
        "Secret coverage: 72.7% (8 of 11 required mappings resolve); production 50.0%; staging \
        100.0%\n"
    ));
    let lines: Vec<&str> = run.stdout.lines().collect();
    let header = lines.iter().position(|l| l.starts_with("service / target")).expect("a header");
    let req = lines[header].find(" req ").expect("a req column");
    let staging = lines[header].find("staging").expect("a staging column");
    let production = lines[header].find("production").expect("a production column");
    for line in &lines[header + 1..header + 9] {
        assert!(matches!(&line[req + 1..req + 4], "yes" | "no "), "{line:?}");
        let cell = |at: usize| line[at..].split_whitespace().next().unwrap_or_default();
        assert!(!cell(staging).is_empty() && !cell(production).is_empty(), "{line:?}");
    }
    assert!(lines[header + 1].starts_with("api / DATABASE_PASSWORD"));
    assert_eq!(lines[header + 1][production..].trim_end(), "missing");
    assert_eq!(lines[header + 8][staging..].split_whitespace().next(), Some("n/a"));
    assert!(
        run.stdout
            .contains("\n  worker / LEGACY_KEY: projects/acme-production/secrets/legacy-key\n")
    );
    assert!(run.stdout.contains("OVERDUE since 2021-03-01T00:00:00Z"));
}

#[test]
fn fail_under_sets_the_exit_code() {
    // Coverage is 72.7%.
    for (limit, code) in [("100", 1), ("73", 1), ("72.5", 0), ("10", 0)] {
        let run = audit(&["--format", "json", "--fail-under", limit]);
        assert_eq!(run.code, code, "--fail-under {limit}; stderr:\n{}", run.stderr);
        let report: Value =
            serde_json::from_str(&run.stdout).expect("the report is printed anyway");
        assert_eq!(report["coverage"]["ok"], 8);
    }
    let run = audit(&["--format", "table"]);
    assert_eq!(run.code, 0, "without --fail-under, gaps do not fail the run");
}

#[test]
fn output_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("coverage.json");
    let run = audit(&["--format", "json", "--ignore-orphan", "ci-*", "-o", path.to_str().unwrap()]);
    assert_eq!(run.code, 0, "stderr:\n{}", run.stderr);
    assert_eq!(run.stdout, "", "nothing on stdout with -o");
    let written = std::fs::read_to_string(&path).expect("-o writes the file");
    let written: Value = serde_json::from_str(&written).expect("the file holds the JSON report");
    assert_eq!(redact_json(written), redact_json(report()));

    let path = dir.path().join("coverage.md");
    let run = audit(&["--format", "markdown", "-o", path.to_str().unwrap(), "--fail-under", "100"]);
    assert_eq!(run.code, 1, "--fail-under applies with -o too");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.starts_with("# Secret coverage\n"), "{text}");
}

#[test]
fn unreadable_snapshot_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, "{\"snapshotVersion\": 1,").unwrap();
    let run = audit_with(&Path::new(FIXTURE).join("secrets.yaml"), &[bad], &[]);
    assert_eq!(run.code, 2, "stderr:\n{}", run.stderr);
    assert!(run.stderr.contains("bad.json"), "{}", run.stderr);
}

// --- HTML ------------------------------------------------------------------------------------

/// The HTML report of the fixture, written with `-o` into `dir`.
fn html_report(dir: &Path) -> PathBuf {
    let path = dir.join("report.html");
    let run = audit(&["--format", "html", "--ignore-orphan", "ci-*", "-o", path.to_str().unwrap()]);
    assert_eq!(run.code, 0, "stderr:\n{}", run.stderr);
    assert_eq!(run.stdout, "");
    path
}

#[test]
fn html_is_self_contained() {
    let dir = tempfile::tempdir().unwrap();
    let html = std::fs::read_to_string(html_report(dir.path())).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.contains("<style>"), "the CSS is inline");
    let lower = html.to_ascii_lowercase();
    for fetch in
        ["<link", "<script", "<img", "<iframe", "<object", "<embed", "src=", "@import", "url("]
    {
        assert!(!lower.contains(fetch), "the page fetches something: `{fetch}`");
    }
    assert!(!lower.contains("http://") && !lower.contains("https://"), "no network address");
    for text in ["worker-tls", "BILLING_API_KEY", "acme-staging/old-api-key"] {
        assert!(html.contains(text), "{text}");
    }
}

/// The browser, when installed.
fn chromium() -> Option<PathBuf> {
    let fixed = PathBuf::from("/usr/bin/chromium");
    if fixed.is_file() {
        return Some(fixed);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| ["chromium", "chromium-browser"].map(|name| dir.join(name)))
        .find(|p| p.is_file())
}

/// Runs headless Chromium on a page with `extra` arguments; returns its stdout. Kills it and
/// fails when it has not finished within two minutes.
fn run_chromium(browser: &Path, profile: &Path, extra: &[String], page: &Path) -> Vec<u8> {
    let mut child = std::process::Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--window-size=1280,2000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(format!("file://{}", page.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("chromium starts");
    let reader = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = pipe.read_to_end(&mut bytes);
            bytes
        })
    };
    let stdout = reader(Box::new(child.stdout.take().unwrap()));
    let stderr = reader(Box::new(child.stderr.take().unwrap()));
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(status) = child.try_wait().expect("waiting for chromium") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium {extra:?} did not finish within two minutes; killed");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let out = stdout.join().unwrap();
    let err = String::from_utf8_lossy(&stderr.join().unwrap()).into_owned();
    assert!(status.success(), "chromium {extra:?} failed ({status}):\n{err}");
    out
}

/// The text of a serialized DOM: tags become spaces, runs of white space one space.
fn dom_text(dom: &str) -> String {
    let mut text = String::new();
    let mut in_tag = false;
    for c in dom.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                text.push(' ');
            }
            _ if !in_tag => text.push(c),
            _ => {}
        }
    }
    let text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"");
    text.replace("&amp;", "&").split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Width and height from a PNG's IHDR chunk.
fn png_size(png: &[u8]) -> (u32, u32) {
    assert!(png.len() > 24 && png.starts_with(b"\x89PNG\r\n\x1a\n") && &png[12..16] == b"IHDR");
    let be = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    (be(&png[16..20]), be(&png[20..24]))
}

#[test]
fn html_renders_in_a_browser() {
    let Some(browser) = chromium() else {
        if std::env::var_os("CI").is_some() {
            panic!(
                "chromium is not installed, and CI is set: CI installs it (Debian package \
                `chromium`)"
            );
        }
        eprintln!(
            "SKIPPED html_renders_in_a_browser: no chromium at /usr/bin/chromium or on PATH \
             (install the Debian package `chromium` to run it)"
        );
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let page = html_report(dir.path());

    let png = dir.path().join("report.png");
    let profile = dir.path().join("profile-screenshot");
    run_chromium(&browser, &profile, &[format!("--screenshot={}", png.display())], &page);
    let bytes = std::fs::read(&png).expect("chromium wrote the screenshot");
    assert_eq!(png_size(&bytes), (1280, 2000));
    // A blank page of this size compresses to a few kilobytes; the report is far larger.
    assert!(bytes.len() > 30_000, "screenshot of {} bytes: an empty page?", bytes.len());
    let mut seen = [false; 256];
    bytes[64..].iter().for_each(|b| seen[*b as usize] = true);
    assert!(seen.iter().filter(|s| **s).count() > 200, "compressed data should look random");

    let profile = dir.path().join("profile-dom");
    let dom = run_chromium(&browser, &profile, &["--dump-dom".to_string()], &page);
    let text = dom_text(&String::from_utf8(dom).expect("the DOM is UTF-8"));
    for expected in [
        "Secret coverage report",
        "72.7% (8 of 11 required mappings resolve)",
        "service env var or file required staging production",
        "api DATABASE_PASSWORD yes ok missing",
        "api JWT_SIGNING_KEY yes ok disabled",
        "api STRIPE_API_KEY yes ok destroyed",
        "worker /etc/worker/tls.pem yes ok ok",
        "billing BILLING_API_KEY yes n/a ok",
        "Counts per service",
        "service required ok coverage ok missing disabled destroyed api 3 of 6 50.0% 3 1 1 1",
        "api / DATABASE_PASSWORD: ok in staging, not in production (missing)",
        "acme-production/queue-token-staging (production)",
        "acme-staging/old-api-key (staging)",
        "worker / LEGACY_KEY: projects/acme-production/secrets/legacy-key",
        "queue-token-production",
        "worker-tls",
        "overdue since 2021-03-01T00:00:00Z",
    ] {
        assert!(text.contains(expected), "the rendered page lacks {expected:?}:\n{text}");
    }
    assert!(!text.contains("ci-deploy-token"), "ignored orphans are not listed");
    assert!(!text.contains("CACHE_URL: projects"), "CACHE_URL's secret exists");
}

/// An environment whose project no snapshot holds is audited as `unverified`, and the report
/// says why once, so that an all-`unverified` column is never a mystery: the table on stderr
/// beside it (not with `--quiet`), the other formats inside the report, with nothing on stderr.
#[test]
fn an_unread_project_is_named_with_the_reason() {
    let manifest = Path::new(FIXTURE).join("secrets.yaml");
    let staging = Path::new(FIXTURE).join("snapshots/staging.json");
    let only_staging = std::slice::from_ref(&staging);
    let reason = "project `acme-production` was not verified (not in the snapshots given); its \
                  cells are `unverified`";

    let run = audit_with(&manifest, only_staging, &["--format", "table"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stderr.contains(&format!("warning: {reason}")), "{}", run.stderr);
    assert!(!run.stderr.contains("acme-staging"), "staging was read: {}", run.stderr);
    let quiet = audit_with(&manifest, only_staging, &["-q"]);
    assert!(!quiet.stderr.contains("was not verified"), "{}", quiet.stderr);

    let run = audit_with(&manifest, only_staging, &["--format", "json"]);
    assert_eq!((run.code, run.stderr.as_str()), (0, ""), "nothing on stderr with JSON");
    let report: Value = serde_json::from_str(&run.stdout).expect("JSON");
    let expected = serde_json::json!([
        {"project": "acme-production", "reason": "not in the snapshots given"}
    ]);
    assert_eq!(report["unverifiedProjects"], expected);
    let cell = &row(&report, "api", "DATABASE_PASSWORD")["cells"]["production"];
    assert_eq!(cell, "unverified");

    let run = audit_with(&manifest, only_staging, &["--format", "markdown"]);
    assert_eq!((run.code, run.stderr.as_str()), (0, ""), "nothing on stderr with Markdown");
    let line = "> **Not verified:** project `acme-production` (not in the snapshots given); its \
                cells are `unverified`\n";
    assert!(run.stdout.contains(line), "{}", run.stdout);
    let run = audit_with(&manifest, only_staging, &["--format", "html"]);
    assert_eq!((run.code, run.stderr.as_str()), (0, ""), "nothing on stderr with HTML");
    assert!(run.stdout.contains("<strong>Not verified:</strong> project `acme-production`"));
    assert_eq!(report_of(&["--format", "json"])["unverifiedProjects"], serde_json::json!([]));
}

/// The JSON report of the fixture with both snapshots and `args`.
fn report_of(args: &[&str]) -> Value {
    let run = audit(args);
    assert_eq!(run.code, 0, "stderr:\n{}", run.stderr);
    serde_json::from_str(&run.stdout).expect("JSON")
}

/// Counts per service and per environment, of required mappings that resolve and of every
/// mapping by state, in every format (they were in JSON only, without the states).
#[test]
fn counts_per_service_environment_and_state_in_every_format() {
    let report = report();
    let states = |kind: &str, name: &str| report[kind][name].clone();
    let api = serde_json::json!({"ok": 3, "missing": 1, "disabled": 1, "destroyed": 1});
    assert_eq!(states("perServiceStates", "api"), api);
    assert_eq!(states("perServiceStates", "worker"), serde_json::json!({"ok": 4, "missing": 4}));
    assert_eq!(states("perServiceStates", "billing"), serde_json::json!({"ok": 1}));
    let production = serde_json::json!({"ok": 3, "missing": 3, "disabled": 1, "destroyed": 1});
    assert_eq!(states("perEnvironmentStates", "production"), production);
    assert_eq!(
        states("perEnvironmentStates", "staging"),
        serde_json::json!({"ok": 5, "missing": 2})
    );

    let table = audit(&["--ignore-orphan", "ci-*"]).stdout;
    let expected = "\
Counts per service (required ok: required mappings that resolve; then every applicable mapping by \
state):
  service  required ok  coverage  ok  missing  disabled  destroyed
  api      3 of 6       50.0%     3   1        1         1
  billing  1 of 1       100.0%    1   0        0         0
  worker   4 of 4       100.0%    4   4        0         0
";
    assert!(table.contains(expected), "{table}");
    assert!(table.contains("  production   3 of 6       50.0%     3   3        1         1\n"));
    assert!(table.lines().all(|l| !l.ends_with(' ')), "no line ends in spaces:\n{table}");

    let markdown = audit(&["--format", "markdown"]).stdout;
    assert!(markdown.contains("| api | 3 of 6 | 50.0% | 3 | 1 | 1 | 1 |\n"), "{markdown}");
    assert!(markdown.contains("| staging | 5 of 5 | 100.0% | 5 | 2 | 0 | 0 |\n"), "{markdown}");
    let html = audit(&["--format", "html"]).stdout;
    let row = "<tr><td>worker</td><td>4 of 4</td><td>100.0%</td><td>4</td><td>4</td><td>0</td>\
               <td>0</td></tr>";
    assert!(html.contains("<h2>Counts per service</h2>") && html.contains(row), "{html}");
}

// --- Findings that stop a deploy (tests/fixtures/audit/invalid) ----------------------------

/// The JSON report of the `invalid` fixture, and its exit code with `--fail-under 100`.
fn invalid_report() -> (Value, i32) {
    let dir = Path::new(FIXTURE).join("invalid");
    let snapshot = [dir.join("snapshot.json")];
    let args = ["--format", "json", "--fail-under", "100"];
    let run = audit_with(&dir.join("secrets.yaml"), &snapshot, &args);
    let report = serde_json::from_str(&run.stdout).expect("audit --format json prints JSON");
    (report, run.code)
}

/// Regression: entries that `lint` and the deploy gate reject (an invalid or reserved env var
/// name, a path under /proc, two secrets in one directory, a service whose spec is missing or
/// lacks the named container, a spec that sets PORT) were `ok` and covered, so
/// `--fail-under 100` passed.
#[test]
fn error_findings_make_their_cells_invalid_and_uncovered() {
    let (report, code) = invalid_report();
    assert_eq!(code, 1, "--fail-under 100 fails");
    let cell =
        |service: &str, target: &str| row(&report, service, target)["cells"]["staging"].clone();
    let invalid = [
        ("api", "BAD NAME"),
        ("api", "PORT"),
        ("api", "K_SERVICE"),
        ("api", "/proc/x/y"),
        ("api", "/etc/app/one"),
        ("api", "/etc/app/two"),
        ("ghost", "GHOST_KEY"),
        ("sidecar", "SIDECAR_KEY"),
        ("portal", "PORTAL_KEY"),
    ];
    for (service, target) in invalid {
        assert_eq!(cell(service, target), "invalid", "{service} / {target}");
    }
    assert_eq!(cell("api", "DB_PASSWORD"), "ok", "an entry without a finding of its own");
    assert_eq!(report["coverage"], serde_json::json!({"ok": 1, "total": 11}));
    assert_eq!(report["perServiceStates"]["api"], serde_json::json!({"ok": 1, "invalid": 7}));
}

/// A credential pasted as an entry's key is invalid, and no format prints it: the row names
/// what it looks like instead.
#[test]
fn a_key_that_looks_like_a_credential_is_described_in_every_format() {
    let (report, _) = invalid_report();
    let described = "a value that looks like a GitHub token (not shown)";
    assert_eq!(row(&report, "api", described)["cells"]["staging"], "invalid");
    let dir = Path::new(FIXTURE).join("invalid");
    let snapshot = [dir.join("snapshot.json")];
    for format in ["table", "markdown", "json", "html"] {
        let run = audit_with(&dir.join("secrets.yaml"), &snapshot, &["--format", format]);
        assert_eq!(run.code, 0, "{format}: {}", run.stderr);
        assert!(run.stdout.contains("api") && !run.all().contains("XYZZY"), "{format}:\n{run}");
    }
}

/// A manifest with schema errors gives no report: a typo that drops a service's entries
/// would otherwise read as full coverage.
#[test]
fn a_manifest_with_schema_errors_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(Path::new(FIXTURE).join("secrets.yaml")).unwrap();
    let broken = dir.path().join("secrets.yaml");
    std::fs::write(&broken, text.replacen("secrets:", "secret:", 1)).unwrap();
    let run = audit_with(&broken, &snapshots(), &["--format", "json", "--fail-under", "100"]);
    assert_eq!(run.code, 1, "{run}");
    assert!(run.stdout.is_empty(), "{run}");
    assert!(run.stderr.contains("manifest-schema"), "{run}");
}

/// `--env` given twice names one environment, which has one column.
#[test]
fn an_environment_named_twice_is_audited_once() {
    let run = audit(&["--format", "json", "--env", "staging", "--env", "staging"]);
    assert_eq!(run.code, 0, "stderr:\n{}", run.stderr);
    let report: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(report["environments"], serde_json::json!(["staging"]));
    let table = audit(&["--env", "staging", "--env", "staging"]).stdout;
    let header = table.lines().find(|l| l.contains("staging")).unwrap_or_default();
    assert_eq!(header.matches("staging").count(), 1, "{table}");
}

/// The snapshots' age is in every format of the report when it is over 7 days, and only then.
#[test]
fn audit_reports_a_stale_snapshot_in_every_format() {
    let manifest = Path::new(FIXTURE).join("secrets.yaml");
    let dir = tempfile::tempdir().unwrap();
    let at_age = |hours: i64| {
        let mut paths = Vec::new();
        for (i, path) in snapshots().iter().enumerate() {
            let mut snapshot: Value =
                serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
            let captured = jiff::Timestamp::now() - jiff::SignedDuration::from_hours(hours);
            snapshot["capturedAt"] = Value::from(captured.to_string());
            let copy = dir.path().join(format!("{hours}-{i}.json"));
            std::fs::write(&copy, snapshot.to_string()).unwrap();
            paths.push(copy);
        }
        paths
    };
    let formats = |paths: &[PathBuf]| {
        let text = |format: &str| audit_with(&manifest, paths, &["--format", format]).stdout;
        let json: Value = serde_json::from_str(&text("json")).expect("JSON");
        (json, text("table"), text("markdown"), text("html"))
    };

    let (json, table, markdown, html) = formats(&at_age(7 * 24 + 19));
    let stale = &json["staleSnapshot"];
    assert_eq!(stale["maxAgeDays"], 7, "{stale}");
    assert_eq!(stale["ageDays"], 7.8, "{stale}");
    let said = "7 days and 19 hours ago, over the limit of 7 days";
    let table_line = table.lines().nth(1).unwrap_or_default();
    assert!(table_line.starts_with("Warning: the snapshot was captured on "), "{table}");
    assert!(table_line.contains(said), "{table}");
    assert!(markdown.contains("\n> **Stale snapshot:** the snapshot was captured on "));
    assert!(markdown.contains(said), "{markdown}");
    assert!(html.contains("<p class=\"warn\"><strong>Stale snapshot:</strong> the snapshot"));
    assert!(html.contains(said), "{html}");

    let (json, table, markdown, html) = formats(&at_age(6 * 24 + 23));
    assert_eq!(json["staleSnapshot"], Value::Null);
    for text in [table, markdown, html] {
        assert!(!text.contains("Stale snapshot") && !text.contains("Warning:"), "{text}");
    }
}

/// `--max-snapshot-age` moves the limit of the stale-snapshot warning, as for `check`.
#[test]
fn audit_takes_another_snapshot_age_limit() {
    let manifest = Path::new(FIXTURE).join("secrets.yaml");
    let dir = tempfile::tempdir().unwrap();
    let mut paths = Vec::new();
    for (i, path) in snapshots().iter().enumerate() {
        let mut snapshot: Value =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let captured = jiff::Timestamp::now() - jiff::SignedDuration::from_hours(3 * 24 + 2);
        snapshot["capturedAt"] = Value::from(captured.to_string());
        let copy = dir.path().join(format!("{i}.json"));
        std::fs::write(&copy, snapshot.to_string()).unwrap();
        paths.push(copy);
    }
    let stale = |limit: &str| {
        let args = ["--format", "json", "--max-snapshot-age", limit];
        let json: Value =
            serde_json::from_str(&audit_with(&manifest, &paths, &args).stdout).expect("JSON");
        json["staleSnapshot"].clone()
    };
    let over = stale("3");
    assert_eq!(over["maxAgeDays"], 3, "{over}");
    assert_eq!(over["ageDays"], 3.1, "{over}");
    assert_eq!(stale("4"), Value::Null);
}

/// A spec for a service `web` with one container and no mapping of its own.
const WEB_SPEC: &str = "apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata:\n  name: web\n\
    spec:\n  template:\n    spec:\n      containers:\n      - image: app\n";

/// Regression: a `|` in a target ended its Markdown table cell early, and the hygiene lines
/// said "1 enabled versions".
#[test]
fn markdown_escapes_pipes_and_counts_are_singular_for_one() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("secrets.yaml");
    let text = [
        "version: 1",
        "environments:",
        "  staging: {project: acme-staging, region: europe-west1}",
        "services:",
        "  web:",
        "    spec: web.yaml",
        "    secrets:",
        "      /etc/a|b/key: {secret: db-password}\n",
    ]
    .join("\n");
    std::fs::write(&manifest, text).unwrap();
    std::fs::write(dir.path().join("web.yaml"), WEB_SPEC).unwrap();
    let created = jiff::Timestamp::now() - jiff::SignedDuration::from_hours(30);
    let name = "projects/acme-staging/secrets/db-password";
    let snapshot = serde_json::json!({
        "snapshotVersion": 1,
        "capturedAt": jiff::Timestamp::now().to_string(),
        "projects": {"acme-staging": {"secrets": [{
            "secret": {"name": name},
            "versions": [{"name": format!("{name}/versions/1"), "state": "ENABLED",
                          "createTime": created.to_string()}],
        }]}},
    });
    let snapshots = [dir.path().join("snapshot.json")];
    std::fs::write(&snapshots[0], snapshot.to_string()).unwrap();

    let markdown = audit_with(&manifest, &snapshots, &["--format", "markdown"]).stdout;
    let row = markdown.lines().find(|l| l.starts_with("| web |")).expect("a row for web");
    assert!(row.starts_with("| web | `/etc/a\\|b/key` | yes | "), "{row}");
    let cells = row.replace("\\|", "").matches('|').count() - 1;
    assert_eq!(cells, 4, "service, target, required, staging: {row}");
    let hygiene = markdown.lines().find(|l| l.starts_with("| staging | web |")).expect("hygiene");
    assert!(hygiene.contains("`/etc/a\\|b/key`"), "{hygiene}");

    let table = audit_with(&manifest, &snapshots, &["--format", "table"]).stdout;
    assert!(table.contains("v1 (latest), 1 day old, 1 enabled version, expires never"), "{table}");
}

/// A target may hold what a report must not pass on: a backtick, which would end its Markdown
/// code span and let the rest render as a link, and a terminal escape with a carriage return,
/// which would recolour and overwrite the table. Every format shows them escaped; the JSON
/// keeps the name as it is, in JSON's own escapes.
#[test]
fn names_cannot_break_out_of_any_format() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("secrets.yaml");
    let text = [
        "version: 1",
        "environments:",
        "  staging: {project: acme-staging, region: europe-west1}",
        "services:",
        "  web:",
        "    spec: web.yaml",
        "    secrets:",
        "      '/etc/x`[click](https://e.vil)`/key': {secret: db-password}",
        "      \"/etc/y\\e[31mRED\\rOVER/key\": {secret: db-password}\n",
    ]
    .join("\n");
    std::fs::write(&manifest, text).unwrap();
    std::fs::write(dir.path().join("web.yaml"), WEB_SPEC).unwrap();
    let name = "projects/acme-staging/secrets/db-password";
    let snapshot = serde_json::json!({
        "snapshotVersion": 1,
        "capturedAt": jiff::Timestamp::now().to_string(),
        "projects": {"acme-staging": {"secrets": [{
            "secret": {"name": name},
            "versions": [{"name": format!("{name}/versions/1"), "state": "ENABLED",
                          "createTime": "2026-01-01T00:00:00Z"}],
        }]}},
    });
    let snapshots = [dir.path().join("snapshot.json")];
    std::fs::write(&snapshots[0], snapshot.to_string()).unwrap();
    let report = |format: &str| audit_with(&manifest, &snapshots, &["--format", format]).stdout;

    let markdown = report("markdown");
    assert!(
        markdown.contains("| web | ``/etc/x`[click](https://e.vil)`/key`` | yes |"),
        "{markdown}"
    );
    assert!(markdown.contains("``/etc/x`[click](https://e.vil)`/key``"), "{markdown}");
    for (format, text) in
        [("markdown", markdown), ("table", report("table")), ("html", report("html"))]
    {
        assert!(!text.contains(['\u{1b}', '\r']), "{format} passes a control character on");
        assert!(text.contains("/etc/y\\u{1b}[31mRED\\rOVER/key"), "{format}:\n{text}");
    }
    let json: Value = serde_json::from_str(&report("json")).expect("JSON");
    let targets: Vec<&str> =
        json["rows"].as_array().unwrap().iter().filter_map(|r| r["target"].as_str()).collect();
    assert!(targets.contains(&"/etc/y\u{1b}[31mRED\rOVER/key"), "{targets:?}");
}

// --- Spec references, --live and request reuse (tests/fixtures/audit/live) -------------------

fn live_fixture() -> PathBuf {
    Path::new(FIXTURE).join("live")
}

/// A secret that only the spec maps (a sidecar's, which the manifest does not declare) is in
/// use: no orphan. A secret no spec or manifest entry maps still is one.
#[test]
fn secrets_the_specs_map_are_no_orphans() {
    let dir = live_fixture();
    let snapshot = vec![dir.join("snapshot.json")];
    let run = audit_with(&dir.join("secrets.yaml"), &snapshot, &["--format", "json"]);
    assert_eq!(run.code, 0, "stderr:\n{}", run.stderr);
    let report: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(orphans(&report), ["acme-live/hand-given-token", "acme-live/stray-token"]);
}

/// A running fake Google server seeded with the `live` fixture's snapshot.
fn live_fake() -> Fake {
    let config = FakeConfig::default().with_snapshot_file(&live_fixture().join("snapshot.json"));
    Fake::start(config.expect("the snapshot reads"))
}

/// `api` as deployed: `DB_PASSWORD` mapped, `API_KEY` dropped by hand, and a token given to
/// the app that no file mentions.
fn deployed_api() -> Value {
    let from = |name: &str| serde_json::json!({"secretKeyRef": {"name": name, "key": "latest"}});
    serde_json::json!({
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Service",
        "metadata": {"name": "api", "labels": {"cloud.googleapis.com/location": "us-central1"}},
        "spec": {"template": {"spec": {
            "serviceAccountName": "api-runtime@acme-live.iam.gserviceaccount.com",
            "containers": [{
                "name": "app",
                "image": "us-central1-docker.pkg.dev/acme-live/apps/api:2.4.0",
                "ports": [{"containerPort": 8080}],
                "env": [
                    {"name": "DB_PASSWORD", "valueFrom": from("db-password")},
                    {"name": "HAND_TOKEN", "valueFrom": from("hand-given-token")},
                ],
            }],
        }}},
    })
}

/// `audit --format json ARGS` of the `live` fixture against `fake`, with no rate limit to wait
/// on and no credentials from the environment.
fn audit_fake(fake: &FakeGoogle, args: &[&str]) -> Run {
    let mut cmd = common::secretgate_at(fake);
    cmd.arg("--manifest").arg(live_fixture().join("secrets.yaml"));
    common::run(cmd.args(["audit", "--format", "json", "--max-rps", "1000"]).args(args))
}

/// A manifest with schema errors is refused before Secret Manager or Cloud Run is asked
/// anything.
#[test]
fn an_invalid_manifest_is_refused_before_any_request() {
    let fake = live_fake();
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(live_fixture().join("secrets.yaml")).unwrap();
    let broken = dir.path().join("secrets.yaml");
    std::fs::write(&broken, text.replacen("secrets:", "secret:", 1)).unwrap();
    let mut cmd = common::secretgate_at(&fake);
    cmd.arg("--manifest").arg(&broken).args(["audit", "--live", "--format", "json"]);
    let run = common::run(&mut cmd);
    assert_eq!(run.code, 1, "{run}");
    assert!(fake.requests().is_empty(), "requests: {:?}", fake.requests());
}

/// With `--live`, a required secret the deployed service lacks is `unmapped` in the matrix,
/// counted against coverage, and a secret only the deployed service maps is no orphan.
#[test]
fn live_audit_marks_unmapped_cells() {
    let fake = live_fake();
    fake.set_service("acme-live", deployed_api()).expect("the service is set");
    let run = audit_fake(&fake, &["--live"]);
    assert_eq!(run.code, 0, "stderr:\n{}", run.stderr);
    let report: Value = serde_json::from_str(&run.stdout).expect("JSON");
    let both = |cell: &str| serde_json::json!({"staging": cell, "production": cell});
    assert_eq!(row(&report, "api", "API_KEY")["cells"], both("unmapped"));
    assert_eq!(row(&report, "api", "DB_PASSWORD")["cells"], both("ok"));
    assert_eq!(report["coverage"], serde_json::json!({"ok": 2, "total": 4}));
    assert_eq!(report["perServiceStates"]["api"], serde_json::json!({"ok": 2, "unmapped": 2}));
    assert_eq!(orphans(&report), ["acme-live/stray-token"], "HAND_TOKEN's secret is in use");
    let reads = fake.requests().into_iter().filter(|r| r.route == Route::GetService).count();
    assert_eq!(reads, 2, "one read of the service per environment");

    let without = audit_fake(&fake, &[]);
    let report: Value = serde_json::from_str(&without.stdout).expect("JSON");
    assert_eq!(row(&report, "api", "API_KEY")["cells"], both("ok"), "no --live, no unmapped");
    assert_eq!(orphans(&report), ["acme-live/hand-given-token", "acme-live/stray-token"]);
}

/// The secret id a Secret Manager request is about, if any: `…/secrets/ID[/…|:…]`.
fn requested_secret(path: &str) -> Option<String> {
    let path = path.split('?').next().unwrap_or_default();
    let rest = path.split("/secrets/").nth(1)?;
    Some(rest.split(['/', ':']).next().unwrap_or_default().to_string())
}

/// Two environments in one project, sharing `db-password`: the project is listed once, and
/// each declared secret's versions and IAM policy are read once, whatever the number of
/// environments using it. The sidecar's `collector-config`, which only the spec maps, has its
/// versions read once too (the deploy gate verifies it), and no IAM policy. The report's
/// `requests` matches the fake's log.
#[test]
fn environments_sharing_a_project_read_each_secret_once() {
    let fake = live_fake();
    let run = audit_fake(&fake, &[]);
    assert_eq!(run.code, 0, "stderr:\n{}", run.stderr);
    let report: Value = serde_json::from_str(&run.stdout).expect("JSON");
    let requests = fake.requests();
    let lists: Vec<_> = requests.iter().filter(|r| r.route == Route::ListSecrets).collect();
    assert_eq!(lists.len(), 1, "{lists:#?}");
    assert!(lists[0].path.contains("/projects/acme-live/secrets"), "{lists:#?}");
    let declared = ["api-key-production", "api-key-staging", "db-password"];
    let referenced = ["api-key-production", "api-key-staging", "collector-config", "db-password"];
    for (route, expected) in
        [(Route::ListVersions, &referenced[..]), (Route::GetIamPolicy, &declared)]
    {
        let mut seen: Vec<String> = requests
            .iter()
            .filter(|r| r.route == route)
            .filter_map(|r| requested_secret(&r.path))
            .collect();
        seen.sort();
        assert_eq!(seen, expected, "{route:?}: each secret once");
    }
    assert_eq!(report["requests"], serde_json::json!(requests.len()), "{requests:#?}");
}

// --- What the deploy gate would refuse -------------------------------------------------------

/// A project of one service, `api`, in a temporary folder: `manifest` as secrets.yaml, `spec`
/// as api.yaml, and a snapshot of project `acme-stg` holding `secrets`, each as (id, state of
/// its one version, whether its IAM policy was captured).
fn gate_project(manifest: &str, spec: &str, secrets: &[(&str, &str, bool)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("secrets.yaml"), manifest).unwrap();
    std::fs::write(dir.path().join("api.yaml"), spec).unwrap();
    let entries: Vec<Value> = secrets
        .iter()
        .map(|(id, state, policy)| {
            let name = format!("projects/acme-stg/secrets/{id}");
            let mut entry = serde_json::json!({
                "secret": {"name": name},
                "versions": [{"name": format!("{name}/versions/1"), "state": state,
                              "createTime": "2026-01-01T00:00:00Z"}],
            });
            if *policy {
                let member = "serviceAccount:run@acme-stg.iam.gserviceaccount.com";
                entry["iamPolicy"] = serde_json::json!({"bindings": [
                    {"role": "roles/secretmanager.secretAccessor", "members": [member]}]});
            }
            entry
        })
        .collect();
    let snapshot = serde_json::json!({
        "snapshotVersion": 1,
        "capturedAt": jiff::Timestamp::now().to_string(),
        "projects": {"acme-stg": {"secrets": entries}},
    });
    std::fs::write(dir.path().join("snapshot.json"), snapshot.to_string()).unwrap();
    dir
}

/// The manifest of [`gate_project`]: `APP_KEY` required, `extra` added at the top level and
/// `entries` under the service's secrets.
fn gate_manifest(extra: &str, entries: &str) -> String {
    let head = [
        "version: 1",
        "environments:",
        "  staging:",
        "    project: acme-stg",
        "    region: us-central1",
        "    service_account: run@acme-stg.iam.gserviceaccount.com",
    ];
    let services =
        ["services:", "  api:", "    spec: api.yaml", "    container: app", "    secrets:"];
    let app = "      APP_KEY: {secret: app-key}\n";
    format!("{}\n{extra}{}\n{app}{entries}", head.join("\n"), services.join("\n"))
}

/// The spec of [`gate_project`]: the app container, and `sidecar` (containers) after it.
fn gate_spec(sidecar: &str) -> String {
    let lines = [
        "apiVersion: serving.knative.dev/v1",
        "kind: Service",
        "metadata: {name: api}",
        "spec:",
        "  template:",
        "    spec:",
        "      containers:",
        "      - {name: app, image: app, ports: [{containerPort: 8080}]}",
    ];
    format!("{}\n{sidecar}", lines.join("\n"))
}

/// Regression: a secret whose `expireTime` did not parse was audited as one that never expires:
/// its cell was `ok` and its hygiene row said `"expireTime": null`. The cell is `unverified`
/// now, and the mapping has no hygiene row, since its expiry is not known.
#[test]
fn a_malformed_expiry_is_unverified_not_never() {
    let dir = gate_project(&gate_manifest("", ""), &gate_spec(""), &USABLE[..1]);
    let snapshot = dir.path().join("snapshot.json");
    let mut doc: Value =
        serde_json::from_str(&std::fs::read_to_string(&snapshot).unwrap()).unwrap();
    doc["projects"]["acme-stg"]["secrets"][0]["secret"]["expireTime"] = "garbage".into();
    std::fs::write(&snapshot, doc.to_string()).unwrap();

    let run = audit_with(&dir.path().join("secrets.yaml"), &[snapshot], &["--format", "json"]);
    let report = run.json();
    assert_eq!(row(&report, "api", "APP_KEY")["cells"]["staging"], "unverified", "{run}");
    assert_eq!(report["hygiene"], Value::Array(vec![]), "{run}");
}

/// An optional entry of [`gate_manifest`]: `OPT_KEY` from `opt-key`.
const OPTIONAL: &str = "      OPT_KEY: {secret: opt-key, required: false}\n";

/// Secrets of [`gate_project`] in which every entry resolves.
const USABLE: &[(&str, &str, bool)] = &[("app-key", "ENABLED", true), ("opt-key", "ENABLED", true)];

/// One problem that the deploy gate refuses on: the project, what the required `APP_KEY` cell
/// must be, and the line of the list of refused deploys.
struct Refusal {
    case: &'static str,
    dir: tempfile::TempDir,
    cell: &'static str,
    refused: &'static str,
}

impl Refusal {
    fn new(
        case: &'static str,
        (manifest, spec): (String, String),
        secrets: &[(&str, &str, bool)],
        (cell, refused): (&'static str, &'static str),
    ) -> Refusal {
        Refusal { case, dir: gate_project(&manifest, &spec, secrets), cell, refused }
    }

    /// `deploy` refuses, `audit --fail-under 100` fails, the cell is as expected and the
    /// refusal is listed.
    fn assert_refused_by_both(&self) {
        let (case, manifest) = (self.case, self.dir.path().join("secrets.yaml"));
        let snapshot = self.dir.path().join("snapshot.json");
        let mut deploy = common::secretgate();
        deploy.arg("--manifest").arg(&manifest);
        deploy.args(["deploy", "--env", "staging", "--dry-run", "--snapshot"]).arg(&snapshot);
        let deploy = common::run(&mut deploy);
        assert!([1, 3].contains(&deploy.code), "{case}: the gate refuses\n{deploy}");

        let args = ["--format", "json", "--fail-under", "100"];
        let run = audit_with(&manifest, std::slice::from_ref(&snapshot), &args);
        assert_eq!(run.code, 1, "{case}\n{run}");
        let report = run.json();
        let cell = &row(&report, "api", "APP_KEY")["cells"]["staging"];
        assert_eq!(cell, self.cell, "{case}\n{run}");
        let table = audit_with(&manifest, &[snapshot], &[]);
        let line = format!("api in staging: {}", self.refused);
        assert!(table.stdout.contains(&line), "{case}: `{line}`\n{table}");
    }
}

/// Regression: with a problem that the deploy gate refuses on but no required entry shows (an
/// environment name that is not defined, an optional entry's error, an IAM policy not in the
/// snapshot, a sidecar mapping the optional entry's disabled secret), `audit --fail-under 100`
/// passed while `deploy` refused. Now the audit fails whenever the deploy is refused, the
/// required cell is `blocked` (or `invalid`, for what concerns the whole manifest), and the
/// refusal is listed with its rule.
#[test]
fn audit_is_not_full_when_the_gate_refuses_the_deploy() {
    let sidecar = "      - name: side\n        image: side\n        env:\n        - name: OPT_KEY\n\
                   \x20         valueFrom: {secretKeyRef: {name: opt-key, key: latest}}\n";
    let unknown_env =
        format!("{}  web: {{spec: api.yaml, environments: [stagin]}}\n", gate_manifest("", ""));
    let must_pin = gate_manifest("policy: {pin_versions: [staging]}\n", OPTIONAL)
        .replace("{secret: app-key}", "{secret: app-key, version: 1}");
    let proc = "      /proc/opt/key: {secret: opt-key, required: false}\n";
    let bad_id = "      OPT_KEY: {secret: 'opt key!', required: false}\n";
    let refusals = [
        Refusal::new(
            "pin_versions names an unknown environment",
            (gate_manifest("policy: {pin_versions: [nope]}\n", ""), gate_spec("")),
            USABLE,
            ("invalid", "unknown-environment"),
        ),
        Refusal::new(
            "another service's environments name an unknown one",
            (unknown_env, gate_spec("")),
            USABLE,
            ("invalid", "unknown-environment"),
        ),
        Refusal::new(
            "an optional entry in an environment that must pin",
            (must_pin, gate_spec("")),
            USABLE,
            ("blocked", "unpinned-version (OPT_KEY)"),
        ),
        Refusal::new(
            "an optional file under /proc",
            (gate_manifest("", proc), gate_spec("")),
            USABLE,
            ("blocked", "invalid-mount-path (/proc/opt/key)"),
        ),
        Refusal::new(
            "an optional entry with an invalid secret id",
            (gate_manifest("", bad_id), gate_spec("")),
            USABLE,
            ("blocked", "invalid-secret-id (OPT_KEY)"),
        ),
        Refusal::new(
            "an optional entry's IAM policy is not in the snapshot",
            (gate_manifest("", OPTIONAL), gate_spec("")),
            &[("app-key", "ENABLED", true), ("opt-key", "ENABLED", false)],
            ("blocked", "verification-incomplete (OPT_KEY)"),
        ),
        Refusal::new(
            "a sidecar maps the optional entry's disabled secret",
            (gate_manifest("", OPTIONAL), gate_spec(sidecar)),
            &[("app-key", "ENABLED", true), ("opt-key", "DISABLED", true)],
            ("blocked", "latest-unusable (OPT_KEY)"),
        ),
    ];
    for refusal in &refusals {
        refusal.assert_refused_by_both();
    }

    // The same project without the problem: the gate passes, and so does the audit.
    let dir = gate_project(&gate_manifest("", OPTIONAL), &gate_spec(""), USABLE);
    let run = audit_with(
        &dir.path().join("secrets.yaml"),
        &[dir.path().join("snapshot.json")],
        &["--format", "json", "--fail-under", "100"],
    );
    assert_eq!(run.code, 0, "{run}");
    assert_eq!(run.json()["refused"], serde_json::json!([]), "{run}");
}

/// Regression: `audit` listed what to read before reading the specs, so a runtime account that
/// only the spec names (`serviceAccountName`) got no IAM policy read. Every declared secret's
/// policy is read now, as `check` reads it.
#[test]
fn an_account_only_the_spec_names_has_its_policies_read() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = std::fs::read_to_string(live_fixture().join("secrets.yaml")).unwrap();
    let without: String = manifest
        .lines()
        .filter(|l| !l.contains("service_account"))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_ne!(without, manifest);
    std::fs::write(dir.path().join("secrets.yaml"), without).unwrap();
    std::fs::copy(live_fixture().join("api.yaml"), dir.path().join("api.yaml")).unwrap();
    let fake = live_fake();
    let mut cmd = common::secretgate_at(&fake);
    cmd.arg("--manifest").arg(dir.path().join("secrets.yaml"));
    let run = common::run(cmd.args(["audit", "--format", "json", "--max-rps", "1000"]));
    assert_eq!(run.code, 0, "{run}");
    let mut read: Vec<String> = fake
        .requests()
        .iter()
        .filter(|r| r.route == Route::GetIamPolicy)
        .filter_map(|r| requested_secret(&r.path))
        .collect();
    read.sort();
    assert_eq!(read, ["api-key-production", "api-key-staging", "db-password"]);
}

//! Cloud Run specs written by other people, and fixtures of our own that reproduce each kind of
//! defect found in them.
//!
//! The real files live outside the repository, in `../shared/realworld/` beside the work tree
//! (its README says where each comes from and what is wrong with it). They are never copied
//! into the repository: each test copies one into a temporary folder next to a manifest of its
//! own. When the folder is absent the test says so and passes.

mod common;

use std::path::{Path, PathBuf};

const REALWORLD: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/realworld");
const OWN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/realworld-like");

/// One finding as the JSON output gives it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Finding {
    file: String,
    line: u64,
    column: u64,
    code: String,
    severity: String,
    message: String,
}

struct Lint {
    code: i32,
    findings: Vec<Finding>,
}

/// Runs `lint` on a manifest in every output format: none may panic or exit with anything but
/// 0 or 1. Returns the exit code and the findings of the JSON output.
fn lint(manifest: &Path) -> Lint {
    let mut json = None;
    for format in ["json", "human", "sarif", "github"] {
        let mut cmd = common::secretgate();
        let run =
            common::run(cmd.arg("lint").arg("--manifest").arg(manifest).args(["--format", format]));
        assert!(
            matches!(run.code, 0 | 1),
            "{format}: exit code {}; stderr:\n{}",
            run.code,
            run.stderr
        );
        if format == "json" {
            json = Some(run);
        }
    }
    let run = json.expect("the JSON format ran");
    let (code, doc) = (run.code, run.json());
    let findings = doc["diagnostics"]
        .as_array()
        .expect("a diagnostics array")
        .iter()
        .map(|d| Finding {
            file: d["location"]["file"].as_str().unwrap_or_default().to_string(),
            line: d["location"]["line"].as_u64().unwrap_or(0),
            column: d["location"]["column"].as_u64().unwrap_or(0),
            code: d["code"].as_str().unwrap_or_default().to_string(),
            severity: d["severity"].as_str().unwrap_or_default().to_string(),
            message: d["message"].as_str().unwrap_or_default().to_string(),
        })
        .collect();
    Lint { code, findings }
}

/// What one finding must be: its code, where it is, and words of its message.
struct Expect {
    code: &'static str,
    file: &'static str,
    line: u64,
    column: u64,
    says: &'static str,
}

const fn at(code: &'static str, file: &'static str, line: u64, column: u64) -> Expect {
    Expect { code, file, line, column, says: "" }
}

const fn saying(code: &'static str, file: &'static str, line: u64, says: &'static str) -> Expect {
    Expect { code, file, line, column: 0, says }
}

/// Asserts that `findings` are exactly `expected`, in file order.
fn assert_findings(what: &str, findings: &[Finding], expected: &[Expect]) {
    let shown = |fs: &[Finding]| {
        fs.iter()
            .map(|f| format!("  {}:{}:{} {} {}", f.file, f.line, f.column, f.code, f.message))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(
        findings.len(),
        expected.len(),
        "{what}: expected {} findings, got:\n{}",
        expected.len(),
        shown(findings)
    );
    for (found, want) in findings.iter().zip(expected) {
        let ok = found.code == want.code
            && found.file == want.file
            && found.line == want.line
            && (want.column == 0 || found.column == want.column)
            && found.message.contains(want.says);
        assert!(
            ok,
            "{what}: expected {} at {}:{}:{} saying {:?}, got:\n{}",
            want.code,
            want.file,
            want.line,
            want.column,
            want.says,
            shown(findings)
        );
    }
}

/// One real file and what lint must say about it.
struct Case {
    file: &'static str,
    /// `container:` of the service in the manifest.
    container: Option<&'static str>,
    exit: i32,
    expected: &'static [Expect],
}

const MCP: &str = "deploy/mcp-langgraph-port-reserved.yaml";

const CASES: &[Case] = &[
    // Two containers; only `app` declares a port, so it gets the secrets whether the manifest
    // names it or not. The collector's config comes from a secret of a numeric project through
    // an alias, which the manifest does not declare: a warning, not an error.
    Case {
        file: "otlp-demo-sidecar-alias.yaml",
        container: Some("app"),
        exit: 0,
        expected: &[saying(
            "undeclared-secret",
            "deploy/otlp-demo-sidecar-alias.yaml",
            48,
            "`/etc/otelcol-google/config.yaml` comes from secret `otlp-config`",
        )],
    },
    Case {
        file: "otlp-demo-sidecar-alias.yaml",
        container: None,
        exit: 0,
        expected: &[at("undeclared-secret", "deploy/otlp-demo-sidecar-alias.yaml", 48, 23)],
    },
    Case {
        file: "otlp-demo-sidecar-alias.yaml",
        container: Some("collecter"),
        exit: 1,
        expected: &[
            saying("unknown-container", "secrets.yaml", 9, "no container `collecter`"),
            at("undeclared-secret", "deploy/otlp-demo-sidecar-alias.yaml", 48, 23),
        ],
    },
    // Sets the reserved PORT; seven env vars come from secrets the manifest does not declare.
    Case {
        file: "mcp-langgraph-port-reserved.yaml",
        container: None,
        exit: 1,
        expected: &[
            saying("reserved-env-name", MCP, 50, "`PORT`"),
            saying("undeclared-secret", MCP, 67, "`JWT_SECRET_KEY`"),
            saying("undeclared-secret", MCP, 73, "`ANTHROPIC_API_KEY`"),
            saying("undeclared-secret", MCP, 79, "`OPENAI_API_KEY`"),
            saying("undeclared-secret", MCP, 89, "`OPENFGA_STORE_ID`"),
            saying("undeclared-secret", MCP, 95, "`OPENFGA_MODEL_ID`"),
            saying("undeclared-secret", MCP, 102, "`INFISICAL_CLIENT_ID`"),
            saying("undeclared-secret", MCP, 108, "`INFISICAL_CLIENT_SECRET`"),
        ],
    },
    // `image: %SAMPLE_APP_IMAGE%` on line 21: `%` cannot start a plain YAML value.
    Case {
        file: "gmp-newrelic-sidecar.yaml",
        container: Some("app"),
        exit: 1,
        expected: &[Expect {
            code: "yaml-syntax",
            file: "deploy/gmp-newrelic-sidecar.yaml",
            line: 21,
            column: 16,
            says: "`%'",
        }],
    },
    Case {
        file: "v2-kcc-runservice-secret-volume.json",
        container: None,
        exit: 1,
        expected: &[saying(
            "not-a-cloud-run-service",
            "deploy/v2-kcc-runservice-secret-volume.json",
            1,
            "Admin API v2 shape",
        )],
    },
    Case {
        file: "v2-kcc-runjob-secret-env.json",
        container: None,
        exit: 1,
        expected: &[saying(
            "not-a-cloud-run-service",
            "deploy/v2-kcc-runjob-secret-env.json",
            1,
            "a Cloud Run job",
        )],
    },
    Case {
        file: "krm-kcc-runservice-secret-sample.yaml",
        container: None,
        exit: 1,
        expected: &[Expect {
            code: "not-a-cloud-run-service",
            file: "deploy/krm-kcc-runservice-secret-sample.yaml",
            line: 15,
            column: 13,
            says: "Config Connector `RunService`",
        }],
    },
];

/// A manifest with one service whose spec is `deploy/<file>`.
fn manifest_for(file: &str, container: Option<&str>) -> String {
    let container = container.map(|c| format!("    container: {c}\n")).unwrap_or_default();
    format!(
        "version: 1\n\
         environments:\n  \
           prod:\n    \
             project: example-project\n    \
             region: us-central1\n\
         services:\n  \
           svc:\n    \
             spec: deploy/{file}\n\
         {container}"
    )
}

#[test]
fn realworld_specs() {
    let folder = PathBuf::from(REALWORLD);
    if !folder.is_dir() {
        eprintln!(
            "realworld_specs SKIPPED: {} does not exist; these specs are kept outside the \
             repository (see its README.md) and this test runs only where they are",
            folder.display()
        );
        return;
    }
    let mut names: Vec<String> = std::fs::read_dir(&folder)
        .expect("the realworld folder is readable")
        .map(|e| e.expect("a directory entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".yaml") || n.ends_with(".json"))
        .collect();
    names.sort();
    let mut covered: Vec<&str> = CASES.iter().map(|c| c.file).collect();
    covered.dedup();
    covered.sort();
    assert_eq!(names, covered, "every real spec needs a row in CASES, and every row a file");

    for case in CASES {
        let dir = tempfile::tempdir().expect("a temporary folder");
        std::fs::create_dir(dir.path().join("deploy")).unwrap();
        std::fs::copy(folder.join(case.file), dir.path().join("deploy").join(case.file))
            .expect("the real spec can be copied");
        let manifest = dir.path().join("secrets.yaml");
        std::fs::write(&manifest, manifest_for(case.file, case.container)).unwrap();
        let what = format!("{} with container {:?}", case.file, case.container);
        let result = lint(&manifest);
        assert_findings(&what, &result.findings, case.expected);
        assert_eq!(result.code, case.exit, "{what}: exit code");
    }
}

/// What lint must say about tests/fixtures/realworld-like, one spec per kind of real defect.
const OWN_EXPECTED: &[Expect] = &[
    Expect {
        code: "reserved-env-name",
        file: "deploy/reserved-port.yaml",
        line: 17,
        column: 17,
        says: "sets `PORT`, which Cloud Run reserves",
    },
    Expect {
        code: "yaml-syntax",
        file: "deploy/percent-placeholder.yaml",
        line: 13,
        column: 16,
        says: "unexpected character",
    },
    // In the sidecar; the manifest names the other container, `web`, and declares the secret.
    Expect {
        code: "invalid-version",
        file: "deploy/kubernetes-key.yaml",
        line: 28,
        column: 20,
        says: "`key: api_key` of `COLLECTOR_API_KEY` is not a Secret Manager version",
    },
    Expect {
        code: "alias-unresolved",
        file: "deploy/volume-without-secret-name.yaml",
        line: 22,
        column: 15,
        says: "secret volume `settings` names no secret",
    },
    saying("not-a-cloud-run-service", "deploy/v2-service.json", 1, "Admin API v2 shape"),
    saying("not-a-cloud-run-service", "deploy/v2-job.json", 1, "a Cloud Run job"),
    Expect {
        code: "not-a-cloud-run-service",
        file: "deploy/job.yaml",
        line: 2,
        column: 7,
        says: "a Cloud Run job, not a service",
    },
    Expect {
        code: "not-a-cloud-run-service",
        file: "deploy/config-connector.yaml",
        line: 1,
        column: 13,
        says: "Config Connector `RunService`",
    },
];

#[test]
fn realworld_like_fixtures() {
    let manifest = Path::new(OWN).join("secrets.yaml");
    let result = lint(&manifest);
    let mut findings = result.findings;
    // The JSON output sorts by file in reading order; compare in the order of OWN_EXPECTED.
    let order = |f: &Finding| OWN_EXPECTED.iter().position(|e| e.file == f.file);
    findings.sort_by_key(|f| (order(f), f.line, f.column));
    assert_findings("realworld-like", &findings, OWN_EXPECTED);
    assert_eq!(result.code, 1);
}

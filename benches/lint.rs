//! How much `lint` costs on top of parsing its input.
//!
//! Generates a large project in a temporary folder (200 services, 3 environments, 40 secrets
//! per service, one Cloud Run spec per service and environment), then times two things over the
//! same files: reading and parsing every file with `secretgate::yaml::parse`, and a full lint
//! through the library. The target is a lint at most twice as slow as the bare parse.
//!
//! A second project has one service with 20,000 mounted files, each in a directory of its own:
//! the rules that compare declared files with each other must stay linear in their number.
//!
//! `cargo bench --bench lint` runs the full size. Without `--bench` (as under
//! `cargo test --all-targets`) it runs a small project once, as a smoke test.

use secretgate::lint::{Project, lint};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const ENVIRONMENTS: [&str; 3] = ["dev", "staging", "production"];
const SECRETS_PER_SERVICE: usize = 40;
/// Entries from this index on are mounted files; the ones before are env vars.
const FIRST_FILE: usize = 30;
/// The entry that comes from another project, through an alias in the spec.
const SHARED: usize = 38;

/// The size of one run.
struct Size {
    services: usize,
    iterations: usize,
    /// Mounted files of the one service of the wide project.
    wide_files: usize,
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let size = if full {
        Size { services: 200, iterations: 10, wide_files: 20_000 }
    } else {
        Size { services: 10, iterations: 1, wide_files: 500 }
    };
    let dir = tempfile::tempdir().expect("create a temporary folder");
    let files = generate(dir.path(), size.services);
    let manifest = dir.path().join("secrets.yaml");
    let bytes: u64 = files.iter().map(|f| std::fs::metadata(f).map_or(0, |m| m.len())).sum();

    // A first pass of each warms the page cache and the allocator, and checks the input.
    parse_all(&files);
    let findings = lint_all(&manifest);
    assert_eq!(findings, 0, "the generated project should lint clean");

    let mut parse = Vec::new();
    let mut full_lint = Vec::new();
    for _ in 0..size.iterations {
        parse.push(time(|| parse_all(&files)));
        full_lint.push(time(|| {
            lint_all(&manifest);
        }));
    }
    print_table(&size, files.len(), bytes, &parse, &full_lint);
    wide(&size);
}

/// Times the wide project: parse and lint of one service with `size.wide_files` files.
fn wide(size: &Size) {
    let dir = tempfile::tempdir().expect("create a temporary folder");
    let files = generate_wide(dir.path(), size.wide_files);
    let manifest = &files[0];
    assert_eq!(lint_all(manifest), 0, "the wide project should lint clean");
    let mut parse = Vec::new();
    let mut full_lint = Vec::new();
    for _ in 0..size.iterations {
        parse.push(time(|| parse_all(&files)));
        full_lint.push(time(|| {
            lint_all(manifest);
        }));
    }
    let ms = |samples: &[Duration]| stats(samples).1.as_secs_f64() * 1000.0;
    println!();
    println!(
        "one service with {} mounted files: parse only {:.1} ms, full lint {:.1} ms (medians)",
        size.wide_files,
        ms(&parse),
        ms(&full_lint)
    );
}

/// Writes the wide project's manifest and spec; returns their paths, the manifest first.
fn generate_wide(root: &Path, files: usize) -> Vec<PathBuf> {
    let mut manifest = String::from(
        "version: 1\nenvironments:\n  dev: {project: acme-dev, region: us-central1}\nservices:\n  \
         wide:\n    spec: wide.yaml\n    secrets:\n",
    );
    for i in 0..files {
        writeln!(manifest, "      /secrets/d{i}/value: {{secret: wide-{i}}}").unwrap();
    }
    let spec = "apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata:\n  name: wide\n\
                spec:\n  template:\n    spec:\n      containers:\n      - image: app\n";
    let paths = vec![root.join("secrets.yaml"), root.join("wide.yaml")];
    std::fs::write(&paths[0], manifest).expect("write the manifest");
    std::fs::write(&paths[1], spec).expect("write the spec");
    paths
}

fn time(f: impl FnOnce()) -> Duration {
    let started = Instant::now();
    f();
    started.elapsed()
}

/// Reads and parses every file, as `lint` must at least do.
fn parse_all(files: &[PathBuf]) {
    for file in files {
        let bytes = std::fs::read(file).expect("read a generated file");
        let tree = secretgate::yaml::parse(&bytes).expect("the generated YAML parses");
        std::hint::black_box(tree);
    }
}

/// A full lint through the library; returns the number of findings.
fn lint_all(manifest: &Path) -> usize {
    let mut project = Project::load(manifest).expect("read the generated manifest");
    lint(&mut project, &[]).expect("every environment exists");
    std::hint::black_box(&project);
    project.diagnostics.len()
}

fn print_table(size: &Size, files: usize, bytes: u64, parse: &[Duration], lint: &[Duration]) {
    let (parse_min, parse_median) = stats(parse);
    let (lint_min, lint_median) = stats(lint);
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let ratio = |a: Duration, b: Duration| a.as_secs_f64() / b.as_secs_f64();
    let deployments = size.services * ENVIRONMENTS.len();
    println!(
        "{} services x {} environments x {SECRETS_PER_SERVICE} secrets: {files} files, {:.1} MiB, \
         {deployments} deployments, {} iterations",
        size.services,
        ENVIRONMENTS.len(),
        bytes as f64 / (1024.0 * 1024.0),
        size.iterations,
    );
    println!();
    println!("| measurement            | min (ms) | median (ms) |");
    println!("|------------------------|---------:|------------:|");
    println!("| parse only             | {:8.1} | {:11.1} |", ms(parse_min), ms(parse_median));
    println!("| full lint              | {:8.1} | {:11.1} |", ms(lint_min), ms(lint_median));
    println!(
        "| ratio lint / parse     | {:8.2} | {:11.2} |",
        ratio(lint_min, parse_min),
        ratio(lint_median, parse_median)
    );
}

/// The fastest and the median duration.
fn stats(samples: &[Duration]) -> (Duration, Duration) {
    let mut sorted = samples.to_vec();
    sorted.sort();
    (sorted[0], sorted[sorted.len() / 2])
}

/// Writes the manifest and every spec; returns their paths, the manifest first.
fn generate(root: &Path, services: usize) -> Vec<PathBuf> {
    let mut files = vec![root.join("secrets.yaml")];
    std::fs::write(&files[0], manifest(services)).expect("write the manifest");
    for env in ENVIRONMENTS {
        let folder = root.join("deploy").join(env);
        std::fs::create_dir_all(&folder).expect("create the spec folder");
        for service in 0..services {
            let path = folder.join(format!("{}.yaml", service_name(service)));
            std::fs::write(&path, spec(service, env)).expect("write a spec");
            files.push(path);
        }
    }
    files
}

fn service_name(service: usize) -> String {
    format!("svc-{service:03}")
}

fn project(env: &str) -> String {
    format!("sg-bench-{env}")
}

/// The version of a secret in an environment: `latest` in dev, a number elsewhere.
fn version(service: usize, secret: usize, env: &str) -> String {
    match env {
        "dev" => "latest".to_string(),
        "staging" => ((service * 7 + secret * 3) % 20 + 1).to_string(),
        _ => ((service * 5 + secret) % 30 + 1).to_string(),
    }
}

/// The env var name or file path of a secret entry.
fn target(secret: usize) -> String {
    if secret < FIRST_FILE {
        format!("APP_SETTING_{secret:02}")
    } else {
        format!("/secrets/f{secret:02}/value.txt")
    }
}

/// The secret id an entry resolves to in `env`, for the spec to agree with the manifest.
fn secret_id(service: usize, secret: usize, env: &str) -> String {
    let name = service_name(service);
    match secret % 3 {
        _ if secret == SHARED => "shared-tls".to_string(),
        0 => format!("{name}-s{secret:02}"),
        1 => format!("{name}-s{secret:02}-{env}"),
        _ => format!("{name}-plain-{secret:02}"),
    }
}

fn manifest(services: usize) -> String {
    let mut out = String::from("version: 1\n\nenvironments:\n");
    for env in ENVIRONMENTS {
        let p = project(env);
        let _ = writeln!(out, "  {env}:\n    project: {p}\n    region: europe-west1");
        let _ = writeln!(out, "    service_account: runtime@{p}.iam.gserviceaccount.com");
    }
    out.push_str("\npolicy:\n  pin_versions: [staging, production]\n");
    out.push_str("  required_classes: [auth, db]\n  max_version_age_days: 180\n\nservices:\n");
    for service in 0..services {
        let _ = writeln!(
            out,
            "  {}:\n    spec: deploy/{{env}}/{{service}}.yaml",
            service_name(service)
        );
        out.push_str("    secrets:\n");
        for secret in 0..SECRETS_PER_SERVICE {
            entry(&mut out, service, secret);
        }
    }
    out
}

fn entry(out: &mut String, service: usize, secret: usize) {
    let _ = writeln!(out, "      {}:", target(secret));
    let name = service_name(service);
    match secret % 3 {
        _ if secret == SHARED => {
            out.push_str("        secret: projects/sg-bench-shared/secrets/shared-tls\n");
        }
        0 => {
            let _ = writeln!(out, "        secret: \"{{service}}-s{secret:02}\"");
        }
        1 => {
            out.push_str("        secret:\n");
            for env in ENVIRONMENTS {
                let _ = writeln!(out, "          {env}: {}", secret_id(service, secret, env));
            }
        }
        _ => {
            let _ = writeln!(out, "        secret: {name}-plain-{secret:02}");
        }
    }
    let versions: Vec<String> = ENVIRONMENTS
        .iter()
        .map(|env| format!("{env}: {}", version(service, secret, env)))
        .collect();
    let _ = writeln!(out, "        version: {{{}}}", versions.join(", "));
    match secret % 4 {
        0 => out.push_str("        class: auth\n"),
        1 => out.push_str("        class: db\n"),
        2 => out.push_str("        class: api\n"),
        _ => out.push_str("        required: false\n"),
    }
}

/// A Cloud Run service export that already maps every other declared secret.
fn spec(service: usize, env: &str) -> String {
    let name = service_name(service);
    let p = project(env);
    let mut out = format!(
        "apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata:\n  name: {name}\n  \
         labels:\n    cloud.googleapis.com/location: europe-west1\nspec:\n  template:\n    \
         metadata:\n      annotations:\n        autoscaling.knative.dev/maxScale: '20'\n        \
         run.googleapis.com/secrets: shared-tls:projects/sg-bench-shared/secrets/shared-tls\n    \
         spec:\n      containerConcurrency: 80\n      serviceAccountName: \
         runtime@{p}.iam.gserviceaccount.com\n      containers:\n      - name: app\n        \
         image: europe-west1-docker.pkg.dev/{p}/apps/{name}:1.0.{service}\n        ports:\n        \
         - containerPort: 8080\n        env:\n        - name: ENVIRONMENT\n          value: {env}\n"
    );
    for secret in (0..FIRST_FILE).step_by(2) {
        let _ = write!(
            out,
            "        - name: {}\n          valueFrom:\n            secretKeyRef:\n              \
             name: {}\n              key: '{}'\n",
            target(secret),
            secret_id(service, secret, env),
            version(service, secret, env)
        );
    }
    out.push_str("        volumeMounts:\n");
    let files: Vec<usize> = (FIRST_FILE..SECRETS_PER_SERVICE).step_by(2).collect();
    for secret in &files {
        let _ =
            write!(out, "        - name: f{secret}\n          mountPath: /secrets/f{secret:02}\n");
    }
    out.push_str(
        "        resources:\n          limits:\n            cpu: '1'\n            memory: 512Mi\n",
    );
    if service.is_multiple_of(5) {
        out.push_str(
            "      - name: collector\n        image: otel/opentelemetry-collector:0.100.0\n",
        );
    }
    out.push_str("      volumes:\n");
    for secret in &files {
        let _ = write!(
            out,
            "      - name: f{secret}\n        secret:\n          secretName: {}\n          \
             items:\n          - key: '{}'\n            path: value.txt\n",
            secret_id(service, *secret, env),
            version(service, *secret, env)
        );
    }
    out.push_str("  traffic:\n  - percent: 100\n    latestRevision: true\n");
    out
}

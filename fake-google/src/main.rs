//! `fake-google`: runs the fake server from the command line, for scripts (benchmarks, gcloud
//! checks). Prints `listening on 127.0.0.1:PORT` once it accepts connections, then serves until
//! killed.

use clap::Parser;
use fake_google::{FakeConfig, FakeGoogle, Route};
use serde_json::Value;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// A fake Secret Manager v1 and Cloud Run Admin API v1 on 127.0.0.1.
#[derive(Debug, Parser)]
#[command(name = "fake-google", after_help = after_help(), max_term_width = 100)]
struct Args {
    /// Seed Secret Manager from a secretgate snapshot.
    #[arg(long, value_name = "FILE", value_parser = snapshot_file)]
    snapshot: Option<Value>,

    /// Listen on this port (default: a free one).
    #[arg(long, value_name = "N", default_value_t = 0, hide_default_value = true)]
    port: u16,

    /// Delay every answer by N milliseconds.
    #[arg(long, value_name = "N", default_value_t = 0)]
    latency_ms: u64,

    /// Print only the port number instead of `listening on 127.0.0.1:PORT`.
    #[arg(long)]
    print_port: bool,

    /// The largest page list calls return.
    #[arg(long, value_name = "N", default_value_t = FakeConfig::default().page_size_cap)]
    page_size_cap: usize,

    /// GETs that see a new revision as Unknown before it settles.
    #[arg(long, value_name = "N", default_value_t = FakeConfig::default().pending_gets)]
    pending_gets: u32,

    /// The region Cloud Run messages name.
    #[arg(long, default_value_t = FakeConfig::default().region)]
    region: String,

    /// Answer 401 to API calls without a token from POST /token.
    #[arg(long)]
    require_token: bool,

    /// Queue faults, e.g. `list-secrets=503*2,pass`, `/v1/projects/p=403*`, `*=delay:200`;
    /// faults: HTTP code, malformed, hang, pass, delay:MS (repeatable).
    #[arg(long, value_name = "SPEC")]
    fault: Vec<String>,

    /// Deploy a Knative service (JSON) in project P, already ready (repeatable).
    #[arg(long, value_name = "P=FILE", value_parser = project_file)]
    service: Vec<(String, PathBuf)>,
}

fn main() -> ExitCode {
    match run(Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("fake-google: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Starts the fake, announces it, and parks the main thread while the fake's thread serves.
fn run(args: Args) -> Result<(), String> {
    let config = FakeConfig {
        snapshot: args.snapshot,
        port: args.port,
        latency: Duration::from_millis(args.latency_ms),
        page_size_cap: args.page_size_cap,
        pending_gets: args.pending_gets,
        region: args.region,
        require_token: args.require_token,
        faults: args.fault,
    };
    let fake = FakeGoogle::spawn(config).map_err(|e| e.to_string())?;
    for (project, path) in &args.service {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let service = serde_json::from_str(&text)
            .map_err(|e| format!("{}: invalid JSON: {e}", path.display()))?;
        fake.set_service(project, service).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    let mut out = std::io::stdout().lock();
    let line = if args.print_port {
        fake.addr().port().to_string()
    } else {
        format!("listening on {}", fake.host())
    };
    writeln!(out, "{line}").and_then(|()| out.flush()).map_err(|e| e.to_string())?;
    drop(out);
    loop {
        std::thread::park();
    }
}

/// `--snapshot FILE`: the snapshot, read when the arguments are, so that a file that does not
/// read is an argument error.
fn snapshot_file(path: &str) -> Result<Value, String> {
    let config = FakeConfig::default().with_snapshot_file(&PathBuf::from(path));
    config.map(|c| c.snapshot.unwrap_or_default()).map_err(|e| e.0)
}

/// `--service P=FILE`: the project and the file.
fn project_file(spec: &str) -> Result<(String, PathBuf), String> {
    let (project, file) = spec.split_once('=').ok_or("use P=FILE")?;
    Ok((project.to_string(), PathBuf::from(file)))
}

/// What the options do not say: the control endpoints, and the targets faults take.
fn after_help() -> String {
    let routes: Vec<&str> = Route::ALL.iter().map(|r| r.name()).collect();
    format!(
        "Control endpoints: GET /_fake/requests, POST /_fake/reset, POST|DELETE /_fake/faults.\n\
         Fault targets: *, /PATH-PREFIX, {}.",
        routes.join(", ")
    )
}

//! `fake-google`: runs the fake server from the command line, for scripts (benchmarks, gcloud
//! checks). Prints `listening on 127.0.0.1:PORT` once it accepts connections, then serves until
//! killed.

use fake_google::{FakeConfig, FakeGoogle, Route};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

const USAGE: &str = "\
usage: fake-google [--snapshot FILE] [--port N] [--latency-ms N] [--print-port]
                   [--page-size-cap N] [--pending-gets N] [--region REGION] [--require-token]
                   [--fault TARGET=FAULT,...]... [--service PROJECT=FILE]...

  --snapshot FILE     seed Secret Manager from a secretgate snapshot
  --port N            listen on this port (default: a free one)
  --latency-ms N      delay every answer by N milliseconds
  --print-port        print only the port number instead of `listening on 127.0.0.1:PORT`
  --page-size-cap N   largest page list calls return (default 25000)
  --pending-gets N    GETs that see a new revision as Unknown before it settles (default 2)
  --region REGION     region for Cloud Run messages (default us-central1)
  --require-token     answer 401 to API calls without a token from POST /token
  --fault SPEC        queue faults, e.g. `list-secrets=503*2,pass`, `/v1/projects/p=403*`,
                      `*=delay:200`; faults: HTTP code, malformed, hang, pass, delay:MS
  --service P=FILE    deploy a Knative service (JSON) in project P, already ready

Control endpoints: GET /_fake/requests, POST /_fake/reset, POST|DELETE /_fake/faults.";

/// What the command line asks for.
struct Options {
    config: FakeConfig,
    print_port: bool,
    services: Vec<(String, PathBuf)>,
}

fn main() -> ExitCode {
    let options = match parse(std::env::args().skip(1)) {
        Ok(Some(o)) => o,
        Ok(None) => {
            println!("{}", usage());
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("fake-google: {e}\n\n{}", usage());
            return ExitCode::from(2);
        }
    };
    match run(options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("fake-google: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Starts the fake, announces it, and parks the main thread while the fake's thread serves.
fn run(options: Options) -> Result<(), String> {
    let fake = FakeGoogle::spawn(options.config).map_err(|e| e.to_string())?;
    for (project, path) in &options.services {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let service = serde_json::from_str(&text)
            .map_err(|e| format!("{}: invalid JSON: {e}", path.display()))?;
        fake.set_service(project, service).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    let mut out = std::io::stdout().lock();
    let line = if options.print_port {
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

/// Parses the arguments; `Ok(None)` asks for help.
fn parse(mut args: impl Iterator<Item = String>) -> Result<Option<Options>, String> {
    let mut options =
        Options { config: FakeConfig::default(), print_port: false, services: Vec::new() };
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value"));
        let config = &mut options.config;
        match flag.as_str() {
            "-h" | "--help" => return Ok(None),
            "--print-port" => options.print_port = true,
            "--require-token" => config.require_token = true,
            "--snapshot" => {
                let taken = std::mem::take(config);
                *config = taken.with_snapshot_file(&PathBuf::from(value()?)).map_err(|e| e.0)?;
            }
            "--port" => config.port = number(&flag, &value()?)?,
            "--latency-ms" => config.latency = Duration::from_millis(number(&flag, &value()?)?),
            "--page-size-cap" => config.page_size_cap = number(&flag, &value()?)?,
            "--pending-gets" => config.pending_gets = number(&flag, &value()?)?,
            "--region" => config.region = value()?,
            "--fault" => config.faults.push(value()?),
            "--service" => {
                let spec = value()?;
                let (project, file) =
                    spec.split_once('=').ok_or_else(|| format!("--service {spec}: use P=FILE"))?;
                options.services.push((project.to_string(), PathBuf::from(file)));
            }
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    Ok(Some(options))
}

fn number<T: std::str::FromStr>(flag: &str, text: &str) -> Result<T, String> {
    text.parse().map_err(|_| format!("{flag}: `{text}` is not a valid number"))
}

/// The usage text with the route names fault specs accept.
fn usage() -> String {
    let routes: Vec<&str> = Route::ALL.iter().map(|r| r.name()).collect();
    format!("{USAGE}\nFault targets: *, /PATH-PREFIX, {}.", routes.join(", "))
}

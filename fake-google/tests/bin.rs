//! The `fake-google` binary: announces its address once ready, serves the snapshot, takes fault
//! flags, and rejects bad arguments.

mod common;

use common::{PROJECT, client, snapshot};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// The running binary, killed when dropped.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the binary and returns it with its first stdout line.
fn start(args: &[&str]) -> (Running, String) {
    let child = Command::new(env!("CARGO_BIN_EXE_fake-google"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the binary starts");
    let mut running = Running(child);
    let stdout = running.0.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).expect("a first line");
    (running, line.trim().to_string())
}

#[test]
fn serves_a_snapshot_file_with_faults_from_flags() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("snapshot.json");
    std::fs::write(&file, snapshot().to_string()).unwrap();
    let file = file.to_string_lossy().into_owned();
    let (_fake, line) =
        start(&["--snapshot", &file, "--fault", "list-secrets=503", "--latency-ms", "1"]);
    let host = line.strip_prefix("listening on ").unwrap_or_else(|| panic!("got `{line}`"));
    assert!(host.starts_with("127.0.0.1:"));
    let url = format!("http://{host}/v1/projects/{PROJECT}/secrets");
    assert_eq!(client().get(&url).send().unwrap().status().as_u16(), 503);
    assert_eq!(client().get(&url).send().unwrap().status().as_u16(), 200);
    let log: serde_json::Value =
        client().get(format!("http://{host}/_fake/requests")).send().unwrap().json().unwrap();
    assert_eq!(log.as_array().map(Vec::len), Some(2));
}

#[test]
fn print_port_prints_only_the_port() {
    let (_fake, line) = start(&["--print-port"]);
    let port: u16 = line.parse().unwrap_or_else(|_| panic!("got `{line}`"));
    let url = format!("http://127.0.0.1:{port}/v1/projects/x/secrets");
    assert_eq!(client().get(url).send().unwrap().status().as_u16(), 403);
}

#[test]
fn bad_arguments_are_refused() {
    for args in [&["--port"][..], &["--bogus"], &["--fault", "nothing=503"]] {
        let output = Command::new(env!("CARGO_BIN_EXE_fake-google")).args(args).output().unwrap();
        let code = output.status.code();
        assert!(matches!(code, Some(1 | 2)), "{args:?} exited {code:?}");
        assert!(!output.stderr.is_empty());
    }
}

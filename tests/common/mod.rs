//! What the integration tests share: the binary run with a fixed environment, and a fake Google
//! server that fails the test when anything asked it for a secret payload.

#![allow(dead_code, reason = "each test file uses the helpers it needs, none uses them all")]

use assert_cmd::Command;
use fake_google::{FakeConfig, FakeGoogle, RequestRecord, Route};
use serde_json::Value;
use std::time::Duration;

/// How long one run may take: far more than any needs, so that only a hang reaches it.
pub const RUN_LIMIT: Duration = Duration::from_secs(120);

/// Variables of the test's own environment that would change what a run does: colour, logs,
/// credentials and emulator hosts.
const INHERITED: &[&str] = &[
    "CLICOLOR_FORCE",
    "RUST_LOG",
    "GOOGLE_APPLICATION_CREDENTIALS",
    "SECRETMANAGER_EMULATOR_HOST",
    "RUN_EMULATOR_HOST",
];

/// The binary with a fixed environment: no colour, a terminal width of 100 (clap measures the
/// terminal, and none is one here), none of [`INHERITED`], and stdin a pipe, so that there is
/// no terminal to ask on.
pub fn secretgate() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_secretgate"));
    cmd.env("NO_COLOR", "1").env("COLUMNS", "100").timeout(RUN_LIMIT);
    for name in INHERITED {
        cmd.env_remove(name);
    }
    cmd
}

/// [`secretgate`] with Secret Manager and Cloud Run at `fake`.
pub fn secretgate_at(fake: &FakeGoogle) -> Command {
    let mut cmd = secretgate();
    cmd.env("SECRETMANAGER_EMULATOR_HOST", fake.host()).env("RUN_EMULATOR_HOST", fake.host());
    cmd
}

/// What one run printed, and its exit code.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Stdout and stderr together, for what must appear in neither.
    pub fn all(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }

    /// Stdout as a JSON document.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!("stdout is not JSON ({e}):\n{}\nstderr:\n{}", self.stdout, self.stderr)
        })
    }
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "exit {}\n--- stdout\n{}--- stderr\n{}", self.code, self.stdout, self.stderr)
    }
}

/// Runs `cmd`; the test fails when it was killed (a hang past [`RUN_LIMIT`] included), printed
/// anything but UTF-8, or panicked.
pub fn run(cmd: &mut Command) -> Run {
    let output = cmd.output().expect("the secretgate binary runs");
    let text = |bytes: Vec<u8>| String::from_utf8(bytes).expect("the output is UTF-8");
    let run = Run {
        code: output.status.code().expect("secretgate exits with a code (it was not killed)"),
        stdout: text(output.stdout),
        stderr: text(output.stderr),
    };
    assert!(!run.stderr.contains("panicked"), "secretgate panicked:\n{run}");
    run
}

/// A running fake Google server that, when the test ends, fails it if any request tried to read
/// a secret payload (`:access`).
pub struct Fake(FakeGoogle);

impl std::ops::Deref for Fake {
    type Target = FakeGoogle;
    fn deref(&self) -> &FakeGoogle {
        &self.0
    }
}

impl Drop for Fake {
    fn drop(&mut self) {
        if std::thread::panicking() {
            return;
        }
        let accesses = self.0.accesses();
        assert!(accesses.is_empty(), "secret payloads were requested: {accesses:?}");
    }
}

impl Fake {
    /// Starts a fake with `config`.
    pub fn start(config: FakeConfig) -> Fake {
        Fake(FakeGoogle::spawn(config).expect("the fake starts"))
    }

    /// Starts a fake seeded with `seed` (a snapshot document), after `tweak` changed its
    /// configuration.
    pub fn seeded(seed: Value, tweak: impl FnOnce(&mut FakeConfig)) -> Fake {
        let mut config = FakeConfig { snapshot: Some(seed), ..FakeConfig::default() };
        tweak(&mut config);
        Fake::start(config)
    }

    /// The requests of one route.
    pub fn routed(&self, route: Route) -> Vec<RequestRecord> {
        self.requests().into_iter().filter(|r| r.route == route).collect()
    }

    /// API requests, without the token endpoint's.
    pub fn api_requests(&self) -> Vec<RequestRecord> {
        self.requests().into_iter().filter(|r| r.route != Route::Token).collect()
    }
}

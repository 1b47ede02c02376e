//! A fake Google server for secretgate's tests: Secret Manager v1 (read side) and the Cloud Run
//! Admin API v1 (Knative services), plus an OAuth token endpoint, speaking the real REST wire
//! format (paths, camelCase JSON, enum names or numbers, Google's error envelope).
//!
//! It listens on `127.0.0.1` (a random port by default); point clients at it with
//! `SECRETMANAGER_EMULATOR_HOST` / `RUN_EMULATOR_HOST` set to [`FakeGoogle::host`], or with
//! gcloud's `api_endpoint_overrides`. Secret Manager is seeded from a secretgate snapshot.
//! Faults (error codes, garbage, hangs, delays) can be queued per route or path prefix, and
//! every request is logged so tests can assert what a client did — notably that it never read a
//! secret payload ([`FakeGoogle::accesses`]).
//!
//! ```no_run
//! use fake_google::{FakeConfig, FakeGoogle, Fault, Route};
//!
//! let snapshot = serde_json::json!({"snapshotVersion": 1, "capturedAt": "2026-01-01T00:00:00Z",
//!     "projects": {"my-project": {"secrets": []}}});
//! let fake = FakeGoogle::spawn(FakeConfig { snapshot: Some(snapshot), ..FakeConfig::default() })
//!     .expect("fake starts");
//! fake.inject(Route::ListSecrets, vec![Fault::Status(503), Fault::Status(503)]);
//! // run the client with SECRETMANAGER_EMULATOR_HOST=fake.host() …
//! assert!(fake.accesses().is_empty());
//! ```

mod faults;
mod google;
mod http;
mod run;
mod secrets;
mod state;
mod time;

pub use faults::{Fault, Route, Target};
pub use state::RequestRecord;

use faults::parse_spec;
use run::Ctx;
use secrets::SecretStore;
use serde_json::Value;
use state::{Settings, Shared, State};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// How long a fake running on its own thread waits for open requests when dropped.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// How the fake starts.
#[derive(Clone, Debug)]
pub struct FakeConfig {
    /// Secret Manager contents, in secretgate's snapshot format; `None` for no projects at all
    /// (every project then answers 403, as an unknown project does).
    pub snapshot: Option<Value>,
    /// The port to listen on; 0 picks a free one.
    pub port: u16,
    /// Added before every answer.
    pub latency: Duration,
    /// The largest page list calls return (Secret Manager's is 25000); lower it to make clients
    /// page.
    pub page_size_cap: usize,
    /// How many GETs of a service see a new revision as `Ready: Unknown` before its outcome
    /// (ready, or failed on a secret) shows.
    pub pending_gets: u32,
    /// The region Cloud Run messages and labels name.
    pub region: String,
    /// Reject API calls without a bearer token issued by `POST /token` (401).
    pub require_token: bool,
    /// Fault specs queued at start, as `TARGET=FAULT,…` (see [`FakeGoogle::inject_spec`]).
    pub faults: Vec<String>,
}

impl Default for FakeConfig {
    fn default() -> Self {
        FakeConfig {
            snapshot: None,
            port: 0,
            latency: Duration::ZERO,
            page_size_cap: 25_000,
            pending_gets: 2,
            region: "us-central1".into(),
            require_token: false,
            faults: Vec::new(),
        }
    }
}

impl FakeConfig {
    /// Reads `snapshot` from a snapshot file.
    pub fn with_snapshot_file(mut self, path: &Path) -> Result<FakeConfig, FakeError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| FakeError(format!("cannot read {}: {e}", path.display())))?;
        let value = serde_json::from_str(&text)
            .map_err(|e| FakeError(format!("{}: invalid JSON: {e}", path.display())))?;
        self.snapshot = Some(value);
        Ok(self)
    }
}

/// Why the fake could not start or take a change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FakeError(pub String);

impl std::fmt::Display for FakeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for FakeError {}

impl From<std::io::Error> for FakeError {
    fn from(e: std::io::Error) -> FakeError {
        FakeError(format!("cannot listen: {e}"))
    }
}

/// A running fake. Dropping it shuts it down; hung requests are then released.
#[derive(Debug)]
pub struct FakeGoogle {
    addr: SocketAddr,
    shared: Arc<Shared>,
    shutdown: watch::Sender<bool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FakeGoogle {
    /// Starts the fake on the current tokio runtime (for async tests).
    pub async fn start(config: FakeConfig) -> Result<FakeGoogle, FakeError> {
        let (shared, shutdown) = prepare(&config)?;
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", config.port)).await?;
        let addr = listener.local_addr()?;
        tokio::spawn(serve(listener, shared.clone()));
        Ok(FakeGoogle { addr, shared, shutdown, thread: None })
    }

    /// Starts the fake on a thread of its own with its own runtime, for synchronous tests that
    /// run a client as a subprocess. It is accepting connections when this returns.
    pub fn spawn(config: FakeConfig) -> Result<FakeGoogle, FakeError> {
        let (shared, shutdown) = prepare(&config)?;
        let listener = std::net::TcpListener::bind(("127.0.0.1", config.port))?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let serving = shared.clone();
        let thread = std::thread::Builder::new()
            .name(format!("fake-google-{}", addr.port()))
            .spawn(move || run_thread(listener, serving))?;
        Ok(FakeGoogle { addr, shared, shutdown, thread: Some(thread) })
    }

    /// The address listened on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `127.0.0.1:PORT`, the form `*_EMULATOR_HOST` variables take.
    pub fn host(&self) -> String {
        self.addr.to_string()
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every API request so far, oldest first.
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.shared.lock().log.clone()
    }

    /// Empties the request log.
    pub fn clear_requests(&self) {
        self.shared.lock().log.clear();
    }

    /// The paths of all attempts to read a secret payload (`…/versions/{v}:access`); the fake
    /// refuses them with 403, and tests normally assert this is empty.
    pub fn accesses(&self) -> Vec<String> {
        let log = self.requests().into_iter();
        log.filter(|r| r.route == Route::AccessVersion).map(|r| r.path).collect()
    }

    /// The access tokens `POST /token` has issued, oldest first.
    pub fn tokens(&self) -> Vec<String> {
        self.shared.lock().tokens.clone()
    }

    /// Queues faults, each answering one matching request, after any already queued.
    pub fn inject(&self, target: impl Into<Target>, faults: Vec<Fault>) {
        let steps = faults.into_iter().map(|f| (f, Some(1)));
        self.shared.lock().faults.push(target.into(), steps);
    }

    /// Queues a fault that answers every matching request from then on.
    pub fn inject_always(&self, target: impl Into<Target>, fault: Fault) {
        self.shared.lock().faults.push(target.into(), [(fault, None)]);
    }

    /// Queues faults from a spec: `TARGET=FAULT[,FAULT…]`, where TARGET is a route name
    /// (`list-secrets`, see [`Route::name`]), a path prefix starting with `/`, or `*`; and
    /// FAULT is an HTTP code, `malformed`, `hang`, `pass` or `delay:MS`, optionally followed by
    /// `*N` (N requests) or `*` (every request). Example: `list-secrets=503*2,pass,429`.
    pub fn inject_spec(&self, spec: &str) -> Result<(), FakeError> {
        let (target, steps) = parse_spec(spec).map_err(FakeError)?;
        self.shared.lock().faults.push(target, steps);
        Ok(())
    }

    /// Drops every queued fault.
    pub fn clear_faults(&self) {
        self.shared.lock().faults.clear();
    }

    /// Changes the latency added before every answer.
    pub fn set_latency(&self, latency: Duration) {
        self.shared.lock().settings.latency = latency;
    }

    /// Adds or replaces a secret, given as a snapshot entry
    /// (`{"secret": {...}, "versions": [...], "iamPolicy": {...}}`).
    pub fn set_secret(&self, project: &str, entry: Value) -> Result<(), FakeError> {
        self.shared.lock().secrets.upsert(project, entry).map_err(FakeError)
    }

    /// Deletes a secret; false when there was none.
    pub fn remove_secret(&self, project: &str, secret: &str) -> bool {
        self.shared.lock().secrets.remove(project, secret)
    }

    /// Stores a Knative service as deployed and ready (generation, revision, URL filled in).
    pub fn set_service(&self, project: &str, service: Value) -> Result<(), FakeError> {
        let mut state = self.shared.lock();
        let (services, ctx) = state.run_parts();
        services.put_ready(&ctx, project, service).map_err(|e| FakeError(e.message))
    }

    /// A service as stored, without counting as a poll.
    pub fn service(&self, project: &str, name: &str) -> Option<Value> {
        let state = self.shared.lock();
        let ctx = Ctx {
            secrets: &state.secrets,
            region: &state.settings.region,
            pending_gets: state.settings.pending_gets,
        };
        state.services.peek(&ctx, project, name)
    }
}

impl Drop for FakeGoogle {
    fn drop(&mut self) {
        self.shutdown.send_replace(true);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Builds the shared state from the config.
fn prepare(config: &FakeConfig) -> Result<(Arc<Shared>, watch::Sender<bool>), FakeError> {
    let secrets = match &config.snapshot {
        Some(snapshot) => SecretStore::from_snapshot(snapshot)
            .map_err(|e| FakeError(format!("invalid snapshot: {e}")))?,
        None => SecretStore::default(),
    };
    let settings = Settings {
        latency: config.latency,
        page_size_cap: config.page_size_cap.max(1),
        pending_gets: config.pending_gets,
        region: config.region.clone(),
        require_token: config.require_token,
    };
    let mut state = State::new(settings, secrets);
    for spec in &config.faults {
        let (target, steps) = parse_spec(spec).map_err(FakeError)?;
        state.faults.push(target, steps);
    }
    let (sender, receiver) = watch::channel(false);
    Ok((Arc::new(Shared::new(state, receiver)), sender))
}

/// Serves until shutdown, finishing the requests in flight.
async fn serve(listener: tokio::net::TcpListener, shared: Arc<Shared>) {
    let app = http::router(shared.clone());
    let stop = async move { shared.until_shutdown().await };
    if let Err(e) = axum::serve(listener, app).with_graceful_shutdown(stop).await {
        eprintln!("fake-google: server error: {e}");
    }
}

/// The body of a fake's own thread: a single-threaded runtime serving until shutdown, then at
/// most [`SHUTDOWN_GRACE`] for clients still holding connections.
fn run_thread(listener: std::net::TcpListener, shared: Arc<Shared>) {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build();
    let runtime = match runtime {
        Ok(r) => r,
        Err(e) => return eprintln!("fake-google: cannot start a runtime: {e}"),
    };
    runtime.block_on(async move {
        let listener = match tokio::net::TcpListener::from_std(listener) {
            Ok(l) => l,
            Err(e) => return eprintln!("fake-google: cannot listen: {e}"),
        };
        let grace = async {
            shared.until_shutdown().await;
            tokio::time::sleep(SHUTDOWN_GRACE).await;
        };
        tokio::select! {
            () = serve(listener, shared.clone()) => {}
            () = grace => {}
        }
    });
}

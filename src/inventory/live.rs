//! Reads Secret Manager metadata through the official client, with Application Default
//! Credentials, a per-project rate limit, bounded retries and a deadline.
//!
//! Requests per run: one paged `ListSecrets` per project, then per declared secret that exists
//! one `ListSecretVersions` and, when a runtime service account is known, one `GetIamPolicy`.
//! Secret payloads are never read: no call here reaches a version's `access` method.

use super::snapshot::{ProjectSnapshot, SNAPSHOT_VERSION, SecretSnapshot, Snapshot};
use super::{Inventory, ProjectInventory, listed, read_secret};
use futures::StreamExt;
use google_cloud_gax::retry_policy::NeverRetry;
use google_cloud_secretmanager_v1::client::SecretManagerService;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::{Mutex, Semaphore};
use tokio::time::Instant;

/// The environment variable that points secretgate at an emulator or fake (plain HTTP,
/// anonymous credentials), following Google's `*_EMULATOR_HOST` convention.
pub const EMULATOR_ENV: &str = "SECRETMANAGER_EMULATOR_HOST";

/// The credentials file variable of Application Default Credentials; with an emulator, setting
/// it sends the file's credentials to the emulator instead of none.
const CREDENTIALS_ENV: &str = "GOOGLE_APPLICATION_CREDENTIALS";

/// The production endpoint.
const DEFAULT_ENDPOINT: &str = "https://secretmanager.googleapis.com";

/// The largest page `ListSecrets` and `ListSecretVersions` accept.
const PAGE_SIZE: i32 = 25_000;

/// How the fetch is paced and bounded.
#[derive(Clone, Debug)]
pub struct FetchOptions {
    /// Requests in flight at once.
    pub concurrency: usize,
    /// Requests per second per project.
    pub max_rps: f64,
    /// `--timeout`, as messages name it.
    pub timeout: Duration,
    /// When everything must be answered: `timeout` after the command started, which may be
    /// before the fetch starts (ADC, other reads of the same run).
    pub deadline: std::time::Instant,
    /// Deadline for one attempt of one request.
    pub call_timeout: Duration,
}

/// What to read in one project: secret ids, each with whether its IAM policy is wanted.
pub type Wanted = BTreeMap<String, BTreeMap<String, bool>>;

/// The raw answers, in the API's JSON shapes, or why a part could not be read.
#[derive(Debug, Default)]
pub struct Fetched {
    pub projects: BTreeMap<String, Result<Vec<FetchedSecret>, String>>,
    pub requests: usize,
    pub endpoint: String,
}

/// One secret as read.
#[derive(Debug)]
pub struct FetchedSecret {
    pub secret: Value,
    /// `None` when the secret was not declared, so its versions were not listed.
    pub versions: Option<Result<Vec<Value>, String>>,
    pub iam_policy: Option<Result<Value, String>>,
}

impl Fetched {
    /// The inventory `check` uses.
    pub fn inventory(&self) -> Inventory {
        let mut projects = HashMap::new();
        for (project, result) in &self.projects {
            let state = match result {
                Err(reason) => ProjectInventory::Unverified(reason.clone()),
                Ok(secrets) => {
                    let ids = secrets.iter().map(|s| super::secret_id(&s.secret));
                    listed(ids.zip(secrets.iter().map(info)))
                }
            };
            projects.insert(project.clone(), state);
        }
        Inventory { projects, requests: self.requests, captured_at: None }
    }

    /// A snapshot of what was read; `Err` lists what could not be read, since a snapshot has no
    /// way to say "unknown".
    pub fn snapshot(&self, captured_at: String) -> Result<Snapshot, Vec<String>> {
        let mut problems = Vec::new();
        let mut projects = BTreeMap::new();
        for (project, result) in &self.projects {
            let secrets = match result {
                Ok(secrets) => secrets,
                Err(reason) => {
                    problems.push(format!("project {project}: {reason}"));
                    continue;
                }
            };
            let mut out = Vec::new();
            for s in secrets {
                // What was not asked for stays out of the file (`None`), so that it reads
                // back as "not captured", never as "no versions".
                let name = super::secret_id(&s.secret).unwrap_or_default();
                let versions = match &s.versions {
                    Some(Err(reason)) => {
                        problems.push(format!("versions of {name}: {reason}"));
                        continue;
                    }
                    Some(Ok(list)) => Some(list.clone()),
                    None => None,
                };
                let iam_policy = match &s.iam_policy {
                    Some(Err(reason)) => {
                        problems.push(format!("IAM policy of {name}: {reason}"));
                        continue;
                    }
                    Some(Ok(policy)) => Some(policy.clone()),
                    None => None,
                };
                out.push(SecretSnapshot { secret: s.secret.clone(), versions, iam_policy });
            }
            projects.insert(project.clone(), ProjectSnapshot { secrets: out });
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(Snapshot { snapshot_version: SNAPSHOT_VERSION, captured_at, projects })
    }
}

/// The inventory entry of a secret as read: versions not listed (no entry declares it) are
/// unverified, a policy not asked for is `None`.
fn info(s: &FetchedSecret) -> super::SecretInfo {
    let versions = match &s.versions {
        Some(Ok(list)) => Ok(list.as_slice()),
        Some(Err(reason)) => Err(reason.clone()),
        None => Err("versions not listed: no entry declares the secret".to_string()),
    };
    let policy = s.iam_policy.as_ref().map(|p| p.as_ref().map_err(Clone::clone));
    read_secret(&s.secret, versions, policy)
}

/// Progress callback: requests done so far and requests expected.
pub type Progress<'a> = &'a (dyn Fn(usize, usize) + Sync);

/// Reads the metadata of the wanted secrets. Never fails as a whole: what cannot be read is
/// recorded with its reason.
pub async fn fetch(wanted: &Wanted, options: &FetchOptions, progress: Progress<'_>) -> Fetched {
    install_crypto();
    let (endpoint, anonymous) = endpoint();
    let mut fetched = Fetched { endpoint: endpoint.clone(), ..Fetched::default() };
    let client = match client(&endpoint, anonymous, options).await {
        Ok(c) => c,
        Err(reason) => {
            for project in wanted.keys() {
                fetched.projects.insert(project.clone(), Err(reason.clone()));
            }
            return fetched;
        }
    };
    let run = Run {
        client,
        endpoint,
        options: options.clone(),
        deadline: Instant::from_std(options.deadline),
        requests: AtomicUsize::new(0),
        done: AtomicUsize::new(0),
        expected: AtomicUsize::new(wanted.len()),
        limiters: wanted.keys().map(|p| (p.clone(), Mutex::new(Instant::now()))).collect(),
        in_flight: Semaphore::new(options.concurrency.max(1)),
        progress,
    };
    let listed = list_projects(&run, wanted, &mut fetched).await;
    read_details(&run, listed, &mut fetched).await;
    fetched.requests = run.requests.load(Ordering::Relaxed);
    let (requests, endpoint) = (fetched.requests, &fetched.endpoint);
    tracing::debug!(requests, %endpoint, "Secret Manager requests made");
    fetched
}

/// The endpoint to call, and whether to call it anonymously: an emulator without a credentials
/// file.
fn endpoint() -> (String, bool) {
    match std::env::var(EMULATOR_ENV) {
        Ok(host) if !host.is_empty() => {
            let anonymous = std::env::var_os(CREDENTIALS_ENV).is_none_or(|v| v.is_empty());
            (format!("http://{host}"), anonymous)
        }
        _ => (DEFAULT_ENDPOINT.to_string(), false),
    }
}

/// A listed secret of a project, with whether its IAM policy is wanted (`None`: no entry
/// declares it, so nothing more is read about it).
type Listed = (String, Value, Option<bool>);

/// Lists the secrets of every wanted project, concurrently; a project is recorded in
/// `fetched`, with why when it could not be listed.
async fn list_projects(run: &Run<'_>, wanted: &Wanted, fetched: &mut Fetched) -> Vec<Listed> {
    let concurrency = run.options.concurrency.max(1);
    let answers = futures::stream::iter(wanted.keys())
        .map(|project| async { (project.clone(), run.list_secrets(project).await) })
        .buffer_unordered(concurrency)
        .collect::<Vec<_>>()
        .await;
    let mut listed = Vec::new();
    for (project, result) in answers {
        let Ok(secrets) = result else {
            fetched.projects.insert(project, result.map(|_| Vec::new()));
            continue;
        };
        let declared = &wanted[&project];
        for secret in secrets {
            let want = super::secret_id(&secret).and_then(|i| declared.get(i).copied());
            listed.push((project.clone(), secret, want));
        }
        fetched.projects.insert(project, Ok(Vec::new()));
    }
    listed
}

/// Reads the versions (and IAM policies) of the listed secrets that are declared, concurrently,
/// and adds every listed secret to its project in `fetched`, in listing order.
async fn read_details(run: &Run<'_>, listed: Vec<Listed>, fetched: &mut Fetched) {
    let per_secret = listed.iter().map(|(_, _, want)| match want {
        Some(true) => 2,
        Some(false) => 1,
        None => 0,
    });
    run.expected.fetch_add(per_secret.sum(), Ordering::Relaxed);
    let mut details =
        futures::stream::iter(listed.into_iter().enumerate())
            .map(|(i, (project, secret, want))| async move {
                (i, run.details(project, secret, want).await)
            })
            .buffer_unordered(run.options.concurrency.max(1))
            .collect::<Vec<_>>()
            .await;
    // Listing order, not completion order, so that snapshots of the same project are identical.
    details.sort_by_key(|(i, _)| *i);
    for (_, (project, secret)) in details {
        if let Some(Ok(list)) = fetched.projects.get_mut(&project) {
            list.push(secret);
        }
    }
}

/// Installs rustls' ring provider once; the Google crates are built without a provider of their
/// own to keep the build small. A second call finds it installed and does nothing.
pub fn install_crypto() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// The client for `endpoint`: anonymous for an emulator without a credentials file, else with
/// Application Default Credentials.
async fn client(
    endpoint: &str,
    anonymous: bool,
    options: &FetchOptions,
) -> Result<SecretManagerService, String> {
    let builder = SecretManagerService::builder()
        .with_endpoint(endpoint)
        .with_retry_policy(NeverRetry)
        .with_attempt_timeout(options.call_timeout);
    let builder = if anonymous {
        builder.with_credentials(google_cloud_auth::credentials::anonymous::Builder::new().build())
    } else {
        let credentials = google_cloud_auth::credentials::Builder::default()
            .build()
            .map_err(|e| format!("no Application Default Credentials: {e}"))?;
        builder.with_credentials(credentials)
    };
    builder.build().await.map_err(|e| format!("cannot create the Secret Manager client: {e}"))
}

struct Run<'p> {
    client: SecretManagerService,
    endpoint: String,
    options: FetchOptions,
    deadline: Instant,
    requests: AtomicUsize,
    done: AtomicUsize,
    expected: AtomicUsize,
    limiters: HashMap<String, Mutex<Instant>>,
    /// One permit per request in flight: a secret's versions and IAM policy are read at once,
    /// so the streams alone would allow twice `concurrency`.
    in_flight: Semaphore,
    progress: Progress<'p>,
}

/// Whether an error is worth another attempt: the API unavailable or rate limiting, a network
/// failure, or an attempt that timed out.
fn transient(e: &google_cloud_gax::error::Error) -> bool {
    use google_cloud_gax::error::rpc::Code;
    let code = e.status().map(|s| s.code);
    let http = e.http_status_code();
    matches!(code, Some(Code::Unavailable | Code::ResourceExhausted))
        || matches!(http, Some(429 | 503))
        || e.is_io()
        || e.is_connect()
        || e.is_timeout()
        || e.is_transport()
}

impl Run<'_> {
    /// Waits for the project's next request slot; `false`, without waiting, when that slot
    /// is past the deadline (a low `--max-rps` must not stretch the run beyond `--timeout`).
    async fn pace(&self, project: &str) -> bool {
        let Some(limiter) = self.limiters.get(project) else { return true };
        let interval = Duration::from_secs_f64(1.0 / self.options.max_rps);
        let slot = {
            let mut next = limiter.lock().await;
            let slot = (*next).max(Instant::now());
            if slot >= self.deadline {
                return false;
            }
            *next = slot + interval;
            slot
        };
        tokio::time::sleep_until(slot).await;
        true
    }

    /// Runs one request with pacing, per-attempt timeout, and exponential backoff with jitter
    /// on transient errors, until the deadline.
    async fn call<T, F, Fut>(&self, project: &str, what: &str, mut attempt: F) -> Result<T, String>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = google_cloud_gax::Result<T>>,
    {
        let mut delay = Duration::from_millis(200);
        let result = loop {
            if Instant::now() >= self.deadline {
                break Err(format!(
                    "{what}: no answer from {} within the {:?} timeout",
                    self.endpoint, self.options.timeout
                ));
            }
            // The permit first, then the rate slot, so that requests queued for a permit cannot
            // leave in a burst above the rate once permits free up.
            let permit = self.in_flight.acquire().await;
            if !self.pace(project).await {
                break Err(format!(
                    "{what}: not sent: at --max-rps {} no request slot was left before the {:?} \
                     timeout",
                    self.options.max_rps, self.options.timeout
                ));
            }
            self.requests.fetch_add(1, Ordering::Relaxed);
            let limit = self
                .options
                .call_timeout
                .min(self.deadline.saturating_duration_since(Instant::now()));
            let outcome = tokio::time::timeout(limit, attempt()).await;
            drop(permit);
            let error = match outcome {
                Ok(Ok(value)) => break Ok(value),
                Ok(Err(e)) if !transient(&e) => break Err(format!("{what}: {}", describe(&e))),
                Ok(Err(e)) => describe(&e),
                Err(_) => format!("timed out after {limit:?}"),
            };
            let jitter = RandomState::new().hash_one(Instant::now()) % 1000;
            let wait = delay.mul_f64(0.5 + jitter as f64 / 2000.0);
            if Instant::now() + wait >= self.deadline {
                break Err(format!(
                    "{what}: {error} (from {}; gave up at the {:?} timeout)",
                    self.endpoint, self.options.timeout
                ));
            }
            tracing::debug!(%error, ?wait, "retrying {what}");
            tokio::time::sleep(wait).await;
            delay = (delay * 2).min(Duration::from_secs(5));
        };
        let done = self.done.fetch_add(1, Ordering::Relaxed) + 1;
        (self.progress)(done, self.expected.load(Ordering::Relaxed));
        result
    }

    async fn list_secrets(&self, project: &str) -> Result<Vec<Value>, String> {
        let mut secrets = Vec::new();
        let mut token = String::new();
        loop {
            let what = format!("listing secrets of project {project}");
            let parent = format!("projects/{project}");
            let page = self
                .call(project, &what, || {
                    self.client
                        .list_secrets()
                        .set_parent(&parent)
                        .set_page_size(PAGE_SIZE)
                        .set_page_token(&token)
                        .send()
                })
                .await?;
            secrets.extend(
                page.secrets.iter().map(|s| serde_json::to_value(s).unwrap_or(Value::Null)),
            );
            if page.next_page_token.is_empty() {
                return Ok(secrets);
            }
            token = page.next_page_token;
            self.expected.fetch_add(1, Ordering::Relaxed);
        }
    }

    async fn versions(&self, project: &str, name: &str) -> Result<Vec<Value>, String> {
        let mut versions = Vec::new();
        let mut token = String::new();
        loop {
            let what = format!("listing versions of {name}");
            let page = self
                .call(project, &what, || {
                    self.client
                        .list_secret_versions()
                        .set_parent(name)
                        .set_page_size(PAGE_SIZE)
                        .set_page_token(&token)
                        .send()
                })
                .await?;
            versions.extend(page.versions.iter().map(version_json));
            if page.next_page_token.is_empty() {
                return Ok(versions);
            }
            token = page.next_page_token;
            self.expected.fetch_add(1, Ordering::Relaxed);
        }
    }

    async fn iam_policy(&self, project: &str, name: &str) -> Result<Value, String> {
        let what = format!("reading the IAM policy of {name}");
        let policy = self
            .call(project, &what, || self.client.get_iam_policy().set_resource(name).send())
            .await?;
        Ok(serde_json::to_value(&policy).unwrap_or(Value::Null))
    }

    async fn details(
        &self,
        project: String,
        secret: Value,
        want: Option<bool>,
    ) -> (String, FetchedSecret) {
        let name = secret.get("name").and_then(Value::as_str).unwrap_or_default().to_string();
        let (versions, iam_policy) = match want {
            None => (None, None),
            Some(iam) => {
                let versions = self.versions(&project, &name);
                let policy =
                    async { if iam { Some(self.iam_policy(&project, &name).await) } else { None } };
                let (v, p) = futures::join!(versions, policy);
                (Some(v), p)
            }
        };
        (project, FetchedSecret { secret, versions, iam_policy })
    }
}

/// A short account of an API error: the status name and message, or the HTTP code.
fn describe(e: &google_cloud_gax::error::Error) -> String {
    if e.is_authentication() {
        // The auth library's own text is long and says little more; it goes to the debug log.
        tracing::debug!(error = %e, "no access token");
        return "no access token from Application Default Credentials: run `gcloud auth \
                application-default login`, or set GOOGLE_APPLICATION_CREDENTIALS to a \
                credentials file"
            .to_string();
    }
    if let Some(status) = e.status() {
        return format!("{}: {}", status.code.name(), status.message);
    }
    if let Some(code) = e.http_status_code() {
        return format!("HTTP {code}");
    }
    e.to_string()
}

/// A version as the REST API shows it. The client asks for enums as numbers and serialises
/// them so; snapshots keep the names (`"state": "ENABLED"`), as `gcloud --format json` prints
/// them, so that anyone can read and filter them.
fn version_json(version: &google_cloud_secretmanager_v1::model::SecretVersion) -> Value {
    let mut json = serde_json::to_value(version).unwrap_or(Value::Null);
    if let (Some(name), Some(object)) = (version.state.name(), json.as_object_mut()) {
        object.insert("state".into(), Value::String(name.to_string()));
    }
    json
}

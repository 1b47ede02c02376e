//! The Cloud Run Admin API v1 (Knative resources), over reqwest with tokens from
//! `google-cloud-auth`.
//!
//! v1 takes and returns the same `serving.knative.dev/v1` Service that the spec files hold and
//! that `gcloud run services replace` sends, so a rendered spec goes out as written and the live
//! service comes back in the same shape. There is no maintained Rust client for v1; the calls are
//! few (get, create, replace) and plain JSON.

use google_cloud_auth::credentials::{CacheableResource, Credentials};
use serde_json::Value;
use std::time::Duration;

/// Points the client at an emulator or fake over plain HTTP with anonymous credentials.
pub const EMULATOR_ENV: &str = "RUN_EMULATOR_HOST";

/// An error answered by the API, or why no answer came.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    /// The HTTP status, when an answer came.
    pub http: Option<u16>,
    /// Google's status name, such as `NOT_FOUND` or `ABORTED`.
    pub status: String,
    pub message: String,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.http {
            Some(code) => write!(f, "{} (HTTP {code}): {}", self.status, self.message),
            None => write!(f, "{}: {}", self.status, self.message),
        }
    }
}

impl ApiError {
    fn transport(message: String) -> ApiError {
        ApiError { http: None, status: "UNAVAILABLE".into(), message }
    }

    /// Whether the service does not exist.
    pub fn is_not_found(&self) -> bool {
        self.http == Some(404)
    }

    /// Whether someone else changed the service since it was read.
    pub fn is_conflict(&self) -> bool {
        self.http == Some(409)
    }

    /// Whether a write may have been applied although it did not succeed as far as we know: it
    /// got no answer, or an answer of success that could not be read. An error raised before
    /// sending (no token, an invalid name) is not such a case.
    pub fn outcome_unknown(&self) -> bool {
        match self.http {
            None => self.status == "UNAVAILABLE",
            Some(code) => (200..300).contains(&code),
        }
    }

    /// Whether Cloud Run looked at the request and refused it (a 4xx answer about the request
    /// itself). No answer, a server error, throttling, an unreadable answer, or a refused
    /// identity (401, 403) say nothing about the service: a dry run that meets one has not been
    /// validated.
    pub fn is_verdict(&self) -> bool {
        self.http
            .is_some_and(|code| (400..500).contains(&code) && ![401, 403, 408, 429].contains(&code))
    }

    fn is_transient(&self) -> bool {
        matches!(self.http, None | Some(429 | 500 | 502 | 503 | 504))
    }
}

/// What findings name a service as deployed by, in place of a file: the scheme of
/// [`display_name`].
pub const DISPLAY_SCHEME: &str = "cloud-run:";

/// The name of a live service in findings, `cloud-run:PROJECT/REGION/NAME`.
pub fn display_name(project: &str, region: &str, name: &str) -> String {
    format!("{DISPLAY_SCHEME}{project}/{region}/{name}")
}

/// A Cloud Run Admin API v1 client.
#[derive(Clone)]
pub struct CloudRun {
    http: reqwest::Client,
    /// The emulator's base URL, when one is set.
    emulator: Option<String>,
    credentials: Option<Credentials>,
    deadline: Duration,
    /// How long one attempt may take.
    call_timeout: Duration,
    /// An instant no read may outlast, whatever `deadline` allows.
    until: Option<tokio::time::Instant>,
}

impl CloudRun {
    /// A client with Application Default Credentials, or the emulator from `RUN_EMULATOR_HOST`.
    /// One attempt may take `timeout` (`--timeout`), at most 30 seconds; a read is not retried
    /// once `timeout` has passed since its first attempt.
    pub fn new(timeout: Duration) -> Result<CloudRun, String> {
        let call_timeout = timeout.min(Duration::from_secs(30));
        crate::inventory::live::install_crypto();
        let http = reqwest::Client::builder()
            .timeout(call_timeout)
            .connect_timeout(call_timeout.min(Duration::from_secs(10)))
            .build()
            .map_err(|e| format!("cannot create the HTTP client: {e}"))?;
        let emulator = std::env::var(EMULATOR_ENV).ok().filter(|h| !h.is_empty());
        let credentials = match &emulator {
            Some(_) => None,
            None => Some(
                google_cloud_auth::credentials::Builder::default()
                    .build()
                    .map_err(|e| format!("no Application Default Credentials: {e}"))?,
            ),
        };
        let emulator = emulator.map(|h| format!("http://{h}"));
        Ok(CloudRun { http, emulator, credentials, deadline: timeout, call_timeout, until: None })
    }

    /// Bounds every read by `deadline` as well: `check --live` gives Secret Manager and Cloud
    /// Run one `--timeout` together, not one each.
    pub fn with_deadline(mut self, deadline: std::time::Instant) -> CloudRun {
        self.until = Some(tokio::time::Instant::from_std(deadline));
        self
    }

    /// The endpoint for a region, as reported in messages.
    pub fn endpoint(&self, region: &str) -> String {
        match &self.emulator {
            Some(base) => base.clone(),
            None => format!("https://{region}-run.googleapis.com"),
        }
    }

    /// The URL of a project's services in a region. Both are checked first: the region becomes
    /// part of the host name, and a request (with its access token) must not go elsewhere.
    fn services_url(&self, region: &str, project: &str) -> Result<String, ApiError> {
        use crate::manifest::{valid_project, valid_region};
        if !valid_region(region) || !valid_project(project) {
            return Err(ApiError {
                http: None,
                status: "INVALID_ARGUMENT".into(),
                message: format!("`{region}` / `{project}` is not a region and project id"),
            });
        }
        Ok(format!(
            "{}/apis/serving.knative.dev/v1/namespaces/{project}/services",
            self.endpoint(region)
        ))
    }

    /// The URL of one service; its name, the last path segment, is checked too.
    fn service_url(&self, region: &str, project: &str, name: &str) -> Result<String, ApiError> {
        if !crate::manifest::valid_service_name(name) {
            return Err(ApiError {
                http: None,
                status: "INVALID_ARGUMENT".into(),
                message: format!("`{name}` is not a Cloud Run service name"),
            });
        }
        Ok(format!("{}/{name}", self.services_url(region, project)?))
    }

    /// The live service, or `None` when it does not exist.
    pub async fn get(
        &self,
        region: &str,
        project: &str,
        name: &str,
    ) -> Result<Option<Value>, ApiError> {
        let url = self.service_url(region, project, name)?;
        match self.send_retrying(reqwest::Method::GET, &url, None).await {
            Ok(v) => Ok(Some(v)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Creates a service; with `dry_run`, only validates it.
    pub async fn create(
        &self,
        region: &str,
        project: &str,
        body: &Value,
        dry_run: bool,
    ) -> Result<Value, ApiError> {
        let mut url = self.services_url(region, project)?;
        if dry_run {
            url.push_str("?dryRun=all");
        }
        self.send(reqwest::Method::POST, &url, Some(body)).await
    }

    /// Replaces a service. The body's `metadata.resourceVersion` makes a concurrent change fail
    /// with 409 instead of being overwritten.
    pub async fn replace(
        &self,
        region: &str,
        project: &str,
        name: &str,
        body: &Value,
        dry_run: bool,
    ) -> Result<Value, ApiError> {
        let mut url = self.service_url(region, project, name)?;
        if dry_run {
            url.push_str("?dryRun=all");
        }
        self.send(reqwest::Method::PUT, &url, Some(body)).await
    }

    /// Sends an idempotent request, retrying transient failures with backoff until the deadline.
    /// An attempt still unanswered at the deadline is abandoned.
    async fn send_retrying(
        &self,
        method: reqwest::Method,
        url: &str,
        body: Option<&Value>,
    ) -> Result<Value, ApiError> {
        let start = tokio::time::Instant::now();
        let end = self.until.map_or(start + self.deadline, |u| u.min(start + self.deadline));
        let mut delay = Duration::from_millis(250);
        loop {
            let left = end.saturating_duration_since(tokio::time::Instant::now());
            let attempt = tokio::time::timeout(left, self.send(method.clone(), url, body)).await;
            let result = attempt.unwrap_or_else(|_| {
                let secs = self.deadline.as_secs();
                Err(ApiError::transport(format!("{url}: no answer before the {secs} s --timeout")))
            });
            match result {
                Err(e) if e.is_transient() && tokio::time::Instant::now() + delay < end => {
                    tracing::debug!(error = %e, "retrying {url}");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(4));
                }
                other => return other,
            }
        }
    }

    async fn send(
        &self,
        method: reqwest::Method,
        url: &str,
        body: Option<&Value>,
    ) -> Result<Value, ApiError> {
        let mut request = self.http.request(method, url);
        if let Some(credentials) = &self.credentials {
            let headers = credentials.headers(Default::default()).await.map_err(|e| ApiError {
                http: None,
                status: "UNAUTHENTICATED".into(),
                message: e.to_string(),
            })?;
            if let CacheableResource::New { data, .. } = headers {
                request = request.headers(data);
            }
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.map_err(|e| self.transport(url, &e))?;
        let status = response.status().as_u16();
        let text = response.text().await.map_err(|e| self.transport(url, &e))?;
        let json: Result<Value, _> = serde_json::from_str(&text);
        if (200..300).contains(&status) {
            return json.map_err(|e| ApiError {
                http: Some(status),
                status: "MALFORMED".into(),
                message: format!("{url} answered invalid JSON: {e}"),
            });
        }
        Err(api_error(status, json.ok()))
    }

    /// A request that got no usable answer: a timeout says so, with the limit it ran into;
    /// anything else gives the causes reqwest wraps (`connection refused`), which its own
    /// message leaves out.
    fn transport(&self, url: &str, e: &reqwest::Error) -> ApiError {
        if e.is_timeout() {
            let secs = self.call_timeout.as_secs_f64();
            return ApiError::transport(format!("{url}: no answer within {secs} s (timed out)"));
        }
        let mut text = format!("{url}: {e}");
        let mut cause = std::error::Error::source(e);
        while let Some(c) = cause {
            text.push_str(&format!(": {c}"));
            cause = c.source();
        }
        ApiError::transport(text)
    }
}

/// Reads Google's error envelope `{"error": {"code", "status", "message"}}`.
fn api_error(http: u16, body: Option<Value>) -> ApiError {
    let error = body.as_ref().and_then(|b| b.get("error"));
    let text = |k: &str| error.and_then(|e| e.get(k)).and_then(Value::as_str).map(str::to_string);
    ApiError {
        http: Some(http),
        status: text("status").unwrap_or_else(|| format!("HTTP_{http}")),
        message: text("message").unwrap_or_else(|| "no error message".into()),
    }
}

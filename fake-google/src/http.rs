//! The HTTP front. One fallback handler classifies every API request itself, because Google's
//! paths end in `:verb` suffixes (`…/secrets/s:getIamPolicy`) that axum cannot route on; it then
//! logs the request, applies latency and injected faults, and answers it. The fake's own
//! `/_fake/…` endpoints are ordinary routes and are neither logged nor faulted.

use crate::faults::{Fault, Route, parse_spec};
use crate::google::{ApiError, Params, json_response, raw_json};
use crate::run::Write;
use crate::secrets::{self, Named};
use crate::state::{RequestRecord, Shared};
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use percent_encoding::percent_decode_str;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;

/// The Knative prefix of the Cloud Run Admin API v1.
const KNATIVE: &str = "/apis/serving.knative.dev/v1/namespaces/";

/// The app: control endpoints plus the API fallback.
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/_fake/requests", get(requests))
        .route("/_fake/reset", post(reset))
        .route("/_fake/faults", post(add_faults).delete(clear_faults))
        .fallback(dispatch)
        .with_state(shared)
}

/// What a request asks for, with its path parameters.
#[derive(Debug)]
enum Call {
    Token,
    ListSecrets(String),
    GetSecret(String, String),
    ListVersions(String, String),
    GetVersion(String, String, String),
    AccessVersion(String, String, String),
    GetIamPolicy(String, String),
    ListServices(String),
    GetService(String, String),
    CreateService(String),
    ReplaceService(String, String),
    Other,
}

impl Call {
    /// Classifies a request by method and (decoded) path.
    fn parse(method: &Method, path: &str) -> Call {
        if path == "/token" && method == Method::POST {
            Call::Token
        } else if let Some(rest) = path.strip_prefix("/v1/") {
            secret_call(method, rest)
        } else if let Some(rest) = path.strip_prefix(KNATIVE) {
            run_call(method, rest)
        } else {
            Call::Other
        }
    }

    fn route(&self) -> Route {
        match self {
            Call::Token => Route::Token,
            Call::ListSecrets(..) => Route::ListSecrets,
            Call::GetSecret(..) => Route::GetSecret,
            Call::ListVersions(..) => Route::ListVersions,
            Call::GetVersion(..) => Route::GetVersion,
            Call::AccessVersion(..) => Route::AccessVersion,
            Call::GetIamPolicy(..) => Route::GetIamPolicy,
            Call::ListServices(..) => Route::ListServices,
            Call::GetService(..) => Route::GetService,
            Call::CreateService(..) => Route::CreateService,
            Call::ReplaceService(..) => Route::ReplaceService,
            Call::Other => Route::Other,
        }
    }
}

/// Secret Manager paths: `projects/{p}/secrets[/{s}[/versions[/{v}]]][:verb]`.
fn secret_call(method: &Method, rest: &str) -> Call {
    let last = rest.rfind('/').map_or(0, |i| i + 1);
    let (resource, verb) = match rest[last..].find(':') {
        Some(i) => (&rest[..last + i], Some(&rest[last + i + 1..])),
        None => (rest, None),
    };
    let parts: Vec<&str> = resource.split('/').collect();
    let (get, post) = (method == Method::GET, method == Method::POST);
    let own = |s: &&str| s.to_string();
    match (parts.as_slice(), verb) {
        (["projects", p, "secrets"], None) if get => Call::ListSecrets(own(p)),
        (["projects", p, "secrets", s], None) if get => Call::GetSecret(own(p), own(s)),
        (["projects", p, "secrets", s], Some("getIamPolicy")) if get || post => {
            Call::GetIamPolicy(own(p), own(s))
        }
        (["projects", p, "secrets", s, "versions"], None) if get => {
            Call::ListVersions(own(p), own(s))
        }
        (["projects", p, "secrets", s, "versions", v], None) if get => {
            Call::GetVersion(own(p), own(s), own(v))
        }
        (["projects", p, "secrets", s, "versions", v], Some("access")) => {
            Call::AccessVersion(own(p), own(s), own(v))
        }
        _ => Call::Other,
    }
}

/// Knative paths: `{namespace}/services[/{name}]`.
fn run_call(method: &Method, rest: &str) -> Call {
    let parts: Vec<&str> = rest.split('/').collect();
    match parts.as_slice() {
        [ns, "services"] if method == Method::GET => Call::ListServices(ns.to_string()),
        [ns, "services"] if method == Method::POST => Call::CreateService(ns.to_string()),
        [ns, "services", name] if method == Method::GET => {
            Call::GetService(ns.to_string(), name.to_string())
        }
        [ns, "services", name] if method == Method::PUT => {
            Call::ReplaceService(ns.to_string(), name.to_string())
        }
        _ => Call::Other,
    }
}

/// A request, parsed once.
struct Incoming {
    method: Method,
    /// The decoded path, without the query.
    path: String,
    /// Path and query as sent, for the log.
    raw: String,
    params: Params,
    authorization: Option<String>,
    content_type: String,
    body: Bytes,
    call: Call,
}

impl Incoming {
    fn new(method: Method, uri: &Uri, headers: &HeaderMap, body: Bytes) -> Incoming {
        let path = percent_decode_str(uri.path()).decode_utf8_lossy().into_owned();
        let header = |name| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
        Incoming {
            call: Call::parse(&method, &path),
            raw: uri.path_and_query().map_or_else(|| path.clone(), |p| p.to_string()),
            params: Params::parse(uri.query().unwrap_or_default()),
            authorization: header(header::AUTHORIZATION),
            content_type: header(header::CONTENT_TYPE).unwrap_or_default(),
            method,
            path,
            body,
        }
    }
}

/// The API entry point.
async fn dispatch(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request = Incoming::new(method, &uri, &headers, body);
    let seq = record(&shared, &request);
    let response = answer(&shared, &request).await;
    let mut state = shared.lock();
    if let Some(entry) = state.log.iter_mut().rev().find(|r| r.seq == seq) {
        entry.status = Some(response.status().as_u16());
    }
    response
}

/// Appends the request to the log as it arrives, so hung requests are visible too.
fn record(shared: &Shared, request: &Incoming) -> u64 {
    let writes = request.method == Method::POST || request.method == Method::PUT;
    let mut state = shared.lock();
    let seq = state.next_seq;
    state.next_seq += 1;
    state.log.push(RequestRecord {
        seq,
        method: request.method.to_string(),
        path: request.raw.clone(),
        route: request.call.route(),
        authorization: request.authorization.clone(),
        body: writes.then(|| String::from_utf8_lossy(&request.body).into_owned()),
        status: None,
        at: shared.started.elapsed(),
    });
    seq
}

/// Latency, then the injected fault if any, then authentication, then the real answer.
async fn answer(shared: &Shared, request: &Incoming) -> Response {
    let (latency, fault) = {
        let mut state = shared.lock();
        let fault = state.faults.take(request.call.route(), &request.path);
        (state.settings.latency, fault)
    };
    shared.sleep(latency).await;
    match fault {
        Some(Fault::Status(code)) => return ApiError::injected(code).into_response(),
        Some(Fault::Malformed) => {
            return raw_json(StatusCode::OK, "{\"secrets\": [{\"name\": \"projects/".into());
        }
        Some(Fault::Hang) => {
            shared.until_shutdown().await;
            return ApiError::injected(503).into_response();
        }
        Some(Fault::Delay(delay)) => shared.sleep(delay).await,
        Some(Fault::Pass) | None => {}
    }
    if let Call::Token = request.call {
        return token(shared, request);
    }
    if let Err(e) = authorize(shared, request) {
        return e.into_response();
    }
    match handle(shared, request) {
        Ok(body) => json_response(StatusCode::OK, &body),
        Err(e) => e.into_response(),
    }
}

/// With `require_token`, API calls must carry a bearer token the fake issued.
fn authorize(shared: &Shared, request: &Incoming) -> Result<(), ApiError> {
    let state = shared.lock();
    if !state.settings.require_token {
        return Ok(());
    }
    let token = request.authorization.as_deref().and_then(|h| h.strip_prefix("Bearer "));
    match token {
        Some(t) if state.tokens.iter().any(|issued| issued == t) => Ok(()),
        _ => Err(ApiError::injected(401)),
    }
}

/// The real answer to an API call.
fn handle(shared: &Shared, request: &Incoming) -> Result<Value, ApiError> {
    let mut state = shared.lock();
    let cap = state.settings.page_size_cap;
    let params = &request.params;
    let enums = params.enums();
    let target = |project, secret| Named { project, secret };
    let store = &state.secrets;
    match &request.call {
        Call::ListSecrets(p) => secrets::list_secrets(store, p, params, cap),
        Call::GetSecret(p, s) => secrets::get_secret(store, &target(p, s)),
        Call::ListVersions(p, s) => secrets::list_versions(store, &target(p, s), params, cap),
        Call::GetVersion(p, s, v) => secrets::get_version(store, &target(p, s), v, enums),
        Call::GetIamPolicy(p, s) => secrets::get_iam_policy(store, &target(p, s), enums),
        Call::AccessVersion(p, s, v) => Err(secrets::access(&target(p, s), v)),
        Call::Token | Call::Other => Err(ApiError::new(
            501,
            format!("fake-google does not implement {} {}", request.method, request.path),
        )),
        _ => run_handle(&mut state, request),
    }
}

/// The Cloud Run calls.
fn run_handle(state: &mut crate::state::State, request: &Incoming) -> Result<Value, ApiError> {
    let (services, ctx) = state.run_parts();
    let dry_run = request.params.get("dryRun") == Some("all");
    let write = |ns, name| Write { ns, name, body: &request.body, dry_run };
    match &request.call {
        Call::ListServices(ns) => Ok(services.list(&ctx, ns)),
        Call::GetService(ns, name) => services.get(&ctx, ns, name),
        Call::CreateService(ns) => services.write(&ctx, &write(ns, None)),
        Call::ReplaceService(ns, name) => services.write(&ctx, &write(ns, Some(name))),
        _ => Err(ApiError::new(501, "not a Cloud Run call")),
    }
}

/// `POST /token`: an OAuth 2 token endpoint taking form or JSON bodies (google-cloud-auth sends
/// JSON, gcloud and most OAuth libraries send forms).
fn token(shared: &Shared, request: &Incoming) -> Response {
    let fields = token_fields(&request.content_type, &request.body);
    let field = |name: &str| fields.get(name).map(String::as_str).filter(|v| !v.is_empty());
    let missing = match field("grant_type") {
        Some("refresh_token") => field("refresh_token").is_none().then_some("refresh_token"),
        Some("urn:ietf:params:oauth:grant-type:jwt-bearer") => {
            field("assertion").is_none().then_some("assertion")
        }
        other => {
            return oauth_error(
                "unsupported_grant_type",
                &format!("Invalid grant_type: {}", other.unwrap_or_default()),
            );
        }
    };
    if let Some(name) = missing {
        return oauth_error("invalid_request", &format!("Missing required parameter: {name}"));
    }
    let mut state = shared.lock();
    let token = format!("fake-token-{}", state.tokens.len() + 1);
    state.tokens.push(token.clone());
    let mut body = json!({ "access_token": token, "expires_in": 3600, "token_type": "Bearer" });
    if let Some(scope) = field("scope") {
        body["scope"] = scope.into();
    }
    json_response(StatusCode::OK, &body)
}

fn token_fields(content_type: &str, body: &[u8]) -> HashMap<String, String> {
    if content_type.contains("json") {
        let value: Value = serde_json::from_slice(body).unwrap_or_default();
        let object = value.as_object().into_iter().flatten();
        object.filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string()))).collect()
    } else {
        form_urlencoded::parse(body).into_owned().collect()
    }
}

/// OAuth errors use their own shape, not Google's API envelope.
fn oauth_error(error: &str, description: &str) -> Response {
    let body = json!({ "error": error, "error_description": description });
    json_response(StatusCode::BAD_REQUEST, &body)
}

/// `GET /_fake/requests`: the log as a JSON array.
async fn requests(State(shared): State<Arc<Shared>>) -> Response {
    let log: Vec<Value> = shared.lock().log.iter().map(RequestRecord::to_json).collect();
    json_response(StatusCode::OK, &Value::Array(log))
}

/// `POST /_fake/reset`: clears the request log.
async fn reset(State(shared): State<Arc<Shared>>) -> Response {
    shared.lock().log.clear();
    json_response(StatusCode::OK, &json!({}))
}

/// `POST /_fake/faults`: adds fault specs, one per line (see `faults::parse_spec`).
async fn add_faults(State(shared): State<Arc<Shared>>, body: String) -> Response {
    let parsed: Result<Vec<_>, String> =
        body.lines().filter(|l| !l.trim().is_empty()).map(parse_spec).collect();
    match parsed {
        Ok(specs) => {
            let mut state = shared.lock();
            specs.into_iter().for_each(|(target, steps)| state.faults.push(target, steps));
            json_response(StatusCode::OK, &json!({}))
        }
        Err(e) => ApiError::new(400, e).into_response(),
    }
}

/// `DELETE /_fake/faults`: drops every queued fault.
async fn clear_faults(State(shared): State<Arc<Shared>>) -> Response {
    shared.lock().faults.clear();
    json_response(StatusCode::OK, &json!({}))
}

//! Cloud Run Admin API v1 (the Knative `serving.knative.dev/v1` surface): services that can be
//! read, created and replaced, whose new revisions become ready after a few polls, or fail the
//! way Cloud Run fails them when a referenced secret version is missing or unusable.
//!
//! Secret references are checked against the fake's Secret Manager when the revision is created
//! (at the write), and the outcome is revealed once the configured number of GETs has passed,
//! so clients exercise their polling loops. A failed revision leaves traffic where it was.

use crate::google::ApiError;
use crate::secrets::{SecretStore, version_state};
use crate::time::rfc3339_now;
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};

/// The only `apiVersion` and `kind` the API takes.
const API_VERSION: &str = "serving.knative.dev/v1";

/// The annotation mapping secret aliases to secrets in other projects.
const SECRETS_ANNOTATION: &str = "run.googleapis.com/secrets";

/// The label holding the service's region.
const LOCATION_LABEL: &str = "cloud.googleapis.com/location";

/// Every service, by (project id, name).
#[derive(Debug, Default)]
pub(crate) struct ServiceStore {
    services: BTreeMap<(String, String), Entry>,
    /// Feeds the made-up uids, resource versions and revision suffixes.
    counter: u64,
}

#[derive(Debug)]
struct Entry {
    service: Value,
    pending: Option<Pending>,
}

/// A revision being "deployed": hidden until `gets_left` GETs have seen it as Unknown.
#[derive(Debug)]
struct Pending {
    gets_left: u32,
    revision: String,
    /// Why the revision cannot become ready, if it cannot.
    failure: Option<String>,
}

/// What the handlers need besides the services.
pub(crate) struct Ctx<'a> {
    pub secrets: &'a SecretStore,
    pub region: &'a str,
    pub pending_gets: u32,
}

impl Ctx<'_> {
    /// The project id a namespace names (namespaces may be ids or numbers).
    fn project_id(&self, ns: &str) -> String {
        self.secrets.project(ns).map_or_else(|| ns.to_string(), |p| p.id.clone())
    }

    /// The namespace Cloud Run writes into `metadata.namespace`: the project number if known.
    fn namespace(&self, ns: &str) -> String {
        self.secrets.project(ns).map_or_else(|| ns.to_string(), |p| p.name_key().to_string())
    }
}

/// A create (`name` is `None`) or replace request.
pub(crate) struct Write<'a> {
    pub ns: &'a str,
    pub name: Option<&'a str>,
    pub body: &'a [u8],
    pub dry_run: bool,
}

impl ServiceStore {
    /// `GET …/services/{name}`; each GET moves a pending revision one step on.
    pub fn get(&mut self, ctx: &Ctx, ns: &str, name: &str) -> Result<Value, ApiError> {
        let key = (ctx.project_id(ns), name.to_string());
        let entry = self.services.get_mut(&key).ok_or_else(|| not_found(ctx, ns, name))?;
        entry.poll();
        Ok(entry.service.clone())
    }

    /// The stored service as it stands, without counting as a poll.
    pub fn peek(&self, ctx: &Ctx, ns: &str, name: &str) -> Option<Value> {
        let key = (ctx.project_id(ns), name.to_string());
        self.services.get(&key).map(|e| e.service.clone())
    }

    /// `GET …/services`.
    pub fn list(&self, ctx: &Ctx, ns: &str) -> Value {
        let project = ctx.project_id(ns);
        let items: Vec<Value> = self
            .services
            .iter()
            .filter(|((p, _), _)| *p == project)
            .map(|(_, e)| e.service.clone())
            .collect();
        json!({ "apiVersion": API_VERSION, "kind": "ServiceList", "metadata": {}, "items": items })
    }

    /// `POST …/services` and `PUT …/services/{name}`, optionally as a dry run.
    pub fn write(&mut self, ctx: &Ctx, w: &Write) -> Result<Value, ApiError> {
        let service = parse_service(w.body)?;
        let name = validate(ctx, &service, w.ns, w.name)?;
        self.counter += 1;
        let seed = self.counter;
        let key = (ctx.project_id(w.ns), name.clone());
        let previous = self.services.get(&key).map(|e| &e.service);
        match (w.name, previous) {
            (None, Some(_)) => {
                let message = format!("Resource '{name}' already exists.");
                return Err(ApiError::with_status(409, "ALREADY_EXISTS", message));
            }
            (Some(_), None) => return Err(not_found(ctx, w.ns, &name)),
            (Some(_), Some(old)) => check_version(&service, old, &name)?,
            (None, None) => {}
        }
        let failure = secret_failure(ctx, &service, w.ns);
        if let (true, Some(detail)) = (w.dry_run, &failure) {
            return Err(ApiError::new(400, detail.clone()));
        }
        let (stored, revision) = prepare(ctx, w.ns, service, previous, seed);
        if !w.dry_run {
            let pending = Pending { gets_left: ctx.pending_gets, revision, failure };
            self.services.insert(key, Entry { service: stored.clone(), pending: Some(pending) });
        }
        Ok(stored)
    }

    /// Stores a service as already deployed and ready, for seeding tests.
    pub fn put_ready(&mut self, ctx: &Ctx, ns: &str, service: Value) -> Result<(), ApiError> {
        let name = validate(ctx, &service, ns, None)?;
        self.counter += 1;
        let seed = self.counter;
        let key = (ctx.project_id(ns), name);
        let previous = self.services.get(&key).map(|e| &e.service);
        let (stored, revision) = prepare(ctx, ns, service, previous, seed);
        let mut entry = Entry { service: stored, pending: None };
        entry.settle(&Pending { gets_left: 0, revision, failure: None });
        self.services.insert(key, entry);
        Ok(())
    }
}

/// Fills in what Cloud Run adds to an accepted write; returns it and the new revision name.
fn prepare(
    ctx: &Ctx,
    ns: &str,
    mut service: Value,
    previous: Option<&Value>,
    seed: u64,
) -> (Value, String) {
    let name = service.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default();
    let old_meta = previous.and_then(|p| p.get("metadata"));
    let generation = old_meta.and_then(|m| m.get("generation")).and_then(Value::as_u64);
    let generation = generation.unwrap_or(0) + 1;
    let revision = service
        .pointer("/spec/template/metadata/name")
        .and_then(Value::as_str)
        .map_or_else(|| format!("{name}-{generation:05}-{}", letters(seed, 3)), str::to_string);
    fill_metadata(ctx, ns, &mut service, old_meta, generation, seed);
    let spec = object_at(&mut service, "spec");
    spec.entry("traffic").or_insert(json!([{ "percent": 100, "latestRevision": true }]));
    let status = deploying_status(generation, &revision, previous.and_then(|p| p.get("status")));
    service["status"] = status;
    (service, revision)
}

/// The server-owned metadata: namespace, generation, resource version, uid, timestamps, link
/// and the location label; uid and creation time survive replaces.
fn fill_metadata(
    ctx: &Ctx,
    ns: &str,
    service: &mut Value,
    old_meta: Option<&Value>,
    generation: u64,
    seed: u64,
) {
    let namespace = ctx.namespace(ns);
    let meta = object_at(service, "metadata");
    let name = meta.get("name").and_then(Value::as_str).unwrap_or_default();
    let link = format!("/apis/{API_VERSION}/namespaces/{namespace}/services/{name}");
    meta.insert("selfLink".into(), Value::String(link));
    meta.insert("namespace".into(), Value::String(namespace));
    meta.insert("generation".into(), Value::from(generation));
    meta.insert("resourceVersion".into(), Value::String(format!("AAY{:013X}", hash(seed))));
    let keep =
        |field: &str, fresh: Value| old_meta.and_then(|m| m.get(field)).cloned().unwrap_or(fresh);
    meta.insert("uid".into(), keep("uid", Value::String(uid(seed))));
    meta.insert("creationTimestamp".into(), keep("creationTimestamp", rfc3339_now().into()));
    let labels = object_at(meta.entry("labels").or_insert(json!({})), "");
    labels.entry(LOCATION_LABEL).or_insert(Value::String(ctx.region.to_string()));
}

impl Entry {
    /// Counts one GET; the revision's outcome shows once enough GETs have seen it pending.
    fn poll(&mut self) {
        let Some(pending) = &mut self.pending else { return };
        if pending.gets_left > 0 {
            pending.gets_left -= 1;
            return;
        }
        if let Some(pending) = self.pending.take() {
            self.settle(&pending);
        }
    }

    /// Rewrites the status for the revision's outcome.
    fn settle(&mut self, pending: &Pending) {
        match &pending.failure {
            None => self.serve(&pending.revision),
            Some(detail) => self.fail(&pending.revision, detail),
        }
    }

    /// The revision is ready: it takes the `latestRevision` traffic and the service has a URL.
    fn serve(&mut self, revision: &str) {
        let url = service_url(&self.service);
        let traffic = resolved_traffic(&self.service, revision);
        let status = object_at(&mut self.service, "status");
        status.insert("conditions".into(), conditions("True", "True", None));
        status.insert("latestReadyRevisionName".into(), revision.into());
        status.insert("url".into(), url.clone().into());
        status.insert("address".into(), json!({ "url": url }));
        status.insert("traffic".into(), traffic);
    }

    /// The revision failed: the service is not ready, but routes to an older revision stay.
    fn fail(&mut self, revision: &str, detail: &str) {
        let message =
            format!("Revision '{revision}' is not ready and cannot serve traffic. {detail}");
        let status = object_at(&mut self.service, "status");
        let routes = if status.contains_key("latestReadyRevisionName") { "True" } else { "False" };
        status.insert("conditions".into(), conditions("False", routes, Some(&message)));
    }
}

/// `https://NAME-HASH-REGIONCODE.a.run.app`, stable for a project and region.
fn service_url(service: &Value) -> String {
    let text = |p: &str| service.pointer(p).and_then(Value::as_str).unwrap_or_default();
    let region = service.pointer("/metadata/labels").and_then(|l| l.get(LOCATION_LABEL));
    let region = region_code(region.and_then(Value::as_str).unwrap_or_default());
    let project = letters(hash(text("/metadata/namespace")), 10);
    format!("https://{}-{project}-{region}.a.run.app", text("/metadata/name"))
}

/// The status right after a write: Unknown, still serving whatever was ready before.
fn deploying_status(generation: u64, revision: &str, previous: Option<&Value>) -> Value {
    let mut status = Map::new();
    status.insert("observedGeneration".into(), Value::from(generation));
    status.insert("conditions".into(), conditions("Unknown", "Unknown", None));
    status.insert("latestCreatedRevisionName".into(), revision.into());
    for field in ["latestReadyRevisionName", "url", "address", "traffic"] {
        if let Some(value) = previous.and_then(|p| p.get(field)) {
            status.insert(field.into(), value.clone());
        }
    }
    Value::Object(status)
}

/// Cloud Run's three service conditions (`ConfigurationsReady` follows `Ready`); conditions
/// that are False carry the failure as reason `RevisionFailed` and its message.
fn conditions(ready: &str, routes: &str, failure: Option<&str>) -> Value {
    let one = |kind: &str, status: &str| {
        let mut c = json!({ "type": kind, "status": status, "lastTransitionTime": rfc3339_now() });
        if let (Some(message), "False") = (failure, status) {
            c["reason"] = "RevisionFailed".into();
            c["message"] = message.into();
        }
        c
    };
    json!([one("Ready", ready), one("ConfigurationsReady", ready), one("RoutesReady", routes)])
}

/// `spec.traffic` with `latestRevision` targets pinned to the new revision.
fn resolved_traffic(service: &Value, revision: &str) -> Value {
    let spec = service.pointer("/spec/traffic").and_then(Value::as_array);
    let targets = spec.into_iter().flatten().map(|t| {
        let mut t = t.clone();
        if t.get("latestRevision").and_then(Value::as_bool) == Some(true) {
            t["revisionName"] = Value::String(revision.to_string());
        }
        t
    });
    Value::Array(targets.collect())
}

/// The object at `key` (or `value` itself for an empty key), made an object if it was not.
fn object_at<'v>(value: &'v mut Value, key: &str) -> &'v mut Map<String, Value> {
    let slot = if key.is_empty() { value } else { &mut value[key] };
    match slot {
        Value::Object(map) => map,
        other => {
            *other = Value::Object(Map::new());
            object_at(other, "")
        }
    }
}

fn not_found(ctx: &Ctx, ns: &str, name: &str) -> ApiError {
    let message = format!(
        "Resource '{name}' of kind 'SERVICE' in region '{}' in project '{ns}' does not exist.",
        ctx.region
    );
    ApiError::new(404, message)
}

fn parse_service(body: &[u8]) -> Result<Value, ApiError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(v) if v.is_object() => Ok(v),
        Ok(_) => Err(ApiError::new(400, "Invalid JSON payload received. Expected an object.")),
        Err(e) => Err(ApiError::new(400, format!("Invalid JSON payload received. {e}"))),
    }
}

/// The checks Cloud Run makes on any write; returns the service name.
fn validate(
    ctx: &Ctx,
    service: &Value,
    ns: &str,
    path_name: Option<&str>,
) -> Result<String, ApiError> {
    let bad = |m: String| ApiError::new(400, m);
    let text = |p: &str| service.pointer(p).and_then(Value::as_str);
    if text("/apiVersion") != Some(API_VERSION) {
        return Err(bad(format!("apiVersion: must be \"{API_VERSION}\"")));
    }
    if text("/kind") != Some("Service") {
        return Err(bad("kind: must be \"Service\"".into()));
    }
    let name = text("/metadata/name").filter(|n| !n.is_empty());
    let name = name.ok_or_else(|| bad("metadata.name: Required".into()))?;
    if path_name.is_some_and(|p| p != name) {
        return Err(bad(format!("metadata.name: \"{name}\" does not match the URL")));
    }
    if let Some(given) = text("/metadata/namespace")
        && ctx.project_id(given) != ctx.project_id(ns)
    {
        return Err(bad(format!("metadata.namespace: \"{given}\" does not match the URL")));
    }
    let containers = service.pointer("/spec/template/spec/containers").and_then(Value::as_array);
    let containers = containers.filter(|c| !c.is_empty());
    let containers =
        containers.ok_or_else(|| bad("spec.template.spec.containers: Required".into()))?;
    for (i, c) in containers.iter().enumerate() {
        if c.get("image").and_then(Value::as_str).is_none_or(str::is_empty) {
            return Err(bad(format!("spec.template.spec.containers[{i}].image: Required")));
        }
    }
    Ok(name.to_string())
}

/// Rejects a replace whose `resourceVersion` is stale, as optimistic concurrency requires.
fn check_version(service: &Value, old: &Value, name: &str) -> Result<(), ApiError> {
    let given = service.pointer("/metadata/resourceVersion").and_then(Value::as_str);
    let current = old.pointer("/metadata/resourceVersion").and_then(Value::as_str);
    match (given, current) {
        (Some(given), Some(current)) if !given.is_empty() && given != current => {
            let message = format!(
                "Conflict for resource '{name}': version '{given}' was specified but current \
                 version is '{current}'."
            );
            Err(ApiError::with_status(409, "ABORTED", message))
        }
        _ => Ok(()),
    }
}

/// One secret reference of a revision template: the field to blame, the secret (or alias) and
/// the version key.
struct SecretRef {
    field: String,
    name: String,
    key: String,
}

/// The first reason the template's secrets stop its revision from starting, if any.
fn secret_failure(ctx: &Ctx, service: &Value, ns: &str) -> Option<String> {
    let template = service.pointer("/spec/template")?;
    let aliases = aliases(service, template);
    let account = runtime_account(ctx, template, ns);
    secret_refs(template).into_iter().find_map(|r| {
        let (project, id) = aliases.get(&r.name).cloned().unwrap_or((ns.into(), r.name.clone()));
        unusable(ctx, &project, &id, &r.key)
            .or_else(|| unreadable(ctx, &project, &id, &r.key, &account))
            .map(|problem| format!("{}: {problem}", r.field))
    })
}

/// The revision's service account: the template's, else the project's default compute one.
fn runtime_account(ctx: &Ctx, template: &Value, ns: &str) -> String {
    let named = template.pointer("/spec/serviceAccountName").and_then(Value::as_str);
    named.filter(|a| !a.is_empty()).map_or_else(
        || format!("{}-compute@developer.gserviceaccount.com", ctx.namespace(ns)),
        str::to_string,
    )
}

/// Roles that include `secretmanager.versions.access`.
const ACCESSOR_ROLES: [&str; 3] =
    ["roles/secretmanager.secretAccessor", "roles/secretmanager.admin", "roles/owner"];

/// Why `account` cannot read the secret, as Cloud Run says it. The fake holds no project-level
/// policy, so a secret stored without a policy of its own counts as readable (as if granted on
/// the project); one whose policy grants none of [`ACCESSOR_ROLES`] to the account, to all
/// users or to a group (whose members the fake cannot see) does not start.
fn unreadable(ctx: &Ctx, project: &str, id: &str, key: &str, account: &str) -> Option<String> {
    let p = ctx.secrets.project(project)?;
    let policy = p.secret(id)?.policy.as_ref()?;
    let bindings = policy.get("bindings").and_then(Value::as_array);
    let covers = |member: &str| {
        member == format!("serviceAccount:{account}")
            || member == "allUsers"
            || member == "allAuthenticatedUsers"
            || member.starts_with("group:")
    };
    let granted = bindings.into_iter().flatten().any(|b| {
        let role = b.get("role").and_then(Value::as_str).unwrap_or_default();
        let members = b.get("members").and_then(Value::as_array);
        ACCESSOR_ROLES.contains(&role)
            && members.into_iter().flatten().filter_map(Value::as_str).any(covers)
    });
    (!granted).then(|| {
        format!(
            "Permission denied on secret: projects/{}/secrets/{id}/versions/{key} for Revision \
             service account {account}. The service account used must be granted the 'Secret \
             Manager Secret Accessor' role (roles/secretmanager.secretAccessor) at the secret, \
             project or higher level.",
            p.name_key()
        )
    })
}

/// Why a secret version cannot be mounted: missing, or not ENABLED.
fn unusable(ctx: &Ctx, project: &str, id: &str, key: &str) -> Option<String> {
    let p = ctx.secrets.project(project);
    let shown = p.map_or(project, |p| p.name_key());
    let name = format!("projects/{shown}/secrets/{id}/versions/{key}");
    match p.and_then(|p| p.secret(id)).and_then(|s| s.version(key)).map(version_state) {
        None => Some(format!("Secret {name} was not found")),
        Some("ENABLED") => None,
        Some(state) => Some(format!("Secret {name} is in {state} state")),
    }
}

/// Aliases from the `run.googleapis.com/secrets` annotation (`alias:projects/P/secrets/S,…`),
/// read from the template and, failing that, the service.
fn aliases(service: &Value, template: &Value) -> HashMap<String, (String, String)> {
    let annotation = |v: &Value| {
        v.pointer("/metadata/annotations")?.get(SECRETS_ANNOTATION)?.as_str().map(str::to_string)
    };
    let text = annotation(template).or_else(|| annotation(service)).unwrap_or_default();
    text.split(',')
        .filter_map(|pair| {
            let (alias, path) = pair.trim().split_once(':')?;
            let parts: Vec<&str> = path.split('/').collect();
            let ["projects", project, "secrets", secret] = parts.as_slice() else { return None };
            Some((alias.to_string(), (project.to_string(), secret.to_string())))
        })
        .collect()
}

/// Every secret reference of a template, env variables first, then volumes.
fn secret_refs(template: &Value) -> Vec<SecretRef> {
    let list = |v: Option<&Value>| v.and_then(Value::as_array).cloned().unwrap_or_default();
    let text = |v: &Value, p: &str| v.pointer(p).and_then(Value::as_str).map(str::to_string);
    let mut refs = Vec::new();
    for (ci, container) in list(template.pointer("/spec/containers")).iter().enumerate() {
        for (ei, env) in list(container.get("env")).iter().enumerate() {
            let Some(name) = text(env, "/valueFrom/secretKeyRef/name") else { continue };
            let key = text(env, "/valueFrom/secretKeyRef/key").unwrap_or_else(|| "latest".into());
            let field = format!(
                "spec.template.spec.containers[{ci}].env[{ei}].value_from.secret_key_ref.name"
            );
            refs.push(SecretRef { field, name, key });
        }
    }
    for (vi, volume) in list(template.pointer("/spec/volumes")).iter().enumerate() {
        let Some(name) = text(volume, "/secret/secretName") else { continue };
        let items = list(volume.pointer("/secret/items"));
        if items.is_empty() {
            let field = format!("spec.template.spec.volumes[{vi}].secret.secret_name");
            refs.push(SecretRef { field, name: name.clone(), key: "latest".into() });
        }
        for (ii, item) in items.iter().enumerate() {
            let key = text(item, "/key").unwrap_or_else(|| "latest".into());
            let field = format!("spec.template.spec.volumes[{vi}].secret.items[{ii}].key");
            refs.push(SecretRef { field, name: name.clone(), key });
        }
    }
    refs
}

/// The region code in `run.app` hosts: the initials of the region's words (`us-central1`: `uc`).
fn region_code(region: &str) -> String {
    region.split('-').filter_map(|w| w.chars().next()).collect()
}

/// A deterministic stand-in for randomness, so runs are reproducible.
fn hash(value: impl std::hash::Hash) -> u64 {
    BuildHasherDefault::<DefaultHasher>::default().hash_one(value)
}

/// `n` lowercase letters and digits derived from a seed.
fn letters(seed: impl std::hash::Hash, n: usize) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut h = hash(seed);
    (0..n)
        .map(|i| {
            if i % 12 == 11 {
                h = hash(h);
            }
            let c = ALPHABET[(h % ALPHABET.len() as u64) as usize];
            h /= ALPHABET.len() as u64;
            c as char
        })
        .collect()
}

fn uid(seed: u64) -> String {
    let (a, b) = (hash(seed), hash(!seed));
    format!(
        "{:08x}-{:04x}-4{:03x}-a{:03x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        b >> 52,
        b & 0xffff_ffff_ffff
    )
}

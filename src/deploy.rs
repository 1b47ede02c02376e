//! `deploy`: gate, render, plan, apply and wait, one service after another.
//!
//! The gate runs first for every selected service; only when all pass does anything reach
//! Cloud Run. The apply step sends the live `resourceVersion`, so a concurrent change by someone
//! else is reported instead of overwritten; the wait step follows the new generation until its
//! `Ready` condition is True or False.

use crate::cloudrun::{ApiError, CloudRun};
use crate::diagnostic::{Diagnostic, Severity};
use crate::manifest::Version;
use crate::render::{self, RenderOptions};
use crate::report::mask;
use crate::resolve::Deployment;
use crate::source::FileId;
use crate::spec::{self, SpecMapping};
use crate::yaml::Node;
use serde::Serialize;
use serde_json::Value;
use std::time::Duration;

/// Where one service's deploy ended. The JSON report writes it in lower case (`"planned"`...);
/// those strings are part of the public interface.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Planned, and with `--dry-run` stopped there (validated by Cloud Run when online).
    Planned,
    /// Cloud Run's validation refused it in a dry run.
    Rejected,
    /// What Cloud Run would do with it could not be learnt: its live state could not be read,
    /// or a dry run's validation got no usable answer.
    Unverified,
    /// Its plan showed no changes, so it was not written.
    Unchanged,
    /// Written, and its new revision is Ready.
    Deployed,
    /// Cloud Run refused the write, or the new revision did not become Ready in time.
    Failed,
    /// The write may or may not have been applied.
    Unknown,
    /// Not deployed: an earlier service's rollout did not end Ready, or the live state of
    /// another selected service could not be read.
    Skipped,
}

/// The outcome of one service, for the report.
#[derive(Clone, Debug)]
pub struct Outcome {
    pub name: String,
    pub project: String,
    pub region: String,
    pub status: Status,
    pub plan: Option<Plan>,
    /// The ready revision and URL: the new ones once deployed, the live ones when unchanged.
    pub revision: Option<String>,
    pub url: Option<String>,
    /// The secret mappings of the rendered target container.
    pub mappings: Vec<Mapping>,
    /// Optional entries not mapped because their secret is unusable.
    pub left_out: Vec<String>,
    /// Why it failed, was rejected, was not verified or was skipped (naming the service whose
    /// rollout failed, or whose live state could not be read).
    pub message: Option<String>,
    /// The revision serving before the deploy, if any: where traffic stays when it fails.
    pub serving: Option<String>,
    /// Whether Cloud Run refused the write itself, so that nothing of this deploy reached the
    /// service (a failed rollout otherwise left a revision that did not become Ready).
    pub write_refused: bool,
}

impl Outcome {
    /// A service about to be planned: nothing known yet but its name and place.
    pub fn new(name: &str, project: &str, region: &str) -> Outcome {
        Outcome {
            name: name.to_string(),
            project: project.to_string(),
            region: region.to_string(),
            status: Status::Planned,
            plan: None,
            revision: None,
            url: None,
            mappings: Vec::new(),
            left_out: Vec::new(),
            message: None,
            serving: None,
            write_refused: false,
        }
    }

    /// Marks the outcome with `status` and a message saying why.
    pub fn ended(&mut self, status: Status, message: String) {
        self.status = status;
        self.message = Some(message);
    }
}

/// One secret mapping as a service carries it: names and versions only. A name that looks
/// like a credential (a token pasted where a name goes, in a live service too) is kept as it is
/// for comparing, and written as [`crate::diagnostic::unless_credential`] describes it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Mapping {
    /// The env var name or file path.
    #[serde(serialize_with = "shown_as")]
    pub target: String,
    /// `env` or `file`.
    pub kind: &'static str,
    /// The full secret name, or the name as written when it cannot be resolved.
    #[serde(serialize_with = "shown_as")]
    pub secret: String,
    #[serde(serialize_with = "shown_as")]
    pub version: String,
}

fn shown_as<S: serde::Serializer>(name: &str, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&crate::diagnostic::unless_credential(name))
}

/// A change of one mapping between the live service and the rendered one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MappingChange {
    /// `added`, `removed` or `changed`.
    pub change: &'static str,
    #[serde(serialize_with = "shown_as")]
    pub target: String,
    pub before: Option<Mapping>,
    pub after: Option<Mapping>,
}

/// The target container's image before and after a deploy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ImageChange {
    pub before: String,
    pub after: String,
}

/// What a deploy of one service would change.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    /// The service does not exist yet.
    pub new_service: bool,
    pub mappings: Vec<MappingChange>,
    /// The target container's image, when it changes.
    pub image: Option<ImageChange>,
    /// A unified diff of every other field; credentials are shown as `<redacted>`.
    pub diff: String,
    /// The live service's newest revision is not Ready (an earlier rollout failed): deploying
    /// starts a new revision even when nothing else changed.
    pub latest_not_ready: bool,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        !self.new_service
            && !self.latest_not_ready
            && self.mappings.is_empty()
            && self.image.is_none()
            && self.diff.is_empty()
    }
}

/// The mappings of a service's target container, read back from its tree.
pub fn mappings(tree: &Node, project: &str, container: Option<&str>) -> Vec<Mapping> {
    let Some(spec) = spec::read(FileId(usize::MAX), tree.clone(), &mut Vec::new()) else {
        return Vec::new();
    };
    let index = match container {
        Some(name) => {
            spec.containers.iter().position(|c| c.name.as_ref().is_some_and(|n| n.value == name))
        }
        None if spec.containers.len() == 1 => Some(0),
        None => spec.containers.iter().position(|c| c.declares_port),
    };
    let Some(index) = index else { return Vec::new() };
    spec.mappings(project).iter().filter(|m| m.container == index).map(mapping).collect()
}

fn mapping(m: &SpecMapping) -> Mapping {
    Mapping {
        target: m.target.clone(),
        kind: if m.is_file { "file" } else { "env" },
        secret: m.secret.as_ref().map_or_else(|| m.raw_name.value.clone(), ToString::to_string),
        version: m.version().map_or_else(|| "?".to_string(), |v| v.to_string()),
    }
}

/// The target container's name in a rendered tree, so the live service's counterpart is found
/// by name.
pub fn container_name(tree: &Node, index: usize) -> Option<String> {
    let containers = tree.path(&["spec", "template", "spec", "containers"])?.as_seq()?;
    containers.get(index)?.get("name")?.as_str().map(str::to_string)
}

/// Compares the rendered service with the live one (`None`: the service is new). `baseline`
/// names what stands for the live service in the diff's header: `live`, or `spec` when the
/// spec file stands in for it offline.
pub fn plan(
    rendered: &Node,
    live: Option<&Node>,
    baseline: &str,
    project: &str,
    container: usize,
) -> Plan {
    let name = container_name(rendered, container);
    let after = mappings(rendered, project, name.as_deref());
    let before = live.map(|l| mappings(l, project, name.as_deref())).unwrap_or_default();
    let mut changes = Vec::new();
    for m in &after {
        match before.iter().find(|b| b.target == m.target) {
            None => changes.push(MappingChange {
                change: "added",
                target: m.target.clone(),
                before: None,
                after: Some(m.clone()),
            }),
            Some(b) if b != m => changes.push(MappingChange {
                change: "changed",
                target: m.target.clone(),
                before: Some(b.clone()),
                after: Some(m.clone()),
            }),
            Some(_) => {}
        }
    }
    for b in before.iter().filter(|b| !after.iter().any(|a| a.target == b.target)) {
        changes.push(MappingChange {
            change: "removed",
            target: b.target.clone(),
            before: Some(b.clone()),
            after: None,
        });
    }
    let image_of = |tree: &Node| {
        let containers = tree.path(&["spec", "template", "spec", "containers"])?.as_seq()?;
        let c = match &name {
            Some(n) => {
                containers.iter().find(|c| c.get("name").and_then(Node::as_str) == Some(n))?
            }
            None => containers.get(container)?,
        };
        c.get("image")?.as_str().map(str::to_string)
    };
    let image = match (live.and_then(image_of), image_of(rendered)) {
        (Some(before), Some(after)) if before != after => Some(ImageChange { before, after }),
        _ => None,
    };
    // A literal value under a name mapped from a secret is that secret, whatever the name.
    let secret_vars: Vec<&str> =
        after.iter().filter(|m| m.kind == "env").map(|m| m.target.as_str()).collect();
    let diff = match live {
        Some(live) => field_diff(live, rendered, baseline, &secret_vars),
        None => String::new(),
    };
    let latest_not_ready = live.is_some_and(|l| latest_not_ready(&l.to_json()));
    Plan { new_service: live.is_none(), mappings: changes, image, diff, latest_not_ready }
}

/// Whether the live service's newest revision is not the one serving: its `Ready` condition is
/// not True, or the latest created revision is not the latest ready one. A spec file (no
/// `status`) says nothing either way.
fn latest_not_ready(live: &Value) -> bool {
    let Some(status) = live.get("status") else { return false };
    let ready = status
        .get("conditions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find(|c| c.get("type").and_then(Value::as_str) == Some("Ready"))
        .and_then(|c| c.get("status"))
        .and_then(Value::as_str);
    let created = status.get("latestCreatedRevisionName");
    ready != Some("True")
        || created.is_some_and(|c| Some(c) != status.get("latestReadyRevisionName"))
}

/// Fields that Cloud Run sets itself and that a spec never carries.
pub const SERVER_METADATA: &[&str] =
    &["generation", "resourceVersion", "uid", "creationTimestamp", "selfLink", "namespace"];
pub const SERVER_ANNOTATIONS: &[&str] = &[
    "serving.knative.dev/creator",
    "serving.knative.dev/lastModifier",
    "run.googleapis.com/operation-id",
    "run.googleapis.com/ingress-status",
    "run.googleapis.com/urls",
    "client.knative.dev/user-image",
];

/// A diff of everything but status, server-set metadata, secret mappings and images (those
/// have their own sections of the plan). Literal values of `secret_vars`, and those that look
/// like credentials, are redacted; credentials elsewhere in the text are masked.
fn field_diff(live: &Node, rendered: &Node, baseline: &str, secret_vars: &[&str]) -> String {
    // An earlier `--force-new-revision` (or restart) left its stamp on the live template; it is
    // a change only when this deploy sets a new one.
    let mut live = live.clone();
    let path = ["spec", "template", "metadata", "annotations"];
    let forced = rendered.path(&path).and_then(|a| a.get(render::FORCE_ANNOTATION)).is_some();
    if !forced && let Some(annotations) = live.path_mut(&path) {
        annotations.remove(render::FORCE_ANNOTATION);
    }
    let texts =
        (comparable(&live, secret_vars).to_yaml(), comparable(rendered, secret_vars).to_yaml());
    let (before, after) = match texts {
        (Ok(before), Ok(after)) => (before, after),
        // Not a change that could be shown, and not "no change" either: the plan says so, and
        // the service is not skipped as unchanged.
        (Err(e), _) | (_, Err(e)) => return format!("the other fields cannot be compared: {e}\n"),
    };
    if before == after {
        return String::new();
    }
    // Env values were redacted above; a credential can also sit in an annotation, an argument
    // or a command, which no rule reads: the lines are masked as the excerpts of findings are.
    let shown = (mask::masked(&before, []), mask::masked(&after, []));
    if shown.0 == shown.1 {
        return "a value that looks like a credential changes (not shown)\n".to_string();
    }
    masked_diff([&before, &after], [&shown.0, &shown.1], baseline)
}

/// A unified diff (two lines of context) of the `raw` texts, written with the lines of their
/// masked copies `shown`. The lines are compared raw so that a credential that changes is a
/// changed line, masked on both sides, rather than no change because its two masked forms are
/// equal. Masking keeps every line break, so the two texts of a side have the same lines.
fn masked_diff(raw: [&str; 2], shown: [&str; 2], baseline: &str) -> String {
    use similar::{ChangeTag, udiff::UnifiedHunkHeader};
    use std::fmt::Write as _;
    fn lines(text: &str) -> Vec<&str> {
        text.split_inclusive('\n').collect()
    }
    let (old, new) = (lines(raw[0]), lines(raw[1]));
    let (old_shown, new_shown) = (lines(shown[0]), lines(shown[1]));
    let ops = similar::capture_diff_slices(similar::Algorithm::Myers, &old, &new);
    let mut out = format!("--- {baseline}\n+++ rendered\n");
    for group in similar::group_diff_ops(ops, 2) {
        let _ = writeln!(out, "{}", UnifiedHunkHeader::new(&group));
        for change in group.iter().flat_map(|op| op.iter_changes(&old_shown, &new_shown)) {
            let sign = match change.tag() {
                ChangeTag::Delete => '-',
                ChangeTag::Insert => '+',
                ChangeTag::Equal => ' ',
            };
            let line = change.value();
            let _ = write!(out, "{sign}{line}");
            if !line.ends_with('\n') {
                out.push('\n');
            }
        }
    }
    out
}

fn comparable(tree: &Node, secret_vars: &[&str]) -> Node {
    let mut tree = tree.clone();
    tree.remove("status");
    if let Some(metadata) = tree.get_mut("metadata") {
        for key in SERVER_METADATA {
            metadata.remove(key);
        }
        if let Some(annotations) = metadata.get_mut("annotations") {
            SERVER_ANNOTATIONS.iter().for_each(|k| annotations.remove(k));
        }
        if let Some(labels) = metadata.get_mut("labels") {
            labels.remove("cloud.googleapis.com/location");
        }
        drop_if_empty(metadata, "annotations");
        drop_if_empty(metadata, "labels");
    }
    // Without `traffic`, Cloud Run sends all of it to the latest revision, and says so.
    if let Some(spec) = tree.get_mut("spec").filter(|s| s.get("traffic").is_none()) {
        let all = serde_json::json!([{ "percent": 100, "latestRevision": true }]);
        spec.set("traffic", Node::from_json(&all));
    }
    if let Some(annotations) = tree.path_mut(&["spec", "template", "metadata", "annotations"]) {
        annotations.remove(spec::SECRETS_ANNOTATION);
        annotations.remove("run.googleapis.com/client-name");
        annotations.remove("client.knative.dev/user-image");
    }
    if let Some(template) = tree.path_mut(&["spec", "template", "metadata"]) {
        template.remove("name");
        drop_if_empty(template, "annotations");
    }
    if let Some(template) = tree.path_mut(&["spec", "template"]) {
        drop_if_empty(template, "metadata");
    }
    if let Some(pod) = tree.path_mut(&["spec", "template", "spec"]) {
        strip_secrets(pod, secret_vars);
    }
    sort_keys(&mut tree);
    tree
}

/// Sorts every mapping by key: Cloud Run answers its fields in an order of its own, which a
/// spec file need not follow, and an order is no change. Lists keep their order, which is.
fn sort_keys(node: &mut Node) {
    match &mut node.value {
        crate::yaml::Value::Map(entries) => {
            entries.sort_by_cached_key(|(key, _)| key.scalar_text().unwrap_or_default());
            entries.iter_mut().for_each(|(_, value)| sort_keys(value));
        }
        crate::yaml::Value::Seq(items) => items.iter_mut().for_each(sort_keys),
        _ => {}
    }
}

/// Removes secret mappings and images, and hides literal values of `secret_vars` and those
/// that `plaintext-secret` calls credentials: by the name, or by a shape in the value whatever
/// the name.
fn strip_secrets(pod: &mut Node, secret_vars: &[&str]) {
    use crate::yaml::Value as V;
    let secret_volumes: Vec<String> = pod
        .get("volumes")
        .and_then(Node::as_seq)
        .map(|vs| {
            vs.iter()
                .filter(|v| v.get("secret").is_some())
                .filter_map(|v| v.get("name")?.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    if let Some(V::Seq(volumes)) = pod.get_mut("volumes").map(|v| &mut v.value) {
        volumes.retain(|v| v.get("secret").is_none());
    }
    drop_if_empty(pod, "volumes");
    let Some(V::Seq(containers)) = pod.get_mut("containers").map(|c| &mut c.value) else { return };
    for container in containers.iter_mut() {
        container.remove("image");
        if let Some(V::Seq(env)) = container.get_mut("env").map(|e| &mut e.value) {
            env.retain(|e| e.path(&["valueFrom", "secretKeyRef"]).is_none());
            crate::rules::plaintext_secret::redact_env(env, secret_vars);
        }
        if let Some(V::Seq(mounts)) = container.get_mut("volumeMounts").map(|m| &mut m.value) {
            mounts.retain(|m| {
                m.get("name")
                    .and_then(Node::as_str)
                    .is_none_or(|n| !secret_volumes.iter().any(|s| s == n))
            });
        }
        drop_if_empty(container, "env");
        drop_if_empty(container, "volumeMounts");
    }
    drop_if_empty(pod, "volumes");
}

/// Removes a list or mapping left empty by stripping, so that "none" and "empty" compare equal.
fn drop_if_empty(node: &mut Node, key: &str) {
    let empty = node.get(key).is_some_and(|n| {
        n.as_seq().is_some_and(<[Node]>::is_empty) || n.as_map().is_some_and(<[_]>::is_empty)
    });
    if empty {
        node.remove(key);
    }
}

/// `--pin-versions`: the version number `latest` resolves to now, by target.
pub fn pins(
    deployment: &Deployment,
    inventory: &crate::inventory::Inventory,
) -> std::collections::BTreeMap<String, u64> {
    let mut pins = std::collections::BTreeMap::new();
    for binding in deployment.bindings.iter().filter(|b| b.version == Some(Version::Latest)) {
        let Some(secret) = &binding.secret else { continue };
        let Some(crate::inventory::ProjectInventory::Listed(secrets)) =
            inventory.projects.get(&secret.project)
        else {
            continue;
        };
        let newest = secrets
            .get(&secret.secret)
            .and_then(|s| s.versions.as_ref().ok()?.first().map(|v| v.number));
        if let Some(n) = newest {
            pins.insert(binding.target().to_string(), n);
        }
    }
    pins
}

/// The gate's findings that make an entry unusable: a service with it mapped could not start.
const UNUSABLE: [&str; 5] = [
    "secret-not-found",
    "version-not-found",
    "version-disabled",
    "version-destroyed",
    "latest-unusable",
];

/// The entries of `service` to leave out of the rendered spec: optional entries whose secret
/// or version is missing, disabled or destroyed. Mapping one would stop the new revision from
/// starting; the gate has already refused the deploy if such an entry were required. An entry
/// that could not be verified never gets here: the gate checks with
/// [`crate::check::CheckOptions::fail_closed`], so it refuses it.
pub fn leave_out(findings: &[Diagnostic], service: &str) -> std::collections::BTreeSet<String> {
    findings
        .iter()
        .filter(|d| d.service.as_deref() == Some(service) && UNUSABLE.contains(&d.code))
        .filter_map(|d| d.target.clone())
        .collect()
}

/// Renders a deployment's spec, or says why it cannot be.
pub fn render_deployment(
    deployment: &Deployment,
    spec: &spec::ServiceSpec,
    container: usize,
    options: &RenderOptions,
) -> Result<Node, String> {
    render::render(deployment, spec, container, options)
        .map_err(|e| format!("cannot render `{}`: {}", deployment.service.name.value, e))
}

/// Sets the annotation of `--force-new-revision` on a request body's revision template, so that
/// Cloud Run starts a new revision of an unchanged template.
pub fn force_new_revision(body: &mut Value, stamp: &str) {
    let mut at = body;
    for key in ["spec", "template", "metadata", "annotations"] {
        let Some(object) = at.as_object_mut() else { return };
        at = object.entry(key).or_insert_with(|| Value::Object(Default::default()));
    }
    if let Some(annotations) = at.as_object_mut() {
        annotations.insert(render::FORCE_ANNOTATION.into(), Value::String(stamp.into()));
    }
}

/// The body to send: the rendered service with the live `resourceVersion`, so that Cloud Run
/// refuses the write if someone changed the service since it was read.
pub fn request_body(rendered: &Node, live: Option<&Value>) -> Value {
    let mut body = rendered.to_json();
    let version = live.and_then(|l| l.pointer("/metadata/resourceVersion")).cloned();
    if let (Some(version), Some(metadata)) =
        (version, body.get_mut("metadata").and_then(Value::as_object_mut))
    {
        metadata.insert("resourceVersion".into(), version);
    }
    body
}

/// How waiting for the new revision ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WaitOutcome {
    Ready { revision: String, url: String },
    Failed { reason: String, message: String },
    TimedOut { last: String },
}

/// The service's `Ready` condition for `generation`: `None` while it is not yet observed or
/// still Unknown, with the latest condition message.
pub fn ready_state(service: &Value, generation: i64) -> (Option<WaitOutcome>, String) {
    let observed =
        service.pointer("/status/observedGeneration").and_then(Value::as_i64).unwrap_or(0);
    let conditions = service
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let ready = conditions.iter().find(|c| c.get("type").and_then(Value::as_str) == Some("Ready"));
    let text = |c: Option<&Value>, k: &str| {
        c.and_then(|c| c.get(k)).and_then(Value::as_str).unwrap_or_default().to_string()
    };
    let message = text(ready, "message");
    if observed < generation {
        return (None, format!("waiting for generation {generation} to be observed"));
    }
    let outcome = match text(ready, "status").as_str() {
        "True" => Some(WaitOutcome::Ready {
            revision: service
                .pointer("/status/latestReadyRevisionName")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            url: service
                .pointer("/status/url")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
        }),
        "False" => {
            Some(WaitOutcome::Failed { reason: text(ready, "reason"), message: message.clone() })
        }
        _ => None,
    };
    (
        outcome,
        if message.is_empty() {
            "waiting for the revision to become Ready".into()
        } else {
            message
        },
    )
}

/// Which service to wait for, and how.
pub struct WaitFor<'a> {
    pub region: &'a str,
    pub project: &'a str,
    pub name: &'a str,
    /// The generation the write produced.
    pub generation: i64,
    pub timeout: Duration,
    pub poll: Duration,
}

/// Polls the service until the new generation is Ready or not, or the timeout passes.
pub async fn wait(
    client: &CloudRun,
    w: &WaitFor<'_>,
    on_status: &(dyn Fn(&str) + Sync),
) -> Result<WaitOutcome, ApiError> {
    let deadline = tokio::time::Instant::now() + w.timeout;
    let mut last = String::new();
    loop {
        // A read that hangs must not hold the wait past its timeout.
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let Ok(read) = tokio::time::timeout(left, client.get(w.region, w.project, w.name)).await
        else {
            return Ok(WaitOutcome::TimedOut { last });
        };
        if let Some(service) = read? {
            let (outcome, message) = ready_state(&service, w.generation);
            if let Some(outcome) = outcome {
                return Ok(outcome);
            }
            if message != last {
                on_status(&message);
                last = message;
            }
        }
        if tokio::time::Instant::now() + w.poll > deadline {
            return Ok(WaitOutcome::TimedOut { last });
        }
        tokio::time::sleep(w.poll).await;
    }
}

/// Keeps the findings that concern the selected services, or no service at all.
pub fn gate_findings(diagnostics: &[Diagnostic], services: &[String]) -> Vec<Diagnostic> {
    diagnostics
        .iter()
        .filter(|d| d.service.as_ref().is_none_or(|s| services.contains(s)))
        .cloned()
        .collect()
}

/// Whether findings block a rollout: any error.
pub fn blocks(findings: &[Diagnostic]) -> bool {
    findings.iter().any(|d| d.severity == Severity::Error)
}

#[cfg(test)]
mod tests {
    use super::plan;
    use crate::yaml::{self, Node};

    /// A service whose only container has the env vars of `env`, YAML list items at column 0.
    fn service(env: &str) -> Node {
        let env: String = env.lines().map(|l| format!("        {l}\n")).collect();
        let text = format!(
            "apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata:\n  name: api\n\
            spec:\n  template:\n    spec:\n      containers:\n      - image: app\n        env:\n\
            {env}"
        );
        yaml::parse(text.as_bytes()).expect("the test spec parses")
    }

    /// A live service with keys under innocent names, which the rendered spec drops.
    #[test]
    fn plan_redacts_credential_values_under_innocent_names() {
        let live = service(
            "- name: SOME_SETTING\n  value: sk_live_51HXYZZY0123456789abcdef\n\
            - name: GH\n  value: ghp_XYZZY0123456789012345678901234567890\n\
            - name: PEM\n  value: \"-----BEGIN PRIVATE KEY-----\\nMIIEvXYZZY\"\n\
            - name: LOG_LEVEL\n  value: debug",
        );
        let rendered = service("- name: LOG_LEVEL\n  value: info");
        let diff = plan(&rendered, Some(&live), "live", "acme", 0).diff;
        assert!(!diff.contains("XYZZY"), "the diff shows a credential:\n{diff}");
        assert_eq!(diff.matches("<redacted>").count(), 3, "{diff}");
        assert!(diff.contains("value: debug") && diff.contains("value: info"), "{diff}");
    }

    /// Fields in another order are no change: Cloud Run answers them in an order of its own.
    #[test]
    fn an_order_of_fields_is_no_change() {
        let text = |pod: &str| {
            format!(
                "apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata:\n  name: api\n\
                spec:\n  template:\n    spec:\n{pod}"
            )
        };
        let first = text("      timeoutSeconds: 300\n      containers:\n      - image: app\n");
        let then = text("      containers:\n      - image: app\n      timeoutSeconds: 300\n");
        let (live, rendered) = (yaml::parse(first.as_bytes()), yaml::parse(then.as_bytes()));
        let plan = plan(&rendered.unwrap(), Some(&live.unwrap()), "live", "acme", 0);
        assert!(plan.is_empty(), "{}", plan.diff);
    }

    /// An argument that changes from one token to another masks to the same text on both
    /// sides: the plan must still count it as a change, or the deploy is skipped as unchanged.
    #[test]
    fn a_credential_that_changes_unseen_is_still_a_change() {
        let with_arg = |token: &str| {
            let mut tree = service("- name: LOG_LEVEL\n  value: info");
            let containers = tree.path_mut(&["spec", "template", "spec", "containers"]);
            let Some(yaml::Value::Seq(containers)) = containers.map(|c| &mut c.value) else {
                panic!("the test spec has containers")
            };
            containers[0]
                .set("args", Node::from_json(&serde_json::json!([format!("--key={token}")])));
            tree
        };
        let live = with_arg("ghp_XYZZY0123456789012345678901234567890");
        let rendered = with_arg("ghp_ABCDE0123456789012345678901234567890");
        let plan = plan(&rendered, Some(&live), "live", "acme", 0);
        assert!(!plan.is_empty(), "a changed credential is no change:\n{}", plan.diff);
        assert!(!plan.diff.contains("XYZZY") && !plan.diff.contains("ABCDE"), "{}", plan.diff);

        // Beside another change, the credential's line is still a changed line, masked.
        let mut renamed = rendered;
        renamed.set("metadata", Node::from_json(&serde_json::json!({"name": "api-v2"})));
        let diff = super::plan(&renamed, Some(&live), "spec", "acme", 0).diff;
        let masked = format!("--key={}", "*".repeat(40));
        for line in ["--- spec", "+++ rendered", "-  name: api", "+  name: api-v2"] {
            assert!(diff.contains(line), "`{line}` in\n{diff}");
        }
        let changed =
            |sign: char| diff.lines().any(|l| l.starts_with(sign) && l.ends_with(&masked));
        assert!(changed('-') && changed('+'), "the credential's change is shown masked:\n{diff}");
        assert!(!diff.contains("XYZZY") && !diff.contains("ABCDE"), "{diff}");
    }
}

//! Cloud Run service specs in the Knative form (`serving.knative.dev/v1`, `kind: Service`).
//!
//! [`ServiceSpec`] is a read-only view over the YAML tree: it picks out what the rules need
//! (containers, env vars, secret volumes, the secrets annotation) and keeps the whole tree in
//! `root`, so that rendering can later change the mappings without losing any other field.

use crate::diagnostic::Diagnostic;
use crate::manifest::{Sp, Version};
use crate::rules::not_a_cloud_run_service;
use crate::source::FileId;
use crate::yaml::{Node, Span, Value};
use std::collections::HashMap;

/// The annotation on the revision template that maps secret aliases to full secret names.
pub const SECRETS_ANNOTATION: &str = "run.googleapis.com/secrets";

/// What secretgate reads of a Cloud Run service spec.
#[derive(Clone, Debug)]
pub struct ServiceSpec {
    pub file: FileId,
    pub root: Node,
    pub name: Option<Sp<String>>,
    pub aliases: Aliases,
    pub service_account: Option<Sp<String>>,
    pub containers: Vec<Container>,
    pub volumes: Vec<Volume>,
}

/// The parsed `run.googleapis.com/secrets` annotation: `alias:projects/P/secrets/S,...`.
#[derive(Clone, Debug, Default)]
pub struct Aliases {
    /// Where the annotation's value is written, when present.
    pub span: Option<Span>,
    /// Alias name and the full secret name it stands for.
    pub entries: Vec<(String, SecretName)>,
    /// Pieces of the annotation that are not `alias:projects/P/secrets/S`.
    pub malformed: Vec<String>,
    /// Aliases defined again after their first definition, with where the repeat is written
    /// (the whole value when it cannot be told): which definition Cloud Run would use cannot be
    /// told, so each is an error rather than a silent first choice.
    pub repeated: Vec<(String, Span)>,
}

/// A container of the revision template.
#[derive(Clone, Debug)]
pub struct Container {
    pub name: Option<Sp<String>>,
    pub span: Span,
    pub declares_port: bool,
    pub env: Vec<EnvVar>,
    pub mounts: Vec<Mount>,
}

impl Container {
    /// The name for messages: the container's name or its position.
    pub fn label(&self, index: usize) -> String {
        match &self.name {
            Some(n) => format!("container `{}`", n.value),
            None => format!("container #{}", index + 1),
        }
    }
}

/// One `env` entry of a container.
#[derive(Clone, Debug)]
pub struct EnvVar {
    pub name: Sp<String>,
    /// A literal `value`, when given.
    pub value: Option<Sp<String>>,
    pub secret_ref: Option<SecretRef>,
}

/// `secretKeyRef` in an env var, or one item of a secret volume: a secret (by id or alias) and
/// its version.
#[derive(Clone, Debug)]
pub struct SecretRef {
    pub name: Sp<String>,
    /// The version; `None` when the spec does not say (Cloud Run then uses `latest`).
    pub key: Option<Sp<String>>,
}

/// A `volumeMounts` entry.
#[derive(Clone, Debug)]
pub struct Mount {
    pub volume: Sp<String>,
    pub path: Sp<String>,
}

/// A volume of the revision template; only secret volumes are modelled.
#[derive(Clone, Debug)]
pub struct Volume {
    pub name: Sp<String>,
    pub secret: Option<SecretVolume>,
    /// The key of a source other than `secret` (`emptyDir`, `csi`, `nfs`...), when there is
    /// one: rendering must not add a secret to such a volume, which would then have two.
    pub other_source: Option<Sp<String>>,
}

/// `secret: {secretName, items}` of a volume.
#[derive(Clone, Debug)]
pub struct SecretVolume {
    pub secret_name: Option<Sp<String>>,
    pub items: Vec<VolumeItem>,
}

/// One file of a secret volume: `{key: VERSION, path: FILE}`.
#[derive(Clone, Debug)]
pub struct VolumeItem {
    pub key: Option<Sp<String>>,
    pub path: Sp<String>,
}

/// A full secret name: the project (id or number) and the secret id.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SecretName {
    pub project: String,
    pub secret: String,
}

impl SecretName {
    /// Parses `projects/P/secrets/S`; the parts are not validated here.
    pub fn parse_full(text: &str) -> Option<SecretName> {
        let rest = text.strip_prefix("projects/")?;
        let (project, secret) = rest.split_once("/secrets/")?;
        let ok = !project.is_empty() && !secret.is_empty() && !project.contains('/');
        (ok && !secret.contains('/'))
            .then(|| SecretName { project: project.to_string(), secret: secret.to_string() })
    }
}

impl std::fmt::Display for SecretName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "projects/{}/secrets/{}", self.project, self.secret)
    }
}

/// A secret the spec maps into a container, after alias resolution.
#[derive(Clone, Debug)]
pub struct SpecMapping {
    pub container: usize,
    /// The env var name, or the absolute file path.
    pub target: String,
    pub is_file: bool,
    /// Where the mapping is written (the env var name or the volume item).
    pub span: Span,
    /// The name as written (`secretKeyRef.name` or `secretName`).
    pub raw_name: Sp<String>,
    /// The secret, when the name is a valid id or a known alias.
    pub secret: Option<SecretName>,
    /// The version as written; `None` means Cloud Run's default, `latest`.
    pub key: Option<Sp<String>>,
}

impl SpecMapping {
    /// The version the mapping asks for, or `None` when the key is not a version.
    pub fn version(&self) -> Option<Version> {
        match &self.key {
            None => Some(Version::Latest),
            Some(k) => Version::parse(&k.value),
        }
    }
}

/// Reads a spec tree; reports `not-a-cloud-run-service` and returns `None` when it is not one.
pub fn read(file: FileId, root: Node, out: &mut Vec<Diagnostic>) -> Option<ServiceSpec> {
    if let Err((span, message, help)) = check_kind(&root) {
        let d = Diagnostic::new(&not_a_cloud_run_service::RULE, message)
            .at(file, span, "not a Cloud Run service")
            .help(help);
        out.push(d);
        return None;
    }
    let mut r = SpecReader { file, out, ok: true };
    let spec = r.spec(&root);
    r.ok.then_some(ServiceSpec { file, root, ..spec })
}

type KindError = (Span, String, String);

/// Tells a Knative Cloud Run service from the other things a YAML file in `deploy/` may be.
fn check_kind(root: &Node) -> Result<(), KindError> {
    let export_help = "export the service with `gcloud run services describe NAME --region R \
                       --format export > FILE`";
    if root.as_map().is_none() {
        let msg = format!("the file holds {}, not a Cloud Run service", root.kind_name());
        return Err((root.span, msg, export_help.to_string()));
    }
    let api = root.get("apiVersion");
    let kind = root.get("kind");
    let api_text = api.and_then(Node::as_str).unwrap_or_default();
    let kind_text = kind.and_then(Node::as_str).unwrap_or_default();
    if api_text == "serving.knative.dev/v1" && kind_text == "Service" {
        return Ok(());
    }
    let v2_name = root.get("name").and_then(Node::as_str).unwrap_or_default();
    let (message, span) = if api.is_none() && v2_name.contains("/jobs/") {
        ("a Cloud Run job in the Admin API v2 shape, not a service".to_string(), root.span)
    } else if api.is_none() && root.get("template").is_some() {
        let msg = "a Cloud Run service in the Admin API v2 shape; secretgate reads the Knative \
                   (v1) form that `gcloud run services replace` takes";
        (msg.to_string(), root.span)
    } else if kind_text == "Job" && api_text.starts_with("run.googleapis.com") {
        ("a Cloud Run job, not a service".to_string(), kind.map_or(root.span, |k| k.span))
    } else if api_text.starts_with("run.cnrm.cloud.google.com") {
        let msg =
            format!("a Config Connector `{kind_text}` resource, not a Cloud Run service export");
        (msg, api.map_or(root.span, |a| a.span))
    } else if api.is_none() || kind.is_none() {
        ("the file has no `apiVersion` and `kind` of a Cloud Run service".to_string(), root.span)
    } else if api_text != "serving.knative.dev/v1" {
        let msg = format!("`apiVersion: {api_text}` is not `serving.knative.dev/v1`");
        (msg, api.map_or(root.span, |a| a.span))
    } else {
        let msg = format!("`kind: {kind_text}` is not `Service`");
        (msg, kind.map_or(root.span, |k| k.span))
    };
    Err((span, message, export_help.to_string()))
}

struct SpecReader<'o> {
    file: FileId,
    out: &'o mut Vec<Diagnostic>,
    ok: bool,
}

impl SpecReader<'_> {
    fn bad(&mut self, node: &Node, what: &str, expected: &str) {
        let message = format!("{what} must be {expected}, found {}", node.kind_name());
        let d = Diagnostic::new(&not_a_cloud_run_service::RULE, message)
            .at(self.file, node.span, format!("expected {expected}"))
            .help(
                "Cloud Run rejects this service; compare with `gcloud run services describe \
                 --format export`",
            );
        self.out.push(d);
        self.ok = false;
    }

    /// The items of an optional list field; reports a field that is not a list.
    fn list<'n>(&mut self, parent: &'n Node, key: &str) -> &'n [Node] {
        match parent.get(key) {
            None => &[],
            Some(node) if node.value == Value::Null => &[],
            Some(node) => match node.as_seq() {
                Some(items) => items,
                None => {
                    self.bad(node, &format!("`{key}`"), "a list");
                    &[]
                }
            },
        }
    }

    fn text(&mut self, parent: &Node, key: &str) -> Option<Sp<String>> {
        let node = parent.get(key)?;
        match node.scalar_text() {
            Some(s) => Some(Sp::new(s, node.span)),
            None => {
                self.bad(node, &format!("`{key}`"), "a string");
                None
            }
        }
    }

    /// An optional mapping field; reports a field that is neither a mapping nor null, which
    /// would otherwise read as a service without containers.
    fn mapping<'n>(
        &mut self,
        parent: Option<&'n Node>,
        key: &str,
        shown: &str,
    ) -> Option<&'n Node> {
        let node = parent?.get(key)?;
        match node.value {
            Value::Null => None,
            _ if node.as_map().is_some() => Some(node),
            _ => {
                self.bad(node, &format!("`{shown}`"), "a mapping");
                None
            }
        }
    }

    fn spec(&mut self, root: &Node) -> ServiceSpec {
        let metadata = self.mapping(Some(root), "metadata", "metadata");
        let name = metadata.and_then(|m| self.text(m, "name"));
        let service = self.mapping(Some(root), "spec", "spec");
        let template = self.mapping(service, "template", "spec.template");
        let empty = Node { value: Value::Null, span: root.span };
        let aliases = template
            .and_then(|t| t.path(&["metadata", "annotations", SECRETS_ANNOTATION]))
            .map(|n| self.aliases(n))
            .unwrap_or_default();
        let pod = self.mapping(template, "spec", "spec.template.spec").unwrap_or(&empty);
        let service_account = self.text(pod, "serviceAccountName");
        let containers = self.list(pod, "containers").iter().map(|c| self.container(c)).collect();
        let volumes = self.list(pod, "volumes").iter().filter_map(|v| self.volume(v)).collect();
        ServiceSpec {
            file: self.file,
            root: empty.clone(),
            name,
            aliases,
            service_account,
            containers,
            volumes,
        }
    }

    fn aliases(&mut self, node: &Node) -> Aliases {
        let Some(text) = node.as_str() else {
            self.bad(node, &format!("the `{SECRETS_ANNOTATION}` annotation"), "a string");
            return Aliases::default();
        };
        let mut aliases = Aliases { span: Some(node.span), ..Aliases::default() };
        let mut offset = 0;
        for raw in text.split(',') {
            let piece = raw.trim();
            let at = offset + (raw.len() - raw.trim_start().len());
            offset += raw.len() + 1;
            if piece.is_empty() {
                continue;
            }
            let parsed = piece
                .split_once(':')
                .and_then(|(alias, full)| {
                    Some((alias.trim(), SecretName::parse_full(full.trim())?))
                })
                .filter(|(alias, _)| !alias.is_empty());
            match parsed {
                Some((alias, _)) if aliases.entries.iter().any(|(a, _)| a == alias) => {
                    let span = piece_span(node.span, text, at, piece.len());
                    aliases.repeated.push((alias.to_string(), span));
                }
                Some((alias, name)) => aliases.entries.push((alias.to_string(), name)),
                None => aliases.malformed.push(piece.to_string()),
            }
        }
        aliases
    }

    fn container(&mut self, node: &Node) -> Container {
        if node.as_map().is_none() {
            self.bad(node, "a container", "a mapping");
        }
        let name = self.text(node, "name");
        let declares_port = !self.list(node, "ports").is_empty();
        let env = self.list(node, "env").iter().filter_map(|e| self.env_var(e)).collect();
        let mounts = self.list(node, "volumeMounts").iter().filter_map(|m| self.mount(m)).collect();
        Container { name, span: node.span, declares_port, env, mounts }
    }

    fn env_var(&mut self, node: &Node) -> Option<EnvVar> {
        // A `name` of the wrong type is reported by `text`; only a missing one is reported here.
        let Some(name) = self.text(node, "name") else {
            if node.get("name").is_none() {
                self.bad(node, "an env entry", "a mapping with a `name`");
            }
            return None;
        };
        let value = self.text(node, "value");
        let secret_ref = node.path(&["valueFrom", "secretKeyRef"]).and_then(|r| {
            let name = self.text(r, "name");
            if name.is_none() && r.get("name").is_none() {
                self.bad(r, "`secretKeyRef`", "a mapping with a `name`");
            }
            Some(SecretRef { name: name?, key: self.text(r, "key") })
        });
        Some(EnvVar { name, value, secret_ref })
    }

    fn mount(&mut self, node: &Node) -> Option<Mount> {
        let volume = self.text(node, "name");
        let path = self.text(node, "mountPath");
        if volume.is_none() || path.is_none() {
            self.bad(node, "a volume mount", "a mapping with `name` and `mountPath`");
        }
        Some(Mount { volume: volume?, path: path? })
    }

    fn volume(&mut self, node: &Node) -> Option<Volume> {
        let Some(name) = self.text(node, "name") else {
            self.bad(node, "a volume", "a mapping with a `name`");
            return None;
        };
        let secret = node.get("secret").map(|s| {
            let secret_name = self.text(s, "secretName");
            let items = self.list(s, "items").iter().filter_map(|i| self.item(i)).collect();
            SecretVolume { secret_name, items }
        });
        let other_source = node.as_map().and_then(|entries| {
            let (key, _) = entries
                .iter()
                .find(|(k, _)| k.as_str().is_some_and(|k| k != "name" && k != "secret"))?;
            Some(Sp::new(key.scalar_text()?, key.span))
        });
        Some(Volume { name, secret, other_source })
    }

    fn item(&mut self, node: &Node) -> Option<VolumeItem> {
        let Some(path) = self.text(node, "path") else {
            self.bad(node, "a secret volume item", "a mapping with a `path`");
            return None;
        };
        Some(VolumeItem { key: self.text(node, "key"), path })
    }
}

impl ServiceSpec {
    /// Resolves a `secretKeyRef.name` or `secretName`: an alias from the annotation, or a plain
    /// secret id in the service's own project.
    pub fn resolve_name(&self, name: &str, project: &str) -> Option<SecretName> {
        if let Some((_, full)) = self.aliases.entries.iter().find(|(a, _)| a == name) {
            return Some(full.clone());
        }
        crate::rules::invalid_secret_id::is_valid_id(name)
            .then(|| SecretName { project: project.to_string(), secret: name.to_string() })
    }

    /// Every secret the spec maps, env vars first, then files, container by container.
    pub fn mappings(&self, project: &str) -> Vec<SpecMapping> {
        // Volumes by name (the first of each), so that each mount finds its own directly.
        let mut volumes: HashMap<&str, &Volume> = HashMap::new();
        for volume in &self.volumes {
            volumes.entry(volume.name.value.as_str()).or_insert(volume);
        }
        let mut out = Vec::new();
        for (index, container) in self.containers.iter().enumerate() {
            for var in &container.env {
                let Some(r) = &var.secret_ref else { continue };
                out.push(SpecMapping {
                    container: index,
                    target: var.name.value.clone(),
                    is_file: false,
                    span: var.name.span,
                    raw_name: r.name.clone(),
                    secret: self.resolve_name(&r.name.value, project),
                    key: r.key.clone(),
                });
            }
            for mount in &container.mounts {
                let volume = volumes.get(mount.volume.value.as_str()).copied();
                out.extend(self.file_mappings(index, mount, volume, project));
            }
        }
        out
    }

    /// The files that `mount`, of `volume`, provides to the container `index`.
    fn file_mappings(
        &self,
        index: usize,
        mount: &Mount,
        volume: Option<&Volume>,
        project: &str,
    ) -> Vec<SpecMapping> {
        let Some(secret) = volume.and_then(|v| v.secret.as_ref()) else { return Vec::new() };
        let Some(raw_name) = &secret.secret_name else { return Vec::new() };
        let resolved = self.resolve_name(&raw_name.value, project);
        let mapping = |path: &str, span: Span, key: Option<Sp<String>>| SpecMapping {
            container: index,
            target: join_path(&mount.path.value, path),
            is_file: true,
            span,
            raw_name: raw_name.clone(),
            secret: resolved.clone(),
            key,
        };
        if secret.items.is_empty() {
            // Without items Cloud Run mounts the latest version as a file named after the secret.
            return vec![mapping(&raw_name.value, mount.path.span, None)];
        }
        let items = secret.items.iter();
        items.map(|item| mapping(&item.path.value, item.path.span, item.key.clone())).collect()
    }
}

/// Where `len` bytes at `at` of a scalar's `text` are written, when the value is written as it
/// reads (plain, or quoted without escapes, on one line); otherwise the whole value.
fn piece_span(value: Span, text: &str, at: usize, len: usize) -> Span {
    let quoted = value.len == text.len() + 2;
    if (value.len != text.len() && !quoted) || text.contains('\n') {
        return value;
    }
    let shift = usize::from(quoted);
    Span {
        offset: value.offset + at + shift,
        len,
        line: value.line,
        column: value.column + text[..at].chars().count() + shift,
    }
}

/// Joins a mount directory and a file name, and normalises the result.
pub fn join_path(dir: &str, file: &str) -> String {
    normalize_path(&format!("{dir}/{file}"))
}

/// Collapses repeated slashes and `.` segments and drops a trailing slash, so that two spellings
/// of one path compare equal.
pub fn normalize_path(path: &str) -> String {
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty() && *p != ".").collect();
    let joined = parts.join("/");
    if path.starts_with('/') { format!("/{joined}") } else { joined }
}

/// The directory part of a normalised absolute path.
pub fn parent_dir(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) => "/",
        Some(i) => &path[..i],
        None => "",
    }
}

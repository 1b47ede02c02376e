//! Reads a [`Manifest`] from a YAML tree, reporting every schema problem with its span.

use super::{Environment, Manifest, PerEnv, Policy, SUPPORTED_VERSION, SecretEntry, Service, Sp};
use crate::diagnostic::{Diagnostic, may_show};
use crate::rules::{duplicate_target, manifest_schema};
use crate::source::FileId;
use crate::suggest::help_for_unknown;
use crate::yaml::{Node, Span, Value};
use std::collections::HashMap;

const TOP_KEYS: &[&str] = &["version", "environments", "policy", "services"];
const ENV_KEYS: &[&str] = &["project", "region", "service_account"];
const POLICY_KEYS: &[&str] =
    &["pin_versions", "required_classes", "max_version_age_days", "ignore_orphans"];
const SERVICE_KEYS: &[&str] = &["spec", "container", "environments", "service_account", "secrets"];
const ENTRY_KEYS: &[&str] = &["secret", "version", "class", "required"];

/// Reads the manifest from its tree and `text`; `None` when the document is not a mapping at all
/// (the reason is in `out`).
pub fn read(file: FileId, text: &str, root: &Node, out: &mut Vec<Diagnostic>) -> Option<Manifest> {
    let mut r = Reader { file, text, out };
    if root.value == Value::Null {
        let d = r.schema_error(root.span, "the manifest is empty", "empty file");
        r.out.push(d.help("start with `version: 1`, then `environments:` and `services:`"));
        return None;
    }
    let fields = r.fields(root, "the manifest", TOP_KEYS)?;
    let version = r.version(root, &fields);
    let environments = match fields.get("environments") {
        Some((_, v)) => r.environments(v),
        None => {
            r.missing(root.span, "environments", "the manifest");
            Vec::new()
        }
    };
    let policy = fields.get("policy").map(|(_, v)| r.policy(v)).unwrap_or_default();
    let services = match fields.get("services") {
        Some((_, v)) => r.services(v),
        None => {
            r.missing(root.span, "services", "the manifest");
            Vec::new()
        }
    };
    Some(Manifest { file, version, environments, policy, services })
}

/// The first value of each key of a mapping, in file order.
struct Fields<'n> {
    entries: Vec<(&'n str, (&'n Node, &'n Node))>,
}

impl<'n> Fields<'n> {
    fn get(&self, key: &str) -> Option<(&'n Node, &'n Node)> {
        self.entries.iter().find(|(k, _)| *k == key).map(|(_, e)| *e)
    }
}

struct Reader<'t, 'o> {
    file: FileId,
    /// The manifest's text: a number is quoted as written, since the tree holds a number too
    /// large for an integer only as a rounded float.
    text: &'t str,
    out: &'o mut Vec<Diagnostic>,
}

impl Reader<'_, '_> {
    /// A `manifest-schema` error, to be completed and pushed.
    fn schema_error(&self, span: Span, message: impl Into<String>, label: &str) -> Diagnostic {
        Diagnostic::new(&manifest_schema::RULE, message).at(self.file, span, label)
    }

    /// Records a `manifest-schema` error.
    fn schema(&mut self, span: Span, message: impl Into<String>, label: &str) {
        let d = self.schema_error(span, message, label);
        self.out.push(d);
    }

    /// Records a key or name given twice, pointing at both.
    fn repeated(&mut self, span: Span, first: Span, message: String) {
        let d = self.schema_error(span, message, "repeated here").also(
            self.file,
            first,
            "first given here",
        );
        self.out.push(d);
    }

    fn missing(&mut self, span: Span, key: &str, owner: &str) {
        self.schema(span, format!("{owner} has no `{key}`"), &format!("`{key}` missing here"));
    }

    fn wrong_type(&mut self, node: &Node, what: &str, expected: &str) {
        let found = match number_text(self.text, node) {
            Some(number) if may_show(&number) => format!("the number {number}"),
            _ => node.kind_name().to_string(),
        };
        let message = format!("{what} must be {expected}, found {found}");
        self.schema(node.span, message, &format!("expected {expected}"));
    }

    /// Checks that `node` is a mapping with string keys from `known`; reports unknown and repeated
    /// keys and returns the first value of each known key.
    fn fields<'n>(&mut self, node: &'n Node, what: &str, known: &[&str]) -> Option<Fields<'n>> {
        let Some(map) = node.as_map() else {
            self.wrong_type(node, what, "a mapping");
            return None;
        };
        let mut fields = Fields { entries: Vec::new() };
        for (key, value) in map {
            let Some(name) = self.key_name(key, what) else { continue };
            if !known.contains(&name) {
                let help = help_for_unknown(name, known, "expected one of");
                let message = format!("unknown key `{name}` in {what}");
                let d = self.schema_error(key.span, message, "unknown key").help(help);
                self.out.push(d);
                continue;
            }
            if let Some((first, _)) = fields.get(name) {
                let first = first.span;
                self.repeated(key.span, first, format!("`{name}` is given twice in {what}"));
                continue;
            }
            fields.entries.push((name, (key, value)));
        }
        Some(fields)
    }

    fn key_name<'n>(&mut self, key: &'n Node, what: &str) -> Option<&'n str> {
        let name = key.as_str();
        if name.is_none() {
            self.wrong_type(key, &format!("a key in {what}"), "a string");
        }
        name
    }

    fn version(&mut self, root: &Node, fields: &Fields) -> Option<Sp<i64>> {
        let Some((_, node)) = fields.get("version") else {
            self.missing(root.span, "version", "the manifest");
            return None;
        };
        let Value::Int(n) = node.value else {
            self.unreadable_version(node);
            return None;
        };
        if n != SUPPORTED_VERSION {
            let d = self.schema_error(
                node.span,
                format!("unsupported manifest version {n}"),
                "unsupported",
            );
            self.out.push(d.help(format!("this release reads `version: {SUPPORTED_VERSION}`")));
        }
        Some(Sp::new(n, node.span))
    }

    /// A manifest `version` that is no 64-bit integer: another type, or a whole number too large
    /// for one, which is an unsupported version rather than a wrong type.
    fn unreadable_version(&mut self, node: &Node) {
        let digits = number_text(self.text, node).filter(|t| t.bytes().all(|b| b.is_ascii_digit()));
        let Some(digits) = digits else {
            self.wrong_type(node, "`version`", "an integer");
            return;
        };
        let message = format!("unsupported manifest version {digits}: the number is out of range");
        let d = self.schema_error(node.span, message, "unsupported");
        self.out.push(d.help(format!("this release reads `version: {SUPPORTED_VERSION}`")));
    }

    fn string(&mut self, node: &Node, what: &str) -> Option<Sp<String>> {
        match node.as_str() {
            Some(s) if s.trim().is_empty() => {
                self.schema(node.span, format!("{what} is empty"), "empty string");
                None
            }
            Some(s) => Some(Sp::new(s.to_string(), node.span)),
            None => {
                self.wrong_type(node, what, "a string");
                None
            }
        }
    }

    fn string_list(&mut self, node: &Node, what: &str) -> Vec<Sp<String>> {
        let Some(items) = node.as_seq() else {
            self.wrong_type(node, what, "a list of strings");
            return Vec::new();
        };
        items.iter().filter_map(|item| self.string(item, &format!("an item of {what}"))).collect()
    }

    /// A string, or a mapping from environment name to string. With `numbers`, numbers are
    /// accepted and kept as written (versions), so that `invalid-version` says what is wrong
    /// with `.inf` or a number out of range instead of calling them the wrong type.
    fn per_env(&mut self, node: &Node, what: &str, numbers: bool) -> Option<PerEnv<String>> {
        let text = self.text;
        let scalar = |n: &Node| match &n.value {
            Value::Str(s) => Some(s.clone()),
            Value::Int(_) | Value::Float(_) if numbers => number_text(text, n),
            _ => None,
        };
        let expected = "a string or a mapping from environment to string";
        if let Some(map) = node.as_map() {
            let mut entries: Vec<(Sp<String>, Sp<String>)> = Vec::new();
            let mut seen: HashMap<&str, Span> = HashMap::new();
            for (key, value) in map {
                let Some(env) = self.key_name(key, what) else { continue };
                if let Some(first) = seen.get(env) {
                    self.repeated(key.span, *first, format!("environment `{env}` is given twice"));
                    continue;
                }
                match scalar(value) {
                    Some(s) => {
                        seen.insert(env, key.span);
                        entries.push((Sp::new(env.to_string(), key.span), Sp::new(s, value.span)))
                    }
                    None => self.wrong_type(value, &format!("{what} for `{env}`"), "a string"),
                }
            }
            return Some(PerEnv::ByEnv(entries, node.span));
        }
        match scalar(node) {
            Some(s) if s.trim().is_empty() => {
                self.schema(node.span, format!("{what} is empty"), "empty string");
                None
            }
            Some(s) => Some(PerEnv::Same(Sp::new(s, node.span))),
            None => {
                self.wrong_type(node, what, expected);
                None
            }
        }
    }

    fn environments(&mut self, node: &Node) -> Vec<Environment> {
        let Some(map) = node.as_map() else {
            self.wrong_type(node, "`environments`", "a mapping from environment name to settings");
            return Vec::new();
        };
        let mut envs: Vec<Environment> = Vec::new();
        let mut seen: HashMap<&str, Span> = HashMap::new();
        for (key, value) in map {
            let Some(name) = self.key_name(key, "`environments`") else { continue };
            if let Some(first) = seen.get(name) {
                self.repeated(key.span, *first, format!("environment `{name}` is defined twice"));
                continue;
            }
            if !valid_environment_name(name) {
                self.invalid_environment_name(name, key.span);
            }
            let what = format!("environment `{name}`");
            let Some(fields) = self.fields(value, &what, ENV_KEYS) else { continue };
            let mut get = |k: &str| {
                let node = fields.get(k).map(|(_, v)| v);
                node.and_then(|v| self.string(v, &format!("`{k}` of {what}")))
            };
            let mut project = get("project");
            let mut region = get("region");
            let service_account = get("service_account");
            // Both go into request URLs (the region into the Cloud Run host name): a value of
            // another shape is refused here rather than sent anywhere.
            if let Some(p) = project.take_if(|p| !valid_project(&p.value)) {
                let message = format!(
                    "`{}` is not a Google Cloud project id (letters, digits, `-`, `_`, `.` and \
                     `:` only)",
                    p.value
                );
                self.schema(p.span, message, "not a project id");
            }
            if let Some(r) = region.take_if(|r| !valid_region(&r.value)) {
                let message = format!(
                    "`{}` is not a Cloud Run region (such as `us-central1` or `europe-west4`)",
                    r.value
                );
                self.schema(r.span, message, "not a region");
            }
            for (k, found) in [("project", &project), ("region", &region)] {
                if found.is_none() && fields.get(k).is_none() {
                    self.missing(key.span, k, &what);
                }
            }
            seen.insert(name, key.span);
            let name = Sp::new(name.to_string(), key.span);
            envs.push(Environment { name, project, region, service_account });
        }
        envs
    }

    /// The name is filled into `{env}` in spec paths and secret names, and names a folder for
    /// `import`: a `/`, `..` or blank there would lead elsewhere or break the path.
    fn invalid_environment_name(&mut self, name: &str, span: Span) {
        let message = format!(
            "`{}` is not an environment name (letters, digits, `-` and `_`, starting with a \
             letter or digit)",
            name.escape_debug()
        );
        let d = self.schema_error(span, message, "not an environment name");
        self.out.push(d.help("rename the environment, here and wherever it is named"));
    }

    fn policy(&mut self, node: &Node) -> Policy {
        let Some(fields) = self.fields(node, "`policy`", POLICY_KEYS) else {
            return Policy::default();
        };
        let mut list = |k: &str| {
            let node = fields.get(k).map(|(_, v)| v);
            node.map(|v| self.string_list(v, &format!("`policy.{k}`"))).unwrap_or_default()
        };
        let pin_versions = list("pin_versions");
        let required_classes = list("required_classes");
        let ignore_orphans = list("ignore_orphans");
        let max_version_age_days =
            fields.get("max_version_age_days").and_then(|(_, v)| match v.value {
                Value::Int(n) if n > 0 => Some(Sp::new(n, v.span)),
                _ => {
                    self.wrong_type(v, "`policy.max_version_age_days`", "a positive integer");
                    None
                }
            });
        Policy { pin_versions, required_classes, max_version_age_days, ignore_orphans }
    }

    fn services(&mut self, node: &Node) -> Vec<Service> {
        let Some(map) = node.as_map() else {
            self.wrong_type(node, "`services`", "a mapping from service name to settings");
            return Vec::new();
        };
        let mut services: Vec<Service> = Vec::new();
        let mut seen: HashMap<&str, Span> = HashMap::new();
        for (key, value) in map {
            let Some(name) = self.key_name(key, "`services`") else { continue };
            if let Some(first) = seen.get(name) {
                self.repeated(key.span, *first, format!("service `{name}` is defined twice"));
                continue;
            }
            if !valid_service_name(name) {
                let message = format!(
                    "`{name}` is not a Cloud Run service name (lowercase letters, digits and `-`, \
                     starting with a letter, at most 63 characters)"
                );
                self.schema(key.span, message, "not a service name");
            }
            if let Some(service) = self.service(Sp::new(name.to_string(), key.span), value) {
                seen.insert(name, key.span);
                services.push(service);
            }
        }
        services
    }

    fn service(&mut self, name: Sp<String>, node: &Node) -> Option<Service> {
        let what = format!("service `{}`", name.value);
        let fields = self.fields(node, &what, SERVICE_KEYS)?;
        let spec = match fields.get("spec") {
            Some((_, v)) => self.per_env(v, &format!("`spec` of {what}"), false),
            None => {
                self.missing(name.span, "spec", &what);
                None
            }
        };
        let container = fields.get("container").and_then(|(_, v)| self.string(v, "`container`"));
        let environments =
            fields.get("environments").map(|(_, v)| self.string_list(v, "`environments`"));
        let service_account = fields
            .get("service_account")
            .and_then(|(_, v)| self.per_env(v, "`service_account`", false));
        let secrets = match fields.get("secrets") {
            Some((_, v)) => self.secrets(v, &what),
            None => Vec::new(),
        };
        Some(Service { name, spec, container, environments, service_account, secrets })
    }

    fn secrets(&mut self, node: &Node, service: &str) -> Vec<SecretEntry> {
        if node.value == Value::Null {
            return Vec::new();
        }
        let Some(map) = node.as_map() else {
            self.wrong_type(
                node,
                &format!("`secrets` of {service}"),
                "a mapping from env var or path to secret",
            );
            return Vec::new();
        };
        let mut entries: Vec<SecretEntry> = Vec::new();
        let mut seen: HashMap<String, Span> = HashMap::new();
        for (key, value) in map {
            let Some(target) = key.scalar_text() else {
                self.wrong_type(
                    key,
                    &format!("a key in `secrets` of {service}"),
                    "an env var name or path",
                );
                continue;
            };
            if let Some(first) = seen.get(&target) {
                let d = Diagnostic::new(
                    &duplicate_target::RULE,
                    format!("`{target}` is declared twice in {service}"),
                )
                .at(self.file, key.span, "declared again here")
                .also(self.file, *first, "first declared here")
                .target(Some(&target))
                .help("YAML keeps only one of two equal keys; remove one entry");
                self.out.push(d);
                continue;
            }
            let target = Sp::new(target, key.span);
            if let Some(entry) = self.entry(target, value) {
                seen.insert(entry.target.value.clone(), entry.target.span);
                entries.push(entry);
            }
        }
        entries
    }

    fn entry(&mut self, target: Sp<String>, node: &Node) -> Option<SecretEntry> {
        let what = format!("secret entry `{}`", target.value);
        let fields = self.fields(node, &what, ENTRY_KEYS)?;
        let secret = match fields.get("secret") {
            Some((_, v)) => self.per_env(v, &format!("`secret` of {what}"), false),
            None => {
                self.missing(target.span, "secret", &what);
                None
            }
        };
        let version = fields
            .get("version")
            .and_then(|(_, v)| self.per_env(v, &format!("`version` of {what}"), true));
        let class = fields.get("class").and_then(|(_, v)| self.string(v, "`class`"));
        let required = fields.get("required").and_then(|(_, v)| match v.value {
            Value::Bool(b) => Some(Sp::new(b, v.span)),
            _ => {
                self.wrong_type(v, "`required`", "true or false");
                None
            }
        });
        Some(SecretEntry { target, secret, version, class, required })
    }
}

/// A number as written in `text`, the manifest.
fn number_text(text: &str, node: &Node) -> Option<String> {
    let span = node.span;
    let written = text.get(span.offset..span.offset + span.len).map(str::trim);
    match node.value {
        Value::Int(i) => Some(i.to_string()),
        Value::Float(f) => Some(written.map_or_else(|| f.to_string(), str::to_string)),
        _ => None,
    }
}

/// An environment name that can stand as a plain manifest key and as a `deploy/<env>/` folder,
/// as `import` writes both, and that `{env}` can fill into a path without leaving its folder:
/// letters, digits, `-` and `_`, starting with a letter or digit.
pub fn valid_environment_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A project id, or the older domain-scoped form `example.com:my-project`. Google's own rule
/// is stricter (6 to 30 lowercase characters); this one only keeps out what could change a
/// request URL, so that placeholders such as `PROJECT_ID-staging` still read.
pub fn valid_project(id: &str) -> bool {
    id.starts_with(|c: char| c.is_ascii_alphanumeric())
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
}

/// A region name: lowercase letters and digits in parts joined by `-`, such as `us-central1`
/// or `northamerica-northeast2`.
pub fn valid_region(region: &str) -> bool {
    !region.is_empty()
        && region.split('-').all(|part| !part.is_empty())
        && region.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// A Cloud Run service name. It is the last segment of the Admin API's URLs, so nothing else
/// may reach them.
pub fn valid_service_name(name: &str) -> bool {
    name.len() <= 63
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && !name.ends_with('-')
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

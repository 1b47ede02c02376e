//! `invalid-version`: a secret version that is not `latest`, a positive integer or an alias.

use super::{Rule, SpecContext};
use crate::diagnostic::{Diagnostic, Severity, may_show, quote};
use crate::manifest::{Manifest, Version};
use std::collections::HashSet;

pub static RULE: Rule = Rule {
    code: "invalid-version",
    severity: Severity::Error,
    summary: "a version that is not `latest`, a positive integer or a version alias",
    flags: "A manifest `version:` that is not `latest`, a positive integer or a Secret Manager \
version alias (a letter, then letters, digits, `-` or `_`). In a spec, a `secretKeyRef.key` or \
secret volume `items[].key` that is not `latest` or a positive integer, unless the manifest \
declares that word as the alias to use for that secret.",
    why: "In Kubernetes, `key` names an entry inside a Secret (`key: password`). In Cloud Run it \
is the Secret Manager version, so `password` asks for a version alias that almost certainly \
does not exist, and the revision fails to start.",
    example: "valueFrom:\n  secretKeyRef:\n    name: database-password\n    key: password",
    fix: "valueFrom:\n  secretKeyRef:\n    name: database-password\n    key: latest        # or a \
        version number, such as 4",
};

pub fn check_manifest(manifest: &Manifest, out: &mut Vec<Diagnostic>) {
    for service in &manifest.services {
        for entry in &service.secrets {
            let Some(version) = &entry.version else { continue };
            for (_, value) in version.values() {
                let Err(problem) = Version::read(&value.value) else { continue };
                let message = format!(
                    "{} is not a valid secret version for {}{}",
                    quote(&value.value),
                    quote(&entry.target.value),
                    problem.map(|p| format!(": {p}")).unwrap_or_default()
                );
                let d = Diagnostic::new(&RULE, message)
                    .at(manifest.file, value.span, "not a version")
                    .help("write `latest`, a version number (1, 2, ...) or a version alias")
                    .service(Some(&service.name.value))
                    .target(Some(&entry.target.value))
                    .hide_unless_shown(manifest.file, value.span, &value.value);
                out.push(d);
            }
        }
    }
}

/// The version aliases the manifest declares in this service, with the id of their secret
/// (`None` for an entry whose secret name is invalid).
fn declared_aliases<'c>(ctx: &'c SpecContext) -> HashSet<(&'c str, Option<&'c str>)> {
    let bindings = ctx.deployment.bindings.iter();
    let aliases = bindings.filter_map(|b| match &b.version {
        Some(Version::Alias(alias)) => Some((alias.as_str(), b.secret.as_ref())),
        _ => None,
    });
    aliases.map(|(alias, secret)| (alias, secret.map(|s| s.secret.as_str()))).collect()
}

pub fn check_spec(ctx: &SpecContext, out: &mut Vec<Diagnostic>) {
    let aliases = declared_aliases(ctx);
    for mapping in &ctx.mappings {
        let Some(key) = &mapping.key else { continue };
        let secret = mapping.secret.as_ref().map(|s| s.secret.as_str());
        if Version::parse_plain(&key.value).is_some()
            || aliases.contains(&(key.value.as_str(), secret))
        {
            continue;
        }
        let d = ctx
            .diagnostic(&RULE, key_message(&key.value, &mapping.target))
            .at(ctx.spec.file, key.span, "not a version")
            .help(
                "in Cloud Run `key` is the secret version: `latest` or a number (a Kubernetes \
                habit?)",
            )
            .target(Some(&mapping.target))
            .secret(Some(&mapping.raw_name.value))
            .hide_unless_shown(ctx.spec.file, key.span, &key.value);
        out.push(d);
    }
}

/// Why a spec's `key` is no version, quoting it only when it cannot be a credential.
fn key_message(key: &str, target: &str) -> String {
    let problem = Version::read(key).err().flatten().map(|p| format!(": {p}"));
    let problem = problem.unwrap_or_default();
    let target = quote(target);
    if may_show(key) {
        format!("`key: {key}` of {target} is not a Secret Manager version{problem}")
    } else {
        format!("the `key` of {target} is not a Secret Manager version: {}", quote(key))
    }
}

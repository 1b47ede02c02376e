//! `invalid-version`: a secret version that is not `latest`, a positive integer or an alias.

use super::{Rule, SpecContext};
use crate::diagnostic::{Diagnostic, Severity};
use crate::manifest::{Manifest, Version};
use crate::spec::SpecMapping;

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
                if Version::parse(&value.value).is_some() {
                    continue;
                }
                let message = format!(
                    "`{}` is not a valid secret version for `{}`",
                    value.value, entry.target.value
                );
                let d = Diagnostic::new(&RULE, message)
                    .at(manifest.file, value.span, "not a version")
                    .help("write `latest`, a version number (1, 2, ...) or a version alias")
                    .service(Some(&service.name.value))
                    .target(Some(&entry.target.value));
                out.push(d);
            }
        }
    }
}

/// Whether the manifest declares `alias` as the version of `mapping`'s secret in this service.
fn declared_alias(ctx: &SpecContext, mapping: &SpecMapping, alias: &str) -> bool {
    ctx.deployment.bindings.iter().any(|b| {
        b.version == Some(Version::Alias(alias.to_string()))
            && b.secret.as_ref().map(|s| &s.secret) == mapping.secret.as_ref().map(|s| &s.secret)
    })
}

pub fn check_spec(ctx: &SpecContext, out: &mut Vec<Diagnostic>) {
    for mapping in &ctx.mappings {
        let Some(key) = &mapping.key else { continue };
        if Version::parse_plain(&key.value).is_some() || declared_alias(ctx, mapping, &key.value) {
            continue;
        }
        let message =
            format!("`key: {}` of `{}` is not a Secret Manager version", key.value, mapping.target);
        let d = ctx
            .diagnostic(&RULE, message)
            .at(ctx.spec.file, key.span, "not a version")
            .help(
                "in Cloud Run `key` is the secret version: `latest` or a number (a Kubernetes \
                habit?)",
            )
            .target(Some(&mapping.target))
            .secret(Some(&mapping.raw_name.value));
        out.push(d);
    }
}

//! `mapping-conflict`: a spec maps a declared env var or file to another secret or version.

use super::{Rule, SpecContext};
use crate::diagnostic::{Diagnostic, Severity};
use crate::manifest::Version;
use crate::resolve::Binding;
use crate::spec::{SecretName, SpecMapping, normalize_path};

pub static RULE: Rule = Rule {
    code: "mapping-conflict",
    severity: Severity::Error,
    summary: "a spec maps a declared env var or path to another secret or version than the \
        manifest",
    flags: "A mapping in the spec's target container for an env var or file that secrets.yaml \
declares, but from another secret or at another version than secrets.yaml says.",
    why: "secrets.yaml is the single source of truth. A spec that disagrees shows that one of \
the two was edited by hand; `deploy` refuses to guess which is right.",
    example: "# secrets.yaml: DATABASE_PASSWORD: {secret: database-password, version: 4}\nenv:\n- \
        name: DATABASE_PASSWORD\n  valueFrom: {secretKeyRef: {name: database-password, key: '3'}}",
    fix: "Make the spec agree with secrets.yaml, or remove the mapping from the spec and let \
`deploy` add it from secrets.yaml.",
};

/// Whether two secret names can be the same secret. A project number cannot be compared with a
/// project id offline, so only the ids are compared then.
pub fn same_secret(a: &SecretName, b: &SecretName) -> bool {
    let numeric = |p: &str| p.bytes().all(|c| c.is_ascii_digit());
    let comparable = numeric(&a.project) == numeric(&b.project);
    a.secret == b.secret && (!comparable || a.project == b.project)
}

fn matches(binding: &Binding, mapping: &SpecMapping) -> bool {
    if binding.entry.is_file() != mapping.is_file {
        return false;
    }
    if mapping.is_file {
        normalize_path(binding.target()) == mapping.target
    } else {
        binding.target() == mapping.target
    }
}

pub fn check(ctx: &SpecContext, out: &mut Vec<Diagnostic>) {
    let Some(container) = ctx.container else { return };
    let manifest_file = ctx.manifest.file;
    for binding in &ctx.deployment.bindings {
        let (Some(want_secret), Some(want_version)) = (&binding.secret, &binding.version) else {
            continue;
        };
        let found = ctx.mappings.iter().filter(|m| m.container == container && matches(binding, m));
        for mapping in found {
            let Some(got_secret) = &mapping.secret else { continue };
            let (message, manifest_span, what) = if !same_secret(want_secret, got_secret) {
                let msg = format!(
                    "the spec maps `{}` to secret `{}`, secrets.yaml to `{}`",
                    binding.target(),
                    got_secret,
                    want_secret
                );
                (msg, binding.secret_span, "secrets.yaml's secret")
            } else {
                // A key that is neither a plain version nor the alias declared here is reported
                // by `invalid-version`; comparing it would report the same line twice.
                let Some(got_version) = mapping
                    .version()
                    .filter(|v| !matches!(v, Version::Alias(_)) || v == want_version)
                else {
                    continue;
                };
                if &got_version == want_version {
                    continue;
                }
                let msg = format!(
                    "the spec maps `{}` at version `{got_version}`, secrets.yaml at \
                    `{want_version}`",
                    binding.target()
                );
                (msg, binding.version_span, "secrets.yaml's version")
            };
            let primary = mapping
                .key
                .as_ref()
                .filter(|_| what.ends_with("version"))
                .map_or(mapping.span, |k| k.span);
            let d = ctx
                .diagnostic(&RULE, message)
                .at(ctx.spec.file, primary, "the spec's mapping")
                .also(manifest_file, manifest_span, what)
                .help(
                    "make the spec agree with secrets.yaml, or drop the mapping from the spec \
                    and let `deploy` add it",
                )
                .target(Some(binding.target()))
                .secret(Some(&want_secret.secret));
            out.push(d);
        }
    }
}

//! `mapping-conflict`: a spec maps a declared env var or file to another secret or version.

use super::{Rule, SpecContext};
use crate::diagnostic::{Diagnostic, Severity};
use crate::manifest::Version;
use crate::mounts::{self, Conflict, DirectoryConflict};
use crate::resolve::Binding;
use crate::spec::{SecretName, SpecMapping, normalize_path};

pub static RULE: Rule = Rule {
    code: "mapping-conflict",
    severity: Severity::Error,
    summary: "a spec maps a declared env var, path or directory to another secret or version \
        than the manifest",
    flags: "A mapping in the spec's target container for an env var or file that secrets.yaml \
declares, but from another secret or at another version than secrets.yaml says. Also a \
directory of declared files that the container already mounts from a secret volume of another \
secret, or from a volume that mounts a whole secret (no `items`) as a file secrets.yaml does \
not declare: `deploy` would have to mount a secret the gate did not check, or drop that file.",
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
    check_mounts(ctx, container, out);
}

/// Directories of declared files that the container mounts from another secret, or from the
/// whole secret under an undeclared file name.
fn check_mounts(ctx: &SpecContext, container: usize, out: &mut Vec<Diagnostic>) {
    let bindings = &ctx.deployment.bindings;
    for found in mounts::declared_conflicts(ctx.spec, container, ctx.project(), bindings) {
        let entry = found.entries[0];
        let (help, manifest_span, manifest_label) = match &found.conflict {
            // An unknown name is `alias-unresolved`; a mapped file, the comparison above.
            Conflict::OtherSecret { secret: Some(_), .. } if !compared(ctx, container, &found) => (
                "mount the declared secret in the spec, or give the declared files a directory \
                 of their own"
                    .to_string(),
                entry.secret_span,
                "secrets.yaml's secret",
            ),
            Conflict::WholeSecret { file, .. } => (
                format!(
                    "declare `{}/{file}` in secrets.yaml too, or list the files the container \
                     needs under the volume's `items`",
                    found.dir
                ),
                entry.entry.target.span,
                "a declared file",
            ),
            _ => continue,
        };
        let volume = found.conflict.volume();
        let Some(name) = volume.secret.as_ref().and_then(|s| s.secret_name.as_ref()) else {
            continue;
        };
        let d = ctx
            .diagnostic(&RULE, found.message())
            .at(ctx.spec.file, name.span, format!("the spec's secret for {}", found.dir))
            .also(ctx.spec.file, found.conflict.mount().path.span, "mounted here")
            .also(ctx.manifest.file, manifest_span, manifest_label)
            .help(help)
            .target(Some(entry.target()))
            .secret(entry.secret.as_ref().map(|s| s.secret.as_str()));
        out.push(d);
    }
}

/// Whether a declared file of the directory is also mapped by the spec: the comparison of
/// mappings above has then reported the other secret already.
fn compared(ctx: &SpecContext, container: usize, found: &DirectoryConflict) -> bool {
    ctx.mappings
        .iter()
        .filter(|m| m.container == container)
        .any(|m| found.entries.iter().any(|b| matches(b, m)))
}

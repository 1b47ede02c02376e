//! `mapping-conflict`: a spec maps a declared env var or file to another secret or version, or
//! runs the service as another account than the manifest names.

use super::{Rule, SpecContext};
use crate::diagnostic::{Diagnostic, Severity, quote, shown};
use crate::manifest::Version;
use crate::mounts::{self, Conflict, DirectoryConflict};
use crate::resolve::Binding;
use crate::spec::{SecretName, SpecMapping, normalize_path};
use std::collections::HashMap;

pub static RULE: Rule = Rule {
    code: "mapping-conflict",
    severity: Severity::Error,
    summary: "a spec maps a declared env var, path or directory to another secret or version \
        than the manifest, or names another runtime service account (a warning against the \
        environment's default)",
    flags: "A mapping in the spec's target container for an env var or file that secrets.yaml \
declares, but from another secret or at another version than secrets.yaml says. Also a \
directory of declared files that the container already mounts from a secret volume of another \
secret, or from a volume that mounts a whole secret (no `items`) as a file secrets.yaml does \
not declare: `deploy` would have to mount a secret the gate did not check, or drop that file. \
Also a spec `serviceAccountName` that differs from the runtime service account secrets.yaml \
names: an error against the service's own `service_account`, a warning against the \
environment's default. With `check --live`, a deployed service that maps the number `latest` \
resolves to now, as `deploy --pin-versions` writes it, agrees with `latest`.",
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

/// What a declared entry and a spec mapping are compared by: whether it is a file, and its env
/// var name or normalized path.
pub type TargetKey = (bool, String);

/// The key of a declared entry; a spec mapping's is `(mapping.is_file, mapping.target)`.
pub fn binding_key(binding: &Binding) -> TargetKey {
    let file = binding.entry.is_file();
    (file, if file { normalize_path(binding.target()) } else { binding.target().to_string() })
}

/// The mappings of the target container, by what they provide.
fn mapped<'c>(ctx: &'c SpecContext, container: usize) -> HashMap<TargetKey, Vec<&'c SpecMapping>> {
    let mut by_target: HashMap<TargetKey, Vec<&SpecMapping>> = HashMap::new();
    for mapping in ctx.mappings.iter().filter(|m| m.container == container) {
        by_target.entry((mapping.is_file, mapping.target.clone())).or_default().push(mapping);
    }
    by_target
}

pub fn check(ctx: &SpecContext, out: &mut Vec<Diagnostic>) {
    check_account(ctx, out);
    let Some(container) = ctx.container else { return };
    let mapped = mapped(ctx, container);
    for binding in &ctx.deployment.bindings {
        let found = mapped.get(&binding_key(binding)).into_iter().flatten();
        out.extend(found.filter_map(|mapping| conflict(ctx, binding, mapping)));
    }
    check_mounts(ctx, &mapped, container, out);
}

/// Directories of declared files that the container mounts from another secret, or from the
/// whole secret under an undeclared file name.
fn check_mounts(
    ctx: &SpecContext,
    mapped: &HashMap<TargetKey, Vec<&SpecMapping>>,
    container: usize,
    out: &mut Vec<Diagnostic>,
) {
    let bindings = &ctx.deployment.bindings;
    for found in mounts::declared_conflicts(ctx.spec, container, ctx.project(), bindings) {
        let entry = found.entries[0];
        let (help, manifest_span, manifest_label) = match &found.conflict {
            // An unknown name is `alias-unresolved`; a mapped file, the comparison above.
            Conflict::OtherSecret { secret: Some(_), .. } if !compared(mapped, &found) => (
                "mount the declared secret in the spec, or give the declared files a directory \
                 of their own"
                    .to_string(),
                entry.secret_span,
                "secrets.yaml's secret",
            ),
            Conflict::WholeSecret { file, .. } => (
                format!(
                    "declare {} in secrets.yaml too, or list the files the container needs \
                     under the volume's `items`",
                    quote(&format!("{}/{file}", found.dir))
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
            .at(ctx.spec.file, name.span, format!("the spec's secret for {}", shown(&found.dir)))
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
fn compared(mapped: &HashMap<TargetKey, Vec<&SpecMapping>>, found: &DirectoryConflict) -> bool {
    found.entries.iter().any(|b| mapped.contains_key(&binding_key(b)))
}

/// The finding for one spec mapping of a declared target, if it disagrees with secrets.yaml.
fn conflict(ctx: &SpecContext, binding: &Binding, mapping: &SpecMapping) -> Option<Diagnostic> {
    let (want_secret, want_version) = (binding.secret.as_ref()?, binding.version.as_ref()?);
    let got_secret = mapping.secret.as_ref()?;
    let (message, manifest_span, what) = if same_secret(want_secret, got_secret) {
        let message = version_conflict(ctx, binding, want_version, mapping)?;
        (message, binding.version_span, "secrets.yaml's version")
    } else {
        let message = format!(
            "the spec maps {} to secret {}, secrets.yaml to {}",
            quote(binding.target()),
            quote(&got_secret.to_string()),
            quote(&want_secret.to_string()),
        );
        (message, binding.secret_span, "secrets.yaml's secret")
    };
    let primary =
        mapping.key.as_ref().filter(|_| what.ends_with("version")).map_or(mapping.span, |k| k.span);
    let d = ctx
        .diagnostic(&RULE, message)
        .at(ctx.spec.file, primary, "the spec's mapping")
        .also(ctx.manifest.file, manifest_span, what)
        .help(
            "make the spec agree with secrets.yaml, or drop the mapping from the spec and let \
            `deploy` add it",
        )
        .target(Some(binding.target()))
        .secret(Some(&want_secret.secret))
        .hide_unless_shown(ctx.spec.file, mapping.raw_name.span, &got_secret.to_string());
    Some(d)
}

/// The message for a mapping of the right secret at another version, if it is one.
///
/// A service as deployed may carry the number `latest` resolved to when it was deployed with
/// `--pin-versions`: that is no conflict while `latest` still resolves to it.
fn version_conflict(
    ctx: &SpecContext,
    binding: &Binding,
    want: &Version,
    mapping: &SpecMapping,
) -> Option<String> {
    // A key that is neither a plain version nor the alias declared here is reported by
    // `invalid-version`; comparing it would report the same line twice.
    let got = mapping.version().filter(|v| !matches!(v, Version::Alias(_)) || v == want)?;
    let latest_now = ctx.latest_now.get(binding.target()).copied();
    let pinned_latest = match (want, &got) {
        (Version::Latest, Version::Number(n)) => latest_now.map(|now| now == *n),
        _ => None,
    };
    if &got == want || pinned_latest == Some(true) {
        return None;
    }
    let mut message = format!(
        "the spec maps {} at version {}, secrets.yaml at {}",
        quote(binding.target()),
        quote(&got.to_string()),
        quote(&want.to_string())
    );
    if let (Some(false), Some(now)) = (pinned_latest, latest_now) {
        message.push_str(&format!(" (`latest` is version {now} now; deploy again to use it)"));
    }
    Some(message)
}

/// A spec that runs the service as another account than secrets.yaml names. `render` keeps the
/// spec's account, so the service would not run as the identity secrets.yaml states. Against
/// the service's own `service_account` that is an error; against the environment's, which is
/// documented as a default for specs without one, a warning.
fn check_account(ctx: &SpecContext, out: &mut Vec<Diagnostic>) {
    let (Some(spec_account), Some(manifest_account)) =
        (&ctx.spec.service_account, &ctx.deployment.service_account)
    else {
        return;
    };
    if spec_account.value == manifest_account.value {
        return;
    }
    let own = ctx.deployment.service.service_account.is_some();
    let (severity, whose, help) = if own {
        let help = "make the two agree: `render` and `deploy` keep the spec's \
            `serviceAccountName`, and `check` verifies that account's access";
        (Severity::Error, "the service's `service_account`", help)
    } else {
        let help = "the spec's account is the one deployed and checked; give the service its \
            own `service_account` in secrets.yaml, or drop `serviceAccountName` from the spec";
        (Severity::Warning, "the environment's default `service_account`", help)
    };
    let message = format!(
        "the spec runs {} as {}, secrets.yaml names {} ({whose})",
        quote(ctx.service_name()),
        quote(&spec_account.value),
        quote(&manifest_account.value)
    );
    let d = ctx
        .diagnostic(&RULE, message)
        .severity(severity)
        .at(ctx.spec.file, spec_account.span, "the spec's account")
        .also(ctx.manifest.file, manifest_account.span, "secrets.yaml's account")
        .hide_unless_shown(ctx.spec.file, spec_account.span, &spec_account.value)
        .hide_unless_shown(ctx.manifest.file, manifest_account.span, &manifest_account.value)
        .help(help);
    out.push(d);
}

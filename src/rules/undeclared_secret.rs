//! `undeclared-secret`: a spec uses a secret that the manifest does not declare for the service.

use super::{Rule, SpecContext};
use crate::diagnostic::{Diagnostic, Severity, quote};
use crate::rules::mapping_conflict::same_secret;
use crate::spec::SecretName;
use std::collections::HashMap;

pub static RULE: Rule = Rule {
    code: "undeclared-secret",
    severity: Severity::Warning,
    summary: "a spec references a secret the manifest does not declare for that service",
    flags: "A secret that the spec maps into any container (env var or volume) but that \
secrets.yaml does not declare for that service in that environment.",
    why: "secrets.yaml is meant to list every secret a service receives. `check` and the deploy \
gate still verify that an undeclared secret exists and that the version the spec asks for is \
usable, but not its expiry, rotation, age or who may read it, and `audit` does not show it in \
its coverage matrix.",
    example: "# the spec maps SENTRY_DSN from secret sentry-dsn; secrets.yaml does not mention it",
    fix: "Declare it (`secretgate import` can write the entry):\n  SENTRY_DSN:\n    secret: \
        sentry-dsn\n    required: false",
};

pub fn check(ctx: &SpecContext, out: &mut Vec<Diagnostic>) {
    // Declared secrets by id, so that each mapping is looked up rather than compared with all.
    let mut declared: HashMap<&str, Vec<&SecretName>> = HashMap::new();
    for name in ctx.deployment.bindings.iter().filter_map(|b| b.secret.as_ref()) {
        declared.entry(name.secret.as_str()).or_default().push(name);
    }
    for mapping in &ctx.mappings {
        let Some(secret) = &mapping.secret else { continue };
        let same = declared.get(secret.secret.as_str());
        if same.is_some_and(|names| names.iter().any(|d| same_secret(d, secret))) {
            continue;
        }
        let message = format!(
            "{} comes from secret {}, which secrets.yaml does not declare for this service",
            quote(&mapping.target),
            quote(&secret.secret)
        );
        let d = ctx
            .diagnostic(&RULE, message)
            .at(ctx.spec.file, mapping.raw_name.span, "undeclared secret")
            .hide_unless_shown(ctx.spec.file, mapping.raw_name.span, &secret.secret)
            .help(format!(
                "declare {} under the service's `secrets:` so that check, deploy and audit \
                 cover all of it",
                quote(&mapping.target)
            ))
            .target(Some(&mapping.target))
            .secret(Some(&secret.secret));
        out.push(d);
    }
}

//! `version-too-old`: the version in use is older than `policy.max_version_age_days`.

use super::Rule;
use crate::check::SecretContext;
use crate::diagnostic::{Diagnostic, Severity, quote};

pub static RULE: Rule = Rule {
    code: "version-too-old",
    severity: Severity::Warning,
    summary: "the version in use is older than `policy.max_version_age_days`",
    flags: "An entry whose version (pinned, alias, or what `latest` resolves to) was created \
longer ago than `policy.max_version_age_days`.",
    why: "Old credentials have had the longest time to leak, and the team's rotation policy \
says they should have been replaced.",
    example: "policy:\n  max_version_age_days: 365     # database-password version 4 is from 2024",
    fix: "Rotate: add a new version and pin it (or let `latest` pick it up).",
};

pub fn check(ctx: &SecretContext, out: &mut Vec<Diagnostic>) {
    let Some(limit) = &ctx.manifest.policy.max_version_age_days else { return };
    let Some(version) = ctx.resolved_version() else { return };
    // A creation time that could not be read is `verification-incomplete`'s.
    let (number, Ok(Some(created))) = (version.number, &version.create_time) else { return };
    let age = SecretContext::days(ctx.options.now.duration_since(*created));
    if age <= limit.value {
        return;
    }
    let message = format!(
        "version {number} of secret {} is {age} days old, over the policy's {} days",
        quote(&ctx.secret().secret),
        limit.value
    );
    let d = ctx
        .at_version(&RULE, message, "old version")
        .also(ctx.manifest.file, limit.span, "age limit set here")
        .help("rotate the secret and use the new version");
    out.push(d);
}

//! `verification-incomplete`: something that could not be checked.

use super::Rule;
use crate::check::SecretContext;
use crate::diagnostic::{Diagnostic, Severity, quote, shown};
use crate::manifest::Version;
use crate::references::Reference;
use crate::resolve::Deployment;

pub static RULE: Rule = Rule {
    code: "verification-incomplete",
    severity: Severity::Error,
    summary: "something could not be checked: permission denied, API unavailable, timeout, bad \
        answer, a project or field that a snapshot lacks",
    flags: "A declared secret (or one a spec maps on its own) whose metadata could not be read: \
permission denied, the API unavailable or rate limiting past the retries, a timeout, a \
malformed answer, or a project missing from the snapshot, versions or an IAM policy a snapshot \
did not capture; a field a check reads that has the wrong type or holds a time that does not \
parse (a secret's `expireTime`, `rotation.nextRotationTime` or `versionAliases`, the `state` or \
`createTime` of the version in use, the IAM policy's bindings), which leaves what depends on it \
unverified; with `--live`, a service whose deployed form could not be read. An IAM policy \
counts only where the runtime service account is known, since only then is it checked. The \
message says what was not verified and why. When these are the only errors, `check` and \
`deploy` exit with 3. The deploy gate refuses on every one, also on an entry that is not \
required.",
    why: "secretgate fails closed: a secret that could not be verified is not assumed to be \
fine, so `deploy` refuses rather than rolling out blind, optional entries included. `check` \
reports it as a warning for an optional entry (`required: false`), which does not fail the \
check.",
    example: "not verified: whether secret `jwt-secret-key` exists and its version can be used \
(listing secrets of project netra-staging: PERMISSION_DENIED: ...)",
    fix: "Give the identity running secretgate `roles/secretmanager.viewer` on the project, \
check the network or the API status, raise `--timeout`, or capture a fresh snapshot that \
includes the project. `--no-iam` skips the IAM check, and with it an unreadable policy.",
};

/// The secret's existence and versions were not verified.
pub fn for_secret(deployment: &Deployment, reference: &Reference, reason: &str) -> Diagnostic {
    let message = format!(
        "not verified: whether secret {} exists and its version can be used ({reason})",
        quote(&reference.secret.secret)
    );
    reference.diagnostic(deployment, &RULE, message, (reference.secret_span, "not verified")).help(
        "grant roles/secretmanager.viewer, check the network, or use a snapshot that has \
            this project",
    )
}

/// The help for a field Secret Manager would have given in another shape: it came from a
/// snapshot written or edited by other means, or from something posing as the API.
const MALFORMED_HELP: &str = "capture the snapshot again (`secretgate snapshot`), or correct \
    whatever wrote this value: Secret Manager does not give it";

/// Versions or the IAM policy of an existing secret could not be read (or a snapshot did not
/// capture them), or a field its checks read could not be. The policy matters only for a
/// service whose runtime account is known, a version's creation time only under an age policy.
pub fn check(ctx: &SecretContext, out: &mut Vec<Diagnostic>) {
    check_versions(ctx, out);
    check_schedule(ctx, out);
    check_age(ctx, out);
    check_iam(ctx, out);
}

/// The versions of an existing secret could not be read, or a snapshot did not capture them;
/// or, of the version the entry asks for, the alias or the state could not be read.
pub fn check_versions(ctx: &SecretContext, out: &mut Vec<Diagnostic>) {
    let secret = quote(&ctx.secret().secret);
    if let Err(reason) = &ctx.info.versions {
        let message = format!("not verified: the versions of secret {secret} ({reason})");
        out.push(
            ctx.at_version(&RULE, message, "not verified")
                .help("grant roles/secretmanager.viewer and retry, or capture the snapshot again"),
        );
        return;
    }
    if let (Version::Alias(alias), Err(reason)) = (ctx.version(), &ctx.info.aliases) {
        let alias = quote(alias);
        let message = format!(
            "not verified: which version alias {alias} of secret {secret} names ({reason})"
        );
        out.push(ctx.at_version(&RULE, message, "not verified").help(MALFORMED_HELP));
        return;
    }
    if let Some(version) = ctx.resolved_version()
        && let Err(reason) = &version.state
    {
        let number = version.number;
        let message = format!(
            "not verified: whether version {number} of secret {secret} can be used ({reason})"
        );
        out.push(ctx.at_version(&RULE, message, "not verified").help(MALFORMED_HELP));
    }
}

/// The expiry or the rotation schedule of an existing secret could not be read.
fn check_schedule(ctx: &SecretContext, out: &mut Vec<Diagnostic>) {
    let fields = [("expiry", &ctx.info.expire_time), ("rotation", &ctx.info.next_rotation_time)];
    for (what, field) in fields {
        if let Err(reason) = field {
            let secret = quote(&ctx.secret().secret);
            let message = format!("not verified: the {what} of secret {secret} ({reason})");
            out.push(ctx.at_secret(&RULE, message, "not verified").help(MALFORMED_HELP));
        }
    }
}

/// The creation time of the version in use is missing or could not be read, where the manifest
/// limits the age of versions.
fn check_age(ctx: &SecretContext, out: &mut Vec<Diagnostic>) {
    if ctx.manifest.policy.max_version_age_days.is_none() {
        return;
    }
    let Some(version) = ctx.resolved_version() else { return };
    // Without a creation time the age is as unknown as with one that does not parse.
    let reason = match &version.create_time {
        Err(reason) => reason.clone(),
        Ok(None) => "it has no `createTime`".to_string(),
        Ok(Some(_)) => return,
    };
    let message = format!(
        "not verified: the age of version {} of secret {} ({reason})",
        version.number,
        quote(&ctx.secret().secret)
    );
    out.push(ctx.at_version(&RULE, message, "not verified").help(MALFORMED_HELP));
}

/// The IAM policy of an existing secret could not be read, where the runtime account is known.
fn check_iam(ctx: &SecretContext, out: &mut Vec<Diagnostic>) {
    let Some(account) = ctx.runtime_account() else { return };
    if let Some(Err(reason)) = &ctx.info.iam {
        let message = format!(
            "not verified: whether {} may read secret {} ({reason})",
            shown(account),
            quote(&ctx.secret().secret)
        );
        let d = ctx.at_secret(&RULE, message, "IAM policy not verified").help(
            "grant roles/secretmanager.viewer and retry, or pass --no-iam to skip the IAM \
            check (accessor-missing)",
        );
        out.push(d);
    }
}

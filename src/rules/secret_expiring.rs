//! `secret-expiring`: a secret whose `expireTime` is near or past.

use super::Rule;
use crate::check::SecretContext;
use crate::diagnostic::{Diagnostic, Severity, quote};

pub static RULE: Rule = Rule {
    code: "secret-expiring",
    severity: Severity::Warning,
    summary: "the secret's `expireTime` is within 30 days (`--expiry-days`); error once passed",
    flags: "A secret with an `expireTime` (or a TTL) that falls within the next 30 days \
(`--expiry-days`), as a warning; one whose expiry has passed, as an error.",
    why: "Secret Manager deletes an expired secret with all its versions. Every service that \
maps it then fails at its next start.",
    example: "gcloud secrets describe jwt-secret-key  ->  expireTime: 2026-12-20T00:00:00Z",
    fix: "Remove the expiry (`gcloud secrets update jwt-secret-key --remove-expiration`) or \
move the service to a replacement secret before the date.",
};

pub fn check(ctx: &SecretContext, out: &mut Vec<Diagnostic>) {
    let Ok(Some(expire)) = ctx.info.expire_time else { return };
    let left = SecretContext::days(expire.duration_since(ctx.options.now));
    let secret = quote(&ctx.secret().secret);
    let (message, severity) = if expire <= ctx.options.now {
        (format!("secret {secret} expired on {expire}"), Severity::Error)
    } else if left <= ctx.options.expiry_days {
        (format!("secret {secret} expires on {expire}, in {left} days"), Severity::Warning)
    } else {
        return;
    };
    let d = ctx
        .at_secret(&RULE, message, "expiring secret")
        .severity(severity)
        .help("remove the expiration or move to a replacement secret before it expires");
    out.push(d);
}

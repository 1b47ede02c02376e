//! `version-not-found`: a pinned version (a number or an alias) that the secret does not have.

use super::Rule;
use crate::check::SecretContext;
use crate::diagnostic::{Diagnostic, Severity, quote};
use crate::inventory::VersionInfo;
use crate::manifest::Version;

pub static RULE: Rule = Rule {
    code: "version-not-found",
    severity: Severity::Error,
    summary: "the pinned version does not exist",
    flags: "A version number, or a version alias, that the secret does not have.",
    why: "A revision that maps a version that does not exist cannot start.",
    example: "DATABASE_PASSWORD:\n  secret: database-password\n  version: 9        # the secret \
        has versions 1 to 4",
    fix: "Pin a version that exists (`gcloud secrets versions list database-password`), or add \
the new version first.",
};

/// The pinned version of the entry, with a readable name for messages; `None` for `latest`,
/// for versions that could not be listed, and for pins that do not exist (which this rule
/// reports).
pub fn pinned<'a>(ctx: &'a SecretContext) -> Option<(&'a VersionInfo, String)> {
    let versions = ctx.info.versions.as_ref().ok()?;
    let number = match ctx.version() {
        Version::Latest => return None,
        Version::Number(n) => *n,
        Version::Alias(alias) => *ctx.info.aliases.as_ref().ok()?.get(alias)?,
    };
    let what = match ctx.version() {
        Version::Alias(a) => format!("version {number} (alias {})", quote(a)),
        _ => format!("version {number}"),
    };
    versions.iter().find(|v| v.number == number).map(|v| (v, what))
}

pub fn check(ctx: &SecretContext, out: &mut Vec<Diagnostic>) {
    let Ok(versions) = &ctx.info.versions else { return };
    let message = match ctx.version() {
        Version::Latest => return,
        // Aliases that could not be read are `verification-incomplete`'s.
        Version::Alias(_) if ctx.info.aliases.is_err() => return,
        Version::Alias(alias)
            if ctx.info.aliases.as_ref().is_ok_and(|a| !a.contains_key(alias)) =>
        {
            format!("secret {} has no version alias {}", quote(&ctx.secret().secret), quote(alias))
        }
        _ if pinned(ctx).is_some() => return,
        version => {
            let newest = versions.first().map_or("none".to_string(), |v| v.number.to_string());
            let secret = quote(&ctx.secret().secret);
            format!("secret {secret} has no version {version} (newest: {newest})")
        }
    };
    let help = "pin a version that exists: gcloud secrets versions list SECRET";
    out.push(ctx.at_version(&RULE, message, "no such version").help(help));
}

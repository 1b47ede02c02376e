//! `version-destroyed`: the pinned version is DESTROYED.

use super::{Rule, version_not_found};
use crate::check::SecretContext;
use crate::diagnostic::{Diagnostic, Severity, quote};
use crate::inventory::VersionState;

pub static RULE: Rule = Rule {
    code: "version-destroyed",
    severity: Severity::Error,
    summary: "the pinned version is DESTROYED",
    flags: "A pinned version (number or alias) whose state is DESTROYED.",
    why: "A destroyed version's data is gone for good; nothing can read it.",
    example: "JWT_SECRET_KEY: {secret: jwt-secret-key, version: 1}   # 1 is DESTROYED",
    fix: "Pin an enabled version.",
};

pub fn check(ctx: &SecretContext, out: &mut Vec<Diagnostic>) {
    let Some((version, what)) = version_not_found::pinned(ctx) else { return };
    if version.state != Ok(VersionState::Destroyed) {
        return;
    }
    let message = format!("{what} of secret {} is DESTROYED", quote(&ctx.secret().secret));
    out.push(ctx.at_version(&RULE, message, "DESTROYED version").help("pin an enabled version"));
}

//! `version-disabled`: the pinned version is DISABLED.

use super::{Rule, version_not_found};
use crate::check::SecretContext;
use crate::diagnostic::{Diagnostic, Severity, quote};
use crate::inventory::VersionState;

pub static RULE: Rule = Rule {
    code: "version-disabled",
    severity: Severity::Error,
    summary: "the pinned version is DISABLED",
    flags: "A pinned version (number or alias) whose state is DISABLED.",
    why: "Disabled versions cannot be read, so the revision fails to start, or an instance \
started later fails. Versions are often disabled during a rotation and forgotten in the pin.",
    example: "DATABASE_PASSWORD: {secret: database-password, version: 3}   # 3 is DISABLED",
    fix: "Pin the enabled version that replaced it, or enable it again (`gcloud secrets \
versions enable 3 --secret database-password`) if it was disabled by mistake.",
};

pub fn check(ctx: &SecretContext, out: &mut Vec<Diagnostic>) {
    let Some((version, what)) = version_not_found::pinned(ctx) else { return };
    if version.state != Ok(VersionState::Disabled) {
        return;
    }
    let message = format!("{what} of secret {} is DISABLED", quote(&ctx.secret().secret));
    out.push(
        ctx.at_version(&RULE, message, "DISABLED version")
            .help("pin an enabled version, or enable this one again"),
    );
}

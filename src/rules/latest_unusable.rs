//! `latest-unusable`: `latest` points to nothing usable.

use super::Rule;
use crate::check::SecretContext;
use crate::diagnostic::{Diagnostic, Severity, quote};
use crate::inventory::VersionState;
use crate::manifest::Version;

pub static RULE: Rule = Rule {
    code: "latest-unusable",
    severity: Severity::Error,
    summary: "`latest` is asked for and the secret has no version, or its newest is not ENABLED",
    flags: "An entry that uses `latest` (written or by default) for a secret that has no version \
at all, or whose most recently created version is DISABLED or DESTROYED.",
    why: "`latest` is the most recently created version, whatever its state: Google does not fall \
back to an older enabled one. Disabling a bad new version therefore breaks every service that \
reads `latest`.",
    example: "DATABASE_PASSWORD: {secret: database-password}   # newest version 5 is DISABLED",
    fix: "Add a new enabled version (`gcloud secrets versions add database-password \
--data-file=-`), or pin the enabled version you want.",
};

pub fn check(ctx: &SecretContext, out: &mut Vec<Diagnostic>) {
    if ctx.version() != &Version::Latest {
        return;
    }
    let Ok(versions) = &ctx.info.versions else { return };
    let message = match versions.first() {
        None => format!(
            "secret {} has no version, so `latest` resolves to nothing",
            quote(&ctx.secret().secret)
        ),
        // A state that could not be read is `verification-incomplete`'s.
        Some(v) => match v.state {
            Ok(VersionState::Enabled) | Err(_) => return,
            Ok(state) => format!(
                "`latest` of secret {} is version {}, which is {}",
                quote(&ctx.secret().secret),
                v.number,
                state.as_str()
            ),
        },
    };
    let d = ctx
        .at_version(&RULE, message, "`latest` here")
        .help("add an enabled version, or pin an older enabled one");
    out.push(d);
}

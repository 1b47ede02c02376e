//! `rotation-overdue`: the secret's next rotation time has passed.

use super::Rule;
use crate::check::SecretContext;
use crate::diagnostic::{Diagnostic, Severity, quote};

pub static RULE: Rule = Rule {
    code: "rotation-overdue",
    severity: Severity::Warning,
    summary: "`rotation.nextRotationTime` has passed",
    flags: "A secret with a rotation schedule whose `nextRotationTime` lies in the past.",
    why: "Secret Manager only sends a notification at rotation time; the rotation itself is \
done by someone or something listening. A past rotation time means that nobody did it.",
    example: "rotation:\n  nextRotationTime: 2026-06-01T00:00:00Z\n  rotationPeriod: 7776000s",
    fix: "Rotate the secret (add a new version, move the services to it) and the schedule moves \
on; or fix the rotation pipeline that should have done it.",
};

pub fn check(ctx: &SecretContext, out: &mut Vec<Diagnostic>) {
    let Ok(Some(next)) = ctx.info.next_rotation_time else { return };
    if next > ctx.options.now {
        return;
    }
    let late = SecretContext::days(ctx.options.now.duration_since(next));
    let secret = quote(&ctx.secret().secret);
    let message = format!("rotation of secret {secret} was due on {next}, {late} days ago");
    let d = ctx
        .at_secret(&RULE, message, "rotation overdue")
        .help("rotate the secret, or fix the rotation job");
    out.push(d);
}

//! `alias-unresolved`: a spec secret reference that names neither a secret nor a known alias.

use super::{Rule, SpecContext};
use crate::diagnostic::{Diagnostic, Severity, quote};
use crate::spec::SECRETS_ANNOTATION;

pub static RULE: Rule = Rule {
    code: "alias-unresolved",
    severity: Severity::Error,
    summary: "a spec `secretKeyRef.name` / `secretName` that is neither a secret id nor a defined \
        alias, or an alias the annotation defines twice",
    flags: "A `secretKeyRef.name` or secret volume `secretName` that is not a valid secret id and \
not an alias defined in the revision's `run.googleapis.com/secrets` annotation; a piece of that \
annotation that is not `ALIAS:projects/PROJECT/secrets/ID`, or that defines an alias again; a \
secret volume without `secretName`.",
    why: "Cloud Run v1 refers to a secret of another project only through an alias in that \
annotation. A full name, or an alias that is not defined, makes the revision fail at deploy time.",
    example: "secretKeyRef:\n  name: projects/shared-infra/secrets/oauth-client   # a full name \
        is not accepted here",
    fix: "metadata:\n  annotations:\n    run.googleapis.com/secrets: \
        oauth-client:projects/shared-infra/secrets/oauth-client\n...\nsecretKeyRef:\n  name: \
        oauth-client",
};

pub fn check(ctx: &SpecContext, out: &mut Vec<Diagnostic>) {
    let spec = ctx.spec;
    repeated(ctx, out);
    if let Some(span) = spec.aliases.span {
        for piece in &spec.aliases.malformed {
            let message = format!(
                "{} in the `{SECRETS_ANNOTATION}` annotation is not \
                `ALIAS:projects/PROJECT/secrets/ID`",
                quote(piece)
            );
            let d = ctx
                .diagnostic(&RULE, message)
                .at(spec.file, span, "malformed alias")
                .help(
                    "write each alias as `ALIAS:projects/PROJECT/secrets/ID`, separated by commas",
                )
                .hide_unless_shown(spec.file, span, piece);
            out.push(d);
        }
    }
    for mapping in ctx.mappings.iter().filter(|m| m.secret.is_none()) {
        let name = &mapping.raw_name;
        let message = format!(
            "{} (for {}) is neither a secret id nor an alias defined in `{SECRETS_ANNOTATION}`",
            quote(&name.value),
            quote(&mapping.target)
        );
        let d = ctx
            .diagnostic(&RULE, message)
            .at(spec.file, name.span, "unresolved secret name")
            .help(format!(
                "define an alias: `{SECRETS_ANNOTATION}: \
                ALIAS:projects/PROJECT/secrets/ID` on the revision template, and use ALIAS here"
            ))
            .target(Some(&mapping.target))
            .secret(Some(&name.value))
            .hide_unless_shown(spec.file, name.span, &name.value);
        out.push(d);
    }
    for volume in &spec.volumes {
        let Some(secret) = &volume.secret else { continue };
        if secret.secret_name.is_some() {
            continue;
        }
        let message = format!("secret volume {} names no secret", quote(&volume.name.value));
        let d = ctx
            .diagnostic(&RULE, message)
            .at(spec.file, volume.name.span, "no `secretName`")
            .help("add `secretName: SECRET_ID` to the volume's `secret`");
        out.push(d);
    }
}

/// An alias the annotation defines again: the spec does not say which secret it names.
fn repeated(ctx: &SpecContext, out: &mut Vec<Diagnostic>) {
    let spec = ctx.spec;
    for (alias, span) in &spec.aliases.repeated {
        let message = format!("alias {} is defined twice in `{SECRETS_ANNOTATION}`", quote(alias));
        let d = ctx
            .diagnostic(&RULE, message)
            .at(spec.file, *span, "defined again here")
            .help("define each alias once, or give the other secret an alias of its own")
            .hide_unless_shown(spec.file, *span, alias);
        out.push(d);
    }
}

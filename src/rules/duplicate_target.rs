//! `duplicate-target`: two entries that give the same env var or file to one container.

use super::{Rule, SpecContext};
use crate::diagnostic::{Diagnostic, Severity};
use crate::manifest::Manifest;
use crate::spec::normalize_path;

pub static RULE: Rule = Rule {
    code: "duplicate-target",
    severity: Severity::Error,
    summary: "two entries giving the same env var or path to one container",
    flags: "A manifest service with the same env var or file path twice (a repeated YAML key, or \
two spellings of one path such as `/secrets/a` and `/secrets//a`); a spec container that \
defines one env var twice or maps two secrets to one file.",
    why: "Only one of the two can win, and which one depends on the tool: YAML parsers keep the \
first or the last key, Cloud Run rejects a repeated env var. Either way one mapping silently \
disappears.",
    example: "secrets:\n  DATABASE_PASSWORD: {secret: database-password}\n  DATABASE_PASSWORD: \
        {secret: db-password-v2}",
    fix: "Keep one entry per env var or path; use a per-environment map if the secret differs \
between environments.",
};

pub fn check_manifest(manifest: &Manifest, out: &mut Vec<Diagnostic>) {
    for service in &manifest.services {
        let files: Vec<_> = service.secrets.iter().filter(|e| e.is_file()).collect();
        for (i, entry) in files.iter().enumerate() {
            let path = normalize_path(&entry.target.value);
            let Some(earlier) = files[..i].iter().find(|e| normalize_path(&e.target.value) == path)
            else {
                continue;
            };
            let message = format!(
                "`{}` and `{}` are the same file",
                earlier.target.value, entry.target.value
            );
            let d = Diagnostic::new(&RULE, message)
                .at(manifest.file, entry.target.span, "declared again here")
                .also(manifest.file, earlier.target.span, "first declared here")
                .help("keep one entry per file")
                .service(Some(&service.name.value))
                .target(Some(&path));
            out.push(d);
        }
    }
}

pub fn check_spec(ctx: &SpecContext, out: &mut Vec<Diagnostic>) {
    for (index, container) in ctx.spec.containers.iter().enumerate() {
        for (i, var) in container.env.iter().enumerate() {
            let Some(earlier) = container.env[..i].iter().find(|v| v.name.value == var.name.value)
            else {
                continue;
            };
            let message = format!("{} defines `{}` twice", container.label(index), var.name.value);
            let d = ctx
                .diagnostic(&RULE, message)
                .at(ctx.spec.file, var.name.span, "defined again here")
                .also(ctx.spec.file, earlier.name.span, "first defined here")
                .help("remove one of the two env entries")
                .target(Some(&var.name.value));
            out.push(d);
        }
    }
    let files: Vec<_> = ctx.mappings.iter().filter(|m| m.is_file).collect();
    for (i, mapping) in files.iter().enumerate() {
        let same = |m: &&&crate::spec::SpecMapping| {
            m.container == mapping.container && m.target == mapping.target
        };
        let Some(earlier) = files[..i].iter().find(same) else { continue };
        let message = format!("two secret volume items both provide `{}`", mapping.target);
        let d = ctx
            .diagnostic(&RULE, message)
            .at(ctx.spec.file, mapping.span, "provided again here")
            .also(ctx.spec.file, earlier.span, "first provided here")
            .help("keep one volume item per file")
            .target(Some(&mapping.target));
        out.push(d);
    }
}

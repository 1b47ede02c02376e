//! `duplicate-target`: two entries that give the same env var or file to one container.

use super::{Rule, SpecContext};
use crate::diagnostic::{Diagnostic, Severity, quote};
use crate::manifest::{Manifest, SecretEntry};
use crate::spec::{EnvVar, SpecMapping, normalize_path};
use std::collections::HashMap;

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
        let mut first_at: HashMap<String, &SecretEntry> = HashMap::new();
        for entry in service.secrets.iter().filter(|e| e.is_file()) {
            let path = normalize_path(&entry.target.value);
            let earlier = *first_at.entry(path.clone()).or_insert(entry);
            if std::ptr::eq(earlier, entry) {
                continue;
            }
            let message = format!(
                "{} and {} are the same file",
                quote(&earlier.target.value),
                quote(&entry.target.value)
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
        let mut first_at: HashMap<&str, &EnvVar> = HashMap::new();
        for var in &container.env {
            let earlier = *first_at.entry(var.name.value.as_str()).or_insert(var);
            if std::ptr::eq(earlier, var) {
                continue;
            }
            let message =
                format!("{} defines {} twice", container.label(index), quote(&var.name.value));
            let d = ctx
                .diagnostic(&RULE, message)
                .at(ctx.spec.file, var.name.span, "defined again here")
                .also(ctx.spec.file, earlier.name.span, "first defined here")
                .help("remove one of the two env entries")
                .target(Some(&var.name.value));
            out.push(d);
        }
    }
    let mut first_at: HashMap<(usize, &str), &SpecMapping> = HashMap::new();
    for mapping in ctx.mappings.iter().filter(|m| m.is_file) {
        let key = (mapping.container, mapping.target.as_str());
        let earlier = *first_at.entry(key).or_insert(mapping);
        if std::ptr::eq(earlier, mapping) {
            continue;
        }
        let message = format!("two secret volume items both provide {}", quote(&mapping.target));
        let d = ctx
            .diagnostic(&RULE, message)
            .at(ctx.spec.file, mapping.span, "provided again here")
            .also(ctx.spec.file, earlier.span, "first provided here")
            .help("keep one volume item per file")
            .target(Some(&mapping.target));
        out.push(d);
    }
}

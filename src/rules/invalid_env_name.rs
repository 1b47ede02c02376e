//! `invalid-env-name`: an env var name that a process could not read, in the manifest, or one
//! that Cloud Run rejects or no one could type, in a spec.

use super::{Rule, SpecContext};
use crate::diagnostic::{Diagnostic, Severity, quote};
use crate::manifest::Manifest;

pub static RULE: Rule = Rule {
    code: "invalid-env-name",
    severity: Severity::Error,
    summary: "an env var name that is empty, contains `=`, whitespace or a control character, or \
        is not a C identifier",
    flags: "A key under `secrets:` that does not start with `/` (so it names an env var) and is \
not a C identifier: letters, digits and `_`, not starting with a digit. In a spec, an env var \
name that is empty, contains `=` or contains a control character (such as a terminal escape \
sequence); other names that are no C identifier are left alone there, since Cloud Run accepts \
them.",
    why: "Cloud Run rejects names with `=`; other odd names are accepted but most languages and \
shells cannot read them, so the application never sees the secret. A control character in a \
name is a typo at best, and at worst rewrites the terminal of whoever reads it in a log.",
    example: "secrets:\n  JWT-SECRET-KEY:          # `-` is not allowed\n    secret: \
        jwt-secret-key",
    fix: "secrets:\n  JWT_SECRET_KEY:\n    secret: jwt-secret-key\n# a key that starts with `/` \
        is a mounted file instead",
};

/// Why `name` is not a usable env var name, or `None` when it is one.
pub fn problem(name: &str) -> Option<&'static str> {
    if let Some(reason) = spec_problem(name) {
        return Some(reason);
    }
    if name.chars().any(char::is_whitespace) {
        return Some("it contains whitespace");
    }
    if name.starts_with(|c: char| c.is_ascii_digit()) {
        return Some("it starts with a digit");
    }
    if !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return Some("it may only hold letters, digits and `_`");
    }
    None
}

/// Why a spec's env var name cannot be used, or `None`: only what Cloud Run rejects or what no
/// one could type, since specs carry names that are no C identifier but work (`my.setting`).
pub fn spec_problem(name: &str) -> Option<&'static str> {
    if name.is_empty() {
        return Some("it is empty");
    }
    if name.contains('=') {
        return Some("it contains `=`");
    }
    if name.chars().any(char::is_control) {
        return Some("it contains a control character");
    }
    None
}

pub fn check(manifest: &Manifest, out: &mut Vec<Diagnostic>) {
    for service in &manifest.services {
        for entry in service.secrets.iter().filter(|e| !e.is_file()) {
            let name = &entry.target.value;
            // A key with a slash that is not absolute is a relative path, which
            // `invalid-mount-path` reports.
            if name.contains('/') {
                continue;
            }
            let Some(reason) = problem(name) else { continue };
            let message = format!("{} is not a valid env var name: {reason}", quote(name));
            let help = "use letters, digits and `_`, not starting with a digit; start the key \
                        with `/` for a mounted file";
            let d = Diagnostic::new(&RULE, message)
                .at(manifest.file, entry.target.span, "invalid env var name")
                .help(help)
                .service(Some(&service.name.value))
                .target(Some(name));
            out.push(d);
        }
    }
}

pub fn check_spec(ctx: &SpecContext, out: &mut Vec<Diagnostic>) {
    for (index, container) in ctx.spec.containers.iter().enumerate() {
        for var in &container.env {
            let name = &var.name.value;
            let Some(reason) = spec_problem(name) else { continue };
            let label = container.label(index);
            let message = format!(
                "{label} sets {}, which is not a valid env var name: {reason}",
                quote(name)
            );
            let d = ctx
                .diagnostic(&RULE, message)
                .at(ctx.spec.file, var.name.span, "invalid env var name")
                .help("rename it with letters, digits and `_`, not starting with a digit")
                .target(Some(name));
            out.push(d);
        }
    }
}

//! `invalid-env-name`: a manifest env var name that a process could not read.

use super::Rule;
use crate::diagnostic::{Diagnostic, Severity};
use crate::manifest::Manifest;

pub static RULE: Rule = Rule {
    code: "invalid-env-name",
    severity: Severity::Error,
    summary: "an env var name that is empty, contains `=` or whitespace, or is not a C identifier",
    flags: "A key under `secrets:` that does not start with `/` (so it names an env var) and is \
not a C identifier: letters, digits and `_`, not starting with a digit.",
    why: "Cloud Run rejects names with `=`; other odd names are accepted but most languages and \
shells cannot read them, so the application never sees the secret.",
    example: "secrets:\n  JWT-SECRET-KEY:          # `-` is not allowed\n    secret: \
        jwt-secret-key",
    fix: "secrets:\n  JWT_SECRET_KEY:\n    secret: jwt-secret-key\n# a key that starts with `/` \
        is a mounted file instead",
};

/// Why `name` is not a usable env var name, or `None` when it is one.
pub fn problem(name: &str) -> Option<&'static str> {
    if name.is_empty() {
        return Some("it is empty");
    }
    if name.contains('=') {
        return Some("it contains `=`");
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
            let message = format!("`{name}` is not a valid env var name: {reason}");
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

//! `secret-value-in-manifest`: a `secret:` that holds a credential instead of a secret's name.

use super::Rule;
use crate::diagnostic::{Diagnostic, Severity, credential_kind, quote};
use crate::manifest::Manifest;

pub static RULE: Rule = Rule {
    code: "secret-value-in-manifest",
    severity: Severity::Error,
    summary: "a `secret:`, `version:` or entry key that looks like a credential rather than a name",
    flags: "A `secret:` value that looks like the secret itself: a PEM block, a JSON Web Token, \
a key with a well-known prefix (Google API keys, GitHub, GitLab, Slack, Stripe, OpenAI, AWS \
access keys), or a long random token. The same goes for a `version:` and for an entry's key \
(the env var or file path), and for a credential inside them (`password=...`), since plans, \
rendered specs and audit reports print those as they are. The value is never printed, in any \
output format.",
    why: "`secrets.yaml` is committed to the repository. A credential pasted into it is leaked \
to everyone who can read the repository and its history, and must be rotated.",
    example: "JWT_SECRET_KEY:\n  secret: eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl",
    fix: "Store the value in Secret Manager (`gcloud secrets create jwt-secret-key \
--data-file=-`), rotate it since it was committed, and write the secret's name:\n  secret: \
jwt-secret-key",
};

/// Known credential prefixes and what they are.
pub const PREFIXES: &[(&str, &str)] = &[
    ("AIza", "a Google API key"),
    ("ghp_", "a GitHub token"),
    ("gho_", "a GitHub token"),
    ("ghs_", "a GitHub token"),
    ("github_pat_", "a GitHub token"),
    ("glpat-", "a GitLab token"),
    ("xoxb-", "a Slack token"),
    ("xoxp-", "a Slack token"),
    ("xoxa-", "a Slack token"),
    ("xoxs-", "a Slack token"),
    ("sk_live_", "a Stripe key"),
    ("sk_test_", "a Stripe key"),
    ("rk_live_", "a Stripe key"),
    ("rk_test_", "a Stripe key"),
    ("sk-", "an API key"),
    ("AKIA", "an AWS access key"),
    ("GOCSPX-", "a Google OAuth client secret"),
    ("https://hooks.slack.com/services/", "a Slack webhook URL"),
];

/// The shortest token with a known prefix that counts as a credential: shorter ones are names
/// (`sk-config`).
pub const MIN_PREFIXED_LEN: usize = 20;

/// What [`looks_like_credential`] calls a value recognised only by its randomness.
pub const RANDOM_TOKEN: &str = "a long random token";

/// What kind of credential `text` looks like, or `None` when it reads as a name.
pub fn looks_like_credential(text: &str) -> Option<&'static str> {
    if super::plaintext_secret::url_with_password(text) {
        return Some("a URL with a password");
    }
    if private_pem(text) {
        return Some("a PEM block");
    }
    if is_jwt(text) {
        return Some("a JSON Web Token");
    }
    let long_enough = text.len() >= MIN_PREFIXED_LEN;
    let prefixed = PREFIXES.iter().find(|(p, _)| text.starts_with(p));
    if let Some((_, what)) = prefixed.filter(|_| long_enough && !text.contains(' ')) {
        return Some(what);
    }
    if text.split(['-', '_', '/', '.']).any(is_random_token) {
        return Some(RANDOM_TOKEN);
    }
    None
}

/// Whether `text` holds a PEM block that is not public material: a certificate, a certificate
/// request or a public key is meant to be shared.
fn private_pem(text: &str) -> bool {
    const PUBLIC: &[&str] =
        &["CERTIFICATE-----", "CERTIFICATE REQUEST-----", "PUBLIC KEY-----", "X509 CRL-----"];
    let mut blocks = text.split("-----BEGIN ").skip(1).peekable();
    blocks.peek().is_some() && blocks.any(|b| !PUBLIC.iter().any(|p| b.starts_with(p)))
}

/// Three dot-separated parts, the first a JSON object in base64url (`eyJ` is `{"`).
pub fn is_jwt(text: &str) -> bool {
    let parts: Vec<&str> = text.split('.').collect();
    parts.len() == 3 && parts[0].starts_with("eyJ") && parts.iter().all(|p| p.len() >= 2)
}

/// A run of at least 24 characters that mixes digits and letters of both cases, or 32 hex
/// digits: what generated keys look like and hand-written names do not.
fn is_random_token(word: &str) -> bool {
    let has = |f: fn(&u8) -> bool| word.as_bytes().iter().any(f);
    let mixed = word.len() >= 24
        && has(u8::is_ascii_digit)
        && has(u8::is_ascii_uppercase)
        && has(u8::is_ascii_lowercase);
    let hex = word.len() >= 32 && word.bytes().all(|b| b.is_ascii_hexdigit());
    mixed || hex
}

pub fn check(manifest: &Manifest, out: &mut Vec<Diagnostic>) {
    for service in &manifest.services {
        for entry in &service.secrets {
            let target = &entry.target;
            let mut flag = |span, message: String| {
                let mut d = Diagnostic::new(&RULE, message)
                    .at(manifest.file, span, "credential here (value hidden)")
                    .help("store it in Secret Manager, rotate it, and write the secret's name here")
                    .service(Some(&service.name.value))
                    .target(Some(&target.value));
                d.redact.push((manifest.file, span));
                out.push(d);
            };
            // A key is an env var's or a file's name, which plans and reports print as it is.
            if let Some(kind) = credential_kind(&target.value) {
                let message =
                    format!("an entry's key looks like {kind}, not an env var name or a file path");
                flag(target.span, message);
            }
            let secrets = entry.secret.iter().flat_map(|s| s.values());
            for (_, value) in secrets {
                let Some(kind) = looks_like_credential(&value.value) else { continue };
                let message = format!(
                    "the `secret:` of {} looks like {kind}, not a secret name",
                    quote(&target.value)
                );
                flag(value.span, message);
            }
            for (_, value) in entry.version.iter().flat_map(|v| v.values()) {
                let Some(kind) = credential_kind(&value.value) else { continue };
                let message = format!(
                    "the `version:` of {} looks like {kind}, not a version number or alias",
                    quote(&target.value)
                );
                flag(value.span, message);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::looks_like_credential;

    #[test]
    fn names_are_not_credentials() {
        for name in [
            "jwt-secret-key-staging",
            "database-password",
            "google-oauth-client-{env}",
            "projects/netra-production/secrets/service-to-service-secret",
            "sk-config",
            "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----",
            "-----BEGIN PUBLIC KEY-----\nMIIB",
        ] {
            assert_eq!(looks_like_credential(name), None, "{name}");
        }
    }

    #[test]
    fn credentials_are_recognised() {
        let cases = [
            ("-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----", "a PEM block"),
            ("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl", "a JSON Web Token"),
            ("AIzaSyA1234567890abcdefghijklmnopqrstu", "a Google API key"),
            ("q8Zr2LmX7vNc4TbW9kYs3HdJ6pFa", "a long random token"),
            ("0123456789abcdef0123456789abcdef", "a long random token"),
            ("sk_live_51Habcdefghijklmnopqrstuv", "a Stripe key"),
            ("rk_live_51Habcdefghijklmnopqrstuv", "a Stripe key"),
            ("xoxa-2-1234567890-abcdefghij", "a Slack token"),
            ("xoxs-1234567890-abcdefghijkl", "a Slack token"),
            (
                "https://hooks.slack.com/services/T0123ABCD/B0456EFGH/aBcDeFgHiJ",
                "a Slack webhook URL",
            ),
            ("-----BEGIN CERTIFICATE-----\nMIIB\n-----BEGIN PRIVATE KEY-----\nMIIE", "a PEM block"),
        ];
        for (text, kind) in cases {
            assert_eq!(looks_like_credential(text), Some(kind), "{text}");
        }
    }
}

//! `plaintext-secret`: a credential written as a literal env value in a spec.

use super::{Rule, SpecContext, secret_value_in_manifest};
use crate::credential;
use crate::diagnostic::{Diagnostic, Severity, quote};
use crate::yaml::Node;
use std::collections::HashSet;

pub static RULE: Rule = Rule {
    code: "plaintext-secret",
    severity: Severity::Error,
    summary: "a spec env var with a literal `value` that the manifest declares or that looks like \
        a credential",
    flags: "A spec env var with a literal `value` whose name the manifest declares as a secret \
for that service, or whose name looks like a credential (`*SECRET*`, `*PASSWORD*`, `*TOKEN*`, \
`*API_KEY*`, `*PRIVATE_KEY*`, ...), or whose value carries a password \
(`postgres://user:pass@host/db`), or whose value, under any name, looks like a credential as \
`secret-value-in-manifest` reads one (a PEM block, a JSON Web Token, a key with a well-known \
prefix such as `ghp_`, `sk_live_`, `xoxb-` or `AKIA`, a long random token), or whose value \
holds a credential inside longer text (`Bearer ghp_...`, `key=ghp_...`, a URL with \
`?token=eyJ...`, `password=...` after a credential's name), or whose value is `<redacted>` (a \
credential `import --live` masked when it exported the service). Empty values and `${...}` \
placeholders are ignored. The value is never printed.",
    why: "A literal value is stored in the spec file, in the repository, in the revision's \
configuration that every project viewer can read, and in deploy logs. It bypasses Secret \
Manager's access control, audit log and rotation.",
    example: "env:\n- name: JWT_SECRET_KEY\n  value: \"s3cr3t-value\"",
    fix: "Store the value in Secret Manager, delete the literal `value` from the spec and declare \
the secret in secrets.yaml; `deploy` then adds the mapping:\n  JWT_SECRET_KEY:\n    \
secret: jwt-secret-key\n    class: auth",
};

/// What `import --live` writes in place of a credential it found as a literal value, so that
/// the exported spec carries no credential and is still flagged until the value is moved to
/// Secret Manager: deploying it as written would replace the credential with this text.
pub const MASKED: &str = "<redacted>";

/// Parts of a name that mark a credential.
const MARKERS: &[&str] = &[
    "SECRET",
    "PASSWORD",
    "PASSWD",
    "TOKEN",
    "API_KEY",
    "APIKEY",
    "PRIVATE_KEY",
    "ACCESS_KEY",
    "CREDENTIAL",
    "PASSPHRASE",
    "ENCRYPTION_KEY",
    "SIGNING_KEY",
];

/// Name endings that describe a credential without being one (`TOKEN_TTL`, `SECRET_NAME`).
const BENIGN_SUFFIXES: &[&str] = &[
    "_ID",
    "_NAME",
    "_PATH",
    "_FILE",
    "_DIR",
    "_URL",
    "_URI",
    "_ENDPOINT",
    "_HOST",
    "_TTL",
    "_EXPIRY",
    "_TIMEOUT",
    "_SECONDS",
    "_LENGTH",
    "_HEADER",
    "_ENABLED",
    "_VERSION",
    "_ISSUER",
    "_AUDIENCE",
    "_ALGORITHM",
    "_PROJECT",
    "_REGION",
];

/// Why a literal env value looks like a credential, or `None`. The value's shape counts
/// whatever the name: a key pasted under `SOME_SETTING` is as exposed as one under `API_KEY`,
/// and so is one inside a longer value (`Bearer ghp_...`, a URL's `?token=`).
pub fn looks_like_credential(name: &str, value: &str) -> Option<String> {
    let value = value.trim();
    if value == MASKED {
        return Some(format!(
            "its value was replaced by `{MASKED}` when the live service was exported"
        ));
    }
    as_a_whole(name, value).or_else(|| {
        let found = credential::find(value).into_iter().next()?;
        Some(format!("it holds {}", found.kind))
    })
}

/// Why `value` as a whole, under `name`, looks like a credential, without looking for one
/// inside it: for the excerpts' masker, which finds those itself and masks from there, not from
/// the start of a line (`GITHUB_TOKEN=` stays readable).
pub fn as_a_whole(name: &str, value: &str) -> Option<String> {
    // `<redacted>` is what is left of a credential already hidden: there is nothing to mask.
    if value.is_empty() || value == MASKED || value.contains("${") || value.starts_with('%') {
        return None;
    }
    if url_with_password(value) {
        return Some("it holds a URL with a password".into());
    }
    if name_marks_credential(name) {
        return Some("its name marks it as a credential".into());
    }
    let kind = secret_value_in_manifest::looks_like_credential(value)?;
    // Randomness alone is what commit SHAs, base64 settings and long identifiers look like too:
    // under a name that does not mark a credential, only a shape that is one counts.
    if kind == secret_value_in_manifest::RANDOM_TOKEN {
        return None;
    }
    Some(format!("it looks like {kind}"))
}

/// Whether `name` marks what it names as a credential (`DB_PASSWORD`, `--api-key`,
/// `spring.datasource.password`) rather than describing one (`TOKEN_TTL`, `SECRET_NAME`).
pub fn name_marks_credential(name: &str) -> bool {
    let upper: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_uppercase() } else { '_' })
        .collect();
    let benign = BENIGN_SUFFIXES.iter().any(|s| upper.ends_with(s));
    // `PASS` alone is a word too often (`BYPASS_CACHE`): only as the last part of the name.
    let pass = upper == "PASS" || upper.ends_with("_PASS");
    !benign && (pass || MARKERS.iter().any(|m| upper.contains(m)))
}

/// Replaces with [`MASKED`] every literal value of the env list `env` that is a credential:
/// one that [`looks_like_credential`] finds, and any non-empty value of a name in `declared`
/// (the manifest maps it to a secret). The deploy plan and `import --live` show and write
/// these lists, never the credentials in them.
pub fn redact_env(env: &mut [Node], declared: &[&str]) {
    for var in env {
        let name = var.get("name").and_then(Node::scalar_text).unwrap_or_default();
        let Some(value) = var.get("value").and_then(Node::scalar_text) else { continue };
        let is_declared = declared.contains(&name.as_str()) && !value.is_empty();
        if is_declared || looks_like_credential(&name, &value).is_some() {
            var.set("value", Node::string(MASKED));
        }
    }
}

/// `scheme://user:password@host`.
pub fn url_with_password(value: &str) -> bool {
    let Some((_, rest)) = value.split_once("://") else { return false };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let Some((userinfo, _)) = authority.rsplit_once('@') else { return false };
    userinfo.split_once(':').is_some_and(|(_, pass)| !pass.is_empty())
}

pub fn check(ctx: &SpecContext, out: &mut Vec<Diagnostic>) {
    let declared: HashSet<&str> = ctx.deployment.bindings.iter().map(|b| b.target()).collect();
    for (index, container) in ctx.spec.containers.iter().enumerate() {
        for var in &container.env {
            let Some(value) = &var.value else { continue };
            let name = &var.name.value;
            let reason = if declared.contains(name.as_str())
                && Some(index) == ctx.container
                && !value.value.trim().is_empty()
            {
                Some("secrets.yaml declares it as a secret".into())
            } else {
                looks_like_credential(name, &value.value)
            };
            let Some(reason) = reason else { continue };
            let label = container.label(index);
            let message = format!("{label} sets {} as a plaintext value: {reason}", quote(name));
            let mut d = ctx
                .diagnostic(&RULE, message)
                .at(ctx.spec.file, value.span, "plaintext value (hidden)")
                .help(
                    "move the value to Secret Manager and map it with `valueFrom.secretKeyRef`; \
                    declare it in secrets.yaml",
                )
                .target(Some(name));
            d.redact.push((ctx.spec.file, value.span));
            out.push(d);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{MASKED, looks_like_credential, redact_env};
    use crate::yaml::Node;

    #[test]
    fn flags_credential_names_and_urls() {
        assert!(looks_like_credential("DB_PASSWORD", "hunter2").is_some());
        assert!(looks_like_credential("DATABASE_URL", "postgres://app:pw@db/app").is_some());
        assert!(looks_like_credential("GITHUB_TOKEN", "ghp_x").is_some());
    }

    /// A value masked by `import --live` stays a finding whatever the name.
    #[test]
    fn flags_values_masked_on_export() {
        let reason = looks_like_credential("SOME_SETTING", super::MASKED);
        assert!(reason.is_some_and(|r| r.contains("live service was exported")));
    }

    #[test]
    fn flags_credential_values_under_innocent_names() {
        let cases = [
            ("SOME_SETTING", "sk_live_51HXYZZY0123456789abcdef", "it looks like a Stripe key"),
            ("GH", "ghp_XYZZY0123456789012345678901234567890", "it looks like a GitHub token"),
            ("PEM", "-----BEGIN PRIVATE KEY-----\nMIIE", "it looks like a PEM block"),
            ("HOOK", "xoxb-1234567890-abcdefghijkl", "it looks like a Slack token"),
        ];
        for (name, value, reason) in cases {
            assert_eq!(looks_like_credential(name, value).as_deref(), Some(reason), "{name}");
        }
    }

    #[test]
    fn randomness_alone_under_an_innocent_name_is_configuration() {
        let sha = "3f786850e387550fdab836ed7e6dc881de23001b";
        assert!(looks_like_credential("GIT_SHA", sha).is_none());
        assert!(looks_like_credential("API_KEY", sha).is_some(), "the name still counts");
        let b64 = "eyJmZWF0dXJlcyI6WyJhIiwiYiJdLCJsZXZlbCI6M30";
        assert!(looks_like_credential("CONFIG_B64", b64).is_none());
        assert!(looks_like_credential("CLUSTER", "NetraBackendStagingUsCentral1Primary").is_none());
    }

    #[test]
    fn pass_marks_a_credential_only_at_the_end_of_the_name() {
        for name in ["DB_PASS", "SMTP_PASS", "PASS", "PASSPHRASE", "ENCRYPTION_KEY", "SIGNING_KEY"]
        {
            assert!(looks_like_credential(name, "letmein99").is_some(), "{name}");
        }
        assert!(looks_like_credential("BYPASS_CACHE", "true").is_none());
        assert!(looks_like_credential("PASSENGER_LIMIT", "4").is_none());
    }

    #[test]
    fn ignores_benign_values() {
        assert!(looks_like_credential("DATABASE_URL", "postgres://db/app").is_none());
        assert!(looks_like_credential("TOKEN_TTL", "3600").is_none());
        assert!(looks_like_credential("JWT_SECRET_KEY", "").is_none());
        assert!(looks_like_credential("API_KEY", "${API_KEY}").is_none());
        assert!(looks_like_credential("LOG_LEVEL", "debug").is_none());
    }

    #[test]
    fn flags_credentials_inside_longer_values() {
        let token = "ghp_XYZZY0123456789012345678901234567890";
        let cases = [
            format!("Bearer {token}"),
            format!("key={token}"),
            "https://hooks.example.com/x?token=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln".into(),
            "sslmode=require password=XYZZYhunter2".into(),
        ];
        for value in cases {
            assert!(looks_like_credential("SETTING", &value).is_some(), "{value}");
        }
        assert!(looks_like_credential("SETTING", "https://example.com/?page=2").is_none());
    }

    /// Credentials, inside a value or under a declared name, become [`MASKED`]; the rest stays.
    #[test]
    fn redact_env_masks_credentials_and_declared_values() {
        let env = serde_json::json!([
            {"name": "AUTH", "value": "Bearer ghp_XYZZY0123456789012345678901234567890"},
            {"name": "PARTNER", "value": "acct-5521"},
            {"name": "LOG_LEVEL", "value": "debug"},
            {"name": "EMPTY", "value": ""},
        ]);
        let Node { value: crate::yaml::Value::Seq(mut env), .. } = Node::from_json(&env) else {
            panic!("a list");
        };
        redact_env(&mut env, &["PARTNER", "EMPTY"]);
        let values: Vec<String> =
            env.iter().filter_map(|v| v.get("value").and_then(Node::scalar_text)).collect();
        assert_eq!(values, [MASKED, MASKED, "debug", ""]);
    }
}

//! `plaintext-secret`: a credential written as a literal env value in a spec.

use super::{Rule, SpecContext, secret_value_in_manifest};
use crate::credential;
use crate::diagnostic::{Diagnostic, Severity, quote};
use crate::spec::ServiceSpec;
use crate::yaml::{Node, Span};
use std::collections::HashSet;

pub static RULE: Rule = Rule {
    code: "plaintext-secret",
    severity: Severity::Error,
    summary: "a credential in plain text in a spec: a literal env value that the manifest \
        declares or that looks like one, or one in an annotation, `command`, `args` or a probe",
    flags: "A spec env var with a literal `value` whose name the manifest declares as a secret \
for that service, or whose name looks like a credential (`*SECRET*`, `*PASSWORD*`, `*TOKEN*`, \
`*API_KEY*`, `*PRIVATE_KEY*`, ...), or whose value carries a password \
(`postgres://user:pass@host/db`), or whose value, under any name, looks like a credential as \
`secret-value-in-manifest` reads one (a PEM block, a JSON Web Token, a key with a well-known \
prefix such as `ghp_`, `sk_live_`, `xoxb-` or `AKIA`, a long random token), or whose value \
holds a credential inside longer text (`Bearer ghp_...`, `key=ghp_...`, a URL with \
`?token=eyJ...`, `password=...` after a credential's name, `--db-password VALUE` on a command \
line), or whose value is `<redacted>` (a credential `import --live` masked when it exported \
the service). Also an annotation of the service or of its template whose key (after its \
domain) or value looks like a credential in the same way (Cloud Run's and Knative's own \
annotations are judged by their value only), and an item of a container's `command` or \
`args` that holds a credential: the value of `--flag=VALUE` or the item after a lone \
`--flag` when the flag is named like a credential, a credential inside the item, or \
`<redacted>`; and in a probe, an HTTP header judged as an env var is, and the credentials of \
its `exec.command`. Empty values and placeholders (`$(VAR)`, `${VAR}`, `$VAR`, `%VAR%`) are \
ignored, and so are public PEM blocks (certificates, public keys). The value is never printed.",
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
    "MASTER_KEY",
    "LICENSE_KEY",
    "APP_KEY",
    "FERNET_KEY",
    "AUTHORIZATION",
    "REQUIREPASS",
    "MASTERAUTH",
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
    "_SIZE",
    "_COUNT",
    "_LIMIT",
    "_POLICY",
    "_STORE",
    "_ENV",
    "_REF",
    "_ROTATION",
    "_CACHE",
    "_TYPE",
    "_MODE",
    "_METHOD",
    "_SCHEME",
    "_SOURCE",
    "_PROVIDER",
    "_BACKEND",
    "_LOCATION",
    "_LIFETIME",
    "_ALG",
    "_ARN",
    "_COOKIE",
    "_HASHER",
    "_MANAGER",
    "_FORMAT",
    "_HASHERS",
    "_VALIDATORS",
    "_COMPLEXITY",
    "_ALGO",
    "_PREFIX",
    "_ENCODING",
    "_EXPIRES_IN",
    "_VALIDITY",
    "_IDS",
    "_SCHEDULE",
    "_TO_LIVE",
];

/// First words that make a name an action or a switch about a credential (`--use-secret-manager`,
/// `--pass-access-token`, `ENABLE_TOKEN_AUTH`), not the credential.
const VERBS: &[&str] = &[
    "USE", "ENABLE", "DISABLE", "NO", "SKIP", "ALLOW", "REQUIRE", "VERIFY", "VALIDATE", "PASS",
    "FORWARD",
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
    if name_marks_credential(name) && credential::assignable(value) {
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
    let words = words(name);
    let joined = format!("_{}_", words.join("_"));
    let benign = BENIGN_SUFFIXES.iter().any(|s| joined[..joined.len() - 1].ends_with(s))
        || (words.len() > 1 && VERBS.contains(&words[0].as_str()));
    // A marker ends a word (`DB_PASSWORD`, `APITOKEN`), or is several words (`API_KEY`, also
    // as a plural: `API_KEYS`); `TOKENIZER` and `MAX_TOKENS` go on after it. `PASS`, `PWD` and
    // `PW` alone are words too often (`BYPASS_CACHE`): only as the last word.
    // One word may also run a marker into `KEY` (`SECRETKEY`) or write a marker of several
    // words as one (`PRIVATEKEY`).
    let plural = |w: &str| w.strip_suffix('S') == Some("CREDENTIAL");
    let ends_in = |w: &str, m: &str| {
        let m = m.replace('_', "");
        w.ends_with(&m) || w.strip_suffix("KEY").is_some_and(|r| r.ends_with(&m))
    };
    let several = |m: &str| m.contains('_') && joined.contains(&format!("_{m}S_"));
    let marked = MARKERS.iter().any(|m| {
        joined.contains(&format!("_{m}_"))
            || several(m)
            || words.iter().any(|w| ends_in(w, m) || plural(w))
    });
    let pass = words.last().is_some_and(|w| ["PASS", "PWD", "PW"].contains(&w.as_str()));
    !benign && (pass || marked)
}

/// The words of a name in upper case: `dbPassword`, `db-password` and `DB_PASSWORD` all give
/// `DB`, `PASSWORD`.
fn words(name: &str) -> Vec<String> {
    let chars: Vec<char> = name.chars().collect();
    let mut words: Vec<String> = vec![String::new()];
    for (i, &c) in chars.iter().enumerate() {
        let before = i.checked_sub(1).map(|b| chars[b]);
        let after = chars.get(i + 1);
        // A capital starts a word after a small letter or digit (`dbPassword`), and ends an
        // acronym before a small letter (`openAIApiKey`: `AI`, `Api`).
        let camel = c.is_ascii_uppercase()
            && (before.is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
                || (before.is_some_and(|b| b.is_ascii_uppercase())
                    && after.is_some_and(char::is_ascii_lowercase)));
        if (!c.is_ascii_alphanumeric() || camel) && words.last().is_some_and(|w| !w.is_empty()) {
            words.push(String::new());
        }
        if let (true, Some(word)) = (c.is_ascii_alphanumeric(), words.last_mut()) {
            word.push(c.to_ascii_uppercase());
        }
    }
    words.retain(|w| !w.is_empty());
    words
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

/// Annotation domains whose keys Cloud Run and Knative define. Their values are configuration
/// (`run.googleapis.com/secrets` maps aliases to secret names, `run.googleapis.com/encryption-key`
/// names a KMS key), so their names, which read as credentials, say nothing about the value:
/// only a value shaped like a credential counts there.
const PLATFORM_DOMAINS: &[&str] = &[
    "run.googleapis.com",
    "autoscaling.knative.dev",
    "serving.knative.dev",
    "client.knative.dev",
    "features.knative.dev",
];

/// Why an annotation's value is a credential, or `None`: judged by the key's name after its
/// domain (`example.com/db-password`), or by the value's shape under any key.
pub fn annotation_credential(key: &str, value: &str) -> Option<String> {
    let (domain, name) = credential::split_key(key);
    let name = if domain.is_some_and(|d| PLATFORM_DOMAINS.contains(&d)) { "" } else { name };
    looks_like_credential(name, value)
}

/// A credential in one item of an `args` or `command` list.
pub struct ArgumentCredential {
    pub index: usize,
    pub reason: String,
    /// The item with its credential replaced by [`MASKED`]; the item itself when it holds
    /// nothing but what an export already masked.
    pub redacted: String,
}

/// The items of an `args` or `command` list (`None`: an item that is not a scalar) that hold a
/// credential: the value of `--flag=VALUE` and the item after a lone `--flag` (or `-flag`)
/// when the flag's name marks a credential, whatever [`credential::find`] finds inside an item
/// (the password of a URL in `sh -c "..."`), and an item that holds [`MASKED`]. An item after a
/// lone flag that is itself a `--flag` is taken as the next flag, not as the value.
pub fn argument_credentials(items: &[Option<String>]) -> Vec<ArgumentCredential> {
    let mut found = Vec::new();
    let mut flag: Option<&str> = None;
    for (index, item) in items.iter().enumerate() {
        let Some(text) = item.as_deref() else {
            flag = None;
            continue;
        };
        let value_of = flag.take().filter(|_| !text.starts_with("--"));
        let credential = match value_of {
            Some(flag) if credential_flag(flag, text) => {
                let reason = "it is the value of a flag named like a credential";
                Some((reason.to_string(), MASKED.to_string()))
            }
            // `curl -u USER:PASSWORD`, in two items: read as the one string it stands for.
            Some(flag @ ("-u" | "--user")) => masked_item(&format!("{flag} {text}"))
                .map(|(reason, masked)| (reason, masked[flag.len() + 1..].to_string())),
            _ => masked_item(text),
        };
        if text.starts_with('-') && !text.contains(['=', ' ']) {
            flag = Some(text);
        }
        if let Some((reason, redacted)) = credential {
            found.push(ArgumentCredential { index, reason, redacted });
        } else if text.contains(MASKED) {
            let reason = format!("it holds `{MASKED}`, left where an export masked a credential");
            found.push(ArgumentCredential { index, reason, redacted: text.to_string() });
        }
    }
    found
}

/// Whether `value`, given to `flag`, is a credential by the flag's name (`--db-password`).
fn credential_flag(flag: &str, value: &str) -> bool {
    name_marks_credential(flag) && credential::assignable(value) && value != MASKED
}

/// Why one item holds a credential, with the item once it is masked: `--flag=<redacted>` for a
/// flag named like a credential, else each credential [`credential::find`] finds in it.
fn masked_item(text: &str) -> Option<(String, String)> {
    let glued = |(flag, value): &(&str, &str)| {
        flag.starts_with('-') && !flag.contains(' ') && credential_flag(flag, value)
    };
    if let Some((flag, _)) = text.split_once('=').filter(glued) {
        let reason = "its flag is named like a credential".to_string();
        return Some((reason, format!("{flag}={MASKED}")));
    }
    let found = credential::find(text);
    let reason = format!("it holds {}", found.first()?.kind);
    let mut out = String::new();
    let mut done = 0;
    // Found credentials can overlap (a token that is also a value under a credential's name):
    // one `<redacted>` stands for the whole run.
    for f in found {
        if f.start < done {
            done = done.max(f.end);
            continue;
        }
        out.push_str(&text[done..f.start]);
        out.push_str(MASKED);
        done = f.end;
    }
    out.push_str(&text[done..]);
    Some((reason, out))
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
    for found in credentials_elsewhere(ctx.spec) {
        let mut d = ctx
            .diagnostic(&RULE, found.message)
            .at(ctx.spec.file, found.span, "plaintext value (hidden)")
            .help(found.help);
        d.redact.push((ctx.spec.file, found.span));
        out.push(d);
    }
}

/// A credential outside env values: in an annotation, or in a container's `command` and
/// `args`.
pub struct Elsewhere {
    pub span: Span,
    /// What holds it and why it reads as one, for a message.
    pub message: String,
    pub help: &'static str,
}

/// Every credential of `spec` outside env values: in the annotations of the service and of its
/// revision template, which every project viewer can read, and in the `command` and `args` of
/// every container, which are as exposed as an env var, and with which a service deployed with
/// `<redacted>` in place of the value would not start.
pub fn credentials_elsewhere(spec: &ServiceSpec) -> Vec<Elsewhere> {
    let mut found = Vec::new();
    for path in [&["metadata", "annotations"][..], &["spec", "template", "metadata", "annotations"]]
    {
        let annotations = spec.root.path(path).and_then(Node::as_map).unwrap_or_default();
        for (key, value) in annotations {
            let (Some(key), Some(text)) = (key.scalar_text(), value.scalar_text()) else {
                continue;
            };
            let Some(reason) = annotation_credential(&key, &text) else { continue };
            found.push(Elsewhere {
                span: value.span,
                message: format!("annotation {} holds a plaintext value: {reason}", quote(&key)),
                help: "keep credentials out of annotations: store them in Secret Manager",
            });
        }
    }
    let containers = spec.root.path(&["spec", "template", "spec", "containers"]);
    let containers = containers.and_then(Node::as_seq).unwrap_or_default();
    for ((index, container), node) in spec.containers.iter().enumerate().zip(containers) {
        // The container runs `command` then `args` as one command line: a flag that ends
        // `command` takes the first item of `args`.
        let items: Vec<(&str, usize, &Node)> = ["command", "args"]
            .into_iter()
            .flat_map(|field| {
                let list = node.get(field).and_then(Node::as_seq).unwrap_or_default();
                list.iter().enumerate().map(move |(i, item)| (field, i, item))
            })
            .collect();
        let texts: Vec<Option<String>> = items.iter().map(|(_, _, n)| n.scalar_text()).collect();
        for credential in argument_credentials(&texts) {
            let (field, position, item) = items[credential.index];
            found.push(Elsewhere {
                span: item.span,
                message: format!(
                    "{} passes a plaintext credential in `{field}` (item {}): {}",
                    container.label(index),
                    position + 1,
                    credential.reason
                ),
                help: "move the value to Secret Manager, map it to an env var with \
                       `valueFrom.secretKeyRef` and read it from there (`$(VAR)` in `args`)",
            });
        }
        for probe in ["startupProbe", "livenessProbe", "readinessProbe"] {
            found.extend(probe_credentials(node.get(probe), probe, &container.label(index)));
        }
    }
    found
}

/// Credentials in a probe: the value of an HTTP header named like a credential (or shaped like
/// one), and what a command line holds in its `exec.command`.
fn probe_credentials(probe: Option<&Node>, field: &str, label: &str) -> Vec<Elsewhere> {
    let Some(probe) = probe else { return Vec::new() };
    let help = "probe with a path that needs no credential, or read it from an env var that \
                `valueFrom.secretKeyRef` maps";
    let mut found = Vec::new();
    let headers = probe.path(&["httpGet", "httpHeaders"]).and_then(Node::as_seq);
    for header in headers.unwrap_or_default() {
        let name = header.get("name").and_then(Node::scalar_text).unwrap_or_default();
        let Some(value) = header.get("value") else { continue };
        let Some(reason) = looks_like_credential(&name, &value.scalar_text().unwrap_or_default())
        else {
            continue;
        };
        let message = format!("{label} sends header {} in its `{field}`: {reason}", quote(&name));
        found.push(Elsewhere { span: value.span, message, help });
    }
    let command = probe.path(&["exec", "command"]).and_then(Node::as_seq).unwrap_or_default();
    let texts: Vec<Option<String>> = command.iter().map(Node::scalar_text).collect();
    for credential in argument_credentials(&texts) {
        let message = format!(
            "{label} passes a plaintext credential in its `{field}` command (item {}): {}",
            credential.index + 1,
            credential.reason
        );
        found.push(Elsewhere { span: command[credential.index].span, message, help });
    }
    found
}

#[cfg(test)]
mod tests {
    use super::{MASKED, looks_like_credential, name_marks_credential, redact_env};
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

    /// Configuration under a credential's name: sizes, counts and durations, paths, Secret
    /// Manager names and env var names; a long number or a word may still be a credential.
    #[test]
    fn configuration_around_a_credential_is_none() {
        for (name, value) in [
            ("--tokens", "10"),
            ("--token-cache-size", "1000"),
            ("--session-secret-rotation", "24h"),
            ("--secret-store", "gcp"),
            ("--secret-env", "API_KEY"),
            ("--secret-key-ref", "jwt-secret"),
            ("--credentials", "/var/secrets/google/key.json"),
            ("--api-key-secret", "projects/p/secrets/api-key/versions/latest"),
            ("password-policy", "strong"),
        ] {
            assert_eq!(looks_like_credential(name, value), None, "{name}={value}");
        }
        for (name, value) in [("PIN_PASSWORD", "84736251"), ("--password", "bcrypt")] {
            assert!(looks_like_credential(name, value).is_some(), "{name}={value}");
        }
    }

    /// Names that describe or configure a credential, or hold a marker inside a longer word,
    /// are no credentials; camel case and one-word names are read by their words.
    #[test]
    fn names_are_read_by_their_words() {
        for name in [
            "TOKENIZER",
            "--tokenizer",
            "MAX_TOKENS",
            "RATE_LIMIT_TOKENS",
            "SECRETS_BACKEND",
            "TOKEN_TYPE",
            "OIDC_TOKEN_ENDPOINT_AUTH_METHOD",
            "PASSWORD_HASHER",
            "SECRET_MANAGER_LOCATION",
            "AUTH_TOKEN_SOURCE",
            "REFRESH_TOKEN_LIFETIME",
            "DD_API_KEY_SECRET_ARN",
            "--pass-access-token",
            "--use-secret-manager",
            "BYPASS_CACHE",
            "PASSWORD_HASHERS",
            "TIKTOKEN_ENCODING",
            "REFRESH_TOKEN_EXPIRES_IN",
            "--stop-token-ids",
            "PWD_PATH",
        ] {
            assert!(!name_marks_credential(name), "{name}");
        }
        for name in [
            "dbPassword",
            "APITOKEN",
            "GITHUB_TOKEN",
            "--api-key",
            "DB_CREDENTIALS",
            "SMTP_PASS",
            "SECRETKEY",
            "PRIVATEKEY",
            "jwtSecretKey",
            "openAIApiKey",
            "MYSQL_PWD",
            "LDAP_BIND_PW",
            "API_KEYS",
            "RAILS_MASTER_KEY",
            "--requirepass",
            "Authorization",
        ] {
            assert!(name_marks_credential(name), "{name}");
        }
        assert!(looks_like_credential("TOKEN_COST", "0.000015").is_none());
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

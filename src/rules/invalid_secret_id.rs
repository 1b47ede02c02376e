//! `invalid-secret-id`: a secret name that Secret Manager would reject.

use super::Rule;
use crate::diagnostic::{Severity, may_show, quote};
use crate::spec::SecretName;

pub static RULE: Rule = Rule {
    code: "invalid-secret-id",
    severity: Severity::Error,
    summary: "a secret id outside `[A-Za-z0-9_-]{1,255}`, or a malformed `projects/P/secrets/S`",
    flags: "A `secret:` that, after its placeholders are filled in, is neither a secret id (1 to \
255 letters, digits, `-` and `_`) nor a full name `projects/PROJECT/secrets/ID` with a valid \
project id or number.",
    why: "Secret Manager refuses such names, so the secret cannot exist and the revision would \
fail to start. It is often a leftover template (`{env}` misspelt) or a path pasted instead of an \
id.",
    example: "secret: projects/netra-staging/secret/jwt-key     # `secret/` instead of `secrets/`",
    fix: "secret: projects/netra-staging/secrets/jwt-key\n# or, for the environment's own \
        project:\nsecret: jwt-key",
};

/// Whether `id` is a valid Secret Manager secret id.
pub fn is_valid_id(id: &str) -> bool {
    (1..=255).contains(&id.len())
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A project id (6 to 30 lowercase letters, digits and hyphens, starting with a letter) or a
/// project number.
fn is_valid_project(p: &str) -> bool {
    let number = !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
    let id = (6..=30).contains(&p.len())
        && p.starts_with(|c: char| c.is_ascii_lowercase())
        && !p.ends_with('-')
        && p.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    number || id
}

/// Parses a manifest `secret:` value: a plain id in `project`, or a full name. The error names
/// the value only when [`quote`] may show it: a password pasted here is described, not echoed.
pub fn parse(text: &str, project: &str) -> Result<SecretName, String> {
    if text.starts_with("projects/") {
        let Some(name) = SecretName::parse_full(text) else {
            let shown = quote(text);
            return Err(format!("{shown} is not of the form `projects/PROJECT/secrets/ID`"));
        };
        if !is_valid_project(&name.project) {
            return Err(format!("{} is not a valid project id or number", quote(&name.project)));
        }
        if !is_valid_id(&name.secret) {
            return Err(format!("{} is not a valid secret id", quote(&name.secret)));
        }
        return Ok(name);
    }
    if !is_valid_id(text) {
        let outside = text.chars().find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'));
        let reason = match outside {
            _ if text.len() > 255 => "it is longer than 255 characters".to_string(),
            Some(c) if may_show(text) => format!("it contains {c:?}"),
            _ => "it contains a character other than letters, digits, `-` and `_`".to_string(),
        };
        return Err(format!("{} is not a valid secret id: {reason}", quote(text)));
    }
    Ok(SecretName { project: project.to_string(), secret: text.to_string() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ids_and_full_names() {
        assert_eq!(
            parse("jwt-key_1", "p-proj").unwrap().to_string(),
            "projects/p-proj/secrets/jwt-key_1"
        );
        assert_eq!(parse("projects/123/secrets/x", "p").unwrap().project, "123");
    }

    #[test]
    fn rejects_bad_names() {
        assert!(parse("jwt-{env", "p").unwrap_err().contains("'{'"));
        assert!(parse("jwt key", "p").unwrap_err().contains("not shown"));
        assert!(parse("projects/P/secrets/x", "p").is_err());
        assert!(parse("projects/proj-1/secret/x", "p").is_err());
        assert!(parse(&"a".repeat(256), "p").unwrap_err().contains("255"));
    }
}

//! Findings: what every rule produces and every reporter consumes.

use crate::credential;
use crate::rules::secret_value_in_manifest;
use crate::source::FileId;
use crate::yaml::Span;
use serde::Serialize;

/// How serious a finding is. Errors fail the command; warnings fail it only with
/// `--deny-warnings`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
    Note,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Note => "note",
        }
    }
}

/// A place in a file with a short caption.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Label {
    pub file: FileId,
    pub span: Span,
    pub message: String,
}

impl Label {
    pub fn new(file: FileId, span: Span, message: impl Into<String>) -> Self {
        Label { file, span, message: message.into() }
    }
}

/// One finding. `primary` says where the problem is; `secondary` points at what it conflicts
/// with (the policy line, the other mapping).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Diagnostic {
    pub code: &'static str,
    pub severity: Severity,
    pub message: String,
    pub help: Option<String>,
    pub environment: Option<String>,
    pub service: Option<String>,
    /// The env var name or file path the finding concerns.
    pub target: Option<String>,
    /// The secret the finding concerns, as written after template expansion.
    pub secret: Option<String>,
    pub primary: Option<Label>,
    pub secondary: Vec<Label>,
    /// Places holding a credential: every reporter hides them, even in source excerpts.
    pub redact: Vec<(FileId, Span)>,
}

impl Diagnostic {
    /// A finding with the rule's default severity and no context yet.
    pub fn new(rule: &crate::rules::Rule, message: impl Into<String>) -> Self {
        Diagnostic {
            code: rule.code,
            severity: rule.severity,
            message: message.into(),
            help: None,
            environment: None,
            service: None,
            target: None,
            secret: None,
            primary: None,
            secondary: Vec::new(),
            redact: Vec::new(),
        }
    }

    pub fn at(mut self, file: FileId, span: Span, label: impl Into<String>) -> Self {
        self.primary = Some(Label::new(file, span, label));
        self
    }

    pub fn also(mut self, file: FileId, span: Span, label: impl Into<String>) -> Self {
        self.secondary.push(Label::new(file, span, label));
        self
    }

    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    pub fn env(mut self, env: Option<&str>) -> Self {
        self.environment = env.map(str::to_string);
        self
    }

    pub fn service(mut self, service: Option<&str>) -> Self {
        self.service = service.map(str::to_string);
        self
    }

    /// Sets the env var or file the finding concerns, unless it looks like a credential (a
    /// token pasted as a name): the JSON field is then null. Unlike [`quote`], an odd name
    /// (`BAD NAME`) is kept, since reports match findings to entries by it.
    pub fn target(mut self, target: Option<&str>) -> Self {
        self.target = target.filter(|t| credential_kind(t).is_none()).map(str::to_string);
        self
    }

    /// Sets the secret the finding concerns, unless it could be a credential (see [`quote`]):
    /// the JSON field is then null.
    pub fn secret(mut self, secret: Option<&str>) -> Self {
        self.secret = secret.filter(|s| may_show(s)).map(str::to_string);
        self
    }

    /// Masks the value at `span` in excerpts when [`quote`] would not show `value`, so that a
    /// value a message hides does not appear beside it.
    pub fn hide_unless_shown(mut self, file: FileId, span: Span, value: &str) -> Self {
        if !may_show(value) {
            self.redact.push((file, span));
        }
        self
    }

    pub fn severity(mut self, severity: Severity) -> Self {
        self.severity = severity;
        self
    }
}

/// Counts of findings by severity.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub errors: usize,
    pub warnings: usize,
}

impl Summary {
    pub fn of(diagnostics: &[Diagnostic]) -> Self {
        let count = |s| diagnostics.iter().filter(|d| d.severity == s).count();
        Summary { errors: count(Severity::Error), warnings: count(Severity::Warning) }
    }
}

/// A value read from a file, in backquotes for a message; or, when it could be a credential,
/// a description of it instead. A value that looks like a credential is described by its kind;
/// so is a value with a character that names do not hold (a password such as `S3cr3tP@ssw0rd`,
/// an AWS secret key with its `/`, a passphrase with blanks), since a message cannot tell a
/// mistyped name from a password pasted into the wrong field.
pub fn quote(value: &str) -> String {
    if let Some(kind) = credential_kind(value) {
        return format!("a value that looks like {kind} (not shown)");
    }
    if value.chars().any(char::is_control) {
        return "a value with control characters (not shown)".to_string();
    }
    if !name_like(value) {
        return "a value that could be a credential (not shown)".to_string();
    }
    format!("`{value}`")
}

/// Whether [`quote`] shows `value`.
pub fn may_show(value: &str) -> bool {
    credential_kind(value).is_none() && name_like(value)
}

/// `value` as it is when [`quote`] would show it, else [`quote`]'s description: for values a
/// message writes without backquotes (a directory, an account, a list of names).
pub fn shown(value: &str) -> String {
    if may_show(value) { value.to_string() } else { quote(value) }
}

/// `name` as it is, or [`quote`]'s description when it looks like a credential: for names that
/// reports write as they are and that an odd but harmless character must not hide (a target
/// `BAD NAME` stays readable, as in the JSON `target` field).
pub fn unless_credential(name: &str) -> String {
    if credential_kind(name).is_some() { quote(name) } else { name.to_string() }
}

/// `value` where a help text gives it as an argument of a command to run, or `placeholder`
/// (`SECRET_ID`) when [`quote`] would not show it: the user types the real value in.
pub fn argument<'a>(value: &'a str, placeholder: &'a str) -> &'a str {
    if may_show(value) { value } else { placeholder }
}

/// What kind of credential `value` looks like, as a whole or somewhere inside.
pub fn credential_kind(value: &str) -> Option<&'static str> {
    secret_value_in_manifest::looks_like_credential(value)
        .or_else(|| credential::find(value).first().map(|f| f.kind))
}

/// Written as names and numbers are: letters, digits, `-`, `_`, `.` (Kubernetes secret names,
/// which Cloud Run specs often carry by habit) and placeholder braces; a full name
/// `[ALIAS:]projects/PROJECT/secrets/ID`, whose parts add `:` and `/`; an absolute file path
/// of such names; an annotation key (`example.com/db-password`, `other/db-url`); a service
/// account's email; or a YAML number such as `-1.5e+3`.
fn name_like(value: &str) -> bool {
    let word = |text: &str, extra: &[u8]| {
        let named = |b: u8| b.is_ascii_alphanumeric() || b"-_.{}".contains(&b);
        text.bytes().all(|b| named(b) || extra.contains(&b))
    };
    let full = value.split_once("projects/").is_some_and(|(alias, rest)| {
        (alias.is_empty() || alias.strip_suffix(':').is_some_and(|a| word(a, b"")))
            && word(rest, b"/:")
    });
    let path = value.starts_with('/') && word(value, b"/");
    let annotation_key = value
        .split_once('/')
        .is_some_and(|(prefix, name)| !prefix.is_empty() && word(prefix, b"") && word(name, b""));
    let email = value.split_once('@').is_some_and(|(user, domain)| {
        !user.is_empty() && word(user, b"") && domain.contains('.') && word(domain, b"")
    });
    let shapes = [word(value, b""), full, path, annotation_key, email, number_like(value)];
    value.len() <= 255 && shapes.contains(&true)
}

/// A number as YAML writes one: digits with a sign, point or exponent, or `.inf` and `.nan`.
pub fn number_like(value: &str) -> bool {
    let unsigned = value.trim_start_matches(['+', '-']).to_ascii_lowercase();
    let digits = unsigned.starts_with(|c: char| c.is_ascii_digit() || c == '.')
        && unsigned.bytes().any(|b| b.is_ascii_digit())
        && unsigned.bytes().all(|b| b.is_ascii_digit() || b"._e+-".contains(&b));
    digits || unsigned == ".inf" || unsigned == ".nan"
}

#[cfg(test)]
mod tests {
    use super::{argument, may_show, quote};

    #[test]
    fn names_versions_and_numbers_are_quoted() {
        for value in [
            "jwt-secret-key",
            "partner.key",
            "api-key-{env}",
            "projects/netra-staging/secrets/jwt",
            "oauth:projects/example.com:shop/secrets/x",
            "99999999999999999999999999999",
            "-.inf",
        ] {
            assert_eq!(quote(value), format!("`{value}`"));
        }
    }

    #[test]
    fn values_that_could_be_credentials_are_described() {
        let stripe = quote("sk_live_51HXYZZY0123456789abcdef");
        assert_eq!(stripe, "a value that looks like a Stripe key (not shown)");
        for value in ["S3cr3tP@ssw0rd", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "db pass"] {
            assert!(!may_show(value), "{value}");
            assert_eq!(quote(value), "a value that could be a credential (not shown)");
        }
        assert!(!may_show(&"a".repeat(256)));
    }

    #[test]
    fn credentials_inside_a_value_and_control_characters_are_described() {
        let quoted = quote("x-AKIAXYZZY01234567890");
        assert_eq!(quoted, "a value that looks like an AWS access key (not shown)");
        assert_eq!(quote("X\u{1b}]0;t\u{7}"), "a value with control characters (not shown)");
    }

    #[test]
    fn paths_and_accounts_are_shown_and_arguments_fall_back_to_placeholders() {
        for value in ["/secrets/app/config.json", "backend@netra-staging.iam.gserviceaccount.com"] {
            assert!(may_show(value), "{value}");
        }
        assert_eq!(argument("jwt-secret-key", "SECRET_ID"), "jwt-secret-key");
        assert_eq!(argument("ghp_XYZZY0123456789012345678901234567890", "SECRET_ID"), "SECRET_ID");
    }
}

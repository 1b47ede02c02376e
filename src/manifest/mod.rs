//! The `secrets.yaml` manifest: its model, and its reading from a YAML tree.
//!
//! The model keeps the source span of every value so that rules can point at the exact entry.
//! Fields the schema requires are still `Option`s here: a missing field is reported once by the
//! reader and the rest of the manifest is still checked.

mod read;
pub mod template;

pub use read::{read, valid_environment_name, valid_project, valid_region, valid_service_name};

use crate::source::FileId;
use crate::yaml::Span;

/// The only manifest format version this release reads.
pub const SUPPORTED_VERSION: i64 = 1;

/// A value with the span it was read from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sp<T> {
    pub value: T,
    pub span: Span,
}

impl<T> Sp<T> {
    pub fn new(value: T, span: Span) -> Self {
        Sp { value, span }
    }
}

/// A value given once for every environment, or once per environment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PerEnv<T> {
    Same(Sp<T>),
    /// Entries keyed by environment name, in file order.
    ByEnv(Vec<(Sp<String>, Sp<T>)>, Span),
}

impl<T> PerEnv<T> {
    /// The value for `env`; `None` when a per-environment map has no entry for it.
    pub fn for_env(&self, env: &str) -> Option<&Sp<T>> {
        match self {
            PerEnv::Same(v) => Some(v),
            PerEnv::ByEnv(entries, _) => entries.iter().find(|(k, _)| k.value == env).map(|e| &e.1),
        }
    }

    /// Every value written, with the environment it is written for (`None` when shared).
    pub fn values(&self) -> Vec<(Option<&Sp<String>>, &Sp<T>)> {
        match self {
            PerEnv::Same(v) => vec![(None, v)],
            PerEnv::ByEnv(entries, _) => entries.iter().map(|(k, v)| (Some(k), v)).collect(),
        }
    }

    /// Where the whole value was written.
    pub fn span(&self) -> Span {
        match self {
            PerEnv::Same(v) => v.span,
            PerEnv::ByEnv(_, span) => *span,
        }
    }
}

/// The whole manifest.
#[derive(Clone, Debug)]
pub struct Manifest {
    pub file: FileId,
    pub version: Option<Sp<i64>>,
    pub environments: Vec<Environment>,
    pub policy: Policy,
    pub services: Vec<Service>,
}

/// A deployment environment: one Google Cloud project and region.
#[derive(Clone, Debug)]
pub struct Environment {
    pub name: Sp<String>,
    pub project: Option<Sp<String>>,
    pub region: Option<Sp<String>>,
    pub service_account: Option<Sp<String>>,
}

/// Organisation-wide rules that tighten what the manifest may say.
#[derive(Clone, Debug, Default)]
pub struct Policy {
    pub pin_versions: Vec<Sp<String>>,
    pub required_classes: Vec<Sp<String>>,
    pub max_version_age_days: Option<Sp<i64>>,
    /// Secret name patterns owned by other systems, ignored by `audit`'s orphan report.
    pub ignore_orphans: Vec<Sp<String>>,
}

/// One Cloud Run service and the secrets it must receive.
#[derive(Clone, Debug)]
pub struct Service {
    pub name: Sp<String>,
    pub spec: Option<PerEnv<String>>,
    pub container: Option<Sp<String>>,
    pub environments: Option<Vec<Sp<String>>>,
    pub service_account: Option<PerEnv<String>>,
    pub secrets: Vec<SecretEntry>,
}

/// One env var or mounted file and the Secret Manager secret it comes from.
#[derive(Clone, Debug)]
pub struct SecretEntry {
    /// An env var name, or an absolute file path when it starts with `/`.
    pub target: Sp<String>,
    pub secret: Option<PerEnv<String>>,
    pub version: Option<PerEnv<String>>,
    pub class: Option<Sp<String>>,
    pub required: Option<Sp<bool>>,
}

impl SecretEntry {
    /// Whether the entry is a mounted file rather than an env var.
    pub fn is_file(&self) -> bool {
        self.target.value.starts_with('/')
    }

    /// The class, `other` when not written.
    pub fn class_name(&self) -> &str {
        self.class.as_ref().map_or("other", |c| c.value.as_str())
    }
}

impl Manifest {
    pub fn environment(&self, name: &str) -> Option<&Environment> {
        self.environments.iter().find(|e| e.name.value == name)
    }

    pub fn service(&self, name: &str) -> Option<&Service> {
        self.services.iter().find(|s| s.name.value == name)
    }

    /// Whether an entry is required: `required` true (the default) or its class is listed in
    /// `policy.required_classes`.
    pub fn is_required(&self, entry: &SecretEntry) -> bool {
        let flagged = entry.required.as_ref().is_none_or(|r| r.value);
        flagged || self.policy.required_classes.iter().any(|c| c.value == entry.class_name())
    }

    /// Whether `service` is deployed to `env` (every environment when it does not say).
    pub fn service_in_env(&self, service: &Service, env: &str) -> bool {
        service.environments.as_ref().is_none_or(|list| list.iter().any(|e| e.value == env))
    }
}

/// A secret version as written in a manifest or spec.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Version {
    Latest,
    Number(u64),
    Alias(String),
}

impl Version {
    /// Parses `latest`, a positive integer or a Secret Manager version alias.
    pub fn parse(text: &str) -> Option<Version> {
        Version::read(text).ok()
    }

    /// Like [`Version::parse`], saying why a number is no version number when it is not.
    pub fn read(text: &str) -> Result<Version, Option<String>> {
        if text == "latest" {
            return Ok(Version::Latest);
        }
        if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
            return number(text);
        }
        if crate::diagnostic::number_like(text) {
            return Err(Some("a version number is a whole number from 1".to_string()));
        }
        is_alias(text).then(|| Version::Alias(text.to_string())).ok_or(None)
    }

    /// Parses only `latest` or a positive integer: what a spec may carry without an alias the
    /// manifest declares.
    pub fn parse_plain(text: &str) -> Option<Version> {
        Version::parse(text).filter(|v| !matches!(v, Version::Alias(_)))
    }
}

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Version::Latest => f.write_str("latest"),
            Version::Number(n) => write!(f, "{n}"),
            Version::Alias(a) => f.write_str(a),
        }
    }
}

/// A version number. Leading zeros are refused rather than dropped: YAML keeps `007` a string
/// (see the README), and Secret Manager's own version names carry none.
fn number(digits: &str) -> Result<Version, Option<String>> {
    let significant = digits.trim_start_matches('0');
    if significant.is_empty() {
        return Err(Some("versions are numbered from 1".to_string()));
    }
    if significant.len() < digits.len() {
        return Err(Some(format!("a version number has no leading zeros (write `{significant}`)")));
    }
    let out_of_range = || Some(format!("the number is out of range (at most {})", u64::MAX));
    significant.parse().map(Version::Number).map_err(|_| out_of_range())
}

/// Secret Manager's alias syntax: a letter first, then letters, digits, `-` or `_`, at most 63
/// characters; an all-digit word would be a version number.
fn is_alias(text: &str) -> bool {
    let mut chars = text.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic());
    first_ok && text.len() <= 63 && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

#[cfg(test)]
mod tests {
    use super::Version;

    #[test]
    fn versions_and_why_numbers_are_none() {
        assert_eq!(Version::read("latest"), Ok(Version::Latest));
        assert_eq!(Version::read("7"), Ok(Version::Number(7)));
        assert_eq!(Version::read("stable"), Ok(Version::Alias("stable".into())));
        let why = |text: &str| Version::read(text).unwrap_err().unwrap_or_default();
        assert!(why("007").contains("write `7`"));
        assert!(why("0").contains("numbered from 1"));
        assert!(why("18446744073709551616").contains("out of range"));
        assert!(why(".inf").contains("whole number"));
        assert_eq!(Version::read("two words"), Err(None));
    }
}

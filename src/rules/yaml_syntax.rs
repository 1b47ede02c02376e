//! `yaml-syntax`: a manifest or spec that is not valid YAML.
//!
//! A file that does not parse has no tree for the other rules to find credentials in, yet its
//! excerpt is shown, often at the very line where a credential was pasted. The human reporter
//! masks such values in every excerpt of every file (see [`crate::report::mask`]), this one's
//! included.

use super::Rule;
use crate::diagnostic::{Diagnostic, Severity};
use crate::source::FileId;
use crate::yaml::SyntaxError;

pub static RULE: Rule = Rule {
    code: "yaml-syntax",
    severity: Severity::Error,
    summary: "a manifest or spec that is not valid YAML",
    flags: "A file that the YAML parser rejects: bad indentation, tabs used for indentation, an \
unclosed bracket or quote, a document that is not UTF-8 text, a file larger than 8 MiB, or \
aliases that expand past the parser's safety budget. Values of the file that look like \
credentials, by their key, by the `name:` of their list item or by their shape, are masked in \
the excerpt.",
    why: "Nothing else can be checked in a file that does not parse, and `gcloud run services \
replace` would refuse it at deploy time, after the release has started.",
    example: "containers:\n- name: app\n  image: %APP_IMAGE%      # `%` cannot start a plain YAML \
        value",
    fix: "Fix the file at the line and column shown. Quote values that start with a YAML \
indicator character:\n  image: \"%APP_IMAGE%\"",
};

/// The finding for a file that failed to parse.
pub fn diagnostic(file: FileId, err: &SyntaxError) -> Diagnostic {
    Diagnostic::new(&RULE, format!("invalid YAML: {}", err.message)).at(file, err.span, "here")
}

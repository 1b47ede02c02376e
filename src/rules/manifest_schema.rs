//! `manifest-schema`: a manifest that parses but does not follow the `secrets.yaml` schema.
//!
//! The checks themselves live in the manifest reader, which reports them while reading.

use super::Rule;
use crate::diagnostic::Severity;

pub static RULE: Rule = Rule {
    code: "manifest-schema",
    severity: Severity::Error,
    summary: "unknown key, wrong type, missing field or unsupported version in the manifest",
    flags: "A manifest with an unknown or misspelt key, a value of the wrong type, a missing \
required field (`version`, `environments`, `services`, an environment's `project` or `region`, \
a service's `spec`, an entry's `secret`), an unsupported `version`, an empty file, a \
per-environment map without an entry for an environment the service is deployed to, or an \
unknown `{placeholder}`.",
    why: "A misspelt key is silently ignored by most YAML tools, so a policy or a mapping that \
was meant to apply would not. secretgate treats every unknown key as an error so that what the \
file says is what is checked.",
    example: "services:\n  api:\n    spec: deploy/{env}/api.yaml\n    secrest:          # \
        misspelt\n      JWT_SECRET_KEY: {secret: jwt-key}",
    fix: "Use the key the hint suggests (`secrets`), or see `secretgate schema` for every key and \
its type.",
};

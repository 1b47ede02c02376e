//! The rule registry: every check secretgate runs, one file per rule.
//!
//! A rule has a stable kebab-case code, a default severity and a documentation text that
//! `secretgate explain CODE` prints. Rules come in three scopes: manifest rules see the manifest
//! alone, environment rules see one environment's expansion, spec rules see one service's spec
//! next to what the manifest declares for it.

pub mod accessor_missing;
pub mod alias_unresolved;
pub mod duplicate_target;
pub mod invalid_env_name;
pub mod invalid_mount_path;
pub mod invalid_secret_id;
pub mod invalid_version;
pub mod latest_unusable;
pub mod manifest_schema;
pub mod mapping_conflict;
pub mod not_a_cloud_run_service;
pub mod plaintext_secret;
pub mod reserved_env_name;
pub mod rotation_overdue;
pub mod secret_expiring;
pub mod secret_not_found;
pub mod secret_value_in_manifest;
pub mod service_not_found;
pub mod snapshot_stale;
pub mod spec_not_found;
pub mod undeclared_secret;
pub mod unknown_container;
pub mod unknown_environment;
pub mod unmapped_secret;
pub mod unpinned_version;
pub mod verification_incomplete;
pub mod version_destroyed;
pub mod version_disabled;
pub mod version_not_found;
pub mod version_too_old;
pub mod yaml_syntax;

use crate::diagnostic::{Diagnostic, Severity};
use crate::manifest::{Environment, Manifest};
use crate::resolve::Deployment;
use crate::spec::{ServiceSpec, SpecMapping};

/// A rule's identity and documentation.
#[derive(Debug)]
pub struct Rule {
    /// Stable kebab-case code, part of the public interface.
    pub code: &'static str,
    pub severity: Severity,
    /// One line for `secretgate rules`.
    pub summary: &'static str,
    /// What the rule flags.
    pub flags: &'static str,
    /// Why it matters.
    pub why: &'static str,
    /// An input that triggers it.
    pub example: &'static str,
    /// What to write instead.
    pub fix: &'static str,
}

impl Rule {
    /// The text `secretgate explain` prints.
    pub fn explain(&self) -> String {
        format!(
            "{code} ({severity}): {summary}\n\n\
             What it flags\n{flags}\n\n\
             Why it matters\n{why}\n\n\
             Example\n{example}\n\n\
             Instead\n{fix}\n",
            code = self.code,
            severity = self.severity.as_str(),
            summary = self.summary,
            flags = indent(self.flags),
            why = indent(self.why),
            example = indent(self.example),
            fix = indent(self.fix),
        )
    }
}

fn indent(text: &str) -> String {
    text.lines()
        .map(|l| if l.is_empty() { String::new() } else { format!("    {l}") })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every rule, in the order `secretgate rules` lists them.
pub static ALL: &[&Rule] = &[
    &yaml_syntax::RULE,
    &manifest_schema::RULE,
    &unknown_environment::RULE,
    &invalid_secret_id::RULE,
    &secret_value_in_manifest::RULE,
    &invalid_env_name::RULE,
    &reserved_env_name::RULE,
    &invalid_version::RULE,
    &invalid_mount_path::RULE,
    &duplicate_target::RULE,
    &unpinned_version::RULE,
    &spec_not_found::RULE,
    &not_a_cloud_run_service::RULE,
    &unknown_container::RULE,
    &plaintext_secret::RULE,
    &mapping_conflict::RULE,
    &alias_unresolved::RULE,
    &undeclared_secret::RULE,
    &secret_not_found::RULE,
    &version_not_found::RULE,
    &version_disabled::RULE,
    &version_destroyed::RULE,
    &latest_unusable::RULE,
    &secret_expiring::RULE,
    &rotation_overdue::RULE,
    &version_too_old::RULE,
    &accessor_missing::RULE,
    &verification_incomplete::RULE,
    &snapshot_stale::RULE,
    &unmapped_secret::RULE,
    &service_not_found::RULE,
];

/// Looks a rule up by its code.
pub fn find(code: &str) -> Option<&'static Rule> {
    ALL.iter().copied().find(|r| r.code == code)
}

/// Runs the rules that need only the manifest.
pub fn check_manifest(manifest: &Manifest, out: &mut Vec<Diagnostic>) {
    unknown_environment::check(manifest, out);
    secret_value_in_manifest::check(manifest, out);
    invalid_env_name::check(manifest, out);
    reserved_env_name::check_manifest(manifest, out);
    invalid_version::check_manifest(manifest, out);
    invalid_mount_path::check_manifest(manifest, out);
    duplicate_target::check_manifest(manifest, out);
}

/// Runs the rules that look at one environment's expansion.
pub fn check_environment(
    manifest: &Manifest,
    env: &Environment,
    deployments: &[Deployment],
    out: &mut Vec<Diagnostic>,
) {
    unpinned_version::check(manifest, env, deployments, out);
    invalid_mount_path::check_environment(manifest, deployments, out);
}

/// One service's spec beside what the manifest declares for it in one environment.
pub struct SpecContext<'a> {
    pub manifest: &'a Manifest,
    pub deployment: &'a Deployment<'a>,
    pub spec: &'a ServiceSpec,
    /// The container that receives the declared secrets, when it can be told.
    pub container: Option<usize>,
    /// Every secret the spec maps, aliases resolved.
    pub mappings: Vec<SpecMapping>,
    /// For a service as deployed (`check --live`): the version number `latest` resolves to now,
    /// by target. A service deployed with `--pin-versions` carries these numbers where
    /// secrets.yaml says `latest`. Empty for spec files, which must say what secrets.yaml says.
    pub latest_now: std::collections::BTreeMap<String, u64>,
}

impl SpecContext<'_> {
    pub fn env_name(&self) -> &str {
        &self.deployment.env.name.value
    }

    pub fn project(&self) -> &str {
        self.deployment.env.project.as_ref().map_or("", |p| p.value.as_str())
    }

    pub fn service_name(&self) -> &str {
        &self.deployment.service.name.value
    }

    /// A finding in this spec, with the environment and service filled in.
    pub fn diagnostic(&self, rule: &Rule, message: impl Into<String>) -> Diagnostic {
        Diagnostic::new(rule, message).env(Some(self.env_name())).service(Some(self.service_name()))
    }
}

/// Runs the rules that compare a spec with the manifest.
pub fn check_spec(ctx: &SpecContext, out: &mut Vec<Diagnostic>) {
    invalid_env_name::check_spec(ctx, out);
    reserved_env_name::check_spec(ctx, out);
    invalid_version::check_spec(ctx, out);
    invalid_mount_path::check_spec(ctx, out);
    duplicate_target::check_spec(ctx, out);
    plaintext_secret::check(ctx, out);
    alias_unresolved::check(ctx, out);
    mapping_conflict::check(ctx, out);
    undeclared_secret::check(ctx, out);
}

/// Runs the rules that compare one declared secret with Secret Manager's metadata.
pub fn check_secret(ctx: &crate::check::SecretContext, out: &mut Vec<Diagnostic>) {
    verification_incomplete::check(ctx, out);
    version_not_found::check(ctx, out);
    version_disabled::check(ctx, out);
    version_destroyed::check(ctx, out);
    latest_unusable::check(ctx, out);
    secret_expiring::check(ctx, out);
    rotation_overdue::check(ctx, out);
    version_too_old::check(ctx, out);
    accessor_missing::check(ctx, out);
}

/// Runs the rules that tell whether a secret a spec maps on its own (see
/// [`crate::references`]) resolves: its versions were read, and the one asked for exists and
/// is enabled. Its age, expiry and IAM policy are the business of whoever declares it.
pub fn check_spec_reference(ctx: &crate::check::SecretContext, out: &mut Vec<Diagnostic>) {
    verification_incomplete::check_versions(ctx, out);
    version_not_found::check(ctx, out);
    version_disabled::check(ctx, out);
    version_destroyed::check(ctx, out);
    latest_unusable::check(ctx, out);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_kebab_case_and_documented() {
        let mut seen = std::collections::HashSet::new();
        for rule in ALL {
            assert!(seen.insert(rule.code), "duplicate code {}", rule.code);
            let kebab = rule.code.bytes().all(|b| b.is_ascii_lowercase() || b == b'-');
            assert!(kebab && !rule.code.starts_with('-'), "{} is not kebab-case", rule.code);
            for (part, text) in [
                ("summary", rule.summary),
                ("flags", rule.flags),
                ("why", rule.why),
                ("example", rule.example),
                ("fix", rule.fix),
            ] {
                assert!(text.trim().len() > 10, "{} has no {part} text", rule.code);
            }
        }
    }

    /// A rule file whose rule is not in [`ALL`] would run without `secretgate rules`,
    /// `explain` or SARIF knowing its code.
    #[test]
    fn every_rule_file_is_registered_under_its_name() {
        let folder = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/rules");
        let mut files = Vec::new();
        for entry in std::fs::read_dir(&folder).expect("src/rules is readable") {
            let path = entry.expect("a directory entry").path();
            let stem = path.file_stem().and_then(|s| s.to_str()).expect("a UTF-8 file name");
            if stem != "mod" {
                files.push((stem.to_string(), stem.replace('_', "-")));
            }
        }
        for (stem, code) in &files {
            let rule = find(code).unwrap_or_else(|| panic!("no rule `{code}` ({stem}.rs) in ALL"));
            assert!(rule.explain().contains("Why it matters"), "{code} cannot be explained");
        }
        assert_eq!(files.len(), ALL.len(), "ALL lists a rule without a file of its own");
    }
}

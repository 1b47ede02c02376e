//! `unpinned-version`: `latest` in an environment whose policy requires pinned versions.

use super::Rule;
use crate::diagnostic::{Diagnostic, Severity, argument, quote};
use crate::manifest::{Environment, Manifest, Version};
use crate::resolve::Deployment;

pub static RULE: Rule = Rule {
    code: "unpinned-version",
    severity: Severity::Error,
    summary: "`latest` in an environment listed in `policy.pin_versions`",
    flags: "A secret whose version, for an environment listed in `policy.pin_versions`, is \
`latest`, written or by default.",
    why: "With `latest`, adding a secret version changes what the next revision (or the next \
started instance, for env vars) receives, without any deploy or review. A bad new version then \
breaks production by itself, and a rollback does not bring the old value back.",
    example: "policy:\n  pin_versions: [production]\nservices:\n  api:\n    secrets:\n      \
        DATABASE_PASSWORD: {secret: database-password}   # latest by default",
    fix: "DATABASE_PASSWORD:\n  secret: database-password\n  version: {staging: latest, \
        production: 4}",
};

pub fn check(
    manifest: &Manifest,
    env: &Environment,
    deployments: &[Deployment],
    out: &mut Vec<Diagnostic>,
) {
    let env_name = &env.name.value;
    let Some(pin) = manifest.policy.pin_versions.iter().find(|p| &p.value == env_name) else {
        return;
    };
    for deployment in deployments {
        for binding in &deployment.bindings {
            if binding.version != Some(Version::Latest) {
                continue;
            }
            let how = if binding.version_written { "uses" } else { "defaults to" };
            let message = format!(
                "{} {how} `latest` in {}, where versions must be pinned",
                quote(binding.target()),
                quote(env_name)
            );
            let label =
                if binding.version_written { "`latest` here" } else { "no `version`, so `latest`" };
            let d = Diagnostic::new(&RULE, message)
                .at(manifest.file, binding.version_span, label)
                .also(manifest.file, pin.span, "pinning required here")
                .help(format!(
                    "pin a version number for {}, such as `version: {{{}: 3}}`",
                    quote(env_name),
                    argument(env_name, "ENV")
                ))
                .env(Some(env_name))
                .service(Some(&deployment.service.name.value))
                .target(Some(binding.target()))
                .secret(binding.secret.as_ref().map(|s| s.secret.as_str()));
            out.push(d);
        }
    }
}

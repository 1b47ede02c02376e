//! `service-not-found`: the service does not exist yet in an environment.

use super::Rule;
use crate::diagnostic::{Diagnostic, Severity, quote};
use crate::resolve::Deployment;

pub static RULE: Rule = Rule {
    code: "service-not-found",
    severity: Severity::Warning,
    summary: "the service does not exist yet in that environment",
    flags: "With `check --live` or `audit --live`: a service that secrets.yaml declares for an \
environment but that Cloud Run does not have in the environment's project and region.",
    why: "Usually a new service or a new environment; also what a wrong project or region in \
secrets.yaml looks like.",
    example: "secretgate check --env production --live   # netra-auth was never deployed there",
    fix: "Deploy it with `secretgate deploy`, or check the environment's `project` and `region`.",
};

pub fn diagnostic(
    manifest_file: crate::source::FileId,
    deployment: &Deployment,
    region: &str,
) -> Diagnostic {
    let project = deployment.env.project.as_ref().map_or("", |p| p.value.as_str());
    let message = format!(
        "service {} does not exist in project {}, region {}",
        quote(&deployment.service.name.value),
        quote(project),
        quote(region)
    );
    Diagnostic::new(&RULE, message)
        .at(manifest_file, deployment.service.name.span, "not deployed yet")
        .help("deploy it with `secretgate deploy`, or check the environment's project and region")
        .env(Some(&deployment.env.name.value))
        .service(Some(&deployment.service.name.value))
}

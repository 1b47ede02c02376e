//! `secret-not-found`: a declared secret that does not exist in Secret Manager.

use super::Rule;
use crate::diagnostic::{Diagnostic, Severity, argument, quote};
use crate::references::Reference;
use crate::resolve::Deployment;

pub static RULE: Rule = Rule {
    code: "secret-not-found",
    severity: Severity::Error,
    summary: "a declared secret, or one a spec maps on its own, does not exist in its project",
    flags: "A secret that secrets.yaml declares for an environment, or that a service's spec \
maps on its own (a sidecar's, say), but that the environment's project (or the project of a \
full `projects/P/secrets/S` name) does not have.",
    why: "Cloud Run cannot start a revision that maps a missing secret: the deploy looks \
successful, then the new revision never becomes ready, or the service answers errors.",
    example: "JWT_SECRET_KEY:\n  secret: jwt-secret-key      # never created in netra-staging",
    fix: "Create the secret in the right project (`gcloud secrets create jwt-secret-key \
--project netra-staging --data-file=-`), or fix the name in secrets.yaml.",
};

pub fn diagnostic(deployment: &Deployment, reference: &Reference) -> Diagnostic {
    let secret = &reference.secret;
    let message = format!(
        "secret {} does not exist in project {} (for {})",
        quote(&secret.secret),
        quote(&secret.project),
        quote(&reference.target)
    );
    reference
        .diagnostic(deployment, &RULE, message, (reference.secret_span, "no such secret"))
        .help(format!(
            "create it: gcloud secrets create {} --project {} --data-file=-",
            argument(&secret.secret, "SECRET_ID"),
            argument(&secret.project, "PROJECT")
        ))
}

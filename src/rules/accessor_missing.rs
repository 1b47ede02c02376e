//! `accessor-missing`: the runtime service account is not granted access on the secret.

use super::Rule;
use crate::check::SecretContext;
use crate::diagnostic::{Diagnostic, Severity, argument, quote, shown};

pub static RULE: Rule = Rule {
    code: "accessor-missing",
    severity: Severity::Warning,
    summary: "the secret's IAM policy does not let the runtime service account read it",
    flags: "A secret whose own IAM policy grants `roles/secretmanager.secretAccessor` (or \
`roles/secretmanager.admin` or `roles/owner`, which include it) neither to the service's runtime \
service account nor to `allAuthenticatedUsers`/`allUsers`. The account is the one the service \
runs as once deployed: the spec's `serviceAccountName`, which `render` keeps, else the one \
secrets.yaml gives (the service's `service_account`, else the environment's); without one, or \
with `--no-iam`, nothing is checked. A warning only: a grant on the project or folder, or \
through a group, is not visible on the secret.",
    why: "Without access the revision fails to start with a permission error on the secret, \
which is the most common reason a correctly mapped secret still breaks a deploy.",
    example: "service_account: backend@netra-staging.iam.gserviceaccount.com\n# jwt-secret-key's \
        policy grants secretAccessor only to deployer@...",
    fix: "gcloud secrets add-iam-policy-binding jwt-secret-key \\\n  --member \
        serviceAccount:backend@netra-staging.iam.gserviceaccount.com \\\n  --role \
        roles/secretmanager.secretAccessor",
};

/// Roles that include `secretmanager.versions.access`.
const GRANTING: &[&str] =
    &["roles/secretmanager.secretAccessor", "roles/secretmanager.admin", "roles/owner"];

pub fn check(ctx: &SecretContext, out: &mut Vec<Diagnostic>) {
    let Some(account) = ctx.runtime_account() else { return };
    let Some(Ok(bindings)) = &ctx.info.iam else { return };
    let member = format!("serviceAccount:{account}");
    let covered = bindings.iter().filter(|(role, _)| GRANTING.contains(&role.as_str())).any(
        |(_, members)| {
            members.iter().any(|m| m == &member || m == "allAuthenticatedUsers" || m == "allUsers")
        },
    );
    if covered {
        return;
    }
    let message = format!(
        "the IAM policy of secret {} does not grant secretAccessor to {}; a project-level or \
        group grant would not show here",
        quote(&ctx.secret().secret),
        shown(account)
    );
    let d = ctx.at_secret(&RULE, message, "no accessor grant on this secret").help(format!(
        "gcloud secrets add-iam-policy-binding {} --project {} --member serviceAccount:{} \
        --role roles/secretmanager.secretAccessor",
        argument(&ctx.secret().secret, "SECRET_ID"),
        argument(&ctx.secret().project, "PROJECT"),
        argument(account, "ACCOUNT")
    ));
    out.push(d);
}

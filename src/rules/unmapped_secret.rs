//! `unmapped-secret`: the live service does not map a required declared secret.

use super::{Rule, SpecContext};
use crate::diagnostic::{Diagnostic, Severity, quote};
use crate::spec::normalize_path;

pub static RULE: Rule = Rule {
    code: "unmapped-secret",
    severity: Severity::Error,
    summary: "the live service does not map a required declared secret",
    flags: "With `check --live` or `audit --live`: a required secret that secrets.yaml declares \
for the service, but that the service as deployed now does not map into its container.",
    why: "Someone deployed by hand (`gcloud run deploy` or the console) and the mapping was \
dropped. The running revision may still work until the next instance starts without it.",
    example: "gcloud run services update netra-backend --clear-secrets   # drops every mapping",
    fix: "Redeploy with `secretgate deploy --env ENV --service NAME`, which maps every declared \
secret again.",
};

pub fn check(ctx: &SpecContext, out: &mut Vec<Diagnostic>) {
    let Some(container) = ctx.container else { return };
    for binding in ctx.deployment.bindings.iter().filter(|b| b.required) {
        let target = if binding.entry.is_file() {
            normalize_path(binding.target())
        } else {
            binding.target().to_string()
        };
        let mapped = ctx.mappings.iter().any(|m| m.container == container && m.target == target);
        if mapped {
            continue;
        }
        let message = format!(
            "the live service {} does not map {}",
            quote(ctx.service_name()),
            quote(binding.target())
        );
        let d = ctx
            .diagnostic(&RULE, message)
            .at(ctx.manifest.file, binding.entry.target.span, "declared here, missing live")
            .help("redeploy with `secretgate deploy`, which maps every declared secret")
            .target(Some(binding.target()))
            .secret(binding.secret.as_ref().map(|s| s.secret.as_str()));
        out.push(d);
    }
}

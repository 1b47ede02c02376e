//! `reserved-env-name`: an env var that Cloud Run sets itself.

use super::{Rule, SpecContext};
use crate::diagnostic::{Diagnostic, Severity, quote};
use crate::manifest::Manifest;

pub static RULE: Rule = Rule {
    code: "reserved-env-name",
    severity: Severity::Error,
    summary: "`PORT`, `K_SERVICE`, `K_REVISION` or `K_CONFIGURATION` in the manifest or a spec",
    flags: "A manifest entry or a spec env var named `PORT`, `K_SERVICE`, `K_REVISION` or \
`K_CONFIGURATION`.",
    why: "Cloud Run sets these variables for every container and rejects a revision that sets \
them, so the deploy fails. `PORT` in particular is a habit from other platforms: the port comes \
from `containerPort`.",
    example: "env:\n- name: PORT\n  value: \"8080\"",
    fix: "Remove the env var; set the port with `ports: [{containerPort: 8080}]` and read `PORT` \
in the application.",
};

/// The env var names Cloud Run reserves.
pub const RESERVED: &[&str] = &["PORT", "K_SERVICE", "K_REVISION", "K_CONFIGURATION"];

pub fn check_manifest(manifest: &Manifest, out: &mut Vec<Diagnostic>) {
    for service in &manifest.services {
        for entry in &service.secrets {
            let name = &entry.target.value;
            if !RESERVED.contains(&name.as_str()) {
                continue;
            }
            let d = Diagnostic::new(&RULE, format!("{} is reserved by Cloud Run", quote(name)))
                .at(manifest.file, entry.target.span, "reserved env var")
                .help("Cloud Run sets this variable itself; map the secret to another name")
                .service(Some(&service.name.value))
                .target(Some(name));
            out.push(d);
        }
    }
}

pub fn check_spec(ctx: &SpecContext, out: &mut Vec<Diagnostic>) {
    for (index, container) in ctx.spec.containers.iter().enumerate() {
        for var in &container.env {
            let name = &var.name.value;
            if !RESERVED.contains(&name.as_str()) {
                continue;
            }
            let message = format!(
                "{} sets {}, which Cloud Run reserves",
                container.label(index),
                quote(name)
            );
            let help = if name == "PORT" {
                "remove it; Cloud Run sets PORT from `ports[].containerPort`"
            } else {
                "remove it; Cloud Run sets this variable itself"
            };
            let d = ctx
                .diagnostic(&RULE, message)
                .at(ctx.spec.file, var.name.span, "reserved env var")
                .help(help)
                .target(Some(name));
            out.push(d);
        }
    }
}

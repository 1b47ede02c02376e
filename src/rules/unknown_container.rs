//! `unknown-container`: the container that should receive the secrets cannot be found.

use super::Rule;
use crate::diagnostic::{Diagnostic, Severity, quote, shown};
use crate::manifest::{Manifest, Service};
use crate::spec::ServiceSpec;
use crate::suggest::help_for_unknown;

pub static RULE: Rule = Rule {
    code: "unknown-container",
    severity: Severity::Error,
    summary: "the manifest names a container the spec lacks, or cannot tell which is meant",
    flags: "A service whose `container:` names no container of its spec, or that leaves \
`container:` out while its spec has several containers and not exactly one declares a port.",
    why: "Secrets mapped into the wrong container are invisible to the application: a sidecar \
gets the database password and the application starts without it.",
    example: "services:\n  api:\n    container: backend     # the spec's containers are `app` and \
        `collector`",
    fix: "services:\n  api:\n    container: app",
};

/// The index of the container that receives the declared secrets.
pub fn select(
    manifest: &Manifest,
    service: &Service,
    spec: &ServiceSpec,
) -> Result<usize, Box<Diagnostic>> {
    let names: Vec<&str> =
        spec.containers.iter().filter_map(|c| c.name.as_ref()).map(|n| n.value.as_str()).collect();
    if let Some(wanted) = &service.container {
        let found = spec
            .containers
            .iter()
            .position(|c| c.name.as_ref().is_some_and(|n| n.value == wanted.value));
        return found.ok_or_else(|| {
            let help = if names.is_empty() {
                "the spec's containers have no names; name the container in the spec".to_string()
            } else {
                help_for_unknown(&wanted.value, &names, "the spec's containers")
            };
            let message = format!("the spec has no container {}", quote(&wanted.value));
            let d = Diagnostic::new(&RULE, message)
                .at(manifest.file, wanted.span, "no such container in the spec")
                .help(help);
            Box::new(d)
        });
    }
    let with_port: Vec<usize> =
        (0..spec.containers.len()).filter(|i| spec.containers[*i].declares_port).collect();
    match (spec.containers.len(), with_port.as_slice()) {
        (1, _) => Ok(0),
        (_, [only]) => Ok(*only),
        (0, _) => Err(Box::new(Diagnostic::new(&RULE, "the spec has no containers")
            .at(spec.file, spec.root.span, "no containers")
            .help("a Cloud Run service needs `spec.template.spec.containers`"))),
        (n, _) => Err(Box::new(Diagnostic::new(
            &RULE,
            format!(
                "the spec has {n} containers and the manifest does not say which gets the secrets"
            ),
        )
        .at(manifest.file, service.name.span, "add `container:` to this service")
        .help(format!("set `container:` to one of: {}", listed(&names))))),
    }
}

/// Container names for a help, each as [`shown`] writes it.
fn listed(names: &[&str]) -> String {
    names.iter().map(|n| shown(n)).collect::<Vec<_>>().join(", ")
}

//! The secret references a service's rendered spec will carry: the manifest's entries, and the
//! mappings its spec already has that no entry accounts for (a sidecar's secret, a variable
//! set by hand). Cloud Run resolves all of them when a revision starts, so `check` and the
//! deploy gate verify all of them, whether the manifest declares them or not.

use crate::diagnostic::Diagnostic;
use crate::lint::Project;
use crate::manifest::{Manifest, Version};
use crate::resolve::{Binding, Deployment};
use crate::rules::mapping_conflict::{self, TargetKey};
use crate::rules::{Rule, unknown_container};
use crate::source::FileId;
use crate::spec::{SecretName, ServiceSpec, SpecMapping};
use crate::yaml::Span;
use std::collections::HashSet;

/// One secret a service asks for, and where that is written.
#[derive(Clone, Debug)]
pub struct Reference {
    /// The file findings point into: the manifest for an entry, the spec for its own mapping.
    pub file: FileId,
    /// The env var name or file path.
    pub target: String,
    pub secret: SecretName,
    pub version: Version,
    pub secret_span: Span,
    /// Where the version is written, or the entry or mapping when it is left to the default.
    pub version_span: Span,
    /// Errors about an optional entry are only warnings. A spec's own mapping is required:
    /// nothing says the service can start without it.
    pub required: bool,
    /// The spec maps it and the manifest does not declare it.
    pub spec_only: bool,
}

impl Reference {
    /// A manifest entry; `None` when its name or version is invalid (already reported).
    pub fn entry(manifest: &Manifest, binding: &Binding) -> Option<Reference> {
        Some(Reference {
            file: manifest.file,
            target: binding.target().to_string(),
            secret: binding.secret.clone()?,
            version: binding.version.clone()?,
            secret_span: binding.secret_span,
            version_span: binding.version_span,
            required: binding.required,
            spec_only: false,
        })
    }

    /// A spec's own mapping; `None` when its name or version is invalid (`alias-unresolved`
    /// and `invalid-version` report it).
    fn mapping(spec: &ServiceSpec, mapping: &SpecMapping) -> Option<Reference> {
        Some(Reference {
            file: spec.file,
            target: mapping.target.clone(),
            secret: mapping.secret.clone()?,
            version: mapping.version()?,
            secret_span: mapping.raw_name.span,
            version_span: mapping.key.as_ref().map_or(mapping.span, |k| k.span),
            required: true,
            spec_only: true,
        })
    }

    /// A finding about this reference of `deployment`, at `span`, with its context filled in.
    /// A spec's own mapping says so, since the manifest does not show it.
    pub fn diagnostic(
        &self,
        deployment: &Deployment,
        rule: &Rule,
        message: impl Into<String>,
        (span, label): (Span, &str),
    ) -> Diagnostic {
        let mut message = message.into();
        if self.spec_only {
            message.push_str("; the spec maps it and secrets.yaml does not declare it");
        }
        Diagnostic::new(rule, message)
            .at(self.file, span, label)
            .env(Some(&deployment.env.name.value))
            .service(Some(&deployment.service.name.value))
            .target(Some(&self.target))
            .secret(Some(&self.secret.secret))
    }
}

/// Every secret reference of a deployment: its entries, then its spec's own mappings.
pub fn of_deployment(
    project: &mut Project,
    manifest: &Manifest,
    deployment: &Deployment,
) -> Vec<Reference> {
    let entries = deployment.bindings.iter().filter_map(|b| Reference::entry(manifest, b));
    let mut references: Vec<Reference> = entries.collect();
    references.extend(spec_only(project, manifest, deployment));
    references
}

/// The mappings of a deployment's spec that no entry accounts for, in any container. Left out:
/// the entries' own mappings in the target container (which `render` keeps or adds, and
/// `mapping-conflict` compares), and mappings of the same secret and version as a required
/// entry, whose check answers for them. A spec that cannot be read has none; `lint` reported
/// why.
pub fn spec_only(
    project: &mut Project,
    manifest: &Manifest,
    deployment: &Deployment,
) -> Vec<Reference> {
    let Some(spec) = project.spec_for(deployment, manifest.file) else { return Vec::new() };
    let container = unknown_container::select(manifest, deployment.service, spec).ok();
    let gcp = deployment.env.project.as_ref().map_or("", |p| p.value.as_str());
    let mappings = spec.mappings(gcp);
    let declared: HashSet<TargetKey> =
        deployment.bindings.iter().map(mapping_conflict::binding_key).collect();
    let own = |m: &SpecMapping| {
        container == Some(m.container) && declared.contains(&(m.is_file, m.target.clone()))
    };
    let covered = |r: &Reference| {
        deployment.bindings.iter().any(|b| {
            b.required
                && b.version.as_ref() == Some(&r.version)
                && b.secret.as_ref().is_some_and(|s| mapping_conflict::same_secret(s, &r.secret))
        })
    };
    let references = mappings.iter().filter(|m| !own(m));
    references.filter_map(|m| Reference::mapping(spec, m)).filter(|r| !covered(r)).collect()
}

//! Expands the manifest for one environment: templates filled in, per-environment maps picked,
//! versions parsed. Every later step (lint's spec rules, check, deploy) works on this view.

use crate::diagnostic::Diagnostic;
use crate::manifest::template::{self, Vars};
use crate::manifest::{Environment, Manifest, PerEnv, SecretEntry, Service, Sp, Version};
use crate::rules::{invalid_secret_id, manifest_schema, secret_value_in_manifest};
use crate::spec::SecretName;
use crate::yaml::Span;

/// How to write a valid secret name.
const ID_HELP: &str = "a secret id is 1 to 255 letters, digits, `-` or `_`; another project's \
                       secret is `projects/PROJECT/secrets/ID`";

/// One service as it would be deployed to one environment.
#[derive(Clone, Debug)]
pub struct Deployment<'m> {
    pub env: &'m Environment,
    pub service: &'m Service,
    /// The spec path after expansion, relative to the manifest's folder.
    pub spec_path: Option<Sp<String>>,
    /// The runtime identity secrets.yaml gives: the service's, else the environment's. A spec's
    /// own `serviceAccountName` wins over it (see [`crate::lint::Project::runtime_account`]).
    pub service_account: Option<Sp<String>>,
    pub bindings: Vec<Binding<'m>>,
}

/// One declared secret mapping, resolved for an environment.
#[derive(Clone, Debug)]
pub struct Binding<'m> {
    pub entry: &'m SecretEntry,
    /// `None` when the name is invalid or missing (already reported).
    pub secret: Option<SecretName>,
    /// Where the secret name is written.
    pub secret_span: Span,
    /// `None` when the version is not valid (reported by `invalid-version`).
    pub version: Option<Version>,
    /// Where the version is written, or the entry's key when the default applies.
    pub version_span: Span,
    /// Whether the version was written (rather than defaulting to `latest`).
    pub version_written: bool,
    pub required: bool,
}

impl Binding<'_> {
    pub fn target(&self) -> &str {
        &self.entry.target.value
    }
}

/// Resolves every service of `env`, in manifest order, reporting expansion problems.
pub fn resolve<'m>(
    manifest: &'m Manifest,
    env: &'m Environment,
    out: &mut Vec<Diagnostic>,
) -> Vec<Deployment<'m>> {
    let services = manifest.services.iter().filter(|s| manifest.service_in_env(s, &env.name.value));
    services.map(|service| Resolver { manifest, env, service, out }.deployment()).collect()
}

struct Resolver<'m, 'o> {
    manifest: &'m Manifest,
    env: &'m Environment,
    service: &'m Service,
    out: &'o mut Vec<Diagnostic>,
}

impl<'m> Resolver<'m, '_> {
    fn deployment(mut self) -> Deployment<'m> {
        let spec_path = self.service.spec.as_ref().and_then(|s| self.expand(s, "spec"));
        let service_account = match &self.service.service_account {
            Some(sa) => self.pick(sa, "service_account").cloned(),
            None => self.env.service_account.clone(),
        };
        let bindings = self.service.secrets.iter().map(|e| self.binding(e)).collect();
        Deployment { env: self.env, service: self.service, spec_path, service_account, bindings }
    }

    fn vars(&self) -> Vars<'m> {
        let text = |v: &'m Option<Sp<String>>| v.as_ref().map_or("", |s| s.value.as_str());
        Vars {
            env: &self.env.name.value,
            project: text(&self.env.project),
            region: text(&self.env.region),
            service: &self.service.name.value,
        }
    }

    /// The value for this environment; a per-environment map without it is an error.
    fn pick<'v>(&mut self, value: &'v PerEnv<String>, key: &str) -> Option<&'v Sp<String>> {
        let env = &self.env.name.value;
        let found = value.for_env(env);
        if found.is_none() {
            let message = format!(
                "`{key}` of service `{}` has no entry for environment `{env}`",
                self.service.name.value
            );
            let d = Diagnostic::new(&manifest_schema::RULE, message)
                .at(self.manifest.file, value.span(), format!("no `{env}` here"))
                .help(format!(
                    "add `{env}: ...` to the map, or give one value for every environment"
                ))
                .env(Some(env))
                .service(Some(&self.service.name.value));
            self.out.push(d);
        }
        found
    }

    fn expand(&mut self, value: &PerEnv<String>, key: &str) -> Option<Sp<String>> {
        let written = self.pick(value, key)?;
        match template::expand(&written.value, &self.vars()) {
            Ok(text) => Some(Sp::new(text, written.span)),
            Err(unknown) => {
                // A credential pasted between braces must not be echoed by the message.
                let shown =
                    crate::rules::secret_value_in_manifest::looks_like_credential(&unknown.name)
                        .map_or_else(
                            || format!("`{{{}}}`", unknown.name),
                            |kind| format!("({kind})"),
                        );
                let message = format!("unknown placeholder {shown} in `{key}`");
                let hint = crate::suggest::did_you_mean(
                    &unknown.name,
                    template::PLACEHOLDERS.iter().copied(),
                );
                let help = match hint {
                    Some(h) => format!("did you mean `{{{h}}}`?"),
                    None => "placeholders are {env}, {project}, {region} and {service}".to_string(),
                };
                let d = Diagnostic::new(&manifest_schema::RULE, message)
                    .at(
                        self.manifest.file,
                        placeholder_span(written, &unknown),
                        "unknown placeholder",
                    )
                    .help(help)
                    .service(Some(&self.service.name.value));
                self.out.push(d);
                None
            }
        }
    }

    fn binding(&mut self, entry: &'m SecretEntry) -> Binding<'m> {
        let secret_span = entry.secret.as_ref().map_or(entry.target.span, PerEnv::span);
        let secret = entry.secret.as_ref().and_then(|s| self.expand(s, "secret"));
        let secret = secret.and_then(|name| self.secret_name(entry, &name));
        let (version, version_span, version_written) = match &entry.version {
            None => (Some(Version::Latest), entry.target.span, false),
            Some(v) => match self.pick(v, "version") {
                Some(sp) => (Version::parse(&sp.value), sp.span, true),
                None => (None, v.span(), true),
            },
        };
        let required = self.manifest.is_required(entry);
        Binding { entry, secret, secret_span, version, version_span, version_written, required }
    }

    fn secret_name(&mut self, entry: &SecretEntry, name: &Sp<String>) -> Option<SecretName> {
        // A credential pasted as a name is reported, hidden, by `secret-value-in-manifest`.
        if secret_value_in_manifest::looks_like_credential(&name.value).is_some() {
            return None;
        }
        let project = self.vars().project;
        match invalid_secret_id::parse(&name.value, project) {
            Ok(parsed) => Some(parsed),
            Err(reason) => {
                let d = Diagnostic::new(&invalid_secret_id::RULE, reason)
                    .at(self.manifest.file, name.span, "not a valid secret name")
                    .help(ID_HELP)
                    .env(Some(&self.env.name.value))
                    .service(Some(&self.service.name.value))
                    .target(Some(&entry.target.value))
                    .secret(Some(&name.value))
                    .hide_unless_shown(self.manifest.file, name.span, &name.value);
                self.out.push(d);
                None
            }
        }
    }
}

/// The span of an unknown placeholder inside a written value. A quoted value starts one
/// character after its span; a value with escapes falls back to the whole value.
fn placeholder_span(written: &Sp<String>, unknown: &template::UnknownPlaceholder) -> Span {
    let quoted = written.span.len == written.value.len() + 2;
    if written.span.len != written.value.len() && !quoted {
        return written.span;
    }
    let shift = unknown.offset + usize::from(quoted);
    Span {
        offset: written.span.offset + shift,
        len: unknown.name.len() + 2,
        line: written.span.line,
        column: written.span.column
            + written.value[..unknown.offset].chars().count()
            + usize::from(quoted),
    }
}

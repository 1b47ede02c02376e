//! The offline checks: the manifest alone, each environment's expansion, and each service spec
//! beside what the manifest declares for it.

use crate::diagnostic::Diagnostic;
use crate::error::Error;
use crate::manifest::{self, Manifest, Sp};
use crate::resolve::{self, Deployment};
use crate::rules::{self, SpecContext, spec_not_found, unknown_container, yaml_syntax};
use crate::source::{self, FileId, Sources, display_path};
use crate::spec::{self, ServiceSpec};
use crate::suggest::refuse_unknown;
use crate::yaml;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// A manifest and the files it refers to, read from disk.
pub struct Project {
    /// The folder holding the manifest; spec paths are relative to it.
    pub root: PathBuf,
    pub sources: Sources,
    /// `None` when the manifest is not valid YAML or not a mapping.
    pub manifest: Option<Manifest>,
    /// Findings made while reading.
    pub diagnostics: Vec<Diagnostic>,
    /// Specs already read, by path on disk; `None` when unreadable or invalid.
    specs: HashMap<PathBuf, Option<ServiceSpec>>,
}

impl Project {
    /// Reads and parses the manifest. A file that cannot be read at all is an [`Error`]; a file
    /// with bad content gives findings.
    pub fn load(path: &Path) -> Result<Project, Error> {
        let bytes = source::read_input(path, yaml::MAX_FILE_BYTES)
            .map_err(|source| Error::Unreadable { path: path.to_path_buf(), source })?;
        let root = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let mut sources = Sources::default();
        let file = sources.add(display_path(&root, path), path.to_path_buf(), &bytes);
        let mut diagnostics = Vec::new();
        let manifest = match yaml::parse(&bytes) {
            Ok(tree) => manifest::read(file, &sources.get(file).text, &tree, &mut diagnostics),
            Err(err) => {
                diagnostics.push(yaml_syntax::diagnostic(file, &err));
                None
            }
        };
        Ok(Project { root, sources, manifest, diagnostics, specs: HashMap::new() })
    }

    /// Checks that every name in `wanted` is an environment of the manifest.
    pub fn select_environments(&self, wanted: &[String]) -> Result<Vec<String>, Error> {
        let Some(manifest) = &self.manifest else { return Ok(Vec::new()) };
        let defined: Vec<&str> =
            manifest.environments.iter().map(|e| e.name.value.as_str()).collect();
        if wanted.is_empty() {
            return Ok(defined.iter().map(|s| s.to_string()).collect());
        }
        let unknown = |name: &str| format!("unknown environment `{name}`");
        refuse_unknown(wanted, &defined, unknown, "the manifest defines")?;
        Ok(wanted.to_vec())
    }

    /// Reads a spec once, reporting why it cannot be used. Only a file inside the manifest's
    /// folder is read.
    fn spec(&mut self, relative: &str) -> Result<Option<&ServiceSpec>, std::io::Error> {
        let path = self.root.join(relative);
        if !self.specs.contains_key(&path) {
            let bytes = source::read_inside(&self.root, &path, yaml::MAX_FILE_BYTES)?;
            let file = self.sources.add(display_path(&self.root, &path), path.clone(), &bytes);
            let parsed = match yaml::parse(&bytes) {
                Ok(tree) => spec::read(file, tree, &mut self.diagnostics),
                Err(err) => {
                    self.diagnostics.push(yaml_syntax::diagnostic(file, &err));
                    None
                }
            };
            self.specs.insert(path.clone(), parsed);
        }
        Ok(self.specs[&path].as_ref())
    }

    /// Reads a live service (JSON, as the API answered it) as a spec, under a display name
    /// such as `cloud-run:PROJECT/REGION/NAME`, so that findings point into it.
    pub fn live_spec(
        &mut self,
        display: String,
        service: &serde_json::Value,
    ) -> Option<&ServiceSpec> {
        let text = serde_json::to_string_pretty(service).unwrap_or_default();
        let path = PathBuf::from(&display);
        let file = self.sources.add(display, path.clone(), text.as_bytes());
        let parsed = match yaml::parse(text.as_bytes()) {
            Ok(tree) => spec::read(file, tree, &mut self.diagnostics),
            Err(err) => {
                self.diagnostics.push(yaml_syntax::diagnostic(file, &err));
                None
            }
        };
        self.specs.insert(path.clone(), parsed);
        self.specs[&path].as_ref()
    }

    /// The spec of a deployment, if it exists and is a Cloud Run service.
    pub fn spec_for(
        &mut self,
        deployment: &Deployment,
        manifest_file: FileId,
    ) -> Option<&ServiceSpec> {
        let path = deployment.spec_path.as_ref()?;
        if let Err(err) = self.spec(&path.value) {
            let d = unreadable_spec(deployment, path, manifest_file, &err);
            self.diagnostics.push(d);
            return None;
        }
        self.specs[&self.root.join(&path.value)].as_ref()
    }
}

/// The `spec-not-found` finding for a spec that cannot be read.
fn unreadable_spec(
    deployment: &Deployment,
    path: &Sp<String>,
    manifest_file: FileId,
    err: &std::io::Error,
) -> Diagnostic {
    let env = &deployment.env.name.value;
    let message = format!("spec `{}` cannot be read: {err}", path.value);
    let (label, help) = if source::is_outside(err) {
        let help = "keep the service specs in the manifest's folder or below it, as files \
                    rather than links that lead out of it";
        (format!("outside the manifest's folder for `{env}`"), help)
    } else {
        let help = "export the service with `gcloud run services describe NAME --format \
                    export`, fix the path, or narrow the service's `environments`";
        let missing = err.kind() == std::io::ErrorKind::NotFound;
        (format!("{} for `{env}`", if missing { "no such file" } else { "unreadable" }), help)
    };
    Diagnostic::new(&spec_not_found::RULE, message)
        .at(manifest_file, path.span, label)
        .help(help)
        .env(Some(env))
        .service(Some(&deployment.service.name.value))
}

/// Runs every offline rule for the selected environments (all when `envs` is empty).
pub fn lint(project: &mut Project, envs: &[String]) -> Result<(), Error> {
    let selected = project.select_environments(envs)?;
    let Some(mut manifest) = project.manifest.take() else { return Ok(()) };
    let mut found = Vec::new();
    let mut accounts = Vec::new();
    rules::check_manifest(&manifest, &mut found);
    for env in manifest.environments.iter().filter(|e| selected.contains(&e.name.value)) {
        let deployments = resolve::resolve(&manifest, env, &mut found);
        rules::check_environment(&manifest, env, &deployments, &mut found);
        for deployment in &deployments {
            if let Some(account) = check_deployment(project, &manifest, deployment, &mut found) {
                let key = (env.name.value.clone(), deployment.service.name.value.clone());
                accounts.push((key, account));
            }
        }
    }
    manifest.spec_accounts.extend(accounts);
    project.diagnostics.append(&mut found);
    project.manifest = Some(manifest);
    finish(&mut project.diagnostics);
    Ok(())
}

/// Runs the spec rules on a deployment's spec; returns the runtime account the spec names.
fn check_deployment(
    project: &mut Project,
    manifest: &Manifest,
    deployment: &Deployment,
    out: &mut Vec<Diagnostic>,
) -> Option<String> {
    let spec = project.spec_for(deployment, manifest.file)?;
    let ctx = spec_context(manifest, deployment, spec, out);
    rules::check_spec(&ctx, out);
    spec.service_account.as_ref().map(|a| a.value.clone())
}

/// Puts a spec beside the manifest's view of its service: picks the target container (reporting
/// `unknown-container`) and lists the spec's mappings.
pub fn spec_context<'a>(
    manifest: &'a Manifest,
    deployment: &'a Deployment<'a>,
    spec: &'a ServiceSpec,
    out: &mut Vec<Diagnostic>,
) -> SpecContext<'a> {
    let env = Some(deployment.env.name.value.as_str());
    let service = Some(deployment.service.name.value.as_str());
    let container = match unknown_container::select(manifest, deployment.service, spec) {
        Ok(index) => Some(index),
        Err(d) => {
            out.push(d.env(env).service(service));
            None
        }
    };
    let project_id = deployment.env.project.as_ref().map_or("", |p| p.value.as_str());
    let mappings = spec.mappings(project_id);
    let latest_now = Default::default();
    SpecContext { manifest, deployment, spec, container, mappings, latest_now }
}

/// Sorts findings by file and position and drops repeats (a spec shared by two environments
/// gives the same finding twice).
pub fn finish(diagnostics: &mut Vec<Diagnostic>) {
    let key = |d: &Diagnostic| {
        let place = d.primary.as_ref().map(|l| (l.file, l.span.offset));
        (place.map(|p| p.0).unwrap_or(FileId(usize::MAX)), place.map_or(0, |p| p.1))
    };
    diagnostics.sort_by_key(key);
    let mut seen = std::collections::HashSet::new();
    diagnostics.retain(|d| seen.insert((d.code, d.primary.clone(), d.message.clone())));
}

/// The errors `lint` reports about a manifest text on its own, before any spec is read: YAML
/// syntax, the schema (a per-environment map that misses an environment included), and the
/// rules that need only the manifest. `import --merge` refuses a manifest that has any, since
/// where entries go cannot be told in it, and refuses to write a merged one that would have
/// any. `shown` names the text in the findings.
pub fn manifest_errors(shown: &str, text: &str) -> (Sources, Vec<Diagnostic>) {
    let mut sources = Sources::default();
    let file = sources.add(shown.to_string(), PathBuf::from(shown), text.as_bytes());
    let mut found = Vec::new();
    match yaml::parse(text.as_bytes()) {
        Ok(tree) => {
            if let Some(manifest) = manifest::read(file, &sources.get(file).text, &tree, &mut found)
            {
                rules::check_manifest(&manifest, &mut found);
                for env in &manifest.environments {
                    resolve::resolve(&manifest, env, &mut found);
                }
            }
        }
        Err(err) => found.push(yaml_syntax::diagnostic(file, &err)),
    }
    found.retain(|d| d.severity == crate::diagnostic::Severity::Error);
    finish(&mut found);
    (sources, found)
}

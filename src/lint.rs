//! The offline checks: the manifest alone, each environment's expansion, and each service spec
//! beside what the manifest declares for it.

use crate::diagnostic::{Diagnostic, Label};
use crate::error::Error;
use crate::manifest::{self, Manifest, Sp};
use crate::resolve::{self, Deployment};
use crate::rules::{self, SpecContext, spec_not_found, unknown_container, yaml_syntax};
use crate::source::{self, FileId, Sources, display_path};
use crate::spec::{self, ServiceSpec};
use crate::suggest::refuse_unknown;
use crate::yaml;
use std::collections::{HashMap, HashSet};
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
    /// Specs already read, by path on disk: `Err` when the file cannot be read, `Ok(None)` when
    /// it is no valid Cloud Run service. A failure is kept too, so that the disk is read once.
    specs: HashMap<PathBuf, Result<Option<ServiceSpec>, std::io::Error>>,
    /// The deployments (path, environment, service) whose unreadable spec was reported, so that
    /// each gets its `spec-not-found` once however many steps ask for the spec.
    unreadable_reported: HashSet<(PathBuf, String, String)>,
    /// What reading each spec found about the file itself (`yaml-syntax`, a spec that is no
    /// Cloud Run service), before it is given to the services that use the file.
    spec_findings: HashMap<PathBuf, Vec<Diagnostic>>,
    /// The (path, service) pairs whose spec findings were given to the service.
    attributed: HashSet<(PathBuf, String)>,
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
        Ok(Project {
            root,
            sources,
            manifest,
            diagnostics,
            specs: HashMap::new(),
            unreadable_reported: HashSet::new(),
            spec_findings: HashMap::new(),
            attributed: HashSet::new(),
        })
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
        // `--env staging --env staging` names one environment: a report has one column for it.
        let mut selected: Vec<String> = Vec::new();
        for name in wanted {
            if !selected.contains(name) {
                selected.push(name.clone());
            }
        }
        Ok(selected)
    }

    /// Reads the spec at `path` once, keeping the outcome, a failure included. Only a file
    /// inside the manifest's folder is read.
    fn read_spec(&mut self, path: &Path) {
        if self.specs.contains_key(path) {
            return;
        }
        let mut found = Vec::new();
        let read = source::read_inside(&self.root, path, yaml::MAX_FILE_BYTES).map(|bytes| {
            let file = self.sources.add(display_path(&self.root, path), path.to_path_buf(), &bytes);
            match yaml::parse(&bytes) {
                Ok(tree) => spec::read(file, tree, &mut found),
                Err(err) => {
                    found.push(yaml_syntax::diagnostic(file, &err));
                    None
                }
            }
        });
        self.specs.insert(path.to_path_buf(), read);
        self.spec_findings.insert(path.to_path_buf(), found);
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
        self.specs.insert(path.clone(), Ok(parsed));
        self.specs[&path].as_ref().ok()?.as_ref()
    }

    /// The spec of a deployment, if it exists and is a Cloud Run service. A spec that cannot
    /// be read is reported once per deployment (`spec-not-found`), whichever step asks first.
    pub fn spec_for(
        &mut self,
        deployment: &Deployment,
        manifest_file: FileId,
    ) -> Option<&ServiceSpec> {
        let path = deployment.spec_path.as_ref()?;
        let full = self.root.join(&path.value);
        self.read_spec(&full);
        // A broken spec concerns the services that use it, not every service: a deploy or a
        // render of another service goes on.
        let service = &deployment.service.name.value;
        if self.attributed.insert((full.clone(), service.clone())) {
            let found = self.spec_findings.get(&full).into_iter().flatten();
            let found = found.map(|d| d.clone().service(Some(service)));
            self.diagnostics.extend(found.collect::<Vec<_>>());
        }
        let err = match &self.specs[&full] {
            Ok(spec) => return spec.as_ref(),
            Err(err) => err,
        };
        let key = (
            full.clone(),
            deployment.env.name.value.clone(),
            deployment.service.name.value.clone(),
        );
        if self.unreadable_reported.insert(key) {
            self.diagnostics.push(unreadable_spec(deployment, path, manifest_file, err));
        }
        None
    }

    /// The account the service runs as once deployed: the one its spec names, since `render`
    /// keeps it, else the one secrets.yaml gives. The spec is read here if no step has read it
    /// yet, so the answer does not depend on the order of the steps.
    pub fn runtime_account(
        &mut self,
        manifest: &Manifest,
        deployment: &Deployment,
    ) -> Option<String> {
        let spec = self.spec_for(deployment, manifest.file);
        let from_spec = spec.and_then(|s| s.service_account.as_ref());
        from_spec.or(deployment.service_account.as_ref()).map(|a| a.value.clone())
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
    let Some(manifest) = project.manifest.take() else { return Ok(()) };
    let mut found = Vec::new();
    rules::check_manifest(&manifest, &mut found);
    for env in manifest.environments.iter().filter(|e| selected.contains(&e.name.value)) {
        let deployments = resolve::resolve(&manifest, env, &mut found);
        rules::check_environment(&manifest, env, &deployments, &mut found);
        for deployment in &deployments {
            check_deployment(project, &manifest, deployment, &mut found);
        }
    }
    project.diagnostics.append(&mut found);
    project.manifest = Some(manifest);
    finish(&mut project.diagnostics);
    Ok(())
}

/// Runs the spec rules on a deployment's spec.
fn check_deployment(
    project: &mut Project,
    manifest: &Manifest,
    deployment: &Deployment,
    out: &mut Vec<Diagnostic>,
) {
    let Some(spec) = project.spec_for(deployment, manifest.file) else { return };
    let ctx = spec_context(manifest, deployment, spec, out);
    rules::check_spec(&ctx, out);
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

/// Sorts findings by file and position and drops repeats. A spec shared by two environments
/// gives the same finding twice, and only one is kept; a spec shared by two services keeps one
/// per service, since each service's deploy must see it, and each then names its service.
pub fn finish(diagnostics: &mut Vec<Diagnostic>) {
    let key = |d: &Diagnostic| {
        let place = d.primary.as_ref().map(|l| (l.file, l.span.offset));
        (place.map(|p| p.0).unwrap_or(FileId(usize::MAX)), place.map_or(0, |p| p.1))
    };
    diagnostics.sort_by_key(key);
    let mut seen = HashSet::new();
    diagnostics
        .retain(|d| seen.insert((d.code, d.primary.clone(), d.message.clone(), d.service.clone())));
    name_services(diagnostics);
}

/// Adds the service to each of the findings that differ only by it, which would otherwise read
/// as the same finding reported twice.
fn name_services(diagnostics: &mut [Diagnostic]) {
    let mut users: HashMap<(&str, Option<Label>, String), usize> = HashMap::new();
    for d in diagnostics.iter().filter(|d| d.service.is_some()) {
        *users.entry((d.code, d.primary.clone(), d.message.clone())).or_default() += 1;
    }
    let shared: HashSet<(&str, Option<Label>, String)> =
        users.into_iter().filter(|(_, n)| *n > 1).map(|(k, _)| k).collect();
    for d in diagnostics.iter_mut() {
        let Some(service) = d.service.clone() else { continue };
        if shared.contains(&(d.code, d.primary.clone(), d.message.clone())) {
            d.message.push_str(&format!(" (for service `{service}`)"));
        }
    }
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

#[cfg(test)]
mod tests {
    use super::{Project, lint};
    use crate::resolve;

    /// Regression: a spec that could not be read was read again by every later step, each
    /// pushing another `spec-not-found` for dedupe to remove. The failure is kept: one finding
    /// per service using the path, and a file that appears later is not read in the same run.
    #[test]
    fn an_unreadable_spec_is_read_once_and_reported_once_per_service() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let manifest = "version: 1\nenvironments:\n  staging: {project: acme-stg, region: \
            us-central1}\nservices:\n  api: {spec: deploy/gone.yaml}\n  web: {spec: \
            deploy/gone.yaml}\n";
        std::fs::write(dir.path().join("secrets.yaml"), manifest).expect("written");
        let mut project = Project::load(&dir.path().join("secrets.yaml")).expect("it loads");
        lint(&mut project, &[]).expect("it lints");
        fn not_found(p: &Project) -> impl Iterator<Item = &crate::diagnostic::Diagnostic> {
            p.diagnostics.iter().filter(|d| d.code == "spec-not-found")
        }
        let services: Vec<_> = not_found(&project).map(|d| d.service.clone()).collect();
        assert_eq!(services, [Some("api".to_string()), Some("web".to_string())]);

        std::fs::create_dir(dir.path().join("deploy")).expect("a folder");
        let spec = "apiVersion: serving.knative.dev/v1\nkind: Service\n";
        std::fs::write(dir.path().join("deploy/gone.yaml"), spec).expect("written");
        let manifest = project.manifest.take().expect("a manifest");
        let env = &manifest.environments[0];
        for deployment in resolve::resolve(&manifest, env, &mut Vec::new()) {
            assert!(project.spec_for(&deployment, manifest.file).is_none(), "read once");
        }
        assert_eq!(not_found(&project).count(), 2, "{:#?}", project.diagnostics);
    }
}

//! `import`: a manifest written from the Cloud Run specs a team already has.
//!
//! Every `secretKeyRef` and secret volume of a service's target container becomes an entry;
//! specs of one service in several environments merge into one entry, with `{env}` where the
//! names differ only by the environment. Guesses (the class, the project) are marked with
//! comments. Credentials written as literal values are never imported: they are listed as
//! `plaintext-secret` findings with the entry to create instead.
//!
//! This module reads the specs; `write` turns what they hold into manifest text, `merge` adds
//! it to a manifest kept by hand, `live` exports the services Cloud Run runs now as specs and
//! `redact` hides the credentials those carry.

mod live;
mod merge;
mod redact;
mod scalar;
mod write;

pub use live::{export_form, fetch};
pub use merge::{
    AddedEnvironment, KeptService, MergeOptions, Merged, declared_environments, merge,
};

use crate::diagnostic::Diagnostic;
use crate::error::Error;
use crate::manifest::valid_environment_name;
use crate::rules::plaintext_secret;
use crate::source::{FileId, Sources};
use crate::spec::{self, ServiceSpec};
use crate::yaml;
use std::collections::BTreeMap;
use std::collections::btree_map::Entry;
use std::path::{Path, PathBuf};

/// One spec file to import, with its environment.
#[derive(Clone, Debug)]
pub struct Input {
    pub path: PathBuf,
    pub env: String,
    /// The content when it does not come from `path`: a live service, written to `path` only
    /// once the import has succeeded.
    pub content: Option<Vec<u8>>,
}

/// Finds the spec files: files as given (environment `default_env`), folders as
/// `<env>/<service>.yaml` (or `.yml`). JSON files in a folder are left out: beside specs they
/// are snapshots or other data, never the exported form of a service.
pub fn inputs(paths: &[PathBuf], default_env: &str) -> Result<Vec<Input>, Error> {
    let mut out = Vec::new();
    for path in paths {
        if path.is_dir() {
            out.extend(folder_inputs(path)?);
        } else {
            out.push(Input { path: path.clone(), env: default_env.to_string(), content: None });
        }
    }
    Ok(out)
}

/// The specs of a folder laid out as `<env>/<service>.yaml`. A subfolder without specs (a
/// `snapshots/` of JSON files, `.git/`) names no environment and is passed over.
fn folder_inputs(folder: &Path) -> Result<Vec<Input>, Error> {
    let mut out = Vec::new();
    for env_folder in entries(folder, Path::is_dir)? {
        let files = entries(&env_folder, is_spec_file)?;
        if files.is_empty() {
            continue;
        }
        let env = environment_of(&env_folder)?;
        out.extend(files.into_iter().map(|path| Input { path, env: env.clone(), content: None }));
    }
    Ok(out)
}

/// The entries of `folder` that `keep` accepts, sorted so that the manifest does not depend
/// on the order the file system lists them in.
fn entries(folder: &Path, keep: fn(&Path) -> bool) -> Result<Vec<PathBuf>, Error> {
    let listed = std::fs::read_dir(folder).map_err(|e| Error::Usage {
        message: format!("cannot read {}: {e}", folder.display()),
        help: None,
    })?;
    let mut kept: Vec<PathBuf> =
        listed.filter_map(|e| Some(e.ok()?.path())).filter(|p| keep(p)).collect();
    kept.sort();
    Ok(kept)
}

fn is_spec_file(path: &Path) -> bool {
    path.is_file() && matches!(path.extension().and_then(|e| e.to_str()), Some("yaml" | "yml"))
}

/// The environment a folder of specs names. A name the manifest would refuse is refused here,
/// as it is from `--env`, rather than written into a manifest that `lint` rejects; a name that
/// is not UTF-8 could only be written with a replacement character, an environment that
/// matches no folder.
fn environment_of(folder: &Path) -> Result<String, Error> {
    let name = folder.file_name().unwrap_or_default();
    let problem = match name.to_str() {
        Some(env) if valid_environment_name(env) => return Ok(env.to_string()),
        Some(env) => format!("the folder name {env:?} is not an environment name"),
        None => format!("the folder name {name:?} is not UTF-8"),
    };
    Err(Error::Usage {
        message: format!("{}: {problem}; rename the folder", folder.display()),
        help: Some(
            "an environment folder is named after its environment: letters, digits, `-` and \
             `_`, starting with a letter or digit, such as `staging` or `prod-eu`; or give its \
             specs as files with --env NAME"
                .into(),
        ),
    })
}

/// One secret mapping found in a spec.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Found {
    secret: String,
    version: String,
}

/// A service across environments.
#[derive(Debug, Default)]
struct ServiceImport {
    container: Option<String>,
    /// Spec path (relative to the manifest) per environment.
    specs: BTreeMap<String, String>,
    /// Target -> environment -> mapping.
    entries: BTreeMap<String, BTreeMap<String, Found>>,
    /// Notes written as comments above the service.
    notes: Vec<String>,
}

/// What import produced.
#[derive(Debug)]
pub struct Imported {
    /// The manifest text.
    pub manifest: String,
    /// Findings about the specs themselves (plaintext values, files that are not services).
    pub diagnostics: Vec<Diagnostic>,
    pub sources: Sources,
    /// How many services were imported.
    pub services: usize,
}

/// The region of imported environments when none is given.
pub const DEFAULT_REGION: &str = "us-central1";

/// Settings of the import.
#[derive(Clone, Debug)]
pub struct ImportOptions {
    /// The folder the manifest will live in; spec paths are written relative to it.
    pub base: PathBuf,
    pub project: Option<String>,
    pub region: String,
    /// The environments of the manifest the import will be merged into: a service that is not
    /// in all of them, with the imported ones, gets an `environments:` list.
    pub known_envs: Vec<String>,
}

/// Reads the specs and writes the manifest. A spec whose path the manifest cannot name (a
/// file name that is not UTF-8) is refused before anything is read, with the reason, and so
/// are two specs of one service in one environment.
pub fn import(inputs: &[Input], options: &ImportOptions) -> Result<Imported, Error> {
    let paths = inputs
        .iter()
        .map(|input| spec_path(&options.base, &input.path))
        .collect::<Result<Vec<String>, Error>>()?;
    let mut sources = Sources::default();
    let mut diagnostics = Vec::new();
    let mut services: BTreeMap<String, ServiceImport> = BTreeMap::new();
    let mut suggestions: Vec<String> = Vec::new();
    let mut envs: Vec<String> = Vec::new();
    let mut origins = BTreeMap::new();
    for (input, shown) in inputs.iter().zip(paths) {
        let Some((file, spec)) = read(&mut sources, &mut diagnostics, input, shown) else {
            continue;
        };
        let name = service_name(&spec, &input.path);
        claim(&mut origins, &name, input)?;
        if !envs.contains(&input.env) {
            envs.push(input.env.clone());
        }
        let service = services.entry(name.clone()).or_default();
        let shown = sources.get(file).display.clone();
        service.specs.insert(input.env.clone(), shown);
        add_spec(service, &spec, &input.env, &name, &mut diagnostics, &mut suggestions);
    }
    let manifest = write::write(&envs, &services, &suggestions, options);
    Ok(Imported { manifest, diagnostics, sources, services: services.len() })
}

/// The service a spec describes: its `metadata.name`, else the file's name.
fn service_name(spec: &ServiceSpec, path: &Path) -> String {
    spec.name.as_ref().map(|n| n.value.clone()).unwrap_or_else(|| {
        path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default()
    })
}

/// Records `input` as the spec of service `name` in its environment. A second spec for the
/// same pair is refused: one environment runs one spec of a service, and importing both would
/// keep only one's secrets without a word about the other.
fn claim<'a>(
    origins: &mut BTreeMap<(String, String), &'a Path>,
    name: &str,
    input: &'a Input,
) -> Result<(), Error> {
    let first = match origins.entry((name.to_string(), input.env.clone())) {
        Entry::Vacant(place) => {
            place.insert(&input.path);
            return Ok(());
        }
        Entry::Occupied(place) => *place.get(),
    };
    Err(Error::Usage {
        message: format!(
            "{} and {} are both specs of service `{name}` in environment `{}`",
            first.display(),
            input.path.display(),
            input.env
        ),
        help: Some(
            "import one spec per service and environment: leave one of them out, or give the \
             other its own environment (its own --env, or its own <env>/ folder)"
                .into(),
        ),
    })
}

/// Reads one spec; `shown` is its path as the manifest will write it.
fn read(
    sources: &mut Sources,
    out: &mut Vec<Diagnostic>,
    input: &Input,
    shown: String,
) -> Option<(FileId, ServiceSpec)> {
    let read = match &input.content {
        Some(content) => Ok(content.clone()),
        None => crate::source::read_input(&input.path, yaml::MAX_FILE_BYTES),
    };
    let bytes = match read {
        Ok(b) => b,
        Err(e) => {
            let d = Diagnostic::new(
                &crate::rules::spec_not_found::RULE,
                format!("cannot read {}: {e}", input.path.display()),
            );
            out.push(d);
            return None;
        }
    };
    let file = sources.add(shown, input.path.clone(), &bytes);
    let tree = match yaml::parse(&bytes) {
        Ok(tree) => tree,
        Err(err) => {
            out.push(crate::rules::yaml_syntax::diagnostic(file, &err));
            return None;
        }
    };
    spec::read(file, tree, out).map(|s| (file, s))
}

/// The `spec:` path of a spec file: relative to `base`, going up with `..` when needed. A
/// part that is not UTF-8 is refused: the manifest is UTF-8 text, and a replacement character
/// in its place would name a file that does not exist.
fn spec_path(base: &Path, path: &Path) -> Result<String, Error> {
    let base = std::path::absolute(base).unwrap_or_else(|_| base.to_path_buf());
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let common = base.components().zip(absolute.components()).take_while(|(a, b)| a == b).count();
    let ups = base.components().count() - common;
    let mut out: Vec<&str> = vec![".."; ups];
    for part in absolute.components().skip(common) {
        out.push(part.as_os_str().to_str().ok_or_else(|| Error::Usage {
            message: format!(
                "the file name {path:?} is not UTF-8, so the manifest cannot name it as a spec; \
                 rename the file"
            ),
            help: None,
        })?);
    }
    Ok(out.join("/"))
}

/// Adds a spec's mappings to its service, and reports the credentials it sets as plaintext.
fn add_spec(
    service: &mut ServiceImport,
    spec: &ServiceSpec,
    env: &str,
    name: &str,
    out: &mut Vec<Diagnostic>,
    suggestions: &mut Vec<String>,
) {
    let index = target_container(spec);
    if spec.containers.len() > 1 {
        service.container = spec.containers[index].name.as_ref().map(|n| n.value.clone());
    }
    add_mappings(service, spec, index, env);
    report_plaintext(spec, env, name, out, suggestions);
}

/// The target container's mappings as entries of `env`; those of other containers as notes.
fn add_mappings(service: &mut ServiceImport, spec: &ServiceSpec, index: usize, env: &str) {
    for mapping in spec.mappings("") {
        if mapping.container != index {
            let note = format!(
                "not imported: {} maps `{}` (only one container receives secrets)",
                spec.containers[mapping.container].label(mapping.container),
                mapping.target
            );
            if !service.notes.contains(&note) {
                service.notes.push(note);
            }
            continue;
        }
        let secret = match &mapping.secret {
            Some(s) if s.project.is_empty() => s.secret.clone(),
            Some(s) => s.to_string(),
            None => mapping.raw_name.value.clone(),
        };
        let version =
            mapping.key.as_ref().map_or_else(|| "latest".to_string(), |k| k.value.clone());
        service
            .entries
            .entry(mapping.target.clone())
            .or_default()
            .insert(env.to_string(), Found { secret, version });
    }
}

/// A `plaintext-secret` finding for every env value of any container that looks like a
/// credential, with the entry to create instead in `suggestions`, and for every credential in
/// an annotation, a `command` or `args`.
fn report_plaintext(
    spec: &ServiceSpec,
    env: &str,
    name: &str,
    out: &mut Vec<Diagnostic>,
    suggestions: &mut Vec<String>,
) {
    for (i, container) in spec.containers.iter().enumerate() {
        for var in &container.env {
            let Some(value) = &var.value else { continue };
            let var_name = &var.name.value;
            let Some(reason) = plaintext_secret::looks_like_credential(var_name, &value.value)
            else {
                continue;
            };
            let message = format!(
                "{} of `{name}` sets `{var_name}` as a plaintext value ({reason}); it was not \
                 imported",
                container.label(i),
            );
            let mut d = Diagnostic::new(&plaintext_secret::RULE, message)
                .at(spec.file, value.span, "plaintext value (hidden)")
                .help(
                    "store it in Secret Manager, then add the suggested entry at the end of the \
                    manifest",
                )
                .env(Some(env))
                .service(Some(name))
                .target(Some(var_name));
            d.redact.push((spec.file, value.span));
            out.push(d);
            let suggestion = suggested_entry(name, var_name);
            if !suggestions.contains(&suggestion) {
                suggestions.push(suggestion);
            }
        }
    }
    // Credentials in annotations and on command lines have no entry to suggest, but are
    // reported all the same: an export wrote them as `<redacted>`, which must not be deployed.
    for found in plaintext_secret::credentials_elsewhere(spec) {
        let mut d =
            Diagnostic::new(&plaintext_secret::RULE, format!("`{name}`: {}", found.message))
                .at(spec.file, found.span, "plaintext value (hidden)")
                .help(found.help)
                .env(Some(env))
                .service(Some(name));
        d.redact.push((spec.file, found.span));
        out.push(d);
    }
}

/// The manifest entry suggested for a credential found as the plaintext value of `var`.
fn suggested_entry(service: &str, var: &str) -> String {
    let id = var.to_ascii_lowercase().replace('_', "-");
    format!("  {service}: {var}: {{secret: {id}, class: {}}}", suggest_class(var))
}

/// The container that gets secrets: the only one, the one with a port, or the one that maps
/// the most secrets.
fn target_container(spec: &ServiceSpec) -> usize {
    let with_port: Vec<usize> =
        (0..spec.containers.len()).filter(|i| spec.containers[*i].declares_port).collect();
    if let [only] = with_port.as_slice() {
        return *only;
    }
    let mappings = spec.mappings("");
    (0..spec.containers.len())
        .max_by_key(|i| (mappings.iter().filter(|m| m.container == *i).count(), usize::MAX - i))
        .unwrap_or(0)
}

/// A class from the name: auth for tokens and keys, db for database credentials.
pub fn suggest_class(name: &str) -> &'static str {
    let upper = name.to_ascii_uppercase();
    let auth = ["JWT", "OAUTH", "TOKEN", "SECRET_KEY", "CLIENT_SECRET", "API_KEY", "PRIVATE_KEY"];
    let db = ["DATABASE", "DB_", "POSTGRES", "MYSQL", "REDIS", "MONGO"];
    if auth.iter().any(|m| upper.contains(m)) {
        "auth"
    } else if db.iter().any(|m| upper.contains(m)) {
        "db"
    } else {
        "other"
    }
}

//! `import`: a manifest written from the Cloud Run specs a team already has.
//!
//! Every `secretKeyRef` and secret volume of a service's target container becomes an entry;
//! specs of one service in several environments merge into one entry, with `{env}` where the
//! names differ only by the environment. Guesses (the class, the project) are marked with
//! comments. Credentials written as literal values are never imported: they are listed as
//! `plaintext-secret` findings with the entry to create instead.

use crate::diagnostic::{Diagnostic, Severity};
use crate::rules::{self, plaintext_secret, yaml_syntax};
use crate::source::{FileId, Sources};
use crate::spec::{self, ServiceSpec};
use crate::yaml;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// One spec file to import, with its environment.
#[derive(Clone, Debug)]
pub struct Input {
    pub path: PathBuf,
    pub env: String,
    /// The content when it does not come from `path` (a live service, as JSON).
    pub content: Option<Vec<u8>>,
}

/// Finds the spec files: files as given (environment `default_env`), folders as
/// `<env>/<service>.yaml` (or `.yml`). JSON files in a folder are left out: beside specs they
/// are snapshots or other data, never the exported form of a service.
pub fn inputs(paths: &[PathBuf], default_env: &str) -> std::io::Result<Vec<Input>> {
    let mut out = Vec::new();
    for path in paths {
        if !path.is_dir() {
            out.push(Input { path: path.clone(), env: default_env.to_string(), content: None });
            continue;
        }
        let mut envs: Vec<PathBuf> = std::fs::read_dir(path)?
            .filter_map(|e| Some(e.ok()?.path()))
            .filter(|p| p.is_dir())
            .collect();
        envs.sort();
        for env_dir in envs {
            let env = environment_of(&env_dir)?;
            let mut files: Vec<PathBuf> = std::fs::read_dir(&env_dir)?
                .filter_map(|e| Some(e.ok()?.path()))
                .filter(|p| {
                    p.is_file()
                        && matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml"))
                })
                .collect();
            files.sort();
            out.extend(files.into_iter().map(|path| Input {
                path,
                env: env.clone(),
                content: None,
            }));
        }
    }
    Ok(out)
}

/// The environment a folder names. A name that is not UTF-8 is refused: the manifest could
/// only hold a replacement character in its place, an environment that matches no folder.
fn environment_of(folder: &Path) -> std::io::Result<String> {
    let name = folder.file_name().unwrap_or_default();
    name.to_str().map(str::to_string).ok_or_else(|| {
        let message = format!("the folder name {name:?} is not UTF-8; rename the folder");
        std::io::Error::new(std::io::ErrorKind::InvalidData, message)
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
/// file name that is not UTF-8) is refused before anything is read, with the reason.
pub fn import(inputs: &[Input], options: &ImportOptions) -> Result<Imported, String> {
    let paths = inputs
        .iter()
        .map(|input| spec_path(&options.base, &input.path))
        .collect::<Result<Vec<String>, String>>()?;
    let mut sources = Sources::default();
    let mut diagnostics = Vec::new();
    let mut services: BTreeMap<String, ServiceImport> = BTreeMap::new();
    let mut suggestions: Vec<String> = Vec::new();
    let mut envs: Vec<String> = Vec::new();
    for (input, shown) in inputs.iter().zip(paths) {
        let Some((file, spec)) = read(&mut sources, &mut diagnostics, input, shown) else {
            continue;
        };
        if !envs.contains(&input.env) {
            envs.push(input.env.clone());
        }
        let name = spec.name.as_ref().map(|n| n.value.clone()).unwrap_or_else(|| {
            input.path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default()
        });
        let service = services.entry(name.clone()).or_default();
        let shown = sources.get(file).display.clone();
        service.specs.insert(input.env.clone(), shown);
        add_spec(service, &spec, &input.env, &name, &mut diagnostics, &mut suggestions);
    }
    let manifest = write(&envs, &services, &suggestions, options);
    Ok(Imported { manifest, diagnostics, sources, services: services.len() })
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
fn spec_path(base: &Path, path: &Path) -> Result<String, String> {
    let base = std::path::absolute(base).unwrap_or_else(|_| base.to_path_buf());
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let common = base.components().zip(absolute.components()).take_while(|(a, b)| a == b).count();
    let ups = base.components().count() - common;
    let mut out: Vec<&str> = vec![".."; ups];
    for part in absolute.components().skip(common) {
        out.push(part.as_os_str().to_str().ok_or_else(|| {
            format!(
                "the file name {path:?} is not UTF-8, so the manifest cannot name it as a spec; \
                 rename the file"
            )
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
/// credential, and the entry to create instead in `suggestions`.
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

/// One value for every environment, a `{env}` template, or a per-environment map.
fn merge_values(
    by_env: &BTreeMap<String, String>,
    all_envs: usize,
    scalar: fn(&str) -> String,
) -> String {
    let values: Vec<&String> = by_env.values().collect();
    if by_env.len() == all_envs && values.iter().all(|v| *v == values[0]) {
        return scalar(values[0]);
    }
    let templated: Vec<String> =
        by_env.iter().map(|(env, v)| v.replace(env.as_str(), "{env}")).collect();
    let differs = values.iter().any(|v| *v != values[0]);
    if by_env.len() == all_envs
        && differs
        && templated.iter().all(|t| t == &templated[0] && t.contains("{env}"))
    {
        return scalar(&templated[0]);
    }
    let pairs: Vec<String> =
        by_env.iter().map(|(e, v)| format!("{}: {}", yaml_scalar(e), scalar(v))).collect();
    format!("{{{}}}", pairs.join(", "))
}

/// The secret an environment that does not map an entry today would most likely use: another
/// environment's, with that environment's name replaced by this one's when it contains it.
fn guess_secret(by_env: &BTreeMap<String, Found>, env: &str) -> String {
    let renamed = by_env.iter().find(|(e, f)| f.secret.contains(e.as_str()));
    match renamed {
        Some((e, f)) => f.secret.replace(e.as_str(), env),
        None => by_env.values().next().map(|f| f.secret.clone()).unwrap_or_default(),
    }
}

/// A string as a YAML scalar: plain when it reads back as the same string, otherwise double
/// quoted with YAML escapes, so that a number such as `2024`, a boolean or a name holding an
/// invisible character (a zero-width space pasted with it) is written so that the manifest
/// parses and shows what the spec held.
fn yaml_scalar(text: &str) -> String {
    let lower = text.to_ascii_lowercase();
    let plain = !text.is_empty()
        && text.chars().all(|c| c.is_ascii_alphanumeric() || "-_./@".contains(c))
        && !text.starts_with(['-', '.', '@'])
        && !text.starts_with(|c: char| c.is_ascii_digit())
        && !matches!(lower.as_str(), "true" | "false" | "null" | "yes" | "no" | "on" | "off");
    if plain { text.to_string() } else { format!("\"{}\"", escape(text, true)) }
}

/// `text` with every character that is not visible written as a YAML escape (`\t`, `\x07`,
/// `\u200B`); with `quoted`, `"` and `\` too, for the inside of a double-quoted scalar. A
/// comment needs the escapes as well: a control character is invalid anywhere in YAML, and a
/// line break would end the comment.
fn escape(text: &str, quoted: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '"' | '\\' if quoted => {
                out.push('\\');
                out.push(c);
            }
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            _ if visible(c) => out.push(c),
            _ if u32::from(c) <= 0xFF => out.push_str(&format!("\\x{:02X}", u32::from(c))),
            _ if u32::from(c) <= 0xFFFF => out.push_str(&format!("\\u{:04X}", u32::from(c))),
            _ => out.push_str(&format!("\\U{:08X}", u32::from(c))),
        }
    }
    out
}

/// Printable ASCII, and letters and digits of any script; everything else (controls, format
/// characters, separators, other symbols) is escaped, so nothing in the manifest is invisible.
fn visible(c: char) -> bool {
    c == ' ' || c.is_ascii_graphic() || (!c.is_ascii() && c.is_alphanumeric())
}

/// A `#` comment at `indent` spaces, with anything that could end it or is not visible escaped.
fn comment(indent: usize, text: &str) -> String {
    format!("{}# {}\n", " ".repeat(indent), escape(text, false))
}

/// A version: a number stays a plain number.
fn version_scalar(text: &str) -> String {
    let number = !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
    if number { text.to_string() } else { yaml_scalar(text) }
}

/// The manifest text: the environments, each service with its entries, and the entries
/// suggested for plaintext credentials as comments.
fn write(
    envs: &[String],
    services: &BTreeMap<String, ServiceImport>,
    suggestions: &[String],
    options: &ImportOptions,
) -> String {
    let mut out = String::from(
        "# Written by `secretgate import`. Review the comments marked GUESS, then run\n# \
        `secretgate lint` and `secretgate check`.\nversion: 1\n\nenvironments:",
    );
    write_environments(&mut out, envs, options);
    let mut all_envs: Vec<&String> = envs.iter().chain(&options.known_envs).collect();
    all_envs.sort();
    all_envs.dedup();
    out.push_str(if services.is_empty() { "\nservices: {}\n" } else { "\nservices:\n" });
    for (name, service) in services {
        write_service(&mut out, name, service, all_envs.len());
    }
    if !suggestions.is_empty() {
        out.push_str(
            "\n# Plaintext values found in the specs (not imported). Store each in \
            Secret Manager,\n# remove it from the spec, and add an entry such as:\n",
        );
        for s in suggestions {
            out.push_str(&comment(0, s));
        }
    }
    out
}

/// The imported environments, after `environments:`; the project is a marked guess unless
/// given.
fn write_environments(out: &mut String, envs: &[String], options: &ImportOptions) {
    out.push_str(if envs.is_empty() { " {}\n" } else { "\n" });
    for env in envs {
        out.push_str(&format!("  {}:\n", yaml_scalar(env)));
        let (project, guess) = match &options.project {
            Some(project) => (project.clone(), ""),
            None => (format!("PROJECT_ID-{env}"), "  # GUESS: set the project id"),
        };
        out.push_str(&format!("    project: {}{guess}\n", yaml_scalar(&project)));
        out.push_str(&format!("    region: {}\n", yaml_scalar(&options.region)));
    }
}

/// One service: its notes, spec, container, environments (when not all `all_envs` of them)
/// and entries.
fn write_service(out: &mut String, name: &str, service: &ServiceImport, all_envs: usize) {
    for note in &service.notes {
        out.push_str(&comment(2, note));
    }
    out.push_str(&format!("  {}:\n", yaml_scalar(name)));
    let spec = merge_values(&service.specs, all_envs, yaml_scalar);
    out.push_str(&format!("    spec: {spec}\n"));
    if let Some(container) = &service.container {
        out.push_str(&format!("    container: {}\n", yaml_scalar(container)));
    }
    if service.specs.len() < all_envs {
        let list: Vec<String> = service.specs.keys().map(|e| yaml_scalar(e)).collect();
        out.push_str(&format!("    environments: [{}]\n", list.join(", ")));
    }
    if service.entries.is_empty() {
        return;
    }
    out.push_str("    secrets:\n");
    for (target, by_env) in &service.entries {
        write_entry(out, target, by_env, service);
    }
}

/// One entry. An environment of the service that does not map it today gets a guessed secret
/// and `latest`, under a GAP comment: the entry applies there too, and a per-environment map
/// must name every environment.
fn write_entry(
    out: &mut String,
    target: &str,
    by_env: &BTreeMap<String, Found>,
    service: &ServiceImport,
) {
    let mut secrets: BTreeMap<String, String> =
        by_env.iter().map(|(e, f)| (e.clone(), f.secret.clone())).collect();
    let mut versions: BTreeMap<String, String> =
        by_env.iter().map(|(e, f)| (e.clone(), f.version.clone())).collect();
    let missing: Vec<&String> = service.specs.keys().filter(|e| !by_env.contains_key(*e)).collect();
    if !missing.is_empty() {
        let names = missing.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ");
        let gap = format!("GAP: not mapped today in {names} (GUESS: the secret there)");
        out.push_str(&comment(6, &gap));
        for env in missing {
            secrets.insert(env.clone(), guess_secret(by_env, env));
            versions.insert(env.clone(), "latest".to_string());
        }
    }
    out.push_str(&format!("      {}:\n", yaml_scalar(target)));
    let secret = merge_values(&secrets, secrets.len(), yaml_scalar);
    out.push_str(&format!("        secret: {secret}\n"));
    let version = merge_values(&versions, versions.len(), version_scalar);
    if version != "latest" {
        out.push_str(&format!("        version: {version}\n"));
    }
    let class = suggest_class(target);
    out.push_str(&format!("        class: {class}  # GUESS: suggested from the name\n"));
}

/// How `merge` declares the environments of the imported specs that the existing manifest
/// lacks.
#[derive(Clone, Debug, Default)]
pub struct MergeOptions {
    /// The project of every added environment; without it, derived from the others' projects.
    pub project: Option<String>,
    /// The region of every added environment; without it, the region the others share.
    pub region: Option<String>,
}

/// An environment `merge` declared.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddedEnvironment {
    pub name: String,
    pub project: String,
    pub region: String,
    /// Whether the project was derived from the other environments' projects.
    pub guessed: bool,
}

/// An existing service that the imported specs show in an added environment. It is kept to
/// the environments it had: its entries were written for those, and may not fit the new one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeptService {
    pub name: String,
    /// The added environments the imported specs show it in.
    pub seen_in: Vec<String>,
}

/// What `merge` wrote.
#[derive(Debug)]
pub struct Merged {
    pub text: String,
    /// Services and entries added.
    pub added: usize,
    pub environments: Vec<AddedEnvironment>,
    pub kept: Vec<KeptService>,
}

/// Text to insert into the existing manifest before line index `line`. At one place, `order`
/// 0 (environments, entries of an existing service) goes before 1 (new services), and each in
/// the order it was found.
struct Insertion {
    line: usize,
    order: u8,
    text: String,
}

/// The existing manifest as `merge` reads it.
struct Existing<'a> {
    tree: &'a yaml::Node,
    lines: Vec<&'a str>,
    services_key: &'a yaml::Node,
    services: &'a [(yaml::Node, yaml::Node)],
    /// `services:` with nothing after it: services go below it.
    empty_block: bool,
    service_indent: usize,
    /// The manifest's indentation step, taken from its services; the written manifest uses two.
    step: usize,
}

/// The errors `lint` reports about a manifest on its own, before any spec is read: YAML syntax,
/// the schema (a per-environment map that misses an environment included), and the rules that
/// need only the manifest. `import --merge` refuses a manifest that has any, since where
/// entries go cannot be told in it, and refuses to write a merged one that would have any.
pub fn manifest_errors(shown: &str, text: &str) -> (Sources, Vec<Diagnostic>) {
    let mut sources = Sources::default();
    let file = sources.add(shown.to_string(), PathBuf::from(shown), text.as_bytes());
    let mut found = Vec::new();
    match yaml::parse(text.as_bytes()) {
        Ok(tree) => {
            if let Some(manifest) =
                crate::manifest::read(file, &sources.get(file).text, &tree, &mut found)
            {
                rules::check_manifest(&manifest, &mut found);
                for env in &manifest.environments {
                    crate::resolve::resolve(&manifest, env, &mut found);
                }
            }
        }
        Err(err) => found.push(yaml_syntax::diagnostic(file, &err)),
    }
    found.retain(|d| d.severity == Severity::Error);
    crate::lint::finish(&mut found);
    (sources, found)
}

/// The environment names a manifest declares; none when it does not parse.
pub fn declared_environments(text: &str) -> Vec<String> {
    yaml::parse(text.as_bytes()).map(|tree| declared_environments_of(&tree)).unwrap_or_default()
}

/// The manifest entries `new` has and `existing` lacks, added to the existing text: whole
/// services at the end of `services:`, entries at the end of their service's `secrets:`,
/// environments at the end of `environments:`, indented like the existing manifest. Existing
/// lines are kept byte for byte.
pub fn merge(
    existing_text: &str,
    imported_text: &str,
    options: &MergeOptions,
) -> Result<Merged, String> {
    let tree = yaml::parse(existing_text.as_bytes()).map_err(|e| {
        format!(
            "the existing manifest is not valid YAML at line {}, column {}: {}",
            e.span.line, e.span.column, e.message
        )
    })?;
    let imported = yaml::parse(imported_text.as_bytes()).map_err(|e| e.message)?;
    let existing = Existing::read(&tree, existing_text)?;
    let mut insertions = Vec::new();
    let environments = declare_environments(&existing, &imported, options, &mut insertions)?;
    let kept = keep_services(&existing, &imported, &environments, &mut insertions)?;
    let added = add_services(&existing, imported_text, &imported, &mut insertions)?;
    let text = apply(existing_text, insertions);
    Ok(Merged { text, added, environments, kept })
}

impl<'a> Existing<'a> {
    fn read(tree: &'a yaml::Node, text: &'a str) -> Result<Existing<'a>, String> {
        let (services_key, services_node) = tree
            .get_entry("services")
            .filter(|(_, v)| v.as_map().is_some() || v.value == yaml::Value::Null)
            .ok_or("the existing manifest has no `services:` mapping")?;
        let last_top = tree.as_map().and_then(|m| m.last()).and_then(|(k, _)| k.as_str());
        if last_top != Some("services") {
            return Err(
                "--merge needs `services:` to be the last top-level key of the existing manifest"
                    .into(),
            );
        }
        let services = services_node.as_map().unwrap_or_default();
        let service_indent = services.first().map_or(2, |(k, _)| k.span.column - 1);
        Ok(Existing {
            tree,
            lines: text.lines().take_while(|line| !document_end(line)).collect(),
            services_key,
            services,
            empty_block: services_node.value == yaml::Value::Null,
            service_indent,
            step: if service_indent > 0 { service_indent } else { 2 },
        })
    }
}

/// Whether a line is the document-end marker `...`. Only comments may follow it, so the
/// manifest's lines end there: what is added after it would be a second document.
fn document_end(line: &str) -> bool {
    line.strip_prefix("...").is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '\t']))
}

/// Whether a mapping is empty or written in flow style (`{...}` on its key's line).
fn flow(key: &yaml::Node, map: &[(yaml::Node, yaml::Node)]) -> bool {
    map.first().is_none_or(|(k, _)| k.span.line == key.span.line)
}

/// A declared environment: name, project and region as written.
struct Declared {
    name: String,
    project: Option<String>,
    region: Option<String>,
}

/// Declares, at the end of `environments:`, the imported environments the manifest lacks.
fn declare_environments(
    existing: &Existing,
    imported: &yaml::Node,
    options: &MergeOptions,
    insertions: &mut Vec<Insertion>,
) -> Result<Vec<AddedEnvironment>, String> {
    let (key, node) = existing
        .tree
        .get_entry("environments")
        .ok_or("the existing manifest has no `environments:` mapping")?;
    let map = node.as_map().unwrap_or_default();
    let declared = declared_in(map);
    let missing: Vec<String> = declared_environments_of(imported)
        .into_iter()
        .filter(|env| !declared.iter().any(|d| &d.name == env))
        .collect();
    if missing.is_empty() {
        return Ok(Vec::new());
    }
    if flow(key, map) {
        let names = missing.iter().map(|e| format!("`{e}`")).collect::<Vec<_>>().join(", ");
        return Err(format!(
            "--merge cannot declare environment(s) {names} in an empty or flow-style \
             `environments:`; declare them yourself, then merge again"
        ));
    }
    let added = missing
        .iter()
        .map(|name| new_environment(name, &declared, options))
        .collect::<Result<Vec<_>, String>>()?;
    let env_indent = key_indent(map, 2);
    let (first_key, first) = &map[0];
    let fields = first.as_map().filter(|m| !flow(first_key, m));
    let field_indent = fields.map_or(env_indent + existing.step, |m| key_indent(m, 0));
    let text = added.iter().map(|env| environment_block(env, env_indent, field_indent)).collect();
    insertions.push(Insertion { line: block_end(existing, key), order: 0, text });
    Ok(added)
}

/// The environments of an `environments:` mapping, with their project and region.
fn declared_in(map: &[(yaml::Node, yaml::Node)]) -> Vec<Declared> {
    let text = |n: &yaml::Node, k: &str| n.get(k).and_then(yaml::Node::scalar_text);
    map.iter()
        .filter_map(|(k, v)| {
            let name = k.scalar_text()?;
            Some(Declared { name, project: text(v, "project"), region: text(v, "region") })
        })
        .collect()
}

/// The line index after the last content line of the top-level block that `key` opens.
fn block_end(existing: &Existing, key: &yaml::Node) -> usize {
    let top = existing.tree.as_map().unwrap_or_default();
    let next = top.iter().map(|(k, _)| k.span.line).filter(|l| *l > key.span.line).min();
    last_content_line(&existing.lines, next.map_or(existing.lines.len(), |l| l - 1))
}

/// The column (0-based) of a block mapping's keys.
fn key_indent(map: &[(yaml::Node, yaml::Node)], default: usize) -> usize {
    map.first().map_or(default, |(k, _)| k.span.column - 1)
}

/// The project and region of an environment the imported specs use and the manifest lacks:
/// as given, else derived from the declared environments, else an error saying what to add.
fn new_environment(
    name: &str,
    declared: &[Declared],
    options: &MergeOptions,
) -> Result<AddedEnvironment, String> {
    let cannot = |what: &str, option: &str| {
        format!(
            "the imported specs use environment `{name}`, which the existing manifest does not \
             declare, and {what}; pass {option}, or declare `{name}` under `environments:` and \
             merge again"
        )
    };
    let (project, guessed) = match (&options.project, derived_project(name, declared)) {
        (Some(p), _) => (p.clone(), false),
        (None, Some(p)) => (p, true),
        (None, None) => {
            let what = "its project cannot be derived from the other environments' projects";
            return Err(cannot(what, "--project ID"));
        }
    };
    let region = match &options.region {
        Some(r) => r.clone(),
        None => shared_region(declared).ok_or_else(|| {
            cannot("the other environments do not share one region", "--region REGION")
        })?,
    };
    Ok(AddedEnvironment { name: name.to_string(), project, region, guessed })
}

/// The region every declared environment has, or the default when none is declared.
fn shared_region(declared: &[Declared]) -> Option<String> {
    let Some(first) = declared.first() else { return Some(DEFAULT_REGION.to_string()) };
    let region = first.region.clone()?;
    declared.iter().all(|d| d.region.as_ref() == Some(&region)).then_some(region)
}

/// The project of environment `name` when the declared ones follow a pattern: each project
/// holds its environment's name at the same place (`shop-staging`, `shop-production`), or all
/// environments share one project.
fn derived_project(name: &str, declared: &[Declared]) -> Option<String> {
    let projects: Vec<(&str, &str)> = declared
        .iter()
        .map(|d| Some((d.name.as_str(), d.project.as_deref()?)))
        .collect::<Option<_>>()?;
    let (first_env, first) = *projects.first()?;
    let template = first.replace(first_env, "{env}");
    let patterned = template.contains("{env}")
        && projects.iter().all(|(env, p)| p.replace(env, "{env}") == template);
    let project = if patterned {
        template.replace("{env}", name)
    } else if projects.iter().all(|(_, p)| *p == first) {
        first.to_string()
    } else {
        return None;
    };
    crate::manifest::valid_project(&project).then_some(project)
}

fn environment_block(env: &AddedEnvironment, indent: usize, field_indent: usize) -> String {
    let (pad, field) = (" ".repeat(indent), " ".repeat(field_indent));
    let guess =
        if env.guessed { "  # GUESS: named like the other environments' projects" } else { "" };
    format!(
        "{pad}{}:\n{field}project: {}{guess}\n{field}region: {}\n",
        yaml_scalar(&env.name),
        yaml_scalar(&env.project),
        yaml_scalar(&env.region)
    )
}

/// Keeps every existing service that has no `environments:` to the environments declared
/// before the merge, since a service without the list is deployed to every environment,
/// added ones included. Returns those the imported specs show in an added environment.
fn keep_services(
    existing: &Existing,
    imported: &yaml::Node,
    added: &[AddedEnvironment],
    insertions: &mut Vec<Insertion>,
) -> Result<Vec<KeptService>, String> {
    if added.is_empty() {
        return Ok(Vec::new());
    }
    let before = declared_environments_of(existing.tree);
    let list = before.iter().map(|e| yaml_scalar(e)).collect::<Vec<_>>().join(", ");
    let new_names = added.iter().map(|e| e.name.as_str()).collect::<Vec<_>>().join(", ");
    let mut kept = Vec::new();
    for (key, value) in existing.services {
        let name = key.scalar_text().unwrap_or_default();
        let seen_in = imported_environments(imported, &name)
            .into_iter()
            .filter(|e| added.iter().any(|a| &a.name == e))
            .collect::<Vec<_>>();
        if !seen_in.is_empty() {
            kept.push(KeptService { name: name.clone(), seen_in });
        }
        if value.get("environments").is_some() {
            continue;
        }
        let fields = value.as_map().filter(|m| !flow(key, m)).ok_or_else(|| {
            format!(
                "--merge cannot keep service `{name}` to its environments when it declares \
                 {new_names}: it is not a block mapping; give it an `environments:` list, then \
                 merge again"
            )
        })?;
        let indent = " ".repeat(key_indent(fields, 0));
        let text = format!(
            "{indent}environments: [{list}]  # kept when import --merge declared {}\n",
            escape(&new_names, false)
        );
        insertions.push(Insertion { line: key.span.line, order: 0, text });
    }
    Ok(kept)
}

fn declared_environments_of(tree: &yaml::Node) -> Vec<String> {
    let envs = tree.get("environments").and_then(yaml::Node::as_map).unwrap_or_default();
    envs.iter().filter_map(|(k, _)| k.scalar_text()).collect()
}

/// The environments the imported manifest deploys service `name` to.
fn imported_environments(imported: &yaml::Node, name: &str) -> Vec<String> {
    let Some(service) = imported.path(&["services", name]) else { return Vec::new() };
    match service.get("environments").and_then(yaml::Node::as_seq) {
        Some(list) => list.iter().filter_map(yaml::Node::scalar_text).collect(),
        None => declared_environments_of(imported),
    }
}

/// Adds the imported services the manifest lacks, and the entries its services lack; returns
/// how many.
fn add_services(
    existing: &Existing,
    imported_text: &str,
    imported: &yaml::Node,
    insertions: &mut Vec<Insertion>,
) -> Result<usize, String> {
    let new_services = imported.get("services").and_then(|s| s.as_map()).unwrap_or_default();
    let lines: Vec<&str> = imported_text.lines().collect();
    let mut added = 0;
    for (i, (key, value)) in new_services.iter().enumerate() {
        let name = key.as_str().unwrap_or_default();
        let block_end = new_services.get(i + 1).map_or(lines.len(), |(k, _)| k.span.line - 1);
        let Some(pos) = existing.services.iter().position(|(k, _)| k.as_str() == Some(name)) else {
            if !existing.empty_block && flow(existing.services_key, existing.services) {
                return Err("--merge cannot add services to an empty or flow-style `services:`; \
                    use --force to replace the manifest"
                    .into());
            }
            let block = &lines
                [comments_above(&lines, key.span.line - 1)..last_content_line(&lines, block_end)];
            let text = reindent(block, existing.service_indent, 2, existing.step);
            insertions.push(Insertion { line: existing.lines.len(), order: 1, text });
            added += 1;
            continue;
        };
        let Some(entries) = value.get("secrets").and_then(|s| s.as_map()) else { continue };
        let new = NewEntries { lines: &lines, entries, block_end };
        added += add_entries(existing, pos, name, &new, insertions)?;
    }
    Ok(added)
}

/// The entries of one imported service, in the imported text.
struct NewEntries<'a> {
    lines: &'a [&'a str],
    entries: &'a [(yaml::Node, yaml::Node)],
    /// The line index where the imported service's block ends.
    block_end: usize,
}

/// Adds to existing service number `pos` the imported entries it lacks; returns how many.
fn add_entries(
    existing: &Existing,
    pos: usize,
    name: &str,
    new: &NewEntries,
    insertions: &mut Vec<Insertion>,
) -> Result<usize, String> {
    let (have_key, have) = &existing.services[pos];
    let fields = have.as_map().unwrap_or_default();
    let have_secrets = have.get_entry("secrets");
    let entry_list = have_secrets.and_then(|(_, v)| v.as_map()).unwrap_or_default();
    let block_map = |(k, v): (&yaml::Node, &yaml::Node)| match v.as_map() {
        Some(m) => !flow(k, m),
        None => v.value == yaml::Value::Null,
    };
    if have_secrets.is_some_and(|e| !block_map(e)) {
        return Err(format!(
            "--merge cannot add entries to the `secrets:` of service `{name}`: it is not a \
             block mapping"
        ));
    }
    // The entries go after the last line of `secrets:`, before the next key of the service or
    // the next service.
    let next_service =
        existing.services.get(pos + 1).map_or(existing.lines.len(), |(k, _)| k.span.line - 1);
    let secrets_pos = fields.iter().position(|(k, _)| k.as_str() == Some("secrets"));
    let bound =
        secrets_pos.and_then(|p| fields.get(p + 1)).map_or(next_service, |(k, _)| k.span.line - 1);
    let end = last_content_line(&existing.lines, bound);
    let field_indent = fields.first().map_or(have_key.span.column + 1, |(k, _)| k.span.column - 1);
    let entry_indent = entry_list.first().map_or(field_indent + 2, |(k, _)| k.span.column - 1);
    let mut header = have_secrets.is_none();
    let mut added = 0;
    for (j, (target, _)) in new.entries.iter().enumerate() {
        let t = target.scalar_text().unwrap_or_default();
        if entry_list.iter().any(|(k, _)| k.scalar_text().as_deref() == Some(t.as_str())) {
            continue;
        }
        let entry_end = new.entries.get(j + 1).map_or(new.block_end, |(k, _)| k.span.line - 1);
        let mut block = String::new();
        if std::mem::take(&mut header) {
            block.push_str(&format!("{}secrets:\n", " ".repeat(field_indent)));
        }
        let lines = &new.lines[comments_above(new.lines, target.span.line - 1)
            ..last_content_line(new.lines, entry_end)];
        block.push_str(&reindent(lines, entry_indent, 6, existing.step));
        insertions.push(Insertion { line: end, order: 0, text: block });
        added += 1;
    }
    Ok(added)
}

/// The existing text with the insertions made, in its line endings.
fn apply(existing_text: &str, mut insertions: Vec<Insertion>) -> String {
    insertions.sort_by_key(|i| (i.line, i.order));
    let eol = if existing_text.contains("\r\n") { "\r\n" } else { "\n" };
    let mut out = String::new();
    let mut pending = insertions.into_iter().peekable();
    for (i, piece) in existing_text.split_inclusive('\n').enumerate() {
        while let Some(insertion) = pending.next_if(|ins| ins.line <= i) {
            push_lines(&mut out, &insertion.text, eol);
        }
        out.push_str(piece);
    }
    if pending.peek().is_some() && !out.is_empty() && !out.ends_with('\n') {
        out.push_str(eol);
    }
    for insertion in pending {
        push_lines(&mut out, &insertion.text, eol);
    }
    out
}

/// The first line of the comments written right above line index `line`.
fn comments_above(lines: &[&str], mut line: usize) -> usize {
    while line > 0 && lines[line - 1].trim_start().starts_with('#') {
        line -= 1;
    }
    line
}

/// Lines of the written manifest (indented by two per level), moved from indentation `from` to
/// indentation `to`, each deeper level indented by `step` as in the manifest they go into.
fn reindent(lines: &[&str], to: usize, from: usize, step: usize) -> String {
    let mut out = String::new();
    for line in lines {
        let spaces = line.len() - line.trim_start_matches(' ').len();
        let deeper = spaces.saturating_sub(from);
        let moved = if spaces >= from { to + deeper / 2 * step + deeper % 2 } else { spaces };
        out.push_str(&" ".repeat(moved));
        out.push_str(line.trim_start_matches(' '));
        out.push('\n');
    }
    out
}

fn push_lines(out: &mut String, block: &str, eol: &str) {
    for line in block.lines() {
        out.push_str(line);
        out.push_str(eol);
    }
}

/// The index after the last non-blank, non-comment line before `end`.
fn last_content_line(lines: &[&str], end: usize) -> usize {
    let mut end = end.min(lines.len());
    while end > 0
        && (lines[end - 1].trim().is_empty() || lines[end - 1].trim_start().starts_with('#'))
    {
        end -= 1;
    }
    end
}

#[cfg(test)]
mod tests {
    use super::{comment, yaml_scalar};
    use crate::yaml::{self, Value};
    use proptest::prelude::*;

    /// Reads `key: SCALAR` back.
    fn read_back(scalar: &str) -> Value {
        let text = format!("key: {scalar}\n");
        let tree = yaml::parse(text.as_bytes())
            .unwrap_or_else(|e| panic!("`{text}` is not YAML: {}", e.message));
        tree.get("key").expect("the key").value.clone()
    }

    /// Regression: Rust's `{:?}` wrote a zero-width space as `\u{200b}`, which is no YAML
    /// escape, so the manifest did not parse.
    #[test]
    fn invisible_characters_are_yaml_escapes() {
        assert_eq!(yaml_scalar("api\u{200b}key"), "\"api\\u200Bkey\"");
        assert_eq!(yaml_scalar("bell\u{7}"), "\"bell\\x07\"");
        assert_eq!(yaml_scalar("x\u{1F600}"), "\"x\\U0001F600\"");
        assert_eq!(yaml_scalar("2024"), "\"2024\"");
        assert_eq!(yaml_scalar("déploiement"), "\"déploiement\"");
        assert_eq!(yaml_scalar("api-key"), "api-key");
    }

    proptest! {
        /// Any string, written as a scalar, reads back as the same string.
        #[test]
        fn every_string_reads_back(text in any::<String>()) {
            prop_assert_eq!(read_back(&yaml_scalar(&text)), Value::Str(text));
        }

        /// Any text in a comment leaves the document valid and the comment on one line.
        #[test]
        fn every_comment_stays_a_comment(text in any::<String>()) {
            let line = comment(2, &text);
            prop_assert_eq!(line.matches('\n').count(), 1);
            let document = format!("key: 1\n{line}other: 2\n");
            let tree = yaml::parse(document.as_bytes());
            prop_assert!(tree.is_ok(), "{:?}", document);
            let other = tree.unwrap().get("other").map(|n| n.value.clone());
            prop_assert_eq!(other, Some(Value::Int(2)));
        }
    }
}

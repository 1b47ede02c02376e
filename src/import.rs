//! `import`: a manifest written from the Cloud Run specs a team already has.
//!
//! Every `secretKeyRef` and secret volume of a service's target container becomes an entry;
//! specs of one service in several environments merge into one entry, with `{env}` where the
//! names differ only by the environment. Guesses (the class, the project) are marked with
//! comments. Credentials written as literal values are never imported: they are listed as
//! `plaintext-secret` findings with the entry to create instead.

use crate::diagnostic::Diagnostic;
use crate::rules::plaintext_secret;
use crate::source::{FileId, Sources, display_path};
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
/// `<env>/<service>.yaml` (or `.yml`, `.json`).
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
            let env =
                env_dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            let mut files: Vec<PathBuf> = std::fs::read_dir(&env_dir)?
                .filter_map(|e| Some(e.ok()?.path()))
                .filter(|p| {
                    p.is_file()
                        && matches!(
                            p.extension().and_then(|e| e.to_str()),
                            Some("yaml" | "yml" | "json")
                        )
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
}

/// Settings of the import.
#[derive(Clone, Debug)]
pub struct ImportOptions {
    /// The folder the manifest will live in; spec paths are written relative to it.
    pub base: PathBuf,
    pub project: Option<String>,
    pub region: String,
}

/// Reads the specs and writes the manifest.
pub fn import(inputs: &[Input], options: &ImportOptions) -> Imported {
    let mut sources = Sources::default();
    let mut diagnostics = Vec::new();
    let mut services: BTreeMap<String, ServiceImport> = BTreeMap::new();
    let mut suggestions: Vec<String> = Vec::new();
    let mut envs: Vec<String> = Vec::new();
    for input in inputs {
        let Some((file, spec)) = read(&mut sources, &mut diagnostics, input, &options.base) else {
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
    Imported { manifest, diagnostics, sources }
}

fn read(
    sources: &mut Sources,
    out: &mut Vec<Diagnostic>,
    input: &Input,
    base: &Path,
) -> Option<(FileId, ServiceSpec)> {
    let read = match &input.content {
        Some(content) => Ok(content.clone()),
        None => std::fs::read(&input.path),
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
    let absolute = std::path::absolute(&input.path).unwrap_or_else(|_| input.path.clone());
    let shown = relative_to(base, &absolute);
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

/// A path relative to `base`, going up with `..` when needed.
fn relative_to(base: &Path, path: &Path) -> String {
    let base = std::path::absolute(base).unwrap_or_else(|_| base.to_path_buf());
    let common = base.components().zip(path.components()).take_while(|(a, b)| a == b).count();
    let ups = base.components().count() - common;
    let mut out: Vec<String> = vec!["..".to_string(); ups];
    out.extend(
        path.components().skip(common).map(|c| c.as_os_str().to_string_lossy().into_owned()),
    );
    if out.is_empty() { display_path(&base, path) } else { out.join("/") }
}

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
    for (i, container) in spec.containers.iter().enumerate() {
        for var in &container.env {
            let Some(value) = &var.value else { continue };
            let Some(reason) =
                plaintext_secret::looks_like_credential(&var.name.value, &value.value)
            else {
                continue;
            };
            let message = format!(
                "{} of `{name}` sets `{}` as a plaintext value ({reason}); it was not imported",
                container.label(i),
                var.name.value
            );
            let mut d = Diagnostic::new(&plaintext_secret::RULE, message)
                .at(spec.file, value.span, "plaintext value (hidden)")
                .help("store it in Secret Manager, then add the suggested entry at the end of the manifest")
                .env(Some(env))
                .service(Some(name))
                .target(Some(&var.name.value));
            d.redact.push((spec.file, value.span));
            out.push(d);
            let id = var.name.value.to_ascii_lowercase().replace('_', "-");
            let suggestion = format!(
                "#   {name}: {}: {{secret: {id}, class: {}}}",
                var.name.value,
                suggest_class(&var.name.value)
            );
            if !suggestions.contains(&suggestion) {
                suggestions.push(suggestion);
            }
        }
    }
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
fn merge_values(by_env: &BTreeMap<String, String>, all_envs: usize) -> String {
    let values: Vec<&String> = by_env.values().collect();
    if by_env.len() == all_envs && values.iter().all(|v| *v == values[0]) {
        return yaml_scalar(values[0]);
    }
    let templated: Vec<String> =
        by_env.iter().map(|(env, v)| v.replace(env.as_str(), "{env}")).collect();
    let differs = values.iter().any(|v| *v != values[0]);
    if by_env.len() == all_envs
        && differs
        && templated.iter().all(|t| t == &templated[0] && t.contains("{env}"))
    {
        return yaml_scalar(&templated[0]);
    }
    let pairs: Vec<String> =
        by_env.iter().map(|(e, v)| format!("{}: {}", yaml_key(e), yaml_scalar(v))).collect();
    format!("{{{}}}", pairs.join(", "))
}

/// A mapping key or list item naming an environment or a service: the manifest wants strings,
/// so a name YAML would read as a number (a folder `2024`) is quoted.
fn yaml_key(text: &str) -> String {
    if text.starts_with(|c: char| c.is_ascii_digit()) {
        format!("{text:?}")
    } else {
        yaml_scalar(text)
    }
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

/// A string as a YAML scalar, quoted when a plain scalar would be read as something else.
fn yaml_scalar(text: &str) -> String {
    let plain = !text.is_empty()
        && text.chars().all(|c| c.is_ascii_alphanumeric() || "-_./@".contains(c))
        && !text.starts_with(['-', '.', '@'])
        && !matches!(text, "true" | "false" | "null" | "yes" | "no" | "on" | "off" | "~");
    if plain { text.to_string() } else { format!("{:?}", text) }
}

fn write(
    envs: &[String],
    services: &BTreeMap<String, ServiceImport>,
    suggestions: &[String],
    options: &ImportOptions,
) -> String {
    let mut out = String::from(
        "# Written by `secretgate import`. Review the comments marked GUESS, then run\n# `secretgate lint` and `secretgate check`.\nversion: 1\n\nenvironments:",
    );
    out.push_str(if envs.is_empty() { " {}\n" } else { "\n" });
    let project = options.project.clone().unwrap_or_else(|| "PROJECT_ID".to_string());
    for env in envs {
        out.push_str(&format!("  {}:\n", yaml_key(env)));
        let guess = if options.project.is_none() { "  # GUESS: set the project id" } else { "" };
        let project =
            if options.project.is_none() { format!("{project}-{env}") } else { project.clone() };
        out.push_str(&format!("    project: {}{guess}\n", yaml_scalar(&project)));
        out.push_str(&format!("    region: {}\n", yaml_scalar(&options.region)));
    }
    out.push_str(if services.is_empty() { "\nservices: {}\n" } else { "\nservices:\n" });
    for (name, service) in services {
        for note in &service.notes {
            out.push_str(&format!("  # {note}\n"));
        }
        out.push_str(&format!("  {}:\n", yaml_key(name)));
        let specs: BTreeMap<String, String> = service.specs.clone();
        out.push_str(&format!("    spec: {}\n", merge_values(&specs, envs.len())));
        if let Some(container) = &service.container {
            out.push_str(&format!("    container: {}\n", yaml_scalar(container)));
        }
        if service.specs.len() < envs.len() {
            let list: Vec<String> = service.specs.keys().map(|e| yaml_key(e)).collect();
            out.push_str(&format!("    environments: [{}]\n", list.join(", ")));
        }
        if service.entries.is_empty() {
            continue;
        }
        out.push_str("    secrets:\n");
        for (target, by_env) in &service.entries {
            let count = service.specs.len();
            let mut secrets: BTreeMap<String, String> =
                by_env.iter().map(|(e, f)| (e.clone(), f.secret.clone())).collect();
            let mut versions: BTreeMap<String, String> =
                by_env.iter().map(|(e, f)| (e.clone(), f.version.clone())).collect();
            if by_env.len() < count {
                let missing: Vec<&String> =
                    service.specs.keys().filter(|e| !by_env.contains_key(*e)).collect();
                out.push_str(&format!(
                    "      # GAP: not mapped today in {}\n",
                    missing.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
                ));
                // The entry will apply there too, and a per-environment map must name every
                // environment: guess the name from the others, and `latest`.
                for env in missing {
                    secrets.insert(env.clone(), guess_secret(by_env, env));
                    versions.insert(env.clone(), "latest".to_string());
                }
            }
            out.push_str(&format!("      {}:\n", yaml_scalar(target)));
            let guessed =
                if by_env.len() < count { "  # GUESS where not mapped today" } else { "" };
            out.push_str(&format!(
                "        secret: {}{guessed}\n",
                merge_values(&secrets, secrets.len())
            ));
            let version = merge_values(&versions, versions.len());
            if version != "latest" {
                out.push_str(&format!("        version: {version}\n"));
            }
            out.push_str(&format!(
                "        class: {}  # GUESS: suggested from the name\n",
                suggest_class(target)
            ));
        }
    }
    if !suggestions.is_empty() {
        out.push_str("\n# Plaintext values found in the specs (not imported). Store each in Secret Manager,\n# remove it from the spec, and add an entry such as:\n");
        for s in suggestions {
            out.push_str(s);
            out.push('\n');
        }
    }
    out
}

/// The manifest entries `new` has and `existing` lacks, appended to the existing text: whole
/// services at the end of `services:`, entries at the end of their service's `secrets:`.
pub fn merge(existing_text: &str, imported_text: &str) -> Result<(String, usize), String> {
    let existing = yaml::parse(existing_text.as_bytes())
        .map_err(|e| format!("the existing manifest is not valid YAML: {}", e.message))?;
    let imported = yaml::parse(imported_text.as_bytes()).map_err(|e| e.message)?;
    let services = existing
        .get("services")
        .and_then(|s| s.as_map())
        .ok_or("the existing manifest has no `services:` mapping")?;
    let last_top = existing.as_map().and_then(|m| m.last()).and_then(|(k, _)| k.as_str());
    if last_top != Some("services") {
        return Err(
            "--merge needs `services:` to be the last top-level key of the existing manifest"
                .into(),
        );
    }
    let new_services = imported.get("services").and_then(|s| s.as_map()).unwrap_or_default();
    let lines: Vec<&str> = imported_text.lines().collect();
    let mut insertions: Vec<(usize, String)> = Vec::new();
    let mut added = 0;
    let existing_lines: Vec<&str> = existing_text.lines().collect();
    for (i, (key, value)) in new_services.iter().enumerate() {
        let name = key.as_str().unwrap_or_default();
        let block_end = new_services.get(i + 1).map_or(lines.len(), |(k, _)| k.span.line - 1);
        match services.iter().position(|(k, _)| k.as_str() == Some(name)) {
            None => {
                let block = lines[key.span.line - 1..block_end].join("\n");
                insertions.push((existing_lines.len(), block));
                added += 1;
            }
            Some(pos) => {
                let (_, have) = &services[pos];
                let Some(entries) = value.get("secrets").and_then(|s| s.as_map()) else { continue };
                let have_secrets = have.get("secrets").and_then(|s| s.as_map()).unwrap_or_default();
                let next_line =
                    services.get(pos + 1).map_or(existing_lines.len(), |(k, _)| k.span.line - 1);
                let end = last_content_line(&existing_lines, next_line);
                for (j, (target, _)) in entries.iter().enumerate() {
                    let t = target.scalar_text().unwrap_or_default();
                    if have_secrets
                        .iter()
                        .any(|(k, _)| k.scalar_text().as_deref() == Some(t.as_str()))
                    {
                        continue;
                    }
                    let entry_end = entries.get(j + 1).map_or(block_end, |(k, _)| k.span.line - 1);
                    let mut block = String::new();
                    if have.get("secrets").is_none() && !insertions.iter().any(|(l, _)| *l == end) {
                        block.push_str("    secrets:\n");
                    }
                    block.push_str(
                        &lines[target.span.line - 1..last_content_line(&lines, entry_end)]
                            .join("\n"),
                    );
                    insertions.push((end, block));
                    added += 1;
                }
            }
        }
    }
    let mut out: Vec<String> = existing_lines.iter().map(|l| l.to_string()).collect();
    insertions.sort_by_key(|(line, _)| std::cmp::Reverse(*line));
    for (line, block) in insertions {
        out.insert(line.min(out.len()), block);
    }
    let mut text = out.join("\n");
    text.push('\n');
    Ok((text, added))
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

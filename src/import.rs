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
            let env =
                env_dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
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
    Imported { manifest, diagnostics, sources, services: services.len() }
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
                .help(
                    "store it in Secret Manager, then add the suggested entry at the end of the \
                    manifest",
                )
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

/// A string as a YAML scalar, quoted when a plain scalar would be read as something else (a
/// number such as `2024` or `1e5`, a boolean, null).
fn yaml_scalar(text: &str) -> String {
    let lower = text.to_ascii_lowercase();
    let plain = !text.is_empty()
        && text.chars().all(|c| c.is_ascii_alphanumeric() || "-_./@".contains(c))
        && !text.starts_with(['-', '.', '@'])
        && !text.starts_with(|c: char| c.is_ascii_digit())
        && !matches!(lower.as_str(), "true" | "false" | "null" | "yes" | "no" | "on" | "off");
    if plain { text.to_string() } else { format!("{:?}", text) }
}

/// A version: a number stays a plain number.
fn version_scalar(text: &str) -> String {
    let number = !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
    if number { text.to_string() } else { yaml_scalar(text) }
}

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
    out.push_str(if envs.is_empty() { " {}\n" } else { "\n" });
    let project = options.project.clone().unwrap_or_else(|| "PROJECT_ID".to_string());
    for env in envs {
        out.push_str(&format!("  {}:\n", yaml_scalar(env)));
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
        out.push_str(&format!("  {}:\n", yaml_scalar(name)));
        let specs: BTreeMap<String, String> = service.specs.clone();
        out.push_str(&format!("    spec: {}\n", merge_values(&specs, envs.len(), yaml_scalar)));
        if let Some(container) = &service.container {
            out.push_str(&format!("    container: {}\n", yaml_scalar(container)));
        }
        if service.specs.len() < envs.len() {
            let list: Vec<String> = service.specs.keys().map(|e| yaml_scalar(e)).collect();
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
                    "      # GAP: not mapped today in {} (GUESS: the secret there)\n",
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
            out.push_str(&format!(
                "        secret: {}\n",
                merge_values(&secrets, secrets.len(), yaml_scalar)
            ));
            let version = merge_values(&versions, versions.len(), version_scalar);
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
        out.push_str(
            "\n# Plaintext values found in the specs (not imported). Store each in \
            Secret Manager,\n# remove it from the spec, and add an entry such as:\n",
        );
        for s in suggestions {
            out.push_str(s);
            out.push('\n');
        }
    }
    out
}

/// The manifest entries `new` has and `existing` lacks, added to the existing text: whole
/// services at the end of `services:`, entries at the end of their service's `secrets:`,
/// indented like the existing manifest. Existing lines are kept byte for byte.
pub fn merge(existing_text: &str, imported_text: &str) -> Result<(String, usize), String> {
    let existing = yaml::parse(existing_text.as_bytes()).map_err(|e| {
        format!(
            "the existing manifest is not valid YAML at line {}, column {}: {}",
            e.span.line, e.span.column, e.message
        )
    })?;
    let imported = yaml::parse(imported_text.as_bytes()).map_err(|e| e.message)?;
    let (services_key, services_node) = existing
        .get_entry("services")
        .filter(|(_, v)| v.as_map().is_some() || v.value == yaml::Value::Null)
        .ok_or("the existing manifest has no `services:` mapping")?;
    // `services:` with nothing after it is an empty block: services go below it.
    let empty_block = services_node.value == yaml::Value::Null;
    let services = services_node.as_map().unwrap_or_default();
    let last_top = existing.as_map().and_then(|m| m.last()).and_then(|(k, _)| k.as_str());
    if last_top != Some("services") {
        return Err(
            "--merge needs `services:` to be the last top-level key of the existing manifest"
                .into(),
        );
    }
    let flow = |key: &yaml::Node, map: &[(yaml::Node, yaml::Node)]| {
        map.first().is_none_or(|(k, _)| k.span.line == key.span.line)
    };
    let known = existing.get("environments").and_then(|e| e.as_map()).unwrap_or_default();
    let imported_envs = imported.get("environments").and_then(|e| e.as_map()).unwrap_or_default();
    let unknown: Vec<String> = imported_envs
        .iter()
        .filter_map(|(k, _)| k.scalar_text())
        .filter(|env| !known.iter().any(|(k, _)| k.scalar_text().as_deref() == Some(env)))
        .collect();
    if !unknown.is_empty() {
        // Entries naming these environments would not lint; adding environments means
        // choosing their projects, which is the user's call.
        return Err(format!(
            "the imported specs use environment(s) {} that the existing manifest does not \
             declare; add them under `environments:` first, then merge again",
            unknown.iter().map(|e| format!("`{e}`")).collect::<Vec<_>>().join(", ")
        ));
    }
    let new_services = imported.get("services").and_then(|s| s.as_map()).unwrap_or_default();
    let lines: Vec<&str> = imported_text.lines().collect();
    let existing_lines: Vec<&str> = existing_text.lines().collect();
    // (line index to insert before, entries before services at one place, text)
    let mut insertions: Vec<(usize, u8, String)> = Vec::new();
    let mut added = 0;
    let service_indent = services.first().map_or(2, |(k, _)| k.span.column - 1);
    // The manifest's indentation step, taken from its services; the written manifest uses two.
    let step = if service_indent > 0 { service_indent } else { 2 };
    for (i, (key, value)) in new_services.iter().enumerate() {
        let name = key.as_str().unwrap_or_default();
        let block_end = new_services.get(i + 1).map_or(lines.len(), |(k, _)| k.span.line - 1);
        let Some(pos) = services.iter().position(|(k, _)| k.as_str() == Some(name)) else {
            if !empty_block && flow(services_key, services) {
                return Err("--merge cannot add services to an empty or flow-style `services:`; \
                    use --force to replace the manifest"
                    .into());
            }
            let block = &lines
                [comments_above(&lines, key.span.line - 1)..last_content_line(&lines, block_end)];
            insertions.push((existing_lines.len(), 1, reindent(block, service_indent, 2, step)));
            added += 1;
            continue;
        };
        let (have_key, have) = &services[pos];
        let Some(entries) = value.get("secrets").and_then(|s| s.as_map()) else { continue };
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
        // The entries go after the last line of `secrets:`, before the next key of the service
        // or the next service.
        let next_service =
            services.get(pos + 1).map_or(existing_lines.len(), |(k, _)| k.span.line - 1);
        let secrets_pos = fields.iter().position(|(k, _)| k.as_str() == Some("secrets"));
        let bound = secrets_pos
            .and_then(|p| fields.get(p + 1))
            .map_or(next_service, |(k, _)| k.span.line - 1);
        let end = last_content_line(&existing_lines, bound);
        let field_indent =
            fields.first().map_or(have_key.span.column + 1, |(k, _)| k.span.column - 1);
        let entry_indent = entry_list.first().map_or(field_indent + 2, |(k, _)| k.span.column - 1);
        let mut header = have_secrets.is_none();
        for (j, (target, _)) in entries.iter().enumerate() {
            let t = target.scalar_text().unwrap_or_default();
            if entry_list.iter().any(|(k, _)| k.scalar_text().as_deref() == Some(t.as_str())) {
                continue;
            }
            let entry_end = entries.get(j + 1).map_or(block_end, |(k, _)| k.span.line - 1);
            let mut block = String::new();
            if std::mem::take(&mut header) {
                block.push_str(&format!("{}secrets:\n", " ".repeat(field_indent)));
            }
            let lines = &lines[comments_above(&lines, target.span.line - 1)
                ..last_content_line(&lines, entry_end)];
            block.push_str(&reindent(lines, entry_indent, 6, step));
            insertions.push((end, 0, block));
            added += 1;
        }
    }
    // Insert in order: at one place, entries of an existing service before new services, and
    // each in the order it was found.
    insertions.sort_by_key(|(line, kind, _)| (*line, *kind));
    let eol = if existing_text.contains("\r\n") { "\r\n" } else { "\n" };
    let mut out = String::new();
    let mut pending = insertions.into_iter().peekable();
    for (i, piece) in existing_text.split_inclusive('\n').enumerate() {
        while let Some((_, _, block)) = pending.next_if(|(line, _, _)| *line <= i) {
            push_lines(&mut out, &block, eol);
        }
        out.push_str(piece);
    }
    if pending.peek().is_some() && !out.is_empty() && !out.ends_with('\n') {
        out.push_str(eol);
    }
    for (_, _, block) in pending {
        push_lines(&mut out, &block, eol);
    }
    Ok((out, added))
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

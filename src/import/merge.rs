//! `import --merge`: the entries an imported manifest has and an existing one lacks, added to
//! the existing text as lines, so that every line already there is kept byte for byte.

use super::DEFAULT_REGION;
use super::scalar::{escape, yaml_scalar};
use crate::yaml;

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

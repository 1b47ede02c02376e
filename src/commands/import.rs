//! `secretgate import`.

use super::output;
use crate::cli::{Cli, ImportArgs, ImportCommand, ImportItem};
use crate::diagnostic::Diagnostic;
use crate::error::{Error, exit};
use crate::import::{self, ImportOptions, MergeOptions, Merged};
use crate::lint;
use crate::manifest::{valid_environment_name, valid_project, valid_region, valid_service_name};
use crate::source::{Sources, read_text};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub fn run(cli: &Cli, command: &ImportCommand) -> Result<u8, Error> {
    let args = &command.args;
    check_paths(args)?;
    check_names(args)?;
    let base = manifest_folder(args);
    let inputs = gather_inputs(command, &base)?;
    let existing = read_existing(args)?;
    let options = ImportOptions {
        base,
        project: args.project.clone(),
        region: args.region.clone().unwrap_or_else(|| import::DEFAULT_REGION.to_string()),
        known_envs: existing.as_deref().map(import::declared_environments).unwrap_or_default(),
    };
    let imported =
        import::import(&inputs, &options).map_err(|e| e.noting("nothing was written"))?;
    let findings = imported.diagnostics.len();
    tracing::info!(specs = inputs.len(), findings, "specs imported");
    if !imported.diagnostics.is_empty() {
        let color = super::use_color(cli.color, std::io::stderr().is_terminal());
        let text = crate::report::human::render(&imported.diagnostics, &imported.sources, color);
        note!("{text}");
    }
    if imported.services == 0 {
        return Err(Error::Usage {
            message: "no Cloud Run service found in the inputs; nothing was written".into(),
            help: Some(
                "give files exported with `gcloud run services describe NAME --format export`, \
                 or folders laid out as <env>/<service>.yaml"
                    .into(),
            ),
        });
    }
    let text = match existing {
        Some(existing) => merge(cli, args, &existing, &imported.manifest)?,
        None => imported.manifest,
    };
    write_live_specs(&inputs)?;
    write_manifest(cli, args, &text)?;
    Ok(exit::OK)
}

/// Refuses an output that exists (without `--force` or `--merge`) and inputs that do not.
fn check_paths(args: &ImportArgs) -> Result<(), Error> {
    if args.output != Path::new("-") && args.output.exists() && !args.force && !args.merge {
        return Err(Error::Usage {
            message: format!("{} exists; nothing was written", args.output.display()),
            help: Some("pass --force to overwrite it, or --merge to add only what it lacks".into()),
        });
    }
    if let Some(missing) = args.inputs.iter().find(|p| !p.exists()) {
        return Err(Error::Usage {
            message: format!("{} does not exist; nothing was written", missing.display()),
            help: Some("give spec files, or folders laid out as <env>/<service>.yaml".into()),
        });
    }
    Ok(())
}

/// The folder the manifest goes to: spec paths are written relative to it.
fn manifest_folder(args: &ImportArgs) -> PathBuf {
    if args.output == Path::new("-") {
        return std::env::current_dir().unwrap_or_default();
    }
    args.output
        .parent()
        .map(Path::to_path_buf)
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or_else(|| ".".into())
}

/// The spec files to import, each with its environment: those given, those found in the
/// folders given, and with `--live` the services as deployed.
fn gather_inputs(command: &ImportCommand, base: &Path) -> Result<Vec<import::Input>, Error> {
    let mut inputs = Vec::new();
    for (path, env) in place_environments(&command.items)? {
        let env = env.unwrap_or_default();
        let found = import::inputs(std::slice::from_ref(&path), &env)
            .map_err(|e| e.noting("nothing was written"))?;
        inputs.extend(found);
    }
    if command.args.live {
        inputs.extend(live_inputs(&command.args, base)?);
    }
    Ok(read_once(inputs))
}

/// The inputs without repeats: a file reached twice in one environment (a folder and a file in
/// it, a folder given twice) is one spec, not two specs of its service. When one of the two is
/// a live service to be written there, it is the live service that is read.
fn read_once(inputs: Vec<import::Input>) -> Vec<import::Input> {
    let mut seen = std::collections::HashMap::new();
    let mut out: Vec<import::Input> = Vec::new();
    for input in inputs {
        let file = std::fs::canonicalize(&input.path).unwrap_or_else(|_| input.path.clone());
        match seen.entry((input.env.clone(), file)) {
            std::collections::hash_map::Entry::Occupied(at) => {
                let kept: &mut import::Input = &mut out[*at.get()];
                if input.content.is_some() {
                    *kept = input;
                }
            }
            std::collections::hash_map::Entry::Vacant(at) => {
                at.insert(out.len());
                out.push(input);
            }
        }
    }
    out
}

/// The manifest to merge into, with `--merge` when it exists.
fn read_existing(args: &ImportArgs) -> Result<Option<String>, Error> {
    if !args.merge || !args.output.exists() {
        return Ok(None);
    }
    let text = read_text(&args.output, crate::yaml::MAX_FILE_BYTES).map_err(|e| Error::Usage {
        message: format!("cannot read {} to merge into it: {e}", args.output.display()),
        help: None,
    })?;
    Ok(Some(text))
}

/// The errors of a manifest text of its own (see [`lint::manifest_errors`]): the existing
/// manifest, or with `as_merged` the result of the merge.
fn manifest_errors(output: &Path, text: &str, as_merged: bool) -> (Sources, Vec<Diagnostic>) {
    let shown = format!("{}{}", output.display(), if as_merged { " (as merged)" } else { "" });
    lint::manifest_errors(&shown, text)
}

/// Refuses a manifest text with errors of its own, showing them: the existing manifest, or with
/// `as_merged` the result of the merge. Nothing is written.
fn refuse_errors(
    cli: &Cli,
    output: &Path,
    (sources, errors): &(Sources, Vec<Diagnostic>),
    as_merged: bool,
) -> Result<(), Error> {
    if errors.is_empty() {
        return Ok(());
    }
    let color = super::use_color(cli.color, std::io::stderr().is_terminal());
    note!("{}", crate::report::human::render(errors, sources, color));
    let (message, help) = if as_merged {
        (
            format!("merging would give {} the errors above", output.display()),
            "fix what they point at in the specs or in the manifest, then merge again",
        )
    } else {
        (
            format!("{} has errors, so --merge cannot tell where entries go", output.display()),
            "fix the errors above (`secretgate lint` shows them too), then merge again",
        )
    };
    Err(Error::Usage { message, help: Some(help.into()) }.noting("nothing was written"))
}

/// Merges the imported manifest into the existing one and says on stderr what was added.
fn merge(cli: &Cli, args: &ImportArgs, existing: &str, imported: &str) -> Result<String, Error> {
    // Services read with --live come from one region: an environment they add is in it.
    let live_region = args.live.then(|| import::DEFAULT_REGION.to_string());
    let region = args.region.clone().or(live_region);
    let options = MergeOptions { project: args.project.clone(), region };
    let merged = import::merge(existing, imported, &options);
    let merged_errors = merged.as_ref().ok().map(|m| manifest_errors(&args.output, &m.text, true));
    // When the merge fails or gives a manifest with errors, and the manifest had errors of its
    // own, those are what to fix first. One it has is mended by the merge: an empty `services:`.
    if merged_errors.as_ref().is_none_or(|(_, errors)| !errors.is_empty()) {
        let own = manifest_errors(&args.output, existing, false);
        refuse_errors(cli, &args.output, &own, false)?;
    }
    let merged = merged.map_err(|message| Error::Usage { message, help: None })?;
    if let Some(errors) = &merged_errors {
        refuse_errors(cli, &args.output, errors, true)?;
    }
    if !cli.quiet {
        note!("{}", merge_summary(&merged, &args.output));
    }
    Ok(merged.text)
}

fn merge_summary(merged: &Merged, output: &Path) -> String {
    let shown = output.display();
    let mut text = String::new();
    for env in &merged.environments {
        let guess = if env.guessed { " (GUESS: check the project)" } else { "" };
        text.push_str(&format!(
            "environment `{}` added to {shown}: project {}{guess}, region {}\n",
            env.name, env.project, env.region
        ));
    }
    for kept in &merged.kept {
        let envs = kept.seen_in.join(", ");
        text.push_str(&format!(
            "note: the specs show `{}` in {envs} too; {shown} keeps it to the environments it \
             had: add {envs} to its `environments:` once its entries fit there\n",
            kept.name,
        ));
    }
    text.push_str(&format!("{} service(s) or entries added to {shown}\n", merged.added));
    text
}

/// Writes the manifest to `-o FILE`, or to standard output for `-o -`.
fn write_manifest(cli: &Cli, args: &ImportArgs, text: &str) -> Result<(), Error> {
    let to_file = args.output != Path::new("-");
    output::write_to(to_file.then_some(args.output.as_path()), text)?;
    if to_file && !cli.quiet {
        noteln!(
            "wrote {}; check it with `secretgate --manifest {} lint`",
            args.output.display(),
            args.output.display()
        );
    }
    Ok(())
}

/// Each spec file or folder with the environment of its `--env` (`None` for folders, whose
/// subfolders name theirs). One `--env` applies to every file. With several, each file must be
/// tied to exactly one: either every `--env` comes before its files or every one after them.
/// Anything else is refused rather than guessed, since a file imported under the wrong
/// environment would put one environment's secrets in another's entries.
fn place_environments(items: &[ImportItem]) -> Result<Vec<(PathBuf, Option<String>)>, Error> {
    let is_file = |item: &ImportItem| matches!(item, ImportItem::Input(p) if !p.is_dir());
    let envs: Vec<&String> = items
        .iter()
        .filter_map(|item| match item {
            ImportItem::Env(env) => Some(env),
            ImportItem::Input(_) => None,
        })
        .collect();
    let placed: Vec<Option<String>> = if envs.len() <= 1 {
        let env = envs.first().map_or_else(|| "default".to_string(), |e| e.to_string());
        items.iter().map(|item| is_file(item).then(|| env.clone())).collect()
    } else {
        // Folders take no `--env`: only files and `--env` decide which way they are tied.
        let relevant: Vec<usize> = (0..items.len()).filter(|i| !is_folder(&items[*i])).collect();
        let is_env = |i: Option<&usize>| i.is_some_and(|i| matches!(items[*i], ImportItem::Env(_)));
        match (is_env(relevant.first()), is_env(relevant.last())) {
            (true, _) => tie(items, relevant.iter().copied())?,
            (false, true) => tie(items, relevant.iter().rev().copied())?,
            (false, false) => return Err(untied_file(items)),
        }
    };
    let inputs = items.iter().zip(placed).filter_map(|(item, env)| match item {
        ImportItem::Input(path) => Some((path.clone(), env)),
        ImportItem::Env(_) => None,
    });
    Ok(inputs.collect())
}

fn is_folder(item: &ImportItem) -> bool {
    matches!(item, ImportItem::Input(p) if p.is_dir())
}

/// The environment of each item (by index), walking `order`: each file takes the `--env` met
/// last. An `--env` followed by no file before the next one is refused.
fn tie(
    items: &[ImportItem],
    order: impl Iterator<Item = usize>,
) -> Result<Vec<Option<String>>, Error> {
    let mut placed = vec![None; items.len()];
    let mut current: Option<(&String, usize)> = None;
    for index in order {
        match &items[index] {
            ImportItem::Env(env) => {
                unused_env(current)?;
                current = Some((env, 0));
            }
            ImportItem::Input(_) => {
                let Some((env, count)) = current.as_mut() else { continue };
                *count += 1;
                placed[index] = Some(env.to_string());
            }
        }
    }
    unused_env(current)?;
    Ok(placed)
}

fn unused_env(current: Option<(&String, usize)>) -> Result<(), Error> {
    match current {
        Some((env, 0)) => {
            Err(untied(&format!("--env `{env}` applies to no spec file; nothing was written")))
        }
        _ => Ok(()),
    }
}

/// The error for files and several `--env` in an order that ties no file to one of them.
fn untied_file(items: &[ImportItem]) -> Error {
    let file = items.iter().find_map(|item| match item {
        ImportItem::Input(p) if !p.is_dir() => Some(p.display().to_string()),
        _ => None,
    });
    untied(&format!(
        "`{}` cannot be tied to one --env; nothing was written",
        file.unwrap_or_default()
    ))
}

fn untied(message: &str) -> Error {
    Error::Usage {
        message: message.to_string(),
        help: Some(
            "with several --env, write each before its files (`--env staging s/api.yaml --env \
             production p/api.yaml`) or each after them (`s/api.yaml --env staging p/api.yaml \
             --env production`)"
                .into(),
        ),
    }
}

/// Refuses, before anything is read or written, the option values that would produce a
/// manifest `lint` rejects: the imported manifest must pass it as written.
fn check_names(args: &ImportArgs) -> Result<(), Error> {
    let usage = |message: String, help: &str| Error::Usage { message, help: Some(help.into()) };
    if let Some(env) = args.envs.iter().find(|e| !valid_environment_name(e)) {
        return Err(usage(
            format!("`{env}` is not an environment name; nothing was written"),
            "use letters, digits, `-` and `_`, such as `staging` or `prod-eu`",
        ));
    }
    if args.live && args.envs.len() > 1 {
        return Err(usage(
            "--live reads the services of one environment; nothing was written".into(),
            "give one --env with --live, and import each environment in its own run",
        ));
    }
    if let Some(project) = args.project.as_deref().filter(|p| !valid_project(p)) {
        return Err(usage(
            format!("`{project}` is not a Google Cloud project id; nothing was written"),
            "use letters, digits, `-`, `_`, `.` and `:`, such as `shop-prod`",
        ));
    }
    if let Some(region) = args.region.as_deref().filter(|r| !valid_region(r)) {
        return Err(usage(
            format!("`{region}` is not a Cloud Run region; nothing was written"),
            "use a region such as `us-central1` or `europe-west4`",
        ));
    }
    if let Some(name) = args.services.iter().find(|s| !valid_service_name(s)) {
        return Err(usage(
            format!("`{name}` is not a Cloud Run service name; nothing was written"),
            "service names are lowercase letters, digits and `-`, starting with a letter",
        ));
    }
    Ok(())
}

/// The services as deployed now, in the form `gcloud run services describe --format export`
/// gives and with credentials masked, as they will be written to `deploy/<env>/<service>.yaml`
/// beside the manifest by [`write_live_specs`] once the import has succeeded, so that a
/// refused import or merge leaves no file behind. An existing file is refused unless
/// `--force`: it may differ from the live service, and importing it instead would be silent.
fn live_inputs(args: &ImportArgs, base: &Path) -> Result<Vec<import::Input>, Error> {
    let env = args.envs.first().cloned().unwrap_or_default();
    let paths: Vec<PathBuf> = args
        .services
        .iter()
        .map(|name| base.join("deploy").join(&env).join(format!("{name}.yaml")))
        .collect();
    if let Some(existing) = paths.iter().find(|p| p.exists()).filter(|_| !args.force) {
        return Err(Error::Usage {
            message: format!(
                "{} exists and may differ from the live service; nothing was written",
                existing.display()
            ),
            help: Some(format!(
                "pass --force to replace it with the live service, or import the file itself \
                 with `secretgate import {} --env {env}`",
                existing.display()
            )),
        });
    }
    let services = fetch_services(args)?;
    let mut inputs = Vec::new();
    for (path, service) in paths.into_iter().zip(services) {
        let text = import::export_form(&service).to_yaml().map_err(|e| Error::Usage {
            message: format!(
                "the live service cannot be written as YAML to {}: {e}",
                path.display()
            ),
            help: None,
        })?;
        inputs.push(import::Input { path, env: env.clone(), content: Some(text.into_bytes()) });
    }
    Ok(inputs)
}

/// Writes the specs of the live services (the inputs that carry their content) to their paths.
fn write_live_specs(inputs: &[import::Input]) -> Result<(), Error> {
    for input in inputs {
        let Some(content) = &input.content else { continue };
        let path = &input.path;
        let unwritable = |e: std::io::Error| output::unwritable(path, &e);
        if let Some(folder) = path.parent() {
            std::fs::create_dir_all(folder).map_err(unwritable)?;
        }
        std::fs::write(path, content).map_err(unwritable)?;
    }
    Ok(())
}

/// Reads each service named with `--service`, in `--project` and `--region`.
fn fetch_services(args: &ImportArgs) -> Result<Vec<serde_json::Value>, Error> {
    let project = args.project.clone().unwrap_or_default();
    let region = args.region.clone().unwrap_or_else(|| import::DEFAULT_REGION.to_string());
    let timeout = Duration::from_secs(crate::cli::DEFAULT_TIMEOUT_SECONDS);
    super::check::runtime()?.block_on(async {
        let client = crate::cloudrun::CloudRun::new(timeout)
            .map_err(|message| Error::Usage { message, help: None })?;
        import::fetch(&client, &project, &region, &args.services).await
    })
}

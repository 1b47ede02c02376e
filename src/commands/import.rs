//! `secretgate import`.

use super::print;
use crate::cli::{Cli, ImportArgs};
use crate::error::{Error, exit};
use crate::import::{self, ImportOptions};
use crate::manifest::{valid_project, valid_region, valid_service_name};
use std::io::IsTerminal;
use std::path::Path;

pub fn run(cli: &Cli, args: &ImportArgs) -> Result<u8, Error> {
    let to_stdout = args.output == Path::new("-");
    if !to_stdout && args.output.exists() && !args.force && !args.merge {
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
    check_names(args)?;
    let default_env = args.env.clone().unwrap_or_else(|| "default".to_string());
    let mut inputs = import::inputs(&args.inputs, &default_env).map_err(|e| Error::Usage {
        message: format!("cannot read the folders given: {e}; nothing was written"),
        help: None,
    })?;

    let base = if to_stdout {
        std::env::current_dir().unwrap_or_default()
    } else {
        args.output
            .parent()
            .map(Path::to_path_buf)
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or_else(|| ".".into())
    };
    if args.live {
        inputs.extend(live_inputs(args, &default_env, &base)?);
    }
    let options =
        ImportOptions { base, project: args.project.clone(), region: args.region.clone() };
    let imported = import::import(&inputs, &options);
    let findings = imported.diagnostics.len();
    tracing::info!(specs = inputs.len(), findings, "specs imported");
    if !imported.diagnostics.is_empty() {
        let color = super::use_color(cli.color, std::io::stderr().is_terminal());
        let text = crate::report::human::render(&imported.diagnostics, &imported.sources, color);
        eprint!("{text}");
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
    let text = if args.merge && args.output.exists() {
        let existing = std::fs::read_to_string(&args.output).map_err(|e| Error::Usage {
            message: format!("cannot read {} to merge into it: {e}", args.output.display()),
            help: None,
        })?;
        let (merged, added) = import::merge(&existing, &imported.manifest)
            .map_err(|message| Error::Usage { message, help: None })?;
        if !cli.quiet {
            eprintln!("{added} service(s) or entries added to {}", args.output.display());
        }
        merged
    } else {
        imported.manifest
    };
    if to_stdout {
        print(&text);
    } else {
        std::fs::write(&args.output, text).map_err(|e| Error::Usage {
            message: format!("cannot write {}: {e}", args.output.display()),
            help: None,
        })?;
        if !cli.quiet {
            eprintln!(
                "wrote {}; check it with `secretgate --manifest {} lint`",
                args.output.display(),
                args.output.display()
            );
        }
    }
    Ok(exit::OK)
}

/// Refuses, before anything is read or written, the option values that would produce a
/// manifest `lint` rejects: the imported manifest must pass it as written.
fn check_names(args: &ImportArgs) -> Result<(), Error> {
    let usage = |message: String, help: &str| Error::Usage { message, help: Some(help.into()) };
    if let Some(env) = args.env.as_deref().filter(|e| !valid_env_name(e)) {
        return Err(usage(
            format!("`{env}` is not an environment name; nothing was written"),
            "use letters, digits, `-` and `_`, such as `staging` or `prod-eu`",
        ));
    }
    if let Some(project) = args.project.as_deref().filter(|p| !valid_project(p)) {
        return Err(usage(
            format!("`{project}` is not a Google Cloud project id; nothing was written"),
            "use letters, digits, `-`, `_`, `.` and `:`, such as `shop-prod`",
        ));
    }
    if !valid_region(&args.region) {
        return Err(usage(
            format!("`{}` is not a Cloud Run region; nothing was written", args.region),
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

/// An environment name `import` writes as a manifest key and a `deploy/<env>/` folder.
fn valid_env_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The services as deployed now: each is written, in the form `gcloud run services describe
/// --format export` gives, to `deploy/<env>/<service>.yaml` beside the manifest (an existing
/// file is kept), and imported from there.
fn live_inputs(args: &ImportArgs, env: &str, base: &Path) -> Result<Vec<import::Input>, Error> {
    let project = args.project.clone().unwrap_or_default();
    let runtime = super::check::runtime()?;
    let services = runtime.block_on(async {
        let client = crate::cloudrun::CloudRun::new(std::time::Duration::from_secs(30))
            .map_err(|message| Error::Usage { message, help: None })?;
        let mut services = Vec::new();
        for name in &args.services {
            let service = client.get(&args.region, &project, name).await.map_err(|e| {
                Error::Usage { message: format!("cannot read service `{name}`: {e}"), help: None }
            })?;
            let Some(service) = service else {
                let message =
                    format!("service `{name}` does not exist in {project}/{}", args.region);
                return Err(Error::Usage { message, help: None });
            };
            services.push((name.clone(), service));
        }
        Ok(services)
    })?;
    let mut inputs = Vec::new();
    for (name, service) in services {
        let path = base.join("deploy").join(env).join(format!("{name}.yaml"));
        if !path.exists() {
            let unwritable = |e: std::io::Error| Error::Usage {
                message: format!("cannot write {}: {e}", path.display()),
                help: None,
            };
            std::fs::create_dir_all(path.parent().unwrap_or(base)).map_err(unwritable)?;
            std::fs::write(&path, export_form(&service).to_yaml()).map_err(unwritable)?;
        }
        inputs.push(import::Input { path, env: env.to_string(), content: None });
    }
    Ok(inputs)
}

/// A live service without its status and the metadata Cloud Run sets itself.
fn export_form(service: &serde_json::Value) -> crate::yaml::Node {
    let mut tree = crate::yaml::Node::from_json(service);
    tree.remove("status");
    if let Some(metadata) = tree.get_mut("metadata") {
        crate::deploy::SERVER_METADATA.iter().for_each(|k| metadata.remove(k));
        if let Some(annotations) = metadata.get_mut("annotations") {
            crate::deploy::SERVER_ANNOTATIONS.iter().for_each(|k| annotations.remove(k));
        }
    }
    tree
}

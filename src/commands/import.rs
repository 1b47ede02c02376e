//! `secretgate import`.

use super::print;
use crate::cli::{Cli, ImportArgs};
use crate::error::{Error, exit};
use crate::import::{self, ImportOptions};
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
    let default_env = args.env.clone().unwrap_or_else(|| "default".to_string());
    let inputs = import::inputs(&args.inputs, &default_env).map_err(|source| {
        Error::Unreadable { path: args.inputs.first().cloned().unwrap_or_default(), source }
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
    let options =
        ImportOptions { base, project: args.project.clone(), region: args.region.clone() };
    let imported = import::import(&inputs, &options);
    if !imported.diagnostics.is_empty() {
        let color = super::use_color(cli.color, std::io::stderr().is_terminal());
        let text = crate::report::human::render(&imported.diagnostics, &imported.sources, color);
        eprint!("{text}");
    }
    let text = if args.merge && args.output.exists() {
        let existing = std::fs::read_to_string(&args.output)
            .map_err(|source| Error::Unreadable { path: args.output.clone(), source })?;
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
        std::fs::write(&args.output, text)
            .map_err(|source| Error::Unreadable { path: args.output.clone(), source })?;
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

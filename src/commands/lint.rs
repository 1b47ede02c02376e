//! `secretgate lint`.

use super::print;
use crate::cli::{Cli, LintArgs};
use crate::diagnostic::Summary;
use crate::error::{Error, exit};
use crate::lint::{Project, lint};
use crate::report::{Format, github, human, json, sarif};
use std::time::Instant;

pub fn run(cli: &Cli, args: &LintArgs, color: bool) -> Result<u8, Error> {
    let started = Instant::now();
    let mut project = Project::load(&cli.manifest)?;
    tracing::info!(elapsed = ?started.elapsed(), "read manifest {}", cli.manifest.display());
    lint(&mut project, &args.envs)?;
    let diagnostics = &project.diagnostics;
    tracing::info!(elapsed = ?started.elapsed(), findings = diagnostics.len(), "lint finished");
    let text = match args.format {
        Format::Human => {
            let mut text = human::render(diagnostics, &project.sources, color);
            if !cli.quiet {
                text.push_str(&human::summary(diagnostics));
            }
            text
        }
        Format::Json => json::render("lint", diagnostics, &project.sources, Default::default()),
        Format::Sarif => sarif::render(diagnostics, &project.sources),
        Format::Github => github::render(diagnostics, &project.sources),
    };
    print(&text);
    let summary = Summary::of(diagnostics);
    let fail = summary.errors > 0 || (args.deny_warnings && summary.warnings > 0);
    Ok(if fail { exit::FINDINGS } else { exit::OK })
}

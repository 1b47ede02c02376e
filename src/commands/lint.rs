//! `secretgate lint`.

use super::output;
use crate::cli::{Cli, LintArgs};
use crate::error::Error;
use crate::lint::{Project, lint};
use std::time::Instant;

pub fn run(cli: &Cli, args: &LintArgs, color: bool) -> Result<u8, Error> {
    let started = Instant::now();
    let mut project = Project::load(&cli.manifest)?;
    lint(&mut project, &args.envs.names)?;
    let findings = project.diagnostics.len();
    tracing::info!(elapsed = ?started.elapsed(), findings, "lint finished");
    let (found, sources) = (&project.diagnostics, &project.sources);
    output::findings(cli, "lint", args.report.format, found, sources, Default::default(), color);
    Ok(crate::check::exit_code(&project.diagnostics, args.report.deny_warnings))
}

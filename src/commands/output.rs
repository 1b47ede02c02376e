//! Writes findings in the format asked for.

use super::print;
use crate::cli::Cli;
use crate::lint::Project;
use crate::report::{Format, github, human, json, sarif};
use serde_json::{Map, Value};

/// Prints the project's findings; `extra` adds top-level JSON fields.
pub fn findings(
    cli: &Cli,
    command: &str,
    format: Format,
    project: &Project,
    extra: Map<String, Value>,
    color: bool,
) {
    let diagnostics = &project.diagnostics;
    let text = match format {
        Format::Human => {
            let mut text = human::render(diagnostics, &project.sources, color);
            if !cli.quiet {
                text.push_str(&human::summary(diagnostics));
            }
            text
        }
        Format::Json => json::render(command, diagnostics, &project.sources, extra),
        Format::Sarif => sarif::render(diagnostics, &project.sources),
        Format::Github => github::render(diagnostics, &project.sources),
    };
    print(&text);
}

//! Writes findings in the format asked for, and documents to a file or standard output.

use super::print;
use crate::cli::Cli;
use crate::error::Error;
use crate::lint::Project;
use crate::report::{Format, github, human, json, sarif};
use serde_json::{Map, Value};
use std::path::Path;

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

/// Writes a document to `path` (`-o FILE`), or to standard output without one.
pub fn write_to(path: Option<&Path>, text: &str) -> Result<(), Error> {
    let Some(path) = path else {
        print(text);
        return Ok(());
    };
    std::fs::write(path, text).map_err(|e| unwritable(path, &e))
}

/// The usage error for a file that could not be written.
pub fn unwritable(path: &Path, e: &std::io::Error) -> Error {
    Error::Usage { message: format!("cannot write {}: {e}", path.display()), help: None }
}

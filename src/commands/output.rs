//! Writes findings in the format asked for, and documents to a file or standard output.

use super::print;
use crate::cli::Cli;
use crate::diagnostic::Diagnostic;
use crate::error::Error;
use crate::report::{Format, github, human, json, sarif};
use crate::source::Sources;
use serde_json::{Map, Value};
use std::path::Path;

/// Prints findings, with excerpts of `sources`; `extra` adds top-level JSON fields.
pub fn findings(
    cli: &Cli,
    command: &str,
    format: Format,
    diagnostics: &[Diagnostic],
    sources: &Sources,
    extra: Map<String, Value>,
    color: bool,
) {
    let text = match format {
        Format::Human => {
            let mut text = human::render(diagnostics, sources, color);
            if !cli.quiet {
                text.push_str(&human::summary(diagnostics));
            }
            text
        }
        Format::Json => json::render(command, diagnostics, sources, extra),
        Format::Sarif => sarif::render(diagnostics, sources),
        Format::Github => github::render(diagnostics, sources),
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

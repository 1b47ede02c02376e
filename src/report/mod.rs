//! Reporters: turn findings into human, JSON, SARIF or GitHub Actions output.
//!
//! The library never prints; each reporter returns the text to write.

pub mod deploy;
pub mod github;
#[cfg(feature = "cli")]
pub mod human;
pub mod json;
pub mod mask;
pub mod sarif;

use crate::diagnostic::Diagnostic;
use crate::source::Sources;

/// Output formats of `lint` (and of later commands' findings).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
pub enum Format {
    /// Readable reports with source excerpts.
    Human,
    /// The stable JSON document described in the README.
    Json,
    /// SARIF 2.1.0 for GitHub code scanning and other viewers.
    Sarif,
    /// GitHub Actions workflow commands that annotate the pull request.
    Github,
}

/// `text` with each control character but the line break written as its Rust escape
/// (`\u{1b}`). Names read from files and services may hold terminal escape sequences or a
/// carriage return, which must not reach a terminal or a rendered report.
pub fn escape_controls(text: &str) -> String {
    if !text.chars().any(|c| c.is_control() && c != '\n') {
        return text.to_string();
    }
    text.chars()
        .map(
            |c| if c.is_control() && c != '\n' { c.escape_default().to_string() } else { c.into() },
        )
        .collect()
}

/// A finding's primary location as a file, line and column.
pub struct Location<'a> {
    pub file: &'a str,
    pub line: usize,
    pub column: usize,
}

/// The primary location of a finding, if it has one.
pub fn location<'a>(d: &Diagnostic, sources: &'a Sources) -> Option<Location<'a>> {
    let label = d.primary.as_ref()?;
    let file = &sources.get(label.file).display;
    Some(Location { file, line: label.span.line.max(1), column: label.span.column.max(1) })
}

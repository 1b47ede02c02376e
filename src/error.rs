//! Errors that stop a command before any finding can be reported, and the exit codes.

use std::path::PathBuf;

/// Exit codes, the same for every subcommand. Part of the public interface.
pub mod exit {
    /// No error-level finding.
    pub const OK: u8 = 0;
    /// Error-level findings, including a manifest that does not parse.
    pub const FINDINGS: u8 = 1;
    /// Usage error or unreadable input.
    pub const USAGE: u8 = 2;
    /// Verification incomplete: something could not be checked.
    pub const INCOMPLETE: u8 = 3;
    /// A rollout failed.
    pub const ROLLOUT_FAILED: u8 = 4;
}

/// A failure that prevents a command from running at all.
#[derive(Debug)]
pub enum Error {
    /// The command line asks for something that does not exist.
    Usage { message: String, help: Option<String> },
    /// An input file could not be read.
    Unreadable { path: PathBuf, source: std::io::Error },
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Usage { message, .. } => f.write_str(message),
            Error::Unreadable { path, source } => {
                write!(f, "cannot read {}: {source}", path.display())
            }
        }
    }
}

impl std::error::Error for Error {}

impl Error {
    pub fn exit_code(&self) -> u8 {
        exit::USAGE
    }

    /// The same error with `note` (what was left undone) after its message.
    pub fn noting(self, note: &str) -> Error {
        match self {
            Error::Usage { message, help } => {
                Error::Usage { message: format!("{message}; {note}"), help }
            }
            unreadable => unreadable,
        }
    }

    pub fn help(&self) -> Option<&str> {
        match self {
            Error::Usage { help, .. } => help.as_deref(),
            Error::Unreadable { .. } => Some("pass the manifest with --manifest PATH"),
        }
    }
}

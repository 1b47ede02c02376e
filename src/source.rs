//! The files a run has read, kept so that diagnostics can show their lines later.

use std::path::{Path, PathBuf};

/// Index of a file in [`Sources`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FileId(pub usize);

/// One file as read from disk.
#[derive(Debug)]
pub struct SourceFile {
    /// The path as shown to users: relative to the manifest's folder when it lies inside it.
    pub display: String,
    /// The path on disk.
    pub path: PathBuf,
    /// The content; lossily decoded when the file is not UTF-8, for display only.
    pub text: String,
}

/// Every file read during a run, in the order read.
#[derive(Debug, Default)]
pub struct Sources {
    files: Vec<SourceFile>,
}

impl Sources {
    pub fn add(&mut self, display: String, path: PathBuf, bytes: &[u8]) -> FileId {
        // A file too large to parse is reported at its start and never shown: keeping it would
        // make a report print megabytes of one line.
        let shown = if bytes.len() > crate::yaml::MAX_FILE_BYTES { &[] } else { bytes };
        let text = printable(&String::from_utf8_lossy(shown));
        self.files.push(SourceFile { display, path, text });
        FileId(self.files.len() - 1)
    }

    pub fn get(&self, id: FileId) -> &SourceFile {
        &self.files[id.0]
    }

    /// The id of a file already read from `path`, so that a spec shared by two environments is
    /// parsed once.
    pub fn find(&self, path: &Path) -> Option<FileId> {
        self.files.iter().position(|f| f.path == path).map(FileId)
    }
}

/// The text with every control character but tab, CR and LF replaced by `?`, byte for byte so
/// that spans stay valid: a binary file's excerpt must not send escape sequences to a terminal.
/// Valid YAML holds no such character, so only the excerpts of broken files change.
fn printable(text: &str) -> String {
    if !text.chars().any(|c| c.is_control() && !matches!(c, '\t' | '\r' | '\n')) {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() && !matches!(c, '\t' | '\r' | '\n') {
            out.extend(std::iter::repeat_n('?', c.len_utf8()));
        } else {
            out.push(c);
        }
    }
    out
}

/// A path relative to `base` when possible, with forward slashes, for stable output.
pub fn display_path(base: &Path, path: &Path) -> String {
    let shown = path.strip_prefix(base).unwrap_or(path);
    shown.to_string_lossy().replace('\\', "/")
}

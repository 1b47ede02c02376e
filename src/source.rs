//! The files a run reads, and those it has read, kept so that diagnostics can show their lines.
//!
//! Every input file (the manifest, specs, snapshots, import inputs) is read through
//! [`read_input`]: a path in a repository can be a symlink to `/dev/zero` or a FIFO, and
//! reading such a file whole would never end.

use std::io::{self, Read};
use std::path::{Path, PathBuf};

/// Largest snapshot file `check`, `audit` and `deploy` read. A snapshot of 25,000 secrets, the
/// most one `ListSecrets` page holds, takes about a third of it.
pub const MAX_SNAPSHOT_BYTES: usize = 64 * 1024 * 1024;

/// Reads a regular file (links followed), at most `limit + 1` bytes of it: a caller that gets
/// more than `limit` bytes knows the file is too large without having read all of it. Anything
/// else, such as a device, a FIFO or a folder, is refused before it is opened, since opening a
/// FIFO waits for a writer.
pub fn read_input(path: &Path, limit: usize) -> io::Result<Vec<u8>> {
    refuse_irregular(std::fs::metadata(path)?.file_type())?;
    let file = std::fs::File::open(path)?;
    // The path may have been replaced since it was looked at: judge what was opened.
    refuse_irregular(file.metadata()?.file_type())?;
    let mut bytes = Vec::new();
    file.take(limit as u64 + 1).read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// Reads a UTF-8 text file of at most `limit` bytes through [`read_input`]; a larger file is
/// an error.
pub fn read_text(path: &Path, limit: usize) -> io::Result<String> {
    let bytes = read_input(path, limit)?;
    if bytes.len() > limit {
        let message = format!("it is larger than {limit} bytes, the most secretgate reads");
        return Err(io::Error::new(io::ErrorKind::FileTooLarge, message));
    }
    String::from_utf8(bytes)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "it is not UTF-8 text"))
}

/// Reads `path`, a file the manifest names, through [`read_input`] when it lies inside `root`,
/// the manifest's folder, once every link is resolved. A file elsewhere (`../other/.env`,
/// `/etc/shadow`, or a link in `deploy/` to either) is never opened: its excerpt would show
/// another project's files, credentials included, in a finding.
pub fn read_inside(root: &Path, path: &Path, limit: usize) -> io::Result<Vec<u8>> {
    let base = if root.as_os_str().is_empty() { Path::new(".") } else { root };
    let real = std::fs::canonicalize(path)?;
    if !real.starts_with(std::fs::canonicalize(base)?) {
        return Err(io::Error::new(io::ErrorKind::PermissionDenied, Outside));
    }
    read_input(&real, limit)
}

/// Why [`read_inside`] refused a file that exists.
#[derive(Debug)]
struct Outside;

impl std::fmt::Display for Outside {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(
            "it lies outside the manifest's folder (links resolved), where secretgate reads no \
             spec",
        )
    }
}

impl std::error::Error for Outside {}

/// Whether [`read_inside`] refused `err`'s file for lying outside the manifest's folder.
pub fn is_outside(err: &io::Error) -> bool {
    err.get_ref().is_some_and(|e| e.is::<Outside>())
}

fn refuse_irregular(kind: std::fs::FileType) -> io::Result<()> {
    if kind.is_file() {
        return Ok(());
    }
    let message = format!("it is not a regular file but {}", file_kind(kind));
    Err(io::Error::new(io::ErrorKind::InvalidInput, message))
}

/// What a file that is not a regular file is, for messages.
fn file_kind(kind: std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if kind.is_fifo() {
            return "a FIFO";
        }
        if kind.is_char_device() || kind.is_block_device() {
            return "a device";
        }
        if kind.is_socket() {
            return "a socket";
        }
    }
    if kind.is_dir() { "a folder" } else { "something else" }
}

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

/// The text with every control character but tab, LF and the CR of a CRLF replaced by `?`,
/// byte for byte so that spans stay valid: a binary file's excerpt must not send escape
/// sequences to a terminal, nor a lone CR that would overwrite the line it is on. Valid YAML
/// holds no such character but a lone CR (a line break to YAML, rarely used), so only the
/// excerpts of broken files change.
fn printable(text: &str) -> String {
    let mut chars = text.chars().peekable();
    let mut out = String::with_capacity(text.len());
    while let Some(c) = chars.next() {
        let kept = match c {
            '\t' | '\n' => true,
            '\r' => chars.peek() == Some(&'\n'),
            _ => !c.is_control(),
        };
        if kept {
            out.push(c);
        } else {
            out.extend(std::iter::repeat_n('?', c.len_utf8()));
        }
    }
    out
}

/// A path relative to `base` when possible, with forward slashes, for stable output.
pub fn display_path(base: &Path, path: &Path) -> String {
    let shown = path.strip_prefix(base).unwrap_or(path);
    shown.to_string_lossy().replace('\\', "/")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression: a lone CR in a binary file's excerpt reached the terminal and overwrote the
    /// start of its line.
    #[test]
    fn excerpts_keep_line_breaks_and_replace_other_controls() {
        assert_eq!(printable("a: 1\r\nb: \u{1b}[2J\rc\td\n"), "a: 1\r\nb: ?[2J?c\td\n");
        assert_eq!(printable("é\u{85}\r"), "é???");
    }

    #[test]
    fn reads_one_byte_past_the_limit_and_no_more() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.yaml");
        std::fs::write(&path, vec![b'#'; 100]).unwrap();
        assert_eq!(read_input(&path, 10).unwrap().len(), 11);
        assert_eq!(read_input(&path, 100).unwrap().len(), 100);
        let err = read_text(&path, 10).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::FileTooLarge);
    }

    #[test]
    fn refuses_a_folder_before_opening_it() {
        let dir = tempfile::tempdir().unwrap();
        let err = read_input(dir.path(), 10).unwrap_err();
        assert!(err.to_string().contains("not a regular file but a folder"), "{err}");
    }

    #[test]
    fn reads_inside_the_root_only() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("project");
        std::fs::create_dir_all(root.join("deploy")).unwrap();
        std::fs::write(dir.path().join("outside.yaml"), "x").unwrap();
        std::fs::write(root.join("deploy/api.yaml"), "x").unwrap();
        assert!(read_inside(&root, &root.join("deploy/../deploy/api.yaml"), 10).is_ok());
        let escaped = read_inside(&root, &root.join("deploy/../../outside.yaml"), 10);
        assert!(escaped.is_err_and(|e| is_outside(&e)));
        let missing = read_inside(&root, &root.join("deploy/none.yaml"), 10).unwrap_err();
        assert_eq!(missing.kind(), io::ErrorKind::NotFound);
    }
}

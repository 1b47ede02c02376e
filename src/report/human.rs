//! Human output: miette's graphical reports, one per finding, and a summary line.

use super::{escape_controls, mask};
use crate::diagnostic::{Diagnostic, Label, Severity, Summary};
use crate::source::{FileId, Sources};
use crate::yaml::Span;
use miette::{GraphicalReportHandler, GraphicalTheme, LabeledSpan, NamedSource};
use std::collections::HashMap;
use std::fmt;

/// Renders findings; `color` selects the coloured theme (the caller decides, from the terminal
/// and `NO_COLOR`).
pub fn render(diagnostics: &[Diagnostic], sources: &Sources, color: bool) -> String {
    let theme = if color { GraphicalTheme::unicode() } else { GraphicalTheme::unicode_nocolor() };
    let handler = GraphicalReportHandler::new_themed(theme)
        .with_width(100)
        .with_links(false)
        // Wrap at spaces only, never inside a word: a help line's command (`--project
        // netra-staging`, a path) must stay whole to be copied, even if a line runs long.
        .with_word_separator(textwrap::WordSeparator::AsciiSpace)
        .with_word_splitter(textwrap::WordSplitter::NoHyphenation)
        .with_break_words(false);
    let texts = redacted_texts(diagnostics, sources);
    let mut out = String::new();
    for d in diagnostics.iter().map(printable) {
        let report = Report::new(&d, sources, &texts);
        if handler.render_report(&mut out, &report).is_err() {
            out.push_str(&format!("{}: {}\n", d.code, d.message));
        }
        out.push('\n');
    }
    out
}

/// The one-line summary printed after the findings.
pub fn summary(diagnostics: &[Diagnostic]) -> String {
    let s = Summary::of(diagnostics);
    if s.errors == 0 && s.warnings == 0 {
        return "secretgate: no problems found\n".to_string();
    }
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    format!("secretgate: {}, {}\n", plural(s.errors, "error"), plural(s.warnings, "warning"))
}

/// `d` with the control characters of its message, help and labels escaped (`\u{1b}`): a name
/// read from a file may hold a terminal escape sequence, which must not reach the terminal.
fn printable(d: &Diagnostic) -> Diagnostic {
    let mut d = d.clone();
    d.message = escape_controls(&d.message);
    d.help = d.help.as_deref().map(escape_controls);
    for label in d.primary.iter_mut().chain(&mut d.secondary) {
        label.message = escape_controls(&label.message);
    }
    d
}

/// `text` with each control byte but tab, LF and the CR of a CRLF replaced by `?`, byte for
/// byte so that spans stay valid: an excerpt shows a file's lines, which may hold escape
/// sequences too, or a lone CR that would overwrite the line on a terminal.
fn printable_source(text: String) -> String {
    let mut bytes = text.into_bytes();
    let mut i = 0;
    while i < bytes.len() {
        // C1 controls (U+0080 to U+009F) are two bytes in UTF-8, both replaced.
        let c1 = bytes[i] == 0xC2 && bytes.get(i + 1).is_some_and(|b| (0x80..0xA0).contains(b));
        let crlf = bytes[i] == b'\r' && bytes.get(i + 1) == Some(&b'\n');
        let c0 =
            (bytes[i] < 0x20 && !matches!(bytes[i], b'\t' | b'\n') && !crlf) || bytes[i] == 0x7F;
        let width = if c1 { 2 } else { usize::from(c0) };
        bytes[i..i + width].fill(b'?');
        i += width.max(1);
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// The text of every file a finding shows, its credentials masked: those the rules recognised
/// (`redact`), and every value that looks like one, in whatever file and for whichever finding;
/// and its control characters replaced.
fn redacted_texts(diagnostics: &[Diagnostic], sources: &Sources) -> HashMap<FileId, String> {
    let mut spans: HashMap<FileId, Vec<Span>> = HashMap::new();
    for d in diagnostics {
        for label in d.primary.iter().chain(&d.secondary) {
            spans.entry(label.file).or_default();
        }
        for (file, span) in &d.redact {
            spans.entry(*file).or_default().push(*span);
        }
    }
    spans
        .into_iter()
        .map(|(file, extra)| (file, printable_source(mask::masked(&sources.get(file).text, extra))))
        .collect()
}

/// A finding in the shape miette renders.
struct Report {
    message: String,
    code: &'static str,
    severity: Severity,
    help: Option<String>,
    source: Option<CharColumns>,
    labels: Vec<LabeledSpan>,
    related: Vec<Report>,
}

impl Report {
    fn new(d: &Diagnostic, sources: &Sources, texts: &HashMap<FileId, String>) -> Report {
        let file = d.primary.as_ref().map(|l| l.file);
        let all: Vec<&Label> = d.primary.iter().chain(&d.secondary).collect();
        let (here, elsewhere): (Vec<&Label>, Vec<&Label>) =
            all.into_iter().partition(|l| Some(l.file) == file);
        let text = file.map_or("", |f| sources.get(f).text.as_str());
        if let Some(at) = here.iter().find(|l| !excerpt_fits(text, l)) {
            // miette cannot lay out such a line; the finding is still located, without excerpt.
            let place =
                format!("{}:{}:{}", sources.get(at.file).display, at.span.line, at.span.column);
            return Report {
                message: format!("{} ({place}; the line is too long to show)", d.message),
                code: d.code,
                severity: d.severity,
                help: d.help.clone(),
                source: None,
                labels: Vec::new(),
                related: Vec::new(),
            };
        }
        let labels = here.iter().enumerate().map(|(i, l)| labeled(l, i == 0, text)).collect();
        let related = elsewhere
            .iter()
            .map(|l| {
                let other = &sources.get(l.file);
                let fits = excerpt_fits(&other.text, l);
                let message = if fits {
                    format!("see {}", other.display)
                } else {
                    let (line, column) = (l.span.line, l.span.column);
                    format!("see {}:{line}:{column} (the line is too long to show)", other.display)
                };
                Report {
                    message,
                    code: d.code,
                    severity: Severity::Note,
                    help: None,
                    source: fits.then(|| named(sources, texts, l.file)),
                    labels: if fits { vec![labeled(l, true, &other.text)] } else { Vec::new() },
                    related: Vec::new(),
                }
            })
            .collect();
        Report {
            message: d.message.clone(),
            code: d.code,
            severity: d.severity,
            help: d.help.clone(),
            source: file.map(|f| named(sources, texts, f)),
            labels,
            related,
        }
    }
}

/// The longest line an excerpt shows; miette's layout breaks on far longer ones (a minified
/// file of one line), and such a line would not be readable in a terminal anyway.
const MAX_EXCERPT_LINE: usize = 4096;

/// Whether the lines around a label (the ones miette shows) are short enough to show.
fn excerpt_fits(text: &str, label: &Label) -> bool {
    let start = label.span.offset.min(text.len());
    let end = (label.span.offset + label.span.len).min(text.len());
    let before = |at: usize| text.get(..at).unwrap_or_default().rfind('\n').map_or(0, |i| i + 1);
    let from = before(before(start).saturating_sub(1));
    let after = text.get(end..).unwrap_or_default();
    let to = after.match_indices('\n').nth(1).map_or(text.len(), |(i, _)| end + i);
    text.get(from..to).is_none_or(|around| around.lines().all(|l| l.len() <= MAX_EXCERPT_LINE))
}

fn named(sources: &Sources, texts: &HashMap<FileId, String>, file: FileId) -> CharColumns {
    let source = sources.get(file);
    let text = texts.get(&file).cloned().unwrap_or_else(|| source.text.clone());
    CharColumns { shown: NamedSource::new(&source.display, text), original: source.text.clone() }
}

/// A file as miette reads it, with columns counted in characters as in the JSON, SARIF and
/// GitHub output (miette itself counts bytes, which differs on lines with non-ASCII text).
/// Masking keeps byte offsets but not characters, so they are counted in the original text.
struct CharColumns {
    shown: NamedSource<String>,
    original: String,
}

impl miette::SourceCode for CharColumns {
    fn read_span<'a>(
        &'a self,
        span: &miette::SourceSpan,
        before: usize,
        after: usize,
    ) -> Result<Box<dyn miette::SpanContents<'a> + 'a>, miette::MietteError> {
        let contents = self.shown.read_span(span, before, after)?;
        let text = &self.original;
        let start = contents.span().offset();
        let line_start = text.get(..start).unwrap_or_default().rfind('\n').map_or(0, |i| i + 1);
        let column = text.get(line_start..start).map_or(contents.column(), |t| t.chars().count());
        Ok(Box::new(miette::MietteSpanContents::new_named(
            contents.name().unwrap_or_default().to_string(),
            contents.data(),
            *contents.span(),
            contents.line(),
            column,
            contents.line_count(),
        )))
    }
}

/// A miette label; trailing whitespace is left out of the span (the parser's span of a block
/// scalar runs up to the next token).
fn labeled(label: &Label, primary: bool, text: &str) -> LabeledSpan {
    let end = (label.span.offset + label.span.len).min(text.len());
    let covered = text.get(label.span.offset.min(end)..end).unwrap_or_default();
    let span = (label.span.offset, covered.trim_end().len().max(1));
    if primary {
        LabeledSpan::new_primary_with_span(Some(label.message.clone()), span)
    } else {
        LabeledSpan::new_with_span(Some(label.message.clone()), span)
    }
}

impl fmt::Debug for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Report {}

impl miette::Diagnostic for Report {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(self.code))
    }

    fn severity(&self) -> Option<miette::Severity> {
        Some(match self.severity {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
            Severity::Note => miette::Severity::Advice,
        })
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help.as_ref().map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.source.as_ref().map(|s| s as &dyn miette::SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        (!self.labels.is_empty())
            .then(|| Box::new(self.labels.iter().cloned()) as Box<dyn Iterator<Item = LabeledSpan>>)
    }

    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn miette::Diagnostic> + 'a>> {
        (!self.related.is_empty()).then(|| {
            Box::new(self.related.iter().map(|r| r as &dyn miette::Diagnostic))
                as Box<dyn Iterator<Item = &'a dyn miette::Diagnostic> + 'a>
        })
    }
}

#[cfg(test)]
mod tests {
    use super::printable_source;
    use crate::report::escape_controls;

    #[test]
    fn control_characters_are_escaped_in_messages_and_replaced_in_excerpts() {
        assert_eq!(escape_controls("a\u{1b}[31mb\nc"), "a\\u{1b}[31mb\nc");
        let source = "a\u{1b}]0;x\u{7}\tb\u{9b}c\r\nd\re\r".to_string();
        assert_eq!(printable_source(source), "a?]0;x?\tb??c\r\nd?e?");
    }
}

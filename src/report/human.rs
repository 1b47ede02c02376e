//! Human output: miette's graphical reports, one per finding, and a summary line.

use crate::diagnostic::{Diagnostic, Label, Severity, Summary};
use crate::source::{FileId, Sources};
use miette::{GraphicalReportHandler, GraphicalTheme, LabeledSpan, NamedSource};
use std::collections::HashMap;
use std::fmt;

/// Renders findings; `color` selects the coloured theme (the caller decides, from the terminal
/// and `NO_COLOR`).
pub fn render(diagnostics: &[Diagnostic], sources: &Sources, color: bool) -> String {
    let theme = if color { GraphicalTheme::unicode() } else { GraphicalTheme::unicode_nocolor() };
    let handler = GraphicalReportHandler::new_themed(theme).with_width(100).with_links(false);
    let texts = redacted_texts(diagnostics, sources);
    let mut out = String::new();
    for d in diagnostics {
        let report = Report::new(d, sources, &texts);
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

/// Each file's text with every credential any finding points at replaced by `*`, byte for byte,
/// so that excerpts never show a secret and spans stay valid.
fn redacted_texts(diagnostics: &[Diagnostic], sources: &Sources) -> HashMap<FileId, String> {
    let mut texts: HashMap<FileId, Vec<u8>> = HashMap::new();
    for (file, span) in diagnostics.iter().flat_map(|d| d.redact.iter()) {
        let text =
            texts.entry(*file).or_insert_with(|| sources.get(*file).text.clone().into_bytes());
        let end = value_end(text, span.offset, span.len);
        for b in &mut text[span.offset.min(end)..end] {
            if *b != b'\n' {
                *b = b'*';
            }
        }
    }
    texts.into_iter().map(|(k, v)| (k, String::from_utf8_lossy(&v).into_owned())).collect()
}

/// The end of a scalar that starts at `offset`: its span, extended to the end of the line, and
/// over the more-indented lines of a block scalar.
fn value_end(text: &[u8], offset: usize, len: usize) -> usize {
    let start = offset.min(text.len());
    let line_end = |from: usize| {
        text[from..].iter().position(|b| *b == b'\n').map_or(text.len(), |i| from + i)
    };
    let mut end = line_end((start + len).min(text.len()));
    let line_start = text[..start].iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    let indent_of = |from: usize| text[from..].iter().take_while(|b| **b == b' ').count();
    let base = indent_of(line_start);
    while end < text.len() {
        let next = end + 1;
        let next_end = line_end(next);
        let blank = text[next..next_end].iter().all(|b| *b == b' ' || *b == b'\r');
        if !blank && indent_of(next) <= base {
            break;
        }
        end = next_end;
    }
    end
}

/// A finding in the shape miette renders.
struct Report {
    message: String,
    code: &'static str,
    severity: Severity,
    help: Option<String>,
    source: Option<NamedSource<String>>,
    labels: Vec<LabeledSpan>,
    related: Vec<Report>,
}

impl Report {
    fn new(d: &Diagnostic, sources: &Sources, texts: &HashMap<FileId, String>) -> Report {
        let file = d.primary.as_ref().map(|l| l.file);
        let all: Vec<&Label> = d.primary.iter().chain(&d.secondary).collect();
        let (here, elsewhere): (Vec<&Label>, Vec<&Label>) =
            all.into_iter().partition(|l| Some(l.file) == file);
        let labels = here.iter().enumerate().map(|(i, l)| labeled(l, i == 0)).collect();
        let related = elsewhere
            .iter()
            .map(|l| Report {
                message: format!("see {}", sources.get(l.file).display),
                code: d.code,
                severity: Severity::Note,
                help: None,
                source: Some(named(sources, texts, l.file)),
                labels: vec![labeled(l, true)],
                related: Vec::new(),
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

fn named(sources: &Sources, texts: &HashMap<FileId, String>, file: FileId) -> NamedSource<String> {
    let source = sources.get(file);
    let text = texts.get(&file).cloned().unwrap_or_else(|| source.text.clone());
    NamedSource::new(&source.display, text)
}

fn labeled(label: &Label, primary: bool) -> LabeledSpan {
    let span = (label.span.offset, label.span.len.max(1));
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

//! Findings: what every rule produces and every reporter consumes.

use crate::source::FileId;
use crate::yaml::Span;
use serde::Serialize;

/// How serious a finding is. Errors fail the command; warnings fail it only with
/// `--deny-warnings`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
    Note,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Note => "note",
        }
    }
}

/// A place in a file with a short caption.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Label {
    pub file: FileId,
    pub span: Span,
    pub message: String,
}

impl Label {
    pub fn new(file: FileId, span: Span, message: impl Into<String>) -> Self {
        Label { file, span, message: message.into() }
    }
}

/// One finding. `primary` says where the problem is; `secondary` points at what it conflicts
/// with (the policy line, the other mapping).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Diagnostic {
    pub code: &'static str,
    pub severity: Severity,
    pub message: String,
    pub help: Option<String>,
    pub environment: Option<String>,
    pub service: Option<String>,
    /// The env var name or file path the finding concerns.
    pub target: Option<String>,
    /// The secret the finding concerns, as written after template expansion.
    pub secret: Option<String>,
    pub primary: Option<Label>,
    pub secondary: Vec<Label>,
    /// Places holding a credential: every reporter hides them, even in source excerpts.
    pub redact: Vec<(FileId, Span)>,
}

impl Diagnostic {
    /// A finding with the rule's default severity and no context yet.
    pub fn new(rule: &crate::rules::Rule, message: impl Into<String>) -> Self {
        Diagnostic {
            code: rule.code,
            severity: rule.severity,
            message: message.into(),
            help: None,
            environment: None,
            service: None,
            target: None,
            secret: None,
            primary: None,
            secondary: Vec::new(),
            redact: Vec::new(),
        }
    }

    pub fn at(mut self, file: FileId, span: Span, label: impl Into<String>) -> Self {
        self.primary = Some(Label::new(file, span, label));
        self
    }

    pub fn also(mut self, file: FileId, span: Span, label: impl Into<String>) -> Self {
        self.secondary.push(Label::new(file, span, label));
        self
    }

    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    pub fn env(mut self, env: Option<&str>) -> Self {
        self.environment = env.map(str::to_string);
        self
    }

    pub fn service(mut self, service: Option<&str>) -> Self {
        self.service = service.map(str::to_string);
        self
    }

    pub fn target(mut self, target: Option<&str>) -> Self {
        self.target = target.map(str::to_string);
        self
    }

    pub fn secret(mut self, secret: Option<&str>) -> Self {
        self.secret = secret.map(str::to_string);
        self
    }

    pub fn severity(mut self, severity: Severity) -> Self {
        self.severity = severity;
        self
    }
}

/// Counts of findings by severity.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub errors: usize,
    pub warnings: usize,
}

impl Summary {
    pub fn of(diagnostics: &[Diagnostic]) -> Self {
        let count = |s| diagnostics.iter().filter(|d| d.severity == s).count();
        Summary { errors: count(Severity::Error), warnings: count(Severity::Warning) }
    }
}

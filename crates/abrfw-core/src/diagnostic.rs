//! Errors that point into the topology file, rendered like rustc's and just's.

use std::fmt;
use std::ops::Range;

use annotate_snippets::{AnnotationKind, Group, Level, Renderer, Snippet};

/// One problem found in a topology, with where it is and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// What is wrong, one line.
    pub message: String,
    /// Byte range in the source the problem is at, when known.
    pub span: Option<Range<usize>>,
    /// How to fix it.
    pub help: Option<String>,
}

impl Diagnostic {
    /// A diagnostic at `span`.
    pub fn new(message: impl Into<String>, span: Range<usize>) -> Self {
        Self {
            message: message.into(),
            span: Some(span),
            help: None,
        }
    }

    /// Adds a hint.
    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
}

/// Every problem found in one topology file. Its `Display` is the full report, ready for stderr.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct TopologyError {
    /// The file name as the user gave it.
    pub path: String,
    /// The file's text.
    pub source_text: String,
    /// The problems, in file order.
    pub diagnostics: Vec<Diagnostic>,
}

impl TopologyError {
    /// Line and column (1-based, columns in characters) of a byte offset.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.source_text.len());
        let before = &self.source_text[..offset];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        (line, before[line_start..].chars().count() + 1)
    }
}

impl fmt::Display for TopologyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let renderer = Renderer::plain();
        for (i, d) in self.diagnostics.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            let mut group = Group::with_title(Level::ERROR.primary_title(&d.message));
            if let Some(span) = &d.span {
                group = group.element(
                    Snippet::source(&self.source_text)
                        .path(&self.path)
                        .annotation(AnnotationKind::Primary.span(span.clone())),
                );
            }
            if let Some(help) = &d.help {
                group = group.element(Level::HELP.message(help));
            }
            let report: [Group<'_>; 1] = [group];
            writeln!(f, "{}", renderer.render(&report))?;
        }
        Ok(())
    }
}

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
        render(
            f,
            Level::ERROR,
            &self.path,
            &self.source_text,
            &self.diagnostics,
        )
    }
}

/// Problems that do not stop compilation (the lockout guard), with the file they point into.
/// Its `Display` is the full report, each problem as `warning: ...`, ready for stderr.
#[derive(Debug, Clone, Copy)]
pub struct Warnings<'a> {
    /// The file name as the user gave it.
    pub path: &'a str,
    /// The file's text.
    pub source_text: &'a str,
    /// The warnings, in file order.
    pub diagnostics: &'a [Diagnostic],
}

impl fmt::Display for Warnings<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        render(
            f,
            Level::WARNING,
            self.path,
            self.source_text,
            self.diagnostics,
        )
    }
}

/// Renders diagnostics at one level, separated by blank lines.
fn render(
    f: &mut fmt::Formatter<'_>,
    level: Level<'_>,
    path: &str,
    source_text: &str,
    diagnostics: &[Diagnostic],
) -> fmt::Result {
    let renderer = Renderer::plain();
    let line_starts: Vec<usize> = std::iter::once(0)
        .chain(source_text.match_indices('\n').map(|(i, _)| i + 1))
        .collect();
    for (i, d) in diagnostics.iter().enumerate() {
        if i > 0 {
            writeln!(f)?;
        }
        let message = bounded(&d.message);
        let mut group = Group::with_title(level.clone().primary_title(&message));
        if let Some(span) = &d.span {
            let (excerpt, first_line, span) = excerpt(source_text, &line_starts, span.clone());
            group = group.element(
                Snippet::source(excerpt)
                    .path(path)
                    .line_start(first_line)
                    .annotation(AnnotationKind::Primary.span(span)),
            );
        }
        let help = d.help.as_deref().map(bounded);
        if let Some(help) = &help {
            group = group.element(Level::HELP.message(help));
        }
        let report: [Group<'_>; 1] = [group];
        writeln!(f, "{}", renderer.render(&report))?;
    }
    Ok(())
}

/// Longest quoted value a report repeats, in characters; longer ones are cut with an ellipsis.
pub const MAX_QUOTED_CHARS: usize = 60;

/// `text` with every quoted value (`"..."` or `` `...` ``) longer than [`MAX_QUOTED_CHARS`]
/// cut to that many characters and an ellipsis, so a 4 MB host name gives a short report.
pub fn bounded(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(4096));
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        out.push(c);
        if c != '"' && c != '`' {
            continue;
        }
        // Copy the quoted value up to its closing quote (a backslash escapes one character in
        // Debug-quoted strings), keeping at most MAX_QUOTED_CHARS of it.
        let mut kept = 0;
        let mut cut = false;
        let mut escaped = false;
        for q in chars.by_ref() {
            if !escaped && q == c {
                if cut {
                    out.push('…');
                }
                out.push(q);
                break;
            }
            escaped = c == '"' && !escaped && q == '\\';
            if kept < MAX_QUOTED_CHARS {
                out.push(q);
                kept += 1;
            } else {
                cut = true;
            }
        }
    }
    out
}

/// The lines of `text` that `span` touches, their first line number (1-based) and the span
/// relative to them. `line_starts` holds the offset of every line's first byte. Rendering only
/// those lines keeps a report of many problems in a large file linear in its size instead of
/// quadratic.
fn excerpt<'t>(
    text: &'t str,
    line_starts: &[usize],
    span: Range<usize>,
) -> (&'t str, usize, Range<usize>) {
    let clamp = |i: usize| {
        let mut i = i.min(text.len());
        while !text.is_char_boundary(i) {
            i -= 1;
        }
        i
    };
    let (start, end) = (clamp(span.start), clamp(span.end.max(span.start)));
    // The last line starting at or before `start`.
    let mut line = line_starts.partition_point(|&s| s <= start).max(1) - 1;
    // The end of a file that ends in a newline is shown at the end of its last line.
    if line > 0 && line_starts[line] == text.len() {
        line -= 1;
    }
    let from = line_starts[line];
    let to = text[end..].find('\n').map_or(text.len(), |i| end + i + 1);
    (&text[from..to], line + 1, start - from..end - from)
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = include_str!("../../../fixtures/topologies/example.toml");

    /// The renderer before excerpts: the whole file as the snippet.
    fn whole_file(text: &str, span: Range<usize>) -> String {
        let group = Group::with_title(Level::ERROR.primary_title("m")).element(
            Snippet::source(text)
                .path("t.toml")
                .annotation(AnnotationKind::Primary.span(span)),
        );
        format!("{}\n", Renderer::plain().render(&[group]))
    }

    #[test]
    fn long_quoted_values_are_cut_with_an_ellipsis() {
        let long = "a".repeat(5000);
        let msg = bounded(&format!(
            "invalid host name {long:?}: it is too long; `{long}`"
        ));
        let short = "a".repeat(MAX_QUOTED_CHARS);
        assert_eq!(
            msg,
            format!("invalid host name \"{short}…\": it is too long; `{short}…`")
        );
        assert_eq!(bounded(r#"x "a\"b" y"#), r#"x "a\"b" y"#);
    }

    /// Rendering only the touched lines gives the same report as rendering the whole file, for
    /// spans that start and end anywhere, cross lines, or sit at the very end.
    #[test]
    fn excerpts_render_like_the_whole_file() {
        for text in [EXAMPLE, "a = 1", "", "x\n", "é = \"ü\"\n\n[[host]]\n"] {
            let mut starts: Vec<usize> = (0..=text.len()).step_by(7).collect();
            starts.push(text.len());
            for start in starts.into_iter().filter(|&s| text.is_char_boundary(s)) {
                for len in [0, 1, 5, 40, 200] {
                    let end = (start + len).min(text.len());
                    if !text.is_char_boundary(end) {
                        continue;
                    }
                    let e = TopologyError {
                        path: "t.toml".into(),
                        source_text: text.into(),
                        diagnostics: vec![Diagnostic::new("m", start..end)],
                    };
                    assert_eq!(
                        e.to_string(),
                        whole_file(text, start..end),
                        "{start}..{end} of {text:?}"
                    );
                }
            }
        }
    }
}

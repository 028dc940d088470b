//! Escaping for the firewalld script: XML text inside quoted here-documents and shell comments.

use std::fmt;

/// askama escaper for the firewalld template: applies [`xml_text`] to every `{{ }}`.
#[derive(Debug, Clone, Copy)]
pub struct Xml;

impl askama::filters::Escaper for Xml {
    fn write_escaped_str<W: fmt::Write>(&self, mut dest: W, s: &str) -> fmt::Result {
        if s.chars().any(needs_escape) {
            dest.write_str(&xml_text(s))
        } else {
            dest.write_str(s)
        }
    }
}

fn needs_escape(c: char) -> bool {
    matches!(c, '&' | '<' | '>' | '"' | '\'') || c.is_control()
}

/// Makes text safe as XML element text, as a quoted attribute value and inside a shell comment
/// line: the five XML specials become entities and control characters (a newline would end the
/// comment line, or the here-document's line) become spaces.
pub fn xml_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// Text for an XML comment (`<!-- ... -->`), before [`xml_text`]: a comment may not hold `--`
/// nor end in `-`.
pub fn comment_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c == '-' && out.ends_with('-') {
            out.push(' ');
        }
        out.push(c);
    }
    if out.ends_with('-') {
        out.push(' ');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaper_writes_what_the_function_returns() {
        use askama::filters::Escaper;
        for &s in abrfw_core::text::ESCAPER_CORPUS {
            let mut out = String::new();
            Xml.write_escaped_str(&mut out, s).unwrap();
            assert_eq!(out, xml_text(s), "{s:?}");
        }
    }

    #[test]
    fn nothing_breaks_out_of_xml_or_a_comment() {
        assert_eq!(xml_text("</rule>\nx'\""), "&lt;/rule&gt; x&apos;&quot;");
        assert_eq!(comment_text("a--b---"), "a- -b- - - ");
        assert!(!comment_text("-->").contains("--"));
    }
}

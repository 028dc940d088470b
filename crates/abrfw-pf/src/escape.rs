//! Escaping for pf.conf text, after pfctl's lexer (`sbin/pfctl/parse.y`, `lgetc`/`yylex`).

use std::fmt;

/// askama escaper for `.conf` templates: applies [`pf_text`] to every `{{ }}`.
#[derive(Debug, Clone, Copy)]
pub struct Pf;

impl askama::filters::Escaper for Pf {
    fn write_escaped_str<W: fmt::Write>(&self, mut dest: W, s: &str) -> fmt::Result {
        // Most values need no escaping; write them as they are, without a copy.
        if s.chars().any(|c| matches!(c, '"' | '\\') || c.is_control()) {
            dest.write_str(&pf_text(s))
        } else {
            dest.write_str(s)
        }
    }
}

/// Makes text safe after `#` and inside a `"..."` string of pf.conf:
/// - control characters (a newline above all, which would end the comment and start a
///   statement) become spaces;
/// - `"` becomes `'`: it would end a quoted string;
/// - `\` becomes `/`: pfctl joins a line ending in `\` with the next one *before* it sees
///   comments, and inside quotes `\` escapes the quote character.
///
/// `$` is left alone here: pfctl does not expand macros after `#` or inside quotes. Labels, where
/// pfctl does expand `$srcaddr` and friends, go through [`label`] first.
pub fn pf_text(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '"' => '\'',
            '\\' => '/',
            c if c.is_control() => ' ',
            c => c,
        })
        .collect()
}

/// A rule label: pfctl expands `$if`, `$srcaddr`, `$dstaddr`, `$srcport`, `$dstport`, `$proto`
/// and `$nr` in labels and fails when the result exceeds 63 bytes (`PF_RULE_LABEL_SIZE` 64).
/// Only `[A-Za-z0-9._:-]` is kept, anything else becomes `_`, and the result is cut to
/// [`crate::MAX_LABEL_BYTES`].
pub fn label(s: &str) -> String {
    let clean: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    truncate_bytes(&clean, crate::MAX_LABEL_BYTES).to_owned()
}

pub use abrfw_core::text::truncate_bytes;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaper_writes_what_the_function_returns() {
        use askama::filters::Escaper;
        for &s in abrfw_core::text::ESCAPER_CORPUS {
            let mut out = String::new();
            Pf.write_escaped_str(&mut out, s).unwrap();
            assert_eq!(out, pf_text(s), "{s:?}");
        }
    }

    #[test]
    fn quotes_backslashes_and_newlines_cannot_break_out() {
        assert_eq!(pf_text("a\"b\\\nc$d"), "a'b/ c$d");
    }

    #[test]
    fn labels_keep_a_safe_charset_and_63_bytes() {
        assert_eq!(label("allow:x$srcaddr \"y\""), "allow:x_srcaddr__y_");
        assert_eq!(label(&"a".repeat(80)).len(), 63);
    }
}

//! Escaping for iptables-restore files.
//!
//! iptables-restore splits a line into arguments itself: only double quotes group words, and a
//! backslash makes the next character literal, inside quotes or not (`\"` and `\\` round-trip
//! through `iptables-save`). A line break would end the rule and start another one. We escape
//! exactly what `iptables-save` escapes (`"`, `\` and `'`; iptables' `xtables_save_string`), so a
//! saved table reads byte for byte like the file.

use std::fmt;

/// askama escaper for `.rules` templates: applies [`rules_string`] to every `{{ }}`.
#[derive(Debug, Clone, Copy)]
pub struct Rules;

impl askama::filters::Escaper for Rules {
    fn write_escaped_str<W: fmt::Write>(&self, mut dest: W, s: &str) -> fmt::Result {
        // Most values need no escaping; write them as they are, without a copy.
        if s.chars()
            .any(|c| matches!(c, '"' | '\\' | '\'') || c.is_control())
        {
            dest.write_str(&rules_string(s))
        } else {
            dest.write_str(s)
        }
    }
}

/// Makes text safe inside an iptables-restore `"..."` argument (or after `#`): `"`, `\` and `'`
/// get a backslash, control characters become spaces.
pub fn rules_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' | '\\' | '\'' => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// Control characters become spaces, so that what is later cut and escaped is one line.
pub fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
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
            Rules.write_escaped_str(&mut out, s).unwrap();
            assert_eq!(out, rules_string(s), "{s:?}");
        }
    }

    #[test]
    fn quotes_backslashes_and_newlines_cannot_break_out() {
        assert_eq!(
            rules_string("a\"b\\c\nd\re$f#g'h"),
            "a\\\"b\\\\c d e$f#g\\'h"
        );
    }

    #[test]
    fn plain_text_is_unchanged() {
        let s = "-s 192.0.2.0/24 -p tcp -m tcp --sport 32768:61000 --dport 9876";
        assert_eq!(rules_string(s), s);
    }

    #[test]
    fn truncation_keeps_utf8_whole() {
        let s = "é".repeat(200);
        assert_eq!(truncate_bytes(&s, 255).len(), 254);
        assert_eq!(truncate_bytes(&s, 256).len(), 256);
        assert_eq!(truncate_bytes("short", 255), "short");
        let s = "€".repeat(100); // 3 bytes each
        assert_eq!(truncate_bytes(&s, 255).len(), 255);
        assert_eq!(truncate_bytes(&s, 254).len(), 252);
    }

    #[test]
    fn one_line_removes_control_characters() {
        assert_eq!(one_line("a\nb\tc\u{7f}"), "a b c ");
    }
}

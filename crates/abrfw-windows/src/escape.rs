//! Escaping for the two Windows script languages. Every `{{ }}` of a template goes through the
//! escaper registered for its extension in `askama.toml`, so nothing from a topology reaches a
//! script unescaped.
//!
//! Both escapers assume that the expression fills a whole quoted string (`name="{{ x }}"`,
//! `-Description '{{ x }}'`); the templates only ever use them that way.

use std::fmt;

/// askama escaper for `.cmd` templates: applies [`cmd_quoted`] to every `{{ }}`.
#[derive(Debug, Clone, Copy)]
pub struct Cmd;

impl askama::filters::Escaper for Cmd {
    fn write_escaped_str<W: fmt::Write>(&self, mut dest: W, s: &str) -> fmt::Result {
        // Most values need no escaping; write them as they are, without a copy.
        let plain = |c: char| c.is_ascii() && !c.is_control() && c != '"' && c != '%';
        if s.chars().all(plain) && !s.ends_with('\\') {
            dest.write_str(s)
        } else {
            dest.write_str(&cmd_quoted(s))
        }
    }
}

/// askama escaper for `.ps1` templates: applies [`ps_single_quoted`] to every `{{ }}`.
#[derive(Debug, Clone, Copy)]
pub struct PsSingleQuoted;

impl askama::filters::Escaper for PsSingleQuoted {
    fn write_escaped_str<W: fmt::Write>(&self, mut dest: W, s: &str) -> fmt::Result {
        // Most values need no escaping; write them as they are, without a copy.
        let quote = |c: char| matches!(c, '\'' | '\u{2018}' | '\u{2019}' | '\u{201A}' | '\u{201B}');
        if s.chars().any(|c| quote(c) || c.is_control()) {
            dest.write_str(&ps_single_quoted(s))
        } else {
            dest.write_str(s)
        }
    }
}

/// Makes text safe as the whole content of a `"..."` value on a line of a `.cmd` file.
///
/// - `"` cannot be escaped inside a cmd quoted string (it would end the quote and expose `& | < >`
///   to cmd), so it becomes `'`.
/// - `%` is expanded in batch files even inside quotes; `%%` is a literal percent sign.
/// - `!` is only special with delayed expansion, which the scripts switch off explicitly.
/// - A run of `\` right before the closing quote would turn `\"` into an escaped quote for the
///   program's argument parser (netsh, like every MSVC program, follows CommandLineToArgvW):
///   trailing backslashes are doubled, which that parser reads back as single ones.
/// - cmd reads a script in the console's OEM code page, so anything but printable ASCII becomes
///   `?`; control characters become spaces.
pub fn cmd_quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => out.push('\''),
            '%' => out.push_str("%%"),
            c if c.is_control() => out.push(' '),
            c if c.is_ascii() => out.push(c),
            _ => out.push('?'),
        }
    }
    let trailing = out.len() - out.trim_end_matches('\\').len();
    out.push_str(&"\\".repeat(trailing));
    out
}

/// Makes text safe as the whole content of a PowerShell single-quoted string `'...'`.
///
/// Inside `'...'` only single quotes are special, and PowerShell counts U+2018..U+201B as single
/// quotes too (`CharTraits.IsSingleQuote`); each of them is doubled, which PowerShell reads back
/// as one. `$`, backticks and `"` are literal there. Control characters become spaces, so a
/// string never spans lines.
pub fn ps_single_quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\'' | '\u{2018}' | '\u{2019}' | '\u{201A}' | '\u{201B}' => {
                out.push(c);
                out.push(c);
            }
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
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
            Cmd.write_escaped_str(&mut out, s).unwrap();
            assert_eq!(out, cmd_quoted(s), "{s:?}");
            let mut out = String::new();
            PsSingleQuoted.write_escaped_str(&mut out, s).unwrap();
            assert_eq!(out, ps_single_quoted(s), "{s:?}");
        }
    }

    #[test]
    fn cmd_values_cannot_close_the_quote_or_expand() {
        assert_eq!(
            cmd_quoted(r#"a "b" 100% & | ^ !x!"#),
            "a 'b' 100%% & | ^ !x!"
        );
        assert_eq!(cmd_quoted("%PATH%"), "%%PATH%%");
    }

    #[test]
    fn cmd_trailing_backslashes_are_doubled() {
        assert_eq!(cmd_quoted(r"C:\dir\"), r"C:\dir\\");
        assert_eq!(cmd_quoted(r"a\\"), r"a\\\\");
        assert_eq!(cmd_quoted(r"a\b"), r"a\b");
    }

    #[test]
    fn cmd_is_ascii_only() {
        assert_eq!(cmd_quoted("it’s\tdone é"), "it?s done ?");
    }

    #[test]
    fn ps_quotes_are_doubled_including_smart_quotes() {
        assert_eq!(ps_single_quoted("it's"), "it''s");
        assert_eq!(
            ps_single_quoted("\u{2018}a\u{2019}\u{201A}\u{201B}"),
            "\u{2018}\u{2018}a\u{2019}\u{2019}\u{201A}\u{201A}\u{201B}\u{201B}"
        );
        assert_eq!(ps_single_quoted("$(x) `n \"y\"\nz"), "$(x) `n \"y\" z");
    }
}

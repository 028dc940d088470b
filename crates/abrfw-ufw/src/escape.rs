//! Escaping for the ufw script.

use std::fmt;

/// askama escaper for the ufw template: applies [`comment_line`] to every `{{ }}`.
#[derive(Debug, Clone, Copy)]
pub struct ShComment;

impl askama::filters::Escaper for ShComment {
    fn write_escaped_str<W: fmt::Write>(&self, mut dest: W, s: &str) -> fmt::Result {
        if s.chars().any(char::is_control) {
            dest.write_str(&comment_line(s))
        } else {
            dest.write_str(s)
        }
    }
}

/// Text that stays on its `#` line: control characters (a newline above all, which would end
/// the comment and start a command) become spaces. Nothing else is special after `#`.
pub fn comment_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// A token for the single-quoted `comment '...'` of a ufw command: letters, digits and `:._-`
/// stay, anything else becomes `_`, so the comment can neither leave its quotes nor trip the
/// strict pattern the script uses to find abrfw's rules again.
pub fn token(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, ':' | '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaper_writes_what_the_function_returns() {
        use askama::filters::Escaper;
        for &s in abrfw_core::text::ESCAPER_CORPUS {
            let mut out = String::new();
            ShComment.write_escaped_str(&mut out, s).unwrap();
            assert_eq!(out, comment_line(s), "{s:?}");
        }
    }

    #[test]
    fn tokens_cannot_leave_their_quotes() {
        assert_eq!(token("allow:a'b $(c)\n"), "allow:a_b___c__");
        assert_eq!(token("agent-ms"), "agent-ms");
    }
}

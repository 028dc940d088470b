//! Escaping for nft scripts: nft quoted strings have no escape sequences at all.

use std::fmt;

/// askama escaper for `.nft` templates: applies [`nft_string`] to every `{{ }}`.
#[derive(Debug, Clone, Copy)]
pub struct Nft;

impl askama::filters::Escaper for Nft {
    fn write_escaped_str<W: fmt::Write>(&self, mut dest: W, s: &str) -> fmt::Result {
        // Most values need no escaping; write them as they are, without a copy.
        if s.chars().any(|c| c == '"' || c.is_control()) {
            dest.write_str(&nft_string(s))
        } else {
            dest.write_str(s)
        }
    }
}

/// Makes text safe inside an nft `"..."` string or after `#`: a double quote, which nft cannot
/// escape, becomes a single quote; control characters (newlines above all, which would end a
/// comment and start a statement) become spaces.
pub fn nft_string(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '"' => '\'',
            c if c.is_control() => ' ',
            c => c,
        })
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
            Nft.write_escaped_str(&mut out, s).unwrap();
            assert_eq!(out, nft_string(s), "{s:?}");
        }
    }

    #[test]
    fn quotes_and_newlines_cannot_break_out() {
        assert_eq!(nft_string("a\"b\nc"), "a'b c");
    }

    #[test]
    fn truncation_keeps_utf8_whole() {
        let s = "é".repeat(70);
        let t = truncate_bytes(&s, 128);
        assert_eq!(t.len(), 128);
        assert_eq!(truncate_bytes(&"é".repeat(70), 127).len(), 126);
    }
}

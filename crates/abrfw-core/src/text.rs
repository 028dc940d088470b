//! Syntax-neutral text helpers the backends share.

/// The longest prefix of `s` of at most `max` bytes that ends on a character boundary: for the
/// byte limits of rule comments and labels (nft 128, iptables 255, pf 63).
pub fn truncate_bytes(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Inputs every backend's escaper test runs (`escaper_writes_what_the_function_returns` in each
/// backend crate): quotes of every kind, backslashes, shell and cmd metacharacters, markup,
/// line breaks and control characters, non-ASCII and bidirectional text, the empty string.
pub const ESCAPER_CORPUS: &[&str] = &[
    "plain text 10.0.0.1-10.0.0.9",
    "a\"b",
    "x\\",
    "q'uote",
    "100%",
    "line\nbreak",
    "cr\rlf\r\n",
    "é ü",
    "\u{2018}smart\u{2019} \u{201c}double\u{201d}",
    "tab\t",
    "$(x) `y` 'z' ${HOME} !bang ^caret &amp; | ; < >",
    "a&b<c>\"'",
    "a--b---",
    "# not a comment",
    "nul\u{0}bell\u{7}esc\u{1b}[31m",
    "bidi \u{202e}evil\u{202c} \u{2028}sep",
    "",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_keeps_utf8_whole() {
        let s = "é".repeat(70);
        assert_eq!(truncate_bytes(&s, 128).len(), 128);
        assert_eq!(truncate_bytes(&s, 127).len(), 126);
        assert_eq!(truncate_bytes("short", 128), "short");
    }
}

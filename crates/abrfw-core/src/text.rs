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

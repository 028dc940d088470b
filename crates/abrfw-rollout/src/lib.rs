//! `apply.sh`: the rollout script abrfw writes beside a Linux, appliance or pf host's rule files
//! (and a gateway's). It knows which of the host's files it loads (the backends that wrote them)
//! and nothing of the topology: the rules themselves stay in the backends' files.
//!
//! What the script does (save, check, load, timed rollback, confirm, rollback, persist) is
//! described in its own header and in `docs/rollout.md`; the template is
//! `templates/rollout/apply.sh`.
#![deny(missing_docs)]

use std::fmt;

use askama::Template;

/// The file name under `DIR/<host>/`.
pub const FILE_NAME: &str = "apply.sh";

/// The backends apply.sh loads, with the file that shows the host has their rules.
pub const LOADS: [(&str, &str); 3] = [
    ("nftables", "nftables.nft"),
    ("iptables", "iptables.rules"),
    ("pf", "pf.conf"),
];

/// A rendering failure.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// askama failed (it does not for these inputs; kept so the contract has no panic).
    #[error("rendering apply.sh: {0}")]
    Template(#[from] askama::Error),
}

/// askama escaper: every value becomes one single-quoted shell word.
#[derive(Debug, Clone, Copy)]
pub struct ShQuote;

impl askama::filters::Escaper for ShQuote {
    fn write_escaped_str<W: fmt::Write>(&self, mut dest: W, s: &str) -> fmt::Result {
        dest.write_str(&quote(s))
    }
}

/// `s` as one single-quoted POSIX shell word (`'` becomes `'\''`).
pub fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

#[derive(Template)]
#[template(path = "apply.sh")]
struct ApplySh<'a> {
    kind: &'a str,
    host: &'a str,
    /// Space-separated backend names, in the order apply.sh prefers them.
    backends: String,
    usage: String,
    persist_how: &'a str,
}

/// apply.sh for `name` (a host when `gateway` is false), given the names of the files the
/// backends wrote into its directory; `None` when none of them is a file apply.sh loads.
pub fn render(name: &str, gateway: bool, files: &[&str]) -> Result<Option<String>, Error> {
    let backends: Vec<&str> = LOADS
        .iter()
        .filter(|(_, f)| files.contains(f))
        .map(|(b, _)| *b)
        .collect();
    if backends.is_empty() {
        return Ok(None);
    }
    let persist_how = if backends.contains(&"pf") {
        "an anchor in /etc/pf.conf"
    } else {
        "a systemd unit, abrfw.service"
    };
    let text = ApplySh {
        kind: if gateway { "gateway" } else { "host" },
        host: name,
        backends: backends.join(" "),
        usage: backends.join("|"),
        persist_how,
    }
    .render()?;
    Ok(Some(text + "\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_cannot_be_left() {
        assert_eq!(quote("a'b $(c)"), r"'a'\''b $(c)'");
        assert_eq!(quote(""), "''");
    }

    #[test]
    fn only_hosts_with_loadable_files_get_a_script() {
        assert!(
            render("w", false, &["netsh.cmd", "rules.json"])
                .unwrap()
                .is_none()
        );
        let s = render(
            "h",
            false,
            &["nftables.nft", "iptables.rules", "ip6tables.rules"],
        )
        .unwrap()
        .unwrap();
        assert!(s.contains("BACKENDS='nftables iptables'\n"), "{s}");
        assert!(s.contains("HOST='h'\n"));
        let pf = render("b", true, &["pf.conf"]).unwrap().unwrap();
        assert!(pf.contains("for gateway 'b'\n"));
        assert!(pf.contains("/etc/pf.conf"));
    }
}

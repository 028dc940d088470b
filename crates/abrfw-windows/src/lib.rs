//! Windows backends: render one host's [`HostRules`](abrfw_core::HostRules) as `netsh.cmd` (a cmd script of `netsh`
//! commands) and `firewall.ps1` (PowerShell with `New-NetFirewallRule`).
//!
//! Both share one mapping ([`mapping`]): deterministic rule names under the prefix `abrfw:`, the
//! group `abrfw`, local and remote ports from the connection's direction, IPv4 and IPv6 remote
//! addresses in one rule, consecutive addresses as one range, long address lists split into
//! chunks. Both scripts replace abrfw's
//! previous rules without a moment where neither set is in place: the old rules are renamed to
//! `abrfw-retired…`, the new ones added, and only then are the retired ones deleted; on error the
//! new rules are deleted and the old ones stay. `windows-legacy` hosts (XP, Server 2003) get
//! `netsh firewall` port openings instead; see `docs/backends/windows.md`.
#![deny(missing_docs)]

mod escape;
pub mod live;
pub mod mapping;
pub mod netsh;
pub mod powershell;

pub use escape::{cmd_quoted, ps_single_quoted};

use abrfw_core::Os;

/// Rendering options shared by both backends.
#[derive(Debug, Clone)]
pub struct Options {
    /// Most remote address entries (address, network or range) in one rule; longer lists become
    /// several rules. Windows documents no limit; about 1000 entries per rule are reported to
    /// fail, and the firewall GUI slows down beyond about 500. netsh.cmd also keeps each list
    /// under [`mapping::MAX_REMOTE_CHARS`].
    pub max_addresses_per_rule: usize,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            max_addresses_per_rule: 500,
        }
    }
}

/// Why a rule set could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The host does not run Windows.
    #[error("the Windows backends serve windows and windows-legacy hosts, not {0}")]
    NotWindows(Os),
    /// The template engine failed.
    #[error("Windows template: {0}")]
    Template(#[from] askama::Error),
}

/// `prefix`, then every line of `text` ended with CRLF, as Windows script files are.
fn crlf_lines(prefix: &str, text: &str) -> String {
    let mut out = String::with_capacity(prefix.len() + text.len() + text.len() / 32);
    out.push_str(prefix);
    for line in text.lines() {
        out.push_str(line);
        out.push_str("\r\n");
    }
    out
}

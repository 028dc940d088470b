//! The Windows mapping both renderers share: rule names, ports, remote addresses, descriptions
//! and the chunking of long address lists. Nothing here knows cmd or PowerShell syntax.

use std::collections::BTreeMap;

use abrfw_core::ipnet::IpNet;
use abrfw_core::{Direction, Family, HostRules, PortRange, Protocol, Rule};

use crate::Options;

/// Every rule abrfw adds has a name (netsh `name=`, PowerShell `-Name` and `-DisplayName`) that
/// starts with this prefix. The scripts find abrfw's own rules by it and touch no other rule.
pub const NAME_PREFIX: &str = "abrfw:";

/// While a script runs, abrfw's previous rules are renamed to names starting with this; they
/// keep filtering until the new set is complete. It must not start with [`NAME_PREFIX`].
pub const RETIRED_PREFIX: &str = "abrfw-retired";

/// The PowerShell rule group (DisplayGroup) of every rule. One group for the machine, not one per
/// host name, so that a host renamed in the topology still finds the rules of its old name; and
/// without a `:` so that netsh's `show rule` listing of it ("Grouping: abrfw") never looks like
/// a rule name starting with [`NAME_PREFIX`].
pub const GROUP: &str = "abrfw";

/// Longest `remoteip=` list, in characters. cmd refuses lines over 8191 characters; the rest of a
/// netsh line (name, description with every `%` doubled, ports) stays under 1200.
pub const MAX_REMOTE_CHARS: usize = 6000;

/// One Windows firewall rule, ready for either renderer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WinRule {
    /// Unique, deterministic name: `abrfw:<host>:<in|out>:<flow>:<n>`, plus `.<k>` for the k-th
    /// chunk of a long address list.
    pub name: String,
    /// Direction of the connection.
    pub direction: Direction,
    /// Transport protocol.
    pub protocol: Protocol,
    /// The local port(s); `None` = any.
    pub local_port: Option<PortRange>,
    /// The remote port(s); `None` = any.
    pub remote_port: Option<PortRange>,
    /// Remote addresses, IPv4 then IPv6, in the forms both netsh and PowerShell accept.
    pub remote: Vec<String>,
    /// `<flow>: <purpose>`, made valid for a Windows rule description (no `|`, one line);
    /// not yet escaped for any script language.
    pub description: String,
}

/// The rules of `host`, in IR order, with long address lists split into chunks.
pub fn rules(host: &HostRules, opts: &Options) -> Vec<WinRule> {
    let mut out = Vec::new();
    // Numbered per (direction, flow): a flow has one rule per initiator source-port range.
    let mut seen: BTreeMap<(Direction, &str), usize> = BTreeMap::new();
    for rule in &host.rules {
        let index = *seen
            .entry((rule.direction, rule.flow.as_str()))
            .and_modify(|n| *n += 1)
            .or_insert(1);
        let stem = format!(
            "{NAME_PREFIX}{}:{}:{}:{index}",
            host.host,
            direction_tag(rule.direction),
            rule.flow
        );
        let remote = remote_addresses(rule);
        if remote.is_empty() {
            // No peer means nothing to allow; an empty list must never become "any".
            continue;
        }
        let chunks = chunk(&remote, opts.max_addresses_per_rule);
        let count = chunks.len();
        for (k, remote) in chunks.into_iter().enumerate() {
            let (name, part) = if count == 1 {
                (stem.clone(), String::new())
            } else {
                (
                    format!("{stem}.{}", k + 1),
                    format!(" [addresses part {} of {count}]", k + 1),
                )
            };
            let (local_port, remote_port) = match rule.direction {
                Direction::Inbound => (Some(rule.destination_port), rule.source_ports),
                Direction::Outbound => (rule.source_ports, Some(rule.destination_port)),
            };
            out.push(WinRule {
                name,
                direction: rule.direction,
                protocol: rule.protocol,
                local_port,
                remote_port,
                remote,
                description: description(&format!("{}: {}{part}", rule.flow, rule.purpose)),
            });
        }
    }
    out
}

/// `in` or `out`, as rule names spell the direction.
pub fn direction_tag(direction: Direction) -> &'static str {
    match direction {
        Direction::Inbound => "in",
        Direction::Outbound => "out",
    }
}

/// `9876` or `49152-65535`, the port form netsh and PowerShell share.
pub fn port(range: PortRange) -> String {
    range.to_string()
}

/// A single address prints bare (Windows reads it as /32 or /128); a network keeps its prefix.
pub fn address(net: IpNet) -> String {
    if net.prefix_len() == net.max_prefix_len() {
        net.addr().to_string()
    } else {
        net.to_string()
    }
}

/// The remote addresses of a rule, IPv4 then IPv6: one Windows rule holds both families.
fn remote_addresses(rule: &Rule) -> Vec<String> {
    Family::ALL
        .into_iter()
        .flat_map(|f| rule.peers.of(f))
        .map(address)
        .collect()
}

/// Splits `addresses` into lists of at most `max` entries and [`MAX_REMOTE_CHARS`] characters
/// (joined with commas). Always at least one chunk.
pub fn chunk(addresses: &[String], max: usize) -> Vec<Vec<String>> {
    let max = max.max(1);
    let mut chunks: Vec<Vec<String>> = Vec::new();
    let mut current: Vec<String> = Vec::new();
    let mut chars = 0;
    for a in addresses {
        let extra = a.len() + usize::from(!current.is_empty());
        if !current.is_empty() && (current.len() == max || chars + extra > MAX_REMOTE_CHARS) {
            chunks.push(std::mem::take(&mut current));
            chars = 0;
        }
        chars += a.len() + usize::from(!current.is_empty());
        current.push(a.clone());
    }
    chunks.push(current);
    chunks
}

/// Windows refuses `|` in rule descriptions (INetFwRule::Description) and a description is one
/// line: `|` becomes `/`, any line or paragraph separator a space.
pub fn description(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '|' => '/',
            c if c.is_control() || c == '\u{2028}' || c == '\u{2029}' => ' ',
            c => c,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addrs(n: usize) -> Vec<String> {
        (0..n)
            .map(|i| {
                format!(
                    "2001:db8:ffff:ffff:ffff:ffff:{:x}:{:x}",
                    i / 65536,
                    i % 65536
                )
            })
            .collect()
    }

    #[test]
    fn chunks_respect_count_and_length() {
        let list = addrs(2000);
        let chunks = chunk(&list, 500);
        assert!(chunks.len() > 4);
        for c in &chunks {
            assert!(c.len() <= 500);
            assert!(c.join(",").len() <= MAX_REMOTE_CHARS);
        }
        assert_eq!(chunks.concat(), list);
        let short: Vec<String> = (0..1200)
            .map(|i| format!("10.0.{}.{}", i / 256, i % 256))
            .collect();
        let chunks = chunk(&short, 500);
        assert_eq!(
            chunks.iter().map(Vec::len).collect::<Vec<_>>(),
            [500, 500, 200]
        );
    }

    #[test]
    fn empty_list_is_one_chunk() {
        assert_eq!(chunk(&[], 500), vec![Vec::<String>::new()]);
    }

    #[test]
    fn descriptions_are_one_line_without_pipes() {
        assert_eq!(description("a|b\u{2028}c\td"), "a/b c d");
    }

    #[test]
    fn prefixes_do_not_overlap() {
        assert!(!RETIRED_PREFIX.starts_with(NAME_PREFIX));
        assert!(!GROUP.contains(':'));
    }
}

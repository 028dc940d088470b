//! The Windows mapping both renderers share: rule names, ports, remote addresses, descriptions
//! and the chunking of long address lists. Nothing here knows cmd or PowerShell syntax.

use std::collections::BTreeMap;

use abrfw_core::ipnet::IpNet;
use abrfw_core::{AddressRun, Direction, Family, HostRules, PortRange, Protocol, Rule};

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

/// The directory under `%ProgramData%` where the scripts keep their state: the exported policy
/// a timed rollback imports, and the profile settings from before abrfw's first apply.
pub const STATE_DIR: &str = "abrfw";

/// The policy export (`netsh advfirewall export`) a confirm-within apply writes into
/// [`STATE_DIR`] before any change, and its rollback task imports.
pub const POLICY_FILE: &str = "rollback.wfw";

/// The profile settings `firewall.ps1` saves into [`STATE_DIR`] before its first apply; `-Undo`
/// restores them.
pub const PROFILES_FILE: &str = "profiles.json";

/// The scheduled task that rolls back an unconfirmed apply; confirming deletes it.
pub const ROLLBACK_TASK: &str = "abrfw-rollback";

/// `netsh.cmd`'s second rollback task: it imports the export at the next boot, and while it
/// exists an apply waits for confirmation (a plain schtasks task has one kind of trigger).
pub const ROLLBACK_BOOT_TASK: &str = "abrfw-rollback-boot";

/// Longest `remoteip=` list of a netsh line, in characters. cmd refuses command lines over 8191
/// characters (Microsoft, "Command prompt (Cmd.exe) command-line string limitation"); the rest
/// of a netsh line (name, description with every `%` doubled, ports) stays under 1200.
/// PowerShell has no such limit, so `firewall.ps1` splits by entry count only.
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

/// The rules of `host`, in IR order, with long address lists split into chunks of at most
/// `opts.max_addresses_per_rule` entries and, when given, `max_chars` characters.
pub fn rules(host: &HostRules, opts: &Options, max_chars: Option<usize>) -> Vec<WinRule> {
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
        let chunks = chunk(&remote, opts.max_addresses_per_rule, max_chars);
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

/// The remote addresses of a rule, IPv4 then IPv6 (one Windows rule holds both families), as
/// the fewest entries Windows reads: one per run of consecutive addresses. A run that is one
/// network prints as the network (`10.0.0.0/24`) or address; a longer run as a range
/// (`10.0.0.1-10.0.0.9`), the `start-end` form INetFwRule::RemoteAddresses, netsh `remoteip=`
/// and New-NetFirewallRule `-RemoteAddress` document for IPv4 and IPv6 alike.
pub fn remote_addresses(rule: &Rule) -> Vec<String> {
    Family::ALL
        .into_iter()
        .flat_map(|f| rule.peers.runs(f))
        .map(|run| match run {
            AddressRun::Net(net) => address(net),
            AddressRun::Range(first, last) => format!("{first}-{last}"),
        })
        .collect()
}

/// Splits `addresses` into lists of at most `max` entries and, when given, `max_chars`
/// characters (joined with commas), filling each list before starting the next: the fewest
/// lists those limits allow for the order given. Always at least one chunk.
pub fn chunk(addresses: &[String], max: usize, max_chars: Option<usize>) -> Vec<Vec<String>> {
    let max = max.max(1);
    let max_chars = max_chars.unwrap_or(usize::MAX);
    let mut chunks: Vec<Vec<String>> = Vec::new();
    let mut current: Vec<String> = Vec::new();
    let mut chars = 0;
    for a in addresses {
        let extra = a.len() + usize::from(!current.is_empty());
        if !current.is_empty() && (current.len() == max || chars + extra > max_chars) {
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
        let chunks = chunk(&list, 500, Some(MAX_REMOTE_CHARS));
        assert!(chunks.len() > 4);
        for c in &chunks {
            assert!(c.len() <= 500);
            assert!(c.join(",").len() <= MAX_REMOTE_CHARS);
        }
        assert_eq!(chunks.concat(), list);
        let short: Vec<String> = (0..1200)
            .map(|i| format!("10.0.{}.{}", i / 256, i % 256))
            .collect();
        let chunks = chunk(&short, 500, Some(MAX_REMOTE_CHARS));
        assert_eq!(
            chunks.iter().map(Vec::len).collect::<Vec<_>>(),
            [500, 500, 200]
        );
    }

    fn rule_with(nets: &[&str]) -> Rule {
        Rule {
            direction: Direction::Inbound,
            flow: abrfw_core::FlowId::catalog("agent-ms"),
            protocol: Protocol::Tcp,
            destination_port: PortRange::single(9876),
            source_ports: None,
            peers: abrfw_core::Peers::from_nets(nets.iter().map(|n| {
                n.parse::<IpNet>()
                    .or_else(|_| n.parse::<std::net::IpAddr>().map(IpNet::from))
                    .unwrap()
            })),
            peer_hosts: Vec::new(),
            purpose: "p".into(),
        }
    }

    #[test]
    fn consecutive_addresses_become_one_range_entry() {
        // 10.0.0.1 ... 10.0.0.9 aggregate to four networks (.1, .2/31, .4/30, .8/31): one run.
        let nine: Vec<String> = (1..=9).map(|i| format!("10.0.0.{i}")).collect();
        let nine: Vec<&str> = nine.iter().map(String::as_str).collect();
        assert_eq!(remote_addresses(&rule_with(&nine)), ["10.0.0.1-10.0.0.9"]);
        // A run that is one network keeps the network form; gaps split runs; IPv6 too.
        assert_eq!(
            remote_addresses(&rule_with(&[
                "10.0.1.0/25",
                "10.0.1.128/25",
                "10.0.3.7",
                "fd00::1",
                "fd00::2",
                "fd00::3",
                "fd00::9",
            ])),
            ["10.0.1.0/24", "10.0.3.7", "fd00::1-fd00::3", "fd00::9"]
        );
        // The top of the address space does not overflow.
        assert_eq!(
            remote_addresses(&rule_with(&["255.255.255.254", "255.255.255.255", "::/0"])),
            ["255.255.255.254/31", "::/0"]
        );
    }

    #[test]
    fn splitting_uses_the_fewest_rules_the_limits_allow() {
        // Every other address: nothing merges, 2,400 entries.
        let list: Vec<String> = (0..2400u32)
            .map(|i| std::net::Ipv4Addr::from(0x0a10_0000 + 2 * i).to_string())
            .collect();
        // PowerShell: entry count only, ceil(2400 / 500) = 5 rules.
        let ps = chunk(&list, 500, None);
        assert_eq!(
            ps.iter().map(Vec::len).collect::<Vec<_>>(),
            [500, 500, 500, 500, 400]
        );
        // netsh: also the command-line budget; every chunk but the last is full, so no
        // split could use fewer.
        let netsh = chunk(&list, 500, Some(MAX_REMOTE_CHARS));
        assert_eq!(netsh.concat(), list);
        for pair in netsh.windows(2) {
            let (full, next) = (&pair[0], &pair[1]);
            assert!(full.join(",").len() <= MAX_REMOTE_CHARS);
            assert!(
                full.len() == 500 || full.join(",").len() + 1 + next[0].len() > MAX_REMOTE_CHARS
            );
        }
        let total: usize = list.iter().map(|a| a.len() + 1).sum::<usize>() - 1;
        assert!(
            netsh.len()
                <= total
                    .div_ceil(MAX_REMOTE_CHARS - 16)
                    .max(list.len().div_ceil(500))
        );
    }

    #[test]
    fn empty_list_is_one_chunk() {
        assert_eq!(chunk(&[], 500, None), vec![Vec::<String>::new()]);
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

//! nftables backend: renders one host's [`HostRules`] as a script for `nft -f`.
//!
//! `policy = "drop"` gives a complete `table inet abrfw` that replaces itself atomically
//! (`table` + `delete table` + definition, the idiom nft 1.0.6 supports) and drops by default in
//! input and output. `policy = "fragment"` gives only named sets and the `abrfw_in`/`abrfw_out`
//! chains, to `include` inside the site's own `table inet` and jump to.
#![deny(missing_docs)]

mod escape;

use std::collections::BTreeMap;

use abrfw_core::{Direction, Family, HostRules, Policy, Protocol, Rule};
use askama::Template;

/// Backend name, as `--backend` spells it.
pub const NAME: &str = "nftables";
/// File written for each host.
pub const FILE_NAME: &str = "nftables.nft";
/// nft refuses comments over 128 bytes.
pub const MAX_COMMENT_BYTES: usize = 128;

/// Rendering options (none yet beyond the IR's own policy).
#[derive(Debug, Clone, Default)]
pub struct Options {}

/// Why a rule set could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The template engine failed.
    #[error("nftables template: {0}")]
    Template(#[from] askama::Error),
}

/// Renders `host` as an `nft -f` script.
pub fn render(host: &HostRules, _opts: &Options) -> Result<String, Error> {
    let view = View::new(host);
    let mut text = match host.policy {
        Policy::Drop => DropTemplate { v: &view }.render()?,
        Policy::Fragment => FragmentTemplate { v: &view }.render()?,
    };
    text.push('\n');
    Ok(text)
}

#[derive(Template)]
#[template(path = "nftables.nft")]
struct DropTemplate<'a> {
    v: &'a View,
}

#[derive(Template)]
#[template(path = "nftables-fragment.nft")]
struct FragmentTemplate<'a> {
    v: &'a View,
}

/// Everything the templates print, decided here.
struct View {
    host: String,
    os: String,
    roles: String,
    release: String,
    sets: Vec<SetView>,
    input: Vec<RuleView>,
    output: Vec<RuleView>,
}

struct SetView {
    name: String,
    kind: &'static str,
    hosts: String,
    elements: String,
}

impl View {
    fn new(host: &HostRules) -> Self {
        // Sets are shared by every rule with the same peers; numbered in order of first use.
        let mut sets: BTreeMap<(Family, Vec<String>), usize> = BTreeMap::new();
        let mut set_views = Vec::new();
        let mut input = Vec::new();
        let mut output = Vec::new();
        for rule in &host.rules {
            for family in Family::ALL {
                let elements: Vec<String> =
                    rule.peers.of(family).iter().map(|n| element(*n)).collect();
                if elements.is_empty() {
                    continue;
                }
                let next = sets.len() + 1;
                let number = *sets.entry((family, elements.clone())).or_insert_with(|| {
                    set_views.push(SetView {
                        name: set_name(next, family),
                        kind: match family {
                            Family::V4 => "ipv4_addr",
                            Family::V6 => "ipv6_addr",
                        },
                        hosts: peers_comment(rule),
                        elements: elements.join(", "),
                    });
                    next
                });
                let line = rule_view(rule, family, set_name(number, family));
                match rule.direction {
                    Direction::Inbound => input.push(line),
                    Direction::Outbound => output.push(line),
                }
            }
        }
        View {
            host: host.host.clone(),
            os: host.os.to_string(),
            roles: host.roles.join(", "),
            release: host.release.clone(),
            sets: set_views,
            input,
            output,
        }
    }
}

/// The comment above a set: which hosts it holds, the first few by name.
fn peers_comment(rule: &Rule) -> String {
    const SHOWN: usize = 5;
    let names = &rule.peer_hosts;
    match names.len() {
        0 => format!("peers of {}", rule.flow),
        n if n <= SHOWN => format!("peers: {}", names.join(", ")),
        n => format!("peers: {} and {} more", names[..SHOWN].join(", "), n - SHOWN),
    }
}

fn set_name(number: usize, family: Family) -> String {
    let suffix = match family {
        Family::V4 => "v4",
        Family::V6 => "v6",
    };
    format!("abrfw_peers{number:03}_{suffix}")
}

/// A single address prints bare; a network keeps its prefix.
fn element(net: abrfw_core::ipnet::IpNet) -> String {
    if net.prefix_len() == net.max_prefix_len() {
        net.addr().to_string()
    } else {
        net.to_string()
    }
}

/// One accept rule: peer set, ports, new connections only (replies pass as established).
struct RuleView {
    addr: &'static str,
    set: String,
    proto: &'static str,
    sport: String,
    dport: String,
    comment: String,
}

fn rule_view(rule: &Rule, family: Family, set: String) -> RuleView {
    RuleView {
        addr: match (family, rule.direction) {
            (Family::V4, Direction::Inbound) => "ip saddr",
            (Family::V4, Direction::Outbound) => "ip daddr",
            (Family::V6, Direction::Inbound) => "ip6 saddr",
            (Family::V6, Direction::Outbound) => "ip6 daddr",
        },
        set,
        proto: match rule.protocol {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
        },
        sport: rule.source_ports.map(port_range).unwrap_or_default(),
        dport: port_range(rule.destination_port),
        comment: comment(&rule.flow, &rule.purpose),
    }
}

fn port_range(p: abrfw_core::PortRange) -> String {
    if p.is_single() {
        p.first.to_string()
    } else {
        format!("{}-{}", p.first, p.last)
    }
}

/// `flow: purpose`, made safe for an nft quoted string and cut to 128 bytes.
fn comment(flow: &str, purpose: &str) -> String {
    let text = escape::nft_string(&format!("{flow}: {purpose}"));
    escape::truncate_bytes(&text, MAX_COMMENT_BYTES).to_owned()
}

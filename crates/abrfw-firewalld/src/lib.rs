//! firewalld backend: renders one host's [`HostRules`] as firewalld's own permanent
//! configuration, two policies and their ipsets, inside one installer script (`firewalld.sh`).
//!
//! Why policies in XML files, installed by a script, rather than `firewall-cmd --permanent`
//! calls: the XML files are firewalld's native permanent configuration; the script replaces
//! abrfw's files as a whole, has `firewall-offline-cmd --check-config` judge the result before
//! firewalld sees it, restores the previous files when it is refused, and applies everything
//! with one `firewall-cmd --reload`. A few hundred rich rules would be a few hundred D-Bus calls,
//! each a chance to stop half way.
//!
//! What is written: policy `abrfw-in` (ingress zone ANY, egress zone HOST: traffic to this
//! host) and policy `abrfw-out` (HOST to ANY: traffic from it), each with one rich rule per
//! allowed connection and address family, and an ipset `abrfw-pNNN-v4`/`-v6` per peer list of
//! more than one network. With `policy = "drop"` both policies have target `DROP`, so what
//! they do not accept is dropped before any zone is consulted; with `"fragment"` the target is
//! `CONTINUE` and the zones decide as before. No zone, service or other policy is touched.
//!
//! What firewalld cannot express: a rich rule holds one of `port` and `source-port`, never
//! both, so the initiator's source-port range is not matched (it is written as a comment);
//! policies exist from firewalld 0.9 on, and the script refuses to install on older versions,
//! which have no outbound filtering outside direct rules.
#![deny(missing_docs)]

mod escape;

use std::collections::{BTreeMap, BTreeSet};

use abrfw_core::ipnet::IpNet;
use abrfw_core::ir::{LOG_RATE_PER_MINUTE, address_text, describe_hosts};
use abrfw_core::{Direction, Family, Files, GatewayRules, HostRules, Peers, Policy, PortRange};
use askama::Template;

/// Backend name, as `--backend` spells it.
pub const NAME: &str = "firewalld";
/// The installer script written for each host.
pub const FILE_NAME: &str = "firewalld.sh";

/// ICMPv6 types both policies accept under `policy = "drop"`, by firewalld icmptype name:
/// errors and neighbour discovery, which IPv6 cannot work without (the nftables backend's list,
/// less the MLD types firewalld has no name for).
const ICMPV6: [&str; 8] = [
    "destination-unreachable",
    "packet-too-big",
    "time-exceeded",
    "parameter-problem",
    "router-solicitation",
    "router-advertisement",
    "neighbour-solicitation",
    "neighbour-advertisement",
];

/// Rendering options (none yet beyond the IR's own policy).
#[derive(Debug, Clone, Default)]
pub struct Options {}

/// Why a rule set could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The template engine failed.
    #[error("firewalld template: {0}")]
    Template(#[from] askama::Error),
}

/// Renders a host's rules as `firewalld.sh`, as `(file name, contents)`.
pub fn render(host: &HostRules, _opts: &Options) -> Result<Files, Error> {
    let mut ipsets = Ipsets::default();
    let mut inbound = Rich::default();
    let mut outbound = Rich::default();
    for rule in &host.rules {
        for family in Family::ALL {
            let Some(peer) = ipsets.matcher(family, &rule.peers, || {
                describe_hosts(&rule.peer_hosts, &rule.flow)
            }) else {
                continue;
            };
            let sport = rule
                .source_ports
                .map(|p| format!("; initiator source ports {p}, not matched (see firewalld.md)"))
                .unwrap_or_default();
            let (rich, side) = match rule.direction {
                Direction::Inbound => (&mut inbound, "source"),
                Direction::Outbound => (&mut outbound, "destination"),
            };
            rich.push(RuleView {
                comment: escape::comment_text(&format!("{}: {}{sport}", rule.flow, rule.purpose)),
                family: family_name(family),
                side,
                attr: peer.0,
                value: peer.1,
                port: port_range(rule.destination_port),
                protocol: rule.protocol.as_str(),
            });
        }
    }
    let drop = host.policy == Policy::Drop;
    let log = drop && host.log.drops();
    let target = if drop { "DROP" } else { "CONTINUE" };
    let icmp: Vec<&str> = if drop { ICMPV6.to_vec() } else { Vec::new() };
    let view = View {
        header: format!(
            "{} firewall rules for host {} ({}; roles: {})",
            host.release,
            host.host,
            host.os,
            host.roles.join(", ")
        ),
        policy: host.policy.as_str(),
        rate: LOG_RATE_PER_MINUTE,
        ipsets: ipsets.views,
        policies: vec![
            PolicyView {
                name: "abrfw-in",
                short: "abrfw inbound",
                description: format!(
                    "Connections to {} that the Acronis site topology allows (generated by abrfw).",
                    host.host
                ),
                ingress: "ANY",
                egress: "HOST",
                target,
                icmp: icmp.clone(),
                rules: inbound.rules,
                log_prefix: if log { "abrfw-drop-in " } else { "" },
            },
            PolicyView {
                name: "abrfw-out",
                short: "abrfw outbound",
                description: format!(
                    "Connections from {} that the Acronis site topology allows (generated by abrfw).",
                    host.host
                ),
                ingress: "HOST",
                egress: "ANY",
                target,
                icmp,
                rules: outbound.rules,
                log_prefix: if log { "abrfw-drop-out " } else { "" },
            },
        ],
    };
    let mut text = ScriptTemplate { v: &view }.render()?;
    text.push('\n');
    Ok(vec![(FILE_NAME, text)])
}

/// Gateways get no firewalld rules: forwarding policies go between zones, and the zones a
/// gateway's interfaces belong to are the site's, not abrfw's to define (use nftables or
/// iptables on a Linux gateway).
pub fn render_gateway(_gw: &GatewayRules, _opts: &Options) -> Result<Option<Files>, Error> {
    Ok(None)
}

#[derive(Template)]
#[template(path = "firewalld.sh")]
struct ScriptTemplate<'a> {
    v: &'a View,
}

/// Everything the template prints, decided here.
struct View {
    header: String,
    policy: &'static str,
    /// Drop-log lines per minute.
    rate: u32,
    ipsets: Vec<IpsetView>,
    policies: Vec<PolicyView>,
}

struct PolicyView {
    name: &'static str,
    short: &'static str,
    description: String,
    ingress: &'static str,
    egress: &'static str,
    target: &'static str,
    icmp: Vec<&'static str>,
    rules: Vec<RuleView>,
    /// With `log = "drops"` and target DROP: the log prefix of a last, log-only rich rule.
    log_prefix: &'static str,
}

struct IpsetView {
    name: String,
    family: &'static str,
    description: String,
    entries: Vec<String>,
}

/// One rich rule: `<rule family><source|destination address|ipset><port><accept/></rule>`.
struct RuleView {
    comment: String,
    family: &'static str,
    side: &'static str,
    attr: &'static str,
    value: String,
    port: String,
    protocol: &'static str,
}

/// A policy's rich rules, each once: rules that differ only in the source ports firewalld
/// cannot match are one rich rule.
#[derive(Default)]
struct Rich {
    seen: BTreeSet<(&'static str, String, String, &'static str)>,
    rules: Vec<RuleView>,
}

impl Rich {
    fn push(&mut self, rule: RuleView) {
        let key = (
            rule.family,
            format!("{}={}", rule.attr, rule.value),
            rule.port.clone(),
            rule.protocol,
        );
        if self.seen.insert(key) {
            self.rules.push(rule);
        }
    }
}

/// Peer lists of more than one network become ipsets, numbered in order of first use and shared
/// by every rule with the same list; a single network is matched by address.
#[derive(Default)]
struct Ipsets {
    names: BTreeMap<(Family, Vec<IpNet>), String>,
    views: Vec<IpsetView>,
}

impl Ipsets {
    /// `("address", text)` or `("ipset", name)` for the peers of `family`; `None` when the
    /// family has no address.
    fn matcher(
        &mut self,
        family: Family,
        peers: &Peers,
        description: impl FnOnce() -> String,
    ) -> Option<(&'static str, String)> {
        let nets = peers.of(family);
        match nets.as_slice() {
            [] => None,
            [one] => Some(("address", address_text(*one))),
            _ => {
                let next = self.names.len() + 1;
                let views = &mut self.views;
                let name = self
                    .names
                    .entry((family, nets))
                    .or_insert_with_key(|(_, nets)| {
                        let name = format!(
                            "abrfw-p{next:03}-{}",
                            match family {
                                Family::V4 => "v4",
                                Family::V6 => "v6",
                            }
                        );
                        views.push(IpsetView {
                            name: name.clone(),
                            family: match family {
                                Family::V4 => "inet",
                                Family::V6 => "inet6",
                            },
                            description: description(),
                            entries: nets.iter().copied().map(address_text).collect(),
                        });
                        name
                    });
                Some(("ipset", name.clone()))
            }
        }
    }
}

fn family_name(family: Family) -> &'static str {
    match family {
        Family::V4 => "ipv4",
        Family::V6 => "ipv6",
    }
}

fn port_range(p: PortRange) -> String {
    if p.is_single() {
        p.first.to_string()
    } else {
        format!("{}-{}", p.first, p.last)
    }
}

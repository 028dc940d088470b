//! nftables backend: renders one host's [`HostRules`] (or one gateway's [`GatewayRules`]) as a
//! script for `nft -f`.
//!
//! `policy = "drop"` gives a complete `table inet abrfw` that replaces itself atomically
//! (`table` + `delete table` + definition, the idiom nft 1.0.6 supports) and drops by default:
//! in input and output for a host, in forward for a gateway. A gateway whose zones name their
//! interfaces filters only traffic between those interfaces (an `iifname . oifname` match jumps
//! to `abrfw_zones`, which drops what abrfw does not allow; the base chain accepts the rest, so
//! other forwarded traffic is left to the gateway's own tables); a gateway without interfaces
//! filters all forwarded traffic. A gateway's own input and output are never touched. `policy =
//! "fragment"` gives only
//! named sets and the `abrfw_in`/`abrfw_out` (or `abrfw_fwd`) chains, to `include` inside the
//! site's own `table inet` and jump to.
#![deny(missing_docs)]

mod escape;
pub mod live;

use abrfw_core::Numbering;
use abrfw_core::icmpv6::{icmpv6_names, icmpv6_numbers};
use abrfw_core::ipnet::IpNet;
use abrfw_core::ir::{Connection, LOG_RATE_PER_MINUTE, address_text, describe_hosts};
use abrfw_core::{
    AddressRun, Direction, Family, Files, GatewayRules, HostRules, Peers, Policy, PortRange,
    Protocol,
};
use askama::Template;

/// Backend name, as `--backend` spells it.
pub const NAME: &str = "nftables";
/// File written for each host and each Linux gateway.
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

/// Renders a host's rules as an `nft -f` script.
pub fn render(host: &HostRules, opts: &Options) -> Result<Files, Error> {
    Ok(vec![(FILE_NAME, render_text(host, opts)?)])
}

/// Renders a Linux gateway's forward rules as an `nft -f` script (always `Some`).
pub fn render_gateway(gw: &GatewayRules, opts: &Options) -> Result<Option<Files>, Error> {
    Ok(Some(vec![(FILE_NAME, render_gateway_text(gw, opts)?)]))
}

/// The host script as one string.
fn render_text(host: &HostRules, _opts: &Options) -> Result<String, Error> {
    let mut sets = Sets::default();
    let mut input = Vec::new();
    let mut output = Vec::new();
    for rule in &host.rules {
        for family in Family::ALL {
            let Some(set) = sets.get(family, &rule.peers, || {
                describe_hosts(&rule.peer_hosts, &rule.flow)
            }) else {
                continue;
            };
            let (saddr, daddr) = match rule.direction {
                Direction::Inbound => (Some(set), None),
                Direction::Outbound => (None, Some(set)),
            };
            let line = RuleView::new(family, saddr, daddr, None, None, rule.connection());
            match rule.direction {
                Direction::Inbound => input.push(line),
                Direction::Outbound => output.push(line),
            }
        }
    }
    let view = View {
        header: host.header(),
        out_accept: host.policy == Policy::Drop && !host.drops_outbound(),
        log: host.log.drops(),
        rate: LOG_RATE_PER_MINUTE,
        counter: host.log.drops(),
        sets: sets.numbered.into_views(),
        chains: vec![
            ChainView {
                name: "abrfw_in",
                rules: input,
            },
            ChainView {
                name: "abrfw_out",
                rules: output,
            },
        ],
    };
    finish(match host.policy {
        Policy::Drop => HostTemplate {
            v: &view,
            icmpv6_in: icmpv6_numbers(Direction::Inbound, ", "),
            icmpv6_in_names: icmpv6_names(Direction::Inbound),
            icmpv6_out: icmpv6_numbers(Direction::Outbound, ", "),
            icmpv6_out_names: icmpv6_names(Direction::Outbound),
        }
        .render()?,
        Policy::Fragment => FragmentTemplate {
            v: &view,
            gateway: false,
        }
        .render()?,
    })
}

/// The gateway script as one string.
fn render_gateway_text(gw: &GatewayRules, _opts: &Options) -> Result<String, Error> {
    let mut sets = Sets::default();
    let mut forward = Vec::new();
    for rule in &gw.rules {
        for family in Family::ALL {
            let Some(src) = sets.get(family, &rule.sources, || {
                describe_hosts(&rule.source_hosts, &rule.flow)
            }) else {
                continue;
            };
            let Some(dst) = sets.get(family, &rule.destinations, || {
                describe_hosts(&rule.destination_hosts, &rule.flow)
            }) else {
                continue;
            };
            forward.push(RuleView::new(
                family,
                Some(src),
                Some(dst),
                rule.from_zone.interface.clone(),
                rule.to_zone.interface.clone(),
                rule.connection(),
            ));
        }
    }
    let view = View {
        header: gw.header(),
        out_accept: false,
        log: gw.log.drops(),
        rate: LOG_RATE_PER_MINUTE,
        counter: gw.log.drops(),
        sets: sets.numbered.into_views(),
        chains: vec![ChainView {
            name: "abrfw_fwd",
            rules: forward,
        }],
    };
    finish(match gw.policy {
        Policy::Drop => GatewayTemplate {
            v: &view,
            scope: gw
                .interface_pairs()
                .into_iter()
                .map(|(a, b)| (a.to_owned(), b.to_owned()))
                .collect(),
        }
        .render()?,
        Policy::Fragment => FragmentTemplate {
            v: &view,
            gateway: true,
        }
        .render()?,
    })
}

fn finish(mut text: String) -> Result<String, Error> {
    text.push('\n');
    Ok(text)
}

#[derive(Template)]
#[template(path = "nftables.nft")]
struct HostTemplate<'a> {
    v: &'a View,
    /// ICMPv6 type numbers the input chain accepts (core's [`abrfw_core::icmpv6`] policy), and
    /// their names for the comment above.
    icmpv6_in: String,
    icmpv6_in_names: String,
    /// ICMPv6 type numbers the output chain accepts, and their names.
    icmpv6_out: String,
    icmpv6_out_names: String,
}

#[derive(Template)]
#[template(path = "nftables-gateway.nft")]
struct GatewayTemplate<'a> {
    v: &'a View,
    /// `(in, out)` interface pairs the gateway filters; empty: all forwarded traffic.
    scope: Vec<(String, String)>,
}

#[derive(Template)]
#[template(path = "nftables-fragment.nft")]
struct FragmentTemplate<'a> {
    v: &'a View,
    gateway: bool,
}

/// Everything the templates print, decided here.
struct View {
    header: String,
    /// `outbound = "accept"`: the output chain accepts by default (hosts with policy drop).
    out_accept: bool,
    /// Log what the default policy drops (`log = "drops"`, complete rule sets only).
    log: bool,
    /// Drop-log lines per minute.
    rate: u32,
    /// A `counter` on every accept rule (`log = "drops"`).
    counter: bool,
    sets: Vec<SetView>,
    chains: Vec<ChainView>,
}

struct ChainView {
    name: &'static str,
    rules: Vec<RuleView>,
}

struct SetView {
    name: String,
    kind: &'static str,
    hosts: String,
    elements: String,
}

/// Named address sets, one per family and distinct address list, numbered in order of first use
/// and shared by every rule with the same addresses.
#[derive(Default)]
struct Sets {
    numbered: Numbering<(Family, Vec<IpNet>), SetView>,
}

impl Sets {
    /// The set holding `peers` of `family`; `None` when the family has no address.
    fn get(
        &mut self,
        family: Family,
        peers: &Peers,
        comment: impl FnOnce() -> String,
    ) -> Option<String> {
        let nets = peers.of(family);
        if nets.is_empty() {
            return None;
        }
        let view = self.numbered.get((family, nets), |number, _| SetView {
            name: set_name(number, family),
            kind: match family {
                Family::V4 => "ipv4_addr",
                Family::V6 => "ipv6_addr",
            },
            hosts: comment(),
            // One element per run of consecutive addresses: fewer elements load
            // faster (a 100,000-agent gateway: about 40 % less `nft -f` time).
            elements: peers
                .runs(family)
                .into_iter()
                .map(|run| match run {
                    AddressRun::Net(net) => address_text(net),
                    AddressRun::Range(first, last) => format!("{first}-{last}"),
                })
                .collect::<Vec<_>>()
                .join(", "),
        });
        Some(view.name.clone())
    }
}

/// One accept rule: addresses, interfaces, ports, new connections only (replies pass as
/// established).
struct RuleView {
    /// The ready match clauses before the port, each followed by a space (`iifname "eth1" ip
    /// saddr @abrfw_peers001_v4 tcp sport 49152-65535 `): interface names go through
    /// [`escape::nft_string`] here, the rest is set names and numbers. Printed `|safe`.
    matches: String,
    proto: &'static str,
    dport: String,
    comment: String,
}

impl RuleView {
    fn new(
        family: Family,
        saddr: Option<String>,
        daddr: Option<String>,
        iif: Option<String>,
        oif: Option<String>,
        parts: Connection<'_>,
    ) -> Self {
        let match_kw = match family {
            Family::V4 => "ip",
            Family::V6 => "ip6",
        };
        let proto = match parts.protocol {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
        };
        let clauses = [
            iif.map(|i| format!("iifname \"{}\"", escape::nft_string(&i))),
            oif.map(|o| format!("oifname \"{}\"", escape::nft_string(&o))),
            saddr.map(|s| format!("{match_kw} saddr @{s}")),
            daddr.map(|d| format!("{match_kw} daddr @{d}")),
            parts
                .source_ports
                .map(|p| format!("{proto} sport {}", port_range(p))),
        ];
        RuleView {
            matches: clauses.into_iter().flatten().map(|c| c + " ").collect(),
            proto,
            dport: port_range(parts.destination_port),
            comment: comment(parts.flow, parts.purpose),
        }
    }
}

fn set_name(number: usize, family: Family) -> String {
    let suffix = match family {
        Family::V4 => "v4",
        Family::V6 => "v6",
    };
    format!("abrfw_peers{number:03}_{suffix}")
}

/// `9876` or `first-last`.
fn port_range(p: PortRange) -> String {
    p.joined('-')
}

/// `flow: purpose`, made safe for an nft quoted string and cut to 128 bytes.
fn comment(flow: &str, purpose: &str) -> String {
    let text = escape::nft_string(&format!("{flow}: {purpose}"));
    escape::truncate_bytes(&text, MAX_COMMENT_BYTES).to_owned()
}

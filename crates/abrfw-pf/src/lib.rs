//! pf backend: renders one host's [`HostRules`] (or one gateway's [`GatewayRules`]) as a pf.conf
//! anchor, loaded with `pfctl -a abrfw -f pf.conf` beside the site's own ruleset.
//!
//! # Semantics
//!
//! pf evaluates the main ruleset and the anchors it calls in order; the last matching rule wins
//! unless a rule is `quick`. A `quick` match inside an anchor ends the evaluation of the whole
//! ruleset. Every rule abrfw writes is `quick`, so the anchor decides the traffic it matches,
//! whatever the main ruleset says after `anchor "abrfw"`. State lookup comes before any rule: the
//! replies of a connection a pass rule admitted (and the ICMP errors about it) pass through the
//! state pf keeps for it (`keep state`, with `flags S/SA` for TCP: only a SYN creates state).
//!
//! - **Host**: `pass in quick` from the initiators' table and ephemeral ports `to self port P`,
//!   `pass out quick from self` to the responders' table. `self` is every address of the host's
//!   interfaces, expanded when the anchor is loaded.
//! - **Gateway** (routing between zones): a forwarded packet is filtered twice, inbound on the
//!   interface it arrives on and outbound on the one it leaves by, and the state the inbound pass
//!   creates only matches that direction. So every flow gets a `pass in quick` (bound `on` the
//!   initiators' zone interface when the topology names it) and a `pass out quick` (bound on the
//!   responders' zone interface), both with state; replies match those two states.
//! - **`policy = "drop"`**: after the pass rules, the anchor blocks with `quick`:
//!   - host: everything else in and out, except on the loopback `lo0`; the ICMPv6 a host needs
//!     is passed first, by direction, from core's [`abrfw_core::icmpv6`] policy (as every
//!     backend does);
//!   - gateway: after the forwarded ICMPv6 errors, every forwarded packet, i.e. every outbound packet whose source is not the
//!     gateway itself, on the zones' interfaces when all of them are named, otherwise on every
//!     interface. The gateway's own traffic is left to the main ruleset.
//! - **`policy = "fragment"`**: only the pass rules; the main ruleset owns the default.
#![deny(missing_docs)]

mod escape;
pub mod live;

use abrfw_core::icmpv6::{Icmpv6Type, icmpv6_accepted, icmpv6_forwarded};
use abrfw_core::ipnet::IpNet;
use abrfw_core::ir::{Connection, address_text, describe_hosts};
use abrfw_core::{
    Direction, Files, GatewayRules, HostRules, Log, Numbering, Peers, Policy, PortRange, Protocol,
};
use askama::Template;

pub use escape::{label, pf_text};

/// Backend name, as `--backend` spells it.
pub const NAME: &str = "pf";
/// File written for each pf host and pf gateway.
pub const FILE_NAME: &str = "pf.conf";
/// The anchor the file is written to be loaded into.
pub const ANCHOR: &str = "abrfw";
/// pfctl refuses labels over 63 bytes (`PF_RULE_LABEL_SIZE` 64 in pfvar.h).
pub const MAX_LABEL_BYTES: usize = 63;
/// pfctl refuses table names over 31 bytes (`PF_TABLE_NAME_SIZE` 32 in pfvar.h).
pub const MAX_TABLE_NAME_BYTES: usize = 31;

/// Rendering options (none yet beyond the IR's own policy).
#[derive(Debug, Clone, Default)]
pub struct Options {}

/// Why a rule set could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The template engine failed.
    #[error("pf template: {0}")]
    Template(#[from] askama::Error),
}

/// Renders a pf host's rules as an anchor for `pfctl -a abrfw -f`.
pub fn render(host: &HostRules, opts: &Options) -> Result<Files, Error> {
    Ok(vec![(FILE_NAME, render_text(host, opts)?)])
}

/// Renders a pf gateway's forwarding rules as an anchor for `pfctl -a abrfw -f` (always `Some`).
pub fn render_gateway(gw: &GatewayRules, opts: &Options) -> Result<Option<Files>, Error> {
    Ok(Some(vec![(FILE_NAME, render_gateway_text(gw, opts)?)]))
}

/// The host anchor as one string.
fn render_text(host: &HostRules, _opts: &Options) -> Result<String, Error> {
    let mut tables = Tables::default();
    let mut rules = Vec::new();
    for rule in &host.rules {
        let Some(table) = tables.get(&rule.peers, || describe_hosts(&rule.peer_hosts, &rule.flow))
        else {
            continue;
        };
        let (dir, from, to) = match rule.direction {
            Direction::Inbound => ("in", format!("<{table}>"), "self".to_owned()),
            Direction::Outbound => ("out", "self".to_owned(), format!("<{table}>")),
        };
        rules.push(RuleView::new(dir, None, from, to, rule.connection(), None));
    }
    let view = View {
        header: host.header(),
        policy: host.policy.as_str(),
        gateway: false,
        tables: tables.into_views(),
        rules,
    };
    finish(match host.policy {
        Policy::Drop => HostTemplate {
            v: &view,
            log: log_keyword(host.log),
            icmp6_in: Icmpv6View::new(icmpv6_accepted(Direction::Inbound)),
            icmp6_out: Icmpv6View::new(icmpv6_accepted(Direction::Outbound)),
            out_accept: !host.drops_outbound(),
        }
        .render()?,
        Policy::Fragment => FragmentTemplate { v: &view }.render()?,
    })
}

/// The gateway anchor as one string.
fn render_gateway_text(gw: &GatewayRules, _opts: &Options) -> Result<String, Error> {
    let mut tables = Tables::default();
    let mut rules = Vec::new();
    for rule in &gw.rules {
        let Some(src) = tables.get(&rule.sources, || {
            describe_hosts(&rule.source_hosts, &rule.flow)
        }) else {
            continue;
        };
        let Some(dst) = tables.get(&rule.destinations, || {
            describe_hosts(&rule.destination_hosts, &rule.flow)
        }) else {
            continue;
        };
        for (dir, zone) in [("in", &rule.from_zone), ("out", &rule.to_zone)] {
            let mut view = RuleView::new(
                dir,
                zone.interface.as_deref(),
                format!("<{src}>"),
                format!("<{dst}>"),
                rule.connection(),
                Some((&rule.from_zone.name, &rule.to_zone.name)),
            );
            if dir == "out" {
                // One comment above the pair.
                view.comment.clear();
            }
            rules.push(view);
        }
    }
    let interfaces: Option<Vec<&str>> = gw.zones.iter().map(|z| z.interface.as_deref()).collect();
    let on = match &interfaces {
        Some(list) if !list.is_empty() => format!("on {{ {} }} ", list.join(", ")),
        _ => String::new(),
    };
    let local = match gw.policy {
        Policy::Drop => Some(tables.local()),
        Policy::Fragment => None,
    };
    let view = View {
        header: gw.header(),
        policy: gw.policy.as_str(),
        gateway: true,
        tables: tables.into_views(),
        rules,
    };
    finish(match local {
        Some(local) => GatewayTemplate {
            v: &view,
            log: log_keyword(gw.log),
            comment: if on.is_empty() {
                "Every other forwarded packet: outbound with a source that is not the gateway's own."
            } else {
                "Every other packet forwarded into a zone: outbound on a zone interface with a source that is not the gateway's own."
            },
            on,
            local,
            icmp6: Icmpv6View::new(icmpv6_forwarded()),
        }
        .render()?,
        None => FragmentTemplate { v: &view }.render()?,
    })
}

/// `log ` on the block rules with `log = "drops"`: pf copies each dropped packet to pflog0,
/// where pflogd writes it for `tcpdump -n -e -ttt -r /var/log/pflog` (pf has no rate limit for
/// logging; pflogd's snap length keeps the file small). Rules count packets natively
/// (`pfctl -a abrfw -vsr`, per label `pfctl -a abrfw -sl`).
fn log_keyword(log: Log) -> &'static str {
    if log.drops() { "log " } else { "" }
}

fn finish(mut text: String) -> Result<String, Error> {
    text.push('\n');
    Ok(text)
}

/// A host with `policy = "drop"`: the pass rules, then ICMPv6 by direction and the blocks.
#[derive(Template)]
#[template(path = "pf.conf")]
struct HostTemplate<'a> {
    v: &'a View,
    /// `log ` on the block rules, or nothing.
    log: &'static str,
    /// The ICMPv6 a host receives and sends (core's [`abrfw_core::icmpv6`] policy).
    icmp6_in: Icmpv6View,
    icmp6_out: Icmpv6View,
    /// `outbound = "accept"`: the host's own connections pass instead of the outbound block.
    out_accept: bool,
}

/// A gateway with `policy = "drop"`: the pass pairs, then forwarded ICMPv6 errors and the block.
#[derive(Template)]
#[template(path = "pf-gateway.conf")]
struct GatewayTemplate<'a> {
    v: &'a View,
    /// `log ` on the block rule, or nothing.
    log: &'static str,
    /// What the block drops, for the comment above it.
    comment: &'static str,
    /// `on { if1, if2 } ` when every zone names its interface, or nothing.
    on: String,
    /// The gateway's own-addresses table.
    local: String,
    /// The ICMPv6 a router forwards: the errors (discovery and MLD are link-scoped).
    icmp6: Icmpv6View,
}

/// `policy = "fragment"`, host or gateway: only the tables and the pass rules.
#[derive(Template)]
#[template(path = "pf-fragment.conf")]
struct FragmentTemplate<'a> {
    v: &'a View,
}

/// Everything the templates print, decided here.
struct View {
    header: String,
    policy: &'static str,
    /// A gateway's anchor (the header says how forwarded connections pass).
    gateway: bool,
    tables: Vec<TableView>,
    rules: Vec<RuleView>,
}

/// A set of ICMPv6 types for one `icmp6-type { }` list: numbers, which pfctl reads for every
/// type, and the names for the comment above.
struct Icmpv6View {
    numbers: String,
    names: String,
}

impl Icmpv6View {
    fn new(types: impl Iterator<Item = &'static Icmpv6Type> + Clone) -> Self {
        Icmpv6View {
            numbers: types
                .clone()
                .map(|t| t.number.to_string())
                .collect::<Vec<_>>()
                .join(", "),
            names: types.map(|t| t.name).collect::<Vec<_>>().join(", "),
        }
    }
}

struct TableView {
    name: String,
    hosts: String,
    elements: String,
}

/// Named address tables, one per distinct address list (IPv4 and IPv6 together: pf tables mix
/// families), numbered in order of first use and shared by every rule with the same addresses.
#[derive(Default)]
struct Tables {
    numbered: Numbering<Vec<IpNet>, TableView>,
    /// The gateway's own-addresses table, when a rule needs it (listed after the peer tables).
    local: Option<TableView>,
}

impl Tables {
    /// The table holding `peers`; `None` when there is no address at all.
    fn get(&mut self, peers: &Peers, comment: impl FnOnce() -> String) -> Option<String> {
        if peers.is_empty() {
            return None;
        }
        let nets: Vec<IpNet> = peers
            .v4
            .iter()
            .copied()
            .map(IpNet::V4)
            .chain(peers.v6.iter().copied().map(IpNet::V6))
            .collect();
        let view = self.numbered.get(nets, |number, nets| TableView {
            name: format!("abrfw_peers{number:03}"),
            hosts: comment(),
            elements: nets
                .iter()
                .map(|n| address_text(*n))
                .collect::<Vec<_>>()
                .join(", "),
        });
        Some(view.name.clone())
    }

    /// The gateway's own source addresses: `self` (its interface addresses when the anchor is
    /// loaded), the unspecified addresses (DHCP, IPv6 duplicate address detection) and the
    /// link-local networks, which are never forwarded.
    fn local(&mut self) -> String {
        let name = "abrfw_gateway_self".to_owned();
        self.local = Some(TableView {
            name: name.clone(),
            hosts: "the gateway's own source addresses; link-local and unspecified ones are never forwarded".to_owned(),
            elements: "self, 0.0.0.0, 169.254.0.0/16, ::, fe80::/10".to_owned(),
        });
        name
    }

    /// Every table: the peer tables in number order, then the gateway's own.
    fn into_views(self) -> Vec<TableView> {
        let mut views = self.numbered.into_views();
        views.extend(self.local);
        views
    }
}

/// One pass rule, ready to print.
struct RuleView {
    comment: String,
    dir: &'static str,
    on: String,
    proto: &'static str,
    from: String,
    sport: String,
    to: String,
    dport: String,
    state: &'static str,
    label: String,
}

impl RuleView {
    fn new(
        dir: &'static str,
        interface: Option<&str>,
        from: String,
        to: String,
        parts: Connection<'_>,
        zones: Option<(&str, &str)>,
    ) -> Self {
        let comment = match zones {
            Some((from_zone, to_zone)) => {
                format!(
                    "{}: {} ({from_zone} -> {to_zone})",
                    parts.flow, parts.purpose
                )
            }
            None => format!("{}: {}", parts.flow, parts.purpose),
        };
        RuleView {
            comment,
            dir,
            on: interface.map(|i| format!("on {i} ")).unwrap_or_default(),
            proto: parts.protocol.as_str(),
            from,
            sport: parts
                .source_ports
                .map(|p| format!(" port {}", port_range(p)))
                .unwrap_or_default(),
            to,
            dport: port_range(parts.destination_port),
            state: match parts.protocol {
                Protocol::Tcp => "flags S/SA keep state",
                Protocol::Udp => "keep state",
            },
            label: label(parts.flow),
        }
    }
}

/// pf's inclusive range is `a:b` (`a-b` would be read as a service name; `a><b` excludes the
/// ends).
fn port_range(p: PortRange) -> String {
    p.joined(':')
}

//! The per-host rule set: plain, sorted data that knows no firewall syntax.
//!
//! Every backend renders a [`HostRules`]; none of them sees the topology.

use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use serde::Serialize;

use crate::os::Os;
use crate::role::Role;

/// An inclusive TCP/UDP port range; `first == last` is a single port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct PortRange {
    /// First port of the range.
    pub first: u16,
    /// Last port of the range (inclusive).
    pub last: u16,
}

impl PortRange {
    /// The range holding one port.
    pub const fn single(port: u16) -> Self {
        Self {
            first: port,
            last: port,
        }
    }

    /// The inclusive range `first..=last`; `None` when `first > last` or `first` is 0.
    pub const fn new(first: u16, last: u16) -> Option<Self> {
        if first == 0 || first > last {
            None
        } else {
            Some(Self { first, last })
        }
    }

    /// True when the range holds exactly one port.
    pub const fn is_single(&self) -> bool {
        self.first == self.last
    }

    /// The range as a target writes it: `9876`, or first and last joined by `separator`
    /// (`-` for nftables, netsh and firewalld, `:` for iptables, pf and ufw).
    pub fn joined(&self, separator: char) -> String {
        if self.is_single() {
            self.first.to_string()
        } else {
            format!("{}{separator}{}", self.first, self.last)
        }
    }

    /// True when `port` lies inside the range.
    pub const fn contains(&self, port: u16) -> bool {
        self.first <= port && port <= self.last
    }
}

impl fmt::Display for PortRange {
    /// Neutral human form used in tables and docs: `9876` or `49152-65535`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_single() {
            write!(f, "{}", self.first)
        } else {
            write!(f, "{}-{}", self.first, self.last)
        }
    }
}

/// Transport protocol of a flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
}

impl Protocol {
    /// Lower-case name, `tcp` or `udp`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
        }
    }
}

/// Address family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Family {
    /// IPv4.
    V4,
    /// IPv6.
    V6,
}

impl Family {
    /// Both families, IPv4 first.
    pub const ALL: [Family; 2] = [Family::V4, Family::V6];
}

/// Which way the connection goes, seen from the host the rules are for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// The peer initiates; this host answers (input chain, inbound rule).
    Inbound,
    /// This host initiates; the peer answers (output chain, outbound rule).
    Outbound,
}

/// Addresses of the remote side of a rule, split by family, sorted and aggregated.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Peers {
    /// IPv4 addresses and networks.
    pub v4: Vec<Ipv4Net>,
    /// IPv6 addresses and networks.
    pub v6: Vec<Ipv6Net>,
}

impl Peers {
    /// Builds the normalised set: host bits cleared, overlaps merged, sorted.
    pub fn from_nets(nets: impl IntoIterator<Item = IpNet>) -> Self {
        let mut v4 = Vec::new();
        let mut v6 = Vec::new();
        for net in nets {
            match net.trunc() {
                IpNet::V4(n) => v4.push(n),
                IpNet::V6(n) => v6.push(n),
            }
        }
        Self {
            v4: Ipv4Net::aggregate(&v4),
            v6: Ipv6Net::aggregate(&v6),
        }
    }

    /// The addresses of one family, as [`IpNet`]s.
    pub fn of(&self, family: Family) -> Vec<IpNet> {
        match family {
            Family::V4 => self.v4.iter().copied().map(IpNet::V4).collect(),
            Family::V6 => self.v6.iter().copied().map(IpNet::V6).collect(),
        }
    }

    /// The addresses of one family as runs of consecutive addresses, one entry per run: a run
    /// that is one network stays that network, a longer one becomes a range. Aggregation leaves
    /// the nine hosts .1 to .9 as four networks (.1, .2/31, .4/30, .8/31); as a run they are one
    /// range.
    pub fn runs(&self, family: Family) -> Vec<AddressRun> {
        match family {
            Family::V4 => runs(self.v4.iter().map(|n| {
                (
                    u128::from(u32::from(n.network())),
                    u128::from(u32::from(n.broadcast())),
                    IpNet::V4(*n),
                )
            })),
            Family::V6 => runs(self.v6.iter().map(|n| {
                (
                    u128::from(n.network()),
                    u128::from(n.broadcast()),
                    IpNet::V6(*n),
                )
            })),
        }
    }

    /// Number of entries in one family.
    pub fn len_of(&self, family: Family) -> usize {
        match family {
            Family::V4 => self.v4.len(),
            Family::V6 => self.v6.len(),
        }
    }

    /// True when neither family has an address.
    pub fn is_empty(&self) -> bool {
        self.v4.is_empty() && self.v6.is_empty()
    }
}

/// A run of consecutive addresses of one family: one network, or the inclusive range between
/// two addresses when no single network covers it exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AddressRun {
    /// Exactly one network (or address).
    Net(IpNet),
    /// First and last address; spans two networks or more.
    Range(IpAddr, IpAddr),
}

/// Joins sorted, non-overlapping networks, given as `(first, last, net)` with addresses as
/// integers, into runs of consecutive addresses.
fn runs(nets: impl Iterator<Item = (u128, u128, IpNet)>) -> Vec<AddressRun> {
    let mut out = Vec::new();
    // (first, last, the run's first network, networks in the run)
    let mut current: Option<(u128, u128, IpNet, usize)> = None;
    let finish = |(first, last, net, count): (u128, u128, IpNet, usize)| {
        if count == 1 {
            AddressRun::Net(net)
        } else if net.addr().is_ipv4() {
            let v4 = |a: u128| IpAddr::V4(Ipv4Addr::from(u32::try_from(a).unwrap_or(u32::MAX)));
            AddressRun::Range(v4(first), v4(last))
        } else {
            AddressRun::Range(
                IpAddr::V6(Ipv6Addr::from(first)),
                IpAddr::V6(Ipv6Addr::from(last)),
            )
        }
    };
    for (first, last, net) in nets {
        match &mut current {
            Some((_, end, _, count)) if end.checked_add(1) == Some(first) => {
                *end = last;
                *count += 1;
            }
            _ => {
                if let Some(run) = current.take() {
                    out.push(finish(run));
                }
                current = Some((first, last, net, 1));
            }
        }
    }
    out.extend(current.map(finish));
    out
}

/// Which flow a rule comes from: a flow of the release's catalog, or a site's `[[allow]]` rule.
///
/// Its text ([`FlowId::as_str`], `Display`, serialized) is the id rules carry in comments,
/// names and `rules.json`: the catalog id (`agent-ms`) or `allow:<name>`. Ordered by that text,
/// so rule sets sort as they always have.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FlowId {
    /// The id as printed.
    text: std::borrow::Cow<'static, str>,
    /// Where it comes from.
    kind: FlowKind,
}

/// Where a [`FlowId`] comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FlowKind {
    /// A catalog flow.
    Catalog,
    /// A topology `[[allow]]` rule.
    Allow,
}

impl FlowId {
    const ALLOW_PREFIX: &'static str = "allow:";

    /// The catalog flow `id`.
    pub const fn catalog(id: &'static str) -> Self {
        Self {
            text: std::borrow::Cow::Borrowed(id),
            kind: FlowKind::Catalog,
        }
    }

    /// The topology's `[[allow]] name = ...`.
    pub fn allow(name: &str) -> Self {
        Self {
            text: std::borrow::Cow::Owned(format!("{}{name}", Self::ALLOW_PREFIX)),
            kind: FlowKind::Allow,
        }
    }

    /// The id as rules print it: `agent-ms`, `allow:ssh`.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Catalog flow or allow rule.
    pub const fn kind(&self) -> FlowKind {
        self.kind
    }

    /// The catalog id of a catalog flow.
    pub fn catalog_id(&self) -> Option<&str> {
        (self.kind == FlowKind::Catalog).then_some(self.as_str())
    }

    /// The `[[allow]]` name of an allow rule.
    pub fn allow_name(&self) -> Option<&str> {
        match self.kind {
            FlowKind::Allow => Some(&self.text[Self::ALLOW_PREFIX.len()..]),
            FlowKind::Catalog => None,
        }
    }
}

impl Deref for FlowId {
    type Target = str;

    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl fmt::Display for FlowId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for FlowId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl PartialEq<str> for FlowId {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for FlowId {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// The release a rule set was compiled from, by its catalog id (`abr-11.5`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ReleaseId(pub &'static str);

impl ReleaseId {
    /// The id as the topology spells it.
    pub const fn as_str(self) -> &'static str {
        self.0
    }
}

impl Deref for ReleaseId {
    type Target = str;

    fn deref(&self) -> &str {
        self.0
    }
}

impl fmt::Display for ReleaseId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl Serialize for ReleaseId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.0)
    }
}

impl PartialEq<&str> for ReleaseId {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

/// One allowed connection pattern of a host.
///
/// Ports are given in connection terms, whatever the direction: `source_ports` is the initiator's
/// side, `destination_port` the responder's. For an inbound rule the peer is the initiator; for an
/// outbound rule this host is.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Rule {
    /// Inbound (the peer connects to this host) or outbound.
    pub direction: Direction,
    /// The catalog flow (`agent-ms`) or site rule (`allow:<name>`) it comes from.
    pub flow: FlowId,
    /// Transport protocol.
    pub protocol: Protocol,
    /// The responder's port(s).
    pub destination_port: PortRange,
    /// The initiator's source ports: its OS ephemeral range; `None` when any source port may be used.
    pub source_ports: Option<PortRange>,
    /// Remote addresses (the initiators of an inbound rule, the responders of an outbound one).
    pub peers: Peers,
    /// Names of the topology hosts behind `peers`, sorted (empty for a bare address in `[[allow]]`).
    pub peer_hosts: Vec<String>,
    /// What the connection is for (the catalog purpose, or the site rule's description).
    pub purpose: String,
}

/// What a host's rule set must do beyond its allow rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Policy {
    /// A complete rule set that drops everything it does not allow, inbound and outbound.
    Drop,
    /// Only the allow rules, in chains the site's own firewall jumps to.
    Fragment,
}

impl Policy {
    /// The topology spelling, `drop` or `fragment`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Policy::Drop => "drop",
            Policy::Fragment => "fragment",
        }
    }
}

/// What a drop-policy rule set does with outbound connections it has no rule for
/// (`outbound`, per host or in `[options]`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outbound {
    /// Drop them (the default): the rule set filters both directions.
    #[default]
    Drop,
    /// Accept them: the rule set filters inbound traffic only. The outbound allow rules are
    /// still listed (they document the flows and count packets) but decide nothing.
    Accept,
}

impl Outbound {
    /// The topology spelling, `drop` or `accept`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Outbound::Drop => "drop",
            Outbound::Accept => "accept",
        }
    }

    /// True for [`Outbound::Drop`] (serialization leaves the field out, so the IR JSON of a
    /// site that does not use `outbound` is unchanged).
    pub fn is_drop(&self) -> bool {
        *self == Outbound::Drop
    }
}

/// What a rule set logs (`[options] log`, or a host's own `log`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Log {
    /// Nothing (the default): the output is what it was before logging existed.
    #[default]
    Off,
    /// What the default policy drops, rate-limited, prefixed `abrfw-drop-in`, `abrfw-drop-out`
    /// or `abrfw-drop-fwd`; allow rules carry packet counters where the target has them.
    Drops,
}

impl Log {
    /// The topology spelling, `off` or `drops`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Log::Off => "off",
            Log::Drops => "drops",
        }
    }

    /// True for [`Log::Off`] (serialization leaves the field out, so the default IR JSON is
    /// unchanged).
    pub fn is_off(&self) -> bool {
        *self == Log::Off
    }

    /// True when drops are logged.
    pub const fn drops(self) -> bool {
        matches!(self, Log::Drops)
    }
}

/// The log prefix of a dropped packet, per direction: `abrfw-drop-in`, `abrfw-drop-out`,
/// `abrfw-drop-fwd`. `abrfw logs` reads them back.
pub const LOG_PREFIX: &str = "abrfw-drop";

/// Packets per minute each drop-log rule writes at most (then a burst of 5): enough to see
/// what is blocked, too little to fill a disk during a scan.
pub const LOG_RATE_PER_MINUTE: u32 = 10;

/// The compiled rule set of one host: the IR that every backend renders.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct HostRules {
    /// Host name (validated: `[A-Za-z0-9._-]`, at most 63 bytes).
    pub host: String,
    /// Operating system the rules are for.
    pub os: Os,
    /// Roles the host holds, sorted (serialized in topology spelling).
    pub roles: Vec<Role>,
    /// The product release whose catalog was compiled (`abr-11.5`).
    pub release: ReleaseId,
    /// Drop or fragment (the host's own `policy`, else `[options] policy`).
    pub policy: Policy,
    /// Under [`Policy::Drop`]: whether outbound connections without a rule are dropped or
    /// accepted (the host's own `outbound`, else `[options] outbound`). A fragment has no
    /// default of its own, so it is always [`Outbound::Drop`] there.
    #[serde(default, skip_serializing_if = "Outbound::is_drop")]
    pub outbound: Outbound,
    /// Whether the rule set logs its drops.
    #[serde(default, skip_serializing_if = "Log::is_off")]
    pub log: Log,
    /// The host's own addresses.
    pub addresses: Peers,
    /// Allow rules, sorted.
    pub rules: Rules,
}

/// A host's allow rules, sorted: an immutable list that hosts with the same roles, OS and peers
/// share instead of each holding a copy (a site of 100,000 agents has a handful of distinct
/// lists). Reads like a `[Rule]`; serializes as a sequence.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Rules(Arc<[Rule]>);

impl Deref for Rules {
    type Target = [Rule];

    fn deref(&self) -> &[Rule] {
        &self.0
    }
}

impl From<Vec<Rule>> for Rules {
    fn from(rules: Vec<Rule>) -> Self {
        Self(rules.into())
    }
}

impl<'a> IntoIterator for &'a Rules {
    type Item = &'a Rule;
    type IntoIter = std::slice::Iter<'a, Rule>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl Serialize for Rules {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.as_ref().serialize(serializer)
    }
}

impl Rules {
    /// True when two lists are one shared allocation (not merely equal).
    pub fn shares(&self, other: &Rules) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl HostRules {
    /// The roles in topology spelling, comma-separated (`management-server, license-server`),
    /// as file headers and reports print them.
    pub fn roles_text(&self) -> String {
        let names: Vec<&str> = self.roles.iter().map(|r| r.as_str()).collect();
        names.join(", ")
    }

    /// The words every backend puts at the top of the host's files (inside its own comment
    /// syntax): `abr-11.5 firewall rules for host ams (windows; roles: management-server)`.
    pub fn header(&self) -> String {
        format!(
            "{} firewall rules for host {} ({}; roles: {})",
            self.release,
            self.host,
            self.os,
            self.roles_text()
        )
    }

    /// True when the rule set drops outbound connections it has no rule for: policy drop and
    /// outbound drop. Under `outbound = "accept"` (or a fragment) outbound is not filtered.
    pub fn drops_outbound(&self) -> bool {
        self.policy == Policy::Drop && self.outbound == Outbound::Drop
    }

    /// The rules of one direction, in order.
    pub fn rules_in(&self, direction: Direction) -> impl Iterator<Item = &Rule> {
        self.rules.iter().filter(move |r| r.direction == direction)
    }
}

/// A zone a gateway routes, with the interface it reaches the zone through (when the topology
/// names one).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Zone {
    /// Zone name.
    pub name: String,
    /// Interface name on the gateway, e.g. `em0`.
    pub interface: Option<String>,
}

/// One allowed connection pattern forwarded by a gateway, from one zone to another.
///
/// As in [`Rule`], ports are in connection terms: `source_ports` is the initiator's range.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct ForwardRule {
    /// The catalog flow (`agent-ms`) or site rule (`allow:<name>`) it comes from.
    pub flow: FlowId,
    /// Zone of the initiators.
    pub from_zone: Zone,
    /// Zone of the responders.
    pub to_zone: Zone,
    /// Transport protocol.
    pub protocol: Protocol,
    /// The responders' port(s).
    pub destination_port: PortRange,
    /// The initiators' source ports; `None` for any.
    pub source_ports: Option<PortRange>,
    /// Initiator addresses. A family is present only when `destinations` has it too.
    pub sources: Peers,
    /// Responder addresses. A family is present only when `sources` has it too.
    pub destinations: Peers,
    /// Initiator host names, sorted; one list is shared by every rule that names the same
    /// hosts (all agents, say, on each of a gateway's flows).
    pub source_hosts: std::sync::Arc<[String]>,
    /// Responder host names, sorted, shared as `source_hosts` is.
    pub destination_hosts: std::sync::Arc<[String]>,
    /// What the connection is for.
    pub purpose: String,
}

/// The compiled forwarding rule set of one gateway.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct GatewayRules {
    /// Gateway name (validated like host names).
    pub gateway: String,
    /// The gateway's OS (`linux` or a pf system).
    pub os: Os,
    /// The release the rules come from.
    pub release: ReleaseId,
    /// Drop: a complete forward policy; fragment: only the allow rules.
    pub policy: Policy,
    /// Whether the rule set logs its drops (`[options] log`).
    #[serde(default, skip_serializing_if = "Log::is_off")]
    pub log: Log,
    /// The zones it routes between, sorted by name.
    pub zones: Vec<Zone>,
    /// Forward rules, sorted.
    pub rules: Vec<ForwardRule>,
}

impl GatewayRules {
    /// The words every backend puts at the top of the gateway's files (inside its own comment
    /// syntax): `abr-11.5 forwarding rules for gateway fw1 (linux; zones: office (eth1), servers)`.
    pub fn header(&self) -> String {
        let zones: Vec<String> = self.zones.iter().map(ToString::to_string).collect();
        format!(
            "{} forwarding rules for gateway {} ({}; zones: {})",
            self.release,
            self.gateway,
            self.os,
            zones.join(", ")
        )
    }

    /// The interfaces of its zones, in zone order, when the topology names them (it names all or
    /// none). With them the gateway's forward rules and its drop apply only to traffic that
    /// enters on one of these interfaces and leaves on another; other forwarded traffic is left
    /// to the gateway's own rules. Without them (`None`) abrfw filters all forwarded traffic.
    pub fn zone_interfaces(&self) -> Option<Vec<&str>> {
        let list: Option<Vec<&str>> = self.zones.iter().map(|z| z.interface.as_deref()).collect();
        list.filter(|l| !l.is_empty())
    }

    /// Every ordered pair of two different zone interfaces: the traffic a scoped gateway
    /// filters (empty without [`GatewayRules::zone_interfaces`]).
    pub fn interface_pairs(&self) -> Vec<(&str, &str)> {
        let list = self.zone_interfaces().unwrap_or_default();
        let mut pairs = Vec::new();
        for a in &list {
            for b in &list {
                if a != b {
                    pairs.push((*a, *b));
                }
            }
        }
        // Two zones on one interface give the same pairs twice.
        pairs.sort_unstable();
        pairs.dedup();
        pairs
    }
}

/// The connection-level facts every rule shape shares, borrowed from a [`Rule`] or a
/// [`ForwardRule`], so a backend can print both with one function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Connection<'a> {
    /// Flow id.
    pub flow: &'a str,
    /// Transport protocol.
    pub protocol: Protocol,
    /// The initiator's source ports; `None` for any.
    pub source_ports: Option<PortRange>,
    /// The responder's port(s).
    pub destination_port: PortRange,
    /// What the connection is for.
    pub purpose: &'a str,
}

impl Rule {
    /// The connection this rule allows.
    pub fn connection(&self) -> Connection<'_> {
        Connection {
            flow: &self.flow,
            protocol: self.protocol,
            source_ports: self.source_ports,
            destination_port: self.destination_port,
            purpose: &self.purpose,
        }
    }
}

impl ForwardRule {
    /// The connection this rule forwards.
    pub fn connection(&self) -> Connection<'_> {
        Connection {
            flow: &self.flow,
            protocol: self.protocol,
            source_ports: self.source_ports,
            destination_port: self.destination_port,
            purpose: &self.purpose,
        }
    }
}

impl fmt::Display for Zone {
    /// `office`, or `office (eth1)` when the interface is known.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.interface {
            Some(i) => write!(f, "{} ({i})", self.name),
            None => f.write_str(&self.name),
        }
    }
}

/// A short human description of an address list for comments: `peers: a, b` with at most five
/// host names (`... and 12 more`), or `peers of allow:x` when the addresses come from an
/// `[[allow]]` network rather than hosts.
pub fn describe_hosts(names: &[String], flow: &str) -> String {
    const SHOWN: usize = 5;
    match names.len() {
        0 => format!("peers of {flow}"),
        n if n <= SHOWN => format!("peers: {}", names.join(", ")),
        n => format!(
            "peers: {} and {} more",
            names[..SHOWN].join(", "),
            n - SHOWN
        ),
    }
}

/// The usual text of an address or network: a single address bare (`192.0.2.10`), a network
/// with its prefix (`192.0.2.0/24`).
pub fn address_text(net: IpNet) -> String {
    if net.prefix_len() == net.max_prefix_len() {
        net.addr().to_string()
    } else {
        net.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peers(list: &[&str]) -> Peers {
        Peers::from_nets(list.iter().map(|a| {
            a.parse::<IpNet>()
                .or_else(|_| a.parse::<IpAddr>().map(IpNet::from))
                .unwrap()
        }))
    }

    #[test]
    fn flow_ids_know_their_kind_and_sort_by_their_text() {
        let ssh = FlowId::allow("ssh");
        assert_eq!(ssh.as_str(), "allow:ssh");
        assert_eq!(ssh.allow_name(), Some("ssh"));
        assert_eq!(ssh.catalog_id(), None);
        let agent = FlowId::catalog("agent-ms");
        assert_eq!(agent.catalog_id(), Some("agent-ms"));
        assert_eq!(agent.allow_name(), None);
        // Sorted as the text always sorted: "agent-ms" < "allow:ssh" < "ams-x".
        let mut ids = vec![FlowId::catalog("ams-x"), ssh.clone(), agent.clone()];
        ids.sort();
        assert_eq!(ids, [agent, ssh, FlowId::catalog("ams-x")]);
    }

    #[test]
    fn runs_join_consecutive_networks_and_keep_single_networks() {
        let ten: Vec<String> = (0..10).map(|i| format!("10.0.0.{i}")).collect();
        let mut list: Vec<&str> = ten.iter().map(String::as_str).collect();
        list.extend(["10.0.1.0/24", "10.0.3.1", "fd00::1", "fd00::2", "fd00::3"]);
        let p = peers(&list);
        assert_eq!(p.v4.len(), 4);
        let ip = |a: &str| a.parse::<IpAddr>().unwrap();
        assert_eq!(
            p.runs(Family::V4),
            [
                AddressRun::Range(ip("10.0.0.0"), ip("10.0.0.9")),
                AddressRun::Net("10.0.1.0/24".parse().unwrap()),
                AddressRun::Net("10.0.3.1/32".parse().unwrap()),
            ]
        );
        assert_eq!(
            p.runs(Family::V6),
            [AddressRun::Range(ip("fd00::1"), ip("fd00::3"))]
        );
        // The last address of the space ends a run without overflowing.
        let top = peers(&["255.255.255.254", "255.255.255.255", "0.0.0.0"]);
        assert_eq!(
            top.runs(Family::V4),
            [
                AddressRun::Net("0.0.0.0/32".parse().unwrap()),
                AddressRun::Net("255.255.255.254/31".parse().unwrap()),
            ]
        );
        assert!(Peers::default().runs(Family::V6).is_empty());
    }
}

//! Would this connection pass? The data behind `abrfw query`: one connection, followed hop by hop
//! through the compiled rules: the initiator's outbound rules, the forward rules of each gateway
//! between the two zones, the responder's inbound rules.
//!
//! Every hop gets a verdict: the rule that allows it (flow id, purpose, where the vendor documents
//! it), or every reason it is dropped, typed: a rule for the flow wants other source ports, the
//! peer is no host of the site, the flow goes the other way, or the catalog flows on that port
//! that give no rule here with the reasons of [`mod@crate::explain`] (a phase, a role, an option).
//! Hosts abrfw writes no rules for (no `os`, or an address outside the site) are not filtered.

use std::fmt;
use std::net::IpAddr;

use ipnet::IpNet;
use serde::Serialize;

use crate::catalog::{Catalog, Release};
use crate::compile::{CompileError, compile, compile_gateways, release_of};
use crate::explain::{self, NotApplied};
use crate::ir::{
    Direction, Family, ForwardRule, GatewayRules, HostRules, Peers, Policy, PortRange, Protocol,
    Rule,
};
use crate::os::Os;
use crate::topology::{Host, Topology};

/// The connection to follow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    /// The initiator: a host name or an address.
    pub from: String,
    /// The responder: a host name or an address.
    pub to: String,
    /// The responder's port.
    pub port: u16,
    /// Transport protocol.
    pub protocol: Protocol,
    /// The initiator's source port; `None`: any port of its OS ephemeral range.
    pub source_port: Option<u16>,
    /// Address family; `None`: IPv4 when both ends have it, else IPv6.
    pub family: Option<Family>,
}

/// Why a question cannot be answered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    /// The topology cannot be compiled.
    #[error(transparent)]
    Compile(#[from] CompileError),
    /// Neither a host name nor an address.
    #[error("{0:?} is neither a host of the site nor an IP address{1}")]
    UnknownEnd(String, String),
    /// A name that is a gateway: a gateway forwards, it is no end of a connection.
    #[error("{0:?} is a [[gateway]]; name the hosts on either side of it")]
    GatewayEnd(String),
    /// An end has no address of the family asked for (or the two share none).
    #[error("{0}")]
    NoAddress(String),
}

/// One end of the connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct End {
    /// The host of the site (its name), or `None` for an address outside the site.
    pub host: Option<String>,
    /// The address used.
    pub address: IpAddr,
    /// The host's zone; `None` outside the site.
    pub zone: Option<String>,
    /// The host's OS; `None` for a peer without `os` or an outside address.
    pub os: Option<Os>,
}

impl End {
    /// The host's name, or its address.
    pub fn label(&self) -> String {
        self.host
            .clone()
            .unwrap_or_else(|| self.address.to_string())
    }
}

/// The source ports the question assumes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum SourcePorts {
    /// The one port of `--sport`.
    Port {
        /// The port.
        port: u16,
    },
    /// Any port of the initiator's ephemeral range (its OS's, or its `source_ports`).
    Ephemeral {
        /// The range.
        range: PortRange,
    },
    /// Unknown: the initiator is outside the site and no `--sport` was given.
    Unknown,
}

impl SourcePorts {
    /// True when every port the question may use lies in `allowed` (`None`: any port).
    fn fits(self, allowed: Option<PortRange>) -> bool {
        match (self, allowed) {
            (_, None) | (SourcePorts::Unknown, Some(_)) => true,
            (SourcePorts::Port { port }, Some(r)) => r.contains(port),
            (SourcePorts::Ephemeral { range }, Some(r)) => {
                r.first <= range.first && range.last <= r.last
            }
        }
    }
}

impl fmt::Display for SourcePorts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SourcePorts::Port { port } => write!(f, "source port {port}"),
            SourcePorts::Ephemeral { range } => write!(f, "source ports {range}"),
            SourcePorts::Unknown => f.write_str("any source port"),
        }
    }
}

/// The answer: every hop, and the verdict end to end.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Answer {
    /// Release id of the catalog.
    pub release: &'static str,
    /// The initiator.
    pub from: End,
    /// The responder.
    pub to: End,
    /// Transport protocol.
    pub protocol: Protocol,
    /// The responder's port.
    pub port: u16,
    /// The initiator's source ports assumed.
    pub source_ports: SourcePorts,
    /// Address family.
    pub family: Family,
    /// The hops, in the order the packet meets them.
    pub hops: Vec<Hop>,
    /// Gateways the path would cross that cannot be placed: an end outside the site has no zone.
    pub note: Option<String>,
    /// True when no hop drops the connection.
    pub allowed: bool,
}

/// One firewall the connection meets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Hop {
    /// Where.
    pub at: HopAt,
    /// What it does with the connection.
    pub verdict: Verdict,
}

/// Where a hop is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum HopAt {
    /// The initiator's outbound rules.
    Outbound {
        /// The host (name or address).
        host: String,
    },
    /// A gateway's forward rules.
    Forward {
        /// The gateway.
        gateway: String,
        /// The initiator's zone.
        from_zone: String,
        /// The responder's zone.
        to_zone: String,
    },
    /// The responder's inbound rules.
    Inbound {
        /// The host (name or address).
        host: String,
    },
}

impl HopAt {
    /// The host or gateway name.
    pub fn name(&self) -> &str {
        match self {
            HopAt::Outbound { host } | HopAt::Inbound { host } => host,
            HopAt::Forward { gateway, .. } => gateway,
        }
    }
}

impl fmt::Display for HopAt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HopAt::Outbound { host } => write!(f, "{host} outbound"),
            HopAt::Inbound { host } => write!(f, "{host} inbound"),
            HopAt::Forward {
                gateway,
                from_zone,
                to_zone,
            } => write!(f, "gateway {gateway} forward {from_zone} -> {to_zone}"),
        }
    }
}

/// What one hop does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "verdict", rename_all = "kebab-case")]
pub enum Verdict {
    /// A rule allows it.
    Allow(Decider),
    /// The hop's default policy drops it, for these reasons.
    Drop {
        /// Every reason, most specific first.
        reasons: Vec<DropReason>,
    },
    /// The hop has a fragment rule set: no abrfw rule allows it, the site's own firewall decides.
    NotAllowedByFragment {
        /// Why no abrfw rule allows it.
        reasons: Vec<DropReason>,
    },
    /// abrfw writes no rules here.
    NotFiltered {
        /// Why.
        why: Unfiltered,
    },
    /// The hop is the connecting host and its rule set accepts outbound connections without a
    /// rule (`outbound = "accept"`).
    OutboundAccepted,
}

impl Verdict {
    /// True for a verdict that lets the connection on.
    pub fn passes(&self) -> bool {
        matches!(
            self,
            Verdict::Allow(_) | Verdict::NotFiltered { .. } | Verdict::OutboundAccepted
        )
    }
}

/// Why a hop has no abrfw rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Unfiltered {
    /// A host of the site without `os`: a peer abrfw opens flows to, but writes no rules for.
    PeerWithoutOs,
    /// An address outside the site.
    OutsideSite,
}

impl fmt::Display for Unfiltered {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Unfiltered::PeerWithoutOs => "a peer without `os`: abrfw writes no rules for it",
            Unfiltered::OutsideSite => "not a host of the site: abrfw writes no rules for it",
        })
    }
}

/// The rule that decides.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decider {
    /// Flow id (`agent-ms`, `allow:<name>`).
    pub flow: String,
    /// What the connection is for.
    pub purpose: String,
    /// Where the vendor documents the flow; `None` for an `[[allow]]`.
    pub source: Option<&'static str>,
    /// The source ports the rule accepts; `None`: any.
    pub source_ports: Option<PortRange>,
    /// Other flows whose rules here allow the same connection, sorted.
    pub also: Vec<String>,
}

/// One reason a hop drops the connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", rename_all = "kebab-case")]
pub enum DropReason {
    /// A rule for this flow exists between the two, from other source ports (the initiator's OS
    /// ephemeral range).
    WrongSourcePort {
        /// Flow id.
        flow: String,
        /// What it is for.
        purpose: String,
        /// The source ports the rule accepts.
        allowed: PortRange,
        /// The source ports of the question.
        given: SourcePorts,
    },
    /// The other end is no host of the site.
    PeerUnknown {
        /// Its address.
        address: IpAddr,
        /// Flows this hop allows on the port, to or from other hosts.
        flows_on_port: Vec<String>,
    },
    /// The flow exists between the two, the other way round.
    ReverseDirection {
        /// Flow id.
        flow: String,
    },
    /// A catalog flow on this port that gives this host no rule towards the peer, and why.
    FlowNotApplied(NotApplied),
    /// The gateway forwards no flow like this between the two.
    GatewayForwardsNoSuchFlow,
    /// No catalog flow and no `[[allow]]` of the site uses this port and protocol between them.
    Undocumented,
}

impl fmt::Display for DropReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DropReason::WrongSourcePort {
                flow,
                purpose,
                allowed,
                given,
            } => write!(
                f,
                "wrong source port: {flow} ({purpose}) allows source ports {allowed}, the initiator's ephemeral range; this connection uses {given}"
            ),
            DropReason::PeerUnknown {
                address,
                flows_on_port,
            } => {
                write!(f, "{address} is no host of the site")?;
                if !flows_on_port.is_empty() {
                    write!(
                        f,
                        "; this port is open for other hosts only ({})",
                        flows_on_port.join(", ")
                    )?;
                }
                Ok(())
            }
            DropReason::ReverseDirection { flow } => write!(
                f,
                "{flow} connects these hosts the other way round: the responder initiates"
            ),
            DropReason::FlowNotApplied(n) => {
                let why: Vec<String> = n.why.iter().map(ToString::to_string).collect();
                write!(
                    f,
                    "{} {}/{} {} -> {} (phase {}) gives no rule: {}",
                    n.flow,
                    n.protocol.as_str(),
                    n.port,
                    n.initiator,
                    n.responder,
                    n.phase,
                    why.join("; ")
                )
            }
            DropReason::GatewayForwardsNoSuchFlow => {
                f.write_str("the gateway forwards no flow like this between the two")
            }
            DropReason::Undocumented => f.write_str(
                "no documented flow and no [[allow]] uses this port and protocol between them",
            ),
        }
    }
}

/// The compiled site, ready for many questions (`abrfw logs` asks one per log line).
#[derive(Debug)]
pub struct Site<'a> {
    catalog: &'a Catalog,
    topology: &'a Topology,
    release: &'static Release,
    hosts: Vec<HostRules>,
    gateways: Vec<GatewayRules>,
}

impl<'a> Site<'a> {
    /// Compiles the site once.
    pub fn new(catalog: &'a Catalog, topology: &'a Topology) -> Result<Self, QueryError> {
        Ok(Self {
            catalog,
            topology,
            release: release_of(catalog, topology)?,
            hosts: compile(catalog, topology)?,
            gateways: compile_gateways(catalog, topology)?,
        })
    }

    /// The topology.
    pub fn topology(&self) -> &Topology {
        self.topology
    }

    /// The host of the site that has this address (the first, in file order).
    pub fn host_with(&self, address: IpAddr) -> Option<&Host> {
        self.topology
            .hosts
            .iter()
            .find(|h| h.addresses.iter().any(|n| n.contains(&address)))
    }

    /// Follows one connection.
    pub fn query(&self, q: &Query) -> Result<Answer, QueryError> {
        let from = self.resolve(&q.from)?;
        let to = self.resolve(&q.to)?;
        let family = self.pick_family(&from, &to, q)?;
        let from = end(self.topology, &from, family, &q.from)?;
        let to = end(self.topology, &to, family, &q.to)?;
        let source_ports = match (q.source_port, &from.host) {
            (Some(port), _) => SourcePorts::Port { port },
            (None, Some(name)) => match self.topology.hosts.iter().find(|h| &h.name == name) {
                Some(h) => match (h.source_ports, h.os) {
                    (Some(range), _) => SourcePorts::Ephemeral { range },
                    (None, Some(os)) => SourcePorts::Ephemeral {
                        range: os.ephemeral_ports(),
                    },
                    (None, None) => SourcePorts::Ephemeral {
                        range: Os::Linux.ephemeral_ports(),
                    },
                },
                None => SourcePorts::Unknown,
            },
            (None, None) => SourcePorts::Unknown,
        };
        let c = Conn {
            from: &from,
            to: &to,
            protocol: q.protocol,
            port: q.port,
            sport: source_ports,
        };
        let mut hops = vec![Hop {
            at: HopAt::Outbound { host: from.label() },
            verdict: self.host_verdict(&c, Direction::Outbound),
        }];
        let mut note = None;
        match (&from.zone, &to.zone) {
            (Some(a), Some(b)) if a != b => {
                let gws: Vec<&GatewayRules> = self
                    .gateways
                    .iter()
                    .filter(|g| {
                        g.zones.iter().any(|z| &z.name == a) && g.zones.iter().any(|z| &z.name == b)
                    })
                    .collect();
                if gws.is_empty() && !self.gateways.is_empty() {
                    note = Some(format!("no [[gateway]] joins zones {a} and {b}"));
                }
                for g in gws {
                    hops.push(Hop {
                        at: HopAt::Forward {
                            gateway: g.gateway.clone(),
                            from_zone: a.clone(),
                            to_zone: b.clone(),
                        },
                        verdict: self.gateway_verdict(g, &c),
                    });
                }
            }
            (Some(_), Some(_)) => {}
            _ if !self.gateways.is_empty() => {
                note = Some(
                    "one end is outside the site and has no zone: gateways are not evaluated"
                        .to_owned(),
                );
            }
            _ => {}
        }
        hops.push(Hop {
            at: HopAt::Inbound { host: to.label() },
            verdict: self.host_verdict(&c, Direction::Inbound),
        });
        let allowed = hops.iter().all(|h| h.verdict.passes());
        Ok(Answer {
            release: self.release.id,
            from,
            to,
            protocol: q.protocol,
            port: q.port,
            source_ports,
            family,
            hops,
            note,
            allowed,
        })
    }

    fn resolve(&self, name: &str) -> Result<Resolved, QueryError> {
        if let Some(i) = self
            .topology
            .hosts
            .iter()
            .position(|h| h.name.eq_ignore_ascii_case(name))
        {
            return Ok(Resolved::Host(i, None));
        }
        if self
            .topology
            .gateways
            .iter()
            .any(|g| g.name.eq_ignore_ascii_case(name))
        {
            return Err(QueryError::GatewayEnd(name.to_owned()));
        }
        let Ok(address) = name.parse::<IpAddr>() else {
            let names: Vec<&str> = self
                .topology
                .hosts
                .iter()
                .map(|h| h.name.as_str())
                .collect();
            let near = crate::topology::suggest(name, &names)
                .map(|n| format!("; did you mean {n:?}?"))
                .unwrap_or_default();
            return Err(QueryError::UnknownEnd(name.to_owned(), near));
        };
        match self
            .topology
            .hosts
            .iter()
            .position(|h| h.addresses.iter().any(|n| n.contains(&address)))
        {
            Some(i) => Ok(Resolved::Host(i, Some(address))),
            None => Ok(Resolved::Address(address)),
        }
    }

    /// The family asked for, or the first both ends have.
    fn pick_family(&self, from: &Resolved, to: &Resolved, q: &Query) -> Result<Family, QueryError> {
        let a = families(self.topology, from);
        let b = families(self.topology, to);
        if let Some(f) = q.family {
            for (r, list, text) in [(from, &a, &q.from), (to, &b, &q.to)] {
                if !list.contains(&f) {
                    let what = match r {
                        Resolved::Host(_, None) => "has no",
                        Resolved::Host(_, Some(_)) | Resolved::Address(_) => "is not an",
                    };
                    return Err(QueryError::NoAddress(format!(
                        "{text} {what} {} address (--family)",
                        family_name(f)
                    )));
                }
            }
            return Ok(f);
        }
        a.iter().copied().find(|f| b.contains(f)).ok_or_else(|| {
            QueryError::NoAddress(format!("{} and {} share no address family", q.from, q.to))
        })
    }

    fn rules_of(&self, host: &str) -> Option<&HostRules> {
        self.hosts.iter().find(|h| h.host == host)
    }

    fn host_verdict(&self, c: &Conn<'_>, direction: Direction) -> Verdict {
        let (me, peer) = match direction {
            Direction::Outbound => (c.from, c.to),
            Direction::Inbound => (c.to, c.from),
        };
        let Some(name) = &me.host else {
            return Verdict::NotFiltered {
                why: Unfiltered::OutsideSite,
            };
        };
        let Some(rules) = self.rules_of(name) else {
            return Verdict::NotFiltered {
                why: Unfiltered::PeerWithoutOs,
            };
        };
        let on_port = |r: &&Rule| r.protocol == c.protocol && r.destination_port.contains(c.port);
        let towards = |r: &&Rule| has(&r.peers, peer.address);
        let mine: Vec<&Rule> = rules
            .rules_in(direction)
            .filter(on_port)
            .filter(towards)
            .collect();
        let fitting: Vec<&&Rule> = mine
            .iter()
            .filter(|r| c.sport.fits(r.source_ports))
            .collect();
        if let Some(r) = fitting.first() {
            let also = fitting[1..].iter().map(|r| r.flow.to_string()).collect();
            return Verdict::Allow(self.decider(&r.flow, &r.purpose, r.source_ports, also));
        }
        if direction == Direction::Outbound
            && rules.policy == Policy::Drop
            && !rules.drops_outbound()
        {
            return Verdict::OutboundAccepted;
        }
        let mut reasons: Vec<DropReason> = mine
            .iter()
            .filter_map(|r| {
                r.source_ports.map(|allowed| DropReason::WrongSourcePort {
                    flow: r.flow.to_string(),
                    purpose: r.purpose.clone(),
                    allowed,
                    given: c.sport,
                })
            })
            .collect();
        if reasons.is_empty() {
            reasons = self.why_no_rule(rules, c, direction, peer);
        }
        match rules.policy {
            Policy::Drop => Verdict::Drop { reasons },
            Policy::Fragment => Verdict::NotAllowedByFragment { reasons },
        }
    }

    /// The reasons a host has no rule on the port towards the peer.
    fn why_no_rule(
        &self,
        rules: &HostRules,
        c: &Conn<'_>,
        direction: Direction,
        peer: &End,
    ) -> Vec<DropReason> {
        let on_port = |r: &&Rule| r.protocol == c.protocol && r.destination_port.contains(c.port);
        let Some(peer_name) = &peer.host else {
            let mut flows: Vec<String> = rules
                .rules_in(direction)
                .filter(on_port)
                .map(|r| r.flow.to_string())
                .collect();
            flows.dedup();
            return vec![DropReason::PeerUnknown {
                address: peer.address,
                flows_on_port: flows,
            }];
        };
        let other_way = match direction {
            Direction::Inbound => Direction::Outbound,
            Direction::Outbound => Direction::Inbound,
        };
        let mut reasons: Vec<DropReason> = rules
            .rules_in(other_way)
            .filter(on_port)
            .filter(|r| has(&r.peers, peer.address))
            .map(|r| DropReason::ReverseDirection {
                flow: r.flow.to_string(),
            })
            .collect();
        reasons.dedup();
        let question = explain::Query {
            host: rules.host.clone(),
            port: Some(c.port),
            peer: Some(peer_name.clone()),
        };
        if let Ok(e) = explain::explain(self.catalog, self.topology, &question) {
            let not_applied: Vec<DropReason> = e
                .not_applied
                .into_iter()
                .filter(|n| n.protocol == c.protocol)
                // Only flows one of the two plays its end of, in this direction: the others
                // are no near miss.
                .filter(|n| match direction {
                    Direction::Outbound => {
                        e.plays.contains(&n.initiator) || e.peer_plays.contains(&n.responder)
                    }
                    Direction::Inbound => {
                        e.plays.contains(&n.responder) || e.peer_plays.contains(&n.initiator)
                    }
                })
                .filter(|n| {
                    !reasons.iter().any(
                        |r| matches!(r, DropReason::ReverseDirection { flow } if flow == n.flow),
                    )
                })
                .map(DropReason::FlowNotApplied)
                .collect();
            reasons.extend(not_applied);
        }
        if reasons.is_empty() {
            reasons.push(DropReason::Undocumented);
        }
        reasons
    }

    fn gateway_verdict(&self, g: &GatewayRules, c: &Conn<'_>) -> Verdict {
        let matching: Vec<&ForwardRule> = g
            .rules
            .iter()
            .filter(|r| r.protocol == c.protocol && r.destination_port.contains(c.port))
            .filter(|r| has(&r.sources, c.from.address) && has(&r.destinations, c.to.address))
            .collect();
        let fitting: Vec<&&ForwardRule> = matching
            .iter()
            .filter(|r| c.sport.fits(r.source_ports))
            .collect();
        if let Some(r) = fitting.first() {
            let also = fitting[1..].iter().map(|r| r.flow.to_string()).collect();
            return Verdict::Allow(self.decider(&r.flow, &r.purpose, r.source_ports, also));
        }
        let mut reasons: Vec<DropReason> = matching
            .iter()
            .filter_map(|r| {
                r.source_ports.map(|allowed| DropReason::WrongSourcePort {
                    flow: r.flow.to_string(),
                    purpose: r.purpose.clone(),
                    allowed,
                    given: c.sport,
                })
            })
            .collect();
        if reasons.is_empty() {
            reasons.push(DropReason::GatewayForwardsNoSuchFlow);
        }
        match g.policy {
            Policy::Drop => Verdict::Drop { reasons },
            Policy::Fragment => Verdict::NotAllowedByFragment { reasons },
        }
    }

    fn decider(
        &self,
        flow: &str,
        purpose: &str,
        source_ports: Option<PortRange>,
        mut also: Vec<String>,
    ) -> Decider {
        also.sort();
        also.dedup();
        also.retain(|f| f != flow);
        Decider {
            also,
            flow: flow.to_owned(),
            purpose: purpose.to_owned(),
            source: self.release.flow(flow).map(|f| f.source),
            source_ports,
        }
    }
}

/// Follows one connection through a site compiled for this one question.
pub fn query(catalog: &Catalog, topology: &Topology, q: &Query) -> Result<Answer, QueryError> {
    Site::new(catalog, topology)?.query(q)
}

/// A question's end before the family is known.
enum Resolved {
    /// A host of the site, with the address the question named.
    Host(usize, Option<IpAddr>),
    /// An address outside the site.
    Address(IpAddr),
}

struct Conn<'a> {
    from: &'a End,
    to: &'a End,
    protocol: Protocol,
    port: u16,
    sport: SourcePorts,
}

fn has(peers: &Peers, address: IpAddr) -> bool {
    match address {
        IpAddr::V4(a) => peers.v4.iter().any(|n| n.contains(&a)),
        IpAddr::V6(a) => peers.v6.iter().any(|n| n.contains(&a)),
    }
}

fn family_of(address: IpAddr) -> Family {
    if address.is_ipv4() {
        Family::V4
    } else {
        Family::V6
    }
}

/// The families an end can use: a named address fixes one.
fn families(topology: &Topology, r: &Resolved) -> Vec<Family> {
    match r {
        Resolved::Host(_, Some(a)) | Resolved::Address(a) => vec![family_of(*a)],
        Resolved::Host(i, None) => Family::ALL
            .into_iter()
            .filter(|f| {
                topology.hosts[*i]
                    .addresses
                    .iter()
                    .any(|n| family_of(n.addr()) == *f)
            })
            .collect(),
    }
}

fn end(topology: &Topology, r: &Resolved, family: Family, text: &str) -> Result<End, QueryError> {
    match r {
        Resolved::Address(a) => {
            if family_of(*a) != family {
                return Err(QueryError::NoAddress(format!(
                    "{a} is not an {} address",
                    family_name(family)
                )));
            }
            Ok(End {
                host: None,
                address: *a,
                // An address in a [[zone]]'s networks sits in that zone: the gateways between
                // it and the other end filter the path.
                zone: topology.zone_of_network(IpNet::from(*a)).map(str::to_owned),
                os: None,
            })
        }
        Resolved::Host(i, named) => {
            let h = &topology.hosts[*i];
            let address = match named {
                Some(a) if family_of(*a) == family => *a,
                Some(a) => {
                    return Err(QueryError::NoAddress(format!(
                        "{a} is not an {} address",
                        family_name(family)
                    )));
                }
                None => h
                    .addresses
                    .iter()
                    .find(|n| family_of(n.addr()) == family)
                    .map(|n| usable(*n))
                    .ok_or_else(|| {
                        QueryError::NoAddress(format!(
                            "{text} has no {} address",
                            family_name(family)
                        ))
                    })?,
            };
            Ok(End {
                host: Some(h.name.clone()),
                address,
                zone: Some(h.zone.clone()),
                os: h.os,
            })
        }
    }
}

/// The address a host of a network entry uses: the address itself, or the network's first
/// host address.
fn usable(net: IpNet) -> IpAddr {
    if net.prefix_len() == net.max_prefix_len() {
        net.addr()
    } else {
        net.hosts().next().unwrap_or(net.addr())
    }
}

/// `IPv4` or `IPv6`.
pub fn family_name(family: Family) -> &'static str {
    match family {
        Family::V4 => "IPv4",
        Family::V6 => "IPv6",
    }
}

//! Why a host has each of its rules, and why a port or peer has none: the data behind
//! `abrfw explain`.
//!
//! A rule comes from a catalog flow that applies (its phase is selected, its condition holds, the
//! host plays one end and another host the other) or from an `[[allow]]`. For a port or peer the
//! question names and no rule covers, each catalog flow that could have given one is listed with
//! every reason it did not: a phase, a management server present or absent, DNS, a role missing
//! on this host or on the peer, only local peers, no common address family.

use std::fmt;

use serde::Serialize;

use crate::catalog::{Catalog, EncryptionNote, Flow, Group, Phase, Port, Presence, Release};
use crate::compile::{CompileError, applicable, compile, compile_gateways, release_of};
use crate::ir::{Direction, FlowId, ForwardRule, Peers, PortRange, Protocol, Rule};
use crate::links::share_family;
use crate::os::Os;
use crate::role::{Component, Role};
use crate::topology::{AllowEnd, Gateway, Host, Topology};

/// What to explain: one host, optionally narrowed to a port and/or a peer host.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query {
    /// The host whose rules are explained.
    pub host: String,
    /// Only rules whose destination port range holds this port.
    pub port: Option<u16>,
    /// Only rules whose peers include this host.
    pub peer: Option<String>,
}

/// Why an explanation could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExplainError {
    /// The topology cannot be compiled.
    #[error(transparent)]
    Compile(#[from] CompileError),
    /// No host of that name.
    #[error("no host named {0:?} in the topology")]
    UnknownHost(String),
    /// No peer host of that name.
    #[error("no host named {0:?} in the topology (--peer)")]
    UnknownPeer(String),
}

/// The answer for one host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Explanation {
    /// Host name.
    pub host: String,
    /// Its OS; `None` for a peer, which gets no rules of its own.
    pub os: Option<Os>,
    /// Its roles that the release knows.
    pub roles: Vec<Role>,
    /// Its roles that the release does not know (they take part in none of its flows).
    pub idle_roles: Vec<Role>,
    /// Its zone.
    pub zone: String,
    /// Release id of the catalog.
    pub release: &'static str,
    /// The `--port` of the question.
    pub port: Option<u16>,
    /// The `--peer` of the question.
    pub peer: Option<String>,
    /// The host's rules that match the question, each with its reason, in rule order.
    pub rules: Vec<Reason>,
    /// With `port` or `peer`: the catalog flows that could have matched and gave no rule.
    pub not_applied: Vec<NotApplied>,
    /// The catalog components the host plays.
    pub plays: Vec<Component>,
    /// The catalog components the peer plays (with `peer`).
    pub peer_plays: Vec<Component>,
}

/// One rule and where it comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reason {
    /// The rule, as backends see it.
    pub rule: Rule,
    /// The catalog flow or site rule behind it.
    pub origin: Origin,
}

/// Where a rule comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Origin {
    /// A flow of the catalog.
    Catalog(FlowOrigin),
    /// An `[[allow]]` of the topology.
    Allow {
        /// The allow rule's name.
        name: String,
        /// The built-in service (`service = "dns"`) the rule's protocol and port come from;
        /// `None` for one written with `port`.
        service: Option<&'static str>,
        /// The `from`/`to` item that selected this host (`role:agent`, `all`, its name).
        selected_by: Vec<String>,
        /// The items of the other side that selected the rule's peers, sorted.
        peers_selected_by: Vec<String>,
    },
}

/// The facts that made a catalog flow give a rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FlowOrigin {
    /// The flow's group (`remote-install`, `components`, `no-dns`).
    pub group: Group,
    /// Its phase.
    pub phase: Phase,
    /// The component that opens the connection.
    pub initiator: Component,
    /// The component that accepts it.
    pub responder: Component,
    /// The end this host plays.
    pub plays: Component,
    /// The roles of this host that make it play that end.
    pub by_roles: Vec<Role>,
    /// The end the peers play.
    pub peers_play: Component,
    /// The vendor's encryption note.
    pub encryption: EncryptionNote,
    /// Where the vendor documents the flow (source ids of the reference `flows.md`).
    pub source: &'static str,
    /// The site facts the flow's phase and condition needed.
    pub conditions: Vec<Fact>,
}

/// A site fact a flow's phase or condition needs, as the topology has it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "fact", rename_all = "kebab-case")]
pub enum Fact {
    /// The flow's phase is among `[options] phases`.
    PhaseSelected {
        /// The phase.
        phase: Phase,
    },
    /// Some host has the `management-server` role.
    ManagementServerPresent {
        /// Those hosts.
        hosts: Vec<String>,
    },
    /// No host has the `management-server` role.
    ManagementServerAbsent,
    /// `[options] dns = false`.
    NoDns,
    /// The NFS server sets `nfs_mountd_port`: it serves NFSv3.
    NfsV3,
}

impl fmt::Display for Fact {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fact::PhaseSelected { phase } => write!(f, "phase {phase} is selected"),
            Fact::ManagementServerPresent { hosts } => {
                write!(f, "a management server is present ({})", hosts.join(", "))
            }
            Fact::ManagementServerAbsent => f.write_str("no host is a management server"),
            Fact::NoDns => f.write_str("the site has no DNS (dns = false)"),
            Fact::NfsV3 => f.write_str("the NFS server serves NFSv3 (nfs_mountd_port)"),
        }
    }
}

/// A catalog flow that could have matched the question and gave this host no rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NotApplied {
    /// Flow id.
    pub flow: &'static str,
    /// What it is for.
    pub purpose: &'static str,
    /// Transport protocol.
    pub protocol: Protocol,
    /// The responder's port (the site-wide Acronis port for `9876*` flows).
    pub port: u16,
    /// True for a flow on the Acronis port.
    pub acronis_port: bool,
    /// The component that opens the connection.
    pub initiator: Component,
    /// The component that accepts it.
    pub responder: Component,
    /// Its phase.
    pub phase: Phase,
    /// Every reason it gave no rule.
    pub why: Vec<WhyNot>,
}

/// One reason a flow gave a host no rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", rename_all = "kebab-case")]
pub enum WhyNot {
    /// The host has no `os`: abrfw writes no rules for it.
    HostHasNoOs,
    /// The flow's phase is not among `[options] phases`.
    PhaseNotSelected {
        /// The flow's phase.
        phase: Phase,
    },
    /// The flow's phase is not among this host's own `phases` (`[[host]] phases`).
    HostPhaseNotSelected {
        /// The flow's phase.
        phase: Phase,
    },
    /// The peer the question names does not take part in the flow's phase: its own
    /// `phases` leave it out (an installed agent with `phases = ["operate"]`).
    PeerPhaseNotSelected {
        /// The peer host.
        peer: String,
        /// The flow's phase.
        phase: Phase,
    },
    /// The flow needs a management server and no host has that role.
    NeedsManagementServer,
    /// The flow applies only without a management server, and these hosts are one.
    NeedsNoManagementServer {
        /// The management servers.
        hosts: Vec<String>,
    },
    /// The flow applies only when `[options] dns = false`.
    NeedsNoDns,
    /// The flow goes only to NFS servers that serve NFSv3, and these serve NFSv4 only (they
    /// set no `nfs_mountd_port`).
    NeedsNfsV3 {
        /// The NFS servers at the other end (or this host).
        hosts: Vec<String>,
    },
    /// The host plays neither end of the flow.
    HostPlaysNeitherEnd {
        /// The component that opens the connection.
        initiator: Component,
        /// The component that accepts it.
        responder: Component,
        /// The roles that would make a host of this OS play one of them.
        roles: Vec<Role>,
    },
    /// The peer of the question does not play the other end.
    PeerDoesNotPlay {
        /// The peer.
        peer: String,
        /// The end it would have to play.
        component: Component,
        /// The roles that would make it play that end.
        roles: Vec<Role>,
    },
    /// No other host plays the other end.
    NoHostPlays {
        /// The end nobody plays.
        component: Component,
        /// The roles that would make a host play it.
        roles: Vec<Role>,
    },
    /// This host is the only one at the other end: the two roles talk locally.
    OnlyThisHost {
        /// The other end, played by this host too.
        component: Component,
    },
    /// The peer of the question is this host.
    PeerIsThisHost,
    /// The host and the peers have no address family in common.
    NoCommonFamily,
    /// The flow gives this host rules, on other ports (the responder's Acronis port).
    OtherPorts {
        /// The ports it uses.
        ports: Vec<PortRange>,
    },
}

fn roles_text(roles: &[Role]) -> String {
    let names: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
    names.join(" or ")
}

impl fmt::Display for WhyNot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WhyNot::HostHasNoOs => {
                f.write_str("the host has no `os`: abrfw writes no rules for it, only its peers'")
            }
            WhyNot::PhaseNotSelected { phase } => {
                write!(f, "phase {phase} is not in [options] phases")
            }
            WhyNot::HostPhaseNotSelected { phase } => {
                write!(f, "phase {phase} is not in this host's own phases")
            }
            WhyNot::PeerPhaseNotSelected { peer, phase } => {
                write!(f, "phase {phase} is not in the phases of {peer}")
            }
            WhyNot::NeedsManagementServer => {
                f.write_str("needs a management server, and no host has the management-server role")
            }
            WhyNot::NeedsNoManagementServer { hosts } => write!(
                f,
                "applies only without a management server, and {} has the management-server role",
                hosts.join(", ")
            ),
            WhyNot::NeedsNoDns => f.write_str("applies only when [options] dns = false"),
            WhyNot::NeedsNfsV3 { hosts } => write!(
                f,
                "NFSv3 only, and {} serve{} NFSv4 only (set nfs_mountd_port on an NFS server \
                 that serves NFSv3)",
                hosts.join(", "),
                if hosts.len() == 1 { "s" } else { "" }
            ),
            WhyNot::HostPlaysNeitherEnd {
                initiator,
                responder,
                roles,
            } => {
                write!(f, "this host plays neither {initiator} nor {responder}")?;
                if roles.is_empty() {
                    f.write_str(" (no role does on its OS)")
                } else {
                    write!(f, " (missing role {})", roles_text(roles))
                }
            }
            WhyNot::PeerDoesNotPlay {
                peer,
                component,
                roles,
            } => {
                write!(f, "{peer} does not play {component}")?;
                if roles.is_empty() {
                    f.write_str(" (no role does on its OS)")
                } else {
                    write!(f, " (missing role {})", roles_text(roles))
                }
            }
            WhyNot::NoHostPlays { component, roles } => {
                write!(f, "no other host plays {component}")?;
                if roles.is_empty() {
                    Ok(())
                } else {
                    write!(f, " (role {})", roles_text(roles))
                }
            }
            WhyNot::OnlyThisHost { component } => write!(
                f,
                "only this host plays {component}: the two roles talk locally, no rule"
            ),
            WhyNot::PeerIsThisHost => f.write_str("the peer is this host"),
            WhyNot::NoCommonFamily => {
                f.write_str("the peers have no address in this host's address families")
            }
            WhyNot::OtherPorts { ports } => {
                let ports: Vec<String> = ports.iter().map(ToString::to_string).collect();
                write!(
                    f,
                    "applies on port {} instead (the responder's acronis_port)",
                    ports.join(", ")
                )
            }
        }
    }
}

/// Explains one host's rules, narrowed by the query.
pub fn explain(
    catalog: &Catalog,
    topology: &Topology,
    query: &Query,
) -> Result<Explanation, ExplainError> {
    let release = release_of(catalog, topology)?;
    // A role the release does not know plays no part in it, as in compile.
    let hosts: &Vec<Host> = &topology
        .hosts
        .iter()
        .map(|h| {
            let mut h = h.clone();
            h.roles.retain(|&r| release.has_role(r));
            h
        })
        .collect();
    let me =
        find(hosts, &query.host).ok_or_else(|| ExplainError::UnknownHost(query.host.clone()))?;
    let peer = match &query.peer {
        Some(name) => {
            Some(find(hosts, name).ok_or_else(|| ExplainError::UnknownPeer(name.clone()))?)
        }
        None => None,
    };
    let host = &hosts[me];
    let all_rules: Vec<Rule> = compile(catalog, topology)?
        .into_iter()
        .find(|h| h.host == host.name)
        .map(|h| h.rules.to_vec())
        .unwrap_or_default();
    let matches = |r: &Rule| {
        query.port.is_none_or(|p| r.destination_port.contains(p))
            && peer.is_none_or(|p| r.peer_hosts.contains(&hosts[p].name))
    };
    let ms_hosts = management_servers(release, hosts);
    let rules: Vec<Reason> = all_rules
        .iter()
        .filter(|r| matches(r))
        .map(|r| Reason {
            rule: r.clone(),
            origin: origin(release, topology, host, r, &ms_hosts),
        })
        .collect();

    let mut not_applied = Vec::new();
    if query.port.is_some() || peer.is_some() {
        for flow in release.flows {
            // Some host answers the flow on the question's port (its Acronis or mountd port).
            let on_port = query.port.is_none_or(|p| {
                hosts
                    .iter()
                    .any(|h| flow.port.answers_on(p, h.acronis_port, h.nfs_mountd_port))
            });
            // With a peer and no port, only the flows that connect the two hosts' components.
            let connects = |a: &Host, b: &Host| {
                (plays(flow.initiator, a) && plays(flow.responder, b))
                    || (plays(flow.responder, a) && plays(flow.initiator, b))
            };
            let relevant = match (query.port, peer) {
                (Some(_), _) => on_port,
                (None, Some(p)) => connects(host, &hosts[p]),
                (None, None) => false,
            };
            if !relevant || rules.iter().any(|r| r.rule.flow == flow.id) {
                continue;
            }
            let seen = Seen {
                release,
                topology,
                hosts,
            };
            let why = why_not(flow, &seen, me, peer, &all_rules, &ms_hosts);
            not_applied.push(NotApplied {
                flow: flow.id,
                purpose: flow.purpose,
                protocol: flow.protocol,
                port: match flow.port {
                    Port::Fixed(p) => p,
                    Port::Acronis => topology.options.acronis_port,
                    Port::NfsMountd => mountd_port(hosts),
                },
                acronis_port: flow.port == Port::Acronis,
                initiator: flow.initiator,
                responder: flow.responder,
                phase: flow.phase,
                why,
            });
        }
    }

    Ok(Explanation {
        host: host.name.clone(),
        os: host.os,
        roles: host.roles.clone(),
        idle_roles: release.idle_roles(&topology.hosts[me].roles),
        zone: host.zone.clone(),
        release: release.id,
        port: query.port,
        peer: peer.map(|p| hosts[p].name.clone()),
        rules,
        not_applied,
        plays: components_of(release, host),
        peer_plays: peer
            .map(|p| components_of(release, &hosts[p]))
            .unwrap_or_default(),
    })
}

/// The host with this name; names are unique ignoring case.
fn find(hosts: &[Host], name: &str) -> Option<usize> {
    hosts
        .iter()
        .position(|h| h.name == name)
        .or_else(|| hosts.iter().position(|h| h.name.eq_ignore_ascii_case(name)))
}

fn plays(component: Component, host: &Host) -> bool {
    component.matches(&host.roles, host.os)
}

/// The roles that would make a host of this OS play the component, among those the OS may
/// hold (a host without `os` may hold any).
fn roles_for(release: &Release, component: Component, os: Option<Os>) -> Vec<Role> {
    Role::ALL
        .into_iter()
        .filter(|&r| release.has_role(r))
        .filter(|r| component.matches(&[*r], os))
        .filter(|r| os.is_none_or(|o| r.supported_os().contains(&o)))
        .collect()
}

/// The roles that make a host of some OS (or a peer without one) play the component.
fn roles_on_any_os(release: &Release, component: Component) -> Vec<Role> {
    Role::ALL
        .into_iter()
        .filter(|&r| release.has_role(r))
        .filter(|r| {
            component.matches(&[*r], None)
                || Os::ALL.iter().any(|&os| component.matches(&[*r], Some(os)))
        })
        .collect()
}

/// The components of the release's flows that a host plays, in catalog order of first use.
fn components_of(release: &Release, host: &Host) -> Vec<Component> {
    let mut out: Vec<Component> = Vec::new();
    for flow in release.flows {
        for c in [flow.initiator, flow.responder] {
            if plays(c, host) && !out.contains(&c) {
                out.push(c);
            }
        }
    }
    out.sort();
    out
}

fn origin(
    release: &'static Release,
    topology: &Topology,
    host: &Host,
    rule: &Rule,
    ms_hosts: &[String],
) -> Origin {
    let Some(flow) = rule.flow.catalog_id().and_then(|id| release.flow(id)) else {
        return allow_origin(topology, host, rule);
    };
    let (mine, theirs) = match rule.direction {
        Direction::Inbound => (flow.responder, flow.initiator),
        Direction::Outbound => (flow.initiator, flow.responder),
    };
    let conditions = conditions(flow, topology, ms_hosts);
    Origin::Catalog(FlowOrigin {
        group: flow.group,
        phase: flow.phase,
        initiator: flow.initiator,
        responder: flow.responder,
        plays: mine,
        by_roles: host
            .roles
            .iter()
            .copied()
            .filter(|r| mine.matches(&[*r], host.os))
            .collect(),
        peers_play: theirs,
        encryption: flow.encryption,
        source: flow.source,
        conditions,
    })
}

/// The `[[allow]]` behind a rule: its name, its service, and the selectors of both sides
/// (the host's end, and the other ends whose addresses are among the rule's peers).
fn allow_origin(topology: &Topology, host: &Host, rule: &Rule) -> Origin {
    let name = rule.flow.allow_name().unwrap_or(&rule.flow);
    let me = topology.hosts.iter().position(|h| h.name == host.name);
    let mine = |end: AllowEnd| me.is_some_and(|m| end == AllowEnd::Host(m));
    let theirs = |end: AllowEnd| end_in(topology, end, &rule.peers);
    let found = match rule.direction {
        Direction::Inbound => selectors(
            topology,
            name,
            rule.protocol,
            rule.destination_port,
            theirs,
            mine,
        ),
        Direction::Outbound => selectors(
            topology,
            name,
            rule.protocol,
            rule.destination_port,
            mine,
            theirs,
        ),
    };
    let (selected_by, peers_selected_by) = match rule.direction {
        Direction::Inbound => (found.to, found.from),
        Direction::Outbound => (found.from, found.to),
    };
    Origin::Allow {
        name: name.to_owned(),
        service: found.service,
        selected_by,
        peers_selected_by,
    }
}

/// Whether an `[[allow]]` end's addresses are among `peers`.
fn end_in(topology: &Topology, end: AllowEnd, peers: &Peers) -> bool {
    let nets: &[ipnet::IpNet] = match &end {
        AllowEnd::Host(i) => &topology.hosts[*i].addresses,
        AllowEnd::Network(n) => std::slice::from_ref(n),
    };
    nets.iter().any(|n| match n {
        ipnet::IpNet::V4(n) => peers.v4.contains(n),
        ipnet::IpNet::V6(n) => peers.v6.contains(n),
    })
}

/// What an `[[allow]]` rule's selectors chose, for one compiled rule.
struct Selected {
    service: Option<&'static str>,
    from: Vec<String>,
    to: Vec<String>,
}

/// The service and the `from`/`to` items of the `[[allow]]` named `name` whose expanded pairs
/// give a rule on `protocol`/`ports` between ends that `from_ok` and `to_ok` accept; each list
/// sorted, without repeats.
fn selectors(
    topology: &Topology,
    name: &str,
    protocol: Protocol,
    ports: PortRange,
    from_ok: impl Fn(AllowEnd) -> bool,
    to_ok: impl Fn(AllowEnd) -> bool,
) -> Selected {
    let mut found = Selected {
        service: None,
        from: Vec::new(),
        to: Vec::new(),
    };
    for a in topology.allows.iter().filter(|a| {
        a.name() == name
            && a.protocol == protocol
            && a.ports == ports
            && from_ok(a.from)
            && to_ok(a.to)
    }) {
        found.service = found.service.or(a.service);
        if !found.from.iter().any(|f| f == a.from_selector()) {
            found.from.push(a.from_selector().to_owned());
        }
        if !found.to.iter().any(|t| t == a.to_selector()) {
            found.to.push(a.to_selector().to_owned());
        }
    }
    found.from.sort();
    found.to.sort();
    found
}

/// The mountd port shown for an NFSv3 flow: the first NFS server's `nfs_mountd_port`, else
/// IANA's.
fn mountd_port(hosts: &[Host]) -> u16 {
    hosts
        .iter()
        .find_map(|h| h.nfs_mountd_port)
        .unwrap_or(crate::catalog::DEFAULT_NFS_MOUNTD_PORT)
}

/// The site facts that let a flow apply: its phase is selected, the management-server condition
/// holds, and the DNS option when the flow needs `dns = false`.
fn conditions(flow: &Flow, topology: &Topology, ms_hosts: &[String]) -> Vec<Fact> {
    let mut conditions = vec![Fact::PhaseSelected { phase: flow.phase }];
    match flow.condition.management_server {
        Presence::Any => {}
        Presence::Present => conditions.push(Fact::ManagementServerPresent {
            hosts: ms_hosts.to_vec(),
        }),
        Presence::Absent => conditions.push(Fact::ManagementServerAbsent),
    }
    if flow.condition.no_dns_only && !topology.options.dns {
        conditions.push(Fact::NoDns);
    }
    if flow.condition.nfs_v3 {
        conditions.push(Fact::NfsV3);
    }
    conditions
}

/// The names of the hosts with the management-server role, sorted; none when the release does
/// not know the role (as in compile, such a role takes part in no flow).
fn management_servers(release: &Release, hosts: &[Host]) -> Vec<String> {
    if !release.has_role(Role::ManagementServer) {
        return Vec::new();
    }
    let mut ms: Vec<String> = hosts
        .iter()
        .filter(|h| h.roles.contains(&Role::ManagementServer))
        .map(|h| h.name.clone())
        .collect();
    ms.sort();
    ms
}

/// The answer for one `[[gateway]]`: its forward rules that match the question, each with the
/// flow or `[[allow]]` behind it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GatewayExplanation {
    /// Gateway name.
    pub gateway: String,
    /// Its OS.
    pub os: Os,
    /// The zones it routes between, sorted.
    pub zones: Vec<String>,
    /// Release id of the catalog.
    pub release: &'static str,
    /// The `--port` of the question.
    pub port: Option<u16>,
    /// The `--peer` of the question.
    pub peer: Option<String>,
    /// The forward rules that match, in rule order.
    pub rules: Vec<ForwardReason>,
    /// With a `--port` or `--peer`: the catalog flows and `[[allow]]` rules that match the
    /// question and that this gateway does not forward, each with why not.
    pub not_forwarded: Vec<NotForwarded>,
}

/// A connection that matches the question and that the gateway does not forward.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NotForwarded {
    /// Flow id (`agent-ms`, `allow:<name>`).
    pub flow: String,
    /// What it is for.
    pub purpose: String,
    /// Transport protocol.
    pub protocol: Protocol,
    /// The responder's port(s) (the site-wide Acronis port for `9876*` flows).
    pub port: PortRange,
    /// Every reason it is not forwarded.
    pub why: Vec<GatewayWhyNot>,
}

/// One reason a gateway does not forward a connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", rename_all = "kebab-case")]
pub enum GatewayWhyNot {
    /// The catalog flow gives the site no rule at all (its phase, its condition, or no hosts at
    /// both ends): `abrfw explain --host <host> --port <port>` on one end says which.
    NotApplicable,
    /// Both ends sit in one zone: the traffic never reaches a gateway.
    SameZone {
        /// The zone.
        zone: String,
    },
    /// An end's zone is not among the gateway's zones.
    ZoneNotRouted {
        /// The zones of the ends the gateway does not join.
        zones: Vec<String>,
    },
    /// An `[[allow]]` end is an address that lies in no `[[zone]]`'s networks: it has no zone,
    /// and no gateway forwards it.
    AddressInNoZone {
        /// The address or network.
        address: String,
    },
    /// The ends share no address family.
    NoCommonFamily,
    /// The `[[allow]]` rule's two ends are the same host.
    SameHost,
}

impl fmt::Display for GatewayWhyNot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GatewayWhyNot::NotApplicable => f.write_str(
                "the flow gives this site no rule at all (phase, condition or no hosts at both ends): explain one of its hosts to see why",
            ),
            GatewayWhyNot::SameZone { zone } => {
                write!(f, "both ends sit in zone {zone}: the traffic never reaches a gateway")
            }
            GatewayWhyNot::ZoneNotRouted { zones } => write!(
                f,
                "zone(s) {} of its ends are not among this gateway's zones: add them to `zones`",
                zones.join(", ")
            ),
            GatewayWhyNot::AddressInNoZone { address } => write!(
                f,
                "{address} lies in no [[zone]]'s networks, so no gateway forwards it: add a [[zone]] with a network that holds it"
            ),
            GatewayWhyNot::NoCommonFamily => {
                f.write_str("its ends have no address family in common")
            }
            GatewayWhyNot::SameHost => f.write_str("`from` and `to` are the same host"),
        }
    }
}

/// One forward rule and where it comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ForwardReason {
    /// The rule, as backends see it.
    pub rule: ForwardRule,
    /// The catalog flow or site rule behind it.
    pub origin: ForwardOrigin,
}

/// Where a forward rule comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum ForwardOrigin {
    /// A flow of the catalog whose initiators and responders sit in two zones the gateway joins.
    Catalog {
        /// The flow's group.
        group: Group,
        /// Its phase.
        phase: Phase,
        /// The component that opens the connection (in `from_zone`).
        initiator: Component,
        /// The component that accepts it (in `to_zone`).
        responder: Component,
        /// The vendor's encryption note.
        encryption: EncryptionNote,
        /// Where the vendor documents the flow.
        source: &'static str,
        /// The site facts the flow's phase and condition needed.
        conditions: Vec<Fact>,
    },
    /// An `[[allow]]` of the topology whose two ends sit in two zones the gateway joins.
    Allow {
        /// The allow rule's name.
        name: String,
        /// The built-in service (`service = "dns"`) the rule's protocol and port come from;
        /// `None` for one written with `port`.
        service: Option<&'static str>,
        /// The `from` items that selected the rule's sources, sorted.
        from_selected_by: Vec<String>,
        /// The `to` items that selected the rule's destinations, sorted.
        to_selected_by: Vec<String>,
    },
}

/// Whether the topology has a `[[gateway]]` of this name (ignoring case, as names are unique
/// that way).
pub fn is_gateway(topology: &Topology, name: &str) -> bool {
    topology
        .gateways
        .iter()
        .any(|g| g.name.eq_ignore_ascii_case(name))
}

/// Explains one gateway's forward rules, narrowed by the query (`host` is the gateway's name;
/// `peer` keeps the rules that name that host at either end).
pub fn explain_gateway(
    catalog: &Catalog,
    topology: &Topology,
    query: &Query,
) -> Result<GatewayExplanation, ExplainError> {
    let release = release_of(catalog, topology)?;
    let gateway = compile_gateways(catalog, topology)?
        .into_iter()
        .find(|g| g.gateway.eq_ignore_ascii_case(&query.host))
        .ok_or_else(|| ExplainError::UnknownHost(query.host.clone()))?;
    let peer = match &query.peer {
        Some(name) => Some(
            topology
                .hosts
                .iter()
                .find(|h| h.name.eq_ignore_ascii_case(name))
                .map(|h| h.name.clone())
                .ok_or_else(|| ExplainError::UnknownPeer(name.clone()))?,
        ),
        None => None,
    };
    let ms_hosts = management_servers(release, &topology.hosts);
    let rules: Vec<ForwardReason> = gateway
        .rules
        .into_iter()
        .filter(|r| query.port.is_none_or(|p| r.destination_port.contains(p)))
        .filter(|r| {
            peer.as_ref()
                .is_none_or(|p| r.source_hosts.contains(p) || r.destination_hosts.contains(p))
        })
        .map(|rule| {
            let origin = match rule.flow.catalog_id().and_then(|id| release.flow(id)) {
                Some(flow) => ForwardOrigin::Catalog {
                    group: flow.group,
                    phase: flow.phase,
                    initiator: flow.initiator,
                    responder: flow.responder,
                    encryption: flow.encryption,
                    source: flow.source,
                    conditions: conditions(flow, topology, &ms_hosts),
                },
                None => {
                    let name = rule.flow.allow_name().unwrap_or(&rule.flow);
                    let found = selectors(
                        topology,
                        name,
                        rule.protocol,
                        rule.destination_port,
                        |end| end_in(topology, end, &rule.sources),
                        |end| end_in(topology, end, &rule.destinations),
                    );
                    ForwardOrigin::Allow {
                        name: name.to_owned(),
                        service: found.service,
                        from_selected_by: found.from,
                        to_selected_by: found.to,
                    }
                }
            };
            ForwardReason { rule, origin }
        })
        .collect();
    let not_forwarded = match topology.gateways.iter().find(|g| g.name == gateway.gateway) {
        Some(gw) if query.port.is_some() || peer.is_some() => {
            let forwarded: Vec<&str> = rules.iter().map(|r| r.rule.flow.as_str()).collect();
            not_forwarded(
                release,
                topology,
                gw,
                query.port,
                peer.as_deref(),
                &forwarded,
            )
        }
        _ => Vec::new(),
    };
    Ok(GatewayExplanation {
        gateway: gateway.gateway,
        os: gateway.os,
        zones: gateway.zones.into_iter().map(|z| z.name).collect(),
        release: release.id,
        port: query.port,
        peer,
        rules,
        not_forwarded,
    })
}

/// Why not, for a gateway: the zones of the two ends (`None` for an address in no zone).
fn zone_reasons(gw: &Gateway, pairs: &[(Option<&str>, Option<&str>)]) -> Vec<GatewayWhyNot> {
    let mut why = Vec::new();
    if pairs
        .iter()
        .any(|(a, b)| matches!((a, b), (Some(a), Some(b)) if gw.routes(a, b)))
    {
        why.push(GatewayWhyNot::NoCommonFamily);
        return why;
    }
    let mut same: Vec<&str> = pairs
        .iter()
        .filter_map(|(a, b)| if a == b { *a } else { None })
        .collect();
    same.sort_unstable();
    same.dedup();
    why.extend(
        same.into_iter()
            .map(|z| GatewayWhyNot::SameZone { zone: z.to_owned() }),
    );
    let mut outside: Vec<String> = pairs
        .iter()
        .filter(|(a, b)| a != b)
        .flat_map(|(a, b)| [a, b])
        .filter_map(|z| *z)
        .filter(|z| !gw.zones.iter().any(|(g, _)| g == z))
        .map(str::to_owned)
        .collect();
    outside.sort();
    outside.dedup();
    if !outside.is_empty() {
        why.push(GatewayWhyNot::ZoneNotRouted { zones: outside });
    }
    why
}

/// The catalog flows and `[[allow]]` rules on `port` (or with `peer` at an end) that `gw`
/// does not forward, with why not; `forwarded` are the flow ids it does forward for the
/// question.
fn not_forwarded(
    release: &'static Release,
    topology: &Topology,
    gw: &Gateway,
    port: Option<u16>,
    peer: Option<&str>,
    forwarded: &[&str],
) -> Vec<NotForwarded> {
    let hosts = &topology.hosts;
    let is_peer = |i: usize| peer.is_none_or(|p| hosts[i].name == p);
    let mut out = Vec::new();
    let applied = applicable(release, topology);
    for flow in release.flows {
        if forwarded.contains(&flow.id) {
            continue;
        }
        let on_port = |h: &Host| {
            port.is_none_or(|p| flow.port.answers_on(p, h.acronis_port, h.nfs_mountd_port))
        };
        let found = applied.iter().find(|a| a.flow.id == flow.id);
        let why = match found {
            None => {
                // Only when the question points at it: the port, or the peer plays an end.
                let peer_plays = peer.is_none_or(|p| {
                    hosts.iter().any(|h| {
                        h.name == p && (plays(flow.initiator, h) || plays(flow.responder, h))
                    })
                });
                let port_fits = port.is_none_or(|p| {
                    hosts
                        .iter()
                        .any(|h| flow.port.answers_on(p, h.acronis_port, h.nfs_mountd_port))
                });
                if !(peer_plays && port_fits) {
                    continue;
                }
                vec![GatewayWhyNot::NotApplicable]
            }
            Some(a) => {
                let mut pairs: Vec<(Option<&str>, Option<&str>)> = Vec::new();
                for &i in &a.initiators {
                    for &r in &a.responders {
                        if i != r && (is_peer(i) || is_peer(r)) && on_port(&hosts[r]) {
                            pairs.push((Some(&hosts[i].zone), Some(&hosts[r].zone)));
                        }
                    }
                }
                pairs.sort_unstable();
                pairs.dedup();
                if pairs.is_empty() {
                    continue;
                }
                zone_reasons(gw, &pairs)
            }
        };
        out.push(NotForwarded {
            flow: flow.id.to_owned(),
            purpose: flow.purpose.to_owned(),
            protocol: flow.protocol,
            port: match flow.port {
                Port::Fixed(p) => PortRange::single(p),
                Port::Acronis => PortRange::single(topology.options.acronis_port),
                Port::NfsMountd => PortRange::single(mountd_port(hosts)),
            },
            why,
        });
    }
    for allow in &topology.allows {
        let flow = FlowId::allow(allow.name()).to_string();
        if forwarded.contains(&flow.as_str()) {
            continue;
        }
        let names_peer = |e: AllowEnd| matches!(e, AllowEnd::Host(i) if is_peer(i));
        if port.is_some_and(|p| !allow.ports.contains(p))
            || (peer.is_some() && !names_peer(allow.from) && !names_peer(allow.to))
        {
            continue;
        }
        let mut why = Vec::new();
        if allow.from == allow.to {
            why.push(GatewayWhyNot::SameHost);
        } else {
            for end in [allow.from, allow.to] {
                if let AllowEnd::Network(n) = end
                    && topology.zone_of_network(n).is_none()
                {
                    why.push(GatewayWhyNot::AddressInNoZone {
                        address: crate::ir::address_text(n),
                    });
                }
            }
            let pair = (
                topology.zone_of_end(allow.from),
                topology.zone_of_end(allow.to),
            );
            if pair.0.is_some() && pair.1.is_some() {
                why.extend(zone_reasons(gw, &[pair]));
            }
        }
        out.push(NotForwarded {
            flow,
            purpose: allow.description().to_owned(),
            protocol: allow.protocol,
            port: allow.ports,
            why,
        });
    }
    out
}

/// Every reason a flow gave host `me` no rule (towards `peer`, when the question names one).
/// The release and the site as the release sees them (roles it does not know removed).
struct Seen<'a> {
    release: &'a Release,
    topology: &'a Topology,
    hosts: &'a [Host],
}

fn why_not(
    flow: &Flow,
    seen: &Seen<'_>,
    me: usize,
    peer: Option<usize>,
    my_rules: &[Rule],
    ms_hosts: &[String],
) -> Vec<WhyNot> {
    let Seen {
        release,
        topology,
        hosts,
    } = *seen;
    let host = &hosts[me];
    let mut why = Vec::new();
    if host.os.is_none() {
        why.push(WhyNot::HostHasNoOs);
    }
    if !host.phases.contains(&flow.phase) {
        why.push(if host.phases == topology.options.phases {
            WhyNot::PhaseNotSelected { phase: flow.phase }
        } else {
            WhyNot::HostPhaseNotSelected { phase: flow.phase }
        });
    }
    match flow.condition.management_server {
        Presence::Any => {}
        Presence::Present if ms_hosts.is_empty() => why.push(WhyNot::NeedsManagementServer),
        Presence::Absent if !ms_hosts.is_empty() => why.push(WhyNot::NeedsNoManagementServer {
            hosts: ms_hosts.to_vec(),
        }),
        Presence::Present | Presence::Absent => {}
    }
    if flow.condition.no_dns_only && topology.options.dns {
        why.push(WhyNot::NeedsNoDns);
    }
    if flow.condition.nfs_v3 {
        // The NFS servers the question is about: this host, the peer, or every other one.
        let servers: Vec<usize> = if plays(flow.responder, host) {
            vec![me]
        } else if let Some(p) = peer {
            vec![p]
                .into_iter()
                .filter(|&p| plays(flow.responder, &hosts[p]))
                .collect()
        } else {
            (0..hosts.len())
                .filter(|&i| i != me && plays(flow.responder, &hosts[i]))
                .collect()
        };
        if !servers.is_empty() && servers.iter().all(|&i| hosts[i].nfs_mountd_port.is_none()) {
            why.push(WhyNot::NeedsNfsV3 {
                hosts: servers.iter().map(|&i| hosts[i].name.clone()).collect(),
            });
        }
    }
    // The ends: which one this host plays, and whether someone else plays the other.
    let mut others = Vec::new();
    if plays(flow.initiator, host) {
        others.push(flow.responder);
    }
    if plays(flow.responder, host) {
        others.push(flow.initiator);
    }
    if others.is_empty() {
        let mut roles = roles_for(release, flow.initiator, host.os);
        for r in roles_for(release, flow.responder, host.os) {
            if !roles.contains(&r) {
                roles.push(r);
            }
        }
        why.push(WhyNot::HostPlaysNeitherEnd {
            initiator: flow.initiator,
            responder: flow.responder,
            roles,
        });
    } else if let Some(p) = peer {
        if p == me {
            why.push(WhyNot::PeerIsThisHost);
        } else if !others.iter().any(|&c| plays(c, &hosts[p])) {
            why.push(WhyNot::PeerDoesNotPlay {
                peer: hosts[p].name.clone(),
                component: others[0],
                roles: roles_for(release, others[0], hosts[p].os),
            });
        } else if !hosts[p].phases.contains(&flow.phase) {
            why.push(WhyNot::PeerPhaseNotSelected {
                peer: hosts[p].name.clone(),
                phase: flow.phase,
            });
        } else if !share_family(host, &hosts[p]) {
            why.push(WhyNot::NoCommonFamily);
        }
    } else {
        let other_hosts: Vec<usize> = (0..hosts.len())
            .filter(|&i| i != me && others.iter().any(|&c| plays(c, &hosts[i])))
            .collect();
        if other_hosts.is_empty() {
            if others.iter().any(|&c| plays(c, host)) {
                why.push(WhyNot::OnlyThisHost {
                    component: others[0],
                });
            } else {
                why.push(WhyNot::NoHostPlays {
                    component: others[0],
                    roles: roles_on_any_os(release, others[0]),
                });
            }
        } else if !other_hosts.iter().any(|&i| share_family(host, &hosts[i])) {
            why.push(WhyNot::NoCommonFamily);
        }
    }
    if why.is_empty() {
        // The flow applies, but its rules here are on other ports than the question's.
        let mut ports: Vec<PortRange> = my_rules
            .iter()
            .filter(|r| r.flow == flow.id)
            .map(|r| r.destination_port)
            .collect();
        ports.sort();
        ports.dedup();
        why.push(WhyNot::OtherPorts { ports });
    }
    why
}

#[cfg(test)]
mod tests {
    use pretty_assertions::assert_eq;

    use super::*;
    use crate::topology;

    const SITE: &str = r#"
[options]
phases = ["operate"]

[[host]]
name = "ams"
os = "windows"
addresses = ["10.0.0.10"]
roles = ["management-server", "license-server"]

[[host]]
name = "lx"
os = "linux"
addresses = ["10.0.0.40"]
roles = ["agent"]

[[host]]
name = "nas"
os = "linux"
addresses = ["10.0.0.45"]
roles = ["vault-sftp"]
"#;

    fn run(port: Option<u16>, peer: Option<&str>, host: &str) -> Explanation {
        let catalog = Catalog::builtin();
        let topo = topology::parse("t.toml", SITE, &catalog).unwrap_or_else(|e| panic!("{e}"));
        explain(
            &catalog,
            &topo,
            &Query {
                host: host.to_owned(),
                port,
                peer: peer.map(str::to_owned),
            },
        )
        .unwrap()
    }

    #[test]
    fn a_rule_names_its_flow_roles_and_conditions() {
        let e = run(Some(9876), Some("ams"), "lx");
        let flows: Vec<&str> = e.rules.iter().map(|r| r.rule.flow.as_str()).collect();
        assert_eq!(flows, vec!["ms-agent", "agent-ls-check", "agent-ms"]);
        let Origin::Catalog(o) = &e.rules[0].origin else {
            panic!("catalog flow expected")
        };
        assert_eq!((o.plays, o.peers_play), (Component::Agent, Component::Ms));
        assert_eq!(o.by_roles, vec![Role::Agent]);
        assert_eq!(
            o.conditions,
            vec![
                Fact::PhaseSelected {
                    phase: Phase::Operate
                },
                Fact::ManagementServerPresent {
                    hosts: vec!["ams".to_owned()]
                }
            ]
        );
    }

    #[test]
    fn a_closed_port_says_which_role_or_option_is_missing() {
        let e = run(Some(445), None, "lx");
        assert!(e.rules.is_empty());
        let why = |id: &str| {
            e.not_applied
                .iter()
                .find(|n| n.flow == id)
                .unwrap()
                .why
                .clone()
        };
        // Push installation over SMB: install phase not selected, and lx is Linux, where
        // neither a management server nor a Windows push target can run.
        let smb = why("ri-ms-win-files");
        assert_eq!(
            smb,
            vec![
                WhyNot::PhaseNotSelected {
                    phase: Phase::Install
                },
                WhyNot::HostPlaysNeitherEnd {
                    initiator: Component::Ms,
                    responder: Component::TargetWin,
                    roles: vec![],
                }
            ]
        );
        assert_eq!(
            smb[1].to_string(),
            "this host plays neither ms nor target_win (no role does on its OS)"
        );
        // The agent could back up to an SMB vault, but no host is one.
        assert_eq!(
            why("agent-vault-smb"),
            vec![WhyNot::NoHostPlays {
                component: Component::VaultSmb,
                roles: vec![Role::VaultSmb],
            }]
        );
        assert_eq!(
            why("ri-con-win-files")[1],
            WhyNot::NeedsNoManagementServer {
                hosts: vec!["ams".to_owned()]
            }
        );
    }

    #[test]
    fn a_peer_without_the_role_is_named() {
        let e = run(None, Some("nas"), "lx");
        let flows: Vec<&str> = e.rules.iter().map(|r| r.rule.flow.as_str()).collect();
        assert_eq!(flows, vec!["agent-vault-sftp"]);
        assert!(e.not_applied.is_empty());
        let e = run(Some(445), Some("nas"), "lx");
        let smb = e
            .not_applied
            .iter()
            .find(|n| n.flow == "agent-vault-smb")
            .unwrap();
        assert_eq!(
            smb.why,
            vec![WhyNot::PeerDoesNotPlay {
                peer: "nas".to_owned(),
                component: Component::VaultSmb,
                roles: vec![Role::VaultSmb],
            }]
        );
        assert_eq!(
            smb.why[0].to_string(),
            "nas does not play vault_smb (missing role vault-smb)"
        );
    }

    #[test]
    fn unknown_hosts_are_errors() {
        let catalog = Catalog::builtin();
        let topo = topology::parse("t.toml", SITE, &catalog).unwrap_or_else(|e| panic!("{e}"));
        let q = Query {
            host: "nosuch".to_owned(),
            ..Query::default()
        };
        assert_eq!(
            explain(&catalog, &topo, &q),
            Err(ExplainError::UnknownHost("nosuch".to_owned()))
        );
    }
}

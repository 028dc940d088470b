//! Topology + catalog -> one [`HostRules`] per host that has an OS.

use std::collections::BTreeMap;

use ipnet::IpNet;

use crate::catalog::{Catalog, Flow, Port, SourcePort};
use crate::ir::{Direction, Family, HostRules, Peers, PortRange, Protocol, Rule};
use crate::role::{Component, Role};
use crate::topology::{Allow, AllowEnd, Host, Topology};

/// Why a topology could not be compiled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CompileError {
    /// The topology names a release the catalog does not have.
    #[error("release {0:?} is not in the catalog")]
    UnknownRelease(String),
}

/// Compiles every host that has an OS into its rule set, sorted by host name.
///
/// A flow applies when its phase is selected, its condition holds (management server present or
/// absent, DNS), and hosts on both of its ends exist. Each host then gets, per applicable flow, the
/// outbound rules of the connections it opens and the inbound rules of those it accepts, with the
/// initiator's ephemeral source-port range. A host never gets a rule to itself: two roles on one
/// host talk locally.
pub fn compile(catalog: &Catalog, topology: &Topology) -> Result<Vec<HostRules>, CompileError> {
    let release = catalog
        .release(topology.release.id)
        .ok_or_else(|| CompileError::UnknownRelease(topology.release.id.to_owned()))?;
    let hosts = &topology.hosts;
    let has_ms = hosts
        .iter()
        .any(|h| h.roles.contains(&Role::ManagementServer));
    let mut out: Vec<Builder> = hosts.iter().map(Builder::new).collect();

    let members = |c: Component| -> Vec<usize> {
        (0..hosts.len())
            .filter(|&i| c.matches(&hosts[i].roles, hosts[i].os))
            .collect()
    };
    for flow in release.flows {
        if !topology.options.phases.contains(&flow.phase)
            || !flow.condition.holds(has_ms, topology.options.dns)
        {
            continue;
        }
        let initiators = members(flow.initiator);
        let responders = members(flow.responder);
        if initiators.is_empty() || responders.is_empty() {
            continue;
        }
        let sport = |h: &Host| match flow.source_port {
            SourcePort::Ephemeral => h.source_ports,
            SourcePort::Any => None,
        };
        let dport = |h: &Host| match flow.port {
            Port::Fixed(p) => PortRange::single(p),
            Port::Acronis => PortRange::single(h.acronis_port),
        };
        // Responders grouped by the port they listen on; initiators by the ports they send from.
        let by_dport = group(&responders, |i| dport(&hosts[i]));
        let by_sport = group(&initiators, |i| sport(&hosts[i]));

        for &i in initiators.iter().filter(|&&i| hosts[i].os.is_some()) {
            for (port, peers) in &by_dport {
                out[i].add(
                    flow,
                    Direction::Outbound,
                    sport(&hosts[i]),
                    *port,
                    peers,
                    i,
                    hosts,
                );
            }
        }
        for &r in responders.iter().filter(|&&r| hosts[r].os.is_some()) {
            for (ports, peers) in &by_sport {
                out[r].add(
                    flow,
                    Direction::Inbound,
                    *ports,
                    dport(&hosts[r]),
                    peers,
                    r,
                    hosts,
                );
            }
        }
    }

    for allow in &topology.allows {
        compile_allow(allow, hosts, &mut out);
    }

    let mut result: Vec<HostRules> = out
        .into_iter()
        .zip(hosts)
        .filter_map(|(b, h)| b.finish(h, topology, release.id))
        .collect();
    result.sort_by(|a, b| a.host.cmp(&b.host));
    Ok(result)
}

/// An `[[allow]]` rule: inbound on its `to` host, outbound on its `from` host (when they have
/// an OS); a network side contributes addresses and any source port.
fn compile_allow(allow: &Allow, hosts: &[Host], out: &mut [Builder]) {
    let side = |end: AllowEnd| -> (Vec<IpNet>, Vec<String>, Option<PortRange>) {
        match end {
            AllowEnd::Host(i) => (
                hosts[i].addresses.clone(),
                vec![hosts[i].name.clone()],
                hosts[i].source_ports,
            ),
            AllowEnd::Network(net) => (vec![net], Vec::new(), None),
        }
    };
    if allow.from == allow.to {
        return;
    }
    let (from_nets, from_names, sport) = side(allow.from);
    let (to_nets, to_names, _) = side(allow.to);
    let rule = |direction, peers: Vec<IpNet>, peer_hosts| SiteRule {
        flow: format!("allow:{}", allow.name),
        direction,
        protocol: allow.protocol,
        sport,
        dport: allow.ports,
        peers,
        peer_hosts,
        purpose: allow.description.clone(),
    };
    if let AllowEnd::Host(t) = allow.to
        && hosts[t].os.is_some()
    {
        out[t].add_site(rule(Direction::Inbound, from_nets, from_names));
    }
    if let AllowEnd::Host(f) = allow.from
        && hosts[f].os.is_some()
    {
        out[f].add_site(rule(Direction::Outbound, to_nets, to_names));
    }
}

/// Groups host indices by a key, keys sorted.
fn group<K: Ord>(members: &[usize], key: impl Fn(usize) -> K) -> BTreeMap<K, Vec<usize>> {
    let mut map: BTreeMap<K, Vec<usize>> = BTreeMap::new();
    for &i in members {
        map.entry(key(i)).or_default().push(i);
    }
    map
}

/// A site `[[allow]]` rule before family filtering.
struct SiteRule {
    flow: String,
    direction: Direction,
    protocol: Protocol,
    sport: Option<PortRange>,
    dport: PortRange,
    peers: Vec<IpNet>,
    peer_hosts: Vec<String>,
    purpose: String,
}

/// Collects one host's rules.
struct Builder {
    v4: bool,
    v6: bool,
    rules: Vec<Rule>,
}

impl Builder {
    fn new(host: &Host) -> Self {
        Self {
            v4: host.addresses.iter().any(|a| matches!(a, IpNet::V4(_))),
            v6: host.addresses.iter().any(|a| matches!(a, IpNet::V6(_))),
            rules: Vec::new(),
        }
    }

    /// Keeps the peer addresses of the families this host has: a host without IPv6 never talks
    /// IPv6, so its rules need no IPv6 peers.
    fn peers(&self, nets: impl IntoIterator<Item = IpNet>) -> Peers {
        let mut peers = Peers::from_nets(nets);
        if !self.v4 {
            peers.v4.clear();
        }
        if !self.v6 {
            peers.v6.clear();
        }
        peers
    }

    #[allow(clippy::too_many_arguments)]
    fn add(
        &mut self,
        flow: &Flow,
        direction: Direction,
        sport: Option<PortRange>,
        dport: PortRange,
        peer_indices: &[usize],
        me: usize,
        hosts: &[Host],
    ) {
        let others = || {
            peer_indices
                .iter()
                .filter(|&&p| p != me)
                .map(|&p| &hosts[p])
        };
        let peers = self.peers(others().flat_map(|h| h.addresses.iter().copied()));
        if peers.is_empty() {
            return;
        }
        let mut peer_hosts: Vec<String> = others().map(|h| h.name.clone()).collect();
        peer_hosts.sort();
        self.rules.push(Rule {
            direction,
            flow: flow.id.to_owned(),
            protocol: flow.protocol,
            destination_port: dport,
            source_ports: sport,
            peers,
            peer_hosts,
            purpose: flow.purpose.to_owned(),
        });
    }

    fn add_site(&mut self, rule: SiteRule) {
        let peers = self.peers(rule.peers);
        if peers.is_empty() {
            return;
        }
        self.rules.push(Rule {
            direction: rule.direction,
            flow: rule.flow,
            protocol: rule.protocol,
            destination_port: rule.dport,
            source_ports: rule.sport,
            peers,
            peer_hosts: rule.peer_hosts,
            purpose: rule.purpose,
        });
    }

    fn finish(mut self, host: &Host, topology: &Topology, release: &str) -> Option<HostRules> {
        let os = host.os?;
        self.rules.sort();
        self.rules.dedup();
        Some(HostRules {
            host: host.name.clone(),
            os,
            roles: host.roles.iter().map(|r| r.as_str().to_owned()).collect(),
            release: release.to_owned(),
            policy: topology.options.policy,
            addresses: Peers::from_nets(host.addresses.iter().copied()),
            rules: self.rules,
        })
    }
}

/// Families a rule set has peers in.
pub fn families(rules: &HostRules) -> Vec<Family> {
    Family::ALL
        .into_iter()
        .filter(|&f| rules.rules.iter().any(|r| r.peers.len_of(f) > 0))
        .collect()
}

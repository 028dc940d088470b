//! Topology + catalog -> one [`HostRules`] per host that has an OS.

use std::collections::BTreeMap;
use std::sync::Arc;

use ipnet::IpNet;

use crate::catalog::{Catalog, DEFAULT_NFS_MOUNTD_PORT, Flow, Phase, Port, Release, SourcePort};
use crate::ir::{
    Direction, Family, FlowId, ForwardRule, GatewayRules, HostRules, Peers, PortRange, Protocol,
    ReleaseId, Rule, Rules, Zone,
};
use crate::os::Os;
use crate::par;
use crate::role::{Component, Role};
use crate::topology::{Allow, AllowEnd, AllowsOf, Host, Topology};

/// Why a topology could not be compiled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CompileError {
    /// The topology names a release the catalog does not have.
    #[error("release {0:?} is not in the catalog")]
    UnknownRelease(String),
    /// The rule sets would hold more peer addresses than [`MAX_PEER_ENTRIES`].
    #[error(
        "the site would compile to about {entries} peer addresses in its rules, more than the limit of {limit}: \
         many hosts of roles that talk to each other (consoles and agents, say) give every one of them a rule naming all the others; \
         describe machines that share a rule set as one host with a network address"
    )]
    TooLarge {
        /// The estimate for this site.
        entries: u64,
        /// [`MAX_PEER_ENTRIES`].
        limit: u64,
    },
}

/// Most peer addresses all rule sets of a site may hold together, counted before aggregation
/// (an upper bound on the work and memory of compiling and rendering). Flows whose two ends are
/// both many hosts grow as their product: 5,000 consoles and 5,000 agents would need about
/// 50 million; the 100,000-host scale bench site (one management server, every agent its peer)
/// estimates 8.2 million and compiles in under 400 MiB.
pub const MAX_PEER_ENTRIES: u64 = 25_000_000;

/// An upper bound on the peer addresses all rule sets of the site hold together (before
/// aggregation), computed without building any rule: per flow, every initiator with an OS names
/// all responders' addresses and every responder with an OS all initiators' addresses; every
/// gateway names each side once per group of the other side (zone and port); an `[[allow]]`
/// names the other end on each host end, and every gateway names both ends of its merged
/// crossings.
pub fn peer_entries(catalog: &Catalog, topology: &Topology) -> Result<u64, CompileError> {
    let release = release_of(catalog, topology)?;
    Ok(estimate(&applicable(release, topology), topology))
}

fn estimate(flows: &[Applicable], topology: &Topology) -> u64 {
    use std::collections::BTreeSet;
    let hosts = &topology.hosts;
    let addrs =
        |set: &[usize]| -> u64 { set.iter().map(|&i| hosts[i].addresses.len() as u64).sum() };
    let with_os =
        |set: &[usize]| -> u64 { set.iter().filter(|&&i| hosts[i].os.is_some()).count() as u64 };
    let gateways = topology.gateways.len() as u64;
    let mut entries: u64 = 0;
    for a in flows {
        let (ini, resp) = (addrs(&a.initiators), addrs(&a.responders));
        entries = entries
            .saturating_add(with_os(&a.initiators).saturating_mul(resp))
            .saturating_add(with_os(&a.responders).saturating_mul(ini));
        if gateways > 0 {
            let ini_groups: BTreeSet<_> = a
                .initiators
                .iter()
                .map(|&i| (hosts[i].zone.as_str(), flow_sport(a.flow, &hosts[i])))
                .collect();
            let resp_groups: BTreeSet<_> = a
                .responders
                .iter()
                .map(|&r| (hosts[r].zone.as_str(), flow_dport(a.flow, &hosts[r])))
                .collect();
            let per_gateway = ini
                .saturating_mul(resp_groups.len() as u64)
                .saturating_add(resp.saturating_mul(ini_groups.len() as u64));
            entries = entries.saturating_add(gateways.saturating_mul(per_gateway));
        }
    }
    // An [[allow]] names the other end on each end that is a host; a gateway names both ends
    // of each crossing, merged as compile_gateways merges them.
    for allow in &topology.allows {
        let n = |end: AllowEnd| match end {
            AllowEnd::Host(i) => hosts[i].addresses.len() as u64,
            AllowEnd::Network(_) => 1,
        };
        let on = |end: AllowEnd, other: AllowEnd| match end {
            AllowEnd::Host(_) => n(other),
            AllowEnd::Network(_) => 0,
        };
        entries = entries
            .saturating_add(on(allow.from, allow.to))
            .saturating_add(on(allow.to, allow.from));
    }
    if gateways > 0 {
        entries = entries.saturating_add(merged_allow_entries(topology).saturating_mul(gateways));
    }
    entries
}

/// Refuses a site whose rules would exceed [`MAX_PEER_ENTRIES`], before building any of them.
fn check_budget(flows: &[Applicable], topology: &Topology) -> Result<(), CompileError> {
    let entries = estimate(flows, topology);
    if entries > MAX_PEER_ENTRIES {
        return Err(CompileError::TooLarge {
            entries,
            limit: MAX_PEER_ENTRIES,
        });
    }
    Ok(())
}

/// Compiles every host that has an OS into its rule set, sorted by host name.
///
/// A flow applies when its phase is selected, its condition holds (management server present or
/// absent, DNS), and hosts on both of its ends exist. Each host then gets, per applicable flow, the
/// outbound rules of the connections it opens and the inbound rules of those it accepts, with the
/// initiator's ephemeral source-port range. A host never gets a rule to itself: two roles on one
/// host talk locally.
pub fn compile(catalog: &Catalog, topology: &Topology) -> Result<Vec<HostRules>, CompileError> {
    let release = release_of(catalog, topology)?;
    let hosts = &topology.hosts;
    let flows = applicable(release, topology);
    check_budget(&flows, topology)?;
    let plans: Vec<Plan> = flows.into_iter().map(|a| Plan::new(a, hosts)).collect();

    let site = SiteLists::new(topology);

    // Work shared between hosts: hosts of one class (same roles, OS, ports and address
    // families) get the same flow rules, computed once for the first of them; a host at both
    // ends of a flow (management and license server on one machine) is left out of its own
    // peer lists, so it is computed on its own.
    let with_os: Vec<(usize, Os)> = (0..hosts.len())
        .filter_map(|i| hosts[i].os.map(|os| (i, os)))
        .collect();
    let mut classes: BTreeMap<Class<'_>, usize> = BTreeMap::new();
    let mut jobs: Vec<usize> = Vec::new();
    let mut members: Vec<(usize, Os, usize)> = Vec::with_capacity(with_os.len());
    for &(i, os) in &with_os {
        let job = if plans.iter().any(|p| p.at_both_ends(i)) {
            jobs.push(i);
            jobs.len() - 1
        } else {
            *classes.entry(Class::of(&hosts[i])).or_insert_with(|| {
                jobs.push(i);
                jobs.len() - 1
            })
        };
        members.push((i, os, job));
    }
    let shared: Vec<Rules> = par::map(&jobs, |&i| flow_rules(&plans, hosts, i).into());

    // Hosts of one job with the same site rules share one rule list too: an `[[allow]]` with
    // `from = "all"` (DNS, say) gives every host the same rule, and building a list per host
    // copied every host's flow rules (1.1 GiB instead of 0.4 at 100,000 hosts).
    let mut lists: BTreeMap<(usize, Option<&[SiteRule]>), usize> = BTreeMap::new();
    let mut to_build: Vec<(usize, Option<&[SiteRule]>, usize)> = Vec::new();
    let list_of: Vec<usize> = members
        .iter()
        .map(|&(i, _, job)| {
            let extra = site.of(i);
            *lists.entry((job, extra)).or_insert_with(|| {
                to_build.push((job, extra, i));
                to_build.len() - 1
            })
        })
        .collect();
    let built: Vec<Rules> = par::map(&to_build, |&(job, extra, i)| match extra {
        None => shared[job].clone(),
        Some(extra) => {
            let mut b = Builder::new(&hosts[i]);
            b.rules = shared[job].to_vec();
            for rule in extra {
                b.add_site(rule.clone());
            }
            b.finish().into()
        }
    });
    let numbered: Vec<(usize, &(usize, Os, usize))> =
        list_of.iter().copied().zip(&members).collect();
    let mut result: Vec<HostRules> = par::map(&numbered, |&(list, &(i, os, _))| {
        host_rules(&hosts[i], os, release.id, built[list].clone())
    });
    result.sort_by(|a, b| a.host.cmp(&b.host));
    Ok(result)
}

/// What makes two hosts' flow rules equal: the components they play (roles, OS), the ports
/// they use and answer on, and the address families they have.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct Class<'a> {
    roles: &'a [Role],
    phases: &'a std::collections::BTreeSet<Phase>,
    os: Option<Os>,
    source_ports: Option<PortRange>,
    acronis_port: u16,
    nfs_mountd_port: Option<u16>,
    v4: bool,
    v6: bool,
}

impl<'a> Class<'a> {
    fn of(host: &'a Host) -> Self {
        let b = Builder::new(host);
        Self {
            roles: &host.roles,
            phases: &host.phases,
            os: host.os,
            source_ports: host.source_ports,
            acronis_port: host.acronis_port,
            nfs_mountd_port: host.nfs_mountd_port,
            v4: b.v4,
            v6: b.v6,
        }
    }
}

/// The catalog rules of host `me`: per applicable flow, outbound rules to the responders of
/// the flows it initiates and inbound rules from the initiators of those it answers.
fn flow_rules(plans: &[Plan], hosts: &[Host], me: usize) -> Vec<Rule> {
    let host = &hosts[me];
    let mut b = Builder::new(host);
    for p in plans {
        let flow = p.flow;
        if p.initiators.binary_search(&me).is_ok() {
            let sport = flow_sport(flow, host);
            for (port, peers) in &p.by_dport {
                b.add(flow, Direction::Outbound, sport, *port, peers, me, hosts);
            }
        }
        if p.responders.binary_search(&me).is_ok() {
            let dport = flow_dport(flow, host);
            for (ports, peers) in &p.by_sport {
                b.add(flow, Direction::Inbound, *ports, dport, peers, me, hosts);
            }
        }
    }
    b.finish()
}

/// The IR of one host around its rules.
fn host_rules(host: &Host, os: Os, release: &'static str, rules: Rules) -> HostRules {
    HostRules {
        host: host.name.clone(),
        os,
        roles: host.roles.clone(),
        release: ReleaseId(release),
        policy: host.policy,
        outbound: host.effective_outbound(),
        log: host.log,
        addresses: Peers::from_nets(host.addresses.iter().copied()),
        rules,
    }
}

/// An `[[allow]]` rule: inbound on its `to` host, outbound on its `from` host (when they have
/// an OS); a network side contributes addresses and any source port.
/// The site rules of every host, each distinct list once: an `[[allow]]` with `from = "all"`
/// gives every host the same rules, and a list per host (with its own peer lists and names)
/// held 2 million site rules at 100,000 hosts with five such tables.
struct SiteLists {
    /// The distinct lists, each sorted.
    lists: Vec<Vec<SiteRule>>,
    /// Per host, its list in `lists`; `None` for a host without site rules.
    of: Vec<Option<usize>>,
}

impl SiteLists {
    fn new(topology: &Topology) -> Self {
        let hosts = &topology.hosts;
        let allows_of = AllowsOf::new(topology);
        let mut index: BTreeMap<Vec<SiteRule>, usize> = BTreeMap::new();
        let mut of = Vec::with_capacity(hosts.len());
        for i in 0..hosts.len() {
            if hosts[i].os.is_none() {
                of.push(None);
                continue;
            }
            let mut rules = Vec::new();
            for &k in &allows_of.to[i] {
                rules.extend(site_rule(&topology.allows[k], hosts, Direction::Inbound));
            }
            for &k in &allows_of.from[i] {
                rules.extend(site_rule(&topology.allows[k], hosts, Direction::Outbound));
            }
            if rules.is_empty() {
                of.push(None);
                continue;
            }
            rules.sort();
            let next = index.len();
            of.push(Some(*index.entry(rules).or_insert(next)));
        }
        let mut lists: Vec<Vec<SiteRule>> = vec![Vec::new(); index.len()];
        for (rules, k) in index {
            lists[k] = rules;
        }
        Self { lists, of }
    }

    /// Host `i`'s site rules.
    fn of(&self, i: usize) -> Option<&[SiteRule]> {
        self.of[i].map(|k| self.lists[k].as_slice())
    }
}

/// The addresses and host names one end of an `[[allow]]` names: a host's, or a network
/// with no name.
fn end_addresses(end: AllowEnd, hosts: &[Host]) -> (Vec<IpNet>, Vec<String>) {
    match end {
        AllowEnd::Host(i) => (hosts[i].addresses.clone(), vec![hosts[i].name.clone()]),
        AllowEnd::Network(net) => (vec![net], Vec::new()),
    }
}

/// The rule an `[[allow]]` puts on its host end that has this direction (its `to` end for
/// inbound), naming the other end; `None` for an allow from a host to itself.
fn site_rule(allow: &Allow, hosts: &[Host], direction: Direction) -> Option<SiteRule> {
    if allow.from == allow.to {
        return None;
    }
    let from_sport = match allow.from {
        AllowEnd::Host(f) => hosts[f].source_ports,
        AllowEnd::Network(_) => None,
    };
    let other = match direction {
        Direction::Inbound => allow.from,
        Direction::Outbound => allow.to,
    };
    let (peers, peer_hosts) = end_addresses(other, hosts);
    Some(SiteRule {
        flow: FlowId::allow(allow.name()),
        direction,
        protocol: allow.protocol,
        sport: allow.source.ports(from_sport),
        dport: allow.ports,
        peers,
        peer_hosts,
        purpose: allow.table.description.clone(),
    })
}

/// The catalog's copy of the release the topology was validated against.
pub(crate) fn release_of(
    catalog: &Catalog,
    topology: &Topology,
) -> Result<&'static Release, CompileError> {
    catalog
        .release(topology.release.id)
        .ok_or_else(|| CompileError::UnknownRelease(topology.release.id.to_owned()))
}

/// A catalog flow that applies to the site, with the hosts at each end (indices, ascending).
pub(crate) struct Applicable {
    pub(crate) flow: &'static Flow,
    pub(crate) initiators: Vec<usize>,
    pub(crate) responders: Vec<usize>,
}

/// The flows whose phase is selected, whose condition holds and which have hosts at both ends.
pub(crate) fn applicable(release: &'static Release, topology: &Topology) -> Vec<Applicable> {
    let hosts = &topology.hosts;
    // A role the release does not know takes part in none of its flows (Release::idle_roles
    // names them for the diff and check reports).
    let roles: Vec<Vec<Role>> = hosts
        .iter()
        .map(|h| {
            h.roles
                .iter()
                .copied()
                .filter(|&r| release.has_role(r))
                .collect()
        })
        .collect();
    let has_ms = roles.iter().any(|r| r.contains(&Role::ManagementServer));
    // A host takes part in the flows of its own phases only: one that says
    // `phases = ["operate"]` neither opens nor accepts the remote-installation flows.
    let members = |c: Component, phase: Phase| -> Vec<usize> {
        (0..hosts.len())
            .filter(|&i| hosts[i].phases.contains(&phase) && c.matches(&roles[i], hosts[i].os))
            .collect()
    };
    release
        .flows
        .iter()
        .filter(|f| f.condition.holds(has_ms, topology.options.dns))
        .map(|flow| {
            let mut responders = members(flow.responder, flow.phase);
            // The NFSv3 rows go to the NFS servers that serve NFSv3 (`nfs_mountd_port`).
            if flow.condition.nfs_v3 {
                responders.retain(|&i| hosts[i].nfs_mountd_port.is_some());
            }
            Applicable {
                flow,
                initiators: members(flow.initiator, flow.phase),
                responders,
            }
        })
        .filter(|a| !a.initiators.is_empty() && !a.responders.is_empty())
        .collect()
}

/// An applicable flow with its ends grouped the way rules list them: responders by the port
/// they answer on, initiators by their source-port range.
struct Plan {
    flow: &'static Flow,
    initiators: Vec<usize>,
    responders: Vec<usize>,
    by_dport: BTreeMap<PortRange, Vec<usize>>,
    by_sport: BTreeMap<Option<PortRange>, Vec<usize>>,
}

impl Plan {
    fn new(a: Applicable, hosts: &[Host]) -> Self {
        let flow = a.flow;
        Self {
            by_dport: group(&a.responders, |i| flow_dport(flow, &hosts[i])),
            by_sport: group(&a.initiators, |i| flow_sport(flow, &hosts[i])),
            flow,
            initiators: a.initiators,
            responders: a.responders,
        }
    }

    /// True when host `i` is both an initiator and a responder of the flow.
    fn at_both_ends(&self, i: usize) -> bool {
        self.initiators.binary_search(&i).is_ok() && self.responders.binary_search(&i).is_ok()
    }
}

/// The initiator's source ports for a flow.
fn flow_sport(flow: &Flow, initiator: &Host) -> Option<PortRange> {
    match flow.source_port {
        SourcePort::Ephemeral => initiator.source_ports,
        SourcePort::Any => None,
    }
}

/// The responder's port for a flow.
pub(crate) fn flow_dport(flow: &Flow, responder: &Host) -> PortRange {
    match flow.port {
        Port::Fixed(p) => PortRange::single(p),
        Port::Acronis => PortRange::single(responder.acronis_port),
        Port::NfsMountd => {
            PortRange::single(responder.nfs_mountd_port.unwrap_or(DEFAULT_NFS_MOUNTD_PORT))
        }
    }
}

/// Compiles every `[[gateway]]` into its forward rules, sorted by gateway name.
///
/// A gateway passes every applicable flow whose initiator and responder sit in two different
/// zones among its own, from the initiators' addresses and source ports to the responders'
/// addresses and port. An `[[allow]]` crosses the gateways between the zones of its two ends: a
/// host's zone, or the `[[zone]]` whose networks hold an address (an address in no zone crosses
/// no gateway).
pub fn compile_gateways(
    catalog: &Catalog,
    topology: &Topology,
) -> Result<Vec<GatewayRules>, CompileError> {
    let release = release_of(catalog, topology)?;
    let hosts = &topology.hosts;
    let flows = applicable(release, topology);
    check_budget(&flows, topology)?;
    // Every connection that may cross a gateway, its ends grouped by zone and port; the same
    // for every gateway.
    let crossings: Vec<Crossing<'_>> = flows
        .iter()
        .map(|a| {
            let flow = a.flow;
            Crossing {
                flow: FlowId::catalog(flow.id),
                purpose: flow.purpose,
                protocol: flow.protocol,
                initiators: group(&a.initiators, |i| {
                    (hosts[i].zone.as_str(), flow_sport(flow, &hosts[i]))
                }),
                responders: group(&a.responders, |r| {
                    (hosts[r].zone.as_str(), flow_dport(flow, &hosts[r]))
                }),
            }
        })
        .collect();
    // The [[allow]] rules whose two ends both sit in a zone, with their addresses, merged.
    let allows = allow_crossings(topology);
    // Addresses and sorted names per distinct host list, computed once: the same agents
    // initiate many flows.
    let mut groups: BTreeMap<&[usize], (Peers, Arc<[String]>)> = BTreeMap::new();
    for c in &crossings {
        for list in c.initiators.values().chain(c.responders.values()) {
            groups.entry(list.as_slice()).or_insert_with(|| {
                let mut names: Vec<String> = list.iter().map(|&i| hosts[i].name.clone()).collect();
                names.sort_unstable();
                (
                    Peers::from_nets(
                        list.iter()
                            .flat_map(|&i| hosts[i].addresses.iter().copied()),
                    ),
                    names.into(),
                )
            });
        }
    }
    let mut result = Vec::new();
    for gw in &topology.gateways {
        let zone_of = |name: &str| -> Option<Zone> {
            gw.zones.iter().find(|(z, _)| z == name).map(|(z, i)| Zone {
                name: z.clone(),
                interface: i.clone(),
            })
        };
        let mut rules = Vec::new();
        for c in &crossings {
            for ((from, sport), ini) in &c.initiators {
                for ((to, dport), resp) in &c.responders {
                    let (Some(from_zone), Some(to_zone)) = (zone_of(from), zone_of(to)) else {
                        continue;
                    };
                    if from == to {
                        continue;
                    }
                    let (Some((src, src_names)), Some((dst, dst_names))) =
                        (groups.get(ini.as_slice()), groups.get(resp.as_slice()))
                    else {
                        continue;
                    };
                    let Some((sources, destinations)) = shared_families(src, dst) else {
                        continue;
                    };
                    rules.push(ForwardRule {
                        flow: c.flow.clone(),
                        from_zone,
                        to_zone,
                        protocol: c.protocol,
                        destination_port: *dport,
                        source_ports: *sport,
                        sources,
                        destinations,
                        source_hosts: src_names.clone(),
                        destination_hosts: dst_names.clone(),
                        purpose: c.purpose.to_owned(),
                    });
                }
            }
        }
        for a in &allows {
            let (Some(from_zone), Some(to_zone)) = (zone_of(a.from), zone_of(a.to)) else {
                continue;
            };
            if a.from == a.to {
                continue;
            }
            let Some((sources, destinations)) = shared_families(&a.sources, &a.destinations) else {
                continue;
            };
            rules.push(ForwardRule {
                flow: FlowId::allow(a.allow.name()),
                from_zone,
                to_zone,
                protocol: a.allow.protocol,
                destination_port: a.allow.ports,
                source_ports: a.source_ports,
                sources,
                destinations,
                source_hosts: a.source_hosts.clone(),
                destination_hosts: a.destination_hosts.clone(),
                purpose: a.allow.description().to_owned(),
            });
        }
        rules.sort();
        rules.dedup();
        result.push(GatewayRules {
            gateway: gw.name.clone(),
            os: gw.os,
            release: ReleaseId(release.id),
            policy: gw.policy,
            log: topology.options.log,
            zones: gw
                .zones
                .iter()
                .map(|(z, i)| Zone {
                    name: z.clone(),
                    interface: i.clone(),
                })
                .collect(),
            rules,
        });
    }
    result.sort_by(|a, b| a.gateway.cmp(&b.gateway));
    Ok(result)
}

/// The `[[allow]]`s whose two ends both sit in a zone, with their addresses, as few as the
/// same connections allow: one table with `from = "all"` expands into an [`Allow`] per host,
/// and a gateway rule per host (10,000 of them for a DNS allow at 10,000 hosts) would say
/// what one rule with every source says.
fn allow_crossings(topology: &Topology) -> Vec<AllowCrossing<'_>> {
    let hosts = &topology.hosts;
    let mut out = Vec::new();
    // Table by table (a table's allows are consecutive). The sources are merged while the
    // table is read: its allows are grouped by everything but their `from` end, each group
    // keeping only its `from` ends, so that a table of 770,000 allows (AD from every Windows
    // host at 100,000 hosts) holds a few dozen crossings, not one with addresses per allow.
    for table in topology.allows.chunk_by(|a, b| a.origin() == b.origin()) {
        let groups = crossing_groups(topology, table);
        let crossings: Vec<AllowCrossing<'_>> = groups
            .into_iter()
            .map(|((from, to, _, _, source_ports, dest), (allow, froms))| {
                let mut nets = Vec::new();
                let mut source_hosts = Vec::new();
                for f in froms {
                    let (n, h) = end_addresses(f, hosts);
                    nets.extend(n);
                    source_hosts.extend(h);
                }
                source_hosts.sort_unstable();
                source_hosts.dedup();
                let (destinations, destination_hosts) = end_addresses(dest, hosts);
                AllowCrossing {
                    allow,
                    from,
                    to,
                    source_ports,
                    sources: Peers::from_nets(nets),
                    destinations: Peers::from_nets(destinations),
                    source_hosts: source_hosts.into(),
                    destination_hosts: destination_hosts.into(),
                }
            })
            .collect();
        // Two `to` ends may still name the same addresses; merging again is exact.
        out.extend(merge_side(merge_side(crossings, false), true));
    }
    out
}

/// One table's allows that cross a gateway, grouped by everything but their `from` end, with
/// the first allow of each group and the group's `from` ends.
fn crossing_groups<'t>(
    topology: &'t Topology,
    table: &'t [Allow],
) -> BTreeMap<CrossingOf<'t>, (&'t Allow, Vec<AllowEnd>)> {
    let mut groups: BTreeMap<CrossingOf<'t>, (&'t Allow, Vec<AllowEnd>)> = BTreeMap::new();
    for allow in table.iter().filter(|a| a.from != a.to) {
        let Some((from, to, source_ports)) = crossing_of(topology, allow) else {
            continue;
        };
        let key = (
            from,
            to,
            allow.protocol,
            allow.ports,
            source_ports,
            allow.to,
        );
        groups
            .entry(key)
            .or_insert_with(|| (allow, Vec::new()))
            .1
            .push(allow.from);
    }
    groups
}

/// What the allows of one table are grouped by before their sources are merged: zones,
/// protocol, port, source ports and the `to` end.
type CrossingOf<'t> = (
    &'t str,
    &'t str,
    Protocol,
    PortRange,
    Option<PortRange>,
    AllowEnd,
);

/// The zones an allow joins, `from` then `to`, and its source ports; `None` when an end is in
/// no zone or both are in one (no gateway lies between a zone and itself).
fn crossing_of<'t>(
    topology: &'t Topology,
    allow: &Allow,
) -> Option<(&'t str, &'t str, Option<PortRange>)> {
    let hosts = &topology.hosts;
    let zone = |e: AllowEnd| -> Option<&'t str> {
        match e {
            AllowEnd::Host(i) => Some(hosts[i].zone.as_str()),
            AllowEnd::Network(n) => topology.zone_of_network(n),
        }
    };
    let (from, to) = (zone(allow.from)?, zone(allow.to)?);
    if from == to {
        return None;
    }
    let sport = allow.source.ports(match allow.from {
        AllowEnd::Host(f) => hosts[f].source_ports,
        AllowEnd::Network(_) => None,
    });
    Some((from, to, sport))
}

/// The addresses [`allow_crossings`] names, counted without building it: a table expands
/// into every (from, to, port) of its lists, so its crossings merge into one per zone pair,
/// protocol, port and source-port range, naming each of its from ends and to ends there once.
fn merged_allow_entries(topology: &Topology) -> u64 {
    use std::collections::HashSet;
    type Ends = (HashSet<AllowEnd>, HashSet<AllowEnd>);
    let hosts = &topology.hosts;
    let addresses = |e: &AllowEnd| -> u64 {
        match e {
            AllowEnd::Host(i) => hosts[*i].addresses.len() as u64,
            AllowEnd::Network(_) => 1,
        }
    };
    let mut entries: u64 = 0;
    for table in topology.allows.chunk_by(|a, b| a.origin() == b.origin()) {
        // Per zone pair, protocol, port and source ports: each `from` and `to` end once.
        let mut groups: BTreeMap<_, Ends> = BTreeMap::new();
        for ((from, to, protocol, ports, sport, dest), (_, froms)) in
            crossing_groups(topology, table)
        {
            let ends = groups
                .entry((from, to, protocol, ports, sport))
                .or_default();
            ends.0.extend(froms);
            ends.1.insert(dest);
        }
        for (froms, tos) in groups.values() {
            // A sum: the sets' order does not matter.
            let n: u64 =
                froms.iter().map(addresses).sum::<u64>() + tos.iter().map(addresses).sum::<u64>();
            entries = entries.saturating_add(n);
        }
    }
    entries
}

/// Merges crossings of one table (same zones, protocol and ports) that differ in one side
/// only: `(S1, D)` and `(S2, D)` become `(S1 ∪ S2, D)` (`by_sources` false: the sources are
/// merged), which allows exactly the same connections, since a rule allows every source to
/// every destination, family by family. Run once per side.
fn merge_side(allows: Vec<AllowCrossing<'_>>, by_sources: bool) -> Vec<AllowCrossing<'_>> {
    let key = |a| crossing_key(a, by_sources);
    let mut order: Vec<usize> = (0..allows.len()).collect();
    order.sort_by(|&x, &y| key(&allows[x]).cmp(&key(&allows[y])));
    let mut out = Vec::new();
    for group in order.chunk_by(|&x, &y| key(&allows[x]) == key(&allows[y])) {
        let first = &allows[group[0]];
        // The other side's addresses and names, over the group.
        let side = |a: &AllowCrossing<'_>| -> (Vec<IpNet>, Arc<[String]>) {
            let (peers, names) = if by_sources {
                (&a.destinations, &a.destination_hosts)
            } else {
                (&a.sources, &a.source_hosts)
            };
            let v4 = peers.v4.iter().map(|&n| IpNet::V4(n));
            (
                v4.chain(peers.v6.iter().map(|&n| IpNet::V6(n))).collect(),
                names.clone(),
            )
        };
        let mut nets = Vec::new();
        let mut names = Vec::new();
        for &k in group {
            let (n, h) = side(&allows[k]);
            nets.extend(n);
            names.extend(h.iter().cloned());
        }
        names.sort_unstable();
        names.dedup();
        let names: Arc<[String]> = names.into();
        let merged = Peers::from_nets(nets);
        let (sources, source_hosts, destinations, destination_hosts) = if by_sources {
            (
                first.sources.clone(),
                first.source_hosts.clone(),
                merged,
                names,
            )
        } else {
            (
                merged,
                names,
                first.destinations.clone(),
                first.destination_hosts.clone(),
            )
        };
        out.push(AllowCrossing {
            allow: first.allow,
            from: first.from,
            to: first.to,
            source_ports: first.source_ports,
            sources,
            destinations,
            source_hosts,
            destination_hosts,
        });
    }
    out
}

/// What [`merge_side`] groups by: everything but the merged side.
type CrossingKey<'a, 't> = (
    usize,
    &'t str,
    &'t str,
    Protocol,
    PortRange,
    Option<PortRange>,
    &'a Peers,
    &'a [String],
);

fn crossing_key<'a, 't>(a: &'a AllowCrossing<'t>, by_sources: bool) -> CrossingKey<'a, 't> {
    let (kept, kept_hosts) = if by_sources {
        (&a.sources, &a.source_hosts)
    } else {
        (&a.destinations, &a.destination_hosts)
    };
    (
        a.allow.origin(),
        a.from,
        a.to,
        a.allow.protocol,
        a.allow.ports,
        a.source_ports,
        kept,
        kept_hosts,
    )
}

/// The two address lists cut to the families both have; `None` when they share none.
fn shared_families(src: &Peers, dst: &Peers) -> Option<(Peers, Peers)> {
    let mut sources = src.clone();
    let mut destinations = dst.clone();
    if sources.v4.is_empty() || destinations.v4.is_empty() {
        sources.v4.clear();
        destinations.v4.clear();
    }
    if sources.v6.is_empty() || destinations.v6.is_empty() {
        sources.v6.clear();
        destinations.v6.clear();
    }
    (!sources.is_empty()).then_some((sources, destinations))
}

/// An `[[allow]]` whose ends both sit in a zone, resolved for the gateways.
#[derive(Clone)]
struct AllowCrossing<'t> {
    allow: &'t Allow,
    from: &'t str,
    to: &'t str,
    source_ports: Option<PortRange>,
    sources: Peers,
    destinations: Peers,
    source_hosts: Arc<[String]>,
    destination_hosts: Arc<[String]>,
}

/// A catalog flow a gateway may forward.
struct Crossing<'t> {
    flow: FlowId,
    purpose: &'t str,
    protocol: Protocol,
    initiators: BTreeMap<(&'t str, Option<PortRange>), Vec<usize>>,
    responders: BTreeMap<(&'t str, PortRange), Vec<usize>>,
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
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord)]
struct SiteRule {
    flow: FlowId,
    direction: Direction,
    protocol: Protocol,
    sport: Option<PortRange>,
    dport: PortRange,
    peers: Vec<IpNet>,
    peer_hosts: Vec<String>,
    purpose: std::sync::Arc<str>,
}

/// Collects one host's rules.
struct Builder<'p> {
    v4: bool,
    v6: bool,
    rules: Vec<Rule>,
    /// Peer addresses and names per distinct peer list: many flows share the same peers (every
    /// Windows agent, say), and with tens of thousands of them aggregating once pays.
    groups: BTreeMap<&'p [usize], (Peers, Vec<String>)>,
}

impl<'p> Builder<'p> {
    fn new(host: &Host) -> Self {
        Self {
            v4: host.addresses.iter().any(|a| matches!(a, IpNet::V4(_))),
            v6: host.addresses.iter().any(|a| matches!(a, IpNet::V6(_))),
            rules: Vec::new(),
            groups: BTreeMap::new(),
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
        peer_indices: &'p [usize],
        me: usize,
        hosts: &[Host],
    ) {
        if !self.groups.contains_key(peer_indices) {
            let others = || {
                peer_indices
                    .iter()
                    .filter(|&&p| p != me)
                    .map(|&p| &hosts[p])
            };
            let peers = self.peers(others().flat_map(|h| h.addresses.iter().copied()));
            let mut names: Vec<String> = others().map(|h| h.name.clone()).collect();
            names.sort_unstable();
            self.groups.insert(peer_indices, (peers, names));
        }
        let Some((peers, names)) = self.groups.get(peer_indices) else {
            return;
        };
        if peers.is_empty() {
            return;
        }
        self.rules.push(Rule {
            direction,
            flow: FlowId::catalog(flow.id),
            protocol: flow.protocol,
            destination_port: dport,
            source_ports: sport,
            peers: peers.clone(),
            peer_hosts: names.clone(),
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
            purpose: rule.purpose.to_string(),
        });
    }

    /// The rules, sorted, without duplicates.
    fn finish(mut self) -> Vec<Rule> {
        self.rules.sort();
        self.rules.dedup();
        self.rules
    }
}

/// Families a rule set has peers in.
pub fn families(rules: &HostRules) -> Vec<Family> {
    Family::ALL
        .into_iter()
        .filter(|&f| rules.rules.iter().any(|r| r.peers.len_of(f) > 0))
        .collect()
}

#[cfg(test)]
mod tests {
    use pretty_assertions::assert_eq;

    use super::*;
    use crate::topology;

    fn compile_text(text: &str) -> Vec<HostRules> {
        let catalog = Catalog::builtin();
        let topo = topology::parse("t.toml", text, &catalog).unwrap_or_else(|e| panic!("{e}"));
        compile(&catalog, &topo).unwrap()
    }

    fn flows_of(h: &HostRules) -> Vec<(Direction, &str, u16)> {
        h.rules
            .iter()
            .map(|r| (r.direction, r.flow.as_str(), r.destination_port.first))
            .collect()
    }

    const PAIR: &str = r#"
[[host]]
name = "ams"
os = "windows"
addresses = ["10.0.0.10", "fd00::10"]
roles = ["management-server", "license-server"]

[[host]]
name = "lx"
os = "linux"
addresses = ["10.0.0.40"]
roles = ["agent"]
"#;

    #[test]
    fn an_agent_and_a_management_server_get_mirror_rules() {
        let hosts = compile_text(PAIR);
        let lx = hosts.iter().find(|h| h.host == "lx").unwrap();
        assert_eq!(
            flows_of(lx),
            vec![
                (Direction::Inbound, "ms-agent", 9876),
                (Direction::Inbound, "ri-ms-linux-ssh", 22),
                (Direction::Outbound, "agent-ls-check", 9876),
                (Direction::Outbound, "agent-ms", 9876),
                (Direction::Outbound, "ri-license-ms", 9876),
                (Direction::Outbound, "ri-register", 9876),
            ]
        );
        // The Windows peer initiates from its range; the Linux host from its own.
        let inbound = &lx.rules[0];
        assert_eq!(inbound.source_ports, PortRange::new(49152, 65535));
        assert_eq!(lx.rules[2].source_ports, PortRange::new(32768, 61000));
        // lx has no IPv6 address, so the management server's IPv6 address is not a peer.
        assert!(inbound.peers.v6.is_empty());
        let ams = hosts.iter().find(|h| h.host == "ams").unwrap();
        // ms-ls-manage is local (one host has both roles): no rule to itself.
        assert!(!ams.rules.iter().any(|r| r.flow == "ms-ls-manage"));
        assert!(
            ams.rules
                .iter()
                .all(|r| !r.peer_hosts.contains(&"ams".to_owned()))
        );
    }

    #[test]
    fn without_a_management_server_the_console_pushes_and_no_dns_opens_discovery() {
        let hosts = compile_text(
            r#"
[options]
dns = false
phases = ["install"]

[[host]]
name = "cons"
os = "linux"
addresses = ["10.0.0.11"]
roles = ["management-console"]

[[host]]
name = "xp"
os = "windows-legacy"
addresses = ["10.0.0.31"]
roles = ["agent"]
acronis_port = 9999
"#,
        );
        let con = hosts.iter().find(|h| h.host == "cons").unwrap();
        let out: Vec<_> = con
            .rules_in(Direction::Outbound)
            .map(|r| (r.flow.as_str(), r.destination_port.first))
            .collect();
        assert_eq!(
            out,
            vec![("ri-con-win-files", 445), ("ri-con-win-params", 25001)]
        );
        // Network Discovery and File and Printer Sharing are Windows features: a Linux console
        // gets none of the group, and the Windows target no outbound discovery rules.
        assert!(!con.rules.iter().any(|r| r.flow.starts_with("ri-nodns-")));
        let xp = hosts.iter().find(|h| h.host == "xp").unwrap();
        assert!(
            xp.rules.iter().all(|r| r.direction == Direction::Inbound
                && r.source_ports == PortRange::new(32768, 61000))
        );
    }

    #[test]
    fn no_dns_discovery_is_windows_to_windows_and_tcp_uses_the_ephemeral_range() {
        let hosts = compile_text(
            r#"
[options]
dns = false
phases = ["install"]

[[host]]
name = "cons"
os = "windows"
addresses = ["10.0.0.11"]
roles = ["management-console"]

[[host]]
name = "xp"
os = "windows-legacy"
addresses = ["10.0.0.31"]
roles = ["agent"]

[[host]]
name = "lx"
os = "linux"
addresses = ["10.0.0.40"]
roles = ["agent"]
"#,
        );
        let con = hosts.iter().find(|h| h.host == "cons").unwrap();
        let nodns: Vec<_> = con
            .rules_in(Direction::Inbound)
            .filter(|r| r.flow.starts_with("ri-nodns-con-"))
            .collect();
        assert_eq!(nodns.len(), 10);
        for r in &nodns {
            assert_eq!(r.peer_hosts, ["xp"], "{}: Windows targets only", r.flow);
            let well_known = [137, 138, 1900].contains(&r.destination_port.first);
            if well_known {
                assert_eq!(r.protocol, Protocol::Udp, "{}", r.flow);
                assert!(
                    r.source_ports.is_none(),
                    "{} sends from its own port",
                    r.flow
                );
            } else {
                assert_eq!(
                    r.source_ports,
                    PortRange::new(1025, 5000),
                    "{}: the initiator's ephemeral range",
                    r.flow
                );
            }
        }
        let lx = hosts.iter().find(|h| h.host == "lx").unwrap();
        assert!(!lx.rules.iter().any(|r| r.flow.starts_with("ri-nodns-")));
        let xp = hosts.iter().find(|h| h.host == "xp").unwrap();
        let smb = xp
            .rules_in(Direction::Outbound)
            .find(|r| r.flow == "ri-nodns-con-smb")
            .unwrap();
        assert_eq!(smb.source_ports, PortRange::new(1025, 5000));
    }

    #[test]
    fn every_windows_agent_of_the_later_revision_is_a_push_target() {
        let hosts = compile_text(
            r#"
release = "aba-11.7"

[[host]]
name = "ams"
os = "windows"
addresses = ["10.0.0.10"]
roles = ["management-server", "license-server"]

[[host]]
name = "hv"
os = "windows"
addresses = ["10.0.0.20"]
roles = ["agent-hyperv"]

[[host]]
name = "vmw"
os = "windows"
addresses = ["10.0.0.21"]
roles = ["agent-vmware-windows"]
"#,
        );
        for name in ["hv", "vmw"] {
            let h = hosts.iter().find(|h| h.host == name).unwrap();
            let flows: Vec<&str> = h.rules.iter().map(|r| r.flow.as_str()).collect();
            for f in [
                "ri-ms-win-files",
                "ri-ms-win-params",
                "ri-register",
                "ri-license-ms",
            ] {
                assert!(flows.contains(&f), "{name} lacks {f}: {flows:?}");
            }
        }
    }

    #[test]
    fn a_storage_node_reaches_its_managed_vault_and_agents_do_not() {
        let hosts = compile_text(
            r#"
[[host]]
name = "sn"
os = "windows"
addresses = ["10.0.0.20"]
roles = ["storage-node"]

[[host]]
name = "lx"
os = "linux"
addresses = ["10.0.0.40"]
roles = ["agent"]

[[host]]
name = "nas"
os = "linux"
addresses = ["10.0.0.45"]
roles = ["managed-vault-smb", "managed-vault-nfs"]
"#,
        );
        let nas = hosts.iter().find(|h| h.host == "nas").unwrap();
        assert_eq!(
            flows_of(nas),
            vec![
                (Direction::Inbound, "sn-vault-nfs", 2049),
                (Direction::Inbound, "sn-vault-smb", 445),
            ]
        );
        assert!(nas.rules.iter().all(|r| r.peer_hosts == ["sn"]));
    }

    #[test]
    fn hosts_of_one_class_share_rules_and_no_host_is_its_own_peer() {
        let hosts = compile_text(
            r#"
[[host]]
name = "ams"
os = "windows"
addresses = ["10.0.0.10"]
roles = ["management-server", "license-server"]

[[host]]
name = "sn1"
os = "windows"
addresses = ["10.0.0.20"]
roles = ["storage-node", "agent"]

[[host]]
name = "sn2"
os = "windows"
addresses = ["10.0.0.21"]
roles = ["storage-node", "agent"]

[[host]]
name = "a1"
os = "linux"
addresses = ["10.0.1.1"]
roles = ["agent"]

[[host]]
name = "a2"
os = "linux"
addresses = ["10.0.1.2"]
roles = ["agent"]

[[host]]
name = "a3"
os = "linux"
addresses = ["10.0.1.3"]
roles = ["agent"]

[[allow]]
name = "ssh"
from = "10.9.0.0/24"
to = "a3"
port = 22
"#,
        );
        let get = |n: &str| hosts.iter().find(|h| h.host == n).unwrap();
        // Same class: one shared list, computed once.
        assert!(get("a1").rules.shares(&get("a2").rules));
        // An [[allow]] makes a3's list its own: the class rules plus its rule.
        let a3 = &get("a3").rules;
        assert!(!a3.shares(&get("a1").rules));
        let without: Vec<&Rule> = a3.iter().filter(|r| r.flow != "allow:ssh").collect();
        assert_eq!(without, get("a1").rules.iter().collect::<Vec<_>>());
        assert_eq!(a3.len(), get("a1").rules.len() + 1);
        // Storage nodes that are also agents back up to each other but never to themselves,
        // so each has its own list.
        for (me, other) in [("sn1", "sn2"), ("sn2", "sn1")] {
            let rules = &get(me).rules;
            assert!(rules.iter().all(|r| !r.peer_hosts.iter().any(|p| p == me)));
            assert!(
                rules
                    .iter()
                    .any(|r| r.flow == "agent-sn" && r.peer_hosts.iter().any(|p| p == other))
            );
        }
        assert!(!get("sn1").rules.shares(&get("sn2").rules));
    }

    #[test]
    fn the_responders_acronis_port_applies() {
        let text = PAIR.replace(
            "roles = [\"agent\"]",
            "roles = [\"agent\"]\nacronis_port = 9900",
        );
        let hosts = compile_text(&text);
        let ams = hosts.iter().find(|h| h.host == "ams").unwrap();
        let out: Vec<_> = ams
            .rules_in(Direction::Outbound)
            .filter(|r| r.flow == "ms-agent")
            .map(|r| r.destination_port.first)
            .collect();
        assert_eq!(out, vec![9900]);
        let inbound: Vec<_> = ams
            .rules_in(Direction::Inbound)
            .filter(|r| r.flow == "agent-ms")
            .map(|r| r.destination_port.first)
            .collect();
        assert_eq!(inbound, vec![9876]);
    }

    #[test]
    fn nfs_v3_servers_get_rpcbind_and_mountd_and_nfs_accepts_any_source_port() {
        let hosts = compile_text(
            r#"
[options]
phases = ["operate"]

[[host]]
name = "lx"
os = "linux"
addresses = ["10.0.0.40"]
roles = ["agent"]

[[host]]
name = "nas3"
os = "linux"
addresses = ["10.0.0.50"]
roles = ["vault-nfs"]
nfs_mountd_port = 4002

[[host]]
name = "nas4"
os = "linux"
addresses = ["10.0.0.51"]
roles = ["vault-nfs"]
"#,
        );
        let rules = |name: &str| -> Vec<(String, Protocol, u16, Option<PortRange>)> {
            let h = hosts.iter().find(|h| h.host == name).unwrap();
            let mut v: Vec<_> = h
                .rules_in(Direction::Inbound)
                .map(|r| {
                    (
                        r.flow.to_string(),
                        r.protocol,
                        r.destination_port.first,
                        r.source_ports,
                    )
                })
                .collect();
            v.sort();
            v
        };
        let nfs = |flow: &str, p, port| (flow.to_owned(), p, port, None);
        assert_eq!(
            rules("nas3"),
            vec![
                nfs("agent-vault-nfs", Protocol::Tcp, 2049),
                nfs("agent-vault-nfs-mountd", Protocol::Tcp, 4002),
                nfs("agent-vault-nfs-mountd-udp", Protocol::Udp, 4002),
                nfs("agent-vault-nfs-rpcbind", Protocol::Tcp, 111),
                nfs("agent-vault-nfs-rpcbind-udp", Protocol::Udp, 111),
            ]
        );
        assert_eq!(
            rules("nas4"),
            vec![nfs("agent-vault-nfs", Protocol::Tcp, 2049)]
        );
        // The agent opens rpcbind and mountd towards nas3 only.
        let lx = hosts.iter().find(|h| h.host == "lx").unwrap();
        for r in lx.rules_in(Direction::Outbound) {
            if r.flow.to_string().starts_with("agent-vault-nfs-") {
                assert_eq!(r.peer_hosts, vec!["nas3".to_owned()], "{r:?}");
            }
        }
    }
}

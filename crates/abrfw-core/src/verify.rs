//! `abrfw verify`: a host's live firewall state against its compiled rules, in neutral terms.
//!
//! A backend parses the state its tool prints (`nft -j list table inet abrfw`,
//! `iptables-save`, `pfctl -a abrfw -sr`, `firewall.ps1 -Export`) into a [`State`], and gives
//! the [`State`] its own rendering of a [`HostRules`] loads: the allow rules (from
//! [`allow_rules`]), the fixed rules its template writes around them and the default
//! policies. [`compare`] then matches the two without caring about order, comments, rule
//! handles or the order of set elements; addresses, ports, source ports, direction, protocol
//! and policy decide.
//!
//! This module knows no firewall syntax: an [`OtherRule`] is whatever text the backend chose
//! as the canonical form of a rule that is not an allow rule.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;

use ipnet::{IpNet, Ipv4Subnets, Ipv6Subnets};
use serde::Serialize;

use crate::ir::{Direction, Family, HostRules, PortRange, Protocol};

/// A live state that could not be read: where (1-based line and column of the input), what,
/// and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{line}:{column}: {message}")]
pub struct LiveError {
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// What is wrong.
    pub message: String,
    /// How to produce a readable file.
    pub hint: String,
}

impl LiveError {
    /// An error at `line:column`.
    pub fn new(line: usize, column: usize, message: impl Into<String>, hint: &str) -> Self {
        Self {
            line,
            column,
            message: message.into(),
            hint: hint.to_owned(),
        }
    }

    /// An error at the byte `offset` of `text`.
    pub fn at_offset(text: &str, offset: usize, message: impl Into<String>, hint: &str) -> Self {
        let (line, column) = line_column(text, offset);
        Self::new(line, column, message, hint)
    }
}

/// 1-based line and column (in characters) of a byte offset.
pub fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// Addresses of one family as sorted, merged, inclusive intervals: `10.0.0.0/31` and the two
/// addresses `10.0.0.0`, `10.0.0.1` are the same set.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AddressSet(Vec<(IpAddr, IpAddr)>);

impl AddressSet {
    /// The set holding these inclusive ranges (of one family).
    pub fn from_ranges(ranges: impl IntoIterator<Item = (IpAddr, IpAddr)>) -> Self {
        let mut list: Vec<(u128, u128, bool)> = ranges
            .into_iter()
            .map(|(a, b)| {
                let (a, b) = (as_int(a), as_int(b));
                (a.0.min(b.0), a.0.max(b.0), a.1)
            })
            .collect();
        list.sort_unstable();
        let mut merged: Vec<(u128, u128, bool)> = Vec::with_capacity(list.len());
        for (first, last, v6) in list {
            match merged.last_mut() {
                Some((_, end, same)) if *same == v6 && end.saturating_add(1) >= first => {
                    *end = (*end).max(last);
                }
                _ => merged.push((first, last, v6)),
            }
        }
        Self(
            merged
                .into_iter()
                .map(|(a, b, v6)| (from_int(a, v6), from_int(b, v6)))
                .collect(),
        )
    }

    /// The set holding these networks.
    pub fn from_nets(nets: impl IntoIterator<Item = IpNet>) -> Self {
        Self::from_ranges(nets.into_iter().map(|n| (n.network(), n.broadcast())))
    }

    /// True when it holds no address.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The set as the fewest networks, each printed bare when it is one address
    /// (`192.0.2.10`, `198.51.100.0/24`).
    pub fn texts(&self) -> Vec<String> {
        let mut out = Vec::new();
        for &(a, b) in &self.0 {
            match (a, b) {
                (IpAddr::V4(a), IpAddr::V4(b)) => {
                    out.extend(Ipv4Subnets::new(a, b, 0).map(|n| crate::ir::address_text(n.into())))
                }
                (IpAddr::V6(a), IpAddr::V6(b)) => {
                    out.extend(Ipv6Subnets::new(a, b, 0).map(|n| crate::ir::address_text(n.into())))
                }
                _ => {}
            }
        }
        out
    }
}

impl Serialize for AddressSet {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.texts().serialize(serializer)
    }
}

fn as_int(a: IpAddr) -> (u128, bool) {
    match a {
        IpAddr::V4(a) => (u128::from(u32::from(a)), false),
        IpAddr::V6(a) => (u128::from(a), true),
    }
}

fn from_int(a: u128, v6: bool) -> IpAddr {
    if v6 {
        IpAddr::V6(a.into())
    } else {
        IpAddr::V4(u32::try_from(a).unwrap_or(u32::MAX).into())
    }
}

/// One allow rule of one address family, in connection terms like [`crate::Rule`]: the peer
/// initiates an inbound rule, this host an outbound one.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct AllowRule {
    /// Inbound or outbound.
    pub direction: Direction,
    /// Address family of the peers.
    pub family: Family,
    /// Transport protocol.
    pub protocol: Protocol,
    /// The responder's port(s).
    pub destination_port: PortRange,
    /// The initiator's source ports; `None` for any.
    pub source_ports: Option<PortRange>,
    /// The remote addresses.
    pub peers: AddressSet,
    /// The flow id the rule carries (its comment, label or name), when it carries one.
    pub flow: Option<String>,
}

impl AllowRule {
    /// The rule without its flow id: what decides whether two rules are the same.
    fn key(&self) -> AllowRule {
        AllowRule {
            flow: None,
            ..self.clone()
        }
    }
}

impl fmt::Display for AllowRule {
    /// `inbound tcp 9876 from 192.0.2.11 sport 49152-65535 (ipv4)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (dir, word) = match self.direction {
            Direction::Inbound => ("inbound", "from"),
            Direction::Outbound => ("outbound", "to"),
        };
        let family = match self.family {
            Family::V4 => "ipv4",
            Family::V6 => "ipv6",
        };
        let sport = self
            .source_ports
            .map_or_else(|| "any".to_owned(), |p| p.to_string());
        write!(
            f,
            "{dir} {} {} {word} {} sport {sport} ({family})",
            self.protocol.as_str(),
            self.destination_port,
            self.peers.texts().join(", ")
        )
    }
}

/// A rule that is not an allow rule (loopback, conntrack, ICMPv6, jumps, logging, or anything
/// foreign), as the backend's canonical text, with the chain, anchor or profile it sits in.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct OtherRule {
    /// Where it sits (`input`, `ABRFW-IN (ipv6)`, ...).
    pub place: String,
    /// The rule in the backend's canonical text.
    pub text: String,
}

impl OtherRule {
    /// A rule `text` in `place`.
    pub fn new(place: impl Into<String>, text: impl Into<String>) -> Self {
        Self {
            place: place.into(),
            text: text.into(),
        }
    }
}

/// A firewall state in neutral terms: what a host's rules load, or what its firewall holds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct State {
    /// Default policies by chain, hook or profile (`input` -> `drop`).
    pub policies: BTreeMap<String, String>,
    /// The allow rules.
    pub allows: Vec<AllowRule>,
    /// Every other rule.
    pub others: Vec<OtherRule>,
    /// In an expected state: the places (chains) the compiled rules own, when they own only
    /// some (a fragment inside the site's own rules); live rules and policies elsewhere are
    /// not compared. `None`: everything the live state holds is compared.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<Vec<String>>,
}

/// The allow rules a host's IR gives, one per rule and address family that has peers (what
/// every backend renders).
pub fn allow_rules(host: &HostRules) -> Vec<AllowRule> {
    let mut out = Vec::new();
    for rule in &host.rules {
        for family in Family::ALL {
            let nets = rule.peers.of(family);
            if nets.is_empty() {
                continue;
            }
            out.push(AllowRule {
                direction: rule.direction,
                family,
                protocol: rule.protocol,
                destination_port: rule.destination_port,
                source_ports: rule.source_ports,
                peers: AddressSet::from_nets(nets),
                flow: Some(rule.flow.to_string()),
            });
        }
    }
    out
}

/// An allow rule whose flow is in both states with different ports or peers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Changed {
    /// The flow id both carry.
    pub flow: String,
    /// What the compiled rules say.
    pub expected: AllowRule,
    /// What the firewall holds.
    pub live: AllowRule,
    /// The fields that differ: `destination_port`, `source_ports`, `peers`.
    pub fields: Vec<&'static str>,
}

/// A default policy that differs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PolicyDiff {
    /// Chain, hook or profile.
    pub place: String,
    /// The compiled policy (`None`: the rules set none here).
    pub expected: Option<String>,
    /// The live policy (`None`: the chain or profile is missing).
    pub live: Option<String>,
}

/// What differs between the compiled state and the live one.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    /// Allow rules the firewall lacks.
    pub missing: Vec<AllowRule>,
    /// Allow rules the firewall has and the compiled rules do not.
    pub extra: Vec<AllowRule>,
    /// Allow rules of one flow whose ports or peers differ.
    pub changed: Vec<Changed>,
    /// Other rules (loopback, conntrack, jumps, ...) the firewall lacks.
    pub missing_other: Vec<OtherRule>,
    /// Other rules the firewall has and the compiled rules do not (foreign rules).
    pub extra_other: Vec<OtherRule>,
    /// Default policies that differ.
    pub policies: Vec<PolicyDiff>,
}

impl Report {
    /// True when the live state matches.
    pub fn is_empty(&self) -> bool {
        self.missing.is_empty()
            && self.extra.is_empty()
            && self.changed.is_empty()
            && self.missing_other.is_empty()
            && self.extra_other.is_empty()
            && self.policies.is_empty()
    }

    /// The number of differences.
    pub fn len(&self) -> usize {
        self.missing.len()
            + self.extra.len()
            + self.changed.len()
            + self.missing_other.len()
            + self.extra_other.len()
            + self.policies.len()
    }
}

/// Compares what the compiled rules load (`expected`) with what the firewall holds (`live`).
///
/// Two allow rules are the same when direction, family, protocol, ports and peer set are; the
/// flow id is only used to pair a missing rule with an extra one of the same flow, direction,
/// family and protocol as one changed rule. Rule order, comments and set element order do not
/// matter; duplicates count.
pub fn compare(expected: &State, live: &State) -> Report {
    let mut report = Report::default();
    // Same rule, whatever comment: pair them off, per key, preferring equal flow ids so the
    // leftovers keep the ids that did not match.
    let (expected_allows, live_allows) = (merged(&expected.allows), merged(&live.allows));
    let mut by_key: BTreeMap<AllowRule, (Vec<&AllowRule>, Vec<&AllowRule>)> = BTreeMap::new();
    for r in &expected_allows {
        by_key.entry(r.key()).or_default().0.push(r);
    }
    for r in &live_allows {
        by_key.entry(r.key()).or_default().1.push(r);
    }
    let mut missing = Vec::new();
    let mut extra = Vec::new();
    for (_, (mut exp, mut liv)) in by_key {
        exp.sort();
        liv.sort();
        let (mut left_exp, mut left_live) = (Vec::new(), Vec::new());
        let (mut i, mut j) = (0, 0);
        while i < exp.len() || j < liv.len() {
            match (exp.get(i), liv.get(j)) {
                (Some(e), Some(l)) if e.flow == l.flow => {
                    i += 1;
                    j += 1;
                }
                (Some(e), Some(l)) if e.flow < l.flow => {
                    left_exp.push(*e);
                    i += 1;
                }
                (Some(e), None) => {
                    left_exp.push(*e);
                    i += 1;
                }
                (_, Some(l)) => {
                    left_live.push(*l);
                    j += 1;
                }
                (None, None) => break,
            }
        }
        // Whatever is left of one key pairs off regardless of flow id (only the comment differs).
        let n = left_exp.len().min(left_live.len());
        missing.extend(left_exp[n..].iter().map(|r| (*r).clone()));
        extra.extend(left_live[n..].iter().map(|r| (*r).clone()));
    }
    pair_changed(&mut report, missing, extra);
    let owned = |place: &String| {
        expected
            .scope
            .as_ref()
            .is_none_or(|scope| scope.contains(place))
    };
    let live_others: Vec<OtherRule> = live
        .others
        .iter()
        .filter(|r| owned(&r.place))
        .cloned()
        .collect();
    let (missing_other, extra_other) = multiset_diff(&expected.others, &live_others);
    report.missing_other = missing_other;
    report.extra_other = extra_other;
    let mut places: Vec<&String> = expected
        .policies
        .keys()
        .chain(live.policies.keys())
        .filter(|p| owned(p))
        .collect();
    places.sort();
    places.dedup();
    for place in places {
        let (e, l) = (expected.policies.get(place), live.policies.get(place));
        if e != l {
            report.policies.push(PolicyDiff {
                place: place.clone(),
                expected: e.cloned(),
                live: l.cloned(),
            });
        }
    }
    report
}

/// Allow rules that differ only in their peers, as one rule with the union of the peers: the
/// same accepted traffic. A backend may write one rule per address (iptables does below its
/// ipset threshold: one `-s` per rule) where the IR has one rule with a peer list.
fn merged(rules: &[AllowRule]) -> Vec<AllowRule> {
    let mut by: BTreeMap<AllowRule, Vec<(IpAddr, IpAddr)>> = BTreeMap::new();
    for r in rules {
        let key = AllowRule {
            peers: AddressSet::default(),
            ..r.clone()
        };
        by.entry(key).or_default().extend(r.peers.0.iter().copied());
    }
    by.into_iter()
        .map(|(r, ranges)| AllowRule {
            peers: AddressSet::from_ranges(ranges),
            ..r
        })
        .collect()
}

/// Pairs missing and extra rules of the same flow, direction, family and protocol as changed.
fn pair_changed(report: &mut Report, missing: Vec<AllowRule>, extra: Vec<AllowRule>) {
    type Group = (Option<String>, Direction, Family, Protocol);
    let group = |r: &AllowRule| -> Group { (r.flow.clone(), r.direction, r.family, r.protocol) };
    let mut live_by: BTreeMap<Group, Vec<AllowRule>> = BTreeMap::new();
    for r in extra {
        live_by.entry(group(&r)).or_default().push(r);
    }
    for list in live_by.values_mut() {
        list.sort();
        list.reverse();
    }
    let mut missing = missing;
    missing.sort();
    for e in missing {
        let partner = match &e.flow {
            Some(_) => live_by.get_mut(&group(&e)).and_then(Vec::pop),
            None => None,
        };
        match partner {
            Some(l) => {
                let mut fields = Vec::new();
                if e.destination_port != l.destination_port {
                    fields.push("destination_port");
                }
                if e.source_ports != l.source_ports {
                    fields.push("source_ports");
                }
                if e.peers != l.peers {
                    fields.push("peers");
                }
                report.changed.push(Changed {
                    flow: e.flow.clone().unwrap_or_default(),
                    expected: e,
                    live: l,
                    fields,
                });
            }
            None => report.missing.push(e),
        }
    }
    report.extra = live_by.into_values().flatten().collect();
    report.extra.sort();
}

/// What `expected` has that `live` lacks, and the reverse, counting duplicates.
fn multiset_diff(expected: &[OtherRule], live: &[OtherRule]) -> (Vec<OtherRule>, Vec<OtherRule>) {
    let mut count: BTreeMap<&OtherRule, isize> = BTreeMap::new();
    for r in expected {
        *count.entry(r).or_default() += 1;
    }
    for r in live {
        *count.entry(r).or_default() -= 1;
    }
    let (mut missing, mut extra) = (Vec::new(), Vec::new());
    for (rule, n) in count {
        for _ in 0..n.unsigned_abs() {
            if n > 0 {
                missing.push(rule.clone());
            } else {
                extra.push(rule.clone());
            }
        }
    }
    (missing, extra)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(flow: &str, peers: &[&str], sport: Option<(u16, u16)>) -> AllowRule {
        AllowRule {
            direction: Direction::Inbound,
            family: Family::V4,
            protocol: Protocol::Tcp,
            destination_port: PortRange::single(445),
            source_ports: sport.and_then(|(a, b)| PortRange::new(a, b)),
            peers: AddressSet::from_nets(peers.iter().map(|p| p.parse::<IpNet>().unwrap())),
            flow: Some(flow.to_owned()),
        }
    }

    fn state(allows: Vec<AllowRule>) -> State {
        State {
            allows,
            ..State::default()
        }
    }

    /// One IR rule with two peers equals two live rules of one address each (iptables without
    /// an ipset); the same peers under another source-port range stay apart, and a missing
    /// address is reported as the flow's changed peers.
    #[test]
    fn rules_that_differ_only_in_peers_compare_as_their_union() {
        let expected = state(vec![
            rule(
                "smb",
                &["192.0.2.40/32", "192.0.2.50/32"],
                Some((32768, 61000)),
            ),
            rule("smb", &["192.0.2.30/32"], Some((49152, 65535))),
        ]);
        let live = state(vec![
            rule("smb", &["192.0.2.50/32"], Some((32768, 61000))),
            rule("smb", &["192.0.2.30/32"], Some((49152, 65535))),
            rule("smb", &["192.0.2.40/32"], Some((32768, 61000))),
        ]);
        assert!(compare(&expected, &live).is_empty());

        let live = state(vec![
            rule("smb", &["192.0.2.50/32"], Some((32768, 61000))),
            rule("smb", &["192.0.2.30/32"], Some((49152, 65535))),
        ]);
        let report = compare(&expected, &live);
        assert_eq!(report.len(), 1, "{report:?}");
        assert_eq!(report.changed[0].flow, "smb");
        assert_eq!(report.changed[0].fields, ["peers"]);
    }
}

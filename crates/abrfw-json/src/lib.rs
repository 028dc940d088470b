//! JSON backend: one host's [`HostRules`] as `rules.json`, a documented and versioned data shape
//! for configuration-management templates that want data rather than scripts.
//!
//! The shape is the [`RulesFile`] struct; its JSON Schema ([`schema`]) is published as
//! `docs/rules.schema.json`. [`FORMAT_VERSION`] changes whenever a field is removed, renamed or
//! changes meaning; new optional fields may appear within one version.
//!
//! Version 2 names each distinct peer list once, in `peer_groups`, and a rule refers to its group
//! by name (`"peers": "p1"`), as the nftables backend's named sets do: a management server's
//! rules list the same agents under several flows, and at 100,000 agents version 1's inline
//! lists made its file 24 MB. Arrays of plain values (names, addresses) are written on one
//! line; objects keep one field a line.
#![deny(missing_docs)]

use abrfw_core::ipnet::{Ipv4Net, Ipv6Net};
use abrfw_core::render::Numbering;
use abrfw_core::{
    Direction, Family, Files, GatewayRules, HostRules, PeerClasses, Peers, Policy, PortRange,
    Protocol,
};
use schemars::JsonSchema;
use serde::{Serialize, Serializer};
use std::collections::BTreeMap;

/// Backend name, as `--backend` spells it.
pub const NAME: &str = "json";
/// File written for each host.
pub const FILE_NAME: &str = "rules.json";
/// Version of the `rules.json` shape.
pub const FORMAT_VERSION: u32 = 2;
/// The value of the `format` field, naming the document type.
pub const FORMAT: &str = "abrfw-rules";

/// Rendering options (none yet).
#[derive(Debug, Clone, Default)]
pub struct Options {}

/// Why a rule set could not be rendered.
#[derive(Debug)]
pub struct Error(serde_json::Error);

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "cannot serialise rules.json: {}", self.0)
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

/// The compiled firewall rules of one abrfw host (`rules.json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "abrfw rules.json")]
pub struct RulesFile {
    /// Always "abrfw-rules".
    #[schemars(extend("const" = "abrfw-rules"))]
    pub format: String,
    /// Version of this shape; a consumer should refuse a version it does not know.
    #[schemars(extend("const" = 2))]
    pub version: u32,
    /// Host name from the topology (also the directory the file is in).
    pub host: String,
    /// Operating system the rules are for, in topology spelling (`linux`, `windows`, ...).
    pub os: String,
    /// Roles the host holds, in topology spelling, in the catalog's order.
    #[serde(serialize_with = "inline")]
    pub roles: Vec<String>,
    /// Id of the Acronis release whose flow catalog was compiled, e.g. `abr-11.5`.
    pub release: String,
    /// `drop`: the rule set is complete and denies everything else; `fragment`: only the allow
    /// rules, for the site's own firewall to jump to.
    pub policy: PolicyView,
    /// `"accept"` when the drop-policy rule set accepts outbound connections without a rule
    /// (`outbound = "accept"`: it filters inbound only; the outbound rules are listed all the
    /// same); absent when outbound is dropped too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outbound: Option<String>,
    /// The host's own addresses and networks.
    pub addresses: Addresses,
    /// Allow rules, in the stable order every backend uses.
    pub rules: Vec<RuleView>,
    /// The rules' peer lists by name (`p1`, `p2`, ... in order of first use), each written once
    /// however many rules share it.
    #[serde(serialize_with = "in_order")]
    #[schemars(with = "BTreeMap<String, PeerGroup>")]
    #[schemars(extend("propertyNames" = {"pattern": "^p[1-9][0-9]*$"}))]
    pub peer_groups: Vec<(String, PeerGroup)>,
}

/// The name of a peer group: `p` and a number.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, JsonSchema)]
#[schemars(extend("pattern" = r"^p[1-9][0-9]*$"))]
pub struct GroupName(pub String);

/// The remote side of one or more rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PeerGroup {
    /// Topology host names behind the addresses, sorted; empty for an `[[allow]]` network. In
    /// the class layout, only the hosts that `classes` does not stand for.
    #[serde(serialize_with = "inline")]
    pub hosts: Vec<String>,
    /// Only in the class layout (`compile --layout classes`): the classes all of whose members
    /// are among the peers, sorted, named instead of their members (`index/hosts.json` lists
    /// them). The group's hosts are `hosts` and the members of these classes.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "inline"
    )]
    pub classes: Option<Vec<String>>,
    /// IPv4 networks.
    #[serde(serialize_with = "inline")]
    pub ipv4: Vec<Ipv4Cidr>,
    /// IPv6 networks.
    #[serde(serialize_with = "inline")]
    pub ipv6: Vec<Ipv6Cidr>,
}

/// Drop or fragment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum PolicyView {
    /// A complete default-deny rule set.
    Drop,
    /// Only the allow rules.
    Fragment,
}

/// Addresses split by family, sorted, overlaps merged, always in CIDR notation
/// (`192.0.2.10/32`, `2001:db8::/64`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Addresses {
    /// IPv4 networks.
    #[serde(serialize_with = "inline")]
    pub ipv4: Vec<Ipv4Cidr>,
    /// IPv6 networks.
    #[serde(serialize_with = "inline")]
    pub ipv6: Vec<Ipv6Cidr>,
}

/// An IPv4 network in CIDR notation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[schemars(extend("pattern" = r"^[0-9]{1,3}(\.[0-9]{1,3}){3}/[0-9]{1,2}$"))]
pub struct Ipv4Cidr(pub String);

/// An IPv6 network in CIDR notation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[schemars(extend("pattern" = r"^[0-9a-f:.]+/[0-9]{1,3}$"))]
pub struct Ipv6Cidr(pub String);

/// One allowed connection pattern.
///
/// Ports are in connection terms whatever the direction: `source_ports` is the initiator's side,
/// `destination_ports` the responder's. For an inbound rule the peer initiates; for an outbound
/// rule this host does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleView {
    /// Catalog flow id (`agent-ms`, see docs/flows.md) or `allow:<name>` for a site rule.
    pub flow: String,
    /// What the connection is for.
    pub purpose: String,
    /// `inbound`: the peer connects to this host; `outbound`: this host connects to the peer.
    pub direction: DirectionView,
    /// Transport protocol.
    pub protocol: ProtocolView,
    /// The responder's port or port range.
    #[serde(serialize_with = "inline")]
    pub destination_ports: Ports,
    /// The initiator's source-port range (its OS ephemeral range), or null for any port.
    #[serde(serialize_with = "inline")]
    pub source_ports: Option<Ports>,
    /// The address families the rule applies to: those with at least one peer address.
    #[serde(serialize_with = "inline")]
    pub families: Vec<FamilyView>,
    /// The remote side: the name of its entry in `peer_groups`.
    pub peers: GroupName,
}

/// Inbound or outbound, seen from the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum DirectionView {
    /// The peer initiates.
    Inbound,
    /// This host initiates.
    Outbound,
}

/// Transport protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ProtocolView {
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
}

/// Address family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum FamilyView {
    /// IPv4.
    Ipv4,
    /// IPv6.
    Ipv6,
}

/// An inclusive port range; `first == last` is one port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Ports {
    /// First port.
    #[schemars(range(min = 1, max = 65535))]
    pub first: u16,
    /// Last port (inclusive, at least `first`).
    #[schemars(range(min = 1, max = 65535))]
    pub last: u16,
}

impl RulesFile {
    /// The view of one host's rules; with `classes`, the class layout's view, where a class
    /// name stands for its members in the peer groups.
    pub fn new(host: &HostRules, classes: Option<&PeerClasses>) -> Self {
        let mut groups: Numbering<(&Peers, &[String]), (String, PeerGroup)> = Numbering::default();
        let rules = host
            .rules
            .iter()
            .map(|r| RuleView {
                flow: r.flow.as_str().to_owned(),
                purpose: r.purpose.clone(),
                direction: match r.direction {
                    Direction::Inbound => DirectionView::Inbound,
                    Direction::Outbound => DirectionView::Outbound,
                },
                protocol: match r.protocol {
                    Protocol::Tcp => ProtocolView::Tcp,
                    Protocol::Udp => ProtocolView::Udp,
                },
                destination_ports: Ports::new(r.destination_port),
                source_ports: r.source_ports.map(Ports::new),
                families: Family::ALL
                    .into_iter()
                    .filter(|&f| r.peers.len_of(f) > 0)
                    .map(|f| match f {
                        Family::V4 => FamilyView::Ipv4,
                        Family::V6 => FamilyView::Ipv6,
                    })
                    .collect(),
                peers: GroupName(
                    groups
                        .get((&r.peers, &r.peer_hosts), |number, _| {
                            let addresses = Addresses::new(&r.peers);
                            let (classes, hosts) = match classes {
                                Some(c) => {
                                    let (whole, rest) = c.fold(&r.peer_hosts);
                                    (Some(whole), rest)
                                }
                                None => (None, r.peer_hosts.clone()),
                            };
                            (
                                format!("p{number}"),
                                PeerGroup {
                                    hosts,
                                    classes,
                                    ipv4: addresses.ipv4,
                                    ipv6: addresses.ipv6,
                                },
                            )
                        })
                        .0
                        .clone(),
                ),
            })
            .collect();
        Self {
            format: FORMAT.to_owned(),
            version: FORMAT_VERSION,
            host: host.host.clone(),
            os: host.os.as_str().to_owned(),
            roles: host.roles.iter().map(|r| r.as_str().to_owned()).collect(),
            release: host.release.as_str().to_owned(),
            policy: match host.policy {
                Policy::Drop => PolicyView::Drop,
                Policy::Fragment => PolicyView::Fragment,
            },
            outbound: (host.policy == Policy::Drop && !host.drops_outbound())
                .then(|| "accept".to_owned()),
            addresses: Addresses::new(&host.addresses),
            rules,
            peer_groups: groups.into_views(),
        }
    }
}

/// Writes a small value on one line (`["a", "b"]`, `{"first": 1, "last": 2}`) inside the
/// pretty-printed document, instead of one element a line: peer lists run to 100,000 entries.
fn inline<T: Serialize + ?Sized, S: Serializer>(
    values: &T,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    let mut text = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(&mut text, OneLine);
    values
        .serialize(&mut ser)
        .map_err(serde::ser::Error::custom)?;
    let text = String::from_utf8(text).map_err(serde::ser::Error::custom)?;
    serde_json::value::RawValue::from_string(text)
        .map_err(serde::ser::Error::custom)?
        .serialize(serializer)
}

/// serde_json's compact form with a space after each comma and colon.
struct OneLine;

impl serde_json::ser::Formatter for OneLine {
    fn begin_object_key<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        self.begin_array_value(writer, first)
    }

    fn begin_object_value<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
    ) -> std::io::Result<()> {
        writer.write_all(b": ")
    }

    fn begin_array_value<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        if first {
            Ok(())
        } else {
            writer.write_all(b", ")
        }
    }
}

/// Writes `(name, value)` pairs as a JSON object in their order (`p1`, `p2`, ... `p10`, not the
/// lexical order a map would give).
fn in_order<T: Serialize, S: Serializer>(
    entries: &[(String, T)],
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.collect_map(entries.iter().map(|(k, v)| (k, v)))
}

impl Addresses {
    fn new(peers: &Peers) -> Self {
        Self {
            ipv4: peers
                .v4
                .iter()
                .map(|n: &Ipv4Net| Ipv4Cidr(n.to_string()))
                .collect(),
            ipv6: peers
                .v6
                .iter()
                .map(|n: &Ipv6Net| Ipv6Cidr(n.to_string()))
                .collect(),
        }
    }
}

impl Ports {
    fn new(range: PortRange) -> Self {
        Self {
            first: range.first,
            last: range.last,
        }
    }
}

/// Renders `rules.json` for one host: pretty-printed, fields in a fixed order, ending in a newline.
pub fn render(host: &HostRules, opts: &Options) -> Result<Files, Error> {
    Ok(vec![(FILE_NAME, render_text(host, None, opts)?)])
}

/// Renders `rules.json` for a class of the class layout: each peer group names the classes all
/// of whose members it holds instead of those members.
pub fn render_in_classes(
    host: &HostRules,
    classes: &PeerClasses,
    opts: &Options,
) -> Result<Files, Error> {
    Ok(vec![(FILE_NAME, render_text(host, Some(classes), opts)?)])
}

/// `rules.json` describes a host's own rules; a gateway's forward rules have no JSON shape yet,
/// so this is always `None`.
pub fn render_gateway(_gw: &GatewayRules, _opts: &Options) -> Result<Option<Files>, Error> {
    Ok(None)
}

/// `rules.json` as one string.
fn render_text(
    host: &HostRules,
    classes: Option<&PeerClasses>,
    _opts: &Options,
) -> Result<String, Error> {
    serde_json::to_string_pretty(&RulesFile::new(host, classes))
        .map(|s| s + "\n")
        .map_err(Error)
}

/// The JSON Schema (draft 2020-12) of `rules.json`, as published in `docs/rules.schema.json`.
pub fn schema() -> Result<String, Error> {
    let schema = schemars::schema_for!(RulesFile);
    serde_json::to_string_pretty(&schema)
        .map(|s| s + "\n")
        .map_err(Error)
}

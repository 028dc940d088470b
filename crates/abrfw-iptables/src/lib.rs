//! iptables backend: renders one host's [`HostRules`] (or one gateway's [`GatewayRules`]) as an
//! `iptables-restore` file and an `ip6tables-restore` file, plus an `ipset restore` file when a
//! peer list is too long for one rule per address.
//!
//! `policy = "drop"` gives a host INPUT and OUTPUT (declared with policy DROP and emptied with
//! `-F`) and abrfw's own chains, to load with `--noflush`, so FORWARD, its policy and other
//! tools' chains stay as they are (a plain restore would reset an undeclared FORWARD to ACCEPT
//! under iptables-nft); loopback, established/related traffic and (IPv6) the ICMPv6 types IPv6 needs pass
//! before abrfw's own chains `ABRFW-IN` / `ABRFW-OUT` are consulted. A gateway never gets a
//! whole table: its file holds only abrfw's chains (`ABRFW-GW`, `ABRFW-ZONES`, `ABRFW-FWD`), to
//! load with `--noflush` and hook into FORWARD with one idempotent `-C || -I` command, so the
//! gateway's own INPUT, OUTPUT and FORWARD rules and policies stay as they are. `ABRFW-GW`
//! sends all forwarded traffic, or with zone interfaces only that between them, to
//! `ABRFW-ZONES`, which accepts established traffic and abrfw's flows and drops the rest.
//! `policy = "fragment"` gives only the rule chains, to load with `--noflush` beside the site's
//! own rules. The semantics are the nftables backend's, rule for rule.
#![deny(missing_docs)]

mod escape;
pub mod live;

use std::fmt::Write as _;

use abrfw_core::icmpv6::icmpv6_accepted;
use abrfw_core::ipnet::IpNet;
use abrfw_core::ir::{Connection, LOG_RATE_PER_MINUTE, address_text, describe_hosts};
use abrfw_core::{
    Direction, Family, Files, GatewayRules, HostRules, Log, Numbering, Policy, PortRange,
};
use askama::Template;

/// Backend name, as `--backend` spells it.
pub const NAME: &str = "iptables";
/// The IPv4 file, for `iptables-restore`.
pub const IPTABLES_FILE_NAME: &str = "iptables.rules";
/// The IPv6 file, for `ip6tables-restore`.
pub const IP6TABLES_FILE_NAME: &str = "ip6tables.rules";
/// The ipset file, for `ipset restore -!`; written only when a rule matches through a set.
pub const IPSET_FILE_NAME: &str = "ipset.rules";
/// `-m comment` keeps at most 255 bytes (256 with the NUL); longer comments are silently cut.
pub const MAX_COMMENT_BYTES: usize = 255;
/// A rule whose peer list holds more than this many networks in one family matches them through
/// an ipset instead of getting one iptables rule per network.
pub const IPSET_THRESHOLD: usize = 8;
/// abrfw's chain for inbound host rules.
pub const CHAIN_IN: &str = "ABRFW-IN";
/// abrfw's chain for outbound host rules.
pub const CHAIN_OUT: &str = "ABRFW-OUT";
/// abrfw's chain for a gateway's forward rules.
pub const CHAIN_FWD: &str = "ABRFW-FWD";
/// The chain FORWARD jumps to on a drop-policy gateway: it sends the traffic abrfw filters (all
/// forwarded traffic, or only that between the zones' interfaces) to [`CHAIN_ZONES`].
pub const CHAIN_GW: &str = "ABRFW-GW";
/// A drop-policy gateway's filter: established and related traffic, then [`CHAIN_FWD`], then drop.
pub const CHAIN_ZONES: &str = "ABRFW-ZONES";

/// Rendering options.
#[derive(Debug, Clone)]
pub struct Options {
    /// Peer lists longer than this (per rule and family) go into an ipset.
    pub ipset_threshold: usize,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            ipset_threshold: IPSET_THRESHOLD,
        }
    }
}

/// Why a rule set could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The template engine failed.
    #[error("iptables template: {0}")]
    Template(#[from] askama::Error),
}

/// The files of one host or gateway, by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleFiles {
    /// `ipset.rules`, when some rule matches its peers through an ipset; load it first.
    pub ipset: Option<String>,
    /// `iptables.rules` (IPv4).
    pub iptables: String,
    /// `ip6tables.rules` (IPv6).
    pub ip6tables: String,
}

impl RuleFiles {
    /// `(file name, contents)` in load order: `ipset.rules` (if any), `iptables.rules`,
    /// `ip6tables.rules`.
    pub fn into_vec(self) -> Files {
        let mut files = Vec::with_capacity(3);
        if let Some(ipset) = self.ipset {
            files.push((IPSET_FILE_NAME, ipset));
        }
        files.push((IPTABLES_FILE_NAME, self.iptables));
        files.push((IP6TABLES_FILE_NAME, self.ip6tables));
        files
    }
}

/// Renders a host's rules as iptables-restore / ip6tables-restore files, in load order.
pub fn render(host: &HostRules, opts: &Options) -> Result<Files, Error> {
    Ok(render_files(host, opts)?.into_vec())
}

/// Renders a Linux gateway's forward rules as iptables-restore / ip6tables-restore files, in
/// load order (always `Some`).
pub fn render_gateway(gw: &GatewayRules, opts: &Options) -> Result<Option<Files>, Error> {
    Ok(Some(render_gateway_files(gw, opts)?.into_vec()))
}

/// A host's files by name.
pub fn render_files(host: &HostRules, opts: &Options) -> Result<RuleFiles, Error> {
    let mut sets = Sets::new(opts.ipset_threshold);
    let mut tables = Tables::default();
    for rule in &host.rules {
        let (chain, side) = match rule.direction {
            Direction::Inbound => (CHAIN_IN, Side::Source),
            Direction::Outbound => (CHAIN_OUT, Side::Destination),
        };
        for family in Family::ALL {
            let peers = sets.matches(family, rule.peers.of(family), || {
                describe_hosts(&rule.peer_hosts, &rule.flow)
            });
            for peer in peers {
                let (src, dst) = match side {
                    Side::Source => (peer, AddrMatch::Any),
                    Side::Destination => (AddrMatch::Any, peer),
                };
                let line = RuleView::new(chain, None, None, &src, &dst, rule.connection());
                tables.of(family).push(line);
            }
        }
    }
    let header = host.header();
    finish(
        Kind::Host,
        (
            host.policy,
            host.log,
            host.policy == Policy::Drop && !host.drops_outbound(),
        ),
        header,
        &[CHAIN_IN, CHAIN_OUT],
        tables,
        sets,
    )
}

/// A gateway's files by name.
pub fn render_gateway_files(gw: &GatewayRules, opts: &Options) -> Result<RuleFiles, Error> {
    let mut sets = Sets::new(opts.ipset_threshold);
    let mut tables = Tables::default();
    for rule in &gw.rules {
        for family in Family::ALL {
            let sources = sets.matches(family, rule.sources.of(family), || {
                describe_hosts(&rule.source_hosts, &rule.flow)
            });
            let destinations = sets.matches(family, rule.destinations.of(family), || {
                describe_hosts(&rule.destination_hosts, &rule.flow)
            });
            for src in &sources {
                for dst in &destinations {
                    let line = RuleView::new(
                        CHAIN_FWD,
                        rule.from_zone.interface.as_deref(),
                        rule.to_zone.interface.as_deref(),
                        src,
                        dst,
                        rule.connection(),
                    );
                    tables.of(family).push(line);
                }
            }
        }
    }
    let header = gw.header();
    let scope = gw
        .interface_pairs()
        .into_iter()
        .map(|(a, b)| (a.to_owned(), b.to_owned()))
        .collect();
    finish(
        Kind::Gateway(scope),
        (gw.policy, gw.log, false),
        header,
        &[CHAIN_FWD],
        tables,
        sets,
    )
}

/// A host (INPUT/OUTPUT) or a gateway (FORWARD), with the `(in, out)` interface pairs it
/// filters (empty: all forwarded traffic).
#[derive(Clone, PartialEq, Eq)]
enum Kind {
    Host,
    Gateway(Vec<(String, String)>),
}

/// Which address of a packet a peer list matches.
#[derive(Clone, Copy)]
enum Side {
    Source,
    Destination,
}

/// The rules of each family, per chain in order of appearance.
#[derive(Default)]
struct Tables {
    v4: Vec<RuleView>,
    v6: Vec<RuleView>,
}

impl Tables {
    fn of(&mut self, family: Family) -> &mut Vec<RuleView> {
        match family {
            Family::V4 => &mut self.v4,
            Family::V6 => &mut self.v6,
        }
    }
}

/// Puts the views together and runs the templates.
fn finish(
    kind: Kind,
    (policy, log, out_accept): (Policy, Log, bool),
    header: String,
    chain_names: &[&'static str],
    mut tables: Tables,
    sets: Sets,
) -> Result<RuleFiles, Error> {
    let uses_sets = !sets.views().is_empty();
    let mut texts = Vec::with_capacity(2);
    for family in Family::ALL {
        let rules = std::mem::take(tables.of(family));
        let (file, tool, cmd) = match family {
            Family::V4 => (IPTABLES_FILE_NAME, "iptables-restore", "iptables"),
            Family::V6 => (IP6TABLES_FILE_NAME, "ip6tables-restore", "ip6tables"),
        };
        let chains = chain_names
            .iter()
            .map(|&name| ChainView {
                name,
                rules: rules.iter().filter(|r| r.chain == name).cloned().collect(),
            })
            .collect();
        let hooks: Vec<(&str, &str)> = match (&kind, policy) {
            (Kind::Host, _) => vec![("INPUT", CHAIN_IN), ("OUTPUT", CHAIN_OUT)],
            (Kind::Gateway(_), Policy::Fragment) => vec![("FORWARD", CHAIN_FWD)],
            (Kind::Gateway(_), Policy::Drop) => vec![("FORWARD", CHAIN_GW)],
        };
        let view = TableView {
            out_accept,
            log: log.drops(),
            rate: LOG_RATE_PER_MINUTE,
            header: header.clone(),
            file,
            tool,
            uses_sets,
            chains,
            icmpv6_in: icmpv6_view(family, Direction::Inbound),
            icmpv6_out: icmpv6_view(family, Direction::Outbound),
            hook_chain: CHAIN_GW,
            zones_chain: CHAIN_ZONES,
            scope: match &kind {
                Kind::Gateway(scope) => scope.clone(),
                Kind::Host => Vec::new(),
            },
            jumps: hooks
                .into_iter()
                .map(|(base, own)| {
                    format!("{cmd} -C {base} -j {own} 2>/dev/null || {cmd} -I {base} -j {own}")
                })
                .collect(),
        };
        let mut text = match (policy, &kind) {
            (Policy::Drop, Kind::Host) => HostTemplate { v: &view }.render()?,
            (Policy::Drop, Kind::Gateway(_)) => GatewayTemplate { v: &view }.render()?,
            (Policy::Fragment, _) => FragmentTemplate { v: &view }.render()?,
        };
        text.push('\n');
        texts.push(text);
    }
    let ipset = if uses_sets {
        let mut text = IpsetTemplate {
            header: &header,
            sets: sets.views(),
        }
        .render()?;
        text.push('\n');
        Some(text)
    } else {
        None
    };
    let ip6tables = texts.pop().unwrap_or_default();
    let iptables = texts.pop().unwrap_or_default();
    Ok(RuleFiles {
        ipset,
        iptables,
        ip6tables,
    })
}

#[derive(Template)]
#[template(path = "iptables.rules")]
struct HostTemplate<'a> {
    v: &'a TableView,
}

#[derive(Template)]
#[template(path = "iptables-gateway.rules")]
struct GatewayTemplate<'a> {
    v: &'a TableView,
}

#[derive(Template)]
#[template(path = "iptables-fragment.rules")]
struct FragmentTemplate<'a> {
    v: &'a TableView,
}

#[derive(Template)]
#[template(path = "iptables-ipset.rules")]
struct IpsetTemplate<'a> {
    header: &'a str,
    sets: &'a [SetView],
}

/// The ICMPv6 types one built-in chain accepts, from core's [`abrfw_core::icmpv6`] policy.
#[derive(Default)]
struct Icmpv6View {
    /// Type numbers, as `ip6tables-save` prints them.
    numbers: Vec<u8>,
    /// The same as `number name, ...`, for a comment.
    names: String,
}

/// The ICMPv6 types a host's chain for `direction` accepts; none in an IPv4 file.
fn icmpv6_view(family: Family, direction: Direction) -> Icmpv6View {
    match family {
        Family::V4 => Icmpv6View::default(),
        Family::V6 => Icmpv6View {
            numbers: icmpv6_accepted(direction).map(|t| t.number).collect(),
            names: icmpv6_accepted(direction)
                .map(|t| format!("{} {}", t.number, t.name))
                .collect::<Vec<_>>()
                .join(", "),
        },
    }
}

/// Everything one `*filter` file prints, decided here.
struct TableView {
    /// `outbound = "accept"`: OUTPUT accepts by default (hosts with policy drop).
    out_accept: bool,
    /// Log what the default policy drops (`log = "drops"`); iptables counts per rule anyway.
    log: bool,
    /// Drop-log lines per minute.
    rate: u32,
    header: String,
    /// Its own file name, for the load instructions.
    file: &'static str,
    /// `iptables-restore` or `ip6tables-restore`.
    tool: &'static str,
    /// Whether the rules name ipsets (ipset.rules must be loaded first).
    uses_sets: bool,
    chains: Vec<ChainView>,
    /// ICMPv6 types INPUT accepts (IPv6 host files only).
    icmpv6_in: Icmpv6View,
    /// ICMPv6 types OUTPUT accepts (IPv6 host files only).
    icmpv6_out: Icmpv6View,
    /// Shell commands that hook abrfw's chains into the built-in ones once (fragments and
    /// gateways).
    jumps: Vec<String>,
    /// A gateway's hook chain, [`CHAIN_GW`].
    hook_chain: &'static str,
    /// A gateway's filter chain, [`CHAIN_ZONES`].
    zones_chain: &'static str,
    /// A gateway's `(in, out)` zone interface pairs; empty: all forwarded traffic.
    scope: Vec<(String, String)>,
}

struct ChainView {
    name: &'static str,
    rules: Vec<RuleView>,
}

/// One `-A CHAIN ... -j ACCEPT` line: `matches` is every option before the comment, in the order
/// `iptables-save` prints them, so that a saved table reads like the file.
#[derive(Clone)]
struct RuleView {
    chain: &'static str,
    matches: String,
    comment: String,
}

/// One ipset: a temporary copy is filled and swapped in, so rules never see it half-filled.
struct SetView {
    name: String,
    tmp: String,
    family: &'static str,
    /// ` maxelem N` when the default 65536 is too small, else empty.
    options: String,
    hosts: String,
    elements: Vec<String>,
}

/// How one side of a rule matches addresses of one family.
#[derive(Clone)]
enum AddrMatch {
    /// No address match (the rule's own side, or a peer list holding a /0).
    Any,
    /// `-s` / `-d` with one network.
    Net(IpNet),
    /// `-m set --match-set NAME src|dst`.
    Set(String),
}

/// The ipsets of one host, one per family and distinct long peer list, numbered in order of first
/// use and shared by every rule with the same peers.
struct Sets {
    threshold: usize,
    numbered: Numbering<(Family, Vec<IpNet>), SetView>,
}

impl Sets {
    fn new(threshold: usize) -> Self {
        Self {
            threshold,
            numbered: Numbering::default(),
        }
    }

    /// How a rule matches `nets` of `family`: nothing when the family has no address (no rule),
    /// one match per network up to the threshold, else one ipset.
    fn matches(
        &mut self,
        family: Family,
        nets: Vec<IpNet>,
        comment: impl FnOnce() -> String,
    ) -> Vec<AddrMatch> {
        if nets.is_empty() {
            return Vec::new();
        }
        // The lists are aggregated, so a /0 stands alone; it means any address, which hash:net
        // cannot hold and -s does not need.
        if nets.iter().any(|n| n.prefix_len() == 0) {
            return vec![AddrMatch::Any];
        }
        if nets.len() <= self.threshold {
            return nets.into_iter().map(AddrMatch::Net).collect();
        }
        let view = self.numbered.get((family, nets), |number, (_, nets)| {
            let suffix = match family {
                Family::V4 => "v4",
                Family::V6 => "v6",
            };
            let name = format!("abrfw_peers{number:03}_{suffix}");
            // ipset's default maxelem is 65536.
            let options = if nets.len() > 65536 {
                format!(" maxelem {}", nets.len())
            } else {
                String::new()
            };
            SetView {
                tmp: format!("{name}_new"),
                name,
                family: match family {
                    Family::V4 => "inet",
                    Family::V6 => "inet6",
                },
                options,
                hosts: comment(),
                elements: nets.iter().map(|n| address_text(*n)).collect(),
            }
        });
        vec![AddrMatch::Set(view.name.clone())]
    }

    /// The ipsets, in number order.
    fn views(&self) -> &[SetView] {
        self.numbered.views()
    }
}

impl RuleView {
    /// Accepts new connections only; replies pass as established in the base chains.
    fn new(
        chain: &'static str,
        iif: Option<&str>,
        oif: Option<&str>,
        src: &AddrMatch,
        dst: &AddrMatch,
        parts: Connection<'_>,
    ) -> Self {
        let mut m = String::new();
        if let AddrMatch::Net(n) = src {
            let _ = write!(m, " -s {n}");
        }
        if let AddrMatch::Net(n) = dst {
            let _ = write!(m, " -d {n}");
        }
        if let Some(i) = iif {
            let _ = write!(m, " -i {i}");
        }
        if let Some(o) = oif {
            let _ = write!(m, " -o {o}");
        }
        let proto = parts.protocol.as_str();
        let _ = write!(m, " -p {proto}");
        if let AddrMatch::Set(s) = src {
            let _ = write!(m, " -m set --match-set {s} src");
        }
        if let AddrMatch::Set(s) = dst {
            let _ = write!(m, " -m set --match-set {s} dst");
        }
        let _ = write!(m, " -m {proto}");
        if let Some(sport) = parts.source_ports {
            let _ = write!(m, " --sport {}", port_range(sport));
        }
        let _ = write!(
            m,
            " --dport {} -m conntrack --ctstate NEW",
            port_range(parts.destination_port)
        );
        RuleView {
            chain,
            matches: m,
            comment: comment(parts.flow, parts.purpose),
        }
    }
}

/// iptables writes port ranges with a colon: `32768:61000`.
fn port_range(p: PortRange) -> String {
    p.joined(':')
}

/// `flow: purpose` on one line, cut to 255 bytes on a character boundary. The limit counts the
/// argument iptables receives, so the cut comes before the template escapes `"` and `\`.
fn comment(flow: &str, purpose: &str) -> String {
    let text = escape::one_line(&format!("{flow}: {purpose}"));
    escape::truncate_bytes(&text, MAX_COMMENT_BYTES).to_owned()
}

#[cfg(test)]
mod tests {
    use abrfw_core::{Os, Peers, Protocol, Rule};
    use pretty_assertions::assert_eq;

    use super::*;

    fn host(policy: Policy, rules: Vec<Rule>) -> HostRules {
        HostRules {
            host: "h1".into(),
            os: Os::Linux,
            roles: vec![abrfw_core::Role::Agent],
            release: abrfw_core::ReleaseId("abr-11.5"),
            policy,
            outbound: abrfw_core::Outbound::Drop,
            log: abrfw_core::Log::Off,
            addresses: Peers::from_nets(["192.0.2.1/32".parse().unwrap()]),
            rules: rules.into(),
        }
    }

    fn rule(direction: Direction, peers: &[&str], purpose: &str) -> Rule {
        Rule {
            direction,
            flow: abrfw_core::FlowId::catalog("ms-agent"),
            protocol: Protocol::Tcp,
            destination_port: PortRange::single(9876),
            source_ports: PortRange::new(49152, 65535),
            peers: Peers::from_nets(peers.iter().map(|p| p.parse().unwrap())),
            peer_hosts: vec!["ams".into()],
            purpose: purpose.into(),
        }
    }

    fn rule_lines(text: &str) -> Vec<&str> {
        text.lines().filter(|l| l.starts_with("-A ABRFW")).collect()
    }

    #[test]
    fn inbound_rule_matches_source_and_ports() {
        let h = host(
            Policy::Drop,
            vec![rule(
                Direction::Inbound,
                &["192.0.2.10/32", "2001:db8::10/128"],
                "x",
            )],
        );
        let files = render_files(&h, &Options::default()).unwrap();
        assert_eq!(
            rule_lines(&files.iptables),
            [
                "-A ABRFW-IN -s 192.0.2.10/32 -p tcp -m tcp --sport 49152:65535 --dport 9876 -m conntrack --ctstate NEW -m comment --comment \"ms-agent: x\" -j ACCEPT"
            ]
        );
        assert_eq!(
            rule_lines(&files.ip6tables),
            [
                "-A ABRFW-IN -s 2001:db8::10/128 -p tcp -m tcp --sport 49152:65535 --dport 9876 -m conntrack --ctstate NEW -m comment --comment \"ms-agent: x\" -j ACCEPT"
            ]
        );
        assert!(files.ipset.is_none());
        assert!(files.ip6tables.contains("--icmpv6-type 135 -j ACCEPT"));
        assert!(files.ip6tables.contains("135 neighbour-solicitation"));
        assert!(!files.iptables.contains("icmpv6"));
    }

    #[test]
    fn outbound_rule_matches_destination() {
        let h = host(
            Policy::Drop,
            vec![rule(Direction::Outbound, &["192.0.2.10/32"], "x")],
        );
        let files = render_files(&h, &Options::default()).unwrap();
        assert_eq!(
            rule_lines(&files.iptables),
            [
                "-A ABRFW-OUT -d 192.0.2.10/32 -p tcp -m tcp --sport 49152:65535 --dport 9876 -m conntrack --ctstate NEW -m comment --comment \"ms-agent: x\" -j ACCEPT"
            ]
        );
        assert!(rule_lines(&files.ip6tables).is_empty());
    }

    #[test]
    fn hostile_purpose_is_escaped_and_cut_to_255_bytes() {
        let purpose = format!("say \"hi\" \\ $HOME {}", "ü".repeat(200));
        let h = host(
            Policy::Drop,
            vec![rule(Direction::Inbound, &["192.0.2.10/32"], &purpose)],
        );
        let files = render_files(&h, &Options::default()).unwrap();
        let line = rule_lines(&files.iptables)[0];
        let start = line.find("--comment \"").unwrap() + "--comment \"".len();
        let end = line.rfind("\" -j ACCEPT").unwrap();
        let escaped = &line[start..end];
        assert!(escaped.starts_with("ms-agent: say \\\"hi\\\" \\\\ $HOME ü"));
        let unescaped = escaped.replace("\\\"", "\"").replace("\\\\", "\\");
        assert!(unescaped.len() <= MAX_COMMENT_BYTES);
        assert!(unescaped.len() >= MAX_COMMENT_BYTES - 1);
        assert!(unescaped.ends_with('ü'));
    }

    #[test]
    fn long_peer_lists_use_one_shared_ipset() {
        let peers: Vec<String> = (1..=12).map(|i| format!("192.0.2.{}/32", i * 2)).collect();
        let peers: Vec<&str> = peers.iter().map(String::as_str).collect();
        let mut second = rule(Direction::Inbound, &peers, "y");
        second.destination_port = PortRange::single(22);
        let h = host(
            Policy::Drop,
            vec![rule(Direction::Inbound, &peers, "x"), second],
        );
        let files = render_files(&h, &Options::default()).unwrap();
        let lines = rule_lines(&files.iptables);
        assert_eq!(lines.len(), 2);
        assert!(lines.iter().all(|l| l.contains(
            " -p tcp -m set --match-set abrfw_peers001_v4 src -m tcp --sport 49152:65535"
        )));
        let ipset = files.ipset.unwrap();
        assert_eq!(ipset.matches("\ncreate ").count(), 2, "{ipset}");
        assert_eq!(ipset.matches("\nadd ").count(), 12);
        assert!(ipset.contains("swap abrfw_peers001_v4_new abrfw_peers001_v4\n"));
        // At the threshold: one rule per address, no set.
        let h = host(
            Policy::Drop,
            vec![rule(Direction::Inbound, &peers[..IPSET_THRESHOLD], "x")],
        );
        let files = render_files(&h, &Options::default()).unwrap();
        assert_eq!(rule_lines(&files.iptables).len(), IPSET_THRESHOLD);
        assert!(files.ipset.is_none());
    }

    #[test]
    fn any_address_needs_no_match() {
        let h = host(
            Policy::Fragment,
            vec![rule(Direction::Outbound, &["0.0.0.0/0"], "x")],
        );
        let files = render_files(&h, &Options { ipset_threshold: 0 }).unwrap();
        assert_eq!(
            rule_lines(&files.iptables),
            [
                "-A ABRFW-OUT -p tcp -m tcp --sport 49152:65535 --dport 9876 -m conntrack --ctstate NEW -m comment --comment \"ms-agent: x\" -j ACCEPT"
            ]
        );
        assert!(files.ipset.is_none());
    }

    #[test]
    fn fragment_declares_only_abrfw_chains() {
        let h = host(
            Policy::Fragment,
            vec![rule(Direction::Inbound, &["192.0.2.10/32"], "x")],
        );
        let files = render_files(&h, &Options::default()).unwrap();
        let decls: Vec<&str> = files
            .iptables
            .lines()
            .filter(|l| l.starts_with(':'))
            .collect();
        assert_eq!(decls, [":ABRFW-IN - [0:0]", ":ABRFW-OUT - [0:0]"]);
        assert!(
            !files
                .iptables
                .lines()
                .any(|l| l.starts_with("-A INPUT") || l.starts_with("-A OUTPUT"))
        );
        assert!(files.iptables.contains(
            "iptables -C INPUT -j ABRFW-IN 2>/dev/null || iptables -I INPUT -j ABRFW-IN"
        ));
    }

    #[test]
    fn rendering_is_deterministic() {
        let peers: Vec<String> = (1..=20).map(|i| format!("2001:db8::{i:x}/128")).collect();
        let peers: Vec<&str> = peers.iter().map(String::as_str).collect();
        let h = host(
            Policy::Drop,
            vec![
                rule(Direction::Inbound, &peers, "x"),
                rule(Direction::Outbound, &peers, "y"),
            ],
        );
        let a = render_files(&h, &Options::default()).unwrap();
        let b = render_files(&h, &Options::default()).unwrap();
        assert_eq!(a, b);
    }
}

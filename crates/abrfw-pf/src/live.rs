//! `abrfw verify` for pf: reads what [`LIVE_COMMAND`] prints for anchor `abrfw` (its tables as
//! `table <NAME> { addr addr ... }` lines, then `pfctl -sr`) into a neutral [`State`], and says
//! which [`State`] a host's `pf.conf` loads.
//!
//! pfctl prints the rules as the kernel holds them: a `{ }` list becomes one rule per element,
//! `self` one rule per address of the host's interfaces (each with its family, `inet` or
//! `inet6`), ports as `port = N` (`-P`: numbers, not service names), `port N:M`, `port N >< M`,
//! and the default `flags S/SA keep state` of a pass rule explicitly (OpenBSD leaves out `keep
//! state`, its default). A pass rule of the shape abrfw writes (`pass in|out quick [inet|inet6]
//! proto tcp|udp from PEERS [port S] to LOCAL port P [flags S/SA] [keep state] [label "flow"]`,
//! LOCAL an address of the host, PEERS a table or an address) is an allow rule, its peers the
//! table's addresses of the rule's family. `block [drop] in|out [log] quick on ! lo0 all` and
//! `pass out quick on ! lo0 all` are the policies `in` and `out`; every other rule is an
//! [`OtherRule`] in pfctl's words (ICMPv6 types as numbers, `icmp6` as `ipv6-icmp`).
//!
//! These forms come from pfctl's source and manual pages (`print_rule`, `print_port`), not
//! from a live pfctl: pf does not run on Linux, where abrfw is tested (docs/backends/pf.md).

use std::collections::BTreeMap;
use std::net::IpAddr;

use abrfw_core::icmpv6::icmpv6_accepted;
use abrfw_core::ipnet::IpNet;
use abrfw_core::verify::{AddressSet, AllowRule, LiveError, OtherRule, State, allow_rules};
use abrfw_core::{Direction, Family, HostRules, Policy, PortRange, Protocol};

use crate::label;

/// The file `verify --tree DIR` reads for a pf host: `DIR/<host>/pf.live`.
pub const LIVE_FILE: &str = "pf.live";

/// The command whose output `abrfw verify` reads: anchor abrfw's tables, then its rules
/// (`-P` prints ports as numbers; a pfctl without `-P` prints them with service names,
/// which verify refuses).
pub const LIVE_COMMAND: &str = "{ for t in $(pfctl -a abrfw -sT 2>/dev/null); do \
printf 'table <%s> {' \"$t\"; pfctl -a abrfw -t \"$t\" -T show | tr -s ' \\n' '  '; \
printf '}\\n'; done; pfctl -a abrfw -P -sr 2>/dev/null || pfctl -a abrfw -sr; } > pf.live";

const HINT: &str = "give the output of the pf collection command in docs/rollout.md: \
`table <NAME> { ... }` lines from `pfctl -a abrfw -t NAME -T show`, then `pfctl -a abrfw -P -sr`";

/// The place every rule of the anchor sits in.
const PLACE: &str = "anchor abrfw";

/// The state `pf.conf` loads for `host`: its allow rules (labelled with their flow id, as
/// pf.conf writes it) and, for `policy = "drop"`, the ICMPv6 pass rules one per type and the
/// policies of the block rules (`drop`, `drop log`) or of the outbound pass (`accept`).
pub fn expected(host: &HostRules) -> State {
    let mut allows = allow_rules(host);
    for a in &mut allows {
        a.flow = a.flow.as_deref().map(label);
    }
    let mut state = State {
        allows,
        ..State::default()
    };
    if host.policy == Policy::Fragment {
        return state;
    }
    for (dir, direction) in [("in", Direction::Inbound), ("out", Direction::Outbound)] {
        for t in icmpv6_accepted(direction) {
            state.others.push(OtherRule::new(
                PLACE,
                icmp6_text(dir, &t.number.to_string()),
            ));
        }
    }
    let drop = if host.log.drops() { "drop log" } else { "drop" };
    state.policies.insert("in".to_owned(), drop.to_owned());
    let out = if host.drops_outbound() {
        drop
    } else {
        "accept"
    };
    state.policies.insert("out".to_owned(), out.to_owned());
    state
}

fn icmp6_text(dir: &str, number: &str) -> String {
    format!("pass {dir} quick inet6 proto ipv6-icmp all icmp6-type {number} no state")
}

/// A rule line, before its tables are resolved.
struct Line {
    number: usize,
    raw: String,
    words: Vec<String>,
}

/// Reads what [`LIVE_COMMAND`] prints.
pub fn parse_live(text: &str) -> Result<State, LiveError> {
    let mut tables: BTreeMap<String, Vec<(IpAddr, IpAddr)>> = BTreeMap::new();
    let mut lines = Vec::new();
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() {
            continue;
        }
        let at = |needle: &str, msg: String| {
            LiveError::new(n + 1, raw.find(needle).map_or(1, |c| c + 1), msg, HINT)
        };
        let words = split(line).map_err(|_| at("\"", "unterminated quote".to_owned()))?;
        match words[0].as_str() {
            "table" => {
                let (name, entries) = table(line).ok_or_else(|| {
                    at(
                        line,
                        format!("not a table line `table <NAME> {{ ... }}`: {line}"),
                    )
                })?;
                let list = tables.entry(name).or_default();
                for e in entries {
                    list.push(element(e).ok_or_else(|| {
                        at(e, format!("not an address or network of a table: {e}"))
                    })?);
                }
            }
            "pass" | "block" | "match" | "scrub" | "anchor" | "antispoof" | "nat" | "rdr"
            | "binat" | "nat-anchor" | "rdr-anchor" | "binat-anchor" => lines.push(Line {
                number: n + 1,
                raw: raw.to_owned(),
                words,
            }),
            _ => {
                return Err(at(
                    line,
                    format!("neither a table line nor a rule pfctl -sr prints: {line}"),
                ));
            }
        }
    }
    let tables: BTreeMap<String, AddressSet> = tables
        .into_iter()
        .map(|(k, v)| (k, AddressSet::from_ranges(v)))
        .collect();
    let mut state = State::default();
    for l in lines {
        let at = |word: &str, msg: String| {
            LiveError::new(l.number, l.raw.find(word).map_or(1, |c| c + 1), msg, HINT)
        };
        for w in &l.words {
            if let Some(name) = w.strip_prefix('<').and_then(|w| w.strip_suffix('>'))
                && !tables.contains_key(name)
            {
                return Err(at(
                    w,
                    format!(
                        "table <{name}> is used by a rule but its addresses are not in the file"
                    ),
                ));
            }
        }
        if let Some(w) = service_name(&l.words) {
            return Err(at(
                w,
                format!(
                    "port {w} is a service name; collect with `pfctl -P` so ports print as numbers"
                ),
            ));
        }
        if let Some(rules) = allow(&l.words, &tables) {
            state
                .allows
                .extend(rules.into_iter().filter(|r| !r.peers.is_empty()));
        } else if let Some((dir, policy)) = policy(&l.words) {
            state.policies.insert(dir.to_owned(), policy);
        } else {
            for text in other_texts(&l.words) {
                state.others.push(OtherRule::new(PLACE, text));
            }
        }
    }
    Ok(state)
}

/// `table <NAME> [const|persist|counters ...] { a b, c }`: the name and the elements.
fn table(line: &str) -> Option<(String, Vec<&str>)> {
    let rest = line.strip_prefix("table")?.trim_start();
    let rest = rest.strip_prefix('<')?;
    let (name, rest) = rest.split_once('>')?;
    let (flags, body) = rest.split_once('{')?;
    if !flags
        .split_whitespace()
        .all(|f| matches!(f, "const" | "persist" | "counters"))
    {
        return None;
    }
    let body = body.trim_end().strip_suffix('}')?;
    let entries = body
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|e| !e.is_empty())
        .collect();
    (!name.is_empty()).then(|| (name.to_owned(), entries))
}

/// Splits a rule into words, `"..."` as one word (quotes kept). Err: an unterminated quote.
fn split(line: &str) -> Result<Vec<String>, ()> {
    let mut words = Vec::new();
    let mut chars = line.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        let mut word = String::new();
        if c == '"' {
            word.push(chars.next().unwrap_or('"'));
            loop {
                match chars.next() {
                    Some('"') => break,
                    Some(c) => word.push(c),
                    None => return Err(()),
                }
            }
            word.push('"');
        } else {
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                word.push(c);
                chars.next();
            }
        }
        words.push(word);
    }
    Ok(words)
}

/// `10.0.0.0/8` or `10.0.0.1`.
fn element(s: &str) -> Option<(IpAddr, IpAddr)> {
    if let Ok(net) = s.parse::<IpNet>() {
        return Some((net.network(), net.broadcast()));
    }
    let a = s.parse::<IpAddr>().ok()?;
    Some((a, a))
}

/// The first port operand that is neither a number nor an operator (a service name).
fn service_name(words: &[String]) -> Option<&str> {
    let mut it = words.iter().map(String::as_str).peekable();
    while let Some(w) = it.next() {
        if w != "port" {
            continue;
        }
        if let Some(&op) = it.peek()
            && matches!(op, "=" | "!=" | "<" | "<=" | ">" | ">=")
        {
            it.next();
        }
        let operand = it.peek().copied()?;
        let first = operand.split(':').next().unwrap_or(operand);
        if !first.is_empty() && !first.bytes().all(|b| b.is_ascii_digit()) {
            return Some(operand);
        }
    }
    None
}

/// One side of `from`/`to`.
enum Addr {
    Table(String),
    /// `self` as pfctl would print it unexpanded.
    Myself,
    /// An address or network, without a `%scope`.
    Net(IpNet),
}

fn addr(w: &str) -> Option<Addr> {
    if let Some(name) = w.strip_prefix('<').and_then(|w| w.strip_suffix('>')) {
        return Some(Addr::Table(name.to_owned()));
    }
    if w == "self" {
        return Some(Addr::Myself);
    }
    let bare = w.split('%').next().unwrap_or(w);
    if let Ok(net) = bare.parse::<IpNet>() {
        return Some(Addr::Net(net));
    }
    bare.parse::<IpAddr>()
        .ok()
        .map(|a| Addr::Net(IpNet::from(a)))
}

fn family_of(net: &IpNet) -> Family {
    match net {
        IpNet::V4(_) => Family::V4,
        IpNet::V6(_) => Family::V6,
    }
}

/// `port = N`, `port N:M`, `port N >< M`, `port >= N` ...: the range, consuming the words.
fn port<'a>(it: &mut std::iter::Peekable<impl Iterator<Item = &'a str>>) -> Option<PortRange> {
    let num = |s: &str| s.parse::<u16>().ok();
    let first = it.next()?;
    match first {
        "=" => num(it.next()?)
            .map(PortRange::single)
            .filter(|p| p.first > 0),
        ">=" => PortRange::new(num(it.next()?)?, u16::MAX),
        ">" => PortRange::new(num(it.next()?)?.checked_add(1)?, u16::MAX),
        "<=" => PortRange::new(1, num(it.next()?)?),
        "<" => PortRange::new(1, num(it.next()?)?.checked_sub(1)?),
        range if range.contains(':') => {
            let (a, b) = range.split_once(':')?;
            PortRange::new(num(a)?, num(b)?)
        }
        n => {
            let a = num(n)?;
            match it.peek().copied() {
                Some("><") => {
                    it.next();
                    let b = num(it.next()?)?;
                    PortRange::new(a.checked_add(1)?, b.checked_sub(1)?)
                }
                _ => None,
            }
        }
    }
}

/// The rule as allow rules (one per family when pfctl printed none), when it has exactly the
/// shape abrfw writes.
fn allow(words: &[String], tables: &BTreeMap<String, AddressSet>) -> Option<Vec<AllowRule>> {
    let mut it = words.iter().map(String::as_str).peekable();
    if it.next()? != "pass" {
        return None;
    }
    let direction = match it.next()? {
        "in" => Direction::Inbound,
        "out" => Direction::Outbound,
        _ => return None,
    };
    if it.next()? != "quick" {
        return None;
    }
    let mut family = match it.peek().copied() {
        Some("inet") => Some(Family::V4),
        Some("inet6") => Some(Family::V6),
        _ => None,
    };
    if family.is_some() {
        it.next();
    }
    if it.next()? != "proto" {
        return None;
    }
    let protocol = match it.next()? {
        "tcp" => Protocol::Tcp,
        "udp" => Protocol::Udp,
        _ => return None,
    };
    if it.next()? != "from" {
        return None;
    }
    let from = addr(it.next()?)?;
    let mut sport = None;
    if it.peek() == Some(&"port") {
        it.next();
        sport = Some(port(&mut it)?);
    }
    if it.next()? != "to" {
        return None;
    }
    let to = addr(it.next()?)?;
    if it.next()? != "port" {
        return None;
    }
    let dport = port(&mut it)?;
    let (mut flags, mut flow) = (false, None);
    while let Some(w) = it.next() {
        match w {
            "flags" if protocol == Protocol::Tcp && !flags => {
                if it.next()? != "S/SA" {
                    return None;
                }
                flags = true;
            }
            "keep" => {
                if it.next()? != "state" {
                    return None;
                }
            }
            "label" => {
                let l = it.next()?;
                flow = Some(l.trim_matches('"').to_owned()).filter(|l| !l.is_empty());
            }
            _ => return None,
        }
    }
    // Without `flags S/SA` a TCP pass is `flags any` (pfctl prints that): not abrfw's shape.
    if protocol == Protocol::Tcp && !flags {
        return None;
    }
    let (local, peer) = match direction {
        Direction::Inbound => (to, from),
        Direction::Outbound => (from, to),
    };
    // The host's side is an address of its own (what `self` expands to).
    match &local {
        Addr::Myself => {}
        Addr::Net(net) => {
            let f = family_of(net);
            if family.is_some_and(|x| x != f) {
                return None;
            }
            family = Some(f);
        }
        Addr::Table(_) => return None,
    }
    let families: Vec<Family> = family.map_or_else(|| Family::ALL.to_vec(), |f| vec![f]);
    let mut out = Vec::new();
    for f in families {
        let peers = match &peer {
            Addr::Table(name) => {
                let set = tables.get(name)?;
                AddressSet::from_nets(
                    set.texts()
                        .iter()
                        .filter_map(|t| t.parse::<IpNet>().ok().or_else(|| ip_net(t)))
                        .filter(|n| family_of(n) == f),
                )
            }
            Addr::Net(net) if family_of(net) == f => AddressSet::from_nets([*net]),
            Addr::Net(_) => AddressSet::default(),
            Addr::Myself => return None,
        };
        out.push(AllowRule {
            direction,
            family: f,
            protocol,
            destination_port: dport,
            source_ports: sport,
            peers,
            flow: flow.clone(),
        });
    }
    Some(out)
}

fn ip_net(t: &str) -> Option<IpNet> {
    t.parse::<IpAddr>().ok().map(IpNet::from)
}

/// `block [drop] in|out [log] quick on ! lo0 all` (`drop`, `drop log`) and
/// `pass out quick on ! lo0 all [flags S/SA] [keep state]` (`accept`): the direction and policy.
fn policy(words: &[String]) -> Option<(&'static str, String)> {
    let w: Vec<&str> = words.iter().map(String::as_str).collect();
    let (action, rest) = match w.as_slice() {
        ["block", "drop", rest @ ..] | ["block", rest @ ..] => ("drop", rest),
        ["pass", rest @ ..] => ("accept", rest),
        _ => return None,
    };
    let (dir, rest) = match rest {
        ["in", rest @ ..] => ("in", rest),
        ["out", rest @ ..] => ("out", rest),
        _ => return None,
    };
    let (log, rest) = match rest {
        ["log", rest @ ..] if action == "drop" => (true, rest),
        rest => (false, rest),
    };
    let tail = match rest {
        ["quick", "on", "!", "lo0", "all", tail @ ..] => tail,
        _ => return None,
    };
    match (action, tail) {
        ("drop", []) => Some((dir, if log { "drop log" } else { "drop" }.to_owned())),
        (
            "accept",
            [] | ["flags", "S/SA", "keep", "state"] | ["flags", "S/SA"] | ["keep", "state"],
        ) if dir == "out" => Some((dir, "accept".to_owned())),
        _ => None,
    }
}

/// pfctl's name of an ICMPv6 type (its `icmp6_type` table), as a number.
fn icmp6_number(name: &str) -> Option<u8> {
    Some(match name {
        "unreach" => 1,
        "toobig" => 2,
        "timex" => 3,
        "paramprob" => 4,
        "echoreq" => 128,
        "echorep" => 129,
        "groupqry" | "listqry" => 130,
        "grouprep" | "listenrep" => 131,
        "groupterm" | "listendone" => 132,
        "routersol" => 133,
        "routeradv" => 134,
        "neighbrsol" => 135,
        "neighbradv" => 136,
        "redir" => 137,
        "routrrenum" => 138,
        "listenrepv2" => 143,
        n => return n.parse().ok(),
    })
}

/// A rule that is not an allow rule nor a policy, in pfctl's words: ICMPv6 types as numbers
/// (one rule per type of a `{ }` list), `icmp6` as `ipv6-icmp`.
fn other_texts(words: &[String]) -> Vec<String> {
    let mut words: Vec<String> = words
        .iter()
        .map(|w| {
            if w == "icmp6" {
                "ipv6-icmp".to_owned()
            } else {
                w.clone()
            }
        })
        .collect();
    let Some(i) = words.iter().position(|w| w == "icmp6-type") else {
        return vec![words.join(" ")];
    };
    let mut types = Vec::new();
    let mut end = i + 1;
    if words.get(end).map(String::as_str) == Some("{") {
        end += 1;
        while let Some(w) = words.get(end) {
            end += 1;
            if w == "}" {
                break;
            }
            types.extend(w.split(',').filter(|t| !t.is_empty()).map(|t| t.to_owned()));
        }
    } else if let Some(w) = words.get(end) {
        types.push(w.clone());
        end += 1;
    }
    let tail = words.split_off(end);
    words.truncate(i + 1);
    types
        .iter()
        .map(|t| {
            let n = icmp6_number(t).map_or_else(|| t.clone(), |n| n.to_string());
            let mut all = words.clone();
            all.push(n);
            all.extend(tail.iter().cloned());
            all.join(" ")
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use abrfw_core::verify::compare;

    /// Anchor abrfw as pfctl prints it once fixtures/expected/pf/nas/pf.conf is loaded on the
    /// FreeBSD host nas (203.0.113.45, 2001:db8:0:30::45 on em0; `self` also expands to lo0's
    /// 127.0.0.1, ::1, fe80::1%lo0 and em0's link-local address): fixtures/live/pf-nas.live,
    /// written by hand from pfctl's printing code, since no pfctl runs here.
    fn fixtures() -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
    }

    static NAS_LIVE: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        std::fs::read_to_string(fixtures().join("live/pf-nas.live")).unwrap()
    });

    fn nas() -> HostRules {
        let root = fixtures();
        let topology = std::fs::read_to_string(root.join("topologies/pf.toml")).unwrap();
        let catalog = abrfw_core::Catalog::builtin();
        let topology = abrfw_core::topology::parse("pf.toml", &topology, &catalog).unwrap();
        let hosts = abrfw_core::compile(&catalog, &topology).unwrap();
        hosts.into_iter().find(|h| h.host == "nas").unwrap()
    }

    #[test]
    fn the_anchor_loaded_from_the_golden_matches() {
        let live = parse_live(&NAS_LIVE).unwrap();
        let report = compare(&expected(&nas()), &live);
        assert!(report.is_empty(), "{report:#?}");
    }

    fn report(live: &str) -> abrfw_core::verify::Report {
        compare(&expected(&nas()), &parse_live(live).unwrap())
    }

    #[test]
    fn a_removed_rule_is_missing_with_its_flow_id() {
        let live: String = NAS_LIVE
            .lines()
            .filter(|l| !(l.contains("inet proto") && l.contains("agent-vault-nfs")))
            .map(|l| format!("{l}\n"))
            .collect();
        let r = report(&live);
        assert_eq!(r.len(), 1, "{r:#?}");
        assert_eq!(r.missing[0].flow.as_deref(), Some("agent-vault-nfs"));
        assert_eq!(r.missing[0].family, Family::V4);
        assert_eq!(r.missing[0].destination_port, PortRange::single(2049));
    }

    #[test]
    fn a_foreign_pass_rule_is_extra() {
        let live = format!(
            "{}pass in quick inet proto tcp from 192.0.2.99 to 203.0.113.45 port = 3389 \
             flags S/SA keep state\n",
            *NAS_LIVE
        );
        let r = report(&live);
        assert_eq!(r.len(), 1, "{r:#?}");
        assert_eq!(r.extra[0].destination_port, PortRange::single(3389));
        assert_eq!(r.extra[0].peers.texts(), ["192.0.2.99"]);
        assert_eq!(r.extra[0].flow, None);
        // Not abrfw's shape (`to any` is not one of the host's addresses): a foreign other rule.
        let r = report(&format!(
            "{}pass in quick inet proto tcp from any to any port = 80 flags S/SA keep state\n",
            *NAS_LIVE
        ));
        assert_eq!(r.extra_other.len(), 1, "{r:#?}");
    }

    #[test]
    fn a_table_missing_an_address_changes_the_peers() {
        // 198.51.100.127 is gone from the agents' table: both flows that use it changed.
        let live = NAS_LIVE.replace(
            "{ 198.51.100.0/25 2001:db8:0:20::/64 }",
            "{ 198.51.100.0/26 198.51.100.64/27 198.51.100.96/28 198.51.100.112/29 \
             198.51.100.120/30 198.51.100.124/31 198.51.100.126 2001:db8:0:20::/64 }",
        );
        let r = report(&live);
        assert_eq!(r.len(), 2, "{r:#?}");
        let mut flows: Vec<&str> = r.changed.iter().map(|c| c.flow.as_str()).collect();
        flows.sort_unstable();
        assert_eq!(flows, ["agent-vault-nfs", "agent-vault-smb"]);
        assert!(r.changed.iter().all(|c| c.fields == ["peers"]));
        // A table that loses every address of one family: that family's rule is missing (its
        // live rule accepts nothing).
        let live = NAS_LIVE.replace(
            "{ 198.51.100.200 2001:db8:0:20::200 }",
            "{ 2001:db8:0:20::200 }",
        );
        let r = report(&live);
        assert_eq!(r.len(), 1, "{r:#?}");
        assert_eq!(r.missing[0].flow.as_deref(), Some("allow:nas-admin"));
    }

    #[test]
    fn the_policy_comes_from_the_block_rules() {
        let live = NAS_LIVE.replace(
            "block drop out quick on ! lo0 all",
            "pass out quick on ! lo0 all flags S/SA keep state",
        );
        let r = report(&live);
        assert_eq!(r.policies.len(), 1, "{r:#?}");
        assert_eq!(r.policies[0].live.as_deref(), Some("accept"));
    }

    #[test]
    fn other_printed_forms_read_the_same() {
        // OpenBSD leaves out the default `keep state`; ICMPv6 types as a list and by number;
        // ports as a range pfctl prints with `><` or `>=`.
        let r = |rule: &str| {
            parse_live(&format!("table <t> {{ 192.0.2.1 }}\n{rule}\n"))
                .unwrap()
                .allows
        };
        let a = r(
            "pass in quick inet proto tcp from <t> port 1023 >< 1100 to 10.0.0.1 port = 22 flags S/SA label \"x\"",
        );
        assert_eq!(a[0].source_ports, PortRange::new(1024, 1099));
        let a = r(
            "pass out quick inet proto udp from 10.0.0.1 port >= 49152 to <t> port = 53 keep state",
        );
        assert_eq!(a[0].source_ports, PortRange::new(49152, 65535));
        assert_eq!(a[0].direction, Direction::Outbound);
        let s =
            parse_live("pass in quick inet6 proto icmp6 all icmp6-type { unreach, 2 } no state\n")
                .unwrap();
        assert_eq!(
            s.others.iter().map(|o| o.text.as_str()).collect::<Vec<_>>(),
            [icmp6_text("in", "1"), icmp6_text("in", "2")]
        );
    }

    #[test]
    fn unreadable_files_are_located() {
        let e = parse_live("table <t> { 192.0.2.1 }\npass in quick inet proto tcp from <t> to 10.0.0.1 port = ssh flags S/SA\n").unwrap_err();
        assert_eq!((e.line, e.column), (2, 58), "{e:?}");
        assert!(e.message.contains("service name"), "{e:?}");
        let e =
            parse_live("pass in quick inet proto tcp from <u> to 10.0.0.1 port = 22 flags S/SA\n")
                .unwrap_err();
        assert_eq!((e.line, e.column), (1, 35), "{e:?}");
        let e = parse_live("table <t> { 192.0.2.1 nonsense }\n").unwrap_err();
        assert_eq!((e.line, e.column), (1, 23), "{e:?}");
        let e = parse_live("No ALTQ support in kernel\n").unwrap_err();
        assert_eq!((e.line, e.column), (1, 1), "{e:?}");
    }

    /// The rendered pf.conf as pfctl would print it once loaded on a host with the addresses
    /// 192.0.2.1 and 2001:db8::1: tables as `-T show` lists them, `self` one rule per address
    /// with its family, `port = N`, ICMPv6 lists one rule per type, a pass's default state.
    fn as_pfctl_prints(conf: &str) -> String {
        let mut out = String::new();
        for line in conf.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            if let Some(rest) = line.strip_prefix("table ") {
                let rest = rest.replace(" const ", " ").replace(',', "");
                out.push_str(&format!("table {rest}\n"));
                continue;
            }
            if line.contains("icmp6-type {") {
                let (head, tail) = line.split_once("icmp6-type { ").unwrap();
                let (types, tail) = tail.split_once(" }").unwrap();
                for t in types.split(", ") {
                    let head = head.replace("proto icmp6", "proto ipv6-icmp");
                    out.push_str(&format!("{head}icmp6-type {t}{tail}\n"));
                }
                continue;
            }
            if line == "pass out quick on ! lo0 all" {
                out.push_str(&format!("{line} flags S/SA keep state\n"));
                continue;
            }
            if !line.contains(" self") {
                out.push_str(&format!("{line}\n"));
                continue;
            }
            let words: Vec<&str> = line.split(' ').collect();
            for (family, me) in [("inet", "192.0.2.1"), ("inet6", "2001:db8::1")] {
                let mut printed = Vec::new();
                let mut it = words.iter().peekable();
                while let Some(&w) = it.next() {
                    match w {
                        "self" => printed.push(me.to_owned()),
                        "port" => {
                            printed.push("port".to_owned());
                            let p = it.next().unwrap();
                            if !p.contains(':') {
                                printed.push("=".to_owned());
                            }
                            printed.push((*p).to_owned());
                        }
                        w => printed.push(w.to_owned()),
                    }
                    if w == "quick" {
                        printed.push(family.to_owned());
                    }
                }
                out.push_str(&printed.join(" "));
                out.push('\n');
            }
        }
        out
    }

    /// Every pf host of the fixture sites (drop and fragment, with drop logging, with outbound
    /// "accept"): its rendered pf.conf, as pfctl prints it, matches what `expected` says.
    #[test]
    fn every_fixture_pf_host_matches_its_own_file_as_pfctl_prints_it() {
        let catalog = abrfw_core::Catalog::builtin();
        let mut seen = 0;
        for entry in std::fs::read_dir(fixtures().join("topologies")).unwrap() {
            let path = entry.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            let name = path.display().to_string();
            let Ok(topology) = abrfw_core::topology::parse(&name, &text, &catalog) else {
                continue;
            };
            let Ok(hosts) = abrfw_core::compile(&catalog, &topology) else {
                continue;
            };
            for host in hosts.iter().filter(|h| {
                matches!(
                    h.os,
                    abrfw_core::Os::Freebsd | abrfw_core::Os::Openbsd | abrfw_core::Os::Macos
                )
            }) {
                let files = crate::render(host, &crate::Options::default()).unwrap();
                let printed = as_pfctl_prints(&files[0].1);
                let live = parse_live(&printed)
                    .unwrap_or_else(|e| panic!("{name} {}: {e:?}\n{printed}", host.host));
                let report = compare(&expected(host), &live);
                assert!(
                    report.is_empty(),
                    "{name} {}: {report:#?}\n{printed}",
                    host.host
                );
                seen += 1;
            }
        }
        // nfs-v3, pf-fragment, pf (2), logging, services, host-policy (outbound = "accept").
        assert!(seen >= 7, "only {seen} pf hosts in the fixtures");
    }
}

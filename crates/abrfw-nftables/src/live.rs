//! `abrfw verify` for nftables: reads `nft -j list table inet abrfw` into a neutral
//! [`State`], and says which [`State`] a host's `nftables.nft` loads.
//!
//! Only `table inet abrfw` counts (a fragment host's `abrfw_in`/`abrfw_out` chains count in any
//! table, since the site includes them in its own). A rule in `abrfw_in` or `abrfw_out` of the
//! shape the template writes (`ip saddr @set [tcp sport a-b] tcp dport p ct state new [counter]
//! accept`) is an allow rule; every other rule becomes an [`OtherRule`] whose text is the rule
//! in nft's words, set elements sorted, counters dropped.

use std::collections::BTreeMap;
use std::net::IpAddr;

use abrfw_core::icmpv6::icmpv6_accepted;
use abrfw_core::ir::LOG_RATE_PER_MINUTE;
use abrfw_core::verify::{AddressSet, AllowRule, LiveError, OtherRule, State, allow_rules};
use abrfw_core::{Direction, Family, HostRules, Policy, PortRange, Protocol};
use serde_json::Value;

/// The command whose output `abrfw verify` reads.
pub const LIVE_COMMAND: &str = "nft -j list table inet abrfw";

const HINT: &str = "give the JSON that `nft -j list table inet abrfw` prints (nft 0.9.3 or later)";

/// nft's name of an ICMPv6 type number, as `nft -j` prints it (the template writes numbers).
fn nft_icmpv6_name(number: u8) -> String {
    match number {
        1 => "destination-unreachable".to_owned(),
        2 => "packet-too-big".to_owned(),
        3 => "time-exceeded".to_owned(),
        4 => "parameter-problem".to_owned(),
        128 => "echo-request".to_owned(),
        129 => "echo-reply".to_owned(),
        130 => "mld-listener-query".to_owned(),
        131 => "mld-listener-report".to_owned(),
        132 => "mld-listener-done".to_owned(),
        133 => "nd-router-solicit".to_owned(),
        134 => "nd-router-advert".to_owned(),
        135 => "nd-neighbor-solicit".to_owned(),
        136 => "nd-neighbor-advert".to_owned(),
        137 => "nd-redirect".to_owned(),
        143 => "mld2-listener-report".to_owned(),
        n => n.to_string(),
    }
}

/// The state `nftables.nft` loads for `host`: its allow rules, and for a complete rule set the
/// input and output base chains with their policy and fixed rules.
pub fn expected(host: &HostRules) -> State {
    let mut state = State {
        allows: allow_rules(host),
        ..State::default()
    };
    if host.policy == Policy::Fragment {
        state.scope = Some(vec!["abrfw_in".to_owned(), "abrfw_out".to_owned()]);
        return state;
    }
    for (chain, iface, jump, log) in [
        ("input", "iif", "abrfw_in", "abrfw-drop-in "),
        ("output", "oif", "abrfw_out", "abrfw-drop-out "),
    ] {
        if chain == "output" && !host.drops_outbound() {
            // outbound = "accept": the chain accepts by default and only counts abrfw_out.
            state.policies.insert(chain.to_owned(), "accept".to_owned());
            state
                .others
                .push(OtherRule::new(chain, format!("jump {jump}")));
            continue;
        }
        state.policies.insert(chain.to_owned(), "drop".to_owned());
        let direction = if chain == "input" {
            Direction::Inbound
        } else {
            Direction::Outbound
        };
        let mut icmp: Vec<String> = icmpv6_accepted(direction)
            .map(|t| nft_icmpv6_name(t.number))
            .collect();
        icmp.sort_unstable();
        let mut rules = vec![
            format!("{iface} lo accept"),
            "ct state established,related accept".to_owned(),
            "ct state invalid drop".to_owned(),
            format!("icmpv6 type {{ {} }} accept", icmp.join(", ")),
            format!("jump {jump}"),
        ];
        if host.log.drops() {
            rules.push(format!(
                "limit rate {LOG_RATE_PER_MINUTE}/minute burst 5 packets log prefix \"{log}\" level info"
            ));
        }
        state
            .others
            .extend(rules.into_iter().map(|r| OtherRule::new(chain, r)));
    }
    state
}

/// Reads the JSON of `nft -j list table inet abrfw` (or `nft -j list ruleset`).
pub fn parse_live(text: &str) -> Result<State, LiveError> {
    let doc: Value = serde_json::from_str(text).map_err(|e| {
        let hint = if text.trim_start().starts_with("table") {
            "this is nft's text output; give the JSON of `nft -j list table inet abrfw`"
        } else {
            HINT
        };
        LiveError::new(
            e.line().max(1),
            e.column().max(1),
            format!("not JSON: {e}"),
            hint,
        )
    })?;
    let Some(items) = doc.get("nftables").and_then(Value::as_array) else {
        return Err(LiveError::new(
            1,
            1,
            "no \"nftables\" array: this is not the JSON nft prints",
            HINT,
        ));
    };
    // Sets first (rules refer to them by name), per table.
    let mut sets: BTreeMap<(String, String), AddressSet> = BTreeMap::new();
    for item in items {
        if let Some(set) = item.get("set") {
            let key = (str_of(set, "table"), str_of(set, "name"));
            let elems = set.get("elem").and_then(Value::as_array);
            let ranges = elems.into_iter().flatten().filter_map(element_range);
            sets.insert(key, AddressSet::from_ranges(ranges));
        }
    }
    let mut state = State::default();
    for item in items {
        if let Some(chain) = item.get("chain") {
            if !ours(&str_of(chain, "table"), &str_of(chain, "family"), "") {
                continue;
            }
            if let Some(policy) = chain.get("policy").and_then(Value::as_str) {
                state
                    .policies
                    .insert(str_of(chain, "name"), policy.to_owned());
            }
        }
        let Some(rule) = item.get("rule") else {
            continue;
        };
        let (table, chain) = (str_of(rule, "table"), str_of(rule, "chain"));
        if !ours(&table, &str_of(rule, "family"), &chain) {
            continue;
        }
        let exprs = rule.get("expr").and_then(Value::as_array);
        let exprs: &[Value] = exprs.map_or(&[], Vec::as_slice);
        let comment = rule.get("comment").and_then(Value::as_str);
        let direction = match chain.as_str() {
            "abrfw_in" => Some(Direction::Inbound),
            "abrfw_out" => Some(Direction::Outbound),
            _ => None,
        };
        match direction.and_then(|d| allow(d, exprs, comment, &table, &sets)) {
            Some(a) => state.allows.push(a),
            None => state.others.push(OtherRule::new(chain, rule_text(exprs))),
        }
    }
    Ok(state)
}

/// `table inet abrfw`, or an `abrfw_in`/`abrfw_out` chain anywhere (a fragment).
fn ours(table: &str, family: &str, chain: &str) -> bool {
    (table == "abrfw" && family == "inet") || chain == "abrfw_in" || chain == "abrfw_out"
}

fn str_of(v: &Value, key: &str) -> String {
    v.get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// A set element or a literal right-hand side as an address range.
fn element_range(v: &Value) -> Option<(IpAddr, IpAddr)> {
    if let Some(s) = v.as_str() {
        let a: IpAddr = s.parse().ok()?;
        return Some((a, a));
    }
    if let Some(p) = v.get("prefix") {
        let addr: IpAddr = p.get("addr")?.as_str()?.parse().ok()?;
        let len = u8::try_from(p.get("len")?.as_u64()?).ok()?;
        let net = abrfw_core::ipnet::IpNet::new(addr, len).ok()?;
        return Some((net.network(), net.broadcast()));
    }
    if let Some(r) = v.get("range").and_then(Value::as_array) {
        let a: IpAddr = r.first()?.as_str()?.parse().ok()?;
        let b: IpAddr = r.get(1)?.as_str()?.parse().ok()?;
        return Some((a, b));
    }
    // An element with options (counter, timeout, comment): `{"elem": {"val": ...}}`.
    element_range(v.get("elem")?.get("val")?)
}

/// The rule as an allow rule, when it has exactly the template's shape.
fn allow(
    direction: Direction,
    exprs: &[Value],
    comment: Option<&str>,
    table: &str,
    sets: &BTreeMap<(String, String), AddressSet>,
) -> Option<AllowRule> {
    let want_field = match direction {
        Direction::Inbound => "saddr",
        Direction::Outbound => "daddr",
    };
    let (mut family, mut peers, mut protocol) = (None, None, None);
    let (mut sport, mut dport, mut new, mut accept) = (None, None, false, false);
    for e in exprs {
        if accept {
            return None;
        }
        if e.get("counter").is_some() {
            continue;
        }
        if e.get("accept").is_some() {
            accept = true;
            continue;
        }
        let m = e.get("match")?;
        let (op, left, right) = (m.get("op")?.as_str()?, m.get("left")?, m.get("right")?);
        if let Some(ct) = left.get("ct") {
            if ct.get("key")?.as_str()? == "state" && op == "in" && right.as_str()? == "new" {
                new = true;
                continue;
            }
            return None;
        }
        if op != "==" {
            return None;
        }
        let payload = left.get("payload")?;
        let (proto, field) = (
            payload.get("protocol")?.as_str()?,
            payload.get("field")?.as_str()?,
        );
        match (proto, field) {
            ("ip" | "ip6", f) if f == want_field && peers.is_none() => {
                family = Some(if proto == "ip" {
                    Family::V4
                } else {
                    Family::V6
                });
                peers = Some(match right.as_str().and_then(|s| s.strip_prefix('@')) {
                    Some(name) => sets.get(&(table.to_owned(), name.to_owned()))?.clone(),
                    None => match right.get("set").and_then(Value::as_array) {
                        Some(list) => {
                            AddressSet::from_ranges(list.iter().filter_map(element_range))
                        }
                        None => AddressSet::from_ranges([element_range(right)?]),
                    },
                });
            }
            ("tcp" | "udp", "sport" | "dport") => {
                let p = if proto == "tcp" {
                    Protocol::Tcp
                } else {
                    Protocol::Udp
                };
                if protocol.is_some_and(|q| q != p) {
                    return None;
                }
                protocol = Some(p);
                let range = port_range(right)?;
                let slot = if field == "sport" {
                    &mut sport
                } else {
                    &mut dport
                };
                if slot.replace(range).is_some() {
                    return None;
                }
            }
            _ => return None,
        }
    }
    if !(accept && new) {
        return None;
    }
    Some(AllowRule {
        direction,
        family: family?,
        protocol: protocol?,
        destination_port: dport?,
        source_ports: sport,
        peers: peers?,
        flow: comment.and_then(flow_of),
    })
}

/// The flow id at the start of a rule comment, `agent-ms: purpose` or `allow:ssh: purpose`.
pub(crate) fn flow_of(comment: &str) -> Option<String> {
    comment
        .split_once(": ")
        .map(|(id, _)| id.to_owned())
        .filter(|id| !id.is_empty())
}

fn port_range(v: &Value) -> Option<PortRange> {
    if let Some(n) = v.as_u64() {
        return PortRange::new(u16::try_from(n).ok()?, u16::try_from(n).ok()?);
    }
    let r = v.get("range")?.as_array()?;
    PortRange::new(
        u16::try_from(r.first()?.as_u64()?).ok()?,
        u16::try_from(r.get(1)?.as_u64()?).ok()?,
    )
}

/// A rule in nft's words: `ct state established,related accept`, `iif lo accept`, set
/// elements sorted, counters left out.
fn rule_text(exprs: &[Value]) -> String {
    let words: Vec<String> = exprs
        .iter()
        .filter(|e| e.get("counter").is_none())
        .map(expr_text)
        .collect();
    words.join(" ")
}

fn expr_text(e: &Value) -> String {
    let Some(obj) = e.as_object() else {
        return e.to_string();
    };
    let Some((key, body)) = obj.iter().next().filter(|_| obj.len() == 1) else {
        return e.to_string();
    };
    match (key.as_str(), body) {
        ("accept" | "drop" | "return" | "continue", _) => key.clone(),
        ("jump" | "goto", b) => format!("{key} {}", str_of(b, "target")),
        ("match", m) => {
            let op = m.get("op").and_then(Value::as_str).unwrap_or("==");
            let left = m.get("left").map(value_text).unwrap_or_default();
            let right = m.get("right").map(value_text).unwrap_or_default();
            match op {
                "==" | "in" => format!("{left} {right}"),
                _ => format!("{left} {op} {right}"),
            }
        }
        ("limit", l) => {
            let rate = l.get("rate").map(value_text).unwrap_or_default();
            let per = l.get("per").and_then(Value::as_str).unwrap_or("second");
            let mut s = format!("limit rate {rate}/{per}");
            if let Some(burst) = l.get("burst") {
                s.push_str(&format!(" burst {} packets", value_text(burst)));
            }
            s
        }
        ("log", l) => {
            let mut s = "log".to_owned();
            if let Some(p) = l.get("prefix").and_then(Value::as_str) {
                s.push_str(&format!(" prefix \"{p}\""));
            }
            if let Some(level) = l.get("level").and_then(Value::as_str) {
                s.push_str(&format!(" level {level}"));
            }
            s
        }
        _ => e.to_string(),
    }
}

fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Array(list) => {
            let mut items: Vec<String> = list.iter().map(value_text).collect();
            items.sort();
            items.join(",")
        }
        Value::Object(o) => {
            if let Some(p) = o.get("payload") {
                format!("{} {}", str_of(p, "protocol"), str_of(p, "field"))
            } else if let Some(m) = o.get("meta") {
                let key = str_of(m, "key");
                match key.as_str() {
                    "iif" | "oif" | "iifname" | "oifname" => key,
                    _ => format!("meta {key}"),
                }
            } else if let Some(ct) = o.get("ct") {
                format!("ct {}", str_of(ct, "key"))
            } else if let Some(set) = o.get("set").and_then(Value::as_array) {
                let mut items: Vec<String> = set.iter().map(value_text).collect();
                items.sort();
                format!("{{ {} }}", items.join(", "))
            } else if let Some(r) = o.get("range").and_then(Value::as_array) {
                let items: Vec<String> = r.iter().map(value_text).collect();
                items.join("-")
            } else if let Some(p) = o.get("prefix") {
                format!(
                    "{}/{}",
                    p.get("addr").map(value_text).unwrap_or_default(),
                    p.get("len").map(value_text).unwrap_or_default()
                )
            } else {
                v.to_string()
            }
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_output_is_refused_with_a_hint_towards_json() {
        let e = parse_live("table inet abrfw {\n}\n").unwrap_err();
        assert_eq!(e.line, 1);
        assert!(e.hint.contains("nft -j list table inet abrfw"), "{e:?}");
    }

    #[test]
    fn flow_ids_come_from_the_comment_up_to_colon_space() {
        assert_eq!(
            flow_of("allow:ssh: Admin SSH").as_deref(),
            Some("allow:ssh")
        );
        assert_eq!(flow_of("agent-ms: x: y").as_deref(), Some("agent-ms"));
        assert_eq!(flow_of("no id"), None);
    }
}

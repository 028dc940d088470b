//! Mistakes a site file makes that every single value passes: two hosts with one address, a
//! host inside another host's network, a zone name one letter off the zone a gateway routes.

use std::collections::BTreeMap;
use std::ops::Range;

use ipnet::IpNet;

use crate::diagnostic::Diagnostic;
use crate::ir::address_text;
use crate::topology::raw::{RawHost, RawZone};
use crate::topology::{Gateway, Host, parse_address, suggest};

/// How many contained hosts a warning names before it counts the rest.
const NAMED: usize = 3;

/// Errors for an address or network written on two hosts; warnings for a host's network that
/// contains other hosts' addresses (a network host stands for machines the topology does not
/// list one by one, and the hosts inside it get its rules too). One sort, one sweep: fit for
/// tens of thousands of hosts.
pub(crate) fn addresses(
    raw: &[RawHost],
    line_of: impl Fn(usize) -> usize,
) -> (Vec<Diagnostic>, Vec<Diagnostic>) {
    let mut all: Vec<(IpNet, usize, Range<usize>)> = Vec::new();
    for (i, h) in raw.iter().enumerate() {
        for a in h.addresses.get_ref() {
            if let Ok(net) = parse_address(a.get_ref()) {
                all.push((net, i, a.span()));
            }
        }
    }
    // Networks before the networks and addresses inside them; equal ones in file order.
    all.sort_by(|a, b| {
        (a.0.network(), a.0.prefix_len(), a.2.start).cmp(&(
            b.0.network(),
            b.0.prefix_len(),
            b.2.start,
        ))
    });
    let name = |i: usize| raw[i].name.get_ref();
    let mut errors = Vec::new();
    // Per containing entry of `all`: the other hosts inside its network.
    let mut inside: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    let mut open: Vec<usize> = Vec::new(); // indexes into `all`, each containing the next
    for k in 0..all.len() {
        let (net, host, ref span) = all[k];
        if k > 0 && all[k - 1].0 == net {
            let (_, first, ref first_span) = all[k - 1];
            if first != host {
                let what = if net.prefix_len() == net.max_prefix_len() {
                    "address"
                } else {
                    "network"
                };
                errors.push(
                    Diagnostic::new(
                        format!(
                            "{what} {} of host {:?} is also written on host {:?} (line {})",
                            address_text(net),
                            name(host),
                            name(first),
                            line_of(first_span.start)
                        ),
                        span.clone(),
                    )
                    .help(format!(
                        "an address belongs to one host: remove it from {:?} or {:?}; one machine with several components is one [[host]] with several roles",
                        name(host),
                        name(first)
                    )),
                );
            }
            continue;
        }
        while let Some(&top) = open.last() {
            if all[top].0.contains(&net) {
                break;
            }
            open.pop();
        }
        if let Some(&outer) = open.iter().rev().find(|&&o| all[o].1 != host) {
            let hosts = inside.entry(outer).or_default();
            if !hosts.contains(&host) {
                hosts.push(host);
            }
        }
        open.push(k);
    }
    let warnings = inside
        .into_iter()
        .map(|(outer, hosts)| {
            let (net, outer, ref span) = all[outer];
            let mut names: Vec<String> = hosts
                .iter()
                .take(NAMED)
                .map(|&h| format!("{:?}", name(h)))
                .collect();
            if hosts.len() > NAMED {
                names.push(format!("{} more", hosts.len() - NAMED));
            }
            let (s, get) = if hosts.len() == 1 {
                ("", "gets")
            } else {
                ("s", "get")
            };
            Diagnostic::new(
                format!(
                    "network {} of host {:?} contains host{s} {}",
                    address_text(net),
                    name(outer),
                    names.join(", ")
                ),
                span.clone(),
            )
            .help(format!(
                "the rules of {:?} apply to every address in {}, so the host{s} inside {get} them too; if {:?} stands for other machines, list their addresses or a network that leaves the host{s} out",
                name(outer),
                address_text(net),
                name(outer),
            ))
        })
        .collect();
    (errors, warnings)
}

/// A zone written on exactly one host, declared by no `[[zone]]` and routed by no gateway,
/// whose name is a near miss of a zone a gateway routes: almost surely a typo that quietly
/// keeps the host out of every gateway's rules. An error at the host's `zone`.
pub(crate) fn zone_typos(
    raw: &[RawHost],
    declared: &[RawZone],
    hosts: &[Host],
    gateways: &[Gateway],
) -> Vec<Diagnostic> {
    if gateways.is_empty() {
        return Vec::new();
    }
    let mut users: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, h) in hosts.iter().enumerate() {
        users.entry(h.zone.as_str()).or_default().push(i);
    }
    let routed: Vec<&str> = {
        let mut z: Vec<&str> = gateways
            .iter()
            .flat_map(|g| g.zones.iter().map(|(z, _)| z.as_str()))
            .collect();
        z.sort_unstable();
        z.dedup();
        z
    };
    let mut out = Vec::new();
    for (zone, members) in &users {
        let [only] = members[..] else { continue };
        if routed.contains(zone) || declared.iter().any(|z| z.name.get_ref() == zone) {
            continue;
        }
        let Some(span) = raw
            .get(only)
            .and_then(|h| h.zone.as_ref())
            .map(|z| z.span())
        else {
            continue;
        };
        let Some(meant) = suggest(zone, &routed) else {
            continue;
        };
        let gateway = gateways
            .iter()
            .find(|g| g.zones.iter().any(|(z, _)| z == meant))
            .map_or("", |g| g.name.as_str());
        out.push(
            Diagnostic::new(
                format!(
                    "zone {zone:?} of host {:?} is no other host's zone and no gateway routes it",
                    hosts[only].name
                ),
                span,
            )
            .help(format!(
                "did you mean {meant:?} (routed by gateway {gateway:?})? As written, no gateway forwards to or from {:?}. If {zone:?} is a zone of its own, declare it: [[zone]] name = {zone:?}",
                hosts[only].name
            )),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use std::fmt::Write as _;

    use crate::Catalog;
    use crate::topology::parse;

    fn host(name: &str, addresses: &str) -> String {
        format!(
            "[[host]]\nname = \"{name}\"\nos = \"linux\"\naddresses = [{addresses}]\nroles = [\"agent\"]\n"
        )
    }

    fn messages(text: &str) -> (Vec<String>, Vec<String>) {
        let text = format!("[options]\npolicy = \"fragment\"\n{text}");
        match parse("t.toml", &text, &Catalog::builtin()) {
            Ok(t) => (
                Vec::new(),
                t.warnings.into_iter().map(|d| d.message).collect(),
            ),
            Err(e) => (
                e.diagnostics.into_iter().map(|d| d.message).collect(),
                Vec::new(),
            ),
        }
    }

    #[test]
    fn equal_addresses_and_networks_on_two_hosts_are_errors_and_one_host_repeating_itself_is_not() {
        let text = [
            host("a", r#""10.0.0.1", "fd00::1""#),
            host("b", r#""10.0.0.1""#),
            host("c", r#""fd00::1/128", "10.1.0.0/16""#),
            host("d", r#""10.1.0.0/16", "10.2.0.1", "10.2.0.1""#),
        ]
        .concat();
        let (errors, _) = messages(&text);
        assert_eq!(
            errors,
            [
                "address 10.0.0.1 of host \"b\" is also written on host \"a\" (line 6)",
                "address fd00::1 of host \"c\" is also written on host \"a\" (line 6)",
                "network 10.1.0.0/16 of host \"d\" is also written on host \"c\" (line 16)",
            ]
        );
    }

    #[test]
    fn a_network_holding_other_hosts_warns_once_naming_three() {
        let mut text = host("office", r#""10.1.0.0/16", "fd00:1::/64""#);
        for i in 0..5 {
            text.push_str(&host(&format!("pc{i}"), &format!("\"10.1.0.{}\"", i + 1)));
        }
        // A host's own addresses inside its own network are no overlap.
        text.push_str(&host("self", r#""10.9.0.0/24", "10.9.0.1""#));
        let (errors, warnings) = messages(&text);
        assert_eq!(errors, Vec::<String>::new());
        assert_eq!(
            warnings,
            [
                "network 10.1.0.0/16 of host \"office\" contains hosts \"pc0\", \"pc1\", \"pc2\", 2 more"
            ]
        );
    }

    #[test]
    fn nested_networks_count_towards_the_innermost_other_host() {
        let text = [
            host("site", r#""10.0.0.0/8""#),
            host("office", r#""10.1.0.0/16""#),
            host("pc", r#""10.1.0.5""#),
            host("srv", r#""10.2.0.5""#),
        ]
        .concat();
        let (_, warnings) = messages(&text);
        assert_eq!(
            warnings,
            [
                "network 10.0.0.0/8 of host \"site\" contains hosts \"office\", \"srv\"",
                "network 10.1.0.0/16 of host \"office\" contains host \"pc\"",
            ]
        );
    }

    #[test]
    fn twenty_thousand_hosts_are_checked_in_one_sweep() {
        let mut text = String::new();
        for i in 0..20_000u32 {
            let _ = write!(
                text,
                "[[host]]\nname = \"h{i}\"\nos = \"linux\"\naddresses = [\"10.{}.{}.{}\"]\nroles = [\"agent\"]\n",
                i >> 16,
                (i >> 8) & 255,
                i & 255
            );
        }
        text.push_str(&host("dup", r#""10.0.78.31""#));
        let (errors, _) = messages(&text);
        assert_eq!(
            errors,
            ["address 10.0.78.31 of host \"dup\" is also written on host \"h19999\" (line 100001)"]
        );
    }

    fn zoned(lx3_zone: &str, extra: &str) -> String {
        format!(
            "[[host]]\nname = \"ams\"\nos = \"windows\"\naddresses = [\"192.0.2.10\"]\nroles = [\"management-server\"]\nzone = \"servers\"\n\
             [[host]]\nname = \"lx3\"\nos = \"linux\"\naddresses = [\"192.0.2.30\"]\nroles = [\"agent\"]\nzone = \"{lx3_zone}\"\n\
             [[host]]\nname = \"pc\"\naddresses = [\"198.51.100.7\"]\nroles = [\"management-console\"]\nzone = \"office\"\n\
             [[gateway]]\nname = \"gw\"\nos = \"linux\"\nzones = [\"servers\", \"office\"]\n{extra}"
        )
    }

    #[test]
    fn a_one_host_zone_near_a_routed_one_is_a_typo_unless_declared() {
        let (errors, _) = messages(&zoned("server", ""));
        assert_eq!(
            errors,
            ["zone \"server\" of host \"lx3\" is no other host's zone and no gateway routes it"]
        );
        let (errors, _) = messages(&zoned("server", "[[zone]]\nname = \"server\"\n"));
        assert_eq!(errors, Vec::<String>::new());
        // A zone with no near routed name is a segment of its own, not a typo.
        let (errors, _) = messages(&zoned("lab", ""));
        assert_eq!(errors, Vec::<String>::new());
    }
}

//! The lockout guard: under `policy = "drop"` a rule set closes every port abrfw does not open,
//! including the one its administrators log in through. A host with an OS gets a warning (an
//! error with `--strict`) for each address family it has in which no `[[allow]]` rule actually
//! produces an inbound rule on one of its administrative ports: an allow whose `from` has no
//! address of that family compiles to nothing there, and an allow from another zone (a host's,
//! or the `[[zone]]` whose networks hold the address) counts only when a `[[gateway]]` routes
//! between the two zones (and so forwards it).
//!
//! Beside it, [`gateway_warnings`] looks at each `[[allow]]` on its own: an end that is an
//! address in no zone is never forwarded by a gateway, which matters when the other end sits
//! behind one; and under `policy = "drop"` an administrative allow (SSH, RDP, WinRM) between two
//! zones no gateway routes is traffic no gateway forwards.

use std::ops::Range;

use ipnet::IpNet;

use crate::diagnostic::Diagnostic;
use crate::ir::address_text;
use crate::ir::{Policy, Protocol};
use crate::os::Os;
use crate::topology::raw::RawAllow;
use crate::topology::{Allow, AllowEnd, AllowsOf, Host, Topology};

/// An address family, as the guard counts them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Family {
    V4,
    V6,
}

impl Family {
    pub(crate) fn of(net: &IpNet) -> Self {
        match net {
            IpNet::V4(_) => Family::V4,
            IpNet::V6(_) => Family::V6,
        }
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Family::V4 => "IPv4",
            Family::V6 => "IPv6",
        }
    }
}

/// The families a host has addresses of, IPv4 first.
pub(crate) fn families(host: &Host) -> Vec<Family> {
    [Family::V4, Family::V6]
        .into_iter()
        .filter(|f| host.addresses.iter().any(|a| Family::of(a) == *f))
        .collect()
}

/// Whether one end of an allow has an address of `family`.
pub(crate) fn end_has(end: AllowEnd, family: Family, hosts: &[Host]) -> bool {
    match end {
        AllowEnd::Network(n) => Family::of(&n) == family,
        AllowEnd::Host(j) => hosts[j].addresses.iter().any(|a| Family::of(a) == family),
    }
}

/// Whether traffic from allow end `from` reaches host `to` through the site's gateways: always
/// when there are none (abrfw knows no routing then), both sit in one zone, or `from` is an
/// address in no zone (its route is unknown: [`gateway_warnings`] speaks about it); otherwise
/// only when a gateway routes between their zones.
fn routed(topology: &Topology, from: AllowEnd, to: &Host) -> bool {
    let Some(zone) = topology.zone_of_end(from) else {
        return true;
    };
    topology.gateways.is_empty()
        || zone == to.zone
        || topology.gateways_between(zone, &to.zone).next().is_some()
}

/// The TCP ports administrators reach a host of `os` through, with the service's name:
/// SSH on Linux, the appliance, the BSDs and macOS; RDP and WinRM (HTTP, HTTPS) on Windows.
pub fn admin_ports(os: Os) -> &'static [(u16, &'static str)] {
    if os.is_windows() {
        &[(3389, "RDP"), (5985, "WinRM"), (5986, "WinRM over HTTPS")]
    } else {
        &[(22, "SSH")]
    }
}

/// Whether an allow opens one of `host`'s administrative ports, by protocol and port only.
fn opens_admin_port(a: &Allow, host: &Host) -> bool {
    let Some(os) = host.os else { return false };
    a.protocol == Protocol::Tcp
        && admin_ports(os)
            .iter()
            .any(|(p, _)| a.ports.first <= *p && *p <= a.ports.last)
}

/// One warning per host with an OS that no `[[allow]]` rule opens an administrative port to,
/// when its policy is `drop` (its own or the site's). `outbound = "accept"` changes nothing
/// here: it opens only connections the host makes, and an administrator connects to it.
/// `name_spans[i]` is where host `i`'s name is written.
pub(crate) fn warnings(topology: &Topology, name_spans: &[Range<usize>]) -> Vec<Diagnostic> {
    let hosts = &topology.hosts;
    let allows = &topology.allows;
    let allows_of = AllowsOf::new(topology);
    let mut out = Vec::new();
    for (i, (host, span)) in hosts.iter().zip(name_spans).enumerate() {
        if host.policy != Policy::Drop {
            continue;
        }
        let Some(os) = host.os else { continue };
        let ports = admin_ports(os);
        let opens = |a: &Allow, family: Family| {
            a.to == AllowEnd::Host(i)
                && a.from != a.to
                && a.protocol == Protocol::Tcp
                && ports
                    .iter()
                    .any(|(p, _)| a.ports.first <= *p && *p <= a.ports.last)
                && end_has(a.from, family, hosts)
                && routed(topology, a.from, host)
        };
        let all = families(host);
        let missing: Vec<Family> = all
            .iter()
            .copied()
            .filter(|f| !allows_of.to[i].iter().any(|&k| opens(&allows[k], *f)))
            .collect();
        if missing.is_empty() {
            continue;
        }
        // A dual-stack host reachable over one family only is named with the one it lacks.
        let over = if missing.len() == all.len() {
            String::new()
        } else {
            format!(" over {}", missing[0].name())
        };
        let (port, service) = ports[0];
        let services: Vec<String> = ports
            .iter()
            .map(|(p, s)| format!("{s} (tcp {p})"))
            .collect();
        out.push(
            Diagnostic::new(
                format!(
                    "host {:?} may lock out its administrators: policy \"drop\" and no [[allow]] rule for {}{over}",
                    host.name,
                    services.join(", ")
                ),
                span.clone(),
            )
            .help(format!(
                "add [[allow]] name = \"{name}-admin\", from = \"<admin network>\", to = \"{name}\", port = {port} ({service}); or set policy = \"fragment\"",
                name = host.name
            )),
        );
    }
    out
}

/// The first gateway that has `zone` among its zones: what a host of that zone sits behind.
fn gateway_of<'t>(topology: &'t Topology, zone: &str) -> Option<&'t str> {
    topology
        .gateways
        .iter()
        .find(|g| g.zones.iter().any(|(z, _)| z == zone))
        .map(|g| g.name.as_str())
}

/// Per-allow warnings about gateways (see the module text), one per `[[allow]]` table and
/// cause: a table with lists or selectors expands into many [`Allow`]s (`origin` says which
/// table), and the warning names the first host it concerns and counts the rest. `raw` are the
/// tables as written; call only when every allow resolved.
pub(crate) fn gateway_warnings(topology: &Topology, raw: &[RawAllow]) -> Vec<Diagnostic> {
    use std::collections::{BTreeMap, BTreeSet};
    let mut out = Vec::new();
    if topology.gateways.is_empty() {
        return out;
    }
    // (table, side, address) -> the first host behind a gateway on the other side, and all of
    // them (a set: a table to `all` names every host of the site).
    let mut unzoned: BTreeMap<(usize, bool, IpNet), (usize, BTreeSet<usize>)> = BTreeMap::new();
    // (table, zone of `from`, host) of admin allows no gateway forwards.
    let mut unrouted: BTreeMap<(usize, String, usize), &str> = BTreeMap::new();
    for a in &topology.allows {
        // An address in no zone on one side, a host behind a gateway on the other.
        for (to_side, end, other) in [(false, a.from, a.to), (true, a.to, a.from)] {
            let (AllowEnd::Network(net), AllowEnd::Host(h)) = (end, other) else {
                continue;
            };
            if topology.zone_of_network(net).is_some()
                || gateway_of(topology, &topology.hosts[h].zone).is_none()
            {
                continue;
            }
            unzoned
                .entry((a.origin(), to_side, net))
                .or_insert_with(|| (h, BTreeSet::new()))
                .1
                .insert(h);
        }
        // An administrative allow between two zones that no gateway routes.
        let AllowEnd::Host(t) = a.to else { continue };
        let host = &topology.hosts[t];
        if !opens_admin_port(a, host) {
            continue;
        }
        let Some(from_zone) = topology.zone_of_end(a.from) else {
            continue;
        };
        if from_zone == host.zone
            || topology
                .gateways_between(from_zone, &host.zone)
                .next()
                .is_some()
        {
            continue;
        }
        let Some(gw) = gateway_of(topology, &host.zone) else {
            continue;
        };
        if topology
            .gateways
            .iter()
            .any(|g| g.name == gw && g.policy != Policy::Drop)
        {
            continue;
        }
        unrouted.insert((a.origin(), from_zone.to_owned(), t), gw);
    }
    for ((origin, to_side, net), (first, hosts)) in unzoned {
        let r = &raw[origin];
        let host = &topology.hosts[first];
        let gw = gateway_of(topology, &host.zone).unwrap_or_default();
        let others = match hosts.len() - 1 {
            0 => String::new(),
            1 => " (and 1 other host)".to_owned(),
            n => format!(" (and {n} other hosts)"),
        };
        out.push(
            Diagnostic::new(
                format!(
                    "[[allow]] {:?}: {} lies in no [[zone]]'s networks, so no gateway forwards it, but host {:?}{others} sits behind gateway {gw:?} (zone {:?})",
                    r.name.get_ref(),
                    address_text(net),
                    host.name,
                    host.zone
                ),
                if to_side { r.to.span() } else { r.from.span() },
            )
            .help(format!(
                "say where the address is: [[zone]] name = \"<zone>\", networks = [\"{}\"] (a network that holds it); in zone {:?} itself the rule needs no gateway",
                address_text(net),
                host.zone
            )),
        );
    }
    for ((origin, from_zone, t), gw) in unrouted {
        let r = &raw[origin];
        let host = &topology.hosts[t];
        out.push(
            Diagnostic::new(
                format!(
                    "[[allow]] {:?} may not reach host {:?}: it comes from zone {from_zone:?}, and no gateway forwards from {from_zone:?} to {:?} (the host sits behind gateway {gw:?}), whose policy is \"drop\"",
                    r.name.get_ref(),
                    host.name,
                    host.zone
                ),
                r.name.span(),
            )
            .help(format!(
                "add {from_zone:?} to the `zones` of gateway {gw:?} (with its interface when the gateway names interfaces); or set policy = \"fragment\""
            )),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use crate::Catalog;
    use crate::topology::parse;

    /// The warnings of a topology, without the outbound guard's (DNS, AD), which
    /// `outbound::tests` covers: these tests are about inbound reachability.
    fn warned(text: &str) -> Vec<String> {
        let topo = parse("t.toml", text, &Catalog::builtin()).unwrap();
        topo.warnings
            .iter()
            .map(|d| d.message.clone())
            .filter(|m| !m.contains("closes its outbound traffic"))
            .collect()
    }

    const HOSTS: &str = "[[host]]\nname = \"lx\"\nos = \"linux\"\naddresses = [\"10.0.0.1\"]\nroles = [\"agent\"]\n\
        [[host]]\nname = \"xp\"\nos = \"windows-legacy\"\naddresses = [\"10.0.0.2\"]\nroles = [\"agent\"]\n";

    #[test]
    fn drop_without_an_admin_allow_warns_per_host() {
        let w = warned(HOSTS);
        assert_eq!(w.len(), 2, "{w:?}");
        assert!(w[0].starts_with("host \"lx\"") && w[0].ends_with("SSH (tcp 22)"));
        assert!(w[1].contains("RDP (tcp 3389)"));
    }

    #[test]
    fn a_range_covering_the_port_counts_and_self_rules_do_not() {
        let text = format!(
            "{HOSTS}[[allow]]\nname = \"a\"\nfrom = \"10.9.0.0/16\"\nto = \"lx\"\nport = \"1-1024\"\n\
             [[allow]]\nname = \"b\"\nfrom = \"xp\"\nto = \"xp\"\nport = 3389\n"
        );
        let w = warned(&text);
        let lockouts: Vec<&String> = w.iter().filter(|m| m.contains("may lock out")).collect();
        assert_eq!(lockouts.len(), 1, "{w:?}");
        assert!(lockouts[0].starts_with("host \"xp\""));
        // The self rule is said to do nothing.
        assert!(
            w.iter()
                .any(|m| m
                    == "[[allow]] \"b\" compiles to no rule: `from` and `to` are the same host"),
            "{w:?}"
        );
    }

    #[test]
    fn an_allow_that_compiles_to_no_rule_does_not_silence_the_guard() {
        // An IPv6-only `from` for an IPv4-only host: no inbound rule, so still a lockout.
        let text = format!(
            "{HOSTS}[[allow]]\nname = \"a\"\nfrom = \"2001:db8::/64\"\nto = \"lx\"\nport = 22\n"
        );
        let w = warned(&text);
        assert!(
            w.iter().any(|m| m.starts_with("host \"lx\" may lock out")),
            "{w:?}"
        );
        // A dual-stack host reachable over IPv4 only is warned about IPv6.
        let text = "[[host]]\nname = \"lx\"\nos = \"linux\"\naddresses = [\"10.0.0.1\", \"fd00::1\"]\nroles = [\"agent\"]\n\
             [[allow]]\nname = \"a\"\nfrom = \"10.9.0.0/16\"\nto = \"lx\"\nport = 22\n";
        let w = warned(text);
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].ends_with("SSH (tcp 22) over IPv6"), "{w:?}");
    }

    #[test]
    fn an_allow_from_another_zone_counts_only_through_a_gateway_that_routes_it() {
        let site = |zones: &str| {
            format!(
                "[[host]]\nname = \"lx\"\nos = \"linux\"\naddresses = [\"10.0.0.1\"]\nroles = [\"agent\"]\nzone = \"srv\"\n\
                 [[host]]\nname = \"jump\"\naddresses = [\"10.1.0.1\"]\nroles = [\"agent\"]\nzone = \"ops\"\n\
                 [[host]]\nname = \"other\"\naddresses = [\"10.2.0.1\"]\nroles = [\"agent\"]\nzone = \"dmz\"\n\
                 [[gateway]]\nname = \"gw\"\nos = \"openbsd\"\nzones = {zones}\n\
                 [[allow]]\nname = \"a\"\nfrom = \"jump\"\nto = \"lx\"\nport = 22\n"
            )
        };
        let locks = |w: Vec<String>| w.iter().any(|m| m.starts_with("host \"lx\" may lock out"));
        assert!(locks(warned(&site(r#"["srv", "dmz"]"#))));
        assert!(!locks(warned(&site(r#"["srv", "ops"]"#))));
    }

    #[test]
    fn internet_wide_addresses_and_allows_without_rules_warn() {
        let text = format!(
            "{HOSTS}[[host]]\nname = \"world\"\naddresses = [\"0.0.0.0/0\", \"::/0\"]\nroles = [\"agent\"]\n\
             [[allow]]\nname = \"lx-ssh\"\nfrom = \"0.0.0.0/1\"\nto = \"lx\"\nport = 22\n\
             [[allow]]\nname = \"xp-rdp\"\nfrom = \"10.0.0.0/8\"\nto = \"xp\"\nport = 3389\n\
             [[allow]]\nname = \"v6\"\nfrom = \"2001:db8::/32\"\nto = \"lx\"\nport = 443\n"
        );
        let w = warned(&text);
        assert!(w.contains(&"peer address \"0.0.0.0/0\" covers the Internet: the rules it takes part in are open to the world".to_owned()), "{w:?}");
        assert!(
            w.iter()
                .any(|m| m.starts_with("peer address \"::/0\" covers")),
            "{w:?}"
        );
        assert!(
            w.iter()
                .any(|m| m.starts_with("[[allow]] `from` \"0.0.0.0/1\" covers")),
            "{w:?}"
        );
        assert!(
            !w.iter()
                .any(|m| m.contains("10.0.0.0/8") || m.contains("2001:db8::/32\" covers")),
            "{w:?}"
        );
        assert!(w.contains(&"[[allow]] \"v6\" compiles to no rule: its ends share no address family (IPv4 on one side, IPv6 on the other)".to_owned()), "{w:?}");
    }

    /// A gateway between servers and office; the admin network is a [[zone]] the gateway may
    /// or may not join.
    fn gateway_site(zones: &str, from: &str) -> String {
        format!(
            "[[zone]]\nname = \"admin\"\nnetworks = [\"10.99.0.0/24\"]\n\
             [[host]]\nname = \"lx\"\nos = \"linux\"\naddresses = [\"192.0.2.20\"]\nroles = [\"agent\"]\nzone = \"servers\"\n\
             [[host]]\nname = \"pc\"\naddresses = [\"198.51.100.2\"]\nroles = [\"agent\"]\nzone = \"office\"\n\
             [[gateway]]\nname = \"gw\"\nos = \"linux\"\nzones = {zones}\n\
             [[allow]]\nname = \"ssh\"\nfrom = \"{from}\"\nto = \"lx\"\nport = 22\n"
        )
    }

    #[test]
    fn an_address_in_no_zone_towards_a_host_behind_a_gateway_warns() {
        let w = warned(&gateway_site(
            r#"["servers", "office", "admin"]"#,
            "10.98.0.0/24",
        ));
        assert!(
            w.iter()
                .any(|m| m
                    .starts_with("[[allow]] \"ssh\": 10.98.0.0/24 lies in no [[zone]]'s networks")),
            "{w:?}"
        );
        // Inside the admin zone, routed by the gateway: no warning at all.
        let w = warned(&gateway_site(
            r#"["servers", "office", "admin"]"#,
            "10.99.0.7",
        ));
        assert!(w.is_empty(), "{w:?}");
    }

    /// A table with selectors expands into many allows: its warning is one, located at its
    /// own table, naming a host and counting the rest; a later table gets its own.
    #[test]
    fn an_expanded_allow_warns_once_at_its_own_table() {
        let text = format!(
            "{}\n[[host]]\nname = \"lx2\"\nos = \"linux\"\naddresses = [\"198.51.100.3\"]\nroles = [\"agent\"]\nzone = \"office\"\n\
             [[allow]]\nname = \"dns\"\nfrom = \"all\"\nto = [\"10.98.0.53\", \"10.98.0.54\"]\nservice = \"dns\"\n\
             [[allow]]\nname = \"ntp\"\nfrom = \"lx\"\nto = \"10.98.0.123\"\nservice = \"ntp\"\n",
            gateway_site(r#"["servers", "office", "admin"]"#, "10.99.0.7")
        );
        let topo = parse("t.toml", &text, &Catalog::builtin()).unwrap();
        let mine: Vec<(&str, &str)> = topo
            .warnings
            .iter()
            .filter(|d| d.message.contains("lies in no [[zone]]"))
            .map(|d| {
                let at = d.span.clone().unwrap();
                (d.message.as_str(), &text[at])
            })
            .collect();
        assert_eq!(
            mine,
            vec![
                (
                    "[[allow]] \"dns\": 10.98.0.53 lies in no [[zone]]'s networks, so no gateway forwards it, but host \"lx\" (and 1 other host) sits behind gateway \"gw\" (zone \"servers\")",
                    "[\"10.98.0.53\", \"10.98.0.54\"]"
                ),
                (
                    "[[allow]] \"dns\": 10.98.0.54 lies in no [[zone]]'s networks, so no gateway forwards it, but host \"lx\" (and 1 other host) sits behind gateway \"gw\" (zone \"servers\")",
                    "[\"10.98.0.53\", \"10.98.0.54\"]"
                ),
                (
                    "[[allow]] \"ntp\": 10.98.0.123 lies in no [[zone]]'s networks, so no gateway forwards it, but host \"lx\" sits behind gateway \"gw\" (zone \"servers\")",
                    "\"10.98.0.123\""
                ),
            ]
        );
    }

    #[test]
    fn an_admin_allow_from_a_zone_the_gateway_does_not_route_warns_at_the_allow() {
        let text = gateway_site(r#"["servers", "office"]"#, "10.99.0.0/24");
        let topo = parse("t.toml", &text, &Catalog::builtin()).unwrap();
        let d = topo
            .warnings
            .iter()
            .find(|d| {
                d.message
                    .starts_with("[[allow]] \"ssh\" may not reach host \"lx\"")
            })
            .unwrap_or_else(|| panic!("{:?}", topo.warnings));
        let at = d.span.clone().unwrap().start;
        assert!(
            text[at..].starts_with("\"ssh\""),
            "located at the allow's name"
        );
        // The host guard agrees: the only admin allow does not reach it.
        assert!(
            topo.warnings
                .iter()
                .any(|d| d.message.starts_with("host \"lx\" may lock out"))
        );
        // Under fragment the gateway drops nothing of its own: no warning.
        let w = warned(&format!("[options]\npolicy = \"fragment\"\n{text}"));
        assert!(w.is_empty(), "{w:?}");
    }

    #[test]
    fn fragment_never_warns() {
        assert!(warned(&format!("[options]\npolicy = \"fragment\"\n{HOSTS}")).is_empty());
    }
}

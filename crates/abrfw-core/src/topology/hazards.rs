//! Warnings about rules that do something other than what their author likely meant (errors
//! with `--strict`): an address that covers the Internet, which opens Acronis ports (or an
//! `[[allow]]`) to the world, and an `[[allow]]` that compiles to no rule at all.

use std::net::Ipv6Addr;

use ipnet::{IpNet, Ipv6Net};

use crate::diagnostic::Diagnostic;
use crate::topology::lockout::{Family, end_has, families};
use crate::topology::raw::{OneOrMany, RawAllow, RawPort, RawTopology};
use crate::topology::{Allow, AllowEnd, Host, parse_address};

/// Whether `net` covers the Internet rather than a site: IPv4 networks larger than the
/// largest private block (shorter than /8, `0.0.0.0/0` included), and IPv6 networks shorter
/// than /16 that reach into global unicast space (2000::/3; `::/0` included).
pub(crate) fn covers_internet(net: &IpNet) -> bool {
    match net {
        IpNet::V4(n) => n.prefix_len() < 8,
        IpNet::V6(n) => {
            let global = Ipv6Net::new_assert(Ipv6Addr::new(0x2000, 0, 0, 0, 0, 0, 0, 0), 3);
            n.prefix_len() < 16 && (n.contains(&global) || global.contains(n))
        }
    }
}

fn internet_warning(text: &str, span: std::ops::Range<usize>, what: &str) -> Diagnostic {
    Diagnostic::new(
        format!("{what} {text:?} covers the Internet: the rules it takes part in are open to the world"),
        span,
    )
    .help("write the site's own networks (e.g. 10.0.0.0/8, 2001:db8:10::/48); use --strict to make this an error")
}

/// One warning per host address or `[[allow]]` network that covers the Internet.
pub(crate) fn internet_wide(raw: &RawTopology) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for h in &raw.hosts {
        for a in h.addresses.get_ref() {
            if parse_address(a.get_ref()).is_ok_and(|n| covers_internet(&n)) {
                let what = if h.os.is_some() {
                    "host address"
                } else {
                    "peer address"
                };
                out.push(internet_warning(a.get_ref(), a.span(), what));
            }
        }
    }
    for a in &raw.allows {
        for (key, end) in [("from", &a.from), ("to", &a.to)] {
            for (span, item) in OneOrMany::spanned(end) {
                if let RawPort::Text(text) = item
                    && parse_address(text).is_ok_and(|n| covers_internet(&n))
                {
                    out.push(internet_warning(text, span, &format!("[[allow]] `{key}`")));
                }
            }
        }
    }
    out
}

/// One warning per `[[allow]]` that puts no rule on any host: both ends the same host, no end
/// with an OS, or no address family that both ends have. An `[[allow]]` that selects several
/// pairs is reported only when none of them yields a rule (the reason is the first pair's).
pub(crate) fn without_rules(hosts: &[Host], allows: &[Allow], raw: &[RawAllow]) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let mut rest = allows;
    for (origin, r) in raw.iter().enumerate() {
        let n = rest.iter().take_while(|a| a.origin() == origin).count();
        let (group, tail) = rest.split_at(n);
        rest = tail;
        let Some(a) = group.first() else {
            out.push(
                Diagnostic::new(
                    format!(
                        "[[allow]] {:?} compiles to no rule: `from` and `to` select only the same host",
                        r.name.get_ref()
                    ),
                    r.name.span(),
                )
                .help("fix `from` or `to` so the rule reaches a host, or remove the [[allow]]"),
            );
            continue;
        };
        let rules_on = |me: AllowEnd, other: AllowEnd| match me {
            AllowEnd::Host(i) if hosts[i].os.is_some() => families(&hosts[i])
                .into_iter()
                .any(|f: Family| end_has(other, f, hosts)),
            _ => false,
        };
        if group
            .iter()
            .any(|a| a.from != a.to && (rules_on(a.to, a.from) || rules_on(a.from, a.to)))
        {
            continue;
        }
        let why = if a.from == a.to {
            "`from` and `to` are the same host".to_owned()
        } else if ![a.from, a.to]
            .iter()
            .any(|e| matches!(e, AllowEnd::Host(i) if hosts[*i].os.is_some()))
        {
            "neither end is a host with an `os`, and abrfw writes rules only for those".to_owned()
        } else {
            "its ends share no address family (IPv4 on one side, IPv6 on the other)".to_owned()
        };
        out.push(
            Diagnostic::new(
                format!("[[allow]] {:?} compiles to no rule: {why}", a.name()),
                r.name.span(),
            )
            .help("fix `from` or `to` so the rule reaches a host, or remove the [[allow]]"),
        );
    }
    out
}

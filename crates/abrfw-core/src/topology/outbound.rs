//! Warnings for hosts whose outbound traffic is dropped (errors with `--strict`): a rule set
//! that closes outbound connections also closes the services every host relies on, which no
//! Acronis flow opens.
//!
//! - DNS: the vendor notes that agents find the management server by name through DNS or the
//!   hosts file; a host with outbound drop and no `[[allow]]` from it to UDP 53 resolves no
//!   name.
//! - Active Directory: a Windows host with outbound drop and no `[[allow]]` from it to
//!   Kerberos (88) cannot log a domain user on, renew its machine password or apply group
//!   policy (Microsoft KB 832017 lists what a domain member needs: `service = "ad"`).

use std::ops::Range;

use crate::diagnostic::Diagnostic;
use crate::ir::Protocol;
use crate::topology::lockout::{end_has, families};
use crate::topology::{Allow, AllowEnd, AllowsOf, Host, Topology};

/// Whether host `i`'s rule set drops outbound connections no rule allows: its policy (its
/// own or the site's) is `drop`, its `outbound` is not `accept`, and its OS's firewall can
/// filter outbound at all (the XP firewall cannot).
pub(crate) fn outbound_drops(topology: &Topology, host: usize) -> bool {
    let host = &topology.hosts[host];
    host.drops_outbound() && host.os.is_some_and(|os| os.filters_outbound())
}

/// Whether some `[[allow]]` gives host `i` an outbound rule to `port` over `protocol`: it is
/// the `from` end, and the `to` end has an address of one of the host's families.
fn opens_outbound(
    topology: &Topology,
    allows_of: &AllowsOf,
    i: usize,
    protocol: Protocol,
    port: u16,
) -> bool {
    let host = &topology.hosts[i];
    allows_of.from[i].iter().any(|&k| {
        let a: &Allow = &topology.allows[k];
        a.from == AllowEnd::Host(i)
            && a.to != a.from
            && a.protocol == protocol
            && a.ports.contains(port)
            && families(host)
                .into_iter()
                .any(|f| end_has(a.to, f, &topology.hosts))
    })
}

/// One warning per host with an OS and outbound drop that no `[[allow]]` lets resolve names
/// (UDP 53), and one per such Windows host that no `[[allow]]` lets reach Kerberos (88).
/// `name_spans[i]` is where host `i`'s name is written.
pub(crate) fn warnings(topology: &Topology, name_spans: &[Range<usize>]) -> Vec<Diagnostic> {
    let allows_of = AllowsOf::new(topology);
    let mut out = Vec::new();
    for (i, (host, span)) in topology.hosts.iter().zip(name_spans).enumerate() {
        let Some(os) = host.os else { continue };
        if !outbound_drops(topology, i) {
            continue;
        }
        if !opens_outbound(topology, &allows_of, i, Protocol::Udp, 53) {
            out.push(dns_warning(host, span.clone()));
        }
        if os.is_windows()
            && !opens_outbound(topology, &allows_of, i, Protocol::Tcp, 88)
            && !opens_outbound(topology, &allows_of, i, Protocol::Udp, 88)
        {
            out.push(ad_warning(host, span.clone()));
        }
    }
    out
}

fn dns_warning(host: &Host, span: Range<usize>) -> Diagnostic {
    Diagnostic::new(
        format!(
            "host {:?} cannot resolve names: policy \"drop\" closes its outbound traffic and no [[allow]] rule lets it reach DNS (udp 53)",
            host.name
        ),
        span,
    )
    .help(format!(
        "agents find the management server by name through DNS or the hosts file: add [[allow]] name = \"dns\", from = \"{}\" (or \"all\"), to = \"<resolver>\", service = \"dns\"; or set outbound = \"accept\" on the host",
        host.name
    ))
}

fn ad_warning(host: &Host, span: Range<usize>) -> Diagnostic {
    Diagnostic::new(
        format!(
            "Windows host {:?} cannot reach Active Directory: policy \"drop\" closes its outbound traffic and no [[allow]] rule lets it reach Kerberos (88)",
            host.name
        ),
        span,
    )
    .help(format!(
        "a domain member needs its domain controllers (KB 832017): add [[allow]] name = \"ad\", from = \"{}\" (or \"role:...\"), to = \"<domain controllers>\", service = \"ad\"; or set outbound = \"accept\" on the host",
        host.name
    ))
}

#[cfg(test)]
mod tests {
    use crate::Catalog;
    use crate::topology::parse;

    fn warned(text: &str) -> Vec<String> {
        let topo = parse("t.toml", text, &Catalog::builtin()).unwrap();
        topo.warnings
            .iter()
            .map(|d| d.message.clone())
            .filter(|m| m.contains("closes its outbound traffic"))
            .collect()
    }

    fn site(options: &str, lx: &str, allows: &str) -> String {
        format!(
            "{options}[[host]]\nname = \"lx\"\nos = \"linux\"\naddresses = [\"10.0.0.1\"]\nroles = [\"agent\"]\n{lx}\
             [[host]]\nname = \"win\"\nos = \"windows\"\naddresses = [\"10.0.0.2\"]\nroles = [\"agent\"]\n\
             [[host]]\nname = \"xp\"\nos = \"windows-legacy\"\naddresses = [\"10.0.0.3\"]\nroles = [\"agent\"]\n\
             {allows}"
        )
    }

    #[test]
    fn drop_warns_for_dns_per_host_and_for_ad_per_windows_host() {
        let w = warned(&site("", "", ""));
        assert_eq!(
            w,
            [
                "host \"lx\" cannot resolve names: policy \"drop\" closes its outbound traffic and no [[allow]] rule lets it reach DNS (udp 53)",
                "host \"win\" cannot resolve names: policy \"drop\" closes its outbound traffic and no [[allow]] rule lets it reach DNS (udp 53)",
                "Windows host \"win\" cannot reach Active Directory: policy \"drop\" closes its outbound traffic and no [[allow]] rule lets it reach Kerberos (88)",
            ],
            "the XP firewall filters inbound only, so xp is not warned"
        );
    }

    #[test]
    fn allows_and_outbound_accept_silence_it() {
        let allows = "[[allow]]\nname = \"dns\"\nfrom = \"all\"\nto = \"10.0.0.53\"\nservice = \"dns\"\n\
                      [[allow]]\nname = \"ad\"\nfrom = \"win\"\nto = \"10.0.0.53\"\nservice = \"ad\"\n";
        assert_eq!(warned(&site("", "", allows)), Vec::<String>::new());
        // The host's own setting and the site's.
        let w = warned(&site("", "outbound = \"accept\"\n", ""));
        assert!(!w.iter().any(|m| m.contains("\"lx\"")), "{w:?}");
        assert_eq!(w.len(), 2, "{w:?}");
        let w = warned(&site("[options]\noutbound = \"accept\"\n", "", ""));
        assert_eq!(w, Vec::<String>::new());
        let w = warned(&site("[options]\npolicy = \"fragment\"\n", "", ""));
        assert_eq!(w, Vec::<String>::new());
    }

    #[test]
    fn a_dns_allow_over_the_wrong_family_does_not_count() {
        let allows =
            "[[allow]]\nname = \"dns\"\nfrom = \"lx\"\nto = \"fd00::53\"\nservice = \"dns\"\n";
        let w = warned(&site("", "", allows));
        assert!(w.iter().any(|m| m.starts_with("host \"lx\"")), "{w:?}");
    }
}

//! The lockout guard: under `policy = "drop"` a rule set closes every port abrfw does not open,
//! including the one its administrators log in through. A host with an OS and no `[[allow]]` rule
//! to an administrative port of that OS gets a warning (an error with `--strict`).

use std::ops::Range;

use crate::diagnostic::Diagnostic;
use crate::ir::{Policy, Protocol};
use crate::os::Os;
use crate::topology::{Allow, AllowEnd, Host};

/// The TCP ports administrators reach a host of `os` through, with the service's name:
/// SSH on Linux, the appliance, the BSDs and macOS; RDP and WinRM (HTTP, HTTPS) on Windows.
pub fn admin_ports(os: Os) -> &'static [(u16, &'static str)] {
    if os.is_windows() {
        &[(3389, "RDP"), (5985, "WinRM"), (5986, "WinRM over HTTPS")]
    } else {
        &[(22, "SSH")]
    }
}

/// One warning per host with an OS that no `[[allow]]` rule opens an administrative port to,
/// when the policy is `drop`. `name_spans[i]` is where host `i`'s name is written.
pub(crate) fn warnings(
    policy: Policy,
    hosts: &[Host],
    name_spans: &[Range<usize>],
    allows: &[Allow],
) -> Vec<Diagnostic> {
    if policy != Policy::Drop {
        return Vec::new();
    }
    let mut out = Vec::new();
    for (i, (host, span)) in hosts.iter().zip(name_spans).enumerate() {
        let Some(os) = host.os else { continue };
        let ports = admin_ports(os);
        let reachable = allows.iter().any(|a| {
            a.to == AllowEnd::Host(i)
                && a.from != a.to
                && a.protocol == Protocol::Tcp
                && ports
                    .iter()
                    .any(|(p, _)| a.ports.first <= *p && *p <= a.ports.last)
        });
        if reachable {
            continue;
        }
        let (port, service) = ports[0];
        let services: Vec<String> = ports
            .iter()
            .map(|(p, s)| format!("{s} (tcp {p})"))
            .collect();
        out.push(
            Diagnostic::new(
                format!(
                    "host {:?} may lock out its administrators: policy \"drop\" and no [[allow]] rule for {}",
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

#[cfg(test)]
mod tests {
    use crate::Catalog;
    use crate::topology::parse;

    fn warned(text: &str) -> Vec<String> {
        let topo = parse("t.toml", text, &Catalog::builtin()).unwrap();
        topo.warnings.iter().map(|d| d.message.clone()).collect()
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
        assert_eq!(warned(&text).len(), 1);
        assert!(warned(&text)[0].starts_with("host \"xp\""));
    }

    #[test]
    fn fragment_never_warns() {
        assert!(warned(&format!("[options]\npolicy = \"fragment\"\n{HOSTS}")).is_empty());
    }
}

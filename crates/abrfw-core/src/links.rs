//! The site's connections host to host: every applicable flow between two hosts, with their
//! zones. The data behind `abrfw graph` and the encryption audit; it knows no drawing syntax.

use serde::Serialize;

use crate::catalog::{Catalog, Encryption, Phase};
use crate::compile::{CompileError, applicable, flow_dport, release_of};
use crate::ir::{FlowId, PortRange, Protocol};
use crate::topology::{AllowEnd, Host, Topology};

/// One connection the site needs: `initiator` opens it to `responder`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Link {
    /// Initiating host.
    pub initiator: String,
    /// Responding host.
    pub responder: String,
    /// Phase of the catalog flow; `None` for an `[[allow]]` rule (every phase).
    pub phase: Option<Phase>,
    /// Transport protocol.
    pub protocol: Protocol,
    /// The responder's port(s).
    pub port: PortRange,
    /// The catalog flow (`agent-ms`) or site rule (`allow:<name>`).
    pub flow: FlowId,
    /// What the connection is for.
    pub purpose: String,
    /// Zone of the initiator.
    pub initiator_zone: String,
    /// Zone of the responder.
    pub responder_zone: String,
    /// Class of the vendor's encryption note; `None` for an `[[allow]]` rule (the site's own).
    pub encryption: Option<Encryption>,
    /// The vendor's encryption note (empty for an `[[allow]]` rule).
    pub encryption_note: String,
}

impl Link {
    /// True when the two ends sit in different zones.
    pub fn crosses_zones(&self) -> bool {
        self.initiator_zone != self.responder_zone
    }
}

/// Every connection between two hosts of the site, sorted: the applicable catalog flows (as
/// [`crate::compile`] applies them) and the `[[allow]]` rules whose ends are both hosts. A pair of
/// hosts without a common address family gets no link, as it gets no rule.
pub fn links(catalog: &Catalog, topology: &Topology) -> Result<Vec<Link>, CompileError> {
    let release = release_of(catalog, topology)?;
    let hosts = &topology.hosts;
    let mut out = Vec::new();
    for a in applicable(release, topology) {
        let flow = a.flow;
        for &i in &a.initiators {
            for &r in &a.responders {
                if i == r || !share_family(&hosts[i], &hosts[r]) {
                    continue;
                }
                out.push(Link {
                    initiator: hosts[i].name.clone(),
                    responder: hosts[r].name.clone(),
                    phase: Some(flow.phase),
                    protocol: flow.protocol,
                    port: flow_dport(flow, &hosts[r]),
                    flow: FlowId::catalog(flow.id),
                    purpose: flow.purpose.to_owned(),
                    initiator_zone: hosts[i].zone.clone(),
                    responder_zone: hosts[r].zone.clone(),
                    encryption: Some(flow.encryption.class),
                    encryption_note: flow.encryption.note.to_owned(),
                });
            }
        }
    }
    for allow in &topology.allows {
        if let (AllowEnd::Host(f), AllowEnd::Host(t)) = (allow.from, allow.to)
            && f != t
            && share_family(&hosts[f], &hosts[t])
        {
            out.push(Link {
                initiator: hosts[f].name.clone(),
                responder: hosts[t].name.clone(),
                phase: None,
                protocol: allow.protocol,
                port: allow.ports,
                flow: FlowId::allow(allow.name()),
                purpose: allow.description().to_owned(),
                initiator_zone: hosts[f].zone.clone(),
                responder_zone: hosts[t].zone.clone(),
                encryption: None,
                encryption_note: String::new(),
            });
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// Whether two hosts have an address of one family each.
pub(crate) fn share_family(a: &Host, b: &Host) -> bool {
    let fam = |h: &Host| {
        (
            h.addresses.iter().any(|n| n.addr().is_ipv4()),
            h.addresses.iter().any(|n| n.addr().is_ipv6()),
        )
    };
    let (a4, a6) = fam(a);
    let (b4, b6) = fam(b);
    (a4 && b4) || (a6 && b6)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topology;

    #[test]
    fn links_follow_the_compiled_flows_and_carry_zones() {
        let catalog = Catalog::builtin();
        let topo = topology::parse(
            "t.toml",
            r#"
[options]
phases = ["operate"]

[[host]]
name = "ams"
os = "windows"
zone = "servers"
addresses = ["10.0.0.10"]
roles = ["management-server"]

[[host]]
name = "cons"
os = "windows"
zone = "office"
addresses = ["10.1.0.11"]
roles = ["management-console"]

[[host]]
name = "web"
zone = "dmz"
addresses = ["203.0.113.20"]
roles = ["acronis-website"]

[[host]]
name = "v6only"
os = "linux"
zone = "servers"
addresses = ["fd00::1"]
roles = ["agent"]
"#,
            &catalog,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let links = links(&catalog, &topo).unwrap();
        let ids: Vec<(&str, &str, &str)> = links
            .iter()
            .map(|l| (l.initiator.as_str(), l.responder.as_str(), l.flow.as_str()))
            .collect();
        // v6only shares no family with ams: no agent-ms / ms-agent link.
        assert_eq!(
            ids,
            vec![
                ("cons", "ams", "console-ms"),
                ("cons", "web", "update-check")
            ]
        );
        let http = &links[1];
        assert!(http.crosses_zones());
        assert_eq!(http.encryption, Some(Encryption::Unencrypted));
        assert_eq!(http.port, PortRange::single(80));
    }

    #[test]
    fn a_host_in_operation_only_has_no_installation_links() {
        // `graph` draws these links: a host whose agent is installed (phases = ["operate"])
        // gets no remote-installation arrow, though the site selects both phases.
        let catalog = Catalog::builtin();
        let topo = topology::parse(
            "t.toml",
            r#"
[options]
phases = ["install", "operate"]

[[host]]
name = "ams"
os = "windows"
addresses = ["10.0.0.10"]
roles = ["management-server"]

[[host]]
name = "new"
os = "linux"
addresses = ["10.0.0.11"]
roles = ["agent"]

[[host]]
name = "installed"
os = "linux"
addresses = ["10.0.0.12"]
roles = ["agent"]
phases = ["operate"]
"#,
            &catalog,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let links = links(&catalog, &topo).unwrap();
        let phases = |host: &str| -> Vec<Option<Phase>> {
            let mut p: Vec<Option<Phase>> = links
                .iter()
                .filter(|l| l.initiator == host || l.responder == host)
                .map(|l| l.phase)
                .collect();
            p.dedup();
            p.sort();
            p.dedup();
            p
        };
        assert_eq!(
            phases("new"),
            vec![Some(Phase::Install), Some(Phase::Operate)]
        );
        assert_eq!(phases("installed"), vec![Some(Phase::Operate)]);
    }
}

//! What changes between two catalogs, or between two compilations of a site: syntax-free, on
//! the catalog data and the IR. The CLI prints it as text or JSON; the unified diff of rendered
//! files is the CLI's job too.
//!
//! Both results serialize to the JSON shape documented in `docs/diff.md`, tagged
//! `"version": 1` ([`VERSION`]); fields are only ever added under the same version.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::catalog::{Flow, Port, Presence, Release, SourcePort};
use crate::ir::{Direction, FlowId, ForwardRule, GatewayRules, HostRules, Protocol, Rule};
use crate::role::Role;
use crate::topology::Topology;

/// The version of the JSON shape of [`CatalogDiff`] and [`SiteDiff`].
pub const VERSION: u32 = 1;

/// The difference between the catalogs of two releases (`abrfw flows --diff A B`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CatalogDiff {
    /// [`VERSION`].
    pub version: u32,
    /// Id of the old release.
    pub from: String,
    /// Id of the new release.
    pub to: String,
    /// Roles the new release has and the old one does not.
    pub roles_added: Vec<Role>,
    /// Roles the old release has and the new one does not: hosts holding them lose their flows.
    pub roles_removed: Vec<Role>,
    /// Flows only in the new release, in its catalog order.
    pub added: Vec<FlowSummary>,
    /// Flows only in the old release, in its catalog order.
    pub removed: Vec<FlowSummary>,
    /// Flows in both whose fields differ, in the new release's order.
    pub changed: Vec<FlowChange>,
}

impl CatalogDiff {
    /// True when the two catalogs have the same roles and flows.
    pub fn is_empty(&self) -> bool {
        self.roles_added.is_empty()
            && self.roles_removed.is_empty()
            && self.added.is_empty()
            && self.removed.is_empty()
            && self.changed.is_empty()
    }
}

/// One flow, as the diff lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FlowSummary {
    /// Flow id.
    pub id: String,
    /// Initiating component.
    pub initiator: String,
    /// Responding component.
    pub responder: String,
    /// `tcp` or `udp`.
    pub protocol: Protocol,
    /// The responder's port (`9876 (acronis)` for the configurable Acronis port).
    pub port: String,
    /// What the flow is for.
    pub purpose: String,
    /// `high`, `medium` or `low`.
    pub confidence: String,
}

impl FlowSummary {
    fn of(f: &Flow) -> Self {
        Self {
            id: f.id.to_owned(),
            initiator: f.initiator.as_str().to_owned(),
            responder: f.responder.as_str().to_owned(),
            protocol: f.protocol,
            port: port_text(f.port),
            purpose: f.purpose.to_owned(),
            confidence: f.confidence.as_str().to_owned(),
        }
    }
}

/// A flow present in both releases with different fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FlowChange {
    /// Flow id.
    pub id: String,
    /// The new release's purpose.
    pub purpose: String,
    /// The fields that differ, in [`Flow`] field order.
    pub fields: Vec<FieldChange>,
}

/// One field of a changed flow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldChange {
    /// Field name, as in the catalog file format.
    pub field: &'static str,
    /// Old value, as text.
    pub from: String,
    /// New value, as text.
    pub to: String,
}

fn port_text(p: Port) -> String {
    match p {
        Port::Fixed(n) => n.to_string(),
        Port::Acronis => format!("{} (acronis)", crate::catalog::DEFAULT_ACRONIS_PORT),
        Port::NfsMountd => format!("{} (nfs-mountd)", crate::catalog::DEFAULT_NFS_MOUNTD_PORT),
    }
}

/// The fields of a flow as (name, text), for comparison.
fn fields(f: &Flow) -> [(&'static str, String); 12] {
    let presence = match f.condition.management_server {
        Presence::Any => "any",
        Presence::Present => "present",
        Presence::Absent => "absent",
    };
    [
        ("group", f.group.as_str().to_owned()),
        ("initiator", f.initiator.as_str().to_owned()),
        ("responder", f.responder.as_str().to_owned()),
        ("protocol", f.protocol.as_str().to_owned()),
        ("port", port_text(f.port)),
        (
            "source_port",
            match f.source_port {
                SourcePort::Ephemeral => "ephemeral",
                SourcePort::Any => "any",
            }
            .to_owned(),
        ),
        ("purpose", f.purpose.to_owned()),
        ("encryption", f.encryption.note.to_owned()),
        ("phase", f.phase.as_str().to_owned()),
        (
            "condition",
            format!(
                "management_server = {presence}{}{}",
                if f.condition.no_dns_only {
                    ", no_dns_only"
                } else {
                    ""
                },
                if f.condition.nfs_v3 { ", nfs_v3" } else { "" }
            ),
        ),
        ("source", f.source.to_owned()),
        ("confidence", f.confidence.as_str().to_owned()),
    ]
}

/// Compares the catalogs of two releases, flow by flow id.
pub fn diff_releases(from: &Release, to: &Release) -> CatalogDiff {
    let roles_added = to.roles.iter().copied().filter(|&r| !from.has_role(r));
    let roles_removed = from.roles.iter().copied().filter(|&r| !to.has_role(r));
    let sorted = |it: &mut dyn Iterator<Item = Role>| -> Vec<Role> {
        let set: BTreeSet<Role> = it.collect();
        set.into_iter().collect()
    };
    let mut changed = Vec::new();
    for new in to.flows {
        if let Some(old) = from.flow(new.id) {
            let diffs: Vec<FieldChange> = fields(old)
                .into_iter()
                .zip(fields(new))
                .filter(|((_, a), (_, b))| a != b)
                .map(|((field, a), (_, b))| FieldChange {
                    field,
                    from: a,
                    to: b,
                })
                .collect();
            if !diffs.is_empty() {
                changed.push(FlowChange {
                    id: new.id.to_owned(),
                    purpose: new.purpose.to_owned(),
                    fields: diffs,
                });
            }
        }
    }
    CatalogDiff {
        version: VERSION,
        from: from.id.to_owned(),
        to: to.id.to_owned(),
        roles_added: sorted(&mut { roles_added }),
        roles_removed: sorted(&mut { roles_removed }),
        added: to
            .flows
            .iter()
            .filter(|f| from.flow(f.id).is_none())
            .map(FlowSummary::of)
            .collect(),
        removed: from
            .flows
            .iter()
            .filter(|f| to.flow(f.id).is_none())
            .map(FlowSummary::of)
            .collect(),
        changed,
    }
}

/// One side of a site diff: a topology compiled under a release.
#[derive(Debug, Clone, Copy)]
pub struct Side<'a> {
    /// How to name the site in the output (its path).
    pub site: &'a str,
    /// The release it was compiled under.
    pub release: &'a Release,
    /// The topology.
    pub topology: &'a Topology,
    /// `compile(catalog, topology)` under that release.
    pub hosts: &'a [HostRules],
    /// `compile_gateways(catalog, topology)` under that release.
    pub gateways: &'a [GatewayRules],
}

/// Which site and release one side of a [`SiteDiff`] is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SideInfo {
    /// The site, as the user named it.
    pub site: String,
    /// The release id.
    pub release: String,
}

/// The difference between two compilations of a site (`abrfw diff`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SiteDiff {
    /// [`VERSION`].
    pub version: u32,
    /// The old side.
    pub from: SideInfo,
    /// The new side.
    pub to: SideInfo,
    /// Every host that changed, or that holds a role one of the releases has no flows for,
    /// sorted by name.
    pub hosts: Vec<HostDiff>,
    /// Every `[[gateway]]` whose forward rules changed, sorted by name.
    pub gateways: Vec<GatewayDiff>,
}

impl SiteDiff {
    /// True when no host's or gateway's rules differ (idle roles alone make no difference).
    pub fn is_empty(&self) -> bool {
        self.hosts.iter().all(|h| h.status == HostStatus::Unchanged) && self.gateways.is_empty()
    }
}

/// The forward-rule changes of one gateway.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GatewayDiff {
    /// Gateway name.
    pub gateway: String,
    /// Added, removed or changed.
    pub status: HostStatus,
    /// Rules whose (flow, protocol) only the new side has.
    pub added: Vec<ForwardRule>,
    /// Rules whose (flow, protocol) only the old side has.
    pub removed: Vec<ForwardRule>,
    /// Rules of a (flow, protocol) both sides have, with different zones, ports or addresses.
    pub changed: Vec<ForwardChange>,
}

/// The forward rules of one flow on a gateway, before and after.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ForwardChange {
    /// Flow id.
    pub flow: FlowId,
    /// `tcp` or `udp`.
    pub protocol: Protocol,
    /// The new side's purpose.
    pub purpose: String,
    /// The old rules.
    pub from: Vec<ForwardRule>,
    /// The new rules.
    pub to: Vec<ForwardRule>,
}

/// Rules only in `b`, rules only in `a`, and the groups both have that differ, by `key`.
#[allow(clippy::type_complexity)]
fn grouped<R: Clone + PartialEq, K: Ord>(
    a: &[R],
    b: &[R],
    key: impl Fn(&R) -> K,
) -> (Vec<R>, Vec<R>, Vec<(K, Vec<R>, Vec<R>)>) {
    let mut groups: BTreeMap<K, (Vec<R>, Vec<R>)> = BTreeMap::new();
    for r in a {
        groups.entry(key(r)).or_default().0.push(r.clone());
    }
    for r in b {
        groups.entry(key(r)).or_default().1.push(r.clone());
    }
    let (mut added, mut removed, mut changed) = (Vec::new(), Vec::new(), Vec::new());
    for (k, (x, y)) in groups {
        if x.is_empty() {
            added.extend(y);
        } else if y.is_empty() {
            removed.extend(x);
        } else if x != y {
            changed.push((k, x, y));
        }
    }
    (added, removed, changed)
}

/// What happened to a host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum HostStatus {
    /// Only the new side has rules for it.
    Added,
    /// Only the old side has rules for it.
    Removed,
    /// Its rules differ.
    Changed,
    /// Its rules are the same (listed for its idle roles only).
    Unchanged,
}

impl HostStatus {
    /// Lower-case name.
    pub const fn as_str(self) -> &'static str {
        match self {
            HostStatus::Added => "added",
            HostStatus::Removed => "removed",
            HostStatus::Changed => "changed",
            HostStatus::Unchanged => "unchanged",
        }
    }
}

/// The roles of a host that a release has no flows for.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct IdleRoles {
    /// Under the old release.
    pub from: Vec<Role>,
    /// Under the new release.
    pub to: Vec<Role>,
}

/// The rule changes of one host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HostDiff {
    /// Host name.
    pub host: String,
    /// Added, removed, changed or unchanged.
    pub status: HostStatus,
    /// Roles the host holds that a release knows no flows for (they are not silently dropped).
    pub idle_roles: IdleRoles,
    /// Rules whose (direction, flow, protocol) only the new side has.
    pub added: Vec<Rule>,
    /// Rules whose (direction, flow, protocol) only the old side has.
    pub removed: Vec<Rule>,
    /// Rules of a (direction, flow, protocol) both sides have, with different ports, peers or
    /// purpose.
    pub changed: Vec<RuleChange>,
}

/// The rules of one flow and direction on a host, before and after.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleChange {
    /// Inbound or outbound.
    pub direction: Direction,
    /// Flow id.
    pub flow: FlowId,
    /// `tcp` or `udp`.
    pub protocol: Protocol,
    /// The new side's purpose.
    pub purpose: String,
    /// The old rules.
    pub from: Vec<Rule>,
    /// The new rules.
    pub to: Vec<Rule>,
}

fn idle(release: &Release, topology: &Topology) -> BTreeMap<String, Vec<Role>> {
    topology
        .hosts
        .iter()
        .map(|h| (h.name.clone(), release.idle_roles(&h.roles)))
        .filter(|(_, roles)| !roles.is_empty())
        .collect()
}

/// Compares two compilations host by host. Rules are matched on (direction, flow, protocol).
pub fn diff_sites(from: Side<'_>, to: Side<'_>) -> SiteDiff {
    let old: BTreeMap<&str, &HostRules> = from.hosts.iter().map(|h| (h.host.as_str(), h)).collect();
    let new: BTreeMap<&str, &HostRules> = to.hosts.iter().map(|h| (h.host.as_str(), h)).collect();
    let idle_from = idle(from.release, from.topology);
    let idle_to = idle(to.release, to.topology);
    let names: BTreeSet<&str> = old
        .keys()
        .chain(new.keys())
        .copied()
        .chain(idle_from.keys().map(String::as_str))
        .chain(idle_to.keys().map(String::as_str))
        .collect();
    let mut hosts = Vec::new();
    for name in names {
        let a = old.get(name).map(|h| &h.rules[..]).unwrap_or_default();
        let b = new.get(name).map(|h| &h.rules[..]).unwrap_or_default();
        let (added, removed, changed) =
            grouped(a, b, |r| (r.direction, r.flow.clone(), r.protocol));
        let changed: Vec<RuleChange> = changed
            .into_iter()
            .map(|((direction, flow, protocol), from, to)| RuleChange {
                direction,
                flow,
                protocol,
                purpose: to[0].purpose.clone(),
                from,
                to,
            })
            .collect();
        let status = match (old.contains_key(name), new.contains_key(name)) {
            (false, true) => HostStatus::Added,
            (true, false) => HostStatus::Removed,
            _ if added.is_empty() && removed.is_empty() && changed.is_empty() => {
                HostStatus::Unchanged
            }
            _ => HostStatus::Changed,
        };
        let idle_roles = IdleRoles {
            from: idle_from.get(name).cloned().unwrap_or_default(),
            to: idle_to.get(name).cloned().unwrap_or_default(),
        };
        if status == HostStatus::Unchanged && idle_roles == IdleRoles::default() {
            continue;
        }
        hosts.push(HostDiff {
            host: name.to_owned(),
            status,
            idle_roles,
            added,
            removed,
            changed,
        });
    }
    let gateways = diff_gateways(from.gateways, to.gateways);
    SiteDiff {
        version: VERSION,
        from: SideInfo {
            site: from.site.to_owned(),
            release: from.release.id.to_owned(),
        },
        to: SideInfo {
            site: to.site.to_owned(),
            release: to.release.id.to_owned(),
        },
        hosts,
        gateways,
    }
}

fn diff_gateways(old: &[GatewayRules], new: &[GatewayRules]) -> Vec<GatewayDiff> {
    let old: BTreeMap<&str, &GatewayRules> = old.iter().map(|g| (g.gateway.as_str(), g)).collect();
    let new: BTreeMap<&str, &GatewayRules> = new.iter().map(|g| (g.gateway.as_str(), g)).collect();
    let names: BTreeSet<&str> = old.keys().chain(new.keys()).copied().collect();
    let mut out = Vec::new();
    for name in names {
        let a = old
            .get(name)
            .map(|g| g.rules.as_slice())
            .unwrap_or_default();
        let b = new
            .get(name)
            .map(|g| g.rules.as_slice())
            .unwrap_or_default();
        let (added, removed, changed) = grouped(a, b, |r| (r.flow.clone(), r.protocol));
        let status = match (old.contains_key(name), new.contains_key(name)) {
            (false, true) => HostStatus::Added,
            (true, false) => HostStatus::Removed,
            _ if added.is_empty() && removed.is_empty() && changed.is_empty() => continue,
            _ => HostStatus::Changed,
        };
        out.push(GatewayDiff {
            gateway: name.to_owned(),
            status,
            added,
            removed,
            changed: changed
                .into_iter()
                .map(|((flow, protocol), from, to)| ForwardChange {
                    flow,
                    protocol,
                    purpose: to[0].purpose.clone(),
                    from,
                    to,
                })
                .collect(),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Catalog, compile, topology};

    const SITE: &str = r#"
[[host]]
name = "ams"
os = "windows"
addresses = ["192.0.2.10"]
roles = ["management-server", "license-server"]

[[host]]
name = "agent"
os = "linux"
addresses = ["192.0.2.40"]
roles = ["agent"]
"#;

    fn side<'a>(release: &'a Release, topology: &'a Topology, hosts: &'a [HostRules]) -> Side<'a> {
        Side {
            site: "site.toml",
            release,
            topology,
            hosts,
            gateways: &[],
        }
    }

    #[test]
    fn a_release_against_itself_is_empty() {
        let catalog = Catalog::builtin();
        for r in catalog.releases() {
            assert!(diff_releases(r, r).is_empty(), "{}", r.id);
        }
    }

    #[test]
    fn the_license_server_is_reported_idle_under_12_5() {
        let catalog = Catalog::builtin();
        let mut topo = topology::parse("site.toml", SITE, &catalog).unwrap();
        let old_hosts = compile(&catalog, &topo).unwrap();
        let old = topo.clone();
        topo.release = catalog.release("ab-12.5").unwrap();
        let new_hosts = compile(&catalog, &topo).unwrap();
        let d = diff_sites(
            side(old.release, &old, &old_hosts),
            side(topo.release, &topo, &new_hosts),
        );
        assert!(!d.is_empty());
        let ams = d.hosts.iter().find(|h| h.host == "ams").unwrap();
        assert_eq!(ams.idle_roles.from, []);
        assert_eq!(ams.idle_roles.to, [Role::LicenseServer]);
        assert!(ams.added.iter().any(|r| r.flow == "v12-agent-ms"));
        assert!(ams.removed.iter().any(|r| r.flow == "agent-ms"));
        let same = diff_sites(
            side(old.release, &old, &old_hosts),
            side(old.release, &old, &old_hosts),
        );
        assert!(same.is_empty());
        // Every role of the site has flows in abr-11.5: an identical pair lists no host.
        assert!(same.hosts.is_empty());
    }

    #[test]
    fn catalog_diff_names_the_12_5_changes() {
        let catalog = Catalog::builtin();
        let d = diff_releases(
            catalog.release("abr-11.5").unwrap(),
            catalog.release("ab-12.5").unwrap(),
        );
        assert!(d.roles_removed.contains(&Role::LicenseServer));
        assert!(d.roles_removed.contains(&Role::ManagementConsole));
        assert!(d.added.iter().any(|f| f.id == "v12-browser-ms"));
        assert!(d.removed.iter().any(|f| f.id == "ms-agent"));
        let agent_sn = d.changed.iter().find(|c| c.id == "agent-sn").unwrap();
        assert!(agent_sn.fields.iter().any(|f| f.field == "encryption"));
    }
}

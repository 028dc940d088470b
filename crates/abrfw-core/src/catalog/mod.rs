//! The flow catalogs: every documented connection of a product release, as data.
//!
//! A release is a [`Release`] value: an id, where its data comes from, and a list of [`Flow`]s.
//! Adding a release means adding a module with one more `static` and listing it in
//! [`Catalog::builtin`]; nothing else in the compiler changes.

mod ab_12_5;
mod aba_11_7;
mod abr_11_5;
pub mod file;

use std::fmt;

use serde::Serialize;

use crate::ir::Protocol;
use crate::role::{Component, Role};

/// The Acronis default for every component's incoming and outgoing Acronis traffic ("Remote Agent
/// ports", ABR 11.5 administrative template). Sites may change it; see [`Port::Acronis`].
pub const DEFAULT_ACRONIS_PORT: u16 = 9876;

/// When a flow is needed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    /// Remote installation of agents.
    Install,
    /// Normal operation.
    Operate,
}

impl Phase {
    /// Both phases.
    pub const ALL: [Phase; 2] = [Phase::Install, Phase::Operate];

    /// The topology spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            Phase::Install => "install",
            Phase::Operate => "operate",
        }
    }

    /// Parses the topology spelling.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == name)
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The responder's port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Port {
    /// A fixed, well-known port.
    Fixed(u16),
    /// The Acronis port of the responding host: 9876 unless the topology changes it.
    Acronis,
    /// The port an NFSv3 server's mountd is pinned to (the responding host's
    /// `nfs_mountd_port`); flows on it carry [`Condition::nfs_v3`].
    NfsMountd,
}

/// IANA's port for the NFS mount protocol (mountd), the one `rpc.mountd` of nfs-utils takes
/// by default on current distributions; shown where a catalog row's port is the responder's
/// `nfs_mountd_port`.
pub const DEFAULT_NFS_MOUNTD_PORT: u16 = 20048;

impl Port {
    /// Whether a responder answers a flow on this port at `p`, given its Acronis port and its
    /// `nfs_mountd_port`.
    pub fn answers_on(self, p: u16, acronis_port: u16, nfs_mountd_port: Option<u16>) -> bool {
        match self {
            Port::Fixed(f) => f == p,
            Port::Acronis => acronis_port == p,
            Port::NfsMountd => nfs_mountd_port.unwrap_or(DEFAULT_NFS_MOUNTD_PORT) == p,
        }
    }
}

impl fmt::Display for Port {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Port::Fixed(p) => write!(f, "{p}"),
            Port::Acronis => write!(f, "{DEFAULT_ACRONIS_PORT}"),
            Port::NfsMountd => write!(f, "{DEFAULT_NFS_MOUNTD_PORT}"),
        }
    }
}

/// Which source ports the initiator uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SourcePort {
    /// The initiator's OS ephemeral range (the vendor's note for every diagram flow).
    Ephemeral,
    /// Any source port (Windows discovery protocols send from their own well-known ports).
    Any,
}

/// Whether the management server must be present or absent for a flow to apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Presence {
    /// Either.
    Any,
    /// Some host has the `management-server` role.
    Present,
    /// No host has the `management-server` role.
    Absent,
}

/// The site conditions a flow needs besides its two components being in the topology.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Condition {
    /// Management server present, absent, or either.
    pub management_server: Presence,
    /// `true`: only when the topology says the site has no DNS (`dns = false`).
    pub no_dns_only: bool,
    /// `true`: only towards responders that serve NFSv3 (their `nfs_mountd_port` is set); the
    /// compiler leaves other responders out of the flow.
    pub nfs_v3: bool,
}

impl Condition {
    /// No condition besides the two components.
    pub const ALWAYS: Condition = Condition {
        management_server: Presence::Any,
        no_dns_only: false,
        nfs_v3: false,
    };
    /// The management server is present.
    pub const MS_PRESENT: Condition = Condition {
        management_server: Presence::Present,
        no_dns_only: false,
        nfs_v3: false,
    };
    /// The management server is absent.
    pub const MS_ABSENT: Condition = Condition {
        management_server: Presence::Absent,
        no_dns_only: false,
        nfs_v3: false,
    };
    /// Towards NFS servers that serve NFSv3 (`nfs_mountd_port` set).
    pub const NFS_V3: Condition = Condition {
        management_server: Presence::Any,
        no_dns_only: false,
        nfs_v3: true,
    };

    /// Whether a site with (or without) a management server and DNS meets the condition.
    pub fn holds(&self, has_management_server: bool, dns: bool) -> bool {
        let ms = match self.management_server {
            Presence::Any => true,
            Presence::Present => has_management_server,
            Presence::Absent => !has_management_server,
        };
        ms && !(self.no_dns_only && dns)
    }
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        match self.management_server {
            Presence::Any => {}
            Presence::Present => parts.push("management server present"),
            Presence::Absent => parts.push("management server absent"),
        }
        if self.no_dns_only {
            parts.push("no DNS (dns = false)");
        }
        if self.nfs_v3 {
            parts.push("the NFS server serves NFSv3 (nfs_mountd_port)");
        }
        if parts.is_empty() {
            f.write_str("both components present")
        } else {
            f.write_str(&parts.join(", "))
        }
    }
}

/// How sure the catalog is of a flow (the `conf` column of `shared/reference/flows.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Confidence {
    /// The vendor names port, purpose and both endpoints (or a second vendor document pins them).
    High,
    /// Port and purpose are the vendor's; an endpoint or the direction is inferred.
    Medium,
    /// Inferred from a successor release or third-party material: verify before relying on it.
    Low,
}

impl Confidence {
    /// Every level, most certain first.
    pub const ALL: [Confidence; 3] = [Confidence::High, Confidence::Medium, Confidence::Low];

    /// The spelling used in catalogs and output.
    pub const fn as_str(self) -> &'static str {
        match self {
            Confidence::High => "high",
            Confidence::Medium => "medium",
            Confidence::Low => "low",
        }
    }

    /// Parses the catalog spelling.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == name)
    }
}

impl fmt::Display for Confidence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a flow's channel is protected, from the vendor's encryption note (the diagram's legend);
/// ordered worst first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Encryption {
    /// Not encrypted (the 25001 parameters channel, HTTP, NFS, Windows discovery).
    Unencrypted,
    /// Depends on the Windows File and Printer Sharing (SMB) settings.
    DependsOnSettings,
    /// The vendor gives no note for the channel.
    Unspecified,
    /// Encrypted (TLS on the Acronis port, SSH, HTTPS).
    Encrypted,
}

impl Encryption {
    /// The spelling in reports: `encrypted`, `depends-on-settings`, ...
    pub const fn as_str(self) -> &'static str {
        match self {
            Encryption::Unencrypted => "unencrypted",
            Encryption::DependsOnSettings => "depends-on-settings",
            Encryption::Unspecified => "unspecified",
            Encryption::Encrypted => "encrypted",
        }
    }
}

impl fmt::Display for Encryption {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Encryption {
    /// Every class, worst first.
    pub const ALL: [Encryption; 4] = [
        Encryption::Unencrypted,
        Encryption::DependsOnSettings,
        Encryption::Unspecified,
        Encryption::Encrypted,
    ];

    /// The class spelled `name` (`encrypted`, `depends-on-settings`, ...).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|e| e.as_str() == name)
    }
}

/// A flow's encryption: its class, stated in the catalog, and the vendor's note in words.
/// Serializes as the note (the catalog's JSON and reports print the note).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EncryptionNote {
    /// How the channel is protected.
    pub class: Encryption,
    /// The vendor's note (`encrypted by HTTPS`, `not stated`).
    pub note: &'static str,
}

impl EncryptionNote {
    /// An encrypted channel (TLS, SSH, HTTPS).
    pub const fn encrypted(note: &'static str) -> Self {
        Self {
            class: Encryption::Encrypted,
            note,
        }
    }

    /// A channel that is not encrypted.
    pub const fn unencrypted(note: &'static str) -> Self {
        Self {
            class: Encryption::Unencrypted,
            note,
        }
    }

    /// A channel whose protection depends on Windows' File and Printer Sharing settings.
    pub const fn depends_on_settings(note: &'static str) -> Self {
        Self {
            class: Encryption::DependsOnSettings,
            note,
        }
    }

    /// A channel the sources say nothing definite about.
    pub const fn unspecified(note: &'static str) -> Self {
        Self {
            class: Encryption::Unspecified,
            note,
        }
    }
}

impl Serialize for EncryptionNote {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.note)
    }
}

impl fmt::Display for EncryptionNote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.note)
    }
}

/// The group a flow belongs to: the sections of `docs/flows.md`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Group {
    /// Remote installation of agents (phase install).
    RemoteInstall,
    /// Communication between installed components (phase operate).
    Components,
    /// Network Discovery and File and Printer Sharing on sites without DNS.
    NoDns,
    /// A flow of a user's catalog that names no group.
    Custom,
}

impl Group {
    /// Every group, in the order `docs/flows.md` lists them.
    pub const ALL: [Group; 4] = [
        Group::RemoteInstall,
        Group::Components,
        Group::NoDns,
        Group::Custom,
    ];

    /// The catalog spelling: `remote-install`, `components`, `no-dns`, `custom`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Group::RemoteInstall => "remote-install",
            Group::Components => "components",
            Group::NoDns => "no-dns",
            Group::Custom => "custom",
        }
    }

    /// The group spelled `name`.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|g| g.as_str() == name)
    }

    /// A heading for the group's flows.
    pub const fn title(self) -> &'static str {
        match self {
            Group::RemoteInstall => "Remote installation of agents (phase `install`)",
            Group::Components => "Communication between components (phase `operate`)",
            Group::NoDns => {
                "Network Discovery and File and Printer Sharing, non-DNS sites (`dns = false`, phase `install`)"
            }
            Group::Custom => "Group `custom`",
        }
    }
}

impl Group {
    /// What the group's rows mean beyond the table, for `docs/flows.md` (issue 16's corrections
    /// are explained here, with their sources); `None` for a group with nothing to add.
    pub const fn note(self) -> Option<&'static str> {
        match self {
            Group::RemoteInstall => Some(
                "Push targets: the vendor installs Windows agents remotely over 445 and 25001 \
                 and Linux agents over SSH (22). `target_win` is `agent`, `agent-exchange`, \
                 `agent-hyperv` or `agent-vmware-windows` on Windows: Agent for Hyper-V and \
                 Agent for VMware (Windows) are installed the same way as the other Windows \
                 agents, so under `aba-11.7`, where those roles have flows, they get the \
                 installation, registration and licence rules too.",
            ),
            Group::Components => Some(
                "The management console connecting directly to a managed machine \
                 (`console-agent`, TCP 9876) is in every release from 11.5: the ABR 11.5 user \
                 guide documents it (source S9; medium confidence, the port is the 9876 of S1's \
                 note) and the later revision draws it; without it a site with no management \
                 server could push agents but never manage them. A storage node keeping a \
                 managed vault on a network share or NAS (`sn-vault-smb`, `sn-vault-nfs`, \
                 responder roles `managed-vault-smb` and `managed-vault-nfs`) is modelled in \
                 11.5 and 11.7: the seed says \"Standard ports and protocols\" twice, the second \
                 time for the storage node's managed vaults (the reference's \"phrase once\" is \
                 wrong there), and the later revision draws \"Managed vault (network share, \
                 NAS)\"; the ports are those of unmanaged vaults (A6: SMB 445, NFS 2049). NFS on \
                 TCP 2049 alone is NFSv4; an NFS server that says `nfs_mountd_port` serves NFSv3 \
                 too and gets the `*-rpcbind*` and `*-mountd*` rows (rpcbind TCP and UDP 111, \
                 mountd TCP and UDP on that port; abrfw's own rows, not the vendor's, for the \
                 protocol the vendor names). NFS clients send from a reserved port below 1024 \
                 (the Linux and BSD default `resvport`; `noresvport` uses the ephemeral range), \
                 so the NFS rows accept any source port.",
            ),
            Group::NoDns => Some(
                "The vendor's sentence (S1 note) asks for Network Discovery and File and Printer \
                 Sharing on the machine that performs the installation when the site has no \
                 DNS: Windows features, between Windows machines. So the rows run from a Windows \
                 push target (`target_win`) to the management server or, with no management \
                 server, to a Windows console (`console_win`). A Linux console gets none of \
                 them: it pushes Linux agents over SSH and Windows agents over 445/25001 as in a \
                 DNS site; a Linux target gets none either. TCP rows use the initiator's \
                 ephemeral range (reference section 1.1); only the NetBIOS name and datagram \
                 services (UDP 137, 138) and SSDP (UDP 1900) send from their well-known port, \
                 which is why their source is `any`.",
            ),
            Group::Custom => None,
        }
    }
}

impl fmt::Display for Group {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One documented connection: who opens it, to whom, on which port, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Flow {
    /// Stable id, used in rule comments and names (`agent-ms`).
    pub id: &'static str,
    /// The group the flow belongs to.
    pub group: Group,
    /// The component that opens the connection.
    pub initiator: Component,
    /// The component that accepts it.
    pub responder: Component,
    /// Transport protocol.
    pub protocol: Protocol,
    /// Destination port on the responder.
    pub port: Port,
    /// Source ports of the initiator.
    pub source_port: SourcePort,
    /// What the connection is for, in the vendor's words where it has them.
    pub purpose: &'static str,
    /// The channel's encryption: its class and the vendor's note.
    pub encryption: EncryptionNote,
    /// Install or operate.
    pub phase: Phase,
    /// Site conditions.
    pub condition: Condition,
    /// Where the flow is documented (ids of `shared/reference/flows.md` §0).
    pub source: &'static str,
    /// How well the sources pin the flow down.
    pub confidence: Confidence,
}

/// A product release: its flows and where they come from.
#[derive(Debug, Serialize)]
pub struct Release {
    /// Id used in topologies (`release = "abr-11.5"`).
    pub id: &'static str,
    /// Product name and version.
    pub title: &'static str,
    /// The vendor document the catalog encodes.
    pub document: &'static str,
    /// The roles that exist in this release. A host's other roles take part in no flow of it
    /// (see [`Release::idle_roles`]): the license server has none in ab-12.5, Agent for Hyper-V
    /// none in abr-11.5.
    pub roles: &'static [Role],
    /// Every flow, in catalog order.
    pub flows: &'static [Flow],
}

impl Release {
    /// The flow with this id.
    pub fn flow(&self, id: &str) -> Option<&'static Flow> {
        self.flows.iter().find(|f| f.id == id)
    }

    /// Whether the release knows this role.
    pub fn has_role(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    /// The roles of `roles` that the release does not know, in the given order.
    pub fn idle_roles(&self, roles: &[Role]) -> Vec<Role> {
        roles
            .iter()
            .copied()
            .filter(|&r| !self.has_role(r))
            .collect()
    }
}

/// The releases a run knows: the built-in ones, plus any loaded with [`Catalog::with`].
#[derive(Debug, Clone)]
pub struct Catalog {
    releases: Vec<&'static Release>,
}

/// The id of the release a topology without `release = ...` compiles under. It stays the first
/// release so that existing sites compile the same when newer releases are added.
pub const DEFAULT_RELEASE: &str = "abr-11.5";

impl Catalog {
    /// Every release abrfw knows, oldest first.
    pub fn builtin() -> Self {
        Catalog {
            releases: vec![&abr_11_5::RELEASE, &aba_11_7::RELEASE, &ab_12_5::RELEASE],
        }
    }

    /// The catalog with one more release (a user catalog loaded by [`file::parse`]).
    pub fn with(mut self, release: &'static Release) -> Self {
        self.releases.push(release);
        self
    }

    /// All releases, built-in ones oldest first, then loaded ones.
    pub fn releases(&self) -> &[&'static Release] {
        &self.releases
    }

    /// The release with this id.
    pub fn release(&self, id: &str) -> Option<&'static Release> {
        self.releases.iter().copied().find(|r| r.id == id)
    }

    /// The release a topology gets when it names none: [`DEFAULT_RELEASE`].
    pub fn default_release(&self) -> &'static Release {
        self.release(DEFAULT_RELEASE).unwrap_or(self.releases[0])
    }

    /// The ids of every release, for "known: ..." messages.
    pub fn ids(&self) -> Vec<&'static str> {
        self.releases.iter().map(|r| r.id).collect()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// Every row of flows.md §1.1 and §1.2 whose seed column is `y` (agent-vault is split by
    /// vault protocol, ri-nodns-discovery by port), and nothing from the later revision.
    const SEED_ROWS: [&str; 25] = [
        "ri-request",
        "ri-ms-win-files",
        "ri-ms-win-params",
        "ri-ms-linux-ssh",
        "ri-con-win-files",
        "ri-con-win-params",
        "ri-con-linux-ssh",
        "ri-license-ms",
        "ri-license-nomgmt",
        "ri-register",
        "ms-agent",
        "agent-ms",
        "console-ms",
        "ms-sn",
        "agent-sn",
        "agent-ls-check",
        "ms-ls-manage",
        "console-ls-manage",
        "va-vcenter",
        "va-esxi-443",
        "va-esxi-902",
        "agent-cloud-443",
        "browser-cloud",
        "update-check",
        "agent-vault-smb",
    ];

    #[test]
    fn abr_11_5_has_every_seed_flow_and_no_later_one() {
        let release = Catalog::builtin().release("abr-11.5").unwrap();
        let ids: BTreeSet<&str> = release.flows.iter().map(|f| f.id).collect();
        assert_eq!(ids.len(), release.flows.len(), "flow ids are unique");
        for id in SEED_ROWS {
            assert!(ids.contains(id), "{id} missing");
        }
        for later in [
            "browser-ms-8080",
            "agent-cloud-44445",
            "agent-cloud-55556",
            "vmwin-vsphere",
        ] {
            assert!(
                !ids.contains(later),
                "{later} belongs to the later revision"
            );
        }
        let no_dns = release
            .flows
            .iter()
            .filter(|f| f.group == Group::NoDns)
            .count();
        assert_eq!(
            no_dns, 20,
            "10 ports on the management server, 10 on the console"
        );
        // S9: the console manages a machine directly in 11.5 as well.
        let direct = release.flow("console-agent").unwrap();
        assert_eq!(
            (direct.initiator, direct.responder, direct.port),
            (Component::Console, Component::Agent, Port::Acronis)
        );
        assert!(direct.source.starts_with("S9"), "{}", direct.source);
        assert_eq!(direct.confidence, Confidence::Medium);
    }

    #[test]
    fn no_dns_rows_use_the_ephemeral_range_except_the_three_well_known_senders() {
        let release = Catalog::builtin().default_release();
        for f in release.flows.iter().filter(|f| f.group == Group::NoDns) {
            let own_port = matches!(f.port, Port::Fixed(137 | 138 | 1900));
            if own_port {
                assert_eq!(f.protocol, Protocol::Udp, "{}", f.id);
                assert_eq!(f.source_port, SourcePort::Any, "{}", f.id);
            } else {
                assert_eq!(f.source_port, SourcePort::Ephemeral, "{}", f.id);
            }
            assert_eq!(f.initiator, Component::TargetWin, "{}", f.id);
            assert!(
                matches!(f.responder, Component::Ms | Component::ConsoleWin),
                "{}",
                f.id
            );
        }
    }

    #[test]
    fn the_managed_vault_is_in_both_11_x_releases_and_not_in_12_5() {
        let catalog = Catalog::builtin();
        for id in ["abr-11.5", "aba-11.7"] {
            let release = catalog.release(id).unwrap();
            for (flow, port, role) in [
                ("sn-vault-smb", 445, Role::ManagedVaultSmb),
                ("sn-vault-nfs", 2049, Role::ManagedVaultNfs),
            ] {
                let f = release.flow(flow).unwrap();
                assert_eq!(f.initiator, Component::Sn);
                assert_eq!(f.port, Port::Fixed(port));
                assert!(f.source.contains("S3"), "{}", f.source);
                assert!(release.has_role(role));
            }
        }
        let twelve = catalog.release("ab-12.5").unwrap();
        assert!(twelve.flow("sn-vault-smb").is_none());
    }

    #[test]
    fn the_later_revision_is_11_5_plus_the_later_rows() {
        let catalog = Catalog::builtin();
        let old = catalog.release("abr-11.5").unwrap();
        let later = catalog.release("aba-11.7").unwrap();
        for f in old.flows {
            assert!(later.flow(f.id).is_some(), "{} kept", f.id);
        }
        for id in [
            "browser-ms-8080",
            "agent-cloud-44445",
            "agent-cloud-55556",
            "vmwin-vcenter",
            "vmwin-esxi-443",
            "vmwin-esxi-902",
        ] {
            assert!(later.flow(id).is_some(), "{id} added");
        }
        assert_eq!(later.flows.len(), old.flows.len() + 6);
        let direct = later.flow("console-agent").unwrap();
        assert_eq!(direct.source, "S3, S9", "drawn in the later revision");
        assert!(
            later
                .flow("agent-cloud-443")
                .unwrap()
                .purpose
                .contains("Cloud Backup Storage")
        );
        assert!(later.has_role(Role::AgentHyperv) && !old.has_role(Role::AgentHyperv));
        assert!(later.has_role(Role::AgentVmwareWindows));
    }

    #[test]
    fn ab_12_5_drops_the_license_server_and_flags_its_guesses() {
        let release = Catalog::builtin().release("ab-12.5").unwrap();
        assert!(!release.has_role(Role::LicenseServer));
        assert!(!release.has_role(Role::ManagementConsole));
        let ids: BTreeSet<&str> = release.flows.iter().map(|f| f.id).collect();
        assert_eq!(ids.len(), release.flows.len(), "flow ids are unique");
        let low: Vec<&str> = release
            .flows
            .iter()
            .filter(|f| f.confidence == Confidence::Low)
            .map(|f| f.id)
            .collect();
        assert_eq!(
            low,
            [
                "v12-catalog-sn",
                "v12-ms-catalog",
                "ri-ms-win-files",
                "ri-ms-win-params"
            ]
        );
        assert_eq!(
            release.flow("v12-agent-ms").unwrap().port,
            Port::Fixed(7780)
        );
        assert_eq!(
            release.flow("v12-browser-ms").unwrap().port,
            Port::Fixed(9877)
        );
    }

    #[test]
    fn the_default_release_stays_abr_11_5() {
        assert_eq!(Catalog::builtin().default_release().id, "abr-11.5");
        assert_eq!(
            Catalog::builtin().ids(),
            ["abr-11.5", "aba-11.7", "ab-12.5"]
        );
    }

    #[test]
    fn registration_goes_both_ways_on_the_acronis_port() {
        let release = Catalog::builtin().default_release();
        let ms_agent = release.flow("ms-agent").unwrap();
        let agent_ms = release.flow("agent-ms").unwrap();
        assert_eq!(
            (ms_agent.initiator, ms_agent.responder),
            (Component::Ms, Component::Agent)
        );
        assert_eq!(
            (agent_ms.initiator, agent_ms.responder),
            (Component::Agent, Component::Ms)
        );
        assert_eq!(ms_agent.port, Port::Acronis);
        assert_eq!(agent_ms.phase, Phase::Operate);
    }

    #[test]
    fn every_encryption_note_has_a_class() {
        let release = Catalog::builtin().default_release();
        let class = |id: &str| release.flow(id).unwrap().encryption.class;
        assert_eq!(class("ms-agent"), Encryption::Encrypted);
        assert_eq!(class("ri-ms-win-params"), Encryption::Unencrypted);
        assert_eq!(class("update-check"), Encryption::Unencrypted);
        assert_eq!(class("ri-ms-win-files"), Encryption::DependsOnSettings);
        assert_eq!(class("ri-nodns-ms-smb"), Encryption::Unencrypted);
        // Only the 902 row has no note in the legend.
        let unspecified: Vec<&str> = release
            .flows
            .iter()
            .filter(|f| f.encryption.class == Encryption::Unspecified)
            .map(|f| f.id)
            .collect();
        assert_eq!(unspecified, vec!["va-esxi-902"]);
        // The later releases: 902 again, and the 12.5 rows whose source states nothing.
        let unspecified = |id: &str| -> Vec<&str> {
            let release = Catalog::builtin().release(id).unwrap();
            release
                .flows
                .iter()
                .filter(|f| f.encryption.class == Encryption::Unspecified)
                .map(|f| f.id)
                .collect()
        };
        assert_eq!(
            unspecified("aba-11.7"),
            vec!["va-esxi-902", "vmwin-esxi-902"]
        );
        let twelve = Catalog::builtin().release("ab-12.5").unwrap();
        for id in unspecified("ab-12.5") {
            let note = twelve.flow(id).unwrap().encryption.note;
            assert!(
                note == "not stated" || note.starts_with("vendor-defined"),
                "{id}: {note}"
            );
        }
    }

    #[test]
    fn conditions_follow_management_server_and_dns() {
        assert!(Condition::MS_PRESENT.holds(true, true));
        assert!(!Condition::MS_PRESENT.holds(false, true));
        assert!(Condition::MS_ABSENT.holds(false, false));
        assert!(!Condition::MS_ABSENT.holds(true, true));
        let no_dns = Condition {
            management_server: Presence::Any,
            no_dns_only: true,
            nfs_v3: false,
        };
        assert!(no_dns.holds(true, false));
        assert!(!no_dns.holds(true, true));
    }
}

//! Acronis Backup & Recovery 11.5: the flows of the vendor's "ABR11.5 Network Connections" diagram.
//!
//! Every row of `shared/reference/flows.md` §1.1 and §1.2 whose seed column is `y`, plus the
//! Network Discovery and File and Printer Sharing groups (§3.1) the seed asks for in a non-DNS
//! environment. Source ids (S1, S4, ...) are those of flows.md §0; ambiguities (A1...) are §4.

use super::Confidence::{High, Medium};
use super::{
    Condition, DEFAULT_ACRONIS_PORT, EncryptionNote, Flow, Group, Phase, Port, Presence, Release,
    SourcePort,
};
use crate::ir::Protocol::{Tcp, Udp};
use crate::role::Component::*;
use crate::role::Role;

const _: () = assert!(DEFAULT_ACRONIS_PORT == 9876);

/// The vendor's legend for TCP 9876 (S1, S5; A17).
const E9876: EncryptionNote = EncryptionNote::encrypted(
    "encrypted by default (TLS, negotiable through the Acronis administrative template)",
);
const SMB: EncryptionNote = EncryptionNote::depends_on_settings(
    "depends on the File and Printer Sharing options in Windows",
);
const P25001: EncryptionNote = EncryptionNote::unencrypted(
    "channel not encrypted; user names and passwords are sent encrypted",
);
const SSH: EncryptionNote = EncryptionNote::encrypted("encrypted by SSH");
const HTTPS: EncryptionNote = EncryptionNote::encrypted("encrypted by HTTPS");
const PLAIN: EncryptionNote = EncryptionNote::unencrypted("not encrypted");
const DISCOVERY: EncryptionNote =
    EncryptionNote::unencrypted("not encrypted (Windows discovery and sharing protocols)");
const E902: EncryptionNote =
    EncryptionNote::unspecified("vendor-defined (the legend gives no note for 902)");

/// Template for the remote-installation rows: install phase, ephemeral source ports, TCP.
const INSTALL: Flow = Flow {
    id: "",
    group: Group::RemoteInstall,
    initiator: Ms,
    responder: TargetWin,
    protocol: Tcp,
    port: Port::Acronis,
    source_port: SourcePort::Ephemeral,
    purpose: "",
    encryption: E9876,
    phase: Phase::Install,
    condition: Condition::MS_PRESENT,
    source: "S1",
    confidence: High,
};

/// Template for the rows of part 2, "Communication between components".
const OPERATE: Flow = Flow {
    group: Group::Components,
    phase: Phase::Operate,
    condition: Condition::ALWAYS,
    ..INSTALL
};

/// Template for the Network Discovery / File and Printer Sharing rows (§3.1, A12): inbound on the
/// Windows machine that runs the installation, from the Windows machines it installs to.
///
/// The seed's sentence ("it is necessary to enable Network Discovery and File and Printer Sharing
/// on the machine from where the installation is performed") names two Windows features, so the
/// group applies only where both ends run Windows: the installer is the management server (a
/// Windows role) or a Windows console ([`ConsoleWin`]), the peers are the Windows push targets
/// ([`TargetWin`]). A Linux console or a Linux target has neither feature and gets none of these
/// rules (docs/flows.md, "Network Discovery on a Linux console").
///
/// Source ports follow flows.md §1.1 ("source port for every row: the initiator's ephemeral
/// range"), except for the three UDP protocols that send from their own well-known port, which
/// the rows below mark `SourcePort::Any` with the reason.
const NO_DNS: Flow = Flow {
    group: Group::NoDns,
    initiator: TargetWin,
    source_port: SourcePort::Ephemeral,
    encryption: DISCOVERY,
    condition: Condition {
        management_server: Presence::Present,
        no_dns_only: true,
        nfs_v3: false,
    },
    source: "S1 note; ports S15-S20",
    confidence: Medium,
    ..INSTALL
};

/// NetBIOS name service: NetBT sends its name queries, registrations and answers from UDP 137 to
/// UDP 137 (RFC 1001 §15, RFC 1002 §4.2), so an ephemeral-range rule would drop them.
const FROM_137: SourcePort = SourcePort::Any;
/// NetBIOS datagram service: datagrams go from UDP 138 to UDP 138 (RFC 1001 §17, RFC 1002 §4.4).
const FROM_138: SourcePort = SourcePort::Any;
/// SSDP: the Windows SSDP service sends its NOTIFY announcements and answers from UDP 1900 (S17,
/// "UDP 1900 in and out"), while searches leave from an ephemeral port: either source.
const FROM_1900: SourcePort = SourcePort::Any;
/// Every TCP row, LLMNR and WS-Discovery: the initiator's ephemeral range (flows.md §1.1).
const EPHEMERAL: SourcePort = SourcePort::Ephemeral;

/// Network Discovery and File and Printer Sharing ports (flows.md §3.1): id suffix, protocol, port,
/// source port, what it is. ICMP echo and RPC (135 + dynamic) are left out: abrfw rules carry TCP
/// and UDP only, and the RPC rows are secondary-source only (L).
macro_rules! no_dns_group {
    ($installer:ident, $prefix:literal, $presence:expr) => {
        [
            no_dns_group!(@ $installer, $prefix, $presence, "nb-name", Udp, 137, FROM_137, "File and Printer Sharing / Network Discovery: NetBIOS name service"),
            no_dns_group!(@ $installer, $prefix, $presence, "nb-datagram", Udp, 138, FROM_138, "File and Printer Sharing / Network Discovery: NetBIOS datagram service"),
            no_dns_group!(@ $installer, $prefix, $presence, "nb-session", Tcp, 139, EPHEMERAL, "File and Printer Sharing: NetBIOS session service (SMB over NetBT)"),
            no_dns_group!(@ $installer, $prefix, $presence, "smb", Tcp, 445, EPHEMERAL, "File and Printer Sharing: SMB"),
            no_dns_group!(@ $installer, $prefix, $presence, "llmnr", Udp, 5355, EPHEMERAL, "File and Printer Sharing / Network Discovery: LLMNR name resolution"),
            no_dns_group!(@ $installer, $prefix, $presence, "ssdp", Udp, 1900, FROM_1900, "Network Discovery: SSDP"),
            no_dns_group!(@ $installer, $prefix, $presence, "upnp", Tcp, 2869, EPHEMERAL, "Network Discovery: UPnP"),
            no_dns_group!(@ $installer, $prefix, $presence, "wsd", Udp, 3702, EPHEMERAL, "Network Discovery: WS-Discovery"),
            no_dns_group!(@ $installer, $prefix, $presence, "wsd-events", Tcp, 5357, EPHEMERAL, "Network Discovery: WSD events (WSDAPI HTTP)"),
            no_dns_group!(@ $installer, $prefix, $presence, "wsd-events-secure", Tcp, 5358, EPHEMERAL, "Network Discovery: WSD events secure"),
        ]
    };
    (@ $installer:ident, $prefix:literal, $presence:expr, $name:literal, $proto:ident, $port:literal, $sport:expr, $purpose:literal) => {
        Flow {
            id: concat!($prefix, $name),
            responder: $installer,
            protocol: $proto,
            port: Port::Fixed($port),
            source_port: $sport,
            purpose: $purpose,
            condition: Condition {
                management_server: $presence,
                no_dns_only: true,
                nfs_v3: false,
            },
            ..NO_DNS
        }
    };
}

pub(super) const NO_DNS_MS: [Flow; 10] = no_dns_group!(Ms, "ri-nodns-ms-", Presence::Present);
pub(super) const NO_DNS_CONSOLE: [Flow; 10] =
    no_dns_group!(ConsoleWin, "ri-nodns-con-", Presence::Absent);

/// NFS clients (the Linux and BSD kernels' default `resvport` mount option) send from a reserved
/// port below 1024 (RFC 1813 appendix I: servers may insist on it); `noresvport` uses the
/// ephemeral range. Either way the NFS rows accept any source port.
const NFS_CLIENT: SourcePort = SourcePort::Any;

/// The NFSv3 side protocols towards an NFS server that serves NFSv3 (its `nfs_mountd_port` is
/// set): rpcbind (portmapper) on TCP and UDP 111 (RFC 1833) and the mount protocol on the port
/// the admin pins mountd to (RFC 1813 appendix I), TCP and UDP. The vendor names only "NFS"
/// (A6); these rows are abrfw's, for the protocol's version 3. NLM/NSM (file locking) are not
/// opened: their ports are dynamic unless pinned, so NFSv3 vaults are mounted `nolock`
/// (docs/topology.md).
macro_rules! nfs_v3 {
    ($prefix:literal, $initiator:ident, $responder:ident, $what:literal, $source:literal) => {
        [
            nfs_v3!(@ concat!($prefix, "rpcbind"), $initiator, $responder, Tcp, Port::Fixed(111),
                concat!("NFSv3 rpcbind (portmapper) ", $what), $source),
            nfs_v3!(@ concat!($prefix, "rpcbind-udp"), $initiator, $responder, Udp, Port::Fixed(111),
                concat!("NFSv3 rpcbind (portmapper) over UDP ", $what), $source),
            nfs_v3!(@ concat!($prefix, "mountd"), $initiator, $responder, Tcp, Port::NfsMountd,
                concat!("NFSv3 mount protocol (mountd) ", $what), $source),
            nfs_v3!(@ concat!($prefix, "mountd-udp"), $initiator, $responder, Udp, Port::NfsMountd,
                concat!("NFSv3 mount protocol (mountd) over UDP ", $what), $source),
        ]
    };
    (@ $id:expr, $initiator:ident, $responder:ident, $proto:ident, $port:expr, $purpose:expr, $source:literal) => {
        Flow {
            id: $id,
            confidence: Medium,
            initiator: $initiator,
            responder: $responder,
            protocol: $proto,
            port: $port,
            source_port: NFS_CLIENT,
            purpose: $purpose,
            encryption: PLAIN,
            condition: Condition::NFS_V3,
            source: $source,
            ..OPERATE
        }
    };
}

/// NFSv3 towards unmanaged vaults on a NAS (agents) and managed vaults on a NAS (storage nodes).
pub(super) const NFS_V3_AGENT: [Flow; 4] = nfs_v3!(
    "agent-vault-nfs-",
    Agent,
    VaultNfs,
    "to an unmanaged vault on a NAS",
    "S1, S3 (A6: NFS for the vault); RFC 1833, RFC 1813 appendix I"
);
pub(super) const NFS_V3_SN: [Flow; 4] = nfs_v3!(
    "sn-vault-nfs-",
    Sn,
    ManagedVaultNfs,
    "to a managed vault on a NAS",
    "S1 (second \"Standard ports and protocols\"), S3 (A6); RFC 1833, RFC 1813 appendix I"
);

const CATALOG: [Flow; 30] = [
    // 1. Remote installation of agents (flows.md §1.1).
    Flow {
        id: "ri-request",
        initiator: Console,
        responder: Ms,
        purpose: "Requesting to install components",
        source: "S1, S4 (A3)",
        ..INSTALL
    },
    Flow {
        id: "ri-ms-win-files",
        initiator: Ms,
        responder: TargetWin,
        port: Port::Fixed(445),
        purpose: "Sending files: .msi packages, Acroinst.exe, Msi_setup.exe",
        encryption: SMB,
        source: "S1, S2",
        ..INSTALL
    },
    Flow {
        id: "ri-ms-win-params",
        initiator: Ms,
        responder: TargetWin,
        port: Port::Fixed(25001),
        purpose: "Sending installation parameters",
        encryption: P25001,
        source: "S1, S2",
        ..INSTALL
    },
    Flow {
        id: "ri-ms-linux-ssh",
        initiator: Ms,
        responder: TargetLinux,
        port: Port::Fixed(22),
        purpose: "Sending files (.i686/.x86_64 packages) and starting the installation",
        encryption: SSH,
        source: "S1, S2",
        ..INSTALL
    },
    Flow {
        id: "ri-con-win-files",
        initiator: Console,
        responder: TargetWin,
        port: Port::Fixed(445),
        purpose: "Sending files: .msi packages, Acroinst.exe, Msi_setup.exe",
        encryption: SMB,
        condition: Condition::MS_ABSENT,
        source: "S1, S2",
        ..INSTALL
    },
    Flow {
        id: "ri-con-win-params",
        initiator: Console,
        responder: TargetWin,
        port: Port::Fixed(25001),
        purpose: "Sending installation parameters",
        encryption: P25001,
        condition: Condition::MS_ABSENT,
        source: "S1, S2",
        ..INSTALL
    },
    Flow {
        id: "ri-con-linux-ssh",
        initiator: Console,
        responder: TargetLinux,
        port: Port::Fixed(22),
        purpose: "Sending files (.i686/.x86_64 packages) and starting the installation",
        encryption: SSH,
        condition: Condition::MS_ABSENT,
        source: "S1, S2",
        ..INSTALL
    },
    Flow {
        id: "ri-license-ms",
        confidence: Medium,
        initiator: NewAgent,
        responder: Ls,
        purpose: "Acquiring a license",
        source: "S1, S2, S6 (A1)",
        ..INSTALL
    },
    Flow {
        id: "ri-license-nomgmt",
        confidence: Medium,
        initiator: NewAgent,
        responder: Ls,
        purpose: "Acquiring a license (use of the license server is optional)",
        condition: Condition::MS_ABSENT,
        source: "S1, S2, S6 (A1)",
        ..INSTALL
    },
    Flow {
        id: "ri-register",
        confidence: Medium,
        initiator: NewAgent,
        responder: Ms,
        purpose: "Registration on the management server",
        source: "S1, S2 (A2)",
        ..INSTALL
    },
    // 2. Communication between components (flows.md §1.2).
    Flow {
        id: "ms-agent",
        initiator: Ms,
        responder: Agent,
        purpose: "Registering (MS-triggered), managing agents: deploying backup plans, collecting logs",
        condition: Condition::MS_PRESENT,
        source: "S1, S3",
        ..OPERATE
    },
    Flow {
        id: "agent-ms",
        initiator: Agent,
        responder: Ms,
        purpose: "Registering (agent-triggered), notifying that the machine came online or its IP changed",
        condition: Condition::MS_PRESENT,
        source: "S1, S3",
        ..OPERATE
    },
    Flow {
        id: "console-ms",
        initiator: Console,
        responder: Ms,
        purpose: "Communicating with the management server",
        source: "S1, S3",
        ..OPERATE
    },
    // S9 ("Privileges for remote connection", ABR 11.5 user guide): the console connects
    // directly to a managed machine. The 11.5 diagram draws no arrow for it; the later revision
    // does (console -> agent TCP 9876, "Managing agents", S3). Without it a site with no
    // management server could push agents but never manage them.
    Flow {
        id: "console-agent",
        confidence: Medium,
        initiator: Console,
        responder: Agent,
        purpose: "Managing a machine directly (console connected to the agent)",
        source: "S9 (direct console connection; port from S1's note for 9876)",
        ..OPERATE
    },
    Flow {
        id: "ms-sn",
        confidence: Medium,
        initiator: Ms,
        responder: Sn,
        purpose: "Managing storage nodes and centralized catalog",
        source: "S1, S3",
        ..OPERATE
    },
    Flow {
        id: "agent-sn",
        initiator: Agent,
        responder: Sn,
        purpose: "Accessing managed vaults",
        source: "S1, S3",
        ..OPERATE
    },
    Flow {
        id: "agent-vault-smb",
        confidence: Medium,
        initiator: Agent,
        responder: VaultSmb,
        port: Port::Fixed(445),
        purpose: "Backing up to an unmanaged vault on a network share or NAS (SMB)",
        encryption: SMB,
        source: "S1, S3 (A6: port from the vault protocol)",
        ..OPERATE
    },
    Flow {
        id: "agent-vault-sftp",
        confidence: Medium,
        initiator: Agent,
        responder: VaultSftp,
        port: Port::Fixed(22),
        purpose: "Backing up to an unmanaged vault on an SFTP server",
        encryption: SSH,
        source: "S1, S3 (A6: port from the vault protocol)",
        ..OPERATE
    },
    Flow {
        id: "agent-vault-nfs",
        confidence: Medium,
        initiator: Agent,
        responder: VaultNfs,
        port: Port::Fixed(2049),
        source_port: NFS_CLIENT,
        purpose: "Backing up to an unmanaged vault on a NAS (NFS)",
        encryption: PLAIN,
        source: "S1, S3 (A6: port from the vault protocol)",
        ..OPERATE
    },
    // The seed has "Standard ports and protocols" twice (S1): once to the unmanaged vaults,
    // once from the storage node to the managed vault it keeps on a network share or NAS
    // ("Managed vault (network share, NAS)" in S3). Ports from the protocol, as for the
    // unmanaged vaults (A6); FTP and SFTP are drawn for unmanaged vaults only.
    Flow {
        id: "sn-vault-smb",
        confidence: Medium,
        initiator: Sn,
        responder: ManagedVaultSmb,
        port: Port::Fixed(445),
        purpose: "Storage node keeping a managed vault on a network share or NAS (SMB)",
        encryption: SMB,
        source: "S1 (second \"Standard ports and protocols\"), S3 (A6: port from the vault protocol)",
        ..OPERATE
    },
    Flow {
        id: "sn-vault-nfs",
        confidence: Medium,
        initiator: Sn,
        responder: ManagedVaultNfs,
        port: Port::Fixed(2049),
        source_port: NFS_CLIENT,
        purpose: "Storage node keeping a managed vault on a NAS (NFS)",
        encryption: PLAIN,
        source: "S1 (second \"Standard ports and protocols\"), S3 (A6: port from the vault protocol)",
        ..OPERATE
    },
    Flow {
        id: "agent-ls-check",
        initiator: Agent,
        responder: Ls,
        purpose: "Checking licenses (at service start, then every 1-5 days)",
        source: "S1, S3, S6, S7",
        ..OPERATE
    },
    Flow {
        id: "ms-ls-manage",
        confidence: Medium,
        initiator: Ms,
        responder: Ls,
        purpose: "Managing licenses",
        source: "S1, S3 (A4)",
        ..OPERATE
    },
    Flow {
        id: "console-ls-manage",
        confidence: Medium,
        initiator: Console,
        responder: Ls,
        purpose: "Managing licenses",
        source: "S1, S3 (A4)",
        ..OPERATE
    },
    Flow {
        id: "va-vcenter",
        confidence: Medium,
        initiator: AgentVmwareVa,
        responder: Vcenter,
        port: Port::Fixed(443),
        purpose: "Accessing VMware vSphere (API)",
        encryption: HTTPS,
        source: "S1, S21 (A7)",
        ..OPERATE
    },
    Flow {
        id: "va-esxi-443",
        confidence: Medium,
        initiator: AgentVmwareVa,
        responder: Esxi,
        port: Port::Fixed(443),
        purpose: "Accessing VMware vSphere (API on the host)",
        encryption: HTTPS,
        source: "S1, S3, S21 (A7)",
        ..OPERATE
    },
    Flow {
        id: "va-esxi-902",
        confidence: Medium,
        initiator: AgentVmwareVa,
        responder: Esxi,
        port: Port::Fixed(902),
        purpose: "Accessing VMware vSphere (disk data transfer)",
        encryption: E902,
        source: "S1, S3, S21 (A7)",
        ..OPERATE
    },
    Flow {
        id: "agent-cloud-443",
        initiator: Agent,
        responder: OnlineStorage,
        port: Port::Fixed(443),
        purpose: "Accessing the online storage",
        encryption: HTTPS,
        source: "S1, S3 (A8)",
        ..OPERATE
    },
    Flow {
        id: "browser-cloud",
        initiator: Browser,
        responder: OnlineStorage,
        port: Port::Fixed(443),
        purpose: "Retrieving files from the online storage",
        encryption: HTTPS,
        source: "S1, S3",
        ..OPERATE
    },
    Flow {
        id: "update-check",
        confidence: Medium,
        initiator: Console,
        responder: AcronisWeb,
        port: Port::Fixed(80),
        purpose: "Checking for software updates",
        encryption: PLAIN,
        source: "S1, S3 (A5)",
        ..OPERATE
    },
];

/// Concatenates the parts above into one array at compile time.
const fn all_flows() -> [Flow; 58] {
    let mut out = [INSTALL; 58];
    let mut i = 0;
    while i < CATALOG.len() {
        out[i] = CATALOG[i];
        i += 1;
    }
    let base = i;
    let mut k = 0;
    while k < NO_DNS_MS.len() {
        out[base + k] = NO_DNS_MS[k];
        out[base + NO_DNS_MS.len() + k] = NO_DNS_CONSOLE[k];
        k += 1;
    }
    let base = base + 2 * NO_DNS_MS.len();
    let mut k = 0;
    while k < NFS_V3_AGENT.len() {
        out[base + k] = NFS_V3_AGENT[k];
        out[base + NFS_V3_AGENT.len() + k] = NFS_V3_SN[k];
        k += 1;
    }
    out
}

/// Every flow of the release; later releases start from this list.
pub(super) const FLOWS: [Flow; 58] = all_flows();

/// The roles of the 11.5 diagram.
pub(super) const ROLES: [Role; 17] = [
    Role::ManagementServer,
    Role::ManagementConsole,
    Role::LicenseServer,
    Role::StorageNode,
    Role::Agent,
    Role::AgentExchange,
    Role::AgentVmware,
    Role::Vcenter,
    Role::Esxi,
    Role::OnlineStorage,
    Role::AcronisWebsite,
    Role::WebBrowser,
    Role::VaultSmb,
    Role::VaultSftp,
    Role::VaultNfs,
    Role::ManagedVaultSmb,
    Role::ManagedVaultNfs,
];

/// Acronis Backup & Recovery 11.5, as drawn in "ABR11.5 Network Connections" (earliest revision).
pub(super) static RELEASE: Release = Release {
    id: "abr-11.5",
    title: "Acronis Backup & Recovery 11.5",
    document: "ABR11.5 Network Connections (vendor diagram, earliest revision)",
    roles: &ROLES,
    flows: &FLOWS,
};

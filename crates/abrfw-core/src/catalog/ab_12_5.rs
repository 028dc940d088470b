//! Acronis Backup 12.5 / Acronis Cyber Backup 12.5: the new port model of flows.md §2.2.
//!
//! The Windows management console is gone (a web console served by the management server on TCP
//! 9877 replaces it), agents and storage nodes send management messages to the management server
//! on TCP 7780, the separate license server has no documented flow. Most rows rest on the
//! Cyber Protect 15 diagram (S10, the 12.5 successor) and carry `Medium` or `Low` confidence:
//! confirm them against the 12.5 port tables (S12) before relying on them.

use super::Confidence::{High, Low, Medium};
use super::{Condition, EncryptionNote, Flow, Group, Phase, Port, Release, SourcePort};
use crate::ir::Protocol::Tcp;
use crate::role::Component::*;
use crate::role::Role;

const TLS: EncryptionNote = EncryptionNote::encrypted("encrypted by TLS");
const ZMTP: EncryptionNote = EncryptionNote::encrypted("encrypted by ZMTP CURVE (ZeroMQ)");
const HTTPS: EncryptionNote = EncryptionNote::encrypted("encrypted by HTTPS");

/// Template for the operation-phase rows.
const OPERATE: Flow = Flow {
    id: "",
    group: Group::Components,
    initiator: Agent,
    responder: Ms,
    protocol: Tcp,
    port: Port::Fixed(7780),
    source_port: SourcePort::Ephemeral,
    purpose: "",
    encryption: TLS,
    phase: Phase::Operate,
    condition: Condition::ALWAYS,
    source: "S10",
    confidence: Medium,
};

static FLOWS: [Flow; 16] = [
    Flow {
        id: "v12-browser-ms",
        initiator: Browser,
        responder: Ms,
        port: Port::Fixed(9877),
        purpose: "Web console and REST API of the management server",
        source: "S10, S11",
        confidence: High,
        ..OPERATE
    },
    Flow {
        id: "v12-agent-ms",
        initiator: Agent,
        responder: Ms,
        purpose: "Management messages, asynchronous (registration, plans, status)",
        encryption: ZMTP,
        ..OPERATE
    },
    Flow {
        id: "v12-sn-ms",
        initiator: Sn,
        responder: Ms,
        purpose: "Management messages of the storage node",
        encryption: ZMTP,
        ..OPERATE
    },
    // Kept from 11.x under the same id: the data channel to the storage node, now mutual TLS.
    Flow {
        id: "agent-sn",
        initiator: Agent,
        responder: Sn,
        port: Port::Acronis,
        purpose: "Sending and receiving backup data",
        encryption: EncryptionNote::encrypted("encrypted by TLS with mutual authentication"),
        ..OPERATE
    },
    Flow {
        id: "v12-catalog-sn",
        initiator: CatalogServer,
        responder: Sn,
        port: Port::Acronis,
        purpose: "Indexing backups for the catalog",
        confidence: Low,
        ..OPERATE
    },
    Flow {
        id: "v12-ms-catalog",
        initiator: Ms,
        responder: CatalogServer,
        port: Port::Fixed(9200),
        purpose: "Searching the catalog index",
        encryption: EncryptionNote::unspecified("not stated"),
        confidence: Low,
        ..OPERATE
    },
    Flow {
        id: "v12-ms-updates-80",
        initiator: Ms,
        responder: AcronisWeb,
        port: Port::Fixed(80),
        purpose: "Downloading updates",
        encryption: EncryptionNote::unencrypted("not encrypted"),
        ..OPERATE
    },
    Flow {
        id: "v12-ms-updates-443",
        initiator: Ms,
        responder: AcronisWeb,
        port: Port::Fixed(443),
        purpose: "Downloading updates",
        encryption: HTTPS,
        ..OPERATE
    },
    // VMware-defined ports, unchanged from 11.x (S21); same ids as there.
    Flow {
        id: "va-vcenter",
        initiator: AgentVmwareVa,
        responder: Vcenter,
        port: Port::Fixed(443),
        purpose: "Accessing VMware vSphere (API)",
        encryption: HTTPS,
        source: "S21 (A7)",
        ..OPERATE
    },
    Flow {
        id: "va-esxi-443",
        initiator: AgentVmwareVa,
        responder: Esxi,
        port: Port::Fixed(443),
        purpose: "Accessing VMware vSphere (API on the host)",
        encryption: HTTPS,
        source: "S21 (A7)",
        ..OPERATE
    },
    Flow {
        id: "va-esxi-902",
        initiator: AgentVmwareVa,
        responder: Esxi,
        port: Port::Fixed(902),
        purpose: "Accessing VMware vSphere (disk data transfer)",
        encryption: EncryptionNote::unspecified("vendor-defined"),
        source: "S21 (A7)",
        ..OPERATE
    },
    Flow {
        id: "vmwin-vcenter",
        initiator: AgentVmwareWin,
        responder: Vcenter,
        port: Port::Fixed(443),
        purpose: "Accessing VMware vSphere (API)",
        encryption: HTTPS,
        source: "S21 (A7)",
        ..OPERATE
    },
    Flow {
        id: "vmwin-esxi-443",
        initiator: AgentVmwareWin,
        responder: Esxi,
        port: Port::Fixed(443),
        purpose: "Accessing VMware vSphere (API on the host)",
        encryption: HTTPS,
        source: "S21 (A7)",
        ..OPERATE
    },
    Flow {
        id: "vmwin-esxi-902",
        initiator: AgentVmwareWin,
        responder: Esxi,
        port: Port::Fixed(902),
        purpose: "Accessing VMware vSphere (disk data transfer)",
        encryption: EncryptionNote::unspecified("vendor-defined"),
        source: "S21 (A7)",
        ..OPERATE
    },
    // Remote installation from the web console: expected to keep 445 + 25001, not verified
    // (flows.md §2.2, v12-push-win). Same ids as the 11.x rows.
    Flow {
        id: "ri-ms-win-files",
        group: Group::RemoteInstall,
        initiator: Ms,
        responder: TargetWin,
        port: Port::Fixed(445),
        purpose: "Sending installation files (remote installation from the web console)",
        encryption: EncryptionNote::depends_on_settings(
            "depends on the File and Printer Sharing options in Windows",
        ),
        phase: Phase::Install,
        condition: Condition::MS_PRESENT,
        source: "not verified (check S12)",
        confidence: Low,
        ..OPERATE
    },
    Flow {
        id: "ri-ms-win-params",
        group: Group::RemoteInstall,
        initiator: Ms,
        responder: TargetWin,
        port: Port::Fixed(25001),
        purpose: "Sending installation parameters (remote installation from the web console)",
        encryption: EncryptionNote::unspecified("not stated"),
        phase: Phase::Install,
        condition: Condition::MS_PRESENT,
        source: "not verified (check S12)",
        confidence: Low,
        ..OPERATE
    },
];

const ROLES: [Role; 12] = [
    Role::ManagementServer,
    Role::StorageNode,
    Role::Agent,
    Role::AgentExchange,
    Role::AgentVmware,
    Role::AgentVmwareWindows,
    Role::AgentHyperv,
    Role::Vcenter,
    Role::Esxi,
    Role::AcronisWebsite,
    Role::WebBrowser,
    Role::CatalogServer,
];

/// Acronis Backup 12.5.
pub(super) static RELEASE: Release = Release {
    id: "ab-12.5",
    title: "Acronis Backup 12.5",
    document: "Acronis Cyber Protect 15 network connection diagram (S10) and S11; 12.5 port tables (S12) not read",
    roles: &ROLES,
    flows: &FLOWS,
};

//! The later revision of the 11.5 documents, as shipped for Acronis Backup Advanced 11.7.
//!
//! flows.md §2.1: every abr-11.5 flow (page 1 of the 11.7 edition, S2, is the 11.5 remote
//! installation unchanged), plus the rows of §1 marked `later` from page 2 of the later revision
//! (S3): browser -> management server 8080, cloud storage 44445 and 55556,
//! Agent for VMware (Windows) to vSphere, and Agent for Hyper-V as one more agent. The online
//! storage is renamed "Acronis Cloud Backup Storage".

use super::Confidence::{High, Medium};
use super::{Condition, EncryptionNote, Flow, Port, Release, abr_11_5};
use crate::role::Component::*;
use crate::role::Role;

const E9876: EncryptionNote = EncryptionNote::encrypted(
    "encrypted by default (TLS, negotiable through the Acronis administrative template)",
);
const HTTPS: EncryptionNote = EncryptionNote::encrypted("encrypted by HTTPS");
const CLOUD: EncryptionNote = EncryptionNote::encrypted("traffic is encrypted");

/// Template for the rows of part 2 (S3): an operate-phase flow of the 11.5 catalog.
const OPERATE: Flow = match find(&abr_11_5::FLOWS, "console-ms") {
    Some(f) => f,
    None => panic!("abr-11.5 has console-ms"),
};

/// Rows of abr-11.5 that the later revision words differently (console -> agent 9876 is drawn
/// here, S3, where 11.5 has it from S9 only), replacing the 11.5 row of the
/// same id.
const CHANGED: [Flow; 4] = [
    // 11.5 has the direct connection from S9 only; the later revision draws the arrow (S3).
    Flow {
        id: "console-agent",
        initiator: Console,
        responder: Agent,
        port: Port::Acronis,
        purpose: "Managing agents (direct connection to a machine)",
        encryption: E9876,
        condition: Condition::ALWAYS,
        source: "S3, S9",
        confidence: Medium,
        ..OPERATE
    },
    Flow {
        id: "agent-cloud-443",
        initiator: Agent,
        responder: OnlineStorage,
        port: Port::Fixed(443),
        purpose: "Accessing the cloud storage (renamed Acronis Cloud Backup Storage)",
        encryption: HTTPS,
        source: "S3 (A8)",
        confidence: High,
        ..OPERATE
    },
    Flow {
        id: "browser-cloud",
        initiator: Browser,
        responder: OnlineStorage,
        port: Port::Fixed(443),
        purpose: "Retrieving files from the cloud storage (Acronis Cloud Backup Storage)",
        encryption: HTTPS,
        source: "S3",
        confidence: High,
        ..OPERATE
    },
    // A3: the label is missing from the 11.7 text (S2); console -> MS 9876 is needed anyway.
    Flow {
        id: "ri-request",
        source: "S1, S4 (A3: label absent from the 11.7 text, S2)",
        confidence: Medium,
        ..match find(&abr_11_5::FLOWS, "ri-request") {
            Some(f) => f,
            None => panic!("abr-11.5 has ri-request"),
        }
    },
];

/// Rows of flows.md §1 marked `later` (S3).
const ADDED: [Flow; 6] = [
    Flow {
        id: "browser-ms-8080",
        initiator: Browser,
        responder: Ms,
        port: Port::Fixed(8080),
        purpose: "Accessing the management server Web page; downloading installation packages",
        encryption: EncryptionNote::unencrypted("not encrypted"),
        source: "S3",
        confidence: High,
        ..OPERATE
    },
    Flow {
        id: "agent-cloud-44445",
        initiator: Agent,
        responder: OnlineStorage,
        port: Port::Fixed(44445),
        purpose: "Accessing the cloud storage",
        encryption: CLOUD,
        source: "S3",
        confidence: High,
        ..OPERATE
    },
    Flow {
        id: "agent-cloud-55556",
        initiator: Agent,
        responder: OnlineStorage,
        port: Port::Fixed(55556),
        purpose: "Accessing the cloud storage",
        encryption: CLOUD,
        source: "S3",
        confidence: High,
        ..OPERATE
    },
    Flow {
        id: "vmwin-vcenter",
        initiator: AgentVmwareWin,
        responder: Vcenter,
        port: Port::Fixed(443),
        purpose: "Accessing VMware vSphere (API)",
        encryption: HTTPS,
        source: "S3, S21 (A7)",
        confidence: Medium,
        ..OPERATE
    },
    Flow {
        id: "vmwin-esxi-443",
        initiator: AgentVmwareWin,
        responder: Esxi,
        port: Port::Fixed(443),
        purpose: "Accessing VMware vSphere (API on the host)",
        encryption: HTTPS,
        source: "S3, S21 (A7)",
        confidence: Medium,
        ..OPERATE
    },
    Flow {
        id: "vmwin-esxi-902",
        initiator: AgentVmwareWin,
        responder: Esxi,
        port: Port::Fixed(902),
        purpose: "Accessing VMware vSphere (disk data transfer)",
        encryption: EncryptionNote::unspecified(
            "vendor-defined (the legend gives no note for 902)",
        ),
        source: "S3, S21 (A7)",
        confidence: Medium,
        ..OPERATE
    },
];

const N: usize = abr_11_5::FLOWS.len() + ADDED.len();

/// Byte-wise string equality, usable in a `const fn`.
pub(super) const fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// The flow with this id in a list, at compile time.
pub(super) const fn find(flows: &[Flow], id: &str) -> Option<Flow> {
    let mut i = 0;
    while i < flows.len() {
        if same(flows[i].id, id) {
            return Some(flows[i]);
        }
        i += 1;
    }
    None
}

/// The 11.5 flows with [`CHANGED`] in place of their 11.5 rows, then [`ADDED`].
const fn all_flows() -> [Flow; N] {
    let base = abr_11_5::FLOWS;
    let mut out = [OPERATE; N];
    let mut i = 0;
    while i < base.len() {
        out[i] = match find(&CHANGED, base[i].id) {
            Some(f) => f,
            None => base[i],
        };
        i += 1;
    }
    let mut k = 0;
    while k < ADDED.len() {
        out[base.len() + k] = ADDED[k];
        k += 1;
    }
    out
}

const FLOWS: [Flow; N] = all_flows();

const ROLES: [Role; 19] = {
    let mut out = [Role::AgentHyperv; 19];
    let mut i = 0;
    while i < abr_11_5::ROLES.len() {
        out[i] = abr_11_5::ROLES[i];
        i += 1;
    }
    out[i] = Role::AgentVmwareWindows;
    out
};

/// The later 11.5 revision / Acronis Backup Advanced 11.7.
pub(super) static RELEASE: Release = Release {
    id: "aba-11.7",
    title: "Acronis Backup Advanced 11.7 (later revision of the 11.5 documents)",
    document: "Acronis Backup Advanced: Network Connections, 11.7 page 1 (S2) and later 11.5 page 2 (S3)",
    roles: &ROLES,
    flows: &FLOWS,
};

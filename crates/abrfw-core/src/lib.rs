//! abrfw-core: the Acronis flow catalog, the site topology, and the compiler to per-host rules.
//!
//! # Steps
//! 1. [`catalog`]: every documented flow of a product release, as typed data
//!    ([`Catalog::builtin`]: abr-11.5, aba-11.7, ab-12.5); [`catalog::file::parse`] reads a
//!    user's own release from TOML with located errors.
//! 2. [`topology::parse`]: TOML text -> raw serde types with spans -> validated [`Topology`]; every
//!    mistake becomes a located [`TopologyError`].
//! 3. [`compile`]: `(&Catalog, &Topology)` -> `Vec<`[`HostRules`]`>`, the IR: per host, sorted
//!    inbound and outbound allow rules with peer addresses, ports and flow ids.
//!    [`compile_gateways`] does the same for the `[[gateway]]` firewalls between zones:
//!    `Vec<`[`GatewayRules`]`>`, forward rules for the flows that cross zones.
//!    [`explain()`] answers why a host has a rule (or has none) from the same data, and
//!    [`query::Site::query`] follows one connection hop by hop through those rule sets, and
//!    [`links()`] lists the site's connections host to host for diagrams and audits;
//!    [`logs`] reads drop-log lines back and attributes each through the same query.
//! 4. Backends (`abrfw-nftables`, ...) render one [`HostRules`] into text; the CLI writes it.
//!
//! Beside the pipeline, [`icmpv6`] holds the ICMPv6 a drop-policy host accepts by direction, as
//! data every backend renders, and [`diff`] compares two releases ([`diff::diff_releases`]) or two
//! compilations of a site ([`diff::diff_sites`]) on the catalog data and the IR.
//! [`verify`] compares a host's live firewall state, as a backend parses it, with its IR.
//!
//! This crate knows no firewall syntax; backends know no topology.
#![deny(missing_docs)]

pub mod catalog;
mod compile;
pub mod diagnostic;
pub mod diff;
pub mod explain;
pub mod icmpv6;
pub mod ir;
pub mod links;
pub mod logs;
pub mod os;
pub mod par;
pub mod query;
pub mod render;
pub mod role;
pub mod services;
pub mod text;
pub mod topology;
pub mod verify;

pub use catalog::{Catalog, Encryption, EncryptionNote, Flow, Group, Phase, Release};
pub use compile::{
    CompileError, MAX_PEER_ENTRIES, compile, compile_gateways, families, peer_entries,
};
pub use diagnostic::{Diagnostic, TopologyError, Warnings};
pub use explain::{Explanation, GatewayExplanation, explain, explain_gateway};
pub use icmpv6::{ICMPV6_POLICY, Icmpv6Direction, Icmpv6Kind, Icmpv6Type};
pub use ipnet;
pub use ir::{
    AddressRun, Connection, Direction, Family, FlowId, FlowKind, ForwardRule, GatewayRules,
    HostRules, Log, Outbound, Peers, Policy, PortRange, Protocol, ReleaseId, Rule, Rules, Zone,
};
pub use links::{Link, links};
pub use os::{GATEWAY_OS, Os};
pub use render::{Files, Numbering, PeerClasses};
pub use role::{Component, Role};
pub use services::{SERVICES, Service, ServicePort, SourcePort};
pub use topology::Topology;

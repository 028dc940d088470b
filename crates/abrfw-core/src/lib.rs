//! abrfw-core: the Acronis flow catalog, the site topology, and the compiler to per-host rules.
//!
//! # Steps
//! 1. [`catalog`]: every documented flow of a product release, as typed data
//!    ([`Catalog::builtin`]).
//! 2. [`topology::parse`]: TOML text -> raw serde types with spans -> validated [`Topology`]; every
//!    mistake becomes a located [`TopologyError`].
//! 3. [`compile`]: `(&Catalog, &Topology)` -> `Vec<`[`HostRules`]`>`, the IR: per host, sorted
//!    inbound and outbound allow rules with peer addresses, ports and flow ids.
//!    [`compile_gateways`] does the same for the `[[gateway]]` firewalls between zones:
//!    `Vec<`[`GatewayRules`]`>`, forward rules for the flows that cross zones.
//! 4. Backends (`abrfw-nftables`, ...) render one [`HostRules`] into text; the CLI writes it.
//!
//! This crate knows no firewall syntax; backends know no topology.
#![deny(missing_docs)]

pub mod catalog;
mod compile;
pub mod diagnostic;
pub mod ir;
pub mod os;
pub mod par;
pub mod role;
pub mod text;
pub mod topology;

pub use catalog::{Catalog, Flow, Phase, Release};
pub use compile::{CompileError, compile, compile_gateways, families};
pub use diagnostic::{Diagnostic, TopologyError};
pub use ipnet;
pub use ir::{
    AddressRun, Connection, Direction, Family, ForwardRule, GatewayRules, HostRules, Peers, Policy,
    PortRange, Protocol, Rule, Rules, Zone,
};
pub use os::Os;
pub use role::{Component, Role};
pub use topology::Topology;

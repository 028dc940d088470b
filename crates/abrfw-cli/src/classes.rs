//! `compile --out-dir DIR --layout classes`: one directory per host class instead of one per
//! host, and the index `DIR/index/hosts.json` that maps every host and gateway to its class.
//!
//! A class is the set of hosts (or gateways) whose rule files are the same once their own name
//! and addresses are taken out: same kind, OS, roles, release, policy, logging, chosen backends
//! and allow rules (peers included). The backends write a host's name only into comments, the
//! Windows rule names and `apply.sh`'s messages, and its own addresses only into `rules.json`
//! (every other backend filters on the remote side of a connection), so a class's files are
//! rendered once from a member's IR with the class name in place of the host name and no own
//! addresses; the index keeps what was taken out, per host: its class and its addresses.
//!
//! A class is named `class-<os>-<12 hex digits>`, the digits from a sha256 of what defines it:
//! the name stays the same while its rules do, whatever hosts join or leave, and changes when
//! the rules change (the old directory is then removed like a departed host's). A gateway is a
//! class of its own, under its own name (`DIR/<gateway>/`, as in the per-host layout).

use std::collections::BTreeMap;

use abrfw_core::ir::Peers;
use abrfw_core::{GatewayRules, HostRules};
use anyhow::{Result, bail};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::args::Backend;
use crate::tree::sha256_hex;

/// The directory of the index in a class tree (class directories all start with `class-`).
pub const INDEX_DIR: &str = "index";
/// The index file in [`INDEX_DIR`].
pub const INDEX_FILE: &str = "hosts.json";
/// The `format` value of the index.
pub const INDEX_FORMAT: &str = "abrfw-classes";
/// Version of the index shape.
pub const INDEX_VERSION: u32 = 2;

/// How `compile --out-dir` lays out DIR.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum Layout {
    /// `DIR/<host>/<file>`: every host and gateway its own directory.
    #[default]
    Hosts,
    /// `DIR/<class>/<file>` for each host class, and `DIR/index/hosts.json`.
    Classes,
}

impl Layout {
    /// Whether this is the per-host layout (the manifest leaves the field out then).
    pub fn is_hosts(&self) -> bool {
        *self == Layout::Hosts
    }
}

/// A host or a gateway and the backends that write its files.
pub struct Member<'a> {
    /// Its IR.
    pub ir: Ir<'a>,
    /// The backends chosen for it, in order.
    pub backends: Vec<Backend>,
}

/// The IR of a host or a gateway.
#[derive(Clone, Copy)]
pub enum Ir<'a> {
    /// A host's rules.
    Host(&'a HostRules),
    /// A gateway's forward rules.
    Gateway(&'a GatewayRules),
}

impl Ir<'_> {
    /// Its name (its directory in the per-host layout).
    pub fn name(&self) -> &str {
        match self {
            Ir::Host(h) => &h.host,
            Ir::Gateway(g) => &g.gateway,
        }
    }

    fn os(&self) -> abrfw_core::Os {
        match self {
            Ir::Host(h) => h.os,
            Ir::Gateway(g) => g.os,
        }
    }
}

/// One class: its name, the IR its files are rendered from (a member's, renamed), its
/// backends, and its members' names.
pub struct Class<'a> {
    /// `class-<os>-<digest>`, or a gateway's own name.
    pub name: String,
    /// The IR with the class name and without own addresses.
    pub ir: OwnedIr<'a>,
    /// The backends of every member.
    pub backends: Vec<Backend>,
    /// Names of its members, sorted.
    pub members: Vec<String>,
}

/// The IR of a class: a member's, renamed, for hosts; the gateway's own for a gateway.
pub enum OwnedIr<'a> {
    /// Hosts' rules.
    Host(HostRules),
    /// A gateway's rules. A gateway is a class of its own, under its own name: gateways are
    /// few and their rules name zones of their own, and a copy of a gateway's rules (every
    /// address of its zones' hosts) would cost more memory than the class saves.
    Gateway(&'a GatewayRules),
}

/// Groups the members into classes, sorted by class name. Refuses a gateway whose name could be
/// taken for a class or the index.
pub fn classes<'a>(members: &[Member<'a>]) -> Result<Vec<Class<'a>>> {
    // Hosts of one kind share one allow-rule list (`Rules` is an `Arc`): digest each list once.
    let mut rule_digests: BTreeMap<usize, String> = BTreeMap::new();
    let mut by_name: BTreeMap<String, (String, Class)> = BTreeMap::new();
    for m in members {
        let key = match m.ir {
            Ir::Host(h) => {
                let ptr = h.rules.as_ptr() as usize;
                let rules = match rule_digests.get(&ptr) {
                    Some(d) => d.clone(),
                    None => {
                        let d = sha256_hex(&serde_json::to_vec(&*h.rules)?);
                        rule_digests.insert(ptr, d.clone());
                        d
                    }
                };
                let mut bare = h.clone();
                bare.host.clear();
                bare.addresses = Peers::default();
                bare.rules = Default::default();
                format!("host\n{}\n{rules}", serde_json::to_string(&bare)?)
            }
            Ir::Gateway(g) => {
                if g.gateway == INDEX_DIR || g.gateway.starts_with("class-") {
                    bail!(
                        "gateway {:?}: with --layout classes, DIR/{INDEX_DIR} and DIR/class-* are abrfw's; rename the gateway or use --layout hosts",
                        g.gateway
                    );
                }
                format!("gateway\n{}", g.gateway)
            }
        };
        let names: Vec<&str> = m.backends.iter().map(|b| b.name).collect();
        let key = format!("{key}\n{}", names.join(","));
        let digest = Sha256::digest(key.as_bytes());
        let hex: String = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
        let name = match m.ir {
            Ir::Host(_) => format!("class-{}-{hex}", m.ir.os()),
            Ir::Gateway(g) => g.gateway.clone(),
        };
        match by_name.get_mut(&name) {
            Some((k, class)) => {
                if *k != key {
                    bail!(
                        "two host classes would both be named {name}; report this to the abrfw maintainers"
                    );
                }
                class.members.push(m.ir.name().to_owned());
            }
            None => {
                let ir = match m.ir {
                    Ir::Host(h) => {
                        let mut ir = h.clone();
                        ir.host.clone_from(&name);
                        ir.addresses = Peers::default();
                        OwnedIr::Host(ir)
                    }
                    Ir::Gateway(g) => OwnedIr::Gateway(g),
                };
                let class = Class {
                    name: name.clone(),
                    ir,
                    backends: m.backends.clone(),
                    members: vec![m.ir.name().to_owned()],
                };
                by_name.insert(name, (key, class));
            }
        }
    }
    let mut out: Vec<Class> = by_name.into_values().map(|(_, c)| c).collect();
    for c in &mut out {
        c.members.sort();
    }
    Ok(out)
}

/// `DIR/index/hosts.json`: each class with its members, one line per member (its name and
/// addresses), so a host's move from one class to another is a two-line change in a repository.
/// Version 2 lists each host under its class rather than naming the class on every host's line
/// (11.3 MB at 100,000 hosts; 6.4 MB now).
pub fn index_text(members: &[Member<'_>], classes: &[Class<'_>]) -> Result<String> {
    let addresses: BTreeMap<&str, Option<&Peers>> = members
        .iter()
        .map(|m| match m.ir {
            Ir::Host(h) => (m.ir.name(), Some(&h.addresses)),
            Ir::Gateway(_) => (m.ir.name(), None),
        })
        .collect();
    let mut t = format!(
        "{{\n  \"format\": \"{INDEX_FORMAT}\",\n  \"version\": {INDEX_VERSION},\n  \"classes\": {{"
    );
    for (i, c) in classes.iter().enumerate() {
        let (kind, os, roles): (&str, String, Vec<String>) = match &c.ir {
            OwnedIr::Host(h) => (
                "host",
                h.os.to_string(),
                h.roles.iter().map(ToString::to_string).collect(),
            ),
            OwnedIr::Gateway(g) => ("gateway", g.os.to_string(), Vec::new()),
        };
        t.push_str(if i == 0 { "\n    " } else { ",\n    " });
        t.push_str(&serde_json::to_string(&c.name)?);
        t.push_str(": {\n      \"kind\": ");
        t.push_str(&serde_json::to_string(kind)?);
        t.push_str(",\n      \"os\": ");
        t.push_str(&serde_json::to_string(&os)?);
        t.push_str(",\n      \"roles\": ");
        t.push_str(&one_line(&roles)?);
        t.push_str(",\n      \"hosts\": {");
        for (j, name) in c.members.iter().enumerate() {
            let Some(own) = addresses.get(name.as_str()) else {
                bail!("{name} is in no host class");
            };
            let own: Vec<String> = own
                .map(|p| {
                    let v4 = p.v4.iter().map(ToString::to_string);
                    v4.chain(p.v6.iter().map(ToString::to_string)).collect()
                })
                .unwrap_or_default();
            t.push_str(if j == 0 { "\n        " } else { ",\n        " });
            t.push_str(&serde_json::to_string(name)?);
            t.push_str(": ");
            t.push_str(&one_line(&own)?);
        }
        t.push_str("\n      }\n    }");
    }
    t.push_str("\n  }\n}\n");
    Ok(t)
}

/// `["a", "b"]`: a list of strings on one line.
fn one_line(items: &[String]) -> Result<String> {
    let mut t = String::from("[");
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            t.push_str(", ");
        }
        t.push_str(&serde_json::to_string(item)?);
    }
    t.push(']');
    Ok(t)
}

/// The index as `inventory` and `--check` read it back.
#[derive(Debug, Deserialize)]
pub struct Index {
    /// Always [`INDEX_FORMAT`].
    pub format: String,
    /// [`INDEX_VERSION`].
    pub version: u32,
    /// Class name -> its entry.
    pub classes: BTreeMap<String, IndexClass>,
}

/// One class of the index.
#[derive(Debug, Deserialize)]
pub struct IndexClass {
    /// Its members' names (their addresses are not needed here).
    pub hosts: BTreeMap<String, serde::de::IgnoredAny>,
}

/// The largest index abrfw reads (a 100,000-host site's is about 5 MB).
const MAX_INDEX_BYTES: u64 = 256 << 20;

/// The class of every host and gateway of the tree in `dir`, when that tree has the class
/// layout (`None` for a per-host tree or a directory abrfw has not written yet).
pub fn tree_classes(dir: &std::path::Path) -> Result<Option<BTreeMap<String, String>>> {
    let root = crate::dirfd::Dir::open_root(dir)?;
    if crate::tree::existing_layout(dir, root.as_ref())? != Some(Layout::Classes) {
        return Ok(None);
    }
    let path = dir.join(INDEX_DIR).join(INDEX_FILE);
    let bytes = match &root {
        Some(root) => match root.open_dir(INDEX_DIR)? {
            Some(d) => d.read(INDEX_FILE, MAX_INDEX_BYTES)?,
            None => None,
        },
        None => None,
    };
    let Some(bytes) = bytes else {
        bail!(
            "{} is missing, but the manifest says the tree has the class layout; run abrfw compile --out-dir {} again",
            path.display(),
            dir.display()
        );
    };
    let index = read_index(&path, &bytes)?;
    let mut class_of = BTreeMap::new();
    for (class, entry) in index.classes {
        for host in entry.hosts.into_keys() {
            if let Some(other) = class_of.get(&host) {
                bail!(
                    "{} lists host {host} under both {other} and {class}; run abrfw compile --layout classes again",
                    path.display()
                );
            }
            class_of.insert(host, class.clone());
        }
    }
    Ok(Some(class_of))
}

/// Parses an index read from `path`.
fn read_index(path: &std::path::Path, bytes: &[u8]) -> Result<Index> {
    let index: Index = serde_json::from_slice(bytes).map_err(|e| {
        anyhow::anyhow!(
            "{} is not an abrfw class index: {e}; run abrfw compile --layout classes again",
            path.display()
        )
    })?;
    if index.format != INDEX_FORMAT || index.version != INDEX_VERSION {
        bail!(
            "{} is not an abrfw class index of version {INDEX_VERSION}; run abrfw compile --layout classes again",
            path.display()
        );
    }
    Ok(index)
}

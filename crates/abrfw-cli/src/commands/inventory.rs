//! `abrfw inventory`: an Ansible inventory of the site for contrib/ansible/abrfw.yml.
//!
//! The output is JSON, which Ansible's YAML inventory plugin reads (JSON is YAML), so names and
//! values need no YAML quoting rules. Groups:
//! - `abrfw_linux`, `abrfw_windows`, `abrfw_pf`: hosts and gateways the playbook applies rules to,
//!   by the kind of file it loads (children of `abrfw`);
//! - `abrfw_networks`: topology hosts that stand for a whole network (an address with a prefix
//!   shorter than a single address). They are not under `abrfw`: an inventory cannot list the
//!   machines of a network, so the site's own inventory names each machine with
//!   `abrfw_host: <network host>` and puts it into the right group.
//!
//! Every entry carries `abrfw_host` (its directory in the output tree), `abrfw_os`,
//! `abrfw_policy`, `abrfw_kind` (`host` or `gateway`) and `abrfw_backends` (the backends the
//! site chose for it, comma-separated, as `check` lists them); a host with a single address also
//! gets `ansible_host` (its first IPv4 address, else its first IPv6 one). `--tree DIR` must exist
//! and is recorded absolute (canonicalized) as `abrfw_tree`; the site file (and `--release`,
//! `--catalog`) as `abrfw_site` (`abrfw_release`, `abrfw_catalog`), for the playbook's check mode,
//! which runs `abrfw verify` with them. When `--tree DIR`
//! names a tree written with `--layout classes`, every entry also gets `abrfw_dir`, the
//! directory of its files in the tree (its class, from `DIR/index/hosts.json`); the playbooks
//! read a host's files from `abrfw_dir`, else from `abrfw_host`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use abrfw_core::{Os, Policy};
use anyhow::{Result, bail};
use serde::Serialize;

use crate::args::InventoryArgs;
use crate::site;
use crate::{Outcome, classes};

#[derive(Debug, Default, Serialize)]
struct Group {
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    hosts: BTreeMap<String, BTreeMap<&'static str, String>>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    children: BTreeMap<&'static str, Group>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    vars: BTreeMap<&'static str, String>,
}

/// The group a host's rules are applied through, by OS.
fn group_of(os: Os) -> &'static str {
    if os.is_windows() {
        "abrfw_windows"
    } else if os.is_linux() {
        "abrfw_linux"
    } else {
        "abrfw_pf"
    }
}

/// The tree `--tree` names, as an absolute path with symbolic links resolved; an error (exit 2)
/// when it is not a directory, since the playbooks could not read it either.
fn absolute_tree(tree: &Path) -> Result<PathBuf> {
    let absolute = match std::fs::canonicalize(tree) {
        Ok(p) => p,
        Err(e) => bail!(
            "--tree {}: {e}; run abrfw compile SITE --out-dir {} first (the inventory records the tree's absolute path)",
            tree.display(),
            tree.display()
        ),
    };
    if !absolute.is_dir() {
        bail!(
            "--tree {}: not a directory; give the directory abrfw compile --out-dir wrote",
            tree.display()
        );
    }
    let Some(text) = absolute.to_str() else {
        bail!(
            "--tree {}: the path is not UTF-8, which an Ansible inventory cannot hold",
            absolute.display()
        );
    };
    Ok(PathBuf::from(text))
}

/// A file that was read (the site, the catalog), as an absolute UTF-8 path.
fn absolute_file(path: &Path) -> Result<String> {
    let absolute =
        std::fs::canonicalize(path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    match absolute.to_str() {
        Some(text) => Ok(text.to_owned()),
        None => bail!(
            "{}: the path is not UTF-8, which an Ansible inventory cannot hold",
            absolute.display()
        ),
    }
}

/// Runs the command.
pub fn run(args: &InventoryArgs, out: &mut dyn std::io::Write) -> Result<Outcome> {
    // Loaded like compile loads it, so --release and --catalog mean the same here.
    let (_, topology) = site::load_site(&args.site)?;
    let choice = site::choice(&topology)?;
    let names = |backends: Vec<&'static abrfw_backends::Backend>| -> String {
        backends
            .iter()
            .map(|b| b.name)
            .collect::<Vec<_>>()
            .join(",")
    };
    let policy = match topology.options.policy {
        Policy::Drop => "drop",
        Policy::Fragment => "fragment",
    };
    // Every group exists, empty or not, so the playbooks' host patterns always match a group.
    let mut groups: BTreeMap<&'static str, Group> = ["abrfw_linux", "abrfw_pf", "abrfw_windows"]
        .into_iter()
        .map(|g| (g, Group::default()))
        .collect();
    let mut networks = Group::default();
    // Absolute, so that Ansible finds the tree from any directory: it resolves a relative `src`
    // against the playbook's directory, not the directory the inventory was written in.
    let tree = match &args.tree {
        Some(tree) => Some(absolute_tree(tree)?),
        None => None,
    };
    let classes = match &tree {
        Some(tree) => classes::tree_classes(tree)?,
        None => None,
    };
    // The directory of a host's files in a class tree.
    let class_dir = |name: &str| -> Result<Option<String>> {
        let Some(classes) = &classes else {
            return Ok(None);
        };
        match classes.get(name) {
            Some(c) => Ok(Some(c.clone())),
            None => bail!(
                "{name} is not in {}: the tree was compiled from another site; run abrfw compile --out-dir {} again",
                tree.as_deref()
                    .unwrap_or(Path::new("."))
                    .join(classes::INDEX_DIR)
                    .join(classes::INDEX_FILE)
                    .display(),
                tree.as_deref().unwrap_or(Path::new(".")).display()
            ),
        }
    };
    for host in &topology.hosts {
        let Some(os) = host.os else { continue };
        let mut vars = BTreeMap::from([
            ("abrfw_host", host.name.clone()),
            ("abrfw_os", os.as_str().to_owned()),
            ("abrfw_policy", policy.to_owned()),
            ("abrfw_kind", "host".to_owned()),
            ("abrfw_backends", names(choice.host(&host.name, os))),
        ]);
        if let Some(dir) = class_dir(&host.name)? {
            vars.insert("abrfw_dir", dir);
        }
        let single = host
            .addresses
            .iter()
            .all(|a| a.prefix_len() == a.max_prefix_len());
        if !single {
            networks.hosts.insert(host.name.clone(), vars);
            continue;
        }
        let first = host
            .addresses
            .iter()
            .find(|a| a.addr().is_ipv4())
            .or_else(|| host.addresses.first());
        if let Some(a) = first {
            vars.insert("ansible_host", a.addr().to_string());
        }
        groups
            .entry(group_of(os))
            .or_default()
            .hosts
            .insert(host.name.clone(), vars);
    }
    for gw in &topology.gateways {
        let mut vars = BTreeMap::from([
            ("abrfw_host", gw.name.clone()),
            ("abrfw_os", gw.os.as_str().to_owned()),
            ("abrfw_policy", policy.to_owned()),
            ("abrfw_kind", "gateway".to_owned()),
            ("abrfw_backends", names(choice.gateway(&gw.name, gw.os))),
        ]);
        if let Some(dir) = class_dir(&gw.name)? {
            vars.insert("abrfw_dir", dir);
        }
        groups
            .entry(group_of(gw.os))
            .or_default()
            .hosts
            .insert(gw.name.clone(), vars);
    }
    let mut all = Group::default();
    if let Some(tree) = &tree {
        all.vars.insert("abrfw_tree", tree.display().to_string());
    }
    // What `abrfw verify` needs on the controller to compile the same rules (the playbook's
    // check mode compares the live rules with them), absolute like the tree.
    if let Some(path) = &args.site.site {
        all.vars.insert("abrfw_site", absolute_file(path)?);
    }
    if let Some(release) = &args.site.release {
        all.vars.insert("abrfw_release", release.clone());
    }
    if let Some(path) = &args.site.catalog {
        all.vars.insert("abrfw_catalog", absolute_file(path)?);
    }
    all.children.insert(
        "abrfw",
        Group {
            children: groups,
            ..Group::default()
        },
    );
    if !networks.hosts.is_empty() {
        all.children.insert("abrfw_networks", networks);
    }
    let inventory = BTreeMap::from([("all", all)]);
    writeln!(out, "{}", serde_json::to_string_pretty(&inventory)?)?;
    Ok(Outcome::Success)
}

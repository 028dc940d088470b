//! Per-host `outbound` and `phases`, end to end in network namespaces (issue 17, done-when):
//! a host with `outbound = "accept"` reaches an undocumented port outbound while its inbound
//! stays closed; a host with `phases = ["operate"]` refuses SSH (22) and SMB (445) from the
//! management server, while a host in both phases accepts the remote installation over SSH.
//! The Linux hosts load their nftables or iptables rule sets; the management server (Windows)
//! and the admin and stranger machines load none.

use std::collections::BTreeMap;

use crate::golden::compile_to_tree;
use crate::netns::{Loader, Probe, build_site, listen_on, load_rules, probe_before_and_after};
use crate::support::system_tests_possible;

/// The lab's site; `admin` (198.51.100.7) and `stranger` (192.0.2.99, 2001:db8:0:1::99) are
/// the machines build_site adds.
const SITE: &str = r#"
[[host]]
name = "ams"
os = "windows"
addresses = ["192.0.2.10", "2001:db8:0:1::10"]
roles = ["management-server", "license-server"]

[[host]]
name = "open-out"
os = "linux"
addresses = ["192.0.2.20", "2001:db8:0:1::20"]
roles = ["agent"]
outbound = "accept"

[[host]]
name = "installed"
os = "linux"
addresses = ["192.0.2.21", "2001:db8:0:1::21"]
roles = ["agent"]
phases = ["operate"]

[[allow]]
name = "admin-ssh"
from = "198.51.100.7"
to = ["open-out", "installed"]
port = 22
"#;

#[test]
fn nftables_outbound_accept_and_operate_only_hosts() {
    if !system_tests_possible(&["ip", "nft"], true) {
        return;
    }
    run(Loader::Nftables);
}

#[test]
fn iptables_outbound_accept_and_operate_only_hosts() {
    if !system_tests_possible(&["ip", "iptables-restore", "ip6tables-restore"], true) {
        return;
    }
    run(Loader::Iptables);
}

fn run(loader: Loader) {
    let tag = match loader {
        Loader::Nftables => "pn",
        Loader::Iptables => "pi",
        Loader::Firewalld | Loader::Ufw => unreachable!("nftables and iptables only"),
    };
    let dir = tempfile::tempdir().unwrap();
    let site = dir.path().join("host-policy.toml");
    std::fs::write(&site, SITE).unwrap();
    let files = compile_to_tree(&site);
    let (_guard, nodes) = build_site(tag, &site);

    // (from, to, port, why): IPv4 and, where both ends have it, IPv6.
    let pass: &[(&str, &str, u16, &'static str)] = &[
        (
            "ams",
            "open-out",
            22,
            "remote installation over SSH (install phase)",
        ),
        ("ams", "open-out", 9876, "managing the agent"),
        ("ams", "installed", 9876, "managing the installed agent"),
        ("open-out", "ams", 9876, "agent to management server"),
        (
            "installed",
            "ams",
            9876,
            "installed agent to management server",
        ),
        ("admin", "open-out", 22, "admin SSH"),
        ("admin", "installed", 22, "admin SSH"),
        (
            "open-out",
            "stranger",
            8080,
            "outbound = accept: an undocumented port outbound",
        ),
    ];
    let fail: &[(&str, &str, u16, &'static str)] = &[
        (
            "ams",
            "installed",
            22,
            "phases = [\"operate\"]: no remote installation over SSH",
        ),
        (
            "ams",
            "installed",
            445,
            "phases = [\"operate\"]: no remote installation over SMB",
        ),
        (
            "ams",
            "open-out",
            445,
            "SMB is not documented towards a Linux agent",
        ),
        (
            "stranger",
            "open-out",
            22,
            "inbound stays closed under outbound = accept",
        ),
        (
            "stranger",
            "open-out",
            9876,
            "inbound stays closed under outbound = accept",
        ),
        (
            "stranger",
            "open-out",
            8080,
            "inbound stays closed under outbound = accept",
        ),
        (
            "installed",
            "stranger",
            8080,
            "outbound drop: an undocumented port outbound",
        ),
        (
            "installed",
            "ams",
            8080,
            "outbound drop: an undocumented port to a peer",
        ),
        (
            "open-out",
            "installed",
            9876,
            "open-out's outbound accepts, but no flow goes from agent to agent: installed's inbound drops it",
        ),
    ];
    let mut listeners = BTreeMap::new();
    let probes = |list: &[(&str, &str, u16, &'static str)]| -> Vec<Probe> {
        let mut out = Vec::new();
        for &(from, to, port, why) in list {
            for v6 in [false, true] {
                if v6 && (nodes[from].v6.is_none() || nodes[to].v6.is_none()) {
                    continue;
                }
                out.push(Probe::new(from, to, port, v6, why));
            }
        }
        out
    };
    let must_pass = probes(pass);
    let must_fail = probes(fail);
    for p in must_pass.iter().chain(&must_fail) {
        listen_on(&nodes, &mut listeners, &p.to, p.port);
    }
    let label = format!("{loader:?} host policy");
    probe_before_and_after(&nodes, &listeners, &must_pass, &must_fail, &label, || {
        let out = tempfile::tempdir().unwrap();
        for (rel, text) in &files {
            let path = out.path().join(rel);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, text).unwrap();
        }
        for name in ["open-out", "installed"] {
            load_rules(&nodes[name].ns, &out.path().join(name), loader);
        }
    });
    assert!(must_pass.len() >= 14 && must_fail.len() >= 16);
}

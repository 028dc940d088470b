//! A gateway a network team can deploy, end to end in network namespaces: fixtures/topologies/
//! gateway-zones.toml's fw-core routes three zone bridges (servers eth0, office eth1, and the
//! admin network eth2, a `[[zone]]` with networks and no hosts) and two interfaces outside its
//! zones (a VPN eth3, a lab VLAN eth4). The gateway has a firewall of its own before abrfw's
//! rules arrive: INPUT drops all but SSH, FORWARD accepts. Loaded with nftables and with
//! iptables (twice: a reload must change nothing), then probed:
//! - admin SSH and RDP through the gateway pass exactly per the `[[allow]]` rules, nothing else
//!   from the admin network does;
//! - the Acronis flows between office and servers pass, other ports and directions do not;
//! - traffic between the VPN and the lab, and from the VPN into a zone, is left alone;
//! - the gateway's own SSH works before and after, and its own chains are unchanged.
//!
//! The same compiled gateway rendered for pf passes the project's pf checks (tests/it/pf).

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::process::Command;

use abrfw_core::Os;

use crate::golden::compile_to_tree;
use crate::netns::{Loader, Node, Probe, listen_on, load_rules, probe_before_and_after};
use crate::ns::{Namespaces, attach_to_bridge, in_ns, sh};
use crate::pf::check::{Mode, check};
use crate::support::{fixture, system_tests_possible};

/// Gateway legs: interface, the gateway's address (/24), the bridge's role.
const LEGS: [(&str, &str, &str); 5] = [
    ("eth0", "192.0.2.1", "servers"),
    ("eth1", "198.51.100.1", "office"),
    ("eth2", "10.99.0.1", "admin"),
    ("eth3", "172.16.1.1", "vpn (no zone)"),
    ("eth4", "172.16.2.1", "lab (no zone)"),
];

/// Machines outside the topology: name, leg index, address.
const STRANGERS: [(&str, usize, &str); 3] = [
    ("admin-pc", 2, "10.99.0.5"),
    ("vpn-peer", 3, "172.16.1.5"),
    ("lab-box", 4, "172.16.2.5"),
];

/// The Acronis flows fw-core must forward, by hand: the agent office-win and the console talk
/// to ams (management and license server), ams manages office-win. lx sits with ams.
fn expected_acronis() -> BTreeSet<(&'static str, &'static str, u16)> {
    BTreeSet::from([
        ("office-win", "ams", 9876), // agent-ms, agent-ls-check
        ("console", "ams", 9876),    // console-ms, console-ls-manage
        ("console", "lx", 9876),     // the console connects to agents directly
        ("ams", "office-win", 9876), // ms-agent
    ])
}

/// stdout of a command in namespace `ns`; it must succeed.
fn ns_output(ns: &str, script: &str) -> String {
    let out = Command::new("ip")
        .args(["netns", "exec", ns, "sh", "-c", script])
        .output()
        .expect("spawn");
    assert!(
        out.status.success(),
        "{script}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn the_gateway_forwards_exactly_the_acronis_and_admin_flows() {
    let text = std::fs::read_to_string(fixture("topologies/gateway-zones.toml")).unwrap();
    let catalog = abrfw_core::Catalog::builtin();
    let topo = abrfw_core::topology::parse("gateway-zones", &text, &catalog).unwrap();
    // The site writes no DNS or Active Directory rules: only the outbound-drop warnings about
    // them, no lockout or gateway warning.
    assert!(
        topo.warnings
            .iter()
            .all(|w| w.message.contains("cannot resolve names")
                || w.message.contains("cannot reach Active Directory")),
        "{:?}",
        topo.warnings
    );
    let gateways = abrfw_core::compile_gateways(&catalog, &topo).unwrap();
    let fw = &gateways[0];
    let mut acronis = BTreeSet::new();
    let mut admin = BTreeSet::new();
    for r in &fw.rules {
        for d in r.destination_hosts.iter() {
            if r.flow.starts_with("allow:") {
                assert_eq!(r.sources.v4, ["10.99.0.0/24".parse().unwrap()]);
                assert_eq!(r.from_zone.name, "admin");
                admin.insert((d.clone(), r.destination_port.first));
            }
            for s in r.source_hosts.iter() {
                acronis.insert((s.clone(), d.clone(), r.destination_port.first));
            }
        }
    }
    let want: BTreeSet<(String, String, u16)> = expected_acronis()
        .into_iter()
        .map(|(a, b, p)| (a.to_owned(), b.to_owned(), p))
        .collect();
    assert_eq!(acronis, want);
    let admin_want: BTreeSet<(String, u16)> = [
        ("lx", 22),
        ("ams", 3389),
        ("office-win", 3389),
        ("console", 3389),
    ]
    .into_iter()
    .map(|(h, p)| (h.to_owned(), p))
    .collect();
    assert_eq!(admin, admin_want);
    // The same gateway as pf would write it passes the pf checks.
    let pf = abrfw_pf::render_gateway(fw, &Default::default())
        .unwrap()
        .unwrap();
    for (name, text) in pf {
        if let Err(findings) = check(&text, Mode::Anchor) {
            panic!("{name}: {findings:?}\n{text}");
        }
    }
}

#[test]
fn nftables_gateway_with_zones_leaves_other_traffic_and_its_own_input_alone() {
    if !system_tests_possible(&["ip", "nft"], true) {
        return;
    }
    run(Loader::Nftables);
}

#[test]
fn iptables_gateway_with_zones_leaves_other_traffic_and_its_own_input_alone() {
    if !system_tests_possible(&["ip", "iptables-restore", "ip6tables-restore"], true) {
        return;
    }
    run(Loader::Iptables);
}

/// The namespaces: a switch with one bridge per gateway leg, the gateway, one namespace per
/// topology host and per stranger, each with an address on its bridge and a route via the
/// gateway. Nodes `gw` and `gw-office` are the gateway itself, on its admin and office legs.
fn build(tag: &str, topo: &abrfw_core::Topology) -> (Namespaces, BTreeMap<String, Node>, String) {
    let prefix = format!("abrfw{}{tag}", std::process::id() % 100_000);
    let sw = format!("{prefix}-sw");
    let gw = format!("{prefix}-gw");
    let mut guard = Namespaces(vec![sw.clone(), gw.clone()]);
    sh(&["ip", "netns", "add", &sw]);
    sh(&["ip", "netns", "add", &gw]);
    in_ns(&gw, &["ip", "link", "set", "lo", "up"]);
    in_ns(&gw, &["sysctl", "-qw", "net.ipv4.ip_forward=1"]);
    for (i, (iface, addr, _)) in LEGS.iter().enumerate() {
        let br = format!("br{i}");
        in_ns(&sw, &["ip", "link", "add", &br, "type", "bridge"]);
        in_ns(&sw, &["ip", "link", "set", &br, "up"]);
        let outer = format!("g{tag}{i}");
        sh(&[
            "ip", "link", "add", &outer, "netns", &sw, "type", "veth", "peer", iface, "netns", &gw,
        ]);
        in_ns(&sw, &["ip", "link", "set", &outer, "master", &br, "up"]);
        in_ns(&gw, &["ip", "link", "set", iface, "up"]);
        in_ns(
            &gw,
            &["ip", "addr", "add", &format!("{addr}/24"), "dev", iface],
        );
    }
    let mut machines: Vec<(String, usize, IpAddr, Option<Os>)> = Vec::new();
    for h in &topo.hosts {
        let leg = LEGS.iter().position(|l| l.2 == h.zone).expect("zone leg");
        machines.push((h.name.clone(), leg, h.addresses[0].addr(), h.os));
    }
    for (name, leg, addr) in STRANGERS {
        machines.push((name.to_owned(), leg, addr.parse().unwrap(), None));
    }
    let mut nodes = BTreeMap::new();
    for (i, (name, leg, addr, os)) in machines.into_iter().enumerate() {
        let ns = format!("{prefix}-{i}");
        guard.0.push(ns.clone());
        attach_to_bridge(&sw, &ns, &format!("v{tag}{i}"), &format!("br{leg}"));
        in_ns(
            &ns,
            &["ip", "addr", "add", &format!("{addr}/24"), "dev", "eth0"],
        );
        in_ns(&ns, &["ip", "route", "add", "default", "via", LEGS[leg].1]);
        let range = os.unwrap_or(Os::Linux).ephemeral_ports();
        in_ns(
            &ns,
            &[
                "sysctl",
                "-qw",
                &format!(
                    "net.ipv4.ip_local_port_range={} {}",
                    range.first, range.last
                ),
            ],
        );
        nodes.insert(
            name,
            Node {
                ns,
                v4: Some(addr),
                v6: None,
                os,
            },
        );
    }
    for (name, leg) in [("gw", 2), ("gw-office", 1)] {
        nodes.insert(
            name.to_owned(),
            Node {
                ns: gw.clone(),
                v4: Some(LEGS[leg].1.parse().unwrap()),
                v6: None,
                os: Some(Os::Linux),
            },
        );
    }
    (guard, nodes, gw)
}

/// The gateway's own firewall, there before abrfw: INPUT drops all but loopback, replies and
/// SSH; FORWARD accepts (so only abrfw's rules filter forwarded traffic).
fn install_own_firewall(gw: &str, loader: Loader) {
    match loader {
        Loader::Nftables => in_ns(
            gw,
            &[
                "nft",
                "table inet site { chain input { type filter hook input priority filter; policy drop; iif lo accept; ct state established,related accept; tcp dport 22 accept; }; chain forward { type filter hook forward priority filter; policy accept; }; }",
            ],
        ),
        _ => {
            let own = "*filter\n:INPUT DROP [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n-A INPUT -i lo -j ACCEPT\n-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT\n-A FORWARD -i eth3 -o eth4 -j ACCEPT\nCOMMIT\n";
            ns_output(
                gw,
                &format!("printf '{}' | iptables-restore", own.replace('\n', "\\n")),
            );
        }
    }
}

/// What the gateway's own firewall holds (abrfw must never change it) and what abrfw's part
/// holds (a reload must leave it the same), without counters.
fn state(gw: &str, loader: Loader) -> (String, String) {
    match loader {
        Loader::Nftables => (
            ns_output(gw, "nft list table inet site"),
            ns_output(gw, "nft list table inet abrfw 2>/dev/null || true"),
        ),
        _ => {
            let own = ns_output(
                gw,
                "iptables -S INPUT; iptables -S OUTPUT; iptables -S FORWARD; ip6tables -S INPUT; ip6tables -S OUTPUT; ip6tables -S FORWARD",
            );
            // iptables-save, not -S: iptables-nft 1.8.9 calls a missing chain "incompatible".
            let ours = ns_output(
                gw,
                "{ iptables-save -t filter; ip6tables-save -t filter; } | grep -E '^(:|-A )ABRFW' | sed 's/ \\[[0-9]*:[0-9]*\\]$//'",
            );
            (own, ours)
        }
    }
}

fn run(loader: Loader) {
    let tag = match loader {
        Loader::Nftables => "zn",
        _ => "zi",
    };
    let site = fixture("topologies/gateway-zones.toml");
    let text = std::fs::read_to_string(&site).unwrap();
    let catalog = abrfw_core::Catalog::builtin();
    let topo = abrfw_core::topology::parse("gateway-zones", &text, &catalog).unwrap();
    let files = compile_to_tree(&site);
    let (_guard, nodes, gw) = build(tag, &topo);
    install_own_firewall(&gw, loader);
    let (own_before, _) = state(&gw, loader);

    let mut listeners = BTreeMap::new();
    let mut must_pass = Vec::new();
    let mut must_fail = Vec::new();
    let mut pass = |from: &str, to: &str, port: u16, why: &'static str| {
        must_pass.push(Probe::new(from, to, port, false, why));
    };
    for (from, to, port) in expected_acronis() {
        pass(from, to, port, "documented Acronis flow across the gateway");
    }
    for (to, port) in [
        ("lx", 22),
        ("ams", 3389),
        ("office-win", 3389),
        ("console", 3389),
    ] {
        pass("admin-pc", to, port, "admin [[allow]] across the gateway");
    }
    pass(
        "vpn-peer",
        "lab-box",
        8080,
        "between two interfaces outside the zones",
    );
    pass(
        "lab-box",
        "vpn-peer",
        8080,
        "between two interfaces outside the zones",
    );
    pass(
        "vpn-peer",
        "lx",
        8080,
        "from an interface outside the zones",
    );
    pass("admin-pc", "gw", 22, "the gateway's own SSH");
    pass("office-win", "gw-office", 22, "the gateway's own SSH");
    let mut fail = |from: &str, to: &str, port: u16, why: &'static str| {
        must_fail.push(Probe::new(from, to, port, false, why));
    };
    for (to, port) in [
        ("lx", 8080),
        ("lx", 9876),
        ("ams", 22),
        ("ams", 9876),
        ("office-win", 22),
        ("office-win", 9876),
        ("console", 22),
    ] {
        fail("admin-pc", to, port, "admin network, no [[allow]]");
    }
    fail("lx", "admin-pc", 22, "into the admin network");
    fail("office-win", "lx", 22, "office to servers, no [[allow]]");
    fail(
        "office-win",
        "ams",
        3389,
        "RDP from the office, no [[allow]]",
    );
    for (from, to, _) in expected_acronis() {
        fail(from, to, 9877, "undocumented port");
    }
    fail(
        "lx",
        "console",
        9876,
        "servers to office, no documented flow",
    );
    fail(
        "lx",
        "office-win",
        9876,
        "servers to office, no documented flow",
    );
    for p in must_pass.iter().chain(&must_fail) {
        if p.to == "gw-office" {
            continue; // the gateway listens once, on every address
        }
        listen_on(&nodes, &mut listeners, &p.to, p.port);
    }

    let dir = tempfile::tempdir().unwrap();
    let gw_dir = dir.path().join("fw-core");
    std::fs::create_dir_all(&gw_dir).unwrap();
    for (rel, text) in &files {
        if rel.starts_with("fw-core") {
            std::fs::write(dir.path().join(rel), text).unwrap();
        }
    }
    let label = format!("{loader:?} gateway with zones");
    probe_before_and_after(&nodes, &listeners, &must_pass, &must_fail, &label, || {
        load_rules(&gw, &gw_dir, loader);
        let (own_after, ours_once) = state(&gw, loader);
        load_rules(&gw, &gw_dir, loader);
        let (own_again, ours_twice) = state(&gw, loader);
        assert_eq!(
            ours_once, ours_twice,
            "{label}: a reload changed abrfw's rules"
        );
        assert_eq!(
            own_after, own_again,
            "{label}: a reload changed the gateway's own rules"
        );
        assert_own_rules_kept(&own_before, &own_after, loader, &label);
    });
}

/// nftables: the site's table is byte for byte the same. iptables: INPUT and OUTPUT are the
/// same, FORWARD is the same plus one jump to ABRFW-GW at the top.
fn assert_own_rules_kept(before: &str, after: &str, loader: Loader, label: &str) {
    match loader {
        Loader::Nftables => assert_eq!(before, after, "{label}: the gateway's own table changed"),
        _ => {
            let hook = "-A FORWARD -j ABRFW-GW";
            let stripped: Vec<&str> = after.lines().filter(|l| *l != hook).collect();
            let before: Vec<&str> = before.lines().collect();
            assert_eq!(
                before, stripped,
                "{label}: the gateway's own chains changed"
            );
            assert_eq!(
                after.lines().filter(|l| *l == hook).count(),
                2,
                "{label}: one hook per family:\n{after}"
            );
        }
    }
}

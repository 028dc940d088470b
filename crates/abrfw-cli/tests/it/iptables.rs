//! The iptables backend against the real tools: every generated file passes
//! `iptables-restore --test` and loads for real in a throwaway network namespace (ipsets first),
//! loading twice changes nothing, a fragment leaves other rules alone, a hostile description
//! round-trips through `iptables-save`, and, packet by packet, the iptables rules let through
//! exactly what the nftables rules let through (and what the IR allows).

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, SocketAddr, TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use abrfw_core::ipnet::IpNet;
use abrfw_core::{Direction, Family, HostRules, Policy, Protocol};
use socket2::{Domain, SockAddr, Socket, Type};

use crate::golden::compile_to_tree;
use crate::ns::{Namespaces, in_ns, sh, with_ns};
use crate::support::{compile_file, system_tests_possible, topologies};

/// Runs `sh -c SCRIPT` in a fresh user + network namespace.
fn in_fresh_ns(script: &str) -> std::process::Output {
    Command::new("unshare")
        .args(["-Urn", "sh", "-ec", script])
        .output()
        .expect("unshare")
}

fn ok(out: &std::process::Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A site whose Linux NAS serves twelve Linux agents at scattered addresses: the inbound peer
/// lists are longer than the ipset threshold in both families.
fn many_peers_site(agents: usize) -> String {
    let mut s = String::from(
        "release = \"abr-11.5\"\n[options]\nphases = [\"operate\"]\npolicy = \"drop\"\n\n\
         [[host]]\nname = \"nas\"\nos = \"linux\"\naddresses = [\"192.0.2.5\", \"2001:db8:0:1::5\"]\nroles = [\"vault-smb\", \"vault-nfs\"]\n",
    );
    for i in 0..agents {
        // Every other address, so that aggregation cannot merge them.
        let n = 20 + 2 * i;
        s.push_str(&format!(
            "\n[[host]]\nname = \"agent{i}\"\nos = \"linux\"\naddresses = [\"192.0.2.{n}\", \"2001:db8:0:1::{n:x}\"]\nroles = [\"agent\"]\n"
        ));
    }
    s
}

/// Every fixture topology plus the many-peers site, as (name, topology path); the temporary
/// directory holding the generated site must outlive the paths.
fn sites() -> (tempfile::TempDir, Vec<(String, PathBuf)>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("many-peers.toml");
    std::fs::write(&path, many_peers_site(12)).unwrap();
    let mut all = topologies();
    all.push(("many-peers".into(), path));
    (dir, all)
}

/// The compiled files grouped per host directory.
fn hosts_of(tree: &BTreeMap<PathBuf, String>) -> BTreeMap<String, BTreeMap<String, String>> {
    let mut hosts: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for (rel, text) in tree {
        let host = rel.parent().unwrap().to_string_lossy().into_owned();
        let file = rel.file_name().unwrap().to_string_lossy().into_owned();
        hosts.entry(host).or_default().insert(file, text.clone());
    }
    hosts
}

/// Writes one host's files into `dir` and returns the path of `name`.
fn write_files(dir: &Path, files: &BTreeMap<String, String>) {
    for (name, text) in files {
        std::fs::write(dir.join(name), text).unwrap();
    }
}

/// The shell commands that load a host's iptables files the documented way: ipsets first; a
/// drop file goes in with --noflush (it empties INPUT and OUTPUT itself), a fragment too, beside
/// a minimal base, and is hooked with the idempotent -C || -I commands.
fn load_script(dir: &Path, files: &BTreeMap<String, String>) -> String {
    let d = dir.display();
    let mut s = String::new();
    if files.contains_key("ipset.rules") {
        s.push_str(&format!("ipset restore -! < {d}/ipset.rules\n"));
    }
    let fragment = !files["iptables.rules"].contains("\n:INPUT ");
    for (tool, cmd, file) in [
        ("iptables-restore", "iptables", "iptables.rules"),
        ("ip6tables-restore", "ip6tables", "ip6tables.rules"),
    ] {
        if fragment {
            s.push_str(&format!("{tool} --noflush < {d}/{file}\n"));
            for line in files[file].lines() {
                if let Some(jump) = line.strip_prefix("#   ")
                    && jump.starts_with(&format!("{cmd} -C "))
                {
                    s.push_str(jump);
                    s.push('\n');
                }
            }
        } else {
            s.push_str(&format!("{tool} --noflush < {d}/{file}\n"));
        }
    }
    s
}

/// `iptables-save`-style text without comments, counters and the generated-on lines: only what
/// the kernel holds.
fn rules_only(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            if l.starts_with(':') {
                // ":CHAIN POLICY [pkts:bytes]" -> ":CHAIN POLICY"
                l.rsplit_once(' ').map_or(l, |(a, _)| a).to_owned()
            } else {
                l.to_owned()
            }
        })
        .collect()
}

/// Per chain: the declaration and the rules in order.
fn by_chain(lines: &[String]) -> BTreeMap<String, Vec<String>> {
    let mut chains: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for l in lines {
        if let Some(decl) = l.strip_prefix(':') {
            let name = decl.split(' ').next().unwrap().to_owned();
            chains.entry(name).or_default().insert(0, l.clone());
        } else if let Some(rule) = l.strip_prefix("-A ") {
            let name = rule.split(' ').next().unwrap().to_owned();
            chains.entry(name).or_default().push(l.clone());
        }
    }
    chains
}

#[test]
fn every_generated_iptables_file_passes_test_loads_and_reloads_idempotently() {
    if !system_tests_possible(
        &["iptables-restore", "ip6tables-restore", "ipset", "unshare"],
        false,
    ) {
        return;
    }
    let (_keep, sites) = sites();
    let mut checked = 0;
    let mut with_sets = 0;
    for (name, path) in sites {
        for (host, files) in hosts_of(&compile_to_tree(&path)) {
            if !files.contains_key("iptables.rules") {
                continue;
            }
            let dir = tempfile::tempdir().unwrap();
            write_files(dir.path(), &files);
            let d = dir.path().display();
            let sets = if files.contains_key("ipset.rules") {
                with_sets += 1;
                format!("ipset restore -! < {d}/ipset.rules\n")
            } else {
                String::new()
            };
            // --test first (ipsets must exist even for that), in the same namespace.
            let test = format!(
                "{sets}iptables-restore --test < {d}/iptables.rules\nip6tables-restore --test < {d}/ip6tables.rules\n"
            );
            ok(&in_fresh_ns(&test), &format!("{name}/{host}: --test"));
            // A real apply catches what --test misses (jumps to undeclared chains); twice must
            // give the same tables.
            let load = load_script(dir.path(), &files);
            let save = "iptables-save -t filter; echo ==6==; ip6tables-save -t filter; echo ==s==; ipset list -n | sort";
            let out = ok(
                &in_fresh_ns(&format!("{load}{save}\necho ==again==\n{load}{save}")),
                &format!("{name}/{host}: apply twice"),
            );
            let (once, twice) = out.split_once("==again==\n").unwrap();
            assert_eq!(
                rules_only(once),
                rules_only(twice),
                "{name}/{host}: a second load changed the tables"
            );
            // What the kernel holds reads like the files, chain by chain and rule by rule.
            let (v4_saved, rest) = once.split_once("==6==\n").unwrap();
            let (v6_saved, set_names) = rest.split_once("==s==\n").unwrap();
            for (file, saved) in [("iptables.rules", v4_saved), ("ip6tables.rules", v6_saved)] {
                let written = by_chain(&rules_only(&files[file]));
                let saved = by_chain(&rules_only(saved));
                for (chain, lines) in &written {
                    assert_eq!(
                        lines
                            .iter()
                            .filter(|l| l.starts_with("-A"))
                            .collect::<Vec<_>>(),
                        saved[chain]
                            .iter()
                            .filter(|l| l.starts_with("-A"))
                            .collect::<Vec<_>>(),
                        "{name}/{host}/{file}: chain {chain} as saved by the kernel"
                    );
                }
            }
            // The temporary swap sets are gone; only the named ones remain.
            assert!(!set_names.contains("_new"), "{name}/{host}: {set_names}");
            checked += 1;
        }
    }
    assert!(checked >= 12, "only {checked} hosts checked");
    assert!(with_sets >= 1, "no generated site used ipsets");
}

#[test]
fn a_fragment_reloads_beside_foreign_rules_without_touching_them() {
    if !system_tests_possible(&["iptables-restore", "unshare"], false) {
        return;
    }
    let files = hosts_of(&compile_to_tree(&crate::support::fixture(
        "topologies/nodns-nomgmt.toml",
    )))
    .remove("office-agents")
    .unwrap();
    assert!(!files["iptables.rules"].contains(":INPUT"), "a fragment");
    let dir = tempfile::tempdir().unwrap();
    write_files(dir.path(), &files);
    // The site's own firewall, with a stale rule in ABRFW-IN from an older abrfw run.
    let own = "*filter\n:INPUT DROP [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n:SITE - [0:0]\n:ABRFW-IN - [0:0]\n-A INPUT -i lo -j ACCEPT\n-A INPUT -j SITE\n-A SITE -s 10.9.9.9/32 -j DROP\n-A ABRFW-IN -s 10.66.0.0/16 -j ACCEPT\nCOMMIT\n";
    std::fs::write(dir.path().join("own.rules"), own).unwrap();
    let load = load_script(dir.path(), &files);
    let out = ok(
        &in_fresh_ns(&format!(
            "iptables-restore < {}/own.rules\n{load}{load}iptables-save -t filter",
            dir.path().display()
        )),
        "fragment load",
    );
    let lines = rules_only(&out);
    for kept in [
        ":INPUT DROP",
        ":FORWARD DROP",
        "-A INPUT -i lo -j ACCEPT",
        "-A INPUT -j SITE",
        "-A SITE -s 10.9.9.9/32 -j DROP",
    ] {
        assert!(lines.iter().any(|l| l == kept), "lost {kept}:\n{out}");
    }
    assert!(!out.contains("10.66.0.0/16"), "stale rule survived:\n{out}");
    assert_eq!(
        lines
            .iter()
            .filter(|l| *l == "-A INPUT -j ABRFW-IN")
            .count(),
        1
    );
    assert_eq!(
        lines
            .iter()
            .filter(|l| *l == "-A OUTPUT -j ABRFW-OUT")
            .count(),
        1
    );
    let ours = files["iptables.rules"]
        .lines()
        .filter(|l| l.starts_with("-A "))
        .count();
    assert_eq!(
        lines.iter().filter(|l| l.starts_with("-A ABRFW-")).count(),
        ours,
        "{out}"
    );
}

/// Issue 16 item 8: a host's drop file, loaded with `--noflush` as its header says, replaces
/// INPUT, OUTPUT and abrfw's chains and leaves FORWARD (rules and policy) and other chains as
/// they were, with iptables-nft (which resets an undeclared FORWARD to ACCEPT on a plain restore)
/// and iptables-legacy alike; loading it twice changes nothing more.
#[test]
fn a_host_drop_file_leaves_forward_and_other_chains_alone() {
    let variants: Vec<&str> = ["nft", "legacy"]
        .into_iter()
        .filter(|v| crate::support::have(&format!("iptables-{v}-restore")))
        .collect();
    if !system_tests_possible(&["iptables-restore", "ip6tables-restore", "unshare"], false) {
        return;
    }
    assert!(
        !variants.is_empty(),
        "neither iptables-nft nor iptables-legacy"
    );
    let files = hosts_of(&compile_to_tree(&crate::support::fixture(
        "topologies/example.toml",
    )))
    .remove("linux-agent")
    .unwrap();
    assert!(
        files["iptables.rules"].contains("\n:INPUT DROP"),
        "a drop file"
    );
    assert!(
        !files["iptables.rules"].contains(":FORWARD"),
        "FORWARD is not abrfw's"
    );
    let dir = tempfile::tempdir().unwrap();
    write_files(dir.path(), &files);
    let d = dir.path().display();
    for v in variants {
        for (tool, file) in [
            ("iptables", "iptables.rules"),
            ("ip6tables", "ip6tables.rules"),
        ] {
            // A host that routes: FORWARD drops by default, has a rule and jumps to another
            // tool's chain (Docker's DOCKER-USER, say); INPUT has a rule abrfw replaces.
            let before = format!(
                "{tool}-{v} -P FORWARD DROP\n{tool}-{v} -N DOCKER-USER\n\
                 {tool}-{v} -A DOCKER-USER -j RETURN\n{tool}-{v} -A FORWARD -j DOCKER-USER\n\
                 {tool}-{v} -A FORWARD -i eth9 -j ACCEPT\n{tool}-{v} -A INPUT -i eth9 -j ACCEPT\n"
            );
            let save = format!("{tool}-{v}-save -t filter | grep -v '^#'");
            let out = ok(
                &in_fresh_ns(&format!(
                    "{before}{save}\necho ==after==\n\
                     {tool}-{v}-restore --noflush < {d}/{file}\n\
                     {tool}-{v}-restore --noflush < {d}/{file}\n{save}"
                )),
                &format!("{tool}-{v} load"),
            );
            let (old, new) = out.split_once("==after==\n").unwrap();
            let forward = |text: &str| -> Vec<String> {
                text.lines()
                    .filter(|l| l.contains("FORWARD") || l.contains("DOCKER-USER"))
                    .map(|l| l.split(" [").next().unwrap().to_owned())
                    .collect()
            };
            assert_eq!(
                forward(old),
                forward(new),
                "{tool}-{v}: FORWARD changed:\n{old}\n{new}"
            );
            assert!(
                new.contains(":FORWARD DROP"),
                "{tool}-{v}: FORWARD policy:\n{new}"
            );
            assert!(
                !new.contains("-A INPUT -i eth9"),
                "{tool}-{v}: INPUT is abrfw's:\n{new}"
            );
            let ours: Vec<&str> = files[file]
                .lines()
                .filter(|l| l.starts_with("-A ") && !l.contains("--comment"))
                .collect();
            let lines = rules_only(new);
            for rule in ours {
                assert_eq!(
                    lines.iter().filter(|l| *l == rule).count(),
                    1,
                    "{tool}-{v}: {rule} once:\n{new}"
                );
            }
        }
    }
}

#[test]
fn a_hostile_description_round_trips_through_iptables_save() {
    // Quotes, backslashes, shell syntax and 190 three-byte characters: more than 255 bytes.
    let description = format!(
        "it's \\\"quoted\\\" \\\\ back\\\\slashed $(rm -rf /) `x` ; # {}",
        "€".repeat(140)
    );
    let site = format!(
        "[[host]]\nname = \"web\"\nos = \"linux\"\naddresses = [\"192.0.2.40\"]\nroles = [\"agent\"]\n\n\
         [[allow]]\nname = \"odd\"\nfrom = \"198.51.100.0/24\"\nto = \"web\"\nport = 8443\ndescription = \"{description}\"\n"
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hostile.toml");
    std::fs::write(&path, site).unwrap();
    let files = hosts_of(&compile_to_tree(&path)).remove("web").unwrap();
    let line = files["iptables.rules"]
        .lines()
        .find(|l| l.contains("--dport 8443"))
        .expect("the allow rule")
        .to_owned();
    assert!(
        line.contains(
            r#"--comment "allow:odd: it\'s \"quoted\" \\ back\\slashed $(rm -rf /) `x` ; # €"#
        ),
        "{line}"
    );
    if !system_tests_possible(&["iptables-restore", "unshare"], false) {
        return;
    }
    let d = dir.path().display();
    std::fs::write(dir.path().join("iptables.rules"), &files["iptables.rules"]).unwrap();
    let out = ok(
        &in_fresh_ns(&format!(
            "iptables-restore < {d}/iptables.rules\niptables-save -t filter\necho ==list==\niptables -n -L ABRFW-IN"
        )),
        "hostile load",
    );
    let (saved, listed) = out.split_once("==list==\n").unwrap();
    assert!(
        saved.lines().any(|l| l == line),
        "iptables-save differs from the file:\n{line}\n{saved}"
    );
    // The kernel holds the unescaped text, cut to at most 255 bytes on a character boundary.
    let stored = listed
        .lines()
        .find_map(|l| l.split_once("/* ").map(|(_, c)| c.trim_end_matches(" */")))
        .expect("a comment")
        .to_owned();
    assert!(
        stored.starts_with(r#"allow:odd: it's "quoted" \ back\slashed $(rm -rf /)"#),
        "{stored}"
    );
    assert!(
        stored.len() <= 255 && stored.len() >= 253,
        "{}",
        stored.len()
    );
    assert!(stored.ends_with('€'));
}

#[test]
fn ipsets_are_refilled_on_reload_not_merged() {
    if !system_tests_possible(&["iptables-restore", "ipset", "unshare"], false) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let load = |agents: usize, sub: &str| {
        let site = dir.path().join(format!("{sub}.toml"));
        std::fs::write(&site, many_peers_site(agents)).unwrap();
        let files = hosts_of(&compile_to_tree(&site)).remove("nas").unwrap();
        let host_dir = dir.path().join(sub);
        std::fs::create_dir_all(&host_dir).unwrap();
        write_files(&host_dir, &files);
        load_script(&host_dir, &files)
    };
    let big = load(12, "big");
    let small = load(10, "small");
    let out = ok(
        &in_fresh_ns(&format!(
            "{big}{small}ipset list abrfw_peers001_v4\nipset list -n | sort"
        )),
        "ipset reload",
    );
    assert!(out.contains("Number of entries: 10"), "{out}");
    assert!(
        !out.contains("192.0.2.42"),
        "an old element survived:\n{out}"
    );
    assert!(!out.contains("_new"), "{out}");
}

// ---- Packet-level comparison with the nftables backend ----------------------------------------

/// One attempt from `from` (the host's or the world's namespace).
#[derive(Debug, Clone)]
struct Probe {
    protocol: Protocol,
    from_host: bool,
    src: IpAddr,
    sport: u16,
    dst: IpAddr,
    dport: u16,
}

/// Whether the IR allows a probe: some rule of the right direction holds the peer address, the
/// source port and the destination port; or the probe is outbound from a drop-policy host with
/// `outbound = "accept"`, whose rule set does not filter outbound connections.
fn ir_allows(host: &HostRules, p: &Probe) -> bool {
    if p.from_host && host.policy == Policy::Drop && !host.drops_outbound() {
        return true;
    }
    let (direction, peer) = if p.from_host {
        (Direction::Outbound, p.dst)
    } else {
        (Direction::Inbound, p.src)
    };
    // outbound = "accept": the host's own connections are not filtered.
    if direction == Direction::Outbound && host.policy == Policy::Drop && !host.drops_outbound() {
        return true;
    }
    host.rules.iter().any(|r| {
        r.direction == direction
            && r.protocol == p.protocol
            && r.destination_port.contains(p.dport)
            && r.source_ports.is_none_or(|s| s.contains(p.sport))
            && r.peers
                .of(if peer.is_ipv4() {
                    Family::V4
                } else {
                    Family::V6
                })
                .iter()
                .any(|n| n.contains(&peer))
    })
}

/// A usable address of a network (not the IPv6 subnet-router anycast address).
fn address_in(net: &IpNet) -> IpAddr {
    if net.prefix_len() == net.max_prefix_len() {
        net.addr()
    } else {
        net.hosts()
            .find(|a| *a != net.network())
            .expect("an address")
    }
}

const STRANGER_V4: &str = "198.18.0.99";
const STRANGER_V6: &str = "2001:db8:dead::99";

/// For every rule and family: the allowed connection, then the same with a source port just
/// outside the range, from (or to) an address in no rule, and to the next port.
fn probes_for(host: &HostRules) -> Vec<Probe> {
    let mut probes = Vec::new();
    let mut n: u16 = 0;
    for family in Family::ALL {
        let Some(own) = host.addresses.of(family).first().map(address_in) else {
            continue;
        };
        let stranger: IpAddr = match family {
            Family::V4 => STRANGER_V4.parse().unwrap(),
            Family::V6 => STRANGER_V6.parse().unwrap(),
        };
        for r in &host.rules {
            let Some(peer) = r.peers.of(family).first().map(address_in) else {
                continue;
            };
            if peer == own {
                continue;
            }
            n += 1;
            let sport = match r.source_ports {
                Some(s) => s.first + n % (s.last - s.first + 1),
                None => 20_000 + n,
            };
            let from_host = r.direction == Direction::Outbound;
            let make = |peer: IpAddr, sport: u16, dport: u16| {
                let (src, dst) = if from_host { (own, peer) } else { (peer, own) };
                Probe {
                    protocol: r.protocol,
                    from_host,
                    src,
                    sport,
                    dst,
                    dport,
                }
            };
            let dport = r.destination_port.first;
            probes.push(make(peer, sport, dport));
            if let Some(s) = r.source_ports {
                let outside = if s.first > 1025 {
                    s.first - 1 - n % 512
                } else {
                    s.last + 1
                };
                probes.push(make(peer, outside, dport));
            }
            probes.push(make(stranger, sport.wrapping_add(1).max(1025), dport));
            probes.push(make(
                peer,
                sport.wrapping_add(2).max(1025),
                dport.wrapping_add(1).max(1),
            ));
        }
    }
    // Two attempts with the same addresses and ports at once would collide in the kernel.
    let mut seen = BTreeSet::new();
    probes.retain(|p| seen.insert((p.protocol, p.from_host, p.src, p.sport, p.dst, p.dport)));
    probes
}

/// Two namespaces on one veth link: `host` with the host's addresses, `world` with every peer
/// address the probes use and the stranger's.
fn build_pair(tag: &str, probes: &[Probe]) -> (Namespaces, String, String) {
    let host = format!("abrfwipt{}{tag}h", std::process::id() % 100_000);
    let world = format!("abrfwipt{}{tag}w", std::process::id() % 100_000);
    let guard = Namespaces(vec![host.clone(), world.clone()]);
    sh(&["ip", "netns", "add", &host]);
    sh(&["ip", "netns", "add", &world]);
    sh(&[
        "ip", "link", "add", "eth0", "netns", &host, "type", "veth", "peer", "eth0", "netns",
        &world,
    ]);
    let mut addrs: BTreeMap<&str, BTreeSet<IpAddr>> = BTreeMap::new();
    for p in probes {
        let (h, w) = if p.from_host {
            (p.src, p.dst)
        } else {
            (p.dst, p.src)
        };
        addrs.entry(host.as_str()).or_default().insert(h);
        addrs.entry(world.as_str()).or_default().insert(w);
    }
    for ns in [&host, &world] {
        in_ns(ns, &["ip", "link", "set", "lo", "up"]);
        in_ns(ns, &["ip", "link", "set", "eth0", "up"]);
        for a in addrs.get(ns.as_str()).into_iter().flatten() {
            let (plen, nodad) = if a.is_ipv4() {
                (32, None)
            } else {
                (128, Some("nodad"))
            };
            let cidr = format!("{a}/{plen}");
            let mut cmd = vec!["ip", "addr", "add", &cidr, "dev", "eth0"];
            cmd.extend(nodad);
            in_ns(ns, &cmd);
        }
        in_ns(ns, &["ip", "route", "add", "0.0.0.0/0", "dev", "eth0"]);
        in_ns(ns, &["ip", "-6", "route", "add", "::/0", "dev", "eth0"]);
    }
    (guard, host, world)
}

/// Tries every probe once; true when a TCP handshake completed or a UDP datagram arrived.
fn attempt_all(host_ns: &str, world_ns: &str, probes: &[Probe]) -> Vec<bool> {
    const TIMEOUT: Duration = Duration::from_millis(700);
    let ns_of = |from_host: bool| if from_host { host_ns } else { world_ns };
    // Listeners on every destination port, in the responder's namespace, dual-stack.
    let mut tcp: BTreeMap<(bool, u16), TcpListener> = BTreeMap::new();
    let mut udp: BTreeMap<(bool, u16), UdpSocket> = BTreeMap::new();
    for p in probes {
        let responder = !p.from_host;
        match p.protocol {
            Protocol::Tcp => {
                tcp.entry((responder, p.dport)).or_insert_with(|| {
                    let l = with_ns(ns_of(responder), || TcpListener::bind(("::", p.dport)))
                        .expect("tcp listen");
                    l.set_nonblocking(true).unwrap();
                    l
                });
            }
            Protocol::Udp => {
                udp.entry((responder, p.dport)).or_insert_with(|| {
                    let s = with_ns(ns_of(responder), || UdpSocket::bind(("::", p.dport)))
                        .expect("udp listen");
                    s.set_nonblocking(true).unwrap();
                    s
                });
            }
        }
    }
    let mut results = vec![false; probes.len()];
    // TCP in parallel batches.
    let tcp_idx: Vec<usize> = (0..probes.len())
        .filter(|&i| probes[i].protocol == Protocol::Tcp)
        .collect();
    for chunk in tcp_idx.chunks(32) {
        let outcomes: Vec<(usize, bool)> = std::thread::scope(|s| {
            let handles: Vec<_> = chunk
                .iter()
                .map(|&i| {
                    let p = &probes[i];
                    s.spawn(move || {
                        let ok = with_ns(ns_of(p.from_host), || {
                            let domain = if p.src.is_ipv4() {
                                Domain::IPV4
                            } else {
                                Domain::IPV6
                            };
                            let sock = Socket::new(domain, Type::STREAM, None).expect("socket");
                            sock.set_reuse_address(true).unwrap();
                            sock.bind(&SockAddr::from(SocketAddr::new(p.src, p.sport)))
                                .expect("bind");
                            sock.connect_timeout(
                                &SockAddr::from(SocketAddr::new(p.dst, p.dport)),
                                TIMEOUT,
                            )
                            .is_ok()
                        });
                        (i, ok)
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        for (i, ok) in outcomes {
            results[i] = ok;
        }
        for l in tcp.values() {
            while l.accept().is_ok() {}
        }
    }
    // UDP: one datagram each, tagged with the probe's index; then collect what arrived.
    let udp_idx: Vec<usize> = (0..probes.len())
        .filter(|&i| probes[i].protocol == Protocol::Udp)
        .collect();
    for &i in &udp_idx {
        let p = &probes[i];
        with_ns(ns_of(p.from_host), || {
            let domain = if p.src.is_ipv4() {
                Domain::IPV4
            } else {
                Domain::IPV6
            };
            let sock = Socket::new(domain, Type::DGRAM, None).expect("socket");
            sock.set_reuse_address(true).unwrap();
            sock.bind(&SockAddr::from(SocketAddr::new(p.src, p.sport)))
                .expect("bind");
            // Neighbour resolution may hold the first datagram back; send a few.
            for _ in 0..3 {
                let _ = sock.send_to(
                    format!("probe {i}").as_bytes(),
                    &SockAddr::from(SocketAddr::new(p.dst, p.dport)),
                );
            }
        });
    }
    if !udp_idx.is_empty() {
        std::thread::sleep(TIMEOUT);
        let mut buf = [0u8; 64];
        for s in udp.values() {
            while let Ok((n, _)) = s.recv_from(&mut buf) {
                let text = String::from_utf8_lossy(&buf[..n]);
                if let Some(i) = text
                    .strip_prefix("probe ")
                    .and_then(|t| t.parse::<usize>().ok())
                {
                    results[i] = true;
                }
            }
        }
    }
    results
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Loader {
    Nftables,
    Iptables,
}

/// Loads a host's rules the way its docs say, in the host namespace. A fragment is wrapped in
/// the same minimal base for both backends: drop, established/related, loopback, ICMPv6.
fn load(loader: Loader, ns: &str, dir: &Path, files: &BTreeMap<String, String>, policy: Policy) {
    let d = dir.display();
    let script = match (loader, policy) {
        (Loader::Nftables, Policy::Drop) => format!("nft -f {d}/nftables.nft"),
        (Loader::Nftables, Policy::Fragment) => {
            std::fs::write(
                dir.join("wrap.nft"),
                format!(
                    "table inet filter {{\n\tinclude \"{d}/nftables.nft\"\n\
                     \tchain input {{ type filter hook input priority filter; policy drop; iif \"lo\" accept; ct state established,related accept; meta l4proto ipv6-icmp accept; jump abrfw_in; }}\n\
                     \tchain output {{ type filter hook output priority filter; policy drop; oif \"lo\" accept; ct state established,related accept; meta l4proto ipv6-icmp accept; jump abrfw_out; }}\n}}\n"
                ),
            )
            .unwrap();
            format!("nft -f {d}/wrap.nft")
        }
        (Loader::Iptables, Policy::Drop) => load_script(dir, files),
        (Loader::Iptables, Policy::Fragment) => {
            let mut s = String::new();
            for (tool, icmp) in [("iptables", "icmp"), ("ip6tables", "ipv6-icmp")] {
                s.push_str(&format!(
                    "{tool} -P INPUT DROP\n{tool} -P OUTPUT DROP\n\
                     {tool} -A INPUT -i lo -j ACCEPT\n{tool} -A OUTPUT -o lo -j ACCEPT\n\
                     {tool} -A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n\
                     {tool} -A OUTPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n"
                ));
                if icmp == "ipv6-icmp" {
                    s.push_str(&format!(
                        "{tool} -A INPUT -p ipv6-icmp -j ACCEPT\n{tool} -A OUTPUT -p ipv6-icmp -j ACCEPT\n"
                    ));
                }
            }
            s + &load_script(dir, files)
        }
    };
    in_ns(ns, &["sh", "-ec", &script]);
}

#[test]
fn iptables_and_nftables_let_the_same_packets_through() {
    if !system_tests_possible(
        &[
            "ip",
            "nft",
            "iptables-restore",
            "ip6tables-restore",
            "ipset",
        ],
        true,
    ) {
        return;
    }
    let (_keep, sites) = sites();
    let mut compared = 0;
    let mut allowed = 0;
    let mut denied = 0;
    for (site, path) in sites {
        let hosts = compile_file(&path);
        let tree = hosts_of(&compile_to_tree(&path));
        for host in &hosts {
            // Of the generated site only the NAS has long peer lists (ipsets); its agents are
            // like the fixtures' agents.
            if site == "many-peers" && host.host != "nas" {
                continue;
            }
            let Some(files) = tree.get(&host.host) else {
                continue;
            };
            if !files.contains_key("iptables.rules") {
                continue;
            }
            let probes = probes_for(host);
            let expected: Vec<bool> = probes.iter().map(|p| ir_allows(host, p)).collect();
            let dir = tempfile::tempdir().unwrap();
            write_files(dir.path(), files);
            let mut outcomes = Vec::new();
            for (loader, tag) in [(Loader::Nftables, "n"), (Loader::Iptables, "i")] {
                let (_guard, h, w) = build_pair(tag, &probes);
                load(loader, &h, dir.path(), files, host.policy);
                outcomes.push(attempt_all(&h, &w, &probes));
            }
            let mut wrong = Vec::new();
            for (i, p) in probes.iter().enumerate() {
                if outcomes[0][i] != expected[i] || outcomes[1][i] != expected[i] {
                    wrong.push(format!(
                        "{p:?}: IR {}, nftables {}, iptables {}",
                        expected[i], outcomes[0][i], outcomes[1][i]
                    ));
                }
            }
            assert!(
                wrong.is_empty(),
                "{site}/{}: probes where the backends disagree with the IR:\n{}",
                host.host,
                wrong.join("\n")
            );
            allowed += expected.iter().filter(|e| **e).count();
            denied += expected.iter().filter(|e| !**e).count();
            compared += 1;
        }
    }
    assert!(compared >= 12, "only {compared} hosts compared");
    assert!(
        allowed >= 100 && denied >= 200,
        "{allowed} allowed / {denied} denied probes"
    );
}

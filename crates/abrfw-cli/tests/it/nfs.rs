//! NFS vaults in network namespaces (issue 16 item 7): `vault-nfs` is NFSv4 on TCP 2049; an NFS
//! server that says `nfs_mountd_port` serves NFSv3 too and gets rpcbind (TCP and UDP 111) and
//! its mountd port (TCP and UDP). NFS clients send from reserved ports (`resvport`), so NFS
//! connections from source port 800 pass.
//!
//! The agent `lx` backs up to `nas3` (NFSv3, mountd pinned to 20048) and `nas4` (NFSv4 only);
//! all three load their rule sets. Probes are real TCP handshakes and UDP exchanges answered by
//! an echo listener.

use crate::netns::{Loader, load_rules};
use crate::services::{Machine, Probe, Proto, build, probe_around, tcp_listen, udp_echo};
use crate::support::{abrfw, system_tests_possible};

const SITE: &str = r#"[options]
phases = ["operate"]

[[host]]
name = "lx"
os = "linux"
addresses = ["10.0.0.40", "fd00::40"]
roles = ["agent"]

[[host]]
name = "nas3"
os = "linux"
addresses = ["10.0.0.50", "fd00::50"]
roles = ["vault-nfs"]
nfs_mountd_port = 20048

[[host]]
name = "nas4"
os = "linux"
addresses = ["10.0.0.51", "fd00::51"]
roles = ["vault-nfs"]
"#;

const MACHINES: &[Machine] = &[
    ("lx", "10.0.0.40", Some("fd00::40"), true),
    ("nas3", "10.0.0.50", Some("fd00::50"), true),
    ("nas4", "10.0.0.51", Some("fd00::51"), true),
];

fn run(loader: Loader, tag: &str) {
    let dir = tempfile::tempdir().unwrap();
    let site = dir.path().join("site.toml");
    std::fs::write(&site, SITE).unwrap();
    let out = dir.path().join("out");
    let run = abrfw(&[
        "compile",
        site.to_str().unwrap(),
        "--out-dir",
        out.to_str().unwrap(),
    ]);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );

    let lab = build(tag, MACHINES);
    let ports = [111, 2049, 20048, 20049];
    let at: Vec<(&str, u16)> = ["nas3", "nas4"]
        .iter()
        .flat_map(|&n| ports.iter().map(move |&p| (n, p)))
        .collect();
    let _echo = udp_echo(&lab, &at);
    let listeners = tcp_listen(&lab, &at);

    let mut pass = Vec::new();
    let mut fail = Vec::new();
    for v6 in [false, true] {
        let probe = |to, proto, port, sport, why| Probe {
            from: "lx",
            to,
            proto,
            port,
            sport,
            v6,
            why,
        };
        for (to, reserved) in [("nas3", 800), ("nas4", 801)] {
            pass.push(probe(to, Proto::Tcp, 2049, None, "NFS"));
            pass.push(probe(
                to,
                Proto::Tcp,
                2049,
                Some(reserved),
                "NFS from a reserved port",
            ));
            fail.push(probe(to, Proto::Udp, 2049, None, "NFS over UDP"));
            fail.push(probe(to, Proto::Tcp, 20049, None, "a port next to mountd"));
        }
        for proto in [Proto::Tcp, Proto::Udp] {
            pass.push(probe(
                "nas3",
                proto,
                111,
                None,
                "rpcbind of an NFSv3 server",
            ));
            pass.push(probe(
                "nas3",
                proto,
                20048,
                None,
                "mountd of an NFSv3 server",
            ));
            pass.push(probe(
                "nas3",
                proto,
                20048,
                Some(700),
                "mountd from a reserved port",
            ));
            fail.push(probe(
                "nas4",
                proto,
                111,
                None,
                "rpcbind of an NFSv4-only server",
            ));
            fail.push(probe(
                "nas4",
                proto,
                20048,
                None,
                "mountd of an NFSv4-only server",
            ));
        }
    }
    probe_around(
        &lab,
        &listeners,
        &pass,
        &fail,
        &format!("{loader:?}"),
        || {
            for (name, _, _, _) in MACHINES {
                load_rules(&lab.ns[name], &out.join(name), loader);
            }
        },
    );
}

#[test]
fn nftables_nfs_v3_server_gets_rpcbind_and_mountd_and_v4_only_does_not() {
    if !system_tests_possible(&["ip", "nft"], true) {
        return;
    }
    run(Loader::Nftables, "fn");
}

#[test]
fn iptables_nfs_v3_server_gets_rpcbind_and_mountd_and_v4_only_does_not() {
    if !system_tests_possible(&["ip", "iptables-restore", "ip6tables-restore"], true) {
        return;
    }
    run(Loader::Iptables, "fi");
}

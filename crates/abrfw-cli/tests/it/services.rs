//! Site services and selectors, end to end in network namespaces (issue 17's done-when): a site
//! whose DNS and admin rules are written with `service` and `from`/`to` selectors is compiled,
//! every Linux host loads its rule set (nftables, or iptables), and real TCP connections and
//! UDP exchanges are tried:
//!
//! - DNS over UDP and TCP 53 from every Linux host to the resolver passes, IPv4 and IPv6;
//!   nothing else on 53 does (port 53 of another machine, another port of the resolver).
//! - Admin SSH from the admin machine reaches every `role:agent` host, and nothing else: not
//!   the Linux host without the role, not another port, not from another machine.
//!
//! UDP is probed for real: an echo listener in the responder's namespace answers each
//! datagram, so a probe passes only when the request goes out and the reply comes back (the
//! rule set's state tracking lets the reply in).

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr, TcpListener, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use socket2::{Domain, Protocol, SockAddr, Socket, Type};

use crate::netns::{Loader, load_rules};
use crate::ns::{Namespaces, attach_to_bridge, in_ns, sh, with_ns};
use crate::support::{abrfw, system_tests_possible};

/// The site: three Linux hosts (two agents, one browser machine), the resolver and the admin
/// network as addresses. Every rule here is written with a selector and a service.
const SITE: &str = r#"[options]
phases = ["operate"]

[[host]]
name = "lx1"
os = "linux"
addresses = ["10.0.0.11", "fd00::11"]
roles = ["agent"]

[[host]]
name = "lx2"
os = "linux"
addresses = ["10.0.0.12"]
roles = ["agent"]

[[host]]
name = "helpdesk"
os = "linux"
addresses = ["10.0.0.13", "fd00::13"]
roles = ["web-browser"]

[[allow]]
name = "dns"
from = "all"
to = ["10.0.0.53", "fd00::53"]
service = "dns"

[[allow]]
name = "admin"
from = ["10.99.0.0/24", "fd00:99::/64"]
to = "role:agent"
service = "ssh"
"#;

/// The machines: (name, IPv4, IPv6, firewalled). The resolver, a second machine that also
/// listens on 53, and the admin workstation carry no rule set.
const MACHINES: &[Machine] = &[
    ("lx1", "10.0.0.11", Some("fd00::11"), true),
    ("lx2", "10.0.0.12", None, true),
    ("helpdesk", "10.0.0.13", Some("fd00::13"), true),
    ("resolver", "10.0.0.53", Some("fd00::53"), false),
    ("other", "10.0.0.54", Some("fd00::54"), false),
    ("admin", "10.99.0.7", Some("fd00:99::7"), false),
];

const LINUX_HOSTS: [&str; 3] = ["lx1", "lx2", "helpdesk"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Proto {
    Tcp,
    Udp,
}

/// One connection attempt: `from` opens it to `to` (from source port `sport`, or an
/// ephemeral one).
#[derive(Debug, Clone)]
pub(crate) struct Probe {
    pub from: &'static str,
    pub to: &'static str,
    pub proto: Proto,
    pub port: u16,
    pub sport: Option<u16>,
    pub v6: bool,
    pub why: &'static str,
}

/// A machine of a lab: (name, IPv4, IPv6, firewalled).
pub(crate) type Machine = (&'static str, &'static str, Option<&'static str>, bool);

pub(crate) struct Lab {
    _guard: Namespaces,
    pub ns: BTreeMap<&'static str, String>,
    v4: BTreeMap<&'static str, IpAddr>,
    v6: BTreeMap<&'static str, IpAddr>,
}

/// One namespace per machine on one bridge, addresses on-link.
pub(crate) fn build(tag: &str, machines: &[Machine]) -> Lab {
    let prefix = format!("abrfw{}{tag}", std::process::id() % 100_000);
    let sw = format!("{prefix}-sw");
    let mut guard = Namespaces(vec![sw.clone()]);
    sh(&["ip", "netns", "add", &sw]);
    in_ns(&sw, &["ip", "link", "add", "br0", "type", "bridge"]);
    in_ns(&sw, &["ip", "link", "set", "br0", "up"]);
    let mut lab = Lab {
        _guard: Namespaces(Vec::new()),
        ns: BTreeMap::new(),
        v4: BTreeMap::new(),
        v6: BTreeMap::new(),
    };
    for (i, (name, v4, v6, _)) in machines.iter().enumerate() {
        let ns = format!("{prefix}-{i}");
        guard.0.push(ns.clone());
        attach_to_bridge(&sw, &ns, &format!("v{tag}{i}"), "br0");
        in_ns(
            &ns,
            &["ip", "addr", "add", &format!("{v4}/32"), "dev", "eth0"],
        );
        in_ns(&ns, &["ip", "route", "add", "0.0.0.0/0", "dev", "eth0"]);
        lab.v4.insert(name, v4.parse().unwrap());
        if let Some(v6) = v6 {
            in_ns(
                &ns,
                &[
                    "ip",
                    "-6",
                    "addr",
                    "add",
                    &format!("{v6}/128"),
                    "dev",
                    "eth0",
                    "nodad",
                ],
            );
            in_ns(&ns, &["ip", "-6", "route", "add", "::/0", "dev", "eth0"]);
            lab.v6.insert(name, v6.parse().unwrap());
        }
        // Linux's default ephemeral range, which the rule sets expect of Linux initiators.
        in_ns(
            &ns,
            &["sysctl", "-qw", "net.ipv4.ip_local_port_range=32768 61000"],
        );
        lab.ns.insert(name, ns);
    }
    lab._guard = guard;
    lab
}

impl Lab {
    pub(crate) fn families(&self, a: &str, b: &str) -> Vec<bool> {
        let mut f = vec![false];
        if self.v6.contains_key(a) && self.v6.contains_key(b) {
            f.push(true);
        }
        f
    }

    fn addr(&self, name: &str, v6: bool) -> IpAddr {
        if v6 { self.v6[name] } else { self.v4[name] }
    }

    /// One attempt: a TCP handshake, or a UDP datagram answered by the echo listener.
    fn attempt(&self, p: &Probe, timeout: Duration) -> bool {
        let dst = SocketAddr::new(self.addr(p.to, p.v6), p.port);
        // The machine's own address: a v6 socket on :: would also hold the v4 port.
        let src = SocketAddr::new(self.addr(p.from, p.v6), p.sport.unwrap_or(0));
        with_ns(&self.ns[p.from], || match p.proto {
            Proto::Tcp => {
                let domain = if p.v6 { Domain::IPV6 } else { Domain::IPV4 };
                let sock = Socket::new(domain, Type::STREAM, Some(Protocol::TCP)).expect("socket");
                if p.sport.is_some() {
                    sock.set_reuse_address(true).unwrap();
                    sock.bind(&SockAddr::from(src))
                        .expect("bind the probe's source port");
                }
                sock.connect_timeout(&SockAddr::from(dst), timeout).is_ok()
            }
            Proto::Udp => {
                let sock = UdpSocket::bind(src).expect("udp socket");
                sock.set_read_timeout(Some(timeout)).unwrap();
                if sock.send_to(b"abrfw-probe", dst).is_err() {
                    return false;
                }
                let mut buf = [0_u8; 64];
                matches!(sock.recv_from(&mut buf), Ok((n, from)) if &buf[..n] == b"abrfw-probe" && from == dst)
            }
        })
    }

    pub(crate) fn attempt_all(&self, probes: &[Probe], timeout: Duration) -> Vec<bool> {
        std::thread::scope(|s| {
            let handles: Vec<_> = probes
                .iter()
                .map(|p| s.spawn(move || self.attempt(p, timeout)))
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        })
    }
}

/// UDP echo listeners, answering until dropped.
pub(crate) struct Echoes {
    stop: Arc<AtomicBool>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Drop for Echoes {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

pub(crate) fn udp_echo(lab: &Lab, at: &[(&str, u16)]) -> Echoes {
    let stop = Arc::new(AtomicBool::new(false));
    let mut threads = Vec::new();
    for &(host, port) in at {
        // Bound inside the namespace; the socket stays there when the thread serving it is not.
        let sock = with_ns(&lab.ns[host], || {
            UdpSocket::bind(("::", port)).expect("udp listen")
        });
        sock.set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        let stop = stop.clone();
        threads.push(std::thread::spawn(move || {
            let mut buf = [0_u8; 64];
            while !stop.load(Ordering::Relaxed) {
                if let Ok((n, from)) = sock.recv_from(&mut buf) {
                    let _ = sock.send_to(&buf[..n], from);
                }
            }
        }));
    }
    Echoes { stop, threads }
}

pub(crate) fn tcp_listen(lab: &Lab, at: &[(&str, u16)]) -> Vec<TcpListener> {
    at.iter()
        .map(|&(host, port)| {
            let l = with_ns(&lab.ns[host], || {
                TcpListener::bind(("::", port)).expect("listen")
            });
            l.set_nonblocking(true).unwrap();
            l
        })
        .collect()
}

pub(crate) fn drain(listeners: &[TcpListener]) {
    for l in listeners {
        while l.accept().is_ok() {}
    }
}

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
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{stderr}");
    // helpdesk is a Linux host no admin rule reaches: the lockout guard says so, and only that.
    assert!(
        stderr.contains("warning: host \"helpdesk\" may lock out its administrators"),
        "{stderr}"
    );
    assert_eq!(stderr.matches("warning: ").count(), 1, "{stderr}");

    let lab = build(tag, MACHINES);
    let _echo = udp_echo(&lab, &[("resolver", 53), ("resolver", 54), ("other", 53)]);
    let listeners = tcp_listen(
        &lab,
        &[
            ("resolver", 53),
            ("resolver", 54),
            ("other", 53),
            ("lx1", 22),
            ("lx2", 22),
            ("helpdesk", 22),
            ("lx1", 23),
            ("lx2", 2222),
        ],
    );

    let mut pass = Vec::new();
    let mut fail = Vec::new();
    for host in LINUX_HOSTS {
        for v6 in lab.families(host, "resolver") {
            for proto in [Proto::Udp, Proto::Tcp] {
                let probe = |to, port, why| Probe {
                    from: host,
                    to,
                    proto,
                    port,
                    sport: None,
                    v6,
                    why,
                };
                pass.push(probe("resolver", 53, "DNS to the resolver"));
                fail.push(probe("other", 53, "port 53 of another machine"));
                fail.push(probe("resolver", 54, "another port of the resolver"));
            }
        }
    }
    for (to, port, ok, why) in [
        ("lx1", 22, true, "admin SSH to a role:agent host"),
        ("lx2", 22, true, "admin SSH to a role:agent host"),
        (
            "helpdesk",
            22,
            false,
            "SSH to a host without the agent role",
        ),
        ("lx1", 23, false, "another port of an agent"),
        ("lx2", 2222, false, "another port of an agent"),
    ] {
        for v6 in lab.families("admin", to) {
            let p = Probe {
                from: "admin",
                to,
                proto: Proto::Tcp,
                port,
                sport: None,
                v6,
                why,
            };
            if ok { pass.push(p) } else { fail.push(p) }
        }
    }
    // SSH from a machine outside the admin network.
    for v6 in lab.families("other", "lx1") {
        fail.push(Probe {
            from: "other",
            to: "lx1",
            proto: Proto::Tcp,
            port: 22,
            sport: None,
            v6,
            why: "SSH from outside the admin network",
        });
    }

    probe_around(
        &lab,
        &listeners,
        &pass,
        &fail,
        &format!("{loader:?}"),
        || {
            for (name, _, _, firewalled) in MACHINES {
                if *firewalled {
                    load_rules(&lab.ns[name], &out.join(name), loader);
                }
            }
        },
    );
}

/// Tries every probe without firewalls (all must pass: the harness is sound), runs `load`,
/// then requires `pass` to pass and `fail` to fail.
pub(crate) fn probe_around(
    lab: &Lab,
    listeners: &[TcpListener],
    pass: &[Probe],
    fail: &[Probe],
    label: &str,
    load: impl FnOnce(),
) {
    // Without firewalls every probe works: the harness itself is sound.
    let all: Vec<Probe> = pass.iter().chain(fail).cloned().collect();
    let control = lab.attempt_all(&all, Duration::from_secs(3));
    let broken: Vec<&Probe> = all
        .iter()
        .zip(&control)
        .filter(|(_, ok)| !**ok)
        .map(|(p, _)| p)
        .collect();
    assert!(
        broken.is_empty(),
        "without firewalls these probes failed: {broken:#?}"
    );
    drain(listeners);

    load();

    let passed = lab.attempt_all(pass, Duration::from_secs(3));
    drain(listeners);
    let failed = lab.attempt_all(fail, Duration::from_millis(800));
    drain(listeners);
    let blocked: Vec<&Probe> = pass
        .iter()
        .zip(&passed)
        .filter(|(_, ok)| !**ok)
        .map(|(p, _)| p)
        .collect();
    let leaked: Vec<&Probe> = fail
        .iter()
        .zip(&failed)
        .filter(|(_, ok)| **ok)
        .map(|(p, _)| p)
        .collect();
    assert!(
        blocked.is_empty() && leaked.is_empty(),
        "{label}: allowed traffic blocked: {blocked:#?}\ntraffic that must be dropped passed: {leaked:#?}"
    );
}

#[test]
fn nftables_dns_and_admin_services_pass_and_nothing_else_does() {
    if !system_tests_possible(&["ip", "nft"], true) {
        return;
    }
    run(Loader::Nftables, "sn");
}

#[test]
fn iptables_dns_and_admin_services_pass_and_nothing_else_does() {
    if !system_tests_possible(&["ip", "iptables-restore", "ip6tables-restore"], true) {
        return;
    }
    run(Loader::Iptables, "si");
}

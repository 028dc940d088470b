//! ICMPv6 by direction (issue 16 item 6), in network namespaces: a host loaded with its
//! drop-policy rule set sends router solicitations and MLD reports but no router advertisements
//! or MLD queries, receives advertisements and queries but no solicitations or reports, and
//! neighbour discovery works both ways (nothing would arrive at all without it).
//!
//! The probes are raw ICMPv6 sockets (`libc`): a locally generated packet that the output hook
//! drops makes `sendto` fail with `EPERM`; one the input hook drops never reaches a raw socket,
//! which the kernel feeds after that hook.
#![allow(unsafe_code)]

use std::net::Ipv6Addr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

use crate::ns::{Namespaces, in_ns, sh, with_ns};
use crate::support::{fixture, system_tests_possible};

const HOST: &str = "2001:db8:e6::1";
const PEER: &str = "2001:db8:e6::2";

/// How the filtered host loads its committed reference rule set.
enum Loader {
    Nftables,
    Iptables,
}

/// Two namespaces on one veth link: `host` (filtered) and `peer` (no rules).
fn link(tag: &str) -> (Namespaces, String, String) {
    let prefix = format!("abrfw{}i6{tag}", std::process::id() % 100_000);
    let host = format!("{prefix}-h");
    let peer = format!("{prefix}-p");
    let guard = Namespaces(vec![host.clone(), peer.clone()]);
    sh(&["ip", "netns", "add", &host]);
    sh(&["ip", "netns", "add", &peer]);
    sh(&[
        "ip", "link", "add", "eth0", "netns", &host, "type", "veth", "peer", "eth0", "netns", &peer,
    ]);
    for (ns, addr) in [(&host, HOST), (&peer, PEER)] {
        in_ns(ns, &["ip", "link", "set", "lo", "up"]);
        in_ns(
            ns,
            &[
                "ip",
                "-6",
                "addr",
                "add",
                &format!("{addr}/64"),
                "dev",
                "eth0",
                "nodad",
            ],
        );
        in_ns(ns, &["ip", "link", "set", "eth0", "up"]);
    }
    (guard, host, peer)
}

/// A raw ICMPv6 socket in namespace `ns` that waits at most a second per read.
fn raw_socket(ns: &str) -> OwnedFd {
    with_ns(ns, || {
        // SAFETY: plain socket(2); the fd is owned by the returned OwnedFd.
        let fd = unsafe { libc::socket(libc::AF_INET6, libc::SOCK_RAW, libc::IPPROTO_ICMPV6) };
        assert!(fd >= 0, "raw socket: {}", std::io::Error::last_os_error());
        // SAFETY: fd was just returned by socket(2) and is owned by nobody else.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        let timeout = libc::timeval {
            tv_sec: 1,
            tv_usec: 0,
        };
        // SAFETY: a valid timeval of the right size for SO_RCVTIMEO.
        let rc = unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVTIMEO,
                (&raw const timeout).cast(),
                size_of::<libc::timeval>() as libc::socklen_t,
            )
        };
        assert_eq!(rc, 0, "SO_RCVTIMEO: {}", std::io::Error::last_os_error());
        fd
    })
}

/// Sends one ICMPv6 message of `icmp_type` from namespace `ns` to `to`; the kernel fills in the
/// checksum. `Err` carries the errno (`EPERM`: the output hook dropped it).
fn send(ns: &str, to: &str, icmp_type: u8) -> Result<(), i32> {
    let to: Ipv6Addr = to.parse().unwrap();
    let sock = raw_socket(ns);
    // Type, code, checksum, then 20 bytes of zeros: long enough for any of the types probed.
    let mut packet = [0u8; 24];
    packet[0] = icmp_type;
    // SAFETY: all-zero is a valid sockaddr_in6.
    let mut addr: libc::sockaddr_in6 = unsafe { std::mem::zeroed() };
    addr.sin6_family = libc::AF_INET6 as libc::sa_family_t;
    addr.sin6_addr.s6_addr = to.octets();
    // SAFETY: packet and addr are valid for the lengths given.
    let n = unsafe {
        libc::sendto(
            sock.as_raw_fd(),
            packet.as_ptr().cast(),
            packet.len(),
            0,
            (&raw const addr).cast(),
            size_of::<libc::sockaddr_in6>() as libc::socklen_t,
        )
    };
    if n < 0 {
        Err(std::io::Error::last_os_error().raw_os_error().unwrap_or(0))
    } else {
        Ok(())
    }
}

/// Whether `sock` receives an ICMPv6 message of `icmp_type` within two seconds.
fn received(sock: &OwnedFd, icmp_type: u8) -> bool {
    let deadline = Instant::now() + Duration::from_secs(2);
    let mut buf = [0u8; 1500];
    while Instant::now() < deadline {
        // SAFETY: buf is valid for its length.
        let n = unsafe { libc::recv(sock.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
        if n > 0 && buf[0] == icmp_type {
            return true;
        }
    }
    false
}

/// `icmp_type` sent from `from` to `to`'s address `to_addr`, watched for on `to`: `Ok(true)` it
/// arrived, `Ok(false)` it was sent and never arrived, `Err(errno)` it could not be sent.
fn probe(from: &str, to: &str, to_addr: &str, icmp_type: u8) -> Result<bool, i32> {
    let sock = raw_socket(to);
    send(from, to_addr, icmp_type)?;
    Ok(received(&sock, icmp_type))
}

fn run(loader: Loader, tag: &str) {
    let (_guard, host, peer) = link(tag);
    // linux-agent of the example site: a drop-policy Linux host with IPv6 peers.
    let dir = fixture("expected").join("example").join("linux-agent");
    match loader {
        Loader::Nftables => {
            let file = dir.join("nftables.nft");
            in_ns(&host, &["nft", "-f", file.to_str().unwrap()]);
        }
        Loader::Iptables => {
            let text = std::fs::read_to_string(dir.join("ip6tables.rules")).unwrap();
            let file = std::env::temp_dir().join(format!("abrfw-icmpv6-{tag}.rules"));
            std::fs::write(&file, text).unwrap();
            in_ns(
                &host,
                &[
                    "sh",
                    "-c",
                    &format!("ip6tables-restore < {}", file.to_str().unwrap()),
                ],
            );
            let _ = std::fs::remove_file(&file);
        }
    }
    let eperm = Err(libc::EPERM);
    // Sent by the host: solicitations and reports leave (and arrive: neighbour discovery of the
    // peer worked through the host's rules); advertisements and queries are dropped on output.
    for (t, what) in [
        (133, "router solicitation"),
        (143, "MLDv2 report"),
        (131, "MLD report"),
    ] {
        assert_eq!(probe(&host, &peer, PEER, t), Ok(true), "host sends {what}");
    }
    for (t, what) in [(134, "router advertisement"), (130, "MLD query")] {
        assert_eq!(
            probe(&host, &peer, PEER, t),
            eperm,
            "host must not send {what}"
        );
    }
    // Received by the host: advertisements and queries arrive, solicitations and reports are
    // dropped on input.
    for (t, what) in [(134, "router advertisement"), (130, "MLD query")] {
        assert_eq!(
            probe(&peer, &host, HOST, t),
            Ok(true),
            "host receives {what}"
        );
    }
    for (t, what) in [(133, "router solicitation"), (143, "MLDv2 report")] {
        assert_eq!(
            probe(&peer, &host, HOST, t),
            Ok(false),
            "host must not accept {what}"
        );
    }
    // Errors are not probed here: one about no connection the host tracks is `invalid` to
    // conntrack and dropped before the type list (as before); errors about tracked connections
    // pass as related, which the flow probes of netns.rs exercise.
    // Neither end's neighbour entry failed: NS and NA passed the host's rules both ways.
    for ns in [&host, &peer] {
        let out = std::process::Command::new("ip")
            .args([
                "netns", "exec", ns, "ip", "-6", "neigh", "show", "dev", "eth0",
            ])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            !text.contains("FAILED") && text.contains("lladdr"),
            "{ns}: {text}"
        );
    }
}

#[test]
fn nftables_host_accepts_icmpv6_by_direction() {
    if !system_tests_possible(&["ip", "nft"], true) {
        return;
    }
    run(Loader::Nftables, "n");
}

#[test]
fn iptables_host_accepts_icmpv6_by_direction() {
    if !system_tests_possible(&["ip", "ip6tables-restore"], true) {
        return;
    }
    run(Loader::Iptables, "i");
}

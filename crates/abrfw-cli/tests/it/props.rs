//! Property tests (proptest): random valid sites always compile, within the size limit's
//! estimate, and every file they compile to passes the real validators (`nft -c`,
//! `iptables-restore --test`, the pf check, the PowerShell parser, the netsh lint); random damage to the fixture topologies always gives either a valid
//! site or exit 2 with located errors, never a panic. Case counts are bounded so the suite stays
//! fast; `PROPTEST_CASES=N` runs more.

use std::fmt::Write as _;
use std::net::{Ipv4Addr, Ipv6Addr};

use abrfw_core::ipnet::{IpNet, Ipv4Net, Ipv6Net};
use abrfw_core::{Catalog, Os, Role, compile, compile_gateways, peer_entries, topology};
use proptest::prelude::*;
use proptest::test_runner::{Config, FileFailurePersistence};

use crate::golden::tree;
use crate::support::{abrfw, topologies};
use crate::validate;

fn config(cases: u32) -> Config {
    Config {
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|c| c.parse().ok())
            .unwrap_or(cases),
        // A failing case is kept in this file and replayed first (commit it with the fix).
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "tests/it/props.proptest-regressions",
        ))),
        ..Config::default()
    }
}

// ---------------------------------------------------------------------------------------------
// Random valid sites

/// Characters names are built from (the whole allowed set).
const NAME_CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-";

/// Characters descriptions are built from: every kind of quote, shell, cmd, PowerShell, nft,
/// iptables and pf syntax, and non-ASCII text; no control characters (those are refused).
const DESCRIPTION_CHARS: &[char] = &[
    'a', 'Z', '0', ' ', '"', '\'', '`', '\\', '$', '(', ')', '{', '}', '[', ']', '<', '>', ';',
    '&', '|', '^', '%', '!', '#', '*', '/', '@', ',', '=', '-', ':', '~', '?', 'é', '€', '‘', '’',
    '„', '中', '\u{a0}',
];

/// One host as drawn; turned into valid TOML by [`site`].
#[derive(Debug, Clone)]
struct HostDraw {
    name: Vec<u8>,
    os: u8,
    roles: Vec<u8>,
    addresses: Vec<(bool, u128, u8)>,
    zone: u8,
    ephemeral: Option<(u16, u16)>,
    acronis_port: Option<u16>,
}

#[derive(Debug, Clone)]
struct AllowDraw {
    name: Vec<u8>,
    from: (bool, u8, (bool, u128, u8)),
    to: (bool, u8, (bool, u128, u8)),
    ports: (u16, u16),
    udp: bool,
    description: Option<Vec<u8>>,
}

#[derive(Debug, Clone)]
struct SiteDraw {
    policy_drop: bool,
    phases: u8,
    dns: bool,
    hosts: Vec<HostDraw>,
    allows: Vec<AllowDraw>,
    gateways: Vec<(Vec<u8>, u8)>,
}

fn address() -> impl Strategy<Value = (bool, u128, u8)> {
    (any::<bool>(), any::<u128>(), any::<u8>())
}

fn host() -> impl Strategy<Value = HostDraw> {
    (
        prop::collection::vec(any::<u8>(), 1..64),
        any::<u8>(),
        prop::collection::vec(any::<u8>(), 1..4),
        prop::collection::vec(address(), 1..4),
        0u8..3,
        prop::option::weighted(0.2, (1u16..65535, 1u16..65535)),
        prop::option::weighted(0.2, 1u16..65535),
    )
        .prop_map(
            |(name, os, roles, addresses, zone, ephemeral, acronis_port)| HostDraw {
                name,
                os,
                roles,
                addresses,
                zone,
                ephemeral,
                acronis_port,
            },
        )
}

fn allow() -> impl Strategy<Value = AllowDraw> {
    (
        prop::collection::vec(any::<u8>(), 1..64),
        (any::<bool>(), any::<u8>(), address()),
        (any::<bool>(), any::<u8>(), address()),
        (1u16..65535, 1u16..65535),
        any::<bool>(),
        prop::option::weighted(0.8, prop::collection::vec(any::<u8>(), 0..200)),
    )
        .prop_map(|(name, from, to, ports, udp, description)| AllowDraw {
            name,
            from,
            to,
            ports,
            udp,
            description,
        })
}

fn site_draw() -> impl Strategy<Value = SiteDraw> {
    (
        any::<bool>(),
        1u8..4,
        any::<bool>(),
        prop::collection::vec(host(), 1..12),
        prop::collection::vec(allow(), 0..5),
        prop::collection::vec(
            (prop::collection::vec(any::<u8>(), 1..10), any::<u8>()),
            0..3,
        ),
    )
        .prop_map(
            |(policy_drop, phases, dns, hosts, allows, gateways)| SiteDraw {
                policy_drop,
                phases,
                dns,
                hosts,
                allows,
                gateways,
            },
        )
}

/// A valid name from drawn bytes, made unique by its suffix.
fn name(bytes: &[u8], suffix: &str) -> String {
    let mut s: String = bytes
        .iter()
        .map(|b| NAME_CHARS[*b as usize % NAME_CHARS.len()] as char)
        .collect();
    if !s.as_bytes()[0].is_ascii_alphanumeric() {
        s.replace_range(0..1, "x");
    }
    // Keep clear of the names Windows reserves for devices (CON, NUL.txt, com1.x, ...): a host
    // name is also a directory name.
    let stem = s.split('.').next().unwrap_or_default().to_ascii_uppercase();
    let reserved = ["CON", "PRN", "AUX", "NUL"].contains(&stem.as_str())
        || (stem.len() == 4
            && (stem.starts_with("COM") || stem.starts_with("LPT"))
            && stem.as_bytes()[3].is_ascii_digit());
    if reserved {
        s.insert(0, 'x');
    }
    s.truncate(63 - suffix.len());
    s + suffix
}

fn net((v6, bits, prefix): (bool, u128, u8)) -> IpNet {
    if v6 {
        let len = 16 + prefix % 113; // /16 .. /128
        IpNet::V6(Ipv6Net::new(Ipv6Addr::from(bits), len).unwrap().trunc())
    } else {
        let len = 8 + prefix % 25; // /8 .. /32
        IpNet::V4(
            Ipv4Net::new(Ipv4Addr::from(bits as u32), len)
                .unwrap()
                .trunc(),
        )
    }
}

fn toml_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The drawn site as a topology that must be valid.
fn site(d: &SiteDraw) -> String {
    let mut t = String::new();
    let phases: Vec<&str> = [(1, "\"install\""), (2, "\"operate\"")]
        .iter()
        .filter(|(bit, _)| d.phases & bit != 0)
        .map(|(_, p)| *p)
        .collect();
    let _ = writeln!(
        t,
        "[options]\npolicy = \"{}\"\ndns = {}\nphases = [{}]\n",
        if d.policy_drop { "drop" } else { "fragment" },
        d.dns,
        phases.join(", ")
    );
    let mut names = Vec::new();
    for (i, h) in d.hosts.iter().enumerate() {
        let host_name = name(&h.name, &format!("-h{i}"));
        // One in eight is a peer without an OS.
        let os = Os::ALL.get(h.os as usize % (Os::ALL.len() + 1)).copied();
        let candidates: Vec<Role> = Role::ALL
            .into_iter()
            .filter(|r| os.is_none_or(|os| r.supported_os().contains(&os)))
            .collect();
        let mut roles: Vec<&str> = h
            .roles
            .iter()
            .map(|r| candidates[*r as usize % candidates.len()].as_str())
            .collect();
        roles.sort_unstable();
        roles.dedup();
        let addresses: Vec<String> = h
            .addresses
            .iter()
            .map(|a| format!("\"{}\"", net(*a)))
            .collect();
        let _ = writeln!(t, "[[host]]\nname = \"{host_name}\"");
        if let Some(os) = os {
            let _ = writeln!(t, "os = \"{os}\"");
        }
        let _ = writeln!(
            t,
            "addresses = [{}]\nroles = [{}]\nzone = \"z{}\"",
            addresses.join(", "),
            roles
                .iter()
                .map(|r| format!("\"{r}\""))
                .collect::<Vec<_>>()
                .join(", "),
            h.zone
        );
        if let Some((a, b)) = h.ephemeral {
            let _ = writeln!(t, "ephemeral_ports = \"{}-{}\"", a.min(b), a.max(b));
        }
        if let Some(p) = h.acronis_port {
            let _ = writeln!(t, "acronis_port = {p}");
        }
        t.push('\n');
        names.push(host_name);
    }
    for (i, a) in d.allows.iter().enumerate() {
        let end = |(is_host, pick, addr): (bool, u8, (bool, u128, u8))| -> String {
            if is_host {
                names[pick as usize % names.len()].clone()
            } else {
                net(addr).to_string()
            }
        };
        let (mut from, to) = (end(a.from), end(a.to));
        // At least one side is a host.
        if !a.from.0 && !a.to.0 {
            from = names[a.from.1 as usize % names.len()].clone();
        }
        let (p, q) = (a.ports.0.min(a.ports.1), a.ports.0.max(a.ports.1));
        let _ = writeln!(
            t,
            "[[allow]]\nname = \"{}\"\nfrom = \"{from}\"\nto = \"{to}\"\nport = \"{p}-{q}\"\nprotocol = \"{}\"",
            name(&a.name, &format!("-a{i}")),
            if a.udp { "udp" } else { "tcp" }
        );
        if let Some(desc) = &a.description {
            let text: String = desc
                .iter()
                .map(|b| DESCRIPTION_CHARS[*b as usize % DESCRIPTION_CHARS.len()])
                .collect();
            let _ = writeln!(t, "description = {}", toml_string(&text));
        }
        t.push('\n');
    }
    let zones: std::collections::BTreeSet<u8> = d.hosts.iter().map(|h| h.zone).collect();
    if zones.len() >= 2 {
        const GATEWAY_OS: [&str; 4] = ["linux", "openbsd", "freebsd", "macos"];
        for (i, (n, os)) in d.gateways.iter().enumerate() {
            let _ = writeln!(
                t,
                "[[gateway]]\nname = \"{}\"\nos = \"{}\"\n",
                name(n, &format!("-g{i}")),
                GATEWAY_OS[*os as usize % GATEWAY_OS.len()]
            );
        }
    }
    t
}

#[test]
fn random_valid_sites_compile_and_pass_every_validator() {
    let system = validate::system_validators();
    let dir = tempfile::tempdir().unwrap();
    let mut runner = proptest::test_runner::TestRunner::new(config(64));
    let total = std::cell::Cell::new(validate::Checked::default());
    runner
        .run(&site_draw(), |d| {
            let text = site(&d);
            let path = dir.path().join("site.toml");
            std::fs::write(&path, &text).unwrap();
            let out = tempfile::tempdir().unwrap();
            let run = abrfw(&[
                "compile",
                path.to_str().unwrap(),
                "--out-dir",
                out.path().to_str().unwrap(),
            ]);
            prop_assert!(
                run.status.success(),
                "a valid site failed:\n{text}\n{}",
                String::from_utf8_lossy(&run.stderr)
            );
            // The size limit's estimate bounds what compile really builds.
            let catalog = Catalog::builtin();
            let topo = topology::parse("site.toml", &text, &catalog).unwrap();
            let built: usize = compile(&catalog, &topo)
                .unwrap()
                .iter()
                .flat_map(|h| &h.rules)
                .map(|r| r.peers.v4.len() + r.peers.v6.len())
                .sum::<usize>()
                + compile_gateways(&catalog, &topo)
                    .unwrap()
                    .iter()
                    .flat_map(|g| &g.rules)
                    .map(|r| {
                        r.sources.v4.len()
                            + r.sources.v6.len()
                            + r.destinations.v4.len()
                            + r.destinations.v6.len()
                    })
                    .sum::<usize>();
            let estimate = peer_entries(&catalog, &topo).unwrap();
            prop_assert!(
                built as u64 <= estimate,
                "built {built} peer entries, estimated {estimate}:\n{text}"
            );
            let files = tree(out.path());
            let checked = std::panic::catch_unwind(|| validate::tree("random", &files, system))
                .map_err(|e| {
                    let why = e
                        .downcast_ref::<String>()
                        .cloned()
                        .or_else(|| e.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                        .unwrap_or_default();
                    TestCaseError::fail(format!("{why}\nsite:\n{text}"))
                })?;
            let mut sum = total.get();
            sum.nft += checked.nft;
            sum.iptables += checked.iptables;
            sum.pf += checked.pf;
            sum.ps1 += checked.ps1;
            sum.netsh += checked.netsh;
            total.set(sum);
            Ok(())
        })
        .unwrap();
    // The draws reach every backend.
    let total = total.get();
    assert!(
        total.nft > 0 && total.iptables > 0 && total.pf > 0 && total.ps1 > 0 && total.netsh > 0,
        "{total:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Random broken sites

/// Tokens inserted into the fixtures: TOML syntax, hostile text, values out of range.
const TOKENS: &[&str] = &[
    "\"",
    "'",
    "[",
    "]",
    "[[",
    "]]",
    "{",
    "}",
    "=",
    ",",
    "\n",
    "\\",
    "\\u0000",
    "\\u202E",
    "#",
    "\n[[host]]\n",
    "\n[[allow]]\n",
    "\n[[gateway]]\n",
    "name = ",
    "os = \"linux\"",
    "-1",
    "99999999999999999999",
    "0",
    "65536",
    "\"10.0.0.0/8\"",
    "\"::/0\"",
    "$(reboot)",
    "`x`",
    "%PATH%",
    ";",
    "é",
    "\u{202E}",
    "\u{0}",
    "nan",
    "inf",
    "1979-05-27",
    "true",
];

#[derive(Debug, Clone)]
enum Damage {
    Insert(usize, usize),
    Delete(usize, usize),
    Duplicate(usize, usize),
}

fn damage() -> impl Strategy<Value = Vec<Damage>> {
    prop::collection::vec(
        prop_oneof![
            (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Damage::Insert(a, b)),
            (any::<usize>(), 0usize..40).prop_map(|(a, b)| Damage::Delete(a, b)),
            (any::<usize>(), 0usize..200).prop_map(|(a, b)| Damage::Duplicate(a, b)),
        ],
        1..4,
    )
}

fn floor_boundary(s: &str, i: usize) -> usize {
    let mut i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn apply(text: &str, damage: &[Damage]) -> String {
    let mut s = text.to_owned();
    for d in damage {
        let len = s.len().max(1);
        match *d {
            Damage::Insert(at, token) => {
                let at = floor_boundary(&s, at % len);
                s.insert_str(at, TOKENS[token % TOKENS.len()]);
            }
            Damage::Delete(at, n) => {
                let a = floor_boundary(&s, at % len);
                let b = floor_boundary(&s, a + n);
                s.replace_range(a..b, "");
            }
            Damage::Duplicate(at, n) => {
                let a = floor_boundary(&s, at % len);
                let b = floor_boundary(&s, a + n);
                let piece = s[a..b].to_owned();
                s.insert_str(b, &piece);
            }
        }
    }
    s
}

/// In-process: parse, compile and render every error; a panic fails the test, an error must
/// carry at least one diagnostic, each with a span inside the text.
#[test]
fn random_broken_sites_give_located_errors_never_panics() {
    let catalog = Catalog::builtin();
    let fixtures: Vec<String> = topologies()
        .into_iter()
        .map(|(_, p)| std::fs::read_to_string(p).unwrap())
        .collect();
    let mut runner = proptest::test_runner::TestRunner::new(config(512));
    runner
        .run(&(any::<usize>(), damage()), |(pick, damage)| {
            let text = apply(&fixtures[pick % fixtures.len()], &damage);
            match topology::parse("site.toml", &text, &catalog) {
                Ok(topo) => {
                    prop_assert!(compile(&catalog, &topo).is_ok());
                    prop_assert!(compile_gateways(&catalog, &topo).is_ok());
                }
                Err(e) => {
                    prop_assert!(!e.diagnostics.is_empty());
                    for d in &e.diagnostics {
                        let span = d.span.clone();
                        prop_assert!(
                            span.as_ref()
                                .is_some_and(|s| s.start <= s.end && s.end <= text.len()),
                            "{d:?} in\n{text}"
                        );
                    }
                    let report = e.to_string();
                    prop_assert!(report.contains(" --> site.toml:"), "{report}");
                }
            }
            Ok(())
        })
        .unwrap();
}

/// Through the binary: exit 0 or exit 2 with a located error, never another status (a panic
/// exits 101) and never output from a refused site.
#[test]
fn random_broken_sites_exit_2_with_a_location_through_the_cli() {
    let fixtures: Vec<String> = topologies()
        .into_iter()
        .map(|(_, p)| std::fs::read_to_string(p).unwrap())
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let mut runner = proptest::test_runner::TestRunner::new(config(32));
    runner
        .run(&(any::<usize>(), damage()), |(pick, damage)| {
            let text = apply(&fixtures[pick % fixtures.len()], &damage);
            let path = dir.path().join("site.toml");
            std::fs::write(&path, &text).unwrap();
            let out = dir.path().join("out");
            let _ = std::fs::remove_dir_all(&out);
            let run = abrfw(&[
                "compile",
                path.to_str().unwrap(),
                "--out-dir",
                out.to_str().unwrap(),
            ]);
            let stderr = String::from_utf8_lossy(&run.stderr);
            match run.status.code() {
                Some(0) => {}
                Some(2) => {
                    prop_assert!(
                        stderr.contains(&format!(" --> {}:", path.display())),
                        "{stderr}"
                    );
                    prop_assert!(!out.exists());
                }
                other => prop_assert!(false, "exit {other:?}:\n{stderr}\n{text}"),
            }
            Ok(())
        })
        .unwrap();
}

//! Scale benchmark: a generated site with tens of thousands of hosts, timed per stage.
//!
//! `cargo bench -p abrfw-cli --bench scale` (or `just bench`); `ABRFW_BENCH_HOSTS=N` changes the
//! number of agent hosts (default 20000). Prints one line per stage with the best of a few runs.
#![allow(clippy::print_stdout)]

use std::fmt::Write as _;
use std::hint::black_box;
use std::time::{Duration, Instant};

use abrfw_core::diff::{Side, diff_sites};
use abrfw_core::{Catalog, compile, topology};

/// A site with one management server (also the license server), a console, four storage nodes,
/// a NAS vault, vCenter, ESXi, the online storage, and `agents` agent hosts of every kind.
fn site(agents: usize) -> String {
    let mut t = String::from("[options]\npolicy = \"drop\"\n");
    let mut host = |name: &str, os: Option<&str>, addr: String, roles: &str| {
        let _ = write!(t, "\n[[host]]\nname = \"{name}\"\n");
        if let Some(os) = os {
            let _ = writeln!(t, "os = \"{os}\"");
        }
        let _ = writeln!(t, "addresses = [{addr}]\nroles = [{roles}]");
    };
    host(
        "ams",
        Some("windows"),
        "\"10.0.0.10\", \"fd00::10\"".into(),
        "\"management-server\", \"license-server\"",
    );
    host(
        "console",
        Some("windows"),
        "\"10.0.0.11\"".into(),
        "\"management-console\"",
    );
    for i in 0..4 {
        host(
            &format!("sn{i}"),
            Some("windows"),
            format!("\"10.0.1.{i}\", \"fd00::1:{i}\""),
            "\"storage-node\"",
        );
    }
    host(
        "nas",
        Some("linux"),
        "\"10.0.2.1\", \"fd00::2:1\"".into(),
        "\"vault-smb\", \"vault-nfs\"",
    );
    host("vcenter", None, "\"10.0.3.1\"".into(), "\"vcenter\"");
    host("esxi", None, "\"10.0.3.0/24\"".into(), "\"esxi\"");
    host(
        "cloud",
        None,
        "\"203.0.113.0/24\"".into(),
        "\"online-storage\"",
    );
    for i in 0..agents {
        // Agents spread over 10.16.0.0/12, one address each; one in five also has IPv6.
        let (a, b, c) = (16 + (i >> 16), (i >> 8) & 0xff, i & 0xff);
        let mut addr = format!("\"10.{a}.{b}.{c}\"");
        if i % 5 == 0 {
            let _ = write!(addr, ", \"fd00:1::{i:x}\"");
        }
        let (os, roles) = match i % 20 {
            0..=9 => ("windows", "\"agent\""),
            10 => ("windows-legacy", "\"agent\""),
            11 => ("windows", "\"agent-exchange\""),
            12..=18 => ("linux", "\"agent\""),
            _ => ("appliance", "\"agent-vmware\""),
        };
        host(&format!("agent{i}"), Some(os), addr, roles);
    }
    t
}

fn best_of<T>(runs: usize, mut f: impl FnMut() -> T) -> (Duration, T) {
    let mut best = Duration::MAX;
    let mut last = None;
    for _ in 0..runs {
        let start = Instant::now();
        let value = f();
        best = best.min(start.elapsed());
        last = Some(value);
    }
    (best, last.expect("at least one run"))
}

fn main() {
    let agents: usize = std::env::var("ABRFW_BENCH_HOSTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let text = site(agents);
    let catalog = Catalog::builtin();
    let runs = 3;

    let (parse, topo) = best_of(runs, || {
        topology::parse("bench.toml", black_box(&text), &catalog).expect("valid site")
    });
    let (compile_time, hosts) = best_of(runs, || {
        compile(&catalog, black_box(&topo)).expect("compile")
    });
    let rules: usize = hosts.iter().map(|h| h.rules.len()).sum();
    let linux: Vec<&abrfw_core::HostRules> = hosts.iter().filter(|h| h.os.is_linux()).collect();
    let windows: Vec<&abrfw_core::HostRules> = hosts.iter().filter(|h| h.os.is_windows()).collect();
    let time_backend = |hosts: &[&abrfw_core::HostRules],
                        render: &dyn Fn(&abrfw_core::HostRules) -> usize| {
        best_of(runs, || hosts.iter().map(|h| render(h)).sum::<usize>())
    };
    type Render<'a> = &'a dyn Fn(&abrfw_core::HostRules) -> usize;
    let all: Vec<&abrfw_core::HostRules> = hosts.iter().collect();
    let backends: [(&str, &[&abrfw_core::HostRules], Render<'_>); 5] = [
        ("nftables", &linux, &|h| {
            abrfw_nftables::render(h, &abrfw_nftables::Options::default())
                .expect("render")
                .len()
        }),
        ("iptables", &linux, &|h| {
            abrfw_iptables::render(h, &abrfw_iptables::Options::default())
                .expect("render")
                .into_vec()
                .iter()
                .map(|(_, t)| t.len())
                .sum()
        }),
        ("netsh", &windows, &|h| {
            abrfw_windows::netsh::render(h, &abrfw_windows::Options::default())
                .expect("render")
                .len()
        }),
        ("powershell", &windows, &|h| {
            abrfw_windows::powershell::render(h, &abrfw_windows::Options::default())
                .expect("render")
                .len()
        }),
        ("json", &all, &|h| {
            abrfw_json::render(h, &abrfw_json::Options::default())
                .expect("render")
                .len()
        }),
    ];
    let rendered: Vec<(&str, usize, Duration, usize)> = backends
        .iter()
        .map(|(name, hosts, render)| {
            let (time, bytes) = time_backend(hosts, *render);
            (*name, hosts.len(), time, bytes)
        })
        .collect();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "site: {} hosts ({} bytes of TOML), {} with rules, {} rules",
        topo.hosts.len(),
        text.len(),
        hosts.len(),
        rules
    );
    println!("parse+validate    {:>10.1} ms", ms(parse));
    println!("compile           {:>10.1} ms", ms(compile_time));
    for (name, count, time, bytes) in rendered {
        println!(
            "render {name:<10} {:>10.1} ms  ({count} hosts, {bytes} bytes)",
            ms(time)
        );
    }

    // `abrfw diff --to ab-12.5`: the same site under ab-12.5, compared host by host on the IR.
    let mut topo_12 = topo.clone();
    topo_12.release = catalog.release("ab-12.5").expect("built-in release");
    let hosts_12 = compile(&catalog, &topo_12).expect("compile");
    let (diff_time, diff) = best_of(runs, || {
        diff_sites(
            Side {
                site: "bench.toml",
                release: topo.release,
                topology: &topo,
                hosts: &hosts,
                gateways: &[],
            },
            Side {
                site: "bench.toml",
                release: topo_12.release,
                topology: &topo_12,
                hosts: &hosts_12,
                gateways: &[],
            },
        )
    });
    println!(
        "diff 11.5 -> 12.5 {:>10.1} ms  ({} hosts listed)",
        ms(diff_time),
        diff.hosts.len()
    );
}

//! Large sites: the rule count of a gateway or a management server follows the flows and OS
//! groups, not the number of agents; Windows address lists use the fewest entries and rules.

use abrfw_core::{Catalog, HostRules, compile, topology};
use abrfw_windows::mapping::{self, MAX_REMOTE_CHARS};

use crate::ns::{Namespaces, in_ns, sh};
use crate::support::{stdout_ok, system_tests_possible};

/// Servers in zone `servers`, `agents` agents of every kind in zone `office` with one IPv4 and
/// one IPv6 address each, and a Linux gateway between the zones.
pub(crate) fn site(agents: usize) -> String {
    let mut t = String::from(
        r#"[options]
policy = "drop"

[[host]]
name = "ams"
os = "windows"
zone = "servers"
addresses = ["10.0.0.10", "fd00::10"]
roles = ["management-server", "license-server"]

[[host]]
name = "sn"
os = "windows"
zone = "servers"
addresses = ["10.0.0.20", "fd00::20"]
roles = ["storage-node"]

[[host]]
name = "nas"
os = "linux"
zone = "servers"
addresses = ["10.0.0.30", "fd00::30"]
roles = ["vault-smb", "vault-nfs"]

[[host]]
name = "console"
os = "linux"
zone = "office"
addresses = ["10.0.4.11", "fd00::4:11"]
roles = ["management-console"]

[[gateway]]
name = "fw"
os = "linux"
zones = ["servers", "office"]
interfaces = { servers = "eth0", office = "eth1" }
"#,
    );
    for i in 0..agents {
        let (os, roles) = match i % 20 {
            0..=9 => ("windows", "agent"),
            10 => ("windows-legacy", "agent"),
            11 => ("windows", "agent-exchange"),
            12..=18 => ("linux", "agent"),
            _ => ("appliance", "agent-vmware"),
        };
        t.push_str(&format!(
            "\n[[host]]\nname = \"agent{i}\"\nos = \"{os}\"\nzone = \"office\"\n\
             addresses = [\"10.16.{}.{}\", \"fd00:1::{:x}\"]\nroles = [\"{roles}\"]\n",
            i >> 8,
            i & 0xff,
            i
        ));
    }
    t
}

/// Writes the site to a temporary directory; returns it and the topology path.
fn site_file(agents: usize) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("site.toml");
    std::fs::write(&path, site(agents)).expect("write site");
    let path = path.to_str().expect("utf-8 path").to_owned();
    (dir, path)
}

fn nft_rules(script: &str) -> usize {
    script
        .lines()
        .filter(|l| l.contains(" ct state new accept comment "))
        .count()
}

/// The site rules a real site needs, for every host: name resolution and time from all,
/// Active Directory from the Windows hosts, the administrators' SSH and RDP from their network.
const SITE_ALLOWS: &str = r#"
[[zone]]
name = "servers"
networks = ["10.0.0.0/16", "10.255.0.0/24", "fd00::/64", "fd00:ff::/64"]

[[zone]]
name = "office"
networks = ["10.16.0.0/12", "fd00:1::/96"]

[[allow]]
name = "dns"
from = "all"
to = ["10.0.9.53", "fd00::9:53"]
service = "dns"

[[allow]]
name = "ntp"
from = "all"
to = ["10.0.9.53", "fd00::9:53"]
service = "ntp"

[[allow]]
name = "ad"
from = "os:windows"
to = "10.0.9.0/29"
service = "ad"

[[allow]]
name = "admin-ssh"
from = ["10.255.0.0/24", "fd00:ff::/64"]
to = ["os:linux", "os:appliance"]
service = "ssh"

[[allow]]
name = "admin-rdp"
from = ["10.255.0.0/24", "fd00:ff::/64"]
to = ["os:windows", "os:windows-legacy"]
service = "rdp"
"#;

#[test]
fn an_allow_from_every_host_is_a_few_gateway_rules_not_one_per_host() {
    // One forward rule per table, zone pair, port, source-port range and family: a rule per
    // host it expands into (a gateway of 150,000 rules at 10,000 hosts) is what this guards.
    let count = |agents: usize| {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("site.toml");
        std::fs::write(&path, site(agents) + SITE_ALLOWS).expect("write site");
        let path = path.to_str().expect("utf-8 path");
        let nft = stdout_ok(&["compile", path, "--host", "fw", "--backend", "nftables"]);
        let dns = nft
            .lines()
            .filter(|l| l.contains(" accept comment \"allow:dns"))
            .count();
        (nft_rules(&nft), dns)
    };
    let (rules, dns) = count(4000);
    assert_eq!(count(200), (rules, dns));
    // DNS: TCP and UDP, three initiator source-port ranges (pre-Vista, Vista, Linux), two
    // families.
    assert_eq!(dns, 12);
    assert!(rules < 150, "{rules} forward rules");
}

#[test]
fn gateway_rule_count_does_not_grow_with_agents_and_nft_loads_it() {
    let (_small_dir, small) = site_file(200);
    let (dir, large) = site_file(4000);
    let gateway =
        |path: &str| stdout_ok(&["compile", path, "--host", "fw", "--backend", "nftables"]);
    let large_nft = gateway(&large);
    let rules = nft_rules(&large_nft);
    assert_eq!(nft_rules(&gateway(&small)), rules);
    assert!(rules < 100, "{rules} forward rules");
    // Agent addresses are in sets, none in a rule.
    assert!(large_nft.contains("10.16.15.152/29"));
    assert!(
        large_nft
            .lines()
            .filter(|l| l.contains(" accept comment "))
            .all(|l| !l.contains("10.16."))
    );
    if !system_tests_possible(&["nft", "ip"], true) {
        return;
    }
    let file = dir.path().join("fw.nft");
    std::fs::write(&file, &large_nft).expect("write rule set");
    let ns = format!("abrfw-scale-{}", std::process::id());
    let _guard = Namespaces(vec![ns.clone()]);
    sh(&["ip", "netns", "add", &ns]);
    in_ns(&ns, &["nft", "-f", file.to_str().expect("utf-8 path")]);
    // Loaded as written: the sets and every rule are there.
    let out = std::process::Command::new("ip")
        .args([
            "netns", "exec", &ns, "nft", "list", "table", "inet", "abrfw",
        ])
        .output()
        .expect("nft list");
    let listed = String::from_utf8_lossy(&out.stdout);
    assert!(listed.contains("10.16.15.152/29"));
    assert_eq!(nft_rules(&listed), rules);
}

fn compile_site(agents: usize) -> Vec<HostRules> {
    let catalog = Catalog::builtin();
    let topo =
        topology::parse("site.toml", &site(agents), &catalog).unwrap_or_else(|e| panic!("{e}"));
    compile(&catalog, &topo).expect("compile")
}

#[test]
fn management_server_windows_rules_are_the_fewest_the_limits_allow() {
    let agents = 6000;
    let (_dir, path) = site_file(agents);
    let hosts = compile_site(agents);
    let ams = hosts.iter().find(|h| h.host == "ams").expect("ams");
    // The lower bound per IR rule: one entry per run of consecutive addresses, at most 500 per
    // Windows rule.
    let entries: Vec<Vec<String>> = ams.rules.iter().map(mapping::remote_addresses).collect();
    let fewest: usize = entries.iter().map(|e| e.len().div_ceil(500).max(1)).sum();
    // Consecutive Windows agents (ten in every twenty addresses) are one entry, not the two to
    // four networks ipnet aggregates them into.
    let networks: usize = ams
        .rules
        .iter()
        .map(|r| r.peers.v4.len() + r.peers.v6.len())
        .sum();
    let total: usize = entries.iter().map(Vec::len).sum();
    assert!(
        total * 3 < networks * 2,
        "{total} entries for {networks} networks"
    );

    let ps = stdout_ok(&["compile", &path, "--host", "ams", "--backend", "powershell"]);
    let ps_rules = ps.matches("New-NetFirewallRule -Name").count();
    assert_eq!(ps_rules, fewest);

    let cmd = stdout_ok(&["compile", &path, "--host", "ams", "--backend", "netsh"]);
    let lines: Vec<&str> = cmd
        .lines()
        .filter(|l| l.starts_with("netsh advfirewall firewall add rule "))
        .collect();
    assert!(lines.len() >= fewest);
    for line in &lines {
        assert!(line.len() <= abrfw_windows::netsh::MAX_LINE);
        let remote = line
            .split(" remoteip=")
            .nth(1)
            .and_then(|r| r.split(' ').next())
            .expect("remoteip");
        assert!(remote.len() <= MAX_REMOTE_CHARS);
    }
    // netsh needs more rules only where a list would break the command-line budget: per IR
    // rule, no more than the character lower bound or the entry lower bound.
    let netsh_bound: usize = entries
        .iter()
        .map(|e| {
            let chars = e.iter().map(|a| a.len() + 1).sum::<usize>();
            // A chunk can end up to one entry (at most 40 characters) short of the budget.
            chars
                .div_ceil(MAX_REMOTE_CHARS - 40)
                .max(e.len().div_ceil(500))
                .max(1)
        })
        .sum();
    assert!(
        lines.len() <= netsh_bound,
        "{} > {netsh_bound}",
        lines.len()
    );
}

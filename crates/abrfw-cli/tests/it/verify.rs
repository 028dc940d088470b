//! `abrfw verify` against states the real tools print: the compiled rules are loaded into a
//! network namespace, dumped with the backend's collection command, and verified; then one
//! rule is deleted (exit 1, naming its flow id as missing) and a foreign rule is added to
//! abrfw's table (exit 1, naming it as extra). Unreadable live files exit 2 with a location.

use std::path::Path;
use std::process::Command;

use crate::ns::{Namespaces, sh};
use crate::support::{abrfw, fixture, system_tests_possible};

/// Runs `script` with `sh -ec` inside namespace `ns`, returns stdout.
fn ns_sh(ns: &str, script: &str) -> String {
    let out = Command::new("ip")
        .args(["netns", "exec", ns, "sh", "-ec", script])
        .output()
        .expect("sh");
    assert!(
        out.status.success(),
        "{script} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `abrfw verify --example --host HOST --live FILE`: exit code and stdout.
fn verify(host: &str, live: &Path, extra: &[&str]) -> (i32, String, String) {
    let mut args = vec![
        "verify",
        "--example",
        "--host",
        host,
        "--live",
        live.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let out = abrfw(&args);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn nftables_live_state_matches_then_names_a_deleted_and_a_foreign_rule() {
    if !system_tests_possible(&["ip", "nft"], true) {
        return;
    }
    let ns = format!("abrfwvf{}n", std::process::id() % 100_000);
    let _guard = Namespaces(vec![ns.clone()]);
    sh(&["ip", "netns", "add", &ns]);
    let work = tempfile::tempdir().unwrap();
    let rules = fixture("expected/example/linux-agent/nftables.nft");
    ns_sh(&ns, &format!("nft -f {}", rules.display()));
    let live = work.path().join("nftables.live.json");
    let dump = |path: &Path| {
        std::fs::write(path, ns_sh(&ns, "nft -j list table inet abrfw")).unwrap();
    };
    dump(&live);
    let (code, stdout, stderr) = verify("linux-agent", &live, &[]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.contains("host linux-agent (nftables): matches"),
        "{stdout}"
    );

    // Delete the IPv4 console-agent rule by its handle.
    let listing = ns_sh(&ns, "nft -a list chain inet abrfw abrfw_in");
    let line = listing
        .lines()
        .find(|l| l.contains("ip saddr") && l.contains("console-agent:"))
        .expect("console-agent rule");
    let handle = line.rsplit("handle ").next().unwrap().trim();
    ns_sh(
        &ns,
        &format!("nft delete rule inet abrfw abrfw_in handle {handle}"),
    );
    dump(&live);
    let (code, stdout, _) = verify("linux-agent", &live, &[]);
    assert_eq!(code, 1, "{stdout}");
    assert!(
        stdout.contains(
            "- missing inbound tcp 9876 from 192.0.2.11 sport 49152-65535 (ipv4)  [console-agent]"
        ),
        "{stdout}"
    );
    assert!(stdout.contains("1 difference(s)"), "{stdout}");

    // A foreign rule in abrfw's own input chain, and one in abrfw_out with a flow-like comment.
    ns_sh(
        &ns,
        "nft add rule inet abrfw input tcp dport 80 accept\n\
         nft add rule inet abrfw abrfw_out ip daddr 10.9.9.9 tcp dport 8080 ct state new accept comment '\"agent-ms: not ours\"'",
    );
    dump(&live);
    let (code, stdout, _) = verify("linux-agent", &live, &["--format", "json"]);
    assert_eq!(code, 1, "{stdout}");
    let doc: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let report = &doc["hosts"][0]["report"];
    assert_eq!(doc["hosts"][0]["status"], "differ");
    assert_eq!(report["missing"][0]["flow"], "console-agent");
    assert_eq!(report["extra_other"][0]["place"], "input");
    assert_eq!(report["extra_other"][0]["text"], "tcp dport 80 accept");
    assert_eq!(report["extra"][0]["peers"][0], "10.9.9.9");
    assert_eq!(report["extra"][0]["flow"], "agent-ms");

    // A changed peer list: the console's set gets a second address.
    ns_sh(
        &ns,
        "nft add element inet abrfw abrfw_peers004_v6 { 2001:db8::99 }",
    );
    dump(&live);
    let (code, stdout, _) = verify("linux-agent", &live, &[]);
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.contains("~ changed [console-agent]"), "{stdout}");
    assert!(stdout.contains("2001:db8::99"), "{stdout}");

    // The whole site from a tree: linux-agent differs, the other Linux hosts were not
    // collected, Windows hosts need their export.
    let tree = work.path().join("states");
    std::fs::create_dir_all(tree.join("linux-agent")).unwrap();
    std::fs::copy(&live, tree.join("linux-agent/nftables.live.json")).unwrap();
    let out = abrfw(&["verify", "--example", "--tree", tree.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("host linux-agent (nftables): "), "{stdout}");
    assert!(
        stdout.contains("host nas (nftables): no live state in"),
        "{stdout}"
    );
}

#[test]
fn unreadable_live_files_exit_2_with_a_location_and_a_hint() {
    let work = tempfile::tempdir().unwrap();
    let live = work.path().join("live.json");
    std::fs::write(&live, "{\"nftables\": [\n  {\"table\": }\n]}\n").unwrap();
    let (code, stdout, stderr) = verify("linux-agent", &live, &["--backend", "nftables"]);
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert!(stdout.is_empty());
    assert!(stderr.contains("live.json:2:"), "{stderr}");
    assert!(stderr.contains("help: give the JSON"), "{stderr}");
    std::fs::write(&live, "table inet abrfw {\n}\n").unwrap();
    let (code, _, stderr) = verify("linux-agent", &live, &["--backend", "nftables"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("this is nft's text output"), "{stderr}");
    let (code, _, stderr) = verify("linux-agnet", &live, &[]);
    assert_eq!(code, 2);
    assert!(stderr.contains("did you mean \"linux-agent\"?"), "{stderr}");
}

/// The NAS of a site whose peer lists are long enough for ipsets in both families.
fn ipset_site(agents: usize) -> String {
    let mut s = String::from(
        "release = \"abr-11.5\"\n[options]\nphases = [\"operate\"]\npolicy = \"drop\"\n\n\
         [[host]]\nname = \"nas\"\nos = \"linux\"\naddresses = [\"192.0.2.5\", \"2001:db8:0:1::5\"]\nroles = [\"vault-smb\", \"vault-nfs\"]\n\n\
         [[allow]]\nname = \"admin-ssh\"\nfrom = \"192.0.2.20/32\"\nto = \"nas\"\nport = 22\n",
    );
    for i in 0..agents {
        let n = 20 + 2 * i;
        s.push_str(&format!(
            "\n[[host]]\nname = \"agent{i}\"\nos = \"linux\"\naddresses = [\"192.0.2.{n}\", \"2001:db8:0:1::{n:x}\"]\nroles = [\"agent\"]\n"
        ));
    }
    s
}

#[test]
fn iptables_live_state_with_ipsets_matches_then_names_a_deleted_and_a_foreign_rule() {
    if !system_tests_possible(
        &["ip", "iptables-restore", "ip6tables-restore", "ipset"],
        true,
    ) {
        return;
    }
    let ns = format!("abrfwvf{}i", std::process::id() % 100_000);
    let _guard = Namespaces(vec![ns.clone()]);
    sh(&["ip", "netns", "add", &ns]);
    let work = tempfile::tempdir().unwrap();
    let site = work.path().join("site.toml");
    std::fs::write(&site, ipset_site(12)).unwrap();
    let tree = work.path().join("out");
    crate::support::stdout_ok(&[
        "compile",
        site.to_str().unwrap(),
        "--out-dir",
        tree.to_str().unwrap(),
    ]);
    let dir = tree.join("nas");
    assert!(
        dir.join("ipset.rules").exists(),
        "the site must need ipsets"
    );
    ns_sh(
        &ns,
        &format!(
            "cd {}\nipset restore -! < ipset.rules\niptables-restore < iptables.rules\nip6tables-restore < ip6tables.rules",
            dir.display()
        ),
    );
    let states = work.path().join("states");
    std::fs::create_dir_all(states.join("nas")).unwrap();
    let live = states.join("nas/iptables.live");
    let dump = || {
        let text = ns_sh(&ns, "iptables-save; ip6tables-save; ipset save");
        std::fs::write(&live, text).unwrap();
    };
    let run = |extra: &[&str]| {
        let mut args = vec![
            "verify",
            site.to_str().unwrap(),
            "--host",
            "nas",
            "--live",
            live.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        let out = abrfw(&args);
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    dump();
    let (code, stdout) = run(&[]);
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.contains("host nas (iptables): matches"), "{stdout}");
    // --tree finds the same file by name.
    let out = abrfw(&[
        "verify",
        site.to_str().unwrap(),
        "--tree",
        states.to_str().unwrap(),
        "--backend",
        "iptables",
    ]);
    let tree_out = String::from_utf8_lossy(&out.stdout);
    assert!(
        tree_out.contains("host nas (iptables): matches"),
        "{tree_out}"
    );

    // Delete the admin SSH rule, add a foreign rule to INPUT, drop one agent from a set.
    let save = ns_sh(&ns, "iptables-save");
    let ssh = save
        .lines()
        .find(|l| l.contains("allow:admin-ssh:"))
        .expect("admin-ssh rule");
    let set = save
        .lines()
        .find_map(|l| {
            l.split_whitespace()
                .skip_while(|w| *w != "--match-set")
                .nth(1)
        })
        .expect("a rule matching an ipset")
        .to_owned();
    let member = ns_sh(
        &ns,
        &format!("ipset list {set} | sed -n '/^Members:/{{n;p;q}}'"),
    );
    ns_sh(
        &ns,
        &format!(
            "iptables {}\niptables -I INPUT 1 -p tcp --dport 8080 -j ACCEPT\nipset del {set} {}",
            ssh.replacen("-A ", "-D ", 1),
            member.trim()
        ),
    );
    dump();
    let (code, stdout) = run(&[]);
    assert_eq!(code, 1, "{stdout}");
    assert!(
        stdout.contains(
            "- missing inbound tcp 22 from 192.0.2.20 sport any (ipv4)  [allow:admin-ssh]"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "+ extra   in INPUT (ipv4): -p tcp -m tcp --dport 8080 -j ACCEPT  [not abrfw's]"
        ),
        "{stdout}"
    );
    assert!(stdout.contains("~ changed ["), "{stdout}");
    // The set serves two rules (SMB and NFS): both changed.
    assert!(stdout.contains("4 difference(s)"), "{stdout}");
}

/// `firewall.ps1 -Export` of the example's win-agent, as the template's export code prints it
/// for the golden script's rules (PowerShell does not run here: the file is built from the
/// golden, IPv4 networks with the masks Get-NetFirewallAddressFilter prints).
#[test]
fn windows_export_matches_then_names_a_removed_rule_and_unreadable_json_exits_2() {
    let work = tempfile::tempdir().unwrap();
    let live = work.path().join("firewall.live.json");
    let export = std::fs::read_to_string(fixture("live/win-agent.firewall.live.json")).unwrap();
    std::fs::write(&live, &export).unwrap();
    let (code, stdout, stderr) = verify("win-agent", &live, &[]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.contains("host win-agent (powershell): matches"),
        "{stdout}"
    );

    // Windows PowerShell 5.1's `>` writes UTF-16 with a byte-order mark.
    let mut utf16 = vec![0xff, 0xfe];
    utf16.extend(export.encode_utf16().flat_map(u16::to_le_bytes));
    std::fs::write(&live, utf16).unwrap();
    let (code, stdout, stderr) = verify("win-agent", &live, &["--backend", "powershell"]);
    assert_eq!(code, 0, "{stdout}{stderr}");

    // One rule removed: both families of its flow are missing.
    let mut doc: serde_json::Value = serde_json::from_str(&export).unwrap();
    doc["rules"]
        .as_array_mut()
        .unwrap()
        .retain(|r| r["Name"] != "abrfw:win-agent:in:console-agent:1");
    std::fs::write(&live, serde_json::to_string(&doc).unwrap()).unwrap();
    let (code, stdout, stderr) = verify("win-agent", &live, &[]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(
        stdout.contains("host win-agent (powershell): 2 difference(s)"),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "- missing inbound tcp 9876 from 192.0.2.11 sport 49152-65535 (ipv4)  [console-agent]"
        ),
        "{stdout}"
    );

    std::fs::write(
        &live,
        "{\"abrfw_export\": 1,\n \"rules\": [ {\"Name\": ]}\n",
    )
    .unwrap();
    let (code, stdout, stderr) = verify("win-agent", &live, &[]);
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert!(stdout.is_empty());
    assert!(
        stderr.contains("firewall.live.json:2:22: powershell live state: not JSON"),
        "{stderr}"
    );
    assert!(
        stderr.contains("help: give the JSON that `firewall.ps1 -Export` prints"),
        "{stderr}"
    );

    // --tree: DIR/<host>/firewall.live.json; the XP host is skipped with the reason.
    let tree = work.path().join("states");
    std::fs::create_dir_all(tree.join("win-agent")).unwrap();
    std::fs::write(tree.join("win-agent/firewall.live.json"), &export).unwrap();
    let out = abrfw(&["verify", "--example", "--tree", tree.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("host win-agent (powershell): matches"),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "skipped xp-agent: no live state abrfw can read for windows-legacy hosts: \"netsh firewall\""
        ),
        "{stdout}"
    );

    // An XP host has no export: verify says why.
    let (code, _, stderr) = verify("xp-agent", &live, &[]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains(
            "cannot read the live state of windows-legacy hosts (host xp-agent): \"netsh firewall\""
        ),
        "{stderr}"
    );
}

/// pf does not run on Linux: the anchor of the FreeBSD host nas as pfctl prints it, written by
/// hand (fixtures/live/pf-nas.live, from fixtures/expected/pf/nas/pf.conf). It matches; without
/// one rule it differs, naming the rule's flow id; a service name where verify needs a port
/// number (pfctl without -P) exits 2 at the word, with the collection command as the fix.
#[test]
fn pf_live_state_matches_then_names_a_removed_rule() {
    let work = tempfile::tempdir().unwrap();
    let site = fixture("topologies/pf.toml");
    let golden = std::fs::read_to_string(fixture("live/pf-nas.live")).unwrap();
    let states = work.path().join("states");
    std::fs::create_dir_all(states.join("nas")).unwrap();
    let live = states.join("nas/pf.live");
    let run = |extra: &[&str]| {
        let mut args = vec![
            "verify",
            site.to_str().unwrap(),
            "--host",
            "nas",
            "--live",
            live.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        let out = abrfw(&args);
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    std::fs::write(&live, &golden).unwrap();
    let (code, stdout, stderr) = run(&[]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("host nas (pf): matches"), "{stdout}");
    let (code, stdout, _) = run(&["--backend", "pf", "--format", "json"]);
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.contains("\"status\": \"match\""), "{stdout}");
    let out = abrfw(&[
        "verify",
        site.to_str().unwrap(),
        "--tree",
        states.to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("host nas (pf): matches"), "{stdout}");

    let removed: String = golden
        .lines()
        .filter(|l| !(l.contains(" inet proto tcp ") && l.contains("\"agent-vault-smb\"")))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&live, removed).unwrap();
    let (code, stdout, stderr) = run(&[]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(
        stdout.contains(
            "- missing inbound tcp 445 from 198.51.100.0/25 sport 32768-61000 (ipv4)  [agent-vault-smb]"
        ),
        "{stdout}"
    );

    std::fs::write(
        &live,
        "table <abrfw_peers001> { 198.51.100.0/25 }\n\
         pass in quick inet proto tcp from <abrfw_peers001> to 203.0.113.45 port = microsoft-ds flags S/SA keep state\n",
    )
    .unwrap();
    let (code, stdout, stderr) = run(&[]);
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert!(stdout.is_empty(), "{stdout}");
    assert!(stderr.contains("pf.live:2:75: pf live state"), "{stderr}");
    assert!(stderr.contains("service name"), "{stderr}");
    assert!(
        stderr.contains("help: give the output of the pf collection command"),
        "{stderr}"
    );
    std::fs::remove_file(&live).unwrap();
    let (code, _, stderr) = run(&[]);
    assert_eq!(code, 2);
    assert!(stderr.contains("pf.live"), "{stderr}");
}

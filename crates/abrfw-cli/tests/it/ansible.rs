//! `abrfw inventory` and the playbook in contrib/ansible, run for real: ansible-core (installed by
//! .ci/run from PyPI) applies the example site's Linux rule sets to network namespaces standing in
//! for the hosts (local connection, every firewall command wrapped in `ip netns exec NS`), then
//! the test checks the rules are loaded and that a second run changes nothing.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use crate::ns::{Namespaces, sh};
use crate::support::{fixture, root, stdout_ok, system_tests_possible};

/// `abrfw inventory SITE --tree DIR` run in directory `cwd` (so DIR may be relative to it).
fn inventory_in(cwd: &Path, site: &[&str], tree: &str) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_abrfw"))
        .arg("inventory")
        .args(site)
        .args(["--tree", tree])
        .current_dir(cwd)
        .output()
        .expect("run abrfw")
}

#[test]
fn inventory_groups_hosts_by_the_file_they_load() {
    let work = tempfile::tempdir().unwrap();
    std::fs::create_dir(work.path().join("out")).unwrap();
    let run = inventory_in(work.path(), &["--example"], "out");
    assert!(run.status.success(), "{run:?}");
    let inv: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    let all = &inv["all"];
    // Absolute (Ansible would resolve "out" against the playbook's directory).
    assert_eq!(
        all["vars"]["abrfw_tree"],
        work.path()
            .join("out")
            .canonicalize()
            .unwrap()
            .to_str()
            .unwrap()
    );
    let groups = &all["children"]["abrfw"]["children"];
    let linux: Vec<&String> = groups["abrfw_linux"]["hosts"]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    assert_eq!(linux, ["helpdesk", "linux-agent", "nas", "vmware-va"]);
    let nas = &groups["abrfw_linux"]["hosts"]["nas"];
    assert_eq!(nas["ansible_host"], "192.0.2.45");
    assert_eq!(nas["abrfw_host"], "nas");
    assert_eq!(nas["abrfw_policy"], "drop");
    assert!(groups["abrfw_windows"]["hosts"]["xp-agent"].is_object());
    // Peers without `os` (vcenter, esxi) get no entry.
    assert!(!inv.to_string().contains("vcenter"));

    // A host standing for a network cannot be connected to: it is listed apart, with no address.
    let zones: serde_json::Value = serde_json::from_str(&stdout_ok(&[
        "inventory",
        fixture("topologies/zones.toml").to_str().unwrap(),
    ]))
    .unwrap();
    let networks = &zones["all"]["children"]["abrfw_networks"]["hosts"];
    assert_eq!(networks["office-linux"]["abrfw_host"], "office-linux");
    assert!(networks["office-linux"].get("ansible_host").is_none());
    let gateway =
        &zones["all"]["children"]["abrfw"]["children"]["abrfw_linux"]["hosts"]["fw-linux"];
    assert_eq!(gateway["abrfw_kind"], "gateway");
    assert_eq!(
        zones["all"]["children"]["abrfw"]["children"]["abrfw_pf"]["hosts"]["fw-bsd"]["abrfw_os"],
        "openbsd"
    );
}

/// A tree that does not exist is an error (exit 2) naming it, not a path recorded for the
/// playbook to fail on later.
#[test]
fn inventory_refuses_a_tree_that_does_not_exist() {
    let work = tempfile::tempdir().unwrap();
    let run = inventory_in(work.path(), &["--example"], "abrfw-out");
    assert_eq!(run.status.code(), Some(2), "{run:?}");
    assert!(run.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        stderr.contains("--tree abrfw-out: ")
            && stderr.contains("run abrfw compile SITE --out-dir abrfw-out first"),
        "{stderr}"
    );
    std::fs::write(work.path().join("file"), "").unwrap();
    let run = inventory_in(work.path(), &["--example"], "file");
    assert_eq!(run.status.code(), Some(2), "{run:?}");
    assert!(
        String::from_utf8_lossy(&run.stderr).contains("--tree file: not a directory"),
        "{run:?}"
    );
}

/// `host : ok=5 changed=2 ...` lines of the play recap, by host.
fn recap(stdout: &str) -> BTreeMap<String, (u32, u32, u32)> {
    let mut hosts = BTreeMap::new();
    let Some(start) = stdout.find("PLAY RECAP") else {
        return hosts;
    };
    for line in stdout[start..].lines().skip(1) {
        let Some((host, counts)) = line.split_once(" : ") else {
            continue;
        };
        let count = |key: &str| -> u32 {
            counts
                .split_whitespace()
                .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('=')?.parse().ok())
                .unwrap_or(u32::MAX)
        };
        hosts.insert(
            host.trim().to_owned(),
            (count("changed"), count("failed"), count("unreachable")),
        );
    }
    hosts
}

fn playbook(work: &Path, inventories: &[&Path]) -> String {
    playbook_with(work, inventories, &[])
}

fn playbook_with(work: &Path, inventories: &[&Path], extra: &[&str]) -> String {
    // Not the directory the inventory was written in: its paths must not depend on it.
    let cwd = work.join("elsewhere");
    std::fs::create_dir_all(&cwd).unwrap();
    let mut cmd = Command::new("ansible-playbook");
    cmd.current_dir(&cwd).args(extra);
    for inv in inventories {
        cmd.arg("-i").arg(inv);
    }
    let out = cmd
        .arg(root().join("contrib/ansible/abrfw.yml"))
        .env("ANSIBLE_HOME", work.join("ansible-home"))
        .env("ANSIBLE_LOCAL_TEMP", work.join("ansible-tmp"))
        .env("ANSIBLE_NOCOLOR", "1")
        .env("ANSIBLE_RETRY_FILES_ENABLED", "0")
        .env("LC_ALL", "C.UTF-8")
        .output()
        .expect("run ansible-playbook");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "ansible-playbook failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[test]
fn the_playbook_applies_every_linux_host_and_a_second_run_changes_nothing() {
    if !system_tests_possible(
        &[
            "ansible-playbook",
            "ip",
            "nft",
            "iptables-restore",
            "ip6tables-restore",
        ],
        true,
    ) {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let tree = work.path().join("tree");
    stdout_ok(&["compile", "--example", "--out-dir", tree.to_str().unwrap()]);
    // Written with the tree relative to the current directory, as the README does; the
    // playbook runs from another directory (playbook_with) and still finds it.
    let inventory = work.path().join("inventory.json");
    let run = inventory_in(work.path(), &["--example"], "tree");
    assert!(run.status.success(), "{run:?}");
    std::fs::write(&inventory, &run.stdout).unwrap();

    // Each Linux host of the example is a namespace; two load nftables, two iptables.
    let hosts = [
        ("helpdesk", "nftables"),
        ("linux-agent", "nftables"),
        ("nas", "iptables"),
        ("vmware-va", "iptables"),
    ];
    let pid = std::process::id();
    let names: Vec<String> = (0..hosts.len())
        .map(|i| format!("abrfw-ans{pid}-{i}"))
        .collect();
    let _guard = Namespaces(names.clone());
    let mut host_vars = serde_json::Map::new();
    for ((host, backend), ns) in hosts.iter().zip(&names) {
        sh(&["ip", "netns", "add", ns]);
        host_vars.insert(
            (*host).to_owned(),
            serde_json::json!({
                "ansible_connection": "local",
                "ansible_python_interpreter": "{{ ansible_playbook_python }}",
                "abrfw_exec": ["ip", "netns", "exec", ns],
                "abrfw_dest": work.path().join("dest").join(host),
                "abrfw_linux_backend": backend,
            }),
        );
    }
    // A second inventory source puts the test's connection settings over the generated one.
    let local = work.path().join("local.json");
    std::fs::write(
        &local,
        serde_json::json!({ "all": { "hosts": host_vars } }).to_string(),
    )
    .unwrap();

    let first = playbook(work.path(), &[&inventory, &local]);
    let counts = recap(&first);
    for (host, _) in &hosts {
        let (changed, failed, unreachable) = counts[*host];
        assert!(
            changed > 0,
            "{host}: nothing changed on the first run:\n{first}"
        );
        assert_eq!((failed, unreachable), (0, 0), "{host}:\n{first}");
    }
    for ((host, backend), ns) in hosts.iter().zip(&names) {
        let (args, expect): (Vec<&str>, &str) = match *backend {
            "nftables" => (vec!["nft", "list", "ruleset"], "table inet abrfw"),
            _ => (vec!["iptables-save"], "-A INPUT -j ABRFW-IN"),
        };
        let mut cmd = vec!["ip", "netns", "exec", ns];
        cmd.extend(args);
        let out = Command::new(cmd[0]).args(&cmd[1..]).output().unwrap();
        let listing = String::from_utf8_lossy(&out.stdout);
        assert!(listing.contains(expect), "{host}: not loaded:\n{listing}");
        // Every flow of the host's rules.json is in the loaded rules (comments name the flow).
        let rules: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(tree.join(host).join("rules.json")).unwrap(),
        )
        .unwrap();
        for rule in rules["rules"].as_array().unwrap() {
            let flow = rule["flow"].as_str().unwrap();
            assert!(
                listing.contains(&format!("{flow}: ")),
                "{host}: {flow} not loaded:\n{listing}"
            );
        }
        let installed = work.path().join("dest").join(host);
        let file = if *backend == "nftables" {
            "nftables.nft"
        } else {
            "iptables.rules"
        };
        assert_eq!(
            std::fs::read(installed.join(file)).unwrap(),
            std::fs::read(tree.join(host).join(file)).unwrap()
        );
    }

    let second = playbook(work.path(), &[&inventory, &local]);
    let counts = recap(&second);
    for (host, _) in &hosts {
        assert_eq!(
            counts[*host],
            (0, 0, 0),
            "{host}: the second run changed something:\n{second}"
        );
    }

    // Rules flushed behind Ansible's back are loaded again although no file changed.
    sh(&["ip", "netns", "exec", &names[0], "nft", "flush", "ruleset"]);
    let third = playbook(work.path(), &[&inventory, &local]);
    assert_eq!(recap(&third)["helpdesk"].0, 1, "{third}");
    assert_eq!(recap(&third)["linux-agent"].0, 0, "{third}");
}

/// Hosts whose site chose firewalld or ufw get that script installed (after `sh -n`) and run,
/// once: the firewall command is recorded by a wrapper instead of run (firewalld and ufw load
/// for real in `netns.rs`), so the test checks which file the playbook picks, not the tool.
#[test]
fn the_playbook_runs_the_chosen_firewalld_or_ufw_script_once() {
    if !system_tests_possible(&["ansible-playbook"], false) {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let tree = work.path().join("tree");
    let site = fixture("topologies/backend-choice.toml");
    let site = site.to_str().unwrap();
    stdout_ok(&["compile", site, "--out-dir", tree.to_str().unwrap()]);
    let inventory = work.path().join("inventory.json");
    std::fs::write(
        &inventory,
        stdout_ok(&["inventory", site, "--tree", tree.to_str().unwrap()]),
    )
    .unwrap();
    let log = work.path().join("commands.log");
    let mut host_vars = serde_json::Map::new();
    for host in ["rhel-agent", "ubuntu-agent"] {
        host_vars.insert(
            host.to_owned(),
            serde_json::json!({
                "ansible_connection": "local",
                "ansible_python_interpreter": "{{ ansible_playbook_python }}",
                "abrfw_exec": ["sh", "-c", format!("echo \"$*\" >> {}", log.display()), "record"],
                "abrfw_dest": work.path().join("dest").join(host),
            }),
        );
    }
    let local = work.path().join("local.json");
    std::fs::write(
        &local,
        serde_json::json!({ "all": { "hosts": host_vars } }).to_string(),
    )
    .unwrap();
    let limit = ["--limit", "rhel-agent,ubuntu-agent"];
    let first = playbook_with(work.path(), &[&inventory, &local], &limit);
    for (host, file) in [("rhel-agent", "firewalld.sh"), ("ubuntu-agent", "ufw.sh")] {
        let installed = work.path().join("dest").join(host).join(file);
        assert_eq!(
            std::fs::read(&installed).unwrap(),
            std::fs::read(tree.join(host).join(file)).unwrap(),
            "{host}:\n{first}"
        );
        let (_, failed, unreachable) = recap(&first)[host];
        assert_eq!((failed, unreachable), (0, 0), "{host}:\n{first}");
    }
    let ran = std::fs::read_to_string(&log).unwrap();
    let mut lines: Vec<&str> = ran.lines().collect();
    lines.sort_unstable();
    let dest = work.path().join("dest");
    assert_eq!(
        lines,
        [
            format!("sh {}", dest.join("rhel-agent/firewalld.sh").display()),
            format!("sh {}", dest.join("ubuntu-agent/ufw.sh").display()),
        ]
    );
    // Nothing changed: nothing is installed or run again.
    let second = playbook_with(work.path(), &[&inventory, &local], &limit);
    for host in ["rhel-agent", "ubuntu-agent"] {
        assert_eq!(recap(&second)[host], (0, 0, 0), "{host}:\n{second}");
    }
    assert_eq!(std::fs::read_to_string(&log).unwrap(), ran);
}

/// The reboot case (issue 19): a host whose iptables rules match peers through ipsets comes back
/// with no sets and no rules while the installed files are unchanged. The play must load
/// ipset.rules again before iptables-restore (it skipped the sets because the file had not
/// changed, and `iptables-restore` failed with "Set ... doesn't exist").
#[test]
fn the_playbook_reloads_ipsets_and_rules_after_a_reboot() {
    if !system_tests_possible(
        &[
            "ansible-playbook",
            "ip",
            "ipset",
            "iptables-restore",
            "ip6tables-restore",
        ],
        true,
    ) {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    // The agents are peers (no `os`): only the NAS gets rules, and its peer lists need ipsets.
    let mut site = String::from(
        "[[host]]\nname = \"nas\"\nos = \"linux\"\naddresses = [\"192.0.2.5\", \"2001:db8:0:1::5\"]\nroles = [\"vault-smb\"]\n\n\
         [[allow]]\nname = \"admin-ssh\"\nfrom = \"192.0.2.200/32\"\nto = \"nas\"\nport = 22\n",
    );
    for i in 0..12 {
        let n = 20 + 2 * i;
        site.push_str(&format!(
            "\n[[host]]\nname = \"agent{i}\"\naddresses = [\"192.0.2.{n}\", \"2001:db8:0:1::{n:x}\"]\nroles = [\"agent\"]\n"
        ));
    }
    let site_file = work.path().join("site.toml");
    std::fs::write(&site_file, site).unwrap();
    let tree = work.path().join("tree");
    stdout_ok(&[
        "compile",
        site_file.to_str().unwrap(),
        "--out-dir",
        tree.to_str().unwrap(),
    ]);
    assert!(
        tree.join("nas/ipset.rules").exists(),
        "the NAS needs ipsets"
    );
    let inventory = work.path().join("inventory.json");
    std::fs::write(
        &inventory,
        stdout_ok(&[
            "inventory",
            site_file.to_str().unwrap(),
            "--tree",
            tree.to_str().unwrap(),
        ]),
    )
    .unwrap();
    let ns = format!("abrfw-ansreboot{}", std::process::id());
    let mut guard = Namespaces(vec![ns.clone()]);
    sh(&["ip", "netns", "add", &ns]);
    let local = work.path().join("local.json");
    std::fs::write(
        &local,
        serde_json::json!({ "all": { "hosts": { "nas": {
            "ansible_connection": "local",
            "ansible_python_interpreter": "{{ ansible_playbook_python }}",
            "abrfw_exec": ["ip", "netns", "exec", ns],
            "abrfw_dest": work.path().join("dest"),
            "abrfw_linux_backend": "iptables",
        }}}})
        .to_string(),
    )
    .unwrap();
    let loaded = |ns: &str| {
        let out = Command::new("ip")
            .args(["netns", "exec", ns, "iptables-save"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };

    let first = playbook_with(work.path(), &[&inventory, &local], &["--limit", "nas"]);
    assert_eq!(recap(&first)["nas"].1, 0, "{first}");
    assert!(
        loaded(&ns).contains("--match-set abrfw_"),
        "{}",
        loaded(&ns)
    );

    // The reboot: a fresh namespace has no sets and no rules; the installed files stay.
    drop(guard);
    sh(&["ip", "netns", "add", &ns]);
    guard = Namespaces(vec![ns.clone()]);
    assert!(!loaded(&ns).contains("ABRFW-IN"));
    let after = playbook_with(work.path(), &[&inventory, &local], &["--limit", "nas"]);
    let (changed, failed, _) = recap(&after)["nas"];
    assert_eq!(failed, 0, "{after}");
    assert!(changed >= 2, "sets and rules loaded again:\n{after}");
    let listing = loaded(&ns);
    assert!(listing.contains("-A INPUT -j ABRFW-IN"), "{listing}");
    assert!(listing.contains("--match-set abrfw_"), "{listing}");
    // And a run after that changes nothing.
    let again = playbook_with(work.path(), &[&inventory, &local], &["--limit", "nas"]);
    assert_eq!(recap(&again)["nas"], (0, 0, 0), "{again}");
    drop(guard);
}

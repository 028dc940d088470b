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
    let (ok, stdout, stderr) = run_playbook(work, inventories, extra);
    assert!(ok, "ansible-playbook failed:\n{stdout}\n{stderr}");
    stdout
}

/// Runs contrib/ansible/abrfw.yml: (success, stdout, stderr).
fn run_playbook(work: &Path, inventories: &[&Path], extra: &[&str]) -> (bool, String, String) {
    run_play(work, "abrfw.yml", inventories, extra, &[])
}

/// Runs contrib/ansible/PLAYBOOK with environment `env` added: (success, stdout, stderr).
fn run_play(
    work: &Path,
    playbook: &str,
    inventories: &[&Path],
    extra: &[&str],
    env: &[(&str, &Path)],
) -> (bool, String, String) {
    // Not the directory the inventory was written in: its paths must not depend on it.
    let cwd = work.join("elsewhere");
    std::fs::create_dir_all(&cwd).unwrap();
    let mut cmd = Command::new("ansible-playbook");
    cmd.current_dir(&cwd).args(extra);
    for inv in inventories {
        cmd.arg("-i").arg(inv);
    }
    let out = cmd
        .arg(root().join("contrib/ansible").join(playbook))
        .envs(env.iter().copied())
        .env("ANSIBLE_HOME", work.join("ansible-home"))
        .env("ANSIBLE_LOCAL_TEMP", work.join("ansible-tmp"))
        .env("ANSIBLE_NOCOLOR", "1")
        .env("ANSIBLE_RETRY_FILES_ENABLED", "0")
        .env("LC_ALL", "C.UTF-8")
        .output()
        .expect("run ansible-playbook");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
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
                "abrfw_state_dir": work.path().join("state").join(host),
                "abrfw_unit_dir": work.path().join("units").join(host),
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

    // Applied through apply.sh: confirmed (no rollback pending), persisted into the test's unit
    // directory with the boot copy of the installed files.
    for (host, backend) in &hosts {
        let state = work.path().join("state").join(host);
        let status = std::fs::read_to_string(state.join("status")).unwrap();
        assert!(status.starts_with("confirmed "), "{host}: {status}");
        assert!(
            !state.join("pending").exists(),
            "{host}: a rollback is pending"
        );
        assert_eq!(
            std::fs::read_to_string(state.join("persisted")).unwrap(),
            format!("{backend}\n")
        );
        let unit =
            std::fs::read_to_string(work.path().join("units").join(host).join("abrfw.service"))
                .unwrap();
        assert!(
            unit.contains(&format!(
                "ExecStart=/bin/sh {}/boot/apply.sh boot",
                state.display()
            )),
            "{unit}"
        );
        let file = if *backend == "nftables" {
            "nftables.nft"
        } else {
            "iptables.rules"
        };
        assert_eq!(
            std::fs::read(state.join("boot").join(file)).unwrap(),
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

    // Rules flushed behind Ansible's back are loaded again although no file changed (apply and
    // confirm; the boot copy is still the installed files, so no persist).
    sh(&["ip", "netns", "exec", &names[0], "nft", "flush", "ruleset"]);
    let third = playbook(work.path(), &[&inventory, &local]);
    assert_eq!(recap(&third)["helpdesk"].0, 2, "{third}");
    assert_eq!(recap(&third)["linux-agent"].0, 0, "{third}");
    let out = Command::new("ip")
        .args([
            "netns", "exec", &names[0], "nft", "list", "table", "inet", "abrfw",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "helpdesk: not loaded again");
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
            "abrfw_state_dir": work.path().join("state"),
            "abrfw_unit_dir": work.path().join("units"),
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

/// What a namespace's backend holds, comparable before and after a rollback (as in
/// tests/it/rollout.rs): `nft list ruleset` as is; `iptables-save` / `ip6tables-save` without
/// their `#` lines (timestamps) and with chain counters zeroed, and `ipset save` sorted without
/// the random `initval` seed.
fn snapshot(ns: &str, backend: &str) -> String {
    let run = |args: &[&str]| -> String {
        let out = Command::new("ip")
            .args(["netns", "exec", ns])
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?}: {out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    if backend == "nftables" {
        return run(&["nft", "list", "ruleset"]);
    }
    let normal = |text: String| -> String {
        text.lines()
            .filter(|l| !l.starts_with('#'))
            .map(|l| match (l.starts_with(':'), l.rfind(" [")) {
                (true, Some(i)) => format!("{} [0:0]", &l[..i]),
                _ => l.to_owned(),
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    let mut sets: Vec<String> = run(&["ipset", "save"])
        .lines()
        .map(|l| l.split(" initval ").next().unwrap_or(l).to_owned())
        .collect();
    sets.sort();
    format!(
        "{}\n==6==\n{}\n==sets==\n{}\n",
        normal(run(&["iptables-save"])),
        normal(run(&["ip6tables-save"])),
        sets.join("\n")
    )
}

/// A lockout: the reachability check after the load fails (here a TCP port on the controller
/// that nothing listens on stands for the admin port the new rules closed), so the play does
/// not confirm, fails the host with the reason, and apply.sh's timer restores the rules the
/// host had before, exactly. A later run applies again although no file changed (the last
/// outcome was a rollback), and confirms.
#[test]
fn an_unconfirmed_apply_through_the_playbook_restores_the_previous_rules() {
    if !system_tests_possible(
        &[
            "ansible-playbook",
            "ip",
            "nft",
            "ipset",
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
    let inventory = work.path().join("inventory.json");
    let run = inventory_in(work.path(), &["--example"], "tree");
    assert!(run.status.success(), "{run:?}");
    std::fs::write(&inventory, &run.stdout).unwrap();
    let hosts = [("helpdesk", "nftables"), ("nas", "iptables")];
    let pid = std::process::id();
    let names: Vec<String> = (0..hosts.len())
        .map(|i| format!("abrfw-anslock{pid}-{i}"))
        .collect();
    let _guard = Namespaces(names.clone());
    // A closed port: bound, then released.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut host_vars = serde_json::Map::new();
    for ((host, backend), ns) in hosts.iter().zip(&names) {
        sh(&["ip", "netns", "add", ns]);
        // Rules of the host's own, and an older abrfw table, for the restore to bring back.
        let seed = if *backend == "nftables" {
            "nft -f - <<'EOF'\n\
             table inet site {\nchain input {\ntype filter hook input priority 10; policy accept;\ntcp dport 2222 accept\n}\n}\n\
             table inet abrfw {\nchain abrfw_in {\ntype filter hook input priority 0; policy accept;\ntcp dport 9 drop comment \"older abrfw\"\n}\n}\n\
             EOF"
        } else {
            "ipset create site_admins hash:net family inet\n\
             ipset add site_admins 10.1.0.0/16\n\
             iptables -A INPUT -m set --match-set site_admins src -p tcp --dport 2222 -j ACCEPT\n\
             ip6tables -A INPUT -p tcp --dport 2222 -j ACCEPT"
        };
        sh(&["ip", "netns", "exec", ns, "sh", "-ec", seed]);
        host_vars.insert(
            (*host).to_owned(),
            serde_json::json!({
                "ansible_connection": "local",
                "ansible_python_interpreter": "{{ ansible_playbook_python }}",
                "abrfw_exec": ["ip", "netns", "exec", ns],
                "abrfw_dest": work.path().join("dest").join(host),
                "abrfw_linux_backend": backend,
                "abrfw_state_dir": work.path().join("state").join(host),
                "abrfw_unit_dir": work.path().join("units").join(host),
                "abrfw_confirm_within": 10,
            }),
        );
    }
    let local = work.path().join("local.json");
    std::fs::write(
        &local,
        serde_json::json!({ "all": { "hosts": host_vars } }).to_string(),
    )
    .unwrap();
    let before: Vec<String> = hosts
        .iter()
        .zip(&names)
        .map(|((_, backend), ns)| snapshot(ns, backend))
        .collect();

    let limit = ["--limit", "helpdesk,nas"];
    let check = serde_json::json!({
        "abrfw_reachable_host": "127.0.0.1",
        "abrfw_reachable_ports": [closed],
        "abrfw_reachable_timeout": 1,
    })
    .to_string();
    let mut args = limit.to_vec();
    args.extend(["-e", &check]);
    let (ok, stdout, stderr) = run_playbook(work.path(), &[&inventory, &local], &args);
    assert!(!ok, "the play succeeded:\n{stdout}\n{stderr}");
    for ((host, backend), (ns, before)) in hosts.iter().zip(names.iter().zip(&before)) {
        let (_, failed, unreachable) = recap(&stdout)[*host];
        assert_eq!((failed, unreachable), (1, 0), "{host}:\n{stdout}");
        let state = work.path().join("state").join(host);
        let status = || std::fs::read_to_string(state.join("status")).unwrap_or_default();
        // Loaded and waiting: the play did not confirm.
        assert!(
            status().starts_with("pending ") || status().starts_with("rolled-back "),
            "{host}: {}",
            status()
        );
        for _ in 0..600 {
            if status().starts_with("rolled-back ") {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        assert!(status().starts_with("rolled-back "), "{host}: {}", status());
        assert!(!state.join("pending").exists());
        assert_eq!(&snapshot(ns, backend), before, "{host}: not restored");
        // Nothing was persisted from an unconfirmed apply.
        assert!(
            !work
                .path()
                .join("units")
                .join(host)
                .join("abrfw.service")
                .exists()
        );
    }
    assert!(
        stdout.contains("the rules were not confirmed and apply.sh restores the rules saved before the apply 10 seconds after the load"),
        "{stdout}"
    );

    // Reachable: applied again (no file changed since), confirmed and persisted.
    let again = playbook_with(work.path(), &[&inventory, &local], &limit);
    for ((host, backend), ns) in hosts.iter().zip(&names) {
        assert_eq!(recap(&again)[*host], (3, 0, 0), "{host}:\n{again}");
        let status =
            std::fs::read_to_string(work.path().join("state").join(host).join("status")).unwrap();
        assert!(status.starts_with("confirmed "), "{host}: {status}");
        let rules: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(tree.join(host).join("rules.json")).unwrap(),
        )
        .unwrap();
        let flow = rules["rules"][0]["flow"].as_str().unwrap();
        let listing = snapshot(ns, backend);
        assert!(
            listing.contains(&format!("{flow}: ")),
            "{host}: not loaded:\n{listing}"
        );
    }
}

/// abrfw-windows.yml checks the tree's manifest like abrfw.yml before any Windows module runs:
/// a host the manifest does not list fails there, naming it. No Windows machine and no
/// ansible.windows collection here, so the test gives the playbook a collection of placeholder
/// modules (`ansible.windows.win_copy` etc.) that fail when run, which only makes the playbook
/// load: the host in the manifest passes the checks and reaches the first of them, the other
/// host never does.
#[test]
fn the_windows_playbook_fails_for_a_host_missing_from_the_manifest() {
    if !system_tests_possible(&["ansible-playbook"], false) {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let tree = work.path().join("tree");
    stdout_ok(&["compile", "--example", "--out-dir", tree.to_str().unwrap()]);
    let inventory = work.path().join("inventory.json");
    let run = inventory_in(work.path(), &["--example"], "tree");
    assert!(run.status.success(), "{run:?}");
    std::fs::write(&inventory, &run.stdout).unwrap();
    let collections = work.path().join("collections");
    let modules = collections.join("ansible_collections/ansible/windows/plugins/modules");
    std::fs::create_dir_all(&modules).unwrap();
    for module in ["win_copy", "win_shell", "win_command"] {
        std::fs::write(
            modules.join(format!("{module}.py")),
            format!(
                "#!/usr/bin/python\nimport json\nprint(json.dumps({{\"failed\": True, \"msg\": \"placeholder {module} ran\"}}))\n"
            ),
        )
        .unwrap();
    }
    let connection = serde_json::json!({
        "ansible_connection": "local",
        "ansible_python_interpreter": "{{ ansible_playbook_python }}",
    });
    let mut ghost = connection.clone();
    ghost["abrfw_host"] = "ghost".into();
    let local = work.path().join("local.json");
    std::fs::write(
        &local,
        serde_json::json!({ "all": { "children": { "abrfw_windows": { "hosts": {
            "xp-agent": connection,
            "ghost": ghost,
        }}}}})
        .to_string(),
    )
    .unwrap();
    let (ok, stdout, stderr) = run_play(
        work.path(),
        "abrfw-windows.yml",
        &[&inventory, &local],
        &["--limit", "xp-agent,ghost"],
        &[("ANSIBLE_COLLECTIONS_PATH", &collections)],
    );
    assert!(!ok, "{stdout}\n{stderr}");
    let counts = recap(&stdout);
    assert_eq!(counts["ghost"], (0, 1, 0), "{stdout}");
    assert_eq!(counts["xp-agent"], (0, 1, 0), "{stdout}");
    assert!(
        stdout.contains(r#"fatal: [ghost]: FAILED! => {"assertion": "abrfw_files | length > 0""#),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "{}/abrfw.json lists no files for ghost: run abrfw compile first",
            tree.canonicalize().unwrap().display()
        )),
        "{stdout}"
    );
    assert!(stdout.contains("placeholder win_copy ran"), "{stdout}");
    assert!(!stdout.contains("[ghost] => (item="), "{stdout}");
}

/// `--check`: nothing is installed, loaded or persisted; the copies say which files would
/// change, and the live rules are compared with the site by `abrfw verify` on the controller
/// (`abrfw_site` from the inventory, `abrfw_bin` the binary under test): rules that are not
/// loaded, a deleted rule and a foreign rule are reported as changed, not failed, and a host
/// whose live rules match reports nothing.
#[test]
fn check_mode_installs_nothing_and_reports_live_drift_through_verify() {
    if !system_tests_possible(
        &[
            "ansible-playbook",
            "ip",
            "nft",
            "ipset",
            "iptables-restore",
            "ip6tables-restore",
        ],
        true,
    ) {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    std::fs::write(work.path().join("site.toml"), stdout_ok(&["example"])).unwrap();
    let tree = work.path().join("tree");
    stdout_ok(&[
        "compile",
        work.path().join("site.toml").to_str().unwrap(),
        "--out-dir",
        tree.to_str().unwrap(),
    ]);
    let inventory = work.path().join("inventory.json");
    let run = inventory_in(work.path(), &["site.toml"], "tree");
    assert!(run.status.success(), "{run:?}");
    let inv: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    assert_eq!(
        inv["all"]["vars"]["abrfw_site"],
        work.path()
            .join("site.toml")
            .canonicalize()
            .unwrap()
            .to_str()
            .unwrap()
    );
    std::fs::write(&inventory, &run.stdout).unwrap();
    let hosts = [("helpdesk", "nftables"), ("nas", "iptables")];
    let pid = std::process::id();
    let names: Vec<String> = (0..hosts.len())
        .map(|i| format!("abrfw-anscheck{pid}-{i}"))
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
                "abrfw_state_dir": work.path().join("state").join(host),
                "abrfw_unit_dir": work.path().join("units").join(host),
                "abrfw_bin": env!("CARGO_BIN_EXE_abrfw"),
            }),
        );
    }
    let local = work.path().join("local.json");
    std::fs::write(
        &local,
        serde_json::json!({ "all": { "hosts": host_vars } }).to_string(),
    )
    .unwrap();
    let check = ["--limit", "helpdesk,nas", "--check"];
    let snapshots = || -> Vec<String> {
        hosts
            .iter()
            .zip(&names)
            .map(|((_, backend), ns)| snapshot(ns, backend))
            .collect()
    };

    // Nothing applied yet: every file would change, the rules are not loaded; nothing is
    // written on the host or loaded into it.
    let empty = snapshots();
    let before = playbook_with(work.path(), &[&inventory, &local], &check);
    for (host, _) in &hosts {
        let (changed, failed, unreachable) = recap(&before)[*host];
        assert!(changed > 0, "{host}:\n{before}");
        assert_eq!((failed, unreachable), (0, 0), "{host}:\n{before}");
        assert!(!work.path().join("dest").join(host).exists(), "{host}");
        assert!(!work.path().join("state").join(host).exists(), "{host}");
        assert!(!work.path().join("units").join(host).exists(), "{host}");
    }
    assert!(
        before.contains("helpdesk: table inet abrfw is not loaded"),
        "{before}"
    );
    assert!(
        before.contains("nas: no iptables filter table is loaded"),
        "{before}"
    );
    assert_eq!(snapshots(), empty);

    // Applied: the live rules are the site's, and check mode says nothing changed.
    playbook_with(
        work.path(),
        &[&inventory, &local],
        &["--limit", "helpdesk,nas"],
    );
    let current = playbook_with(work.path(), &[&inventory, &local], &check);
    for (host, _) in &hosts {
        assert_eq!(recap(&current)[*host], (0, 0, 0), "{host}:\n{current}");
    }

    // One rule deleted from abrfw's table, a foreign rule added to abrfw's chain.
    sh(&[
        "ip",
        "netns",
        "exec",
        &names[0],
        "sh",
        "-ec",
        "h=$(nft -a list chain inet abrfw abrfw_in | sed -n 's/^[[:space:]]*ip saddr .* tcp dport 22 .*# handle \\([0-9]*\\)$/\\1/p')\n\
         [ -n \"$h\" ]\n\
         nft delete rule inet abrfw abrfw_in handle $h",
    ]);
    sh(&[
        "ip", "netns", "exec", &names[1], "iptables", "-I", "ABRFW-IN", "-p", "tcp", "--dport",
        "4444", "-j", "ACCEPT",
    ]);
    let drifted = snapshots();
    let status = |host: &str| {
        std::fs::read_to_string(work.path().join("state").join(host).join("status")).unwrap()
    };
    let statuses: Vec<String> = hosts.iter().map(|(h, _)| status(h)).collect();
    let drift = playbook_with(work.path(), &[&inventory, &local], &check);
    for (host, _) in &hosts {
        let (changed, failed, unreachable) = recap(&drift)[*host];
        assert_eq!(
            (changed, failed, unreachable),
            (1, 0, 0),
            "{host}:\n{drift}"
        );
    }
    assert!(
        drift.contains("host helpdesk (nftables): 1 difference(s)")
            && drift.contains(
                "- missing inbound tcp 22 from 198.51.100.0/24 sport any (ipv4)  [allow:admin-ssh]"
            ),
        "{drift}"
    );
    assert!(
        drift.contains("host nas (iptables): 1 difference(s)") && drift.contains("4444"),
        "{drift}"
    );
    // Nothing was loaded or applied: the drift is still there, apply.sh did not run.
    assert_eq!(snapshots(), drifted);
    let after: Vec<String> = hosts.iter().map(|(h, _)| status(h)).collect();
    assert_eq!(after, statuses);
}

/// A Linux gateway through the playbook, once per backend (two inventory hosts for the same
/// gateway, `abrfw_host: fw-core`): apply.sh loads abrfw's chains beside the gateway's own
/// rules and hooks them into FORWARD once; a second run and a check-mode run change nothing
/// (gateways are not verified yet); a FORWARD hook removed behind Ansible's back is put back.
#[test]
fn the_playbook_applies_a_gateway_beside_its_own_rules() {
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
    let site = fixture("topologies/gateway-zones.toml");
    let site = site.to_str().unwrap();
    let tree = work.path().join("tree");
    stdout_ok(&["compile", site, "--out-dir", tree.to_str().unwrap()]);
    let inventory = work.path().join("inventory.json");
    let run = inventory_in(work.path(), &[site], "tree");
    assert!(run.status.success(), "{run:?}");
    std::fs::write(&inventory, &run.stdout).unwrap();
    let pid = std::process::id();
    let hosts = [("fw-core", "iptables"), ("fw-core-nft", "nftables")];
    let names: Vec<String> = (0..hosts.len())
        .map(|i| format!("abrfw-ansgw{pid}-{i}"))
        .collect();
    let _guard = Namespaces(names.clone());
    let mut host_vars = serde_json::Map::new();
    for ((host, backend), ns) in hosts.iter().zip(&names) {
        sh(&["ip", "netns", "add", ns]);
        let seed = if *backend == "nftables" {
            "nft -f - <<'EOF'\n\
             table inet site {\nchain forward {\ntype filter hook forward priority 10; policy accept;\nip saddr 10.9.0.0/16 accept\n}\n}\n\
             EOF"
        } else {
            "iptables -A FORWARD -s 10.9.0.0/16 -j ACCEPT"
        };
        sh(&["ip", "netns", "exec", ns, "sh", "-ec", seed]);
        host_vars.insert(
            (*host).to_owned(),
            serde_json::json!({
                "ansible_connection": "local",
                "ansible_python_interpreter": "{{ ansible_playbook_python }}",
                "abrfw_host": "fw-core",
                "abrfw_kind": "gateway",
                "abrfw_policy": "drop",
                "abrfw_exec": ["ip", "netns", "exec", ns],
                "abrfw_dest": work.path().join("dest").join(host),
                "abrfw_linux_backend": backend,
                "abrfw_state_dir": work.path().join("state").join(host),
                "abrfw_unit_dir": work.path().join("units").join(host),
                "abrfw_bin": env!("CARGO_BIN_EXE_abrfw"),
            }),
        );
    }
    let local = work.path().join("local.json");
    std::fs::write(
        &local,
        serde_json::json!({ "all": { "children": { "abrfw_linux": { "hosts": host_vars } } } })
            .to_string(),
    )
    .unwrap();
    let limit = ["--limit", "fw-core,fw-core-nft"];
    let in_ns = |ns: &str, args: &[&str]| -> String {
        let out = Command::new("ip")
            .args(["netns", "exec", ns])
            .args(args)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let hooks = |ns: &str| {
        in_ns(ns, &["iptables-save"])
            .lines()
            .filter(|l| *l == "-A FORWARD -j ABRFW-GW")
            .count()
    };

    let first = playbook_with(work.path(), &[&inventory, &local], &limit);
    for (host, _) in &hosts {
        let (changed, failed, unreachable) = recap(&first)[*host];
        assert!(changed >= 3, "{host}:\n{first}");
        assert_eq!((failed, unreachable), (0, 0), "{host}:\n{first}");
        let status =
            std::fs::read_to_string(work.path().join("state").join(host).join("status")).unwrap();
        assert!(status.starts_with("confirmed "), "{host}: {status}");
    }
    let saved = in_ns(&names[0], &["iptables-save"]);
    assert_eq!(hooks(&names[0]), 1, "{saved}");
    assert!(
        saved.contains("-A FORWARD -s 10.9.0.0/16 -j ACCEPT"),
        "{saved}"
    );
    let ruleset = in_ns(&names[1], &["nft", "list", "ruleset"]);
    assert!(
        ruleset.contains("table inet abrfw") && ruleset.contains("ip saddr 10.9.0.0/16 accept"),
        "{ruleset}"
    );

    for extra in [
        &limit[..],
        &["--limit", "fw-core,fw-core-nft", "--check"][..],
    ] {
        let again = playbook_with(work.path(), &[&inventory, &local], extra);
        for (host, _) in &hosts {
            assert_eq!(
                recap(&again)[*host],
                (0, 0, 0),
                "{host} {extra:?}:\n{again}"
            );
        }
    }

    sh(&[
        "ip", "netns", "exec", &names[0], "iptables", "-D", "FORWARD", "-j", "ABRFW-GW",
    ]);
    let third = playbook_with(work.path(), &[&inventory, &local], &limit);
    assert_eq!(recap(&third)["fw-core"], (2, 0, 0), "{third}");
    assert_eq!(recap(&third)["fw-core-nft"], (0, 0, 0), "{third}");
    assert!(
        third.contains("FORWARD does not jump to ABRFW-GW (iptables)"),
        "{third}"
    );
    assert_eq!(hooks(&names[0]), 1);
}

/// A pf host (the FreeBSD NAS of pf.toml) through the same play as Linux hosts: apply.sh pf with
/// a confirm window, confirm, persist into pf.conf, a probe that sees an empty anchor. No pf
/// here: a `pfctl` stub first in PATH (through abrfw_exec) records its arguments and keeps the
/// anchor's rules in a file (`-f FILE` loads it, `-sr` prints it, `-n -f` parses, `-F all`
/// empties; once the anchor is the tree's pf.conf, `-sT`, `-T show` and `-P -sr` print it as
/// pfctl would, from fixtures/live/pf-nas.live, so the check-mode run verifies it with abrfw). First a lockout (a closed port in abrfw_reachable_ports): not
/// confirmed, and the timer puts the older anchor back byte for byte; then the apply that
/// confirms and persists, a second run and a check-mode run that change nothing (abrfw verify
/// matches), a check-mode run that reports a rule gone from what pfctl prints, and an anchor
/// flushed behind Ansible's back, reported under --check and loaded again.
#[test]
fn the_playbook_applies_a_pf_host_through_apply_sh() {
    if !system_tests_possible(&["ansible-playbook"], false) {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let tree = work.path().join("tree");
    let site = fixture("topologies/pf.toml");
    let site = site.to_str().unwrap();
    stdout_ok(&["compile", site, "--out-dir", tree.to_str().unwrap()]);
    let inventory = work.path().join("inventory.json");
    std::fs::write(
        &inventory,
        stdout_ok(&["inventory", site, "--tree", tree.to_str().unwrap()]),
    )
    .unwrap();

    let stub = work.path().join("stub");
    std::fs::create_dir(&stub).unwrap();
    let log = work.path().join("pfctl.log");
    let anchor = work.path().join("anchor.pf");
    let pfctl = stub.join("pfctl");
    let printed = work.path().join("printed.live");
    let golden = std::fs::read_to_string(fixture("live/pf-nas.live")).unwrap();
    std::fs::write(&printed, &golden).unwrap();
    std::fs::write(
        &pfctl,
        format!(
            "#!/bin/sh\n\
             echo \"$*\" >>'{log}'\n\
             case \"$*\" in\n\
             '-a abrfw -n -f '* | '-n -f '*) eval \"f=\\${{$#}}\"; [ -r \"$f\" ] ;;\n\
             '-a abrfw -f '*) cp \"$4\" '{anchor}' ;;\n\
             '-a abrfw -sr') cat '{anchor}' ;;\n\
             '-a abrfw -P -sr') if cmp -s '{anchor}' '{conf}'; then grep -v '^table ' '{printed}'; else cat '{anchor}'; fi ;;\n\
             '-a abrfw -sT') if cmp -s '{anchor}' '{conf}'; then sed -n 's/^table <\\([^>]*\\)>.*/\\1/p' '{printed}'; fi ;;\n\
             '-a abrfw -t '*' -T show') sed -n \"s/^table <$4> {{ \\(.*\\) }}$/\\1/p\" '{printed}' | tr ' ' '\\n' | sed 's/^/   /' ;;\n\
             '-a abrfw -F all') : >'{anchor}' ;;\n\
             *) echo \"pfctl stub: unexpected arguments: $*\" >&2; exit 1 ;;\n\
             esac\n",
            log = log.display(),
            anchor = anchor.display(),
            conf = tree.join("nas/pf.conf").display(),
            printed = printed.display(),
        ),
    )
    .unwrap();
    sh(&["chmod", "755", pfctl.to_str().unwrap()]);
    let older = "pass in quick proto tcp to port 9 label \"older abrfw\"\n";
    std::fs::write(&anchor, older).unwrap();
    let pf_conf = work.path().join("pf.conf");
    let own = "# the host's own rules\nset skip on lo0\npass all\n";
    std::fs::write(&pf_conf, own).unwrap();
    sh(&["chmod", "644", pf_conf.to_str().unwrap()]);

    let dest = work.path().join("dest");
    let state = work.path().join("state");
    let local = work.path().join("local.json");
    std::fs::write(
        &local,
        serde_json::json!({ "all": { "hosts": { "nas": {
            "ansible_connection": "local",
            "ansible_python_interpreter": "{{ ansible_playbook_python }}",
            "abrfw_exec": ["env", format!("PATH={}:/usr/bin:/bin", stub.display())],
            "abrfw_dest": dest,
            "abrfw_state_dir": state,
            "abrfw_pf_conf": pf_conf,
            "abrfw_confirm_within": 60,
            "abrfw_bin": env!("CARGO_BIN_EXE_abrfw"),
        } } } })
        .to_string(),
    )
    .unwrap();
    let status = || std::fs::read_to_string(state.join("status")).unwrap_or_default();
    let read = |p: &Path| std::fs::read_to_string(p).unwrap();
    let limit = ["--limit", "nas"];

    // The lockout: loaded, not confirmed, and the older anchor back after 3 seconds.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let check = serde_json::json!({
        "abrfw_reachable_host": "127.0.0.1",
        "abrfw_reachable_ports": [closed],
        "abrfw_reachable_timeout": 1,
        "abrfw_confirm_within": 3,
    })
    .to_string();
    let mut args = limit.to_vec();
    args.extend(["-e", &check]);
    let (ok, stdout, stderr) = run_playbook(work.path(), &[&inventory, &local], &args);
    assert!(!ok, "the play succeeded:\n{stdout}\n{stderr}");
    assert_eq!(recap(&stdout)["nas"].1, 1, "{stdout}");
    assert!(
        stdout.contains("the rules were not confirmed and apply.sh restores the rules saved before the apply 3 seconds after the load"),
        "{stdout}"
    );
    for _ in 0..300 {
        if status().starts_with("rolled-back ") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(status().starts_with("rolled-back pf "), "{}", status());
    assert_eq!(read(&anchor), older);
    assert_eq!(read(&pf_conf), own, "persisted although not confirmed");
    assert!(
        read(&state.join("log")).contains("applied pf, rollback in 3 s unless confirmed"),
        "{}",
        read(&state.join("log"))
    );
    assert!(
        read(&log).ends_with(&format!("-a abrfw -f {}/restore.pf\n", state.display())),
        "{}",
        read(&log)
    );

    // Reachable: applied again (the last outcome was a rollback), checked with `pfctl -n` before
    // the load, confirmed, and persisted into pf.conf.
    std::fs::write(&log, "").unwrap();
    let first = playbook_with(work.path(), &[&inventory, &local], &limit);
    assert_eq!(recap(&first)["nas"], (3, 0, 0), "{first}");
    assert!(status().starts_with("confirmed pf "), "{}", status());
    assert!(!state.join("pending").exists());
    assert!(read(&state.join("log")).contains("applied pf, rollback in 60 s unless confirmed"));
    let installed = dest.join("pf.conf");
    assert_eq!(read(&installed), read(&tree.join("nas/pf.conf")));
    assert_eq!(read(&anchor), read(&installed));
    let calls = read(&log);
    let at = |line: String| {
        calls
            .lines()
            .position(|l| l == line)
            .unwrap_or_else(|| panic!("no `pfctl {line}`:\n{calls}"))
    };
    let checked = at(format!("-a abrfw -n -f {}", installed.display()));
    let loaded = at(format!("-a abrfw -f {}/applied/pf.conf", state.display()));
    let persisted = at(format!("-n -f {}.abrfw.tmp", pf_conf.display()));
    assert!(checked < loaded && loaded < persisted, "{calls}");
    let boot_lines = format!(
        "# abrfw: begin (apply.sh persist; apply.sh unpersist removes these lines)\n\
         anchor \"abrfw\"\n\
         load anchor \"abrfw\" from \"{}/boot/pf.conf\"\n\
         # abrfw: end\n",
        state.display()
    );
    assert_eq!(read(&pf_conf), format!("{own}{boot_lines}"));
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&pf_conf).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o644, "pf.conf's mode");
    }
    assert_eq!(read(&state.join("persisted")), "pf\n");
    assert_eq!(read(&state.join("boot/pf.conf")), read(&installed));

    // Nothing to do, applied or checked.
    let second = playbook_with(work.path(), &[&inventory, &local], &limit);
    assert_eq!(recap(&second)["nas"], (0, 0, 0), "{second}");
    let mut check = limit.to_vec();
    check.push("--check");
    let checked = playbook_with(work.path(), &[&inventory, &local], &check);
    assert_eq!(recap(&checked)["nas"], (0, 0, 0), "{checked}");
    assert!(
        checked
            .split("TASK [abrfw verify (exit 1, a difference, is reported as changed)]")
            .nth(1)
            .is_some_and(|rest| rest
                .trim_start_matches([' ', '*', '\n'])
                .starts_with("ok: [nas -> localhost]")),
        "verify did not run on nas, or differed: {checked}"
    );
    assert!(
        read(&log).contains("-a abrfw -t abrfw_peers002 -T show\n-a abrfw -P -sr\n"),
        "{}",
        read(&log)
    );
    // One rule gone from what pfctl prints: --check reports the difference, naming the flow.
    let without: String = golden
        .lines()
        .filter(|l| !(l.contains(" inet proto tcp ") && l.contains("\"agent-vault-smb\"")))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&printed, without).unwrap();
    let drift = playbook_with(work.path(), &[&inventory, &local], &check);
    assert_eq!(recap(&drift)["nas"].0, 1, "{drift}");
    assert!(
        drift.contains("- missing inbound tcp 445 from 198.51.100.0/25"),
        "{drift}"
    );
    std::fs::write(&printed, &golden).unwrap();

    // Flushed behind Ansible's back: --check reports it and loads nothing; a run loads and
    // confirms again, and pf.conf keeps one anchor block (the boot copy is still these files).
    sh(&[pfctl.to_str().unwrap(), "-a", "abrfw", "-F", "all"]);
    let flushed = playbook_with(work.path(), &[&inventory, &local], &check);
    assert_eq!(recap(&flushed)["nas"].0, 1, "{flushed}");
    assert!(
        flushed.contains("nas: anchor abrfw has no rules loaded"),
        "{flushed}"
    );
    assert_eq!(read(&anchor), "");
    let third = playbook_with(work.path(), &[&inventory, &local], &limit);
    assert_eq!(recap(&third)["nas"], (2, 0, 0), "{third}");
    assert!(
        third.contains("apply: anchor abrfw has no rules loaded"),
        "{third}"
    );
    assert_eq!(read(&anchor), read(&installed));
    assert!(status().starts_with("confirmed pf "), "{}", status());
    assert_eq!(read(&pf_conf), format!("{own}{boot_lines}"));
}

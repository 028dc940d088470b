//! Backends chosen per host (`backends`) and per site (`linux_backends`): what `compile`
//! writes and prints, what the manifest, `check` and `inventory` say, and that a changed choice
//! removes the files of the backends no longer chosen.

use std::path::PathBuf;

use crate::golden::{compile_to_tree, compile_to_tree_with};
use crate::support::{abrfw, fixture, stdout_ok};

fn site() -> PathBuf {
    fixture("topologies/backend-choice.toml")
}

fn files_of(tree: &std::collections::BTreeMap<PathBuf, String>, host: &str) -> Vec<String> {
    tree.keys()
        .filter(|p| p.parent().is_some_and(|d| d == std::path::Path::new(host)))
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn out_dir_writes_only_the_chosen_files() {
    let tree = compile_to_tree(&site());
    assert_eq!(files_of(&tree, "rhel-agent"), ["firewalld.sh"]);
    assert_eq!(files_of(&tree, "ubuntu-agent"), ["rules.json", "ufw.sh"]);
    // linux_backends: nftables and json for the Linux host and the appliance naming none...
    assert_eq!(
        files_of(&tree, "debian-agent"),
        ["apply.sh", "nftables.nft", "rules.json"]
    );
    assert_eq!(
        files_of(&tree, "vmware-va"),
        ["apply.sh", "nftables.nft", "rules.json"]
    );
    // ... and Windows hosts keep their defaults.
    assert_eq!(
        files_of(&tree, "ams"),
        ["firewall.ps1", "netsh.cmd", "rules.json"]
    );
    // The gateway's own choice (apply.sh loads what the nftables and iptables rows wrote;
    // firewalld.sh and ufw.sh apply themselves).
    assert_eq!(
        files_of(&tree, "fw-linux"),
        ["apply.sh", "ip6tables.rules", "iptables.rules"]
    );
    // The manifest lists exactly those files.
    let manifest: serde_json::Value =
        serde_json::from_str(&tree[&PathBuf::from("abrfw.json")]).unwrap();
    let listed: Vec<&String> = manifest["hosts"]["rhel-agent"]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    assert_eq!(listed, ["firewalld.sh"]);
}

#[test]
fn backend_flag_overrides_the_choice() {
    let tree = compile_to_tree_with(&site(), &["--backend", "nftables"]);
    for host in [
        "rhel-agent",
        "ubuntu-agent",
        "debian-agent",
        "vmware-va",
        "fw-linux",
    ] {
        assert_eq!(
            files_of(&tree, host),
            ["apply.sh", "nftables.nft"],
            "{host}"
        );
    }
    assert!(files_of(&tree, "ams").is_empty());
}

#[test]
fn host_prints_the_first_chosen_backend_and_backend_picks_another() {
    let site = site();
    let site = site.to_str().unwrap();
    let tree = compile_to_tree(&fixture("topologies/backend-choice.toml"));
    let firewalld = stdout_ok(&["compile", site, "--host", "rhel-agent"]);
    assert_eq!(firewalld, tree[&PathBuf::from("rhel-agent/firewalld.sh")]);
    let ufw = stdout_ok(&["compile", site, "--host", "ubuntu-agent"]);
    assert_eq!(ufw, tree[&PathBuf::from("ubuntu-agent/rules.json")]);
    let nft = stdout_ok(&[
        "compile",
        site,
        "--host",
        "rhel-agent",
        "--backend",
        "nftables",
    ]);
    assert!(nft.contains("table inet abrfw"), "{nft}");
    let gw = stdout_ok(&["compile", site, "--host", "fw-linux"]);
    assert!(gw.starts_with("# ==> iptables.rules <=="), "{gw}");
}

#[test]
fn inventory_and_check_follow_the_choice() {
    let site = site();
    let inv: serde_json::Value =
        serde_json::from_str(&stdout_ok(&["inventory", site.to_str().unwrap()])).unwrap();
    let linux = &inv["all"]["children"]["abrfw"]["children"]["abrfw_linux"]["hosts"];
    assert_eq!(linux["rhel-agent"]["abrfw_backends"], "firewalld");
    assert_eq!(linux["ubuntu-agent"]["abrfw_backends"], "json,ufw");
    assert_eq!(linux["vmware-va"]["abrfw_backends"], "nftables,json");
    assert_eq!(linux["fw-linux"]["abrfw_backends"], "iptables");
    // The example site chooses nothing: today's defaults.
    let example: serde_json::Value =
        serde_json::from_str(&stdout_ok(&["inventory", "--example"])).unwrap();
    assert_eq!(
        example["all"]["children"]["abrfw"]["children"]["abrfw_linux"]["hosts"]["nas"]["abrfw_backends"],
        "nftables,iptables,json"
    );
    let check = stdout_ok(&["check", site.to_str().unwrap()]);
    assert!(check.contains("  rhel-agent: linux (agent), 5 rule(s), backends: firewalld\n"));
}

#[test]
fn a_changed_choice_removes_the_files_no_longer_chosen() {
    let work = tempfile::tempdir().unwrap();
    let site = work.path().join("site.toml");
    let text = std::fs::read_to_string(self::site()).unwrap();
    std::fs::write(&site, &text).unwrap();
    let out = work.path().join("out");
    let compile = |site: &std::path::Path| {
        stdout_ok(&[
            "compile",
            site.to_str().unwrap(),
            "--out-dir",
            out.to_str().unwrap(),
        ])
    };
    compile(&site);
    assert!(out.join("rhel-agent/firewalld.sh").exists());
    // The RHEL host moves to nftables: firewalld.sh goes, nftables.nft and its apply.sh come.
    std::fs::write(
        &site,
        text.replace(r#"backends = ["firewalld"]"#, r#"backends = ["nftables"]"#),
    )
    .unwrap();
    let said = compile(&site);
    assert!(
        said.contains("2 added") && said.contains("1 removed"),
        "{said}"
    );
    assert!(!out.join("rhel-agent/firewalld.sh").exists());
    assert!(out.join("rhel-agent/nftables.nft").exists());
    assert!(out.join("rhel-agent/apply.sh").exists());
    let manifest = std::fs::read_to_string(out.join("abrfw.json")).unwrap();
    assert!(!manifest.contains("firewalld.sh"), "{manifest}");
}

#[test]
fn bad_choices_are_errors_in_every_command() {
    for cmd in [
        &["check"][..],
        &["inventory"],
        &["explain", "--host", "agent"],
        &["graph"],
    ] {
        let mut args = cmd.to_vec();
        args.push("fixtures/invalid/backend-unknown.toml");
        let run = abrfw(&args);
        assert_eq!(run.status.code(), Some(2), "{cmd:?}");
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert!(
            stderr.contains(r#"help: did you mean "firewalld"?"#),
            "{cmd:?}: {stderr}"
        );
    }
}

//! The commands as a user types them: example, check, flows, compile, determinism, docs sync.

use pretty_assertions::assert_eq;

use crate::golden::{compile_to_tree, tree};
use crate::support::{abrfw, fixture, root, stdout_ok, topologies};

#[test]
fn the_readme_command_runs_on_the_built_in_example() {
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("out");
    let msg = stdout_ok(&["compile", "--example", "--out-dir", dir.to_str().unwrap()]);
    assert!(msg.starts_with("wrote "), "{msg}");
    assert!(dir.join("linux-agent/nftables.nft").is_file());
    assert!(dir.join("vmware-va/nftables.nft").is_file());
    // The example command and the example fixture are the same site.
    assert_eq!(
        stdout_ok(&["example"]),
        std::fs::read_to_string(fixture("topologies/example.toml")).unwrap()
    );
}

#[test]
fn compile_host_prints_the_same_file_it_writes() {
    let written = compile_to_tree(&fixture("topologies/example.toml"));
    let printed = stdout_ok(&[
        "compile",
        "--example",
        "--host",
        "linux-agent",
        "--backend",
        "nftables",
    ]);
    assert_eq!(
        written[std::path::Path::new("linux-agent/nftables.nft")],
        printed
    );
}

#[test]
fn compile_host_errors_are_clear() {
    let out = abrfw(&["compile", "--example", "--host", "nosuch"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no host named \"nosuch\""));
    let out = abrfw(&[
        "compile",
        "--example",
        "--host",
        "ams",
        "--backend",
        "nftables",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("runs windows"));
    let out = abrfw(&["compile", "--example", "--host", "vcenter"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("has no `os`"));
}

#[test]
fn compile_check_reports_differences_with_exit_1() {
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().to_str().unwrap();
    stdout_ok(&["compile", "--example", "--out-dir", dir]);
    assert_eq!(
        abrfw(&["compile", "--example", "--out-dir", dir, "--check"])
            .status
            .code(),
        Some(0)
    );
    std::fs::write(out.path().join("nas/nftables.nft"), "edited\n").unwrap();
    let run = abrfw(&["compile", "--example", "--out-dir", dir, "--check"]);
    assert_eq!(run.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&run.stdout).contains("nas/nftables.nft"));
}

#[test]
fn output_is_deterministic_and_independent_of_host_order() {
    for (name, path) in topologies() {
        let first = compile_to_tree(&path);
        assert_eq!(first, compile_to_tree(&path), "{name}: two runs differ");
        // Reverse the [[host]] tables: the output must not change.
        let text = std::fs::read_to_string(&path).unwrap();
        let (head, hosts_and_rest) = text.split_at(text.find("[[host]]").unwrap());
        let (hosts, rest) = match hosts_and_rest.find("[[allow]]") {
            Some(i) => hosts_and_rest.split_at(i),
            None => (hosts_and_rest, ""),
        };
        let mut tables: Vec<&str> = hosts
            .split("[[host]]")
            .filter(|t| !t.trim().is_empty())
            .collect();
        tables.reverse();
        let shuffled = format!(
            "{head}{}\n{rest}",
            tables
                .iter()
                .map(|t| format!("[[host]]{t}\n"))
                .collect::<String>()
        );
        let dir = tempfile::tempdir().unwrap();
        let site = dir.path().join("site.toml");
        std::fs::write(&site, shuffled).unwrap();
        // The manifest records the site file's digest, which the reordering changes; everything
        // else in it, and every other file, must stay the same.
        let mut first = first;
        let mut shuffled = compile_to_tree(&site);
        let manifest = std::path::Path::new("abrfw.json");
        let without_digest = |text: String| -> serde_json::Value {
            let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
            v.as_object_mut().unwrap().remove("site_sha256");
            v
        };
        assert_eq!(
            without_digest(first.remove(manifest).unwrap()),
            without_digest(shuffled.remove(manifest).unwrap()),
            "{name}: host order changed the manifest"
        );
        assert_eq!(first, shuffled, "{name}: host order changed the output");
    }
}

#[test]
fn docs_flows_md_is_generated_from_the_catalog() {
    let generated = stdout_ok(&["flows", "--format", "markdown"]);
    let committed = std::fs::read_to_string(root().join("docs/flows.md")).unwrap_or_default();
    assert!(
        generated == committed,
        "docs/flows.md is out of date; regenerate it with:\n    cargo run --locked -- flows --format markdown > docs/flows.md"
    );
}

#[test]
fn flows_prints_every_format() {
    let table = stdout_ok(&["flows"]);
    assert!(table.contains("agent-ms") && table.contains("ms-agent"));
    let json: serde_json::Value =
        serde_json::from_str(&stdout_ok(&["flows", "--format", "json"])).unwrap();
    let ids: Vec<&str> = json["flows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap())
        .collect();
    for id in [
        "ri-request",
        "ri-register",
        "ms-agent",
        "agent-ms",
        "va-esxi-902",
        "update-check",
        "ri-nodns-ms-smb",
    ] {
        assert!(ids.contains(&id), "{id} missing from the catalog");
    }
    let unknown = abrfw(&["flows", "--release", "abr-9"]);
    assert_eq!(unknown.status.code(), Some(2));
}

#[test]
fn check_summarises_a_valid_site() {
    let out = stdout_ok(&[
        "check",
        fixture("topologies/example.toml").to_str().unwrap(),
    ]);
    assert!(out.starts_with("ok: 14 host(s), 10 with rules"), "{out}");
}

#[test]
fn written_tree_has_one_directory_per_linux_host() {
    let files = compile_to_tree(&fixture("topologies/example.toml"));
    let names: Vec<String> = files.keys().map(|p| p.display().to_string()).collect();
    for host in ["helpdesk", "linux-agent", "nas", "vmware-va"] {
        assert!(names.contains(&format!("{host}/nftables.nft")), "{names:?}");
    }
    let _ = tree;
}

#[test]
fn compile_help_names_every_file_of_the_backend_table() {
    let help = stdout_ok(&["compile", "--help"]);
    for b in &abrfw_backends::BACKENDS {
        assert!(
            help.contains(b.name),
            "{} missing from compile --help",
            b.name
        );
        for file in b.files {
            assert!(
                help.contains(file),
                "{file} missing from compile --help:\n{help}"
            );
        }
    }
}

#[test]
fn completions_and_man_page_come_from_the_argument_definitions() {
    let bash = stdout_ok(&["completions", "bash"]);
    assert!(bash.contains("compile") && bash.contains("--out-dir"));
    let man = stdout_ok(&["man"]);
    assert!(man.starts_with(".ie") && man.contains(".SH NAME"));
}

/// `abrfw services` lists every built-in service with its ports (table), and in JSON each with
/// its protocols, ports, source ports and the document they come from.
#[test]
fn services_lists_the_built_in_services() {
    let table = stdout_ok(&["services"]);
    assert!(table.starts_with("NAME "), "{table}");
    for s in abrfw_core::SERVICES {
        assert!(
            table
                .lines()
                .any(|l| l.starts_with(&format!("{} ", s.name)) && l.contains(&s.ports_text())),
            "{} missing: {table}",
            s.name
        );
    }
    assert!(
        table.contains("tcp 53; udp 53") && table.contains("udp 67 (from 68)"),
        "{table}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&stdout_ok(&["services", "--format", "json"])).unwrap();
    let list = json["services"].as_array().unwrap();
    assert_eq!(list.len(), abrfw_core::SERVICES.len());
    let ad = list.iter().find(|s| s["name"] == "ad").unwrap();
    assert!(ad["source"].as_str().unwrap().contains("KB 832017"));
    assert!(
        ad["ports"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["protocol"] == "udp"
                && p["ports"]["first"] == 88
                && p["source"]["kind"] == "ephemeral")
    );
    let ntp = list.iter().find(|s| s["name"] == "ntp").unwrap();
    assert_eq!(ntp["ports"][0]["source"]["kind"], "any");
}

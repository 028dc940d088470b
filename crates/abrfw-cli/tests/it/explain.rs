//! `abrfw explain` and `abrfw graph`: golden files for the fixture sites, and the errors.
//!
//! References live in `fixtures/explain/<topology>/<case>.{txt,json}` and
//! `fixtures/graph/<topology>.{dot,mmd}` (plus `catalog.dot` for `abrfw flows --format dot`).
//! `ABRFW_BLESS=1` rewrites them; a reference that no case produced fails the run.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use pretty_assertions::assert_eq;

use crate::golden::tree;
use crate::support::{
    abrfw, check_tree_or_bless, fixture, stdout_ok, system_tests_possible, topologies,
};

/// Compares (or with ABRFW_BLESS=1 rewrites) every file under `dir` with what the cases produced.
pub fn check_golden(dir: &Path, produced: &BTreeMap<PathBuf, String>) {
    check_tree_or_bless(dir, produced);
}

/// The questions asked of each fixture site, besides every host's full explanation in text:
/// (topology, host, extra arguments). Each gives a text and a JSON reference.
const QUESTIONS: [(&str, &str, &[&str]); 15] = [
    ("example", "ams", &["--port", "445"]),
    ("example", "ams", &["--port", "25001"]),
    ("example", "linux-agent", &["--port", "445"]),
    ("example", "linux-agent", &["--peer", "nas"]),
    ("example", "win-agent", &["--peer", "ams", "--port", "9876"]),
    ("example", "vcenter", &["--port", "443"]),
    // Under ab-12.5, which has no license server: the role is named, not dropped.
    (
        "example",
        "ams",
        &["--release", "ab-12.5", "--port", "9876"],
    ),
    ("nodns-nomgmt", "console-lx", &["--port", "445"]),
    ("nodns-nomgmt", "tuned-agent", &["--port", "9900"]),
    ("install-only", "ams", &["--port", "9876"]),
    ("zones", "office-linux", &["--peer", "vcenter"]),
    // Site services and selectors: the service and the selector behind each allow rule.
    ("example", "linux-agent", &["--port", "53"]),
    ("example", "ams", &["--port", "3389"]),
    // A [[gateway]]: its forward rules and the flows behind them.
    ("zones", "fw-linux", &["--port", "3389"]),
    ("zones", "fw-linux", &["--peer", "vmware-va"]),
];

#[test]
fn explain_matches_the_references() {
    let mut produced = BTreeMap::new();
    for (name, path) in topologies() {
        let site = path.to_str().unwrap();
        let hosts = std::fs::read_to_string(&path).unwrap();
        // Every host of every fixture site, in text.
        for line in hosts.lines() {
            let Some(host) = line
                .strip_prefix("name = \"")
                .and_then(|l| l.split('"').next())
            else {
                continue;
            };
            let out = abrfw(&["explain", site, "--host", host]);
            if !out.status.success() {
                // An [[allow]] name: neither a host nor a gateway.
                assert!(String::from_utf8_lossy(&out.stderr).contains("no host named"));
                continue;
            }
            produced.insert(
                PathBuf::from(format!("{name}/{host}.txt")),
                String::from_utf8(out.stdout).unwrap(),
            );
        }
    }
    for (topology, host, extra) in QUESTIONS {
        let site = fixture(&format!("topologies/{topology}.toml"));
        let mut args = vec!["explain", site.to_str().unwrap(), "--host", host];
        args.extend_from_slice(extra);
        // ams.port-445, win-agent.peer-ams.port-9876
        let case: String = extra
            .chunks(2)
            .map(|c| format!(".{}-{}", c[0].trim_start_matches('-'), c[1]))
            .collect();
        let case = format!("{topology}/{host}{case}");
        produced.insert(PathBuf::from(format!("{case}.txt")), stdout_ok(&args));
        args.extend(["--format", "json"]);
        let json = stdout_ok(&args);
        serde_json::from_str::<serde_json::Value>(&json).expect("explain --format json is JSON");
        produced.insert(PathBuf::from(format!("{case}.json")), json);
    }
    check_golden(&fixture("explain"), &produced);
}

#[test]
fn explain_answers_why_445_is_open_and_what_is_missing() {
    let text = stdout_ok(&["explain", "--example", "--host", "ams", "--port", "445"]);
    assert!(text.contains("outbound tcp/445 to exchange, win-agent, xp-agent [ri-ms-win-files]"));
    assert!(text.contains("because:    this host plays ms (role management-server)"));
    assert!(text.contains("a management server is present (ams)"));
    // The no-DNS SMB opening needs dns = false.
    assert!(text.contains("ri-nodns-ms-smb"));
    assert!(text.contains("applies only when [options] dns = false"));
}

#[test]
fn explain_errors_are_clear() {
    let out = abrfw(&["explain", "--example", "--host", "nosuch"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no host named \"nosuch\""), "{err}");
    assert!(err.contains("hosts and gateways: ams, console"), "{err}");
    let out = abrfw(&["explain", "--example", "--host", "ams", "--peer", "nobody"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("(--peer)"));
    let out = abrfw(&["explain", "--example", "--host", "ams", "--port", "0"]);
    assert_eq!(out.status.code(), Some(2));
    // A bad topology is the usual located error.
    let out = abrfw(&[
        "explain",
        fixture("invalid/unknown-role.toml").to_str().unwrap(),
        "--host",
        "ams",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("error: unknown role \"agnet\""));
}

#[test]
fn graph_dot_and_mermaid_match_the_references() {
    let mut produced = BTreeMap::new();
    for (name, path) in topologies() {
        let site = path.to_str().unwrap();
        produced.insert(
            PathBuf::from(format!("{name}.dot")),
            stdout_ok(&["graph", site]),
        );
        produced.insert(
            PathBuf::from(format!("{name}.mmd")),
            stdout_ok(&["graph", site, "--format", "mermaid"]),
        );
    }
    produced.insert(
        PathBuf::from("example-operate.dot"),
        stdout_ok(&["graph", "--example", "--phase", "operate"]),
    );
    produced.insert(
        PathBuf::from("example-class.dot"),
        stdout_ok(&["graph", "--example", "--group", "class"]),
    );
    produced.insert(
        PathBuf::from("example-zone.mmd"),
        stdout_ok(&[
            "graph",
            "--example",
            "--group",
            "zone",
            "--format",
            "mermaid",
        ]),
    );
    produced.insert(
        PathBuf::from("catalog.dot"),
        stdout_ok(&["flows", "--format", "dot"]),
    );
    check_golden(&fixture("graph"), &produced);
}

#[test]
fn graph_arrows_go_from_initiator_to_responder_with_vendor_labels() {
    let dot = stdout_ok(&["graph", "--example"]);
    assert!(dot.contains(
        "\"ams\" -> \"linux-agent\" [label=\"TCP 9876: Registering (MS-triggered), managing agents: deploying backup plans, collecting logs\"];"
    ));
    // Remote installation is dashed, and only with its phase.
    assert!(dot.contains("\"ams\" -> \"win-agent\" [label=\"TCP 25001: Sending installation parameters\\nTCP 445: Sending files: .msi packages, Acroinst.exe, Msi_setup.exe\", style=dashed];"));
    let operate = stdout_ok(&["graph", "--example", "--phase", "operate"]);
    assert!(!operate.contains("style=dashed"));
    // Zones become clusters / subgraphs.
    let zones = fixture("topologies/zones.toml");
    let dot = stdout_ok(&["graph", zones.to_str().unwrap()]);
    assert!(dot.contains("subgraph cluster_0 {\n    label=\"zone dmz\";"));
    let mmd = stdout_ok(&["graph", zones.to_str().unwrap(), "--format", "mermaid"]);
    assert!(mmd.contains("  subgraph z0[\"zone dmz\"]"));
    assert!(mmd.contains("n1 -->|\"TCP 80: Checking for software updates\"| n0"));
}

#[test]
fn graph_labels_are_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let site = dir.path().join("site.toml");
    std::fs::write(
        &site,
        r#"
[[host]]
name = "a"
os = "linux"
addresses = ["192.0.2.1"]
roles = ["agent"]

[[host]]
name = "b"
os = "linux"
addresses = ["192.0.2.2"]
roles = ["web-browser"]

[[allow]]
name = "x"
from = "a"
to = "b"
port = 8080
description = "say \"hi\" \\ <b>#1</b>"
"#,
    )
    .unwrap();
    let site = site.to_str().unwrap();
    let dot = stdout_ok(&["graph", site]);
    assert!(
        dot.contains(r#"[label="TCP 8080: say \"hi\" \\ <b>#1</b>", style=dotted];"#),
        "{dot}"
    );
    let mmd = stdout_ok(&["graph", site, "--format", "mermaid"]);
    assert!(
        mmd.contains("==>|\"TCP 8080: say #quot;hi#quot; \\ #lt;b#gt;#35;1#lt;/b#gt;\"|"),
        "{mmd}"
    );
    let svg = stdout_ok(&["graph", site, "--format", "svg"]);
    assert!(svg.contains("&lt;b&gt;"), "{svg}");
}

#[test]
fn check_encryption_lists_unencrypted_flows_between_zones() {
    let dir = tempfile::tempdir().unwrap();
    let site = dir.path().join("site.toml");
    std::fs::write(
        &site,
        r#"
[[host]]
name = "ams"
os = "windows"
zone = "servers"
addresses = ["192.0.2.10"]
roles = ["management-server", "management-console"]

[[host]]
name = "desk"
os = "windows"
zone = "office"
addresses = ["198.51.100.10"]
roles = ["agent"]

[[host]]
name = "nas"
os = "linux"
zone = "servers"
addresses = ["192.0.2.45"]
roles = ["vault-smb", "vault-sftp"]

[[host]]
name = "web"
zone = "dmz"
addresses = ["203.0.113.20"]
roles = ["acronis-website"]
"#,
    )
    .unwrap();
    let out = stdout_ok(&["check", site.to_str().unwrap(), "--encryption"]);
    let audit = &out[out.find("encryption:").expect("audit printed")..];
    assert_eq!(
        audit,
        "encryption: 4 flow(s) cross zones without encryption:
  unencrypted: ri-ms-win-params tcp/25001 servers -> office (ams -> desk)
    Sending installation parameters; channel not encrypted; user names and passwords are sent encrypted
  unencrypted: update-check tcp/80 servers -> dmz (ams -> web)
    Checking for software updates; not encrypted
  depends-on-settings: agent-vault-smb tcp/445 office -> servers (desk -> nas)
    Backing up to an unmanaged vault on a network share or NAS (SMB); depends on the File and Printer Sharing options in Windows
  depends-on-settings: ri-ms-win-files tcp/445 servers -> office (ams -> desk)
    Sending files: .msi packages, Acroinst.exe, Msi_setup.exe; depends on the File and Printer Sharing options in Windows
"
    );
    // Without the flag, check prints no audit; in one zone nothing crosses.
    assert!(!stdout_ok(&["check", site.to_str().unwrap()]).contains("encryption:"));
    assert!(
        stdout_ok(&["check", "--example", "--encryption"])
            .ends_with("encryption: every host is in zone default; no flow crosses zones\n")
    );
}

#[test]
fn help_texts_carry_examples() {
    for (cmd, example) in [
        ("explain", "abrfw explain site.toml --host ams --port 445"),
        ("graph", "abrfw graph site.toml --format mermaid"),
        ("check", "abrfw check site.toml --encryption"),
        ("flows", "abrfw flows --format dot"),
        ("compile", "abrfw compile site.toml --out-dir out --check"),
    ] {
        let help = stdout_ok(&[cmd, "--help"]);
        assert!(help.contains("Examples:"), "{cmd} --help: {help}");
        assert!(help.contains(example), "{cmd} --help: {help}");
    }
    assert!(stdout_ok(&["--help"]).contains("abrfw explain site.toml --host ams --port 445"));
}

#[test]
fn explain_and_graph_do_not_depend_on_host_order() {
    let text = std::fs::read_to_string(fixture("topologies/zones.toml")).unwrap();
    let (head, rest) = text.split_at(text.find("[[host]]").unwrap());
    let (hosts, tail) = rest.split_at(rest.find("[[allow]]").unwrap());
    let mut tables: Vec<&str> = hosts
        .split("[[host]]")
        .filter(|t| !t.trim().is_empty())
        .collect();
    tables.reverse();
    let shuffled: String = tables.iter().map(|t| format!("[[host]]{t}\n")).collect();
    let dir = tempfile::tempdir().unwrap();
    let site = dir.path().join("site.toml");
    std::fs::write(&site, format!("{head}{shuffled}{tail}")).unwrap();
    let original = fixture("topologies/zones.toml");
    for args in [
        &["graph"][..],
        &["graph", "--format", "mermaid"],
        &["graph", "--format", "svg"],
        &["explain", "--host", "ams", "--format", "json"],
        &["explain", "--host", "office-linux", "--port", "9876"],
        &["check", "--encryption"],
    ] {
        let run = |site: &Path| {
            let mut a = vec![args[0], site.to_str().unwrap()];
            a.extend_from_slice(&args[1..]);
            stdout_ok(&a)
        };
        assert_eq!(run(&original), run(&site), "abrfw {args:?}");
    }
}

#[test]
fn large_sites_get_a_clear_svg_error_and_short_audit_lines() {
    let mut site = String::from(
        "[[host]]\nname = \"ams\"\nos = \"windows\"\nzone = \"servers\"\naddresses = [\"10.0.0.10\"]\nroles = [\"management-server\"]\n",
    );
    for i in 0..300 {
        site.push_str(&format!(
            "[[host]]\nname = \"a{i}\"\nos = \"windows\"\nzone = \"office\"\naddresses = [\"10.1.{}.{}\"]\nroles = [\"agent\"]\n",
            i / 200,
            i % 200 + 1
        ));
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("site.toml");
    std::fs::write(&path, site).unwrap();
    let path = path.to_str().unwrap();
    // Drawn host by host, the SVG layout refuses it; by class (the default above 40 hosts) it
    // draws.
    let out = abrfw(&["graph", path, "--format", "svg", "--group", "host"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("the built-in SVG layout takes at most 250"),
        "{err}"
    );
    assert!(err.contains("dot -Tsvg"), "{err}");
    assert!(stdout_ok(&["graph", path, "--format", "svg"]).contains("300 hosts"));
    // DOT has no limit.
    assert!(stdout_ok(&["graph", path, "--group", "host"]).contains("\"a299\" -> \"ams\""));
    let audit = stdout_ok(&["check", path, "--encryption"]);
    assert!(
        audit.contains("servers -> office (ams -> a0, a1, a10, a100, a101 and 295 more)"),
        "{audit}"
    );
}

#[test]
fn graphviz_reads_every_dot_reference() {
    if !system_tests_possible(&["dot"], false) {
        return;
    }
    let mut files: Vec<PathBuf> = tree(&fixture("graph"))
        .into_keys()
        .filter(|p| p.extension().is_some_and(|e| e == "dot"))
        .map(|p| fixture("graph").join(p))
        .collect();
    files.push(fixture("../docs/example-site.dot"));
    assert!(files.len() > 2);
    for file in files {
        let out = std::process::Command::new("dot")
            .args(["-Tsvg", "-o", "/dev/null"])
            .arg(&file)
            .output()
            .expect("run dot");
        assert!(
            out.status.success() && out.stderr.is_empty(),
            "dot rejects {}: {}",
            file.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// Above 40 hosts a diagram draws classes (zone, OS and roles) by default: a 2,000-agent site
/// is a dozen boxes, each with its host count, and `--group host` still draws every host.
#[test]
fn graph_of_a_large_site_draws_classes_by_default() {
    let work = tempfile::tempdir().unwrap();
    let site = work.path().join("site.toml");
    std::fs::write(&site, crate::scale::site(2000)).unwrap();
    let site = site.to_str().unwrap();
    let dot = stdout_ok(&["graph", site]);
    let boxes = dot
        .lines()
        .filter(|l| l.contains(" [label=") && !l.contains("->"))
        .count();
    assert!(boxes < 15, "{boxes} boxes:\n{dot}");
    assert!(dot.contains("1000 hosts\\nwindows: agent"), "{dot}");
    assert!(dot.contains("zone office"), "{dot}");
    let svg = stdout_ok(&["graph", site, "--format", "svg"]);
    assert!(svg.contains("1000 hosts"), "the SVG draws the classes too");
    let hosts = stdout_ok(&["graph", site, "--group", "host"]);
    assert!(
        hosts.contains("\"agent1999\""),
        "--group host draws every host"
    );
}
